//! A folder of text and Markdown files, one document per file.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::types::Document;

/// Streams the `.txt`, `.md` and `.markdown` files below a folder as documents, in path order.
///
/// The id is the path relative to the folder, with `/` separators. The title is the file's
/// first Markdown heading (`# ...`) if one stands among its first lines, else the file name
/// without its extension; the body is the whole file, Markdown files as plain text (see
/// [`crate::markdown_to_text`]: markup, HTML comments and tags removed). Files are read one
/// at a time.
pub struct DirDocuments {
    root: PathBuf,
    files: std::vec::IntoIter<PathBuf>,
}

/// File endings read by [`DirDocuments`].
pub const TEXT_EXTENSIONS: &[&str] = &["txt", "md", "markdown"];

impl DirDocuments {
    /// Lists the files below `root` (the listing holds paths only, not contents).
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            ));
        }
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = entry.map_err(|e| {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.clone());
                Error::io(path, e.into())
            })?;
            let ext = entry.path().extension().and_then(|e| e.to_str());
            if entry.file_type().is_file()
                && ext.is_some_and(|e| TEXT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            {
                files.push(entry.into_path());
            }
        }
        Ok(DirDocuments {
            root,
            files: files.into_iter(),
        })
    }

    fn read(&self, path: &Path) -> Result<Document> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
            let line_start = bytes[..offset]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            Error::InvalidUtf8 {
                path: path.to_path_buf(),
                line,
                offset: offset - line_start,
            }
        })?;
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        // A name that is not UTF-8 cannot be an id without being changed, and two changed
        // names could become one id: refused, not mapped.
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        let Some(parts) = parts else {
            return Err(Error::BadFileName {
                path: path.to_path_buf(),
            });
        };
        let id = parts.join("/");
        crate::types::check_id(path, 1, &id)?;
        let heading = text
            .lines()
            .take(10)
            .find_map(|l| {
                l.strip_prefix('#')
                    .map(|h| h.trim_start_matches('#').trim())
            })
            .filter(|h| !h.is_empty());
        let markdown = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
        let title = match heading {
            Some(h) if markdown => crate::markdown::markdown_to_text(h),
            Some(h) => h.to_owned(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let body = if markdown {
            crate::markdown::markdown_to_text(&text)
        } else {
            text
        };
        Ok(Document { id, title, body })
    }
}

impl Iterator for DirDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.files.next()?;
        Some(self.read(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_and_markdown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.txt"), "plain text").unwrap();
        std::fs::write(dir.path().join("sub/b.md"), "intro\n## Heading Two\nmore").unwrap();
        std::fs::write(dir.path().join("skip.bin"), [0u8, 1, 2]).unwrap();
        std::fs::write(dir.path().join("c.md"), b"ok\nbad \xff\n").unwrap();
        let items: Vec<_> = DirDocuments::open(dir.path()).unwrap().collect();
        assert_eq!(items.len(), 3);
        let a = items[0].as_ref().unwrap();
        assert_eq!((a.id.as_str(), a.title.as_str()), ("a.txt", "a"));
        let e = items[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("c.md:2: invalid UTF-8 (byte offset 4"), "{e}");
        let b = items[2].as_ref().unwrap();
        assert_eq!(
            (b.id.as_str(), b.title.as_str()),
            ("sub/b.md", "Heading Two")
        );
    }

    #[test]
    fn missing_folder_is_an_error() {
        let e = DirDocuments::open("/no/such/folder")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/no/such/folder"));
    }
}
