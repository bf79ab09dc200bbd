//! Opening a collection by format name: what a command line or a config file asks for.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::beir::BeirDataset;
use crate::dir::DirDocuments;
use crate::error::{Error, Result};
use crate::jsonl::{JsonlDocuments, JsonlFields, JsonlQueries};
use crate::lines::Lines;
use crate::qrels::{read_qrels, QrelsFormat};
use crate::smart::{SmartDocuments, SmartQueries};
use crate::types::{Document, Qrels, Query};

/// The formats a corpus can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    /// A BEIR folder (its `corpus.jsonl`) or a BEIR `corpus.jsonl` file.
    Beir,
    /// JSON Lines with configurable fields (see [`JsonlFields`]).
    Jsonl,
    /// A SMART file (`.I`, `.T`, `.W` ...).
    Smart,
    /// A folder of `.txt` / `.md` files.
    Dir,
}

impl FromStr for DocumentFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "beir" => Ok(DocumentFormat::Beir),
            "jsonl" => Ok(DocumentFormat::Jsonl),
            "smart" => Ok(DocumentFormat::Smart),
            "dir" => Ok(DocumentFormat::Dir),
            _ => Err(format!("unknown format `{s}` (beir, jsonl, smart, dir)")),
        }
    }
}

/// A stream of documents of any format.
pub type DocumentStream = Box<dyn Iterator<Item = Result<Document>> + Send>;

/// Opens a corpus. `fields` applies to [`DocumentFormat::Jsonl`] only.
pub fn open_documents(
    format: DocumentFormat,
    path: impl AsRef<Path>,
    fields: &JsonlFields,
) -> Result<DocumentStream> {
    let path = path.as_ref();
    Ok(match format {
        DocumentFormat::Beir => {
            let file = if path.is_dir() {
                BeirDataset::new(path).corpus_path()
            } else {
                path.to_path_buf()
            };
            Box::new(JsonlDocuments::open(file, JsonlFields::beir())?)
        }
        DocumentFormat::Jsonl => Box::new(JsonlDocuments::open(path, fields.clone())?),
        DocumentFormat::Smart => Box::new(SmartDocuments::open(path)?),
        DocumentFormat::Dir => Box::new(DirDocuments::open(path)?),
    })
}

/// Reads all queries from a file: JSONL (`_id`, `text`: BEIR's queries.jsonl, also found as
/// `queries.jsonl` in a BEIR folder), tab-separated `id<TAB>text`, or SMART (`.I` records),
/// told apart by the folder, the file's ending (`.jsonl`, `.tsv`) and its first non-blank
/// line (`.I`). Queries are small, so they are read whole; the first bad one is an error.
pub fn read_queries(path: impl AsRef<Path>) -> Result<Vec<Query>> {
    let path = path.as_ref();
    let file: PathBuf = if path.is_dir() {
        BeirDataset::new(path).queries_path()
    } else {
        path.to_path_buf()
    };
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl") | Some("json") => JsonlQueries::open(&file)?.collect(),
        Some("tsv") => read_tsv_queries(&file),
        _ => {
            let first = first_non_blank_line(&file)?;
            if first.starts_with(".I") {
                SmartQueries::open(&file)?.collect()
            } else if first.trim_start().starts_with('{') {
                JsonlQueries::open(&file)?.collect()
            } else {
                read_tsv_queries(&file)
            }
        }
    }
}

fn read_tsv_queries(path: &Path) -> Result<Vec<Query>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for item in Lines::open(path)? {
        let (line, text) = item?;
        if text.trim().is_empty() {
            continue;
        }
        match text.split_once('\t') {
            Some((id, q)) if !id.trim().is_empty() => out.push(crate::types::first_time(
                &mut seen,
                path,
                line,
                Query {
                    id: id.trim().to_owned(),
                    text: q.to_owned(),
                },
            )?),
            _ => {
                return Err(Error::parse(
                    path,
                    line,
                    "expected `id<TAB>text` (or use a .jsonl or SMART query file)",
                ))
            }
        }
    }
    Ok(out)
}

fn first_non_blank_line(path: &Path) -> Result<String> {
    for item in Lines::open(path)? {
        let (_, text) = item?;
        if !text.trim().is_empty() {
            return Ok(text);
        }
    }
    Ok(String::new())
}

/// Tells a qrels file's format from its name and first lines: `.tsv` is BEIR; lines of four
/// columns `qid iter docid rel` are TREC (whatever the iteration column holds; a grade that
/// is no whole number is then an error naming its line), but for CISI's `qid docid 0
/// 0.000000`; two or three columns (MED's `qid docid 1`) are SMART. Lines that fit neither, or a mix, are an error naming the file
/// and line, so a wrong guess cannot turn into metrics of 0.
pub fn detect_qrels_format(path: impl AsRef<Path>) -> Result<QrelsFormat> {
    let path = path.as_ref();
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        return Ok(QrelsFormat::BeirTsv);
    }
    let mut found: Option<QrelsFormat> = None;
    let mut seen = 0;
    for item in Lines::open(path)? {
        let (line, text) = item?;
        let cols: Vec<&str> = text.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        let whole = |s: &str| s.parse::<i64>().is_ok();
        // CISI's `qid docid 0 0.000000`: a zero, then a decimal number.
        let cisi = |c: &[&str]| {
            c[2] == "0" && c[3].contains('.') && c[3].parse::<f64>().is_ok_and(f64::is_finite)
        };
        let this = match cols.len() {
            4 if !whole(cols[3]) && cisi(&cols) => QrelsFormat::Smart,
            4 => QrelsFormat::Trec,
            2 | 3 => QrelsFormat::Smart,
            _ => {
                return Err(Error::parse(
                    path,
                    line,
                    format!(
                        "cannot tell the qrels format from {} columns (TREC: `qid iter docid rel`; SMART: `qid docid ...`): name it",
                        cols.len()
                    ),
                ))
            }
        };
        match found {
            Some(f) if f != this => return Err(Error::parse(
                path,
                line,
                "this line reads as another qrels format than the lines before it: name the format",
            )),
            _ => found = Some(this),
        }
        seen += 1;
        if seen == 50 {
            break;
        }
    }
    Ok(found.unwrap_or(QrelsFormat::Trec))
}

/// Finds and reads judgments: a file (format given or detected), or a folder holding
/// `<split>.tsv` or `qrels/<split>.tsv` (a BEIR folder).
pub fn load_qrels(
    path: impl AsRef<Path>,
    split: Option<&str>,
    format: Option<QrelsFormat>,
) -> Result<Qrels> {
    let path = path.as_ref();
    let file = if path.is_dir() {
        let split = split.unwrap_or("test");
        let direct = path.join(format!("{split}.tsv"));
        if direct.exists() {
            direct
        } else {
            BeirDataset::new(path).qrels_path(split)
        }
    } else {
        path.to_path_buf()
    };
    let format = match format {
        Some(f) => f,
        None => detect_qrels_format(&file)?,
    };
    read_qrels(&file, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        let dir = tempfile::tempdir().unwrap();
        let trec = dir.path().join("q.txt");
        std::fs::write(&trec, "q1 0 d1 1\n").unwrap();
        assert_eq!(detect_qrels_format(&trec).unwrap(), QrelsFormat::Trec);
        let smart = dir.path().join("CISI.REL");
        std::fs::write(&smart, "     1     28\t0\t0.000000\n").unwrap();
        assert_eq!(detect_qrels_format(&smart).unwrap(), QrelsFormat::Smart);
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(
            dir.path().join("qrels/dev.tsv"),
            "query-id\tcorpus-id\tscore\nq\td\t1\n",
        )
        .unwrap();
        let q = load_qrels(dir.path(), Some("dev"), None).unwrap();
        assert_eq!(q.num_judgments(), 1);
        assert!(load_qrels(dir.path(), Some("nope"), None)
            .unwrap_err()
            .to_string()
            .contains("nope.tsv"));
    }

    #[test]
    fn reads_query_files_of_each_kind() {
        let dir = tempfile::tempdir().unwrap();
        let smart = dir.path().join("Q.QRY");
        std::fs::write(&smart, ".I 1\n.W\nwhat?\n").unwrap();
        assert_eq!(read_queries(&smart).unwrap()[0].text, "what?");
        let tsv = dir.path().join("q.tsv");
        std::fs::write(&tsv, "7\tfind me\n").unwrap();
        assert_eq!(read_queries(&tsv).unwrap()[0].id, "7");
        std::fs::write(
            dir.path().join("queries.jsonl"),
            "{\"_id\": \"3\", \"text\": \"x\"}\n",
        )
        .unwrap();
        assert_eq!(read_queries(dir.path()).unwrap()[0].id, "3");
        let bad = dir.path().join("bad.tsv");
        std::fs::write(&bad, "no tab here\n").unwrap();
        assert!(read_queries(&bad)
            .unwrap_err()
            .to_string()
            .contains("bad.tsv:1:"));
    }
}
