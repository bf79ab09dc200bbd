//! SMART-format classic collections (CISI, CACM, MED ...): records that start with `.I id`,
//! followed by fields such as `.T` (title), `.A` (authors), `.W` (abstract), `.X`
//! (cross-references), `.B` (bibliographic data), each field's text on the lines that follow.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lines::Lines;
use crate::types::{Document, Query};

/// One raw SMART record: its id and its fields in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartRecord {
    /// The id after `.I`.
    pub id: String,
    /// The 1-based line of the `.I` marker.
    pub line: u64,
    /// `(marker, text)` pairs, e.g. `("T", "18 Editions of ...")`, lines joined with `\n`.
    pub fields: Vec<(String, String)>,
}

impl SmartRecord {
    /// The text of all fields with one of the given markers, in file order, joined by `\n`.
    pub fn text_of(&self, markers: &[String]) -> String {
        let parts: Vec<&str> = self
            .fields
            .iter()
            .filter(|(m, t)| markers.iter().any(|x| x == m) && !t.is_empty())
            .map(|(_, t)| t.as_str())
            .collect();
        parts.join("\n")
    }
}

/// Streams SMART records in constant memory.
///
/// A record with a bad line (invalid UTF-8, a missing id) is yielded as one error naming the
/// file and line, and reading goes on with the next record.
pub struct SmartRecords {
    lines: Lines,
    current: Option<Partial>,
    done: bool,
}

struct Partial {
    record: SmartRecord,
    error: Option<Error>,
    /// Bytes of field text so far.
    bytes: usize,
}

impl SmartRecords {
    /// Opens `path`; fails only if the file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(SmartRecords {
            lines: Lines::open(path.as_ref())?,
            current: None,
            done: false,
        })
    }

    fn finish(&mut self) -> Option<Result<SmartRecord>> {
        let partial = self.current.take()?;
        Some(match partial.error {
            Some(e) => Err(e),
            None => {
                let mut record = partial.record;
                for (_, text) in &mut record.fields {
                    let trimmed = text.trim();
                    if trimmed.len() != text.len() {
                        *text = trimmed.to_owned();
                    }
                }
                Ok(record)
            }
        })
    }
}

/// Splits a line into a field marker and the rest, if it starts with `.X` (one upper-case
/// letter, then the end of the line or white space).
fn marker(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() >= 2
        && bytes[0] == b'.'
        && bytes[1].is_ascii_uppercase()
        && (bytes.len() == 2 || bytes[2].is_ascii_whitespace())
    {
        Some((&line[1..2], line[2..].trim()))
    } else {
        None
    }
}

impl Iterator for SmartRecords {
    type Item = Result<SmartRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let item = match self.lines.next() {
                Some(item) => item,
                None => {
                    self.done = true;
                    return self.finish();
                }
            };
            let (line, text) = match item {
                Ok(x) => x,
                Err(e) if e.is_record_error() => {
                    match &mut self.current {
                        Some(p) => {
                            p.error.get_or_insert(e);
                        }
                        None => return Some(Err(e)),
                    }
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match marker(&text) {
                Some(("I", id)) => {
                    let finished = self.finish();
                    let mut partial = Partial {
                        record: SmartRecord {
                            id: id.to_owned(),
                            line,
                            fields: Vec::new(),
                        },
                        error: None,
                        bytes: 0,
                    };
                    if id.is_empty() {
                        partial.error = Some(Error::MissingField {
                            path: self.lines.path().to_path_buf(),
                            line,
                            field: ".I id".into(),
                        });
                    } else if let Err(e) = crate::types::check_id(self.lines.path(), line, id) {
                        partial.error = Some(e);
                    }
                    self.current = Some(partial);
                    if finished.is_some() {
                        return finished;
                    }
                }
                Some((m, rest)) => match &mut self.current {
                    Some(p) => p.record.fields.push((m.to_owned(), rest.to_owned())),
                    None => {
                        return Some(Err(Error::parse(
                            self.lines.path(),
                            line,
                            format!("field .{m} before the first .I record"),
                        )))
                    }
                },
                None => match &mut self.current {
                    Some(p) if p.error.is_some() => {}
                    Some(p) if p.bytes + text.len() > crate::lines::max_document_bytes() => {
                        // Too large: an error, and no more of its text is held.
                        p.error = Some(Error::TooLarge {
                            path: self.lines.path().to_path_buf(),
                            line: p.record.line,
                            limit: crate::lines::max_document_bytes(),
                        });
                        p.record.fields.clear();
                    }
                    Some(p) => match p.record.fields.last_mut() {
                        Some((_, t)) => {
                            p.bytes += text.len() + 1;
                            if !t.is_empty() {
                                t.push('\n');
                            }
                            t.push_str(&text);
                        }
                        None if text.trim().is_empty() => {}
                        None => {
                            p.error.get_or_insert(Error::parse(
                                self.lines.path(),
                                line,
                                "text before any field marker (.T, .W ...)",
                            ));
                        }
                    },
                    None if text.trim().is_empty() => {}
                    None => {
                        return Some(Err(Error::parse(
                            self.lines.path(),
                            line,
                            "text before the first .I record",
                        )))
                    }
                },
            }
        }
    }
}

/// Which SMART fields make a document's title and body, or a query's text.
#[derive(Debug, Clone)]
pub struct SmartFields {
    /// Markers whose text is the title (documents) — default `T`.
    pub title: Vec<String>,
    /// Markers whose text is the body (documents) or the query text — default `W`.
    pub body: Vec<String>,
}

impl Default for SmartFields {
    fn default() -> Self {
        SmartFields {
            title: vec!["T".into()],
            body: vec!["W".into()],
        }
    }
}

/// Streams documents from a SMART file (`.T` → title, `.W` → body by default).
pub struct SmartDocuments {
    records: SmartRecords,
    fields: SmartFields,
}

impl SmartDocuments {
    /// Opens `path` with the default fields.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_fields(path, SmartFields::default())
    }

    /// Opens `path` with the given fields.
    pub fn with_fields(path: impl AsRef<Path>, fields: SmartFields) -> Result<Self> {
        Ok(SmartDocuments {
            records: SmartRecords::open(path)?,
            fields,
        })
    }
}

impl Iterator for SmartDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.records.next()?.map(|r| Document {
            title: r.text_of(&self.fields.title),
            body: r.text_of(&self.fields.body),
            id: r.id,
        }))
    }
}

/// Streams queries from a SMART file: the text of the body fields (`.W`), or of the title
/// fields (`.T`) when a query has no body.
///
/// A query id given twice is an error at its second record.
pub struct SmartQueries {
    records: SmartRecords,
    fields: SmartFields,
    path: PathBuf,
    seen: std::collections::HashMap<String, u64>,
}

impl SmartQueries {
    /// Opens `path` with the default fields.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(SmartQueries {
            records: SmartRecords::open(path.as_ref())?,
            fields: SmartFields::default(),
            path: path.as_ref().to_path_buf(),
            seen: std::collections::HashMap::new(),
        })
    }
}

impl Iterator for SmartQueries {
    type Item = Result<Query>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.records.next()?.and_then(|r| {
            let mut text = r.text_of(&self.fields.body);
            if text.is_empty() {
                text = r.text_of(&self.fields.title);
            }
            if text.is_empty() {
                return Err(Error::parse(&self.path, r.line, "query has no text"));
            }
            crate::types::first_time(&mut self.seen, &self.path, r.line, Query { id: r.id, text })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f
    }

    const CISI_LIKE: &str = ".I 1\n.T\n18 Editions of the Dewey\n.A\nComaromi, J.P.\n.W\n   The present study\nis a history.\n.X\n1\t5\t1\n.I 2\n.T \nUse Made of Libraries\n.W\nThis report\n";

    #[test]
    fn reads_records_and_documents() {
        let f = file(CISI_LIKE.as_bytes());
        let recs: Vec<_> = SmartRecords::open(f.path())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].fields.len(), 4);
        assert_eq!(recs[0].line, 1);
        assert_eq!(recs[1].line, 11);
        let docs: Vec<_> = SmartDocuments::open(f.path())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(docs[0].id, "1");
        assert_eq!(docs[0].title, "18 Editions of the Dewey");
        assert_eq!(docs[0].body, "The present study\nis a history.");
        assert_eq!(docs[1].title, "Use Made of Libraries");
    }

    #[test]
    fn queries_fall_back_to_title() {
        let f = file(b".I 1\n.W\nWhat is information science?\n.I 2\n.T\nOnly a title\n.A\nX\n");
        let qs: Vec<_> = SmartQueries::open(f.path())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(qs[0].text, "What is information science?");
        assert_eq!(qs[1].text, "Only a title");
    }

    #[test]
    fn bad_records_are_errors_and_reading_goes_on() {
        let f = file(
            b"stray text\n.I 1\n.W\nok\n.I\n.W\nno id\n.I 3\n.W\nbad \xff byte\n.I 4\n.W\nfine\n",
        );
        let items: Vec<_> = SmartDocuments::open(f.path()).unwrap().collect();
        assert_eq!(items.len(), 5, "{items:?}");
        assert!(items[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains(":1: text before"));
        assert_eq!(items[1].as_ref().unwrap().id, "1");
        assert!(items[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains(":5: missing field"));
        assert!(items[3]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains(":10: invalid UTF-8"));
        assert_eq!(items[4].as_ref().unwrap().body, "fine");
    }
}
