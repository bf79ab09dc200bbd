//! A line reader that counts lines and checks UTF-8 per line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Reads a file line by line in constant memory, yielding `(line_number, text)`.
///
/// A line that is not valid UTF-8 yields an [`Error::InvalidUtf8`] naming the file and line;
/// reading goes on with the next line, so a caller may skip it. The trailing `\n` (and `\r`)
/// is removed.
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

impl Iterator for Lines {
    type Item = Result<(u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.buf.clear();
        match self.reader.read_until(b'\n', &mut self.buf) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                self.line += 1;
                while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                    self.buf.pop();
                }
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
