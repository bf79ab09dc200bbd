//! JSON Lines: one JSON object a line, with configurable id and text fields.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::lines::Lines;
use crate::types::{Document, Query};

/// Which fields of a JSON object hold a document's id, title and body.
#[derive(Debug, Clone)]
pub struct JsonlFields {
    /// The id field; a string or an integer.
    pub id: String,
    /// The title field, if any; a missing or `null` title is empty.
    pub title: Option<String>,
    /// The body fields, joined with a blank line; a missing or `null` one counts as empty.
    pub body: Vec<String>,
}

impl JsonlFields {
    /// The fields of a BEIR corpus: `_id`, `title`, `text`.
    pub fn beir() -> Self {
        JsonlFields {
            id: "_id".into(),
            title: Some("title".into()),
            body: vec!["text".into()],
        }
    }
}

impl JsonlFields {
    /// Fields as a user names them: the id field, the title field (`""` for none) and the
    /// body fields, comma-separated.
    pub fn from_names(id: &str, title: &str, body: &str) -> Self {
        JsonlFields {
            id: id.to_owned(),
            title: Some(title.to_owned()).filter(|t| !t.is_empty()),
            body: body
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }
    }
}

impl Default for JsonlFields {
    /// `id`, `title`, `text`.
    fn default() -> Self {
        JsonlFields {
            id: "id".into(),
            title: Some("title".into()),
            body: vec!["text".into()],
        }
    }
}

/// Streams documents from a JSONL file, one per non-blank line.
///
/// Each item is a document or an error naming the file and line; after an error the iterator
/// goes on with the next line, so a caller may count and skip bad records.
pub struct JsonlDocuments {
    lines: Lines,
    fields: JsonlFields,
}

impl JsonlDocuments {
    /// Opens `path`; fails only if the file cannot be opened.
    pub fn open(path: impl AsRef<Path>, fields: JsonlFields) -> Result<Self> {
        Ok(JsonlDocuments {
            lines: Lines::open(path.as_ref())?,
            fields,
        })
    }
}

impl Iterator for JsonlDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, text) = match self.lines.next()? {
                Ok(x) => x,
                Err(e) => return Some(Err(e)),
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(parse_document(self.lines.path(), line, &text, &self.fields));
        }
    }
}

/// Streams queries from a JSONL file with `_id` and `text` fields (BEIR's queries.jsonl).
///
/// A query id given twice is an error at its second line (two queries under one id would be
/// merged into one ranking).
pub struct JsonlQueries {
    lines: Lines,
    seen: std::collections::HashMap<String, u64>,
}

impl JsonlQueries {
    /// Opens `path`; fails only if the file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(JsonlQueries {
            lines: Lines::open(path.as_ref())?,
            seen: std::collections::HashMap::new(),
        })
    }
}

impl Iterator for JsonlQueries {
    type Item = Result<Query>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, text) = match self.lines.next()? {
                Ok(x) => x,
                Err(e) => return Some(Err(e)),
            };
            if text.trim().is_empty() {
                continue;
            }
            let path = self.lines.path();
            let result = parse_object(path, line, &text).and_then(|obj| {
                Ok(Query {
                    id: id_field(path, line, &obj, "_id")?,
                    text: text_field(path, line, &obj, "text")?,
                })
            });
            return Some(
                result.and_then(|q| crate::types::first_time(&mut self.seen, path, line, q)),
            );
        }
    }
}

fn parse_object(path: &Path, line: u64, text: &str) -> Result<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(Error::parse(path, line, "expected a JSON object")),
        Err(e) => Err(Error::parse(path, line, format!("invalid JSON: {e}"))),
    }
}

fn id_field(
    path: &Path,
    line: u64,
    obj: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<String> {
    let id = match obj.get(field) {
        Some(Value::String(s)) => s.clone(),
        // Whole numbers within 64 bits are read exactly; any other number (1.0, 1e2, one
        // past 64 bits) would not read back as the id it was written as.
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(Value::Number(n)) => {
            return Err(Error::parse(
                path,
                line,
                format!(
                    "field `{field}` is the number {n}, which is not a whole number of 64 bits: write the id as a string"
                ),
            ))
        }
        Some(Value::Null) | None => {
            return Err(Error::MissingField {
                path: path.into(),
                line,
                field: field.into(),
            })
        }
        Some(_) => {
            return Err(Error::parse(
                path,
                line,
                format!("field `{field}` must be a string or a number"),
            ))
        }
    };
    if id.trim().is_empty() {
        return Err(Error::parse(
            path,
            line,
            format!("field `{field}` is empty"),
        ));
    }
    crate::types::check_id(path, line, &id)?;
    Ok(id)
}

fn text_field(
    path: &Path,
    line: u64,
    obj: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<String> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Ok(String::new()),
        Some(_) => Err(Error::parse(
            path,
            line,
            format!("field `{field}` must be a string"),
        )),
    }
}

fn parse_document(path: &Path, line: u64, text: &str, fields: &JsonlFields) -> Result<Document> {
    let obj = parse_object(path, line, text)?;
    let id = id_field(path, line, &obj, &fields.id)?;
    let title = match &fields.title {
        Some(f) => text_field(path, line, &obj, f)?,
        None => String::new(),
    };
    let mut body = String::new();
    for f in &fields.body {
        let part = text_field(path, line, &obj, f)?;
        if part.is_empty() {
            continue;
        }
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        body.push_str(&part);
    }
    Ok(Document { id, title, body })
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

    #[test]
    fn reads_beir_corpus_lines() {
        let f = file(
            b"{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"body one\"}\n\n{\"_id\": 7, \"text\": \"x\"}\n",
        );
        let docs: Vec<_> = JsonlDocuments::open(f.path(), JsonlFields::beir())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id, "d1");
        assert_eq!(docs[0].title, "T");
        assert_eq!(docs[0].body, "body one");
        assert_eq!(docs[1].id, "7");
        assert_eq!(docs[1].title, "");
    }

    #[test]
    fn bad_lines_name_file_and_line_and_reading_goes_on() {
        let f = file(
            b"{\"_id\": \"a\", \"text\": \"ok\"}\n{not json\n{\"text\": \"no id\"}\n\xff\xfe\n{\"_id\": \"b\", \"text\": 3}\n{\"_id\": \"c\"}\n",
        );
        let items: Vec<_> = JsonlDocuments::open(f.path(), JsonlFields::beir())
            .unwrap()
            .collect();
        assert_eq!(items.len(), 6);
        assert!(items[0].is_ok());
        let name = f.path().display().to_string();
        let e1 = items[1].as_ref().unwrap_err().to_string();
        assert!(e1.starts_with(&format!("{name}:2: invalid JSON")), "{e1}");
        let e2 = items[2].as_ref().unwrap_err().to_string();
        assert_eq!(e2, format!("{name}:3: missing field `_id`"));
        let e3 = items[3].as_ref().unwrap_err().to_string();
        assert!(e3.starts_with(&format!("{name}:4: invalid UTF-8")), "{e3}");
        assert!(items[4].as_ref().unwrap_err().to_string().contains(":5:"));
        assert_eq!(items[5].as_ref().unwrap().id, "c");
    }

    #[test]
    fn custom_fields_join_bodies() {
        let f = file(b"{\"doc\": \"x\", \"name\": \"N\", \"a\": \"one\", \"b\": \"two\"}\n");
        let fields = JsonlFields {
            id: "doc".into(),
            title: Some("name".into()),
            body: vec!["a".into(), "b".into(), "c".into()],
        };
        let doc = JsonlDocuments::open(f.path(), fields)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(doc.title, "N");
        assert_eq!(doc.body, "one\n\ntwo");
    }

    #[test]
    fn reads_queries() {
        let f = file(b"{\"_id\": \"0\", \"text\": \"what?\", \"metadata\": {}}\n");
        let q: Vec<_> = JsonlQueries::open(f.path())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            q,
            vec![Query {
                id: "0".into(),
                text: "what?".into()
            }]
        );
    }
}
