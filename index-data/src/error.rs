//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading or writing a collection file.
///
/// Every variant that comes from the content of a file names the file and, where there is
/// one, the 1-based line, so that a user can open the file at the right place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file or folder could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("{}:{line}: invalid UTF-8 (byte offset {offset} in the line)", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// Where in the line the first bad byte is.
        offset: usize,
    },
    /// A line longer than a reader holds (see [`crate::max_line_bytes`]).
    #[error("{}:{line}: line longer than {limit} bytes (SEARCH_MAX_LINE_BYTES raises the limit)", path.display())]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// A document (a file, a record) larger than a reader builds (see
    /// [`crate::max_document_bytes`]).
    #[error("{}:{line}: document larger than {limit} bytes (SEARCH_MAX_DOCUMENT_BYTES raises the limit)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The line where the document starts.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// A line could not be parsed.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// A file of a text folder whose name is not valid UTF-8, so that it cannot be an id.
    #[error("{}: the file name is not valid UTF-8, so it cannot be a document id (rename it, or skip it with --skip-bad)", path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
    },
    /// Something cannot be written in a file's format (an id with white space in a TREC run).
    #[error("{}: {message}", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// What cannot be written.
        message: String,
    },
    /// A file-name glob that does not parse.
    #[error("glob `{glob}`: {message}")]
    BadGlob {
        /// The glob.
        glob: String,
        /// What is wrong.
        message: String,
    },
    /// A record lacks a field it must have (for example the id).
    #[error("{}:{line}: missing field `{field}`", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// The 1-based line number where the record starts.
        line: u64,
        /// The field's name.
        field: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, line: u64, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// True for errors in one record of an otherwise readable file (a malformed line, a missing
    /// field, bad UTF-8): the ones that `--skip-bad` may skip. I/O errors are never skippable.
    pub fn is_record_error(&self) -> bool {
        !matches!(
            self,
            Error::Io { .. } | Error::BadGlob { .. } | Error::Unwritable { .. }
        )
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
