//! A line reader that counts lines and checks UTF-8 per line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Reads a file line by line in constant memory, yielding `(line_number, text)`.
///
/// A line that is not valid UTF-8 yields an [`Error::InvalidUtf8`] naming the file and line;
/// reading goes on with the next line, so a caller may skip it. The trailing `\n` (and `\r`)
/// is removed; a lone `\r` ends a line too. A line longer than [`max_line_bytes`] is an
/// [`Error::LineTooLong`] as soon as it passes the limit, and its rest is skipped.
pub(crate) struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    limit: usize,
    too_long: bool,
}

/// The largest document a reader builds, in bytes: 64 MiB, or `SEARCH_MAX_DOCUMENT_BYTES`
/// (a file of a text folder, a SMART record). A larger one is a record error.
pub fn max_document_bytes() -> usize {
    std::env::var("SEARCH_MAX_DOCUMENT_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&v: &usize| v > 0)
        .unwrap_or(64 << 20)
}

/// The longest line a reader holds, in bytes: 16 MiB, or `SEARCH_MAX_LINE_BYTES`. A longer
/// line is a record error (skippable), read past without being held, so a file with no line
/// breaks costs constant memory.
pub fn max_line_bytes() -> usize {
    std::env::var("SEARCH_MAX_LINE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&v: &usize| v > 0)
        .unwrap_or(16 << 20)
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
            limit: max_line_bytes(),
            too_long: false,
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
        if self.too_long {
            // The rest of the overlong line reported last time: read past it, unheld.
            self.too_long = false;
            if !self.skip_line()? {
                return Ok(false);
            }
        }
        let mut read_any = false;
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(read_any);
            }
            read_any = true;
            let (take, end) = match available.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => (i, Some(available[i])),
                None => (available.len(), None),
            };
            if self.buf.len() + take > self.limit {
                // Reported now (a file without line breaks never ends its line); the rest
                // of the line is skipped at the next call.
                let room = self.limit - self.buf.len();
                self.reader.consume(room);
                self.buf = Vec::new();
                self.too_long = true;
                return Ok(true);
            }
            self.buf.extend_from_slice(&available[..take]);
            match end {
                Some(end) => {
                    self.reader.consume(take + 1);
                    if end == b'\r' && self.reader.fill_buf()?.first() == Some(&b'\n') {
                        self.reader.consume(1);
                    }
                    return Ok(true);
                }
                None => self.reader.consume(take),
            }
        }
    }

    /// Reads past the rest of a line; `false` if the file ended first.
    fn skip_line(&mut self) -> std::io::Result<bool> {
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(false);
            }
            match available.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    let end = available[i];
                    self.reader.consume(i + 1);
                    if end == b'\r' && self.reader.fill_buf()?.first() == Some(&b'\n') {
                        self.reader.consume(1);
                    }
                    return Ok(true);
                }
                None => {
                    let n = available.len();
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
                if self.too_long {
                    return Some(Err(Error::LineTooLong {
                        path: self.path.clone(),
                        line,
                        limit: self.limit,
                    }));
                }
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
    fn an_overlong_line_is_an_error_and_the_next_one_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, format!("ok\n{}\nafter\n", "x".repeat(200_000))).unwrap();
        let mut lines = Lines::open(&p).unwrap();
        lines.limit = 100_000;
        let items: Vec<_> = lines.collect();
        assert_eq!(items[0].as_ref().unwrap().1, "ok");
        let e = items[1].as_ref().unwrap_err().to_string();
        assert!(e.contains(":2: line longer than 100000 bytes"), "{e}");
        assert_eq!(items[2].as_ref().unwrap(), &(3, "after".to_string()));
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
