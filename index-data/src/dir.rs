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
    listing: DirListing,
}

/// File endings read by [`DirDocuments`].
pub const TEXT_EXTENSIONS: &[&str] = &["txt", "md", "markdown"];

/// Which files of a folder are documents: by default those with a text ending
/// ([`TEXT_EXTENSIONS`]); with `include` globs, those matching one of them instead; never
/// those matching an `exclude` glob. Globs match the path relative to the folder, with `/`
/// separators (`**/*.md`, `drafts/**`, `*.rst`).
#[derive(Debug, Clone, Default)]
pub struct DirFilter {
    /// Globs a file must match (empty: a text ending).
    pub include: Vec<String>,
    /// Globs no file may match.
    pub exclude: Vec<String>,
}

/// What the listing of a folder left out, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirListing {
    /// Files listed as documents.
    pub files: usize,
    /// Files without a text ending (or matching no `include` glob).
    pub not_included: usize,
    /// Files matching an `exclude` glob.
    pub excluded: usize,
    /// Entries that are not plain files (links to nothing, sockets ...); folders not counted.
    pub not_files: usize,
}

fn globs(patterns: &[String]) -> Result<Option<globset::GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .build()
            .map_err(|e| Error::BadGlob {
                glob: p.clone(),
                message: e.to_string(),
            })?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| Error::BadGlob {
        glob: patterns.join(", "),
        message: e.to_string(),
    })
}

impl DirDocuments {
    /// Lists the text files below `root` (the listing holds paths only, not contents).
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        Self::with_filter(root, &DirFilter::default())
    }

    /// Lists the files below `root` that `filter` takes.
    pub fn with_filter(root: impl AsRef<Path>, filter: &DirFilter) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            ));
        }
        let include = globs(&filter.include)?;
        let exclude = globs(&filter.exclude)?;
        let mut files = Vec::new();
        let mut listing = DirListing::default();
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = entry.map_err(|e| {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.clone());
                Error::io(path, e.into())
            })?;
            if entry.file_type().is_dir() {
                continue;
            }
            if !entry.file_type().is_file() {
                listing.not_files += 1;
                continue;
            }
            let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path());
            let included = match &include {
                Some(g) => g.is_match(rel),
                None => rel
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| TEXT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())),
            };
            if !included {
                listing.not_included += 1;
            } else if exclude.as_ref().is_some_and(|g| g.is_match(rel)) {
                listing.excluded += 1;
            } else {
                files.push(entry.into_path());
            }
        }
        listing.files = files.len();
        Ok(DirDocuments {
            root,
            files: files.into_iter(),
            listing,
        })
    }

    /// What the listing took and left out.
    pub fn listing(&self) -> &DirListing {
        &self.listing
    }

    /// The ids of the files still to be read (all of them before reading starts), whether
    /// or not they will read: what a synced index keeps. Names that are not UTF-8 have no id.
    pub fn ids(&self) -> Vec<String> {
        self.files
            .as_slice()
            .iter()
            .filter_map(|p| id_of(&self.root, p))
            .collect()
    }

    fn read(&self, path: &Path) -> Result<Document> {
        let limit = crate::lines::max_document_bytes();
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        if len > limit as u64 {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                line: 1,
                limit,
            });
        }
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
        // A name that is not UTF-8 cannot be an id without being changed, and two changed
        // names could become one id: refused, not mapped.
        let Some(id) = id_of(&self.root, path) else {
            return Err(Error::BadFileName {
                path: path.to_path_buf(),
            });
        };
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

/// The id of a file below `root`: its relative path with `/` separators (`None` if a part is
/// not UTF-8).
fn id_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    parts.map(|p| p.join("/"))
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
    fn globs_include_and_exclude() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("drafts")).unwrap();
        for f in ["a.md", "b.txt", "c.rst", "drafts/d.md", "e.png"] {
            std::fs::write(dir.path().join(f), "text").unwrap();
        }
        let ids = |d: DirDocuments| -> Vec<String> { d.map(|x| x.unwrap().id).collect() };
        let d = DirDocuments::open(dir.path()).unwrap();
        assert_eq!(d.listing().not_included, 2);
        assert_eq!(ids(d), vec!["a.md", "b.txt", "drafts/d.md"]);
        let filter = DirFilter {
            include: vec!["**/*.md".into(), "*.rst".into()],
            exclude: vec!["drafts/**".into()],
        };
        let d = DirDocuments::with_filter(dir.path(), &filter).unwrap();
        assert_eq!(
            d.listing(),
            &DirListing {
                files: 2,
                not_included: 2,
                excluded: 1,
                not_files: 0
            }
        );
        assert_eq!(ids(d), vec!["a.md", "c.rst"]);
        let bad = DirFilter {
            include: vec!["[".into()],
            exclude: vec![],
        };
        let e = DirDocuments::with_filter(dir.path(), &bad)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("glob `[`"), "{e}");
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
