//! Relevance judgments (qrels) in BEIR TSV, TREC and SMART formats, and TREC run files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::lines::Lines;
use crate::types::{Qrels, Run};

/// The layout of a qrels file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrelsFormat {
    /// BEIR: tab-separated `query-id corpus-id score`, with a header line.
    BeirTsv,
    /// TREC: whitespace-separated `qid iteration docid relevance`.
    Trec,
    /// SMART (e.g. CISI.REL): whitespace-separated `qid docid ...`; every listed pair is
    /// relevant with level 1.
    Smart,
}

impl std::str::FromStr for QrelsFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "beir" | "tsv" => Ok(QrelsFormat::BeirTsv),
            "trec" => Ok(QrelsFormat::Trec),
            "smart" => Ok(QrelsFormat::Smart),
            _ => Err(format!("unknown qrels format `{s}` (beir, trec, smart)")),
        }
    }
}

/// Reads a whole qrels file. Qrels are small (thousands of lines), so they are held in memory.
///
/// A malformed line is an error naming the file and line. Blank lines are ignored.
pub fn read_qrels(path: impl AsRef<Path>, format: QrelsFormat) -> Result<Qrels> {
    read_qrels_with(path, format, &mut |e| Err(e))
}

/// Like [`read_qrels`], but hands each record error to `on_bad`, which either returns it (to
/// stop) or returns `Ok(())` to skip the line.
pub fn read_qrels_with(
    path: impl AsRef<Path>,
    format: QrelsFormat,
    on_bad: &mut dyn FnMut(Error) -> Result<()>,
) -> Result<Qrels> {
    let path = path.as_ref();
    let mut qrels = Qrels::default();
    for item in Lines::open(path)? {
        let (line, text) = match item {
            Ok(x) => x,
            Err(e) if e.is_record_error() => {
                on_bad(e)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if text.trim().is_empty() {
            continue;
        }
        match parse_qrels_line(path, line, &text, format) {
            Ok(Some((q, d, r))) => qrels.insert(q, d, r),
            Ok(None) => {}
            Err(e) => on_bad(e)?,
        }
    }
    Ok(qrels)
}

fn parse_qrels_line<'a>(
    path: &Path,
    line: u64,
    text: &'a str,
    format: QrelsFormat,
) -> Result<Option<(&'a str, &'a str, i32)>> {
    let cols: Vec<&str> = match format {
        QrelsFormat::BeirTsv => text.split('\t').map(str::trim).collect(),
        _ => text.split_whitespace().collect(),
    };
    let level = |s: &str| -> Result<i32> {
        if let Ok(l) = s.parse::<i32>() {
            return Ok(l);
        }
        match s.parse::<f64>() {
            // `1.0` is 1; a fraction, NaN or an infinity is no relevance level.
            Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() <= f64::from(i32::MAX) => {
                Ok(f as i32)
            }
            Ok(_) => Err(Error::parse(
                path,
                line,
                format!("relevance `{s}` is not a whole number (levels are integers; trec_eval would cut a fraction to its whole part)"),
            )),
            Err(_) => Err(Error::parse(
                path,
                line,
                format!("relevance `{s}` is not a number"),
            )),
        }
    };
    match format {
        QrelsFormat::BeirTsv => {
            if cols.len() != 3 {
                return Err(Error::parse(
                    path,
                    line,
                    format!("expected 3 tab-separated columns, found {}", cols.len()),
                ));
            }
            // The header line: its score column is not a number.
            if line == 1 && cols[2].parse::<f64>().is_err() {
                return Ok(None);
            }
            Ok(Some((cols[0], cols[1], level(cols[2])?)))
        }
        QrelsFormat::Trec => {
            if cols.len() != 4 {
                return Err(Error::parse(
                    path,
                    line,
                    format!(
                        "expected 4 columns `qid iter docid rel`, found {}",
                        cols.len()
                    ),
                ));
            }
            Ok(Some((cols[0], cols[2], level(cols[3])?)))
        }
        QrelsFormat::Smart => {
            if cols.len() < 2 {
                return Err(Error::parse(
                    path,
                    line,
                    "expected at least 2 columns `qid docid`",
                ));
            }
            Ok(Some((cols[0], cols[1], 1)))
        }
    }
}

/// Writes qrels in TREC format (`qid 0 docid rel`), queries and documents in sorted order.
pub fn write_trec_qrels(path: impl AsRef<Path>, qrels: &Qrels) -> Result<()> {
    let path = path.as_ref();
    let mut w = BufWriter::new(File::create(path).map_err(|e| Error::io(path, e))?);
    for (q, docs) in &qrels.by_query {
        let mut docs: Vec<_> = docs.iter().collect();
        docs.sort();
        for (d, r) in docs {
            writeln!(w, "{q} 0 {d} {r}").map_err(|e| Error::io(path, e))?;
        }
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Reads a TREC run file: `qid Q0 docid rank score tag`, whitespace-separated.
///
/// The rank column is checked to be an integer but otherwise ignored: documents keep the
/// order of the file, and evaluation ranks them by score, as trec_eval does.
pub fn read_trec_run(path: impl AsRef<Path>) -> Result<Run> {
    let path = path.as_ref();
    let mut run = Run::default();
    for item in Lines::open(path)? {
        let (line, text) = item?;
        if text.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = text.split_whitespace().collect();
        if cols.len() != 6 {
            return Err(Error::parse(
                path,
                line,
                format!(
                    "expected 6 columns `qid Q0 docid rank score tag`, found {}",
                    cols.len()
                ),
            ));
        }
        cols[3].parse::<i64>().map_err(|_| {
            Error::parse(path, line, format!("rank `{}` is not an integer", cols[3]))
        })?;
        let score: f64 = cols[4].parse().map_err(|_| {
            Error::parse(path, line, format!("score `{}` is not a number", cols[4]))
        })?;
        if !score.is_finite() {
            return Err(Error::parse(
                path,
                line,
                format!("score `{}` is not finite", cols[4]),
            ));
        }
        run.push(cols[0], cols[2], score);
    }
    Ok(run)
}

/// Writes a TREC run file (`qid Q0 docid rank score tag`), ranks 1.. in the order of `run`.
pub fn write_trec_run(path: impl AsRef<Path>, run: &Run, tag: &str) -> Result<()> {
    let path = path.as_ref();
    let tag = if tag.trim().is_empty() { "run" } else { tag };
    // Ids with white space would shift the columns: refused before anything is written.
    for (q, docs) in &run.by_query {
        for id in std::iter::once(q).chain(docs.iter().map(|d| &d.doc_id)) {
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                return Err(Error::Unwritable {
                    path: path.into(),
                    message: format!(
                        "the id `{id}` is empty or holds white space, which a TREC run file cannot hold"
                    ),
                });
            }
        }
    }
    let tag: String = tag
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    let mut w = BufWriter::new(File::create(path).map_err(|e| Error::io(path, e))?);
    for (q, docs) in &run.by_query {
        for (i, d) in docs.iter().enumerate() {
            writeln!(w, "{q} Q0 {} {} {} {tag}", d.doc_id, i + 1, d.score)
                .map_err(|e| Error::io(path, e))?;
        }
    }
    w.flush().map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn beir_tsv_with_header() {
        let f = file("query-id\tcorpus-id\tscore\n1\t31715818\t1\n3\t14717500\t2\n");
        let q = read_qrels(f.path(), QrelsFormat::BeirTsv).unwrap();
        assert_eq!(q.num_queries(), 2);
        assert_eq!(q.get("3").unwrap()["14717500"], 2);
    }

    #[test]
    fn beir_tsv_bad_line() {
        let f = file("query-id\tcorpus-id\tscore\n1\t2\n");
        let e = read_qrels(f.path(), QrelsFormat::BeirTsv)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2: expected 3 tab-separated columns"), "{e}");
        let f = file("query-id\tcorpus-id\tscore\n1\t2\tx\n");
        let e = read_qrels(f.path(), QrelsFormat::BeirTsv)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2: relevance `x` is not a number"), "{e}");
    }

    #[test]
    fn skip_bad_lines_when_asked() {
        let f = file("q1 0 d1 1\nbroken\nq1 0 d2 0\n");
        let mut skipped = 0;
        let q = read_qrels_with(f.path(), QrelsFormat::Trec, &mut |_| {
            skipped += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(q.num_judgments(), 2);
    }

    #[test]
    fn trec_and_smart() {
        let f = file("q1 0 d1 1\nq1 0 d2 0\n\nq2 0 d1 3\n");
        let q = read_qrels(f.path(), QrelsFormat::Trec).unwrap();
        assert_eq!(q.num_judgments(), 3);
        assert_eq!(q.get("q2").unwrap()["d1"], 3);
        let f = file("     1     28\t0\t0.000000\n     1     35\t0\t0.000000\n");
        let q = read_qrels(f.path(), QrelsFormat::Smart).unwrap();
        assert_eq!(q.get("1").unwrap()["35"], 1);
    }

    #[test]
    fn run_round_trip() {
        let mut run = Run::default();
        run.push("q1", "d1", 2.5);
        run.push("q1", "d2", -1.0);
        run.push("q2", "d9", 0.125);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.txt");
        write_trec_run(&p, &run, "bm25").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("q1 Q0 d1 1 2.5 bm25\nq1 Q0 d2 2 -1 bm25\n"));
        assert_eq!(read_trec_run(&p).unwrap(), run);
        let mut qrels = Qrels::default();
        qrels.insert("q1", "d1", 1);
        let p = dir.path().join("qrels.txt");
        write_trec_qrels(&p, &qrels).unwrap();
        assert_eq!(read_qrels(&p, QrelsFormat::Trec).unwrap(), qrels);
    }

    #[test]
    fn bad_run_line() {
        let f = file("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 x 1.0 t\n");
        let e = read_trec_run(f.path()).unwrap_err().to_string();
        assert!(e.contains(":2: rank `x`"), "{e}");
        let f = file("q1 Q0 d1 1 nan t\n");
        assert!(read_trec_run(f.path()).is_err());
    }
}
