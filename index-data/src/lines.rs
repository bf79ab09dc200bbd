//! A line reader that counts lines and checks UTF-8 per line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Reads a file line by line in constant memory, yielding `(line_number, text)`.
///
/// A line that is not valid UTF-8 yields an [`Error::InvalidUtf8`] naming the file and line;
/// reading goes on with the next line, so a caller may skip it. The trailing `\n` (and `\r`)
/// is removed; a lone `\r` ends a line too.
pub(crate) struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl Lines {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(Lines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            line: 0,
            buf: Vec::new(),
            done: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Lines {
    /// Reads the next line into `buf` (without its end). A line ends at `\n`, `\r\n` or a
    /// lone `\r` (old Mac files). `false` at the end of the file.
    fn read_line(&mut self) -> std::io::Result<bool> {
        self.buf.clear();
        let mut read_any = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(read_any);
            }
            read_any = true;
            match available.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    let end = available[i];
                    self.buf.extend_from_slice(&available[..i]);
                    self.reader.consume(i + 1);
                    if end == b'\r' && self.reader.fill_buf()?.first() == Some(&b'\n') {
                        self.reader.consume(1);
                    }
                    return Ok(true);
                }
                None => {
                    let n = available.len();
                    self.buf.extend_from_slice(available);
                    self.reader.consume(n);
                }
            }
        }
    }
}

impl Iterator for Lines {
    type Item = Result<(u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_line() {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                self.line += 1;
                let line = self.line;
                match std::str::from_utf8(&self.buf) {
                    Ok(s) => Some(Ok((line, s.to_owned()))),
                    Err(e) => Some(Err(Error::InvalidUtf8 {
                        path: self.path.clone(),
                        line,
                        offset: e.valid_up_to(),
                    })),
                }
            }
            Err(e) => {
                self.done = true;
                Some(Err(Error::io(&self.path, e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(bytes: &[u8]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, bytes).unwrap();
        Lines::open(&p).unwrap().map(|l| l.unwrap().1).collect()
    }

    #[test]
    fn every_line_end_counts() {
        assert_eq!(lines_of(b"a\nb\r\nc\rd"), vec!["a", "b", "c", "d"]);
        assert_eq!(lines_of(b"a\r\rb\n\n"), vec!["a", "", "b", ""]);
        assert_eq!(lines_of(b""), Vec::<String>::new());
        assert_eq!(lines_of(b"\n"), vec![""]);
        assert_eq!(lines_of(b"x\r"), vec!["x"]);
    }
}
