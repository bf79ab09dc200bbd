//! Every reader on arbitrary bytes yields records or errors that name the file (and, for a
//! bad record, its line), never a panic (proptest).

use std::path::Path;

use index_data::{
    detect_qrels_format, read_qrels, read_queries, read_trec_run, DirDocuments, JsonlDocuments,
    JsonlFields, JsonlQueries, QrelsFormat, SmartDocuments,
};
use proptest::prelude::*;

/// Bytes that look a little like the formats: their markers, separators and line ends mixed
/// with arbitrary bytes.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b".I 1\n".to_vec()),
        Just(b".W\n".to_vec()),
        Just(b".T\r".to_vec()),
        Just(b"{\"_id\": \"a\", \"text\": \"b\"}\n".to_vec()),
        Just(b"{\"id\": 1e99, \"title\": null}\r\n".to_vec()),
        Just(b"q1 0 d1 1\n".to_vec()),
        Just(b"q1 Q0 d1 1 2.5 t\n".to_vec()),
        Just(b"query-id\tcorpus-id\tscore\n".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// An error names the file, and a record error names a line too (`file:N:`).
fn names_file(e: &index_data::Error, path: &Path) -> Result<(), TestCaseError> {
    let text = e.to_string();
    let p = path.display().to_string();
    prop_assert!(text.contains(&p), "{} does not name {}", text, p);
    if e.is_record_error() && !matches!(e, index_data::Error::BadFileName { .. }) {
        let after = &text[text.find(&p).unwrap() + p.len()..];
        let line = after.strip_prefix(':').and_then(|r| r.split(':').next());
        prop_assert!(
            line.is_some_and(|l| l.parse::<u64>().is_ok_and(|n| n >= 1)),
            "{} names no line",
            text
        );
    }
    Ok(())
}

fn check_all<T>(
    items: impl IntoIterator<Item = index_data::Result<T>>,
    path: &Path,
) -> Result<(), TestCaseError> {
    for item in items {
        if let Err(e) = item {
            names_file(&e, path)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn readers_never_panic_and_name_file_and_line(content in bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.txt");
        std::fs::write(&path, &content).unwrap();

        check_all(JsonlDocuments::open(&path, JsonlFields::beir()).unwrap(), &path)?;
        check_all(JsonlQueries::open(&path).unwrap(), &path)?;
        check_all(SmartDocuments::open(&path).unwrap(), &path)?;
        for r in [
            read_queries(&path).map(|_| ()),
            read_trec_run(&path).map(|_| ()),
            detect_qrels_format(&path).map(|_| ()),
            read_qrels(&path, QrelsFormat::Trec).map(|_| ()),
            read_qrels(&path, QrelsFormat::Smart).map(|_| ()),
            read_qrels(&path, QrelsFormat::BeirTsv).map(|_| ()),
        ] {
            if let Err(e) = r {
                names_file(&e, &path)?;
            }
        }
        let tsv = dir.path().join("queries.tsv");
        std::fs::write(&tsv, &content).unwrap();
        if let Err(e) = read_queries(&tsv) {
            names_file(&e, &tsv)?;
        }
        let md = dir.path().join("docs");
        std::fs::create_dir(&md).unwrap();
        let file = md.join("note.md");
        std::fs::write(&file, &content).unwrap();
        check_all(DirDocuments::open(&md).unwrap(), &file)?;
    }
}
