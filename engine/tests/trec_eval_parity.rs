//! The engine's measures against trec_eval's own numbers.
//!
//! The fixture is a real BM25 run on CISI (scores rounded to one decimal, so that many
//! documents tie), graded judgments derived from CISI.REL, and the per-query values that
//! pytrec_eval (which runs trec_eval's C code) computed for them at relevance levels 1 and 2.
//! `scripts/make_trec_eval_fixture.sh` made all three files, once; see its header.

use std::collections::BTreeMap;
use std::path::Path;

use engine::metrics::{evaluate, EvalOptions, Measure};
use index_data::{read_qrels, read_trec_run, QrelsFormat};

type Expected = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

#[test]
fn per_query_values_match_trec_eval() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let run = read_trec_run(dir.join("cisi_trec_eval.run")).unwrap();
    let qrels = read_qrels(dir.join("cisi_trec_eval.qrels"), QrelsFormat::Trec).unwrap();
    let expected: Expected = serde_json::from_str(
        &std::fs::read_to_string(dir.join("cisi_trec_eval.expected.json")).unwrap(),
    )
    .unwrap();
    let names = [
        ("ndcg_cut_10", Measure::Ndcg(Some(10))),
        ("ndcg_cut_100", Measure::Ndcg(Some(100))),
        ("ndcg", Measure::Ndcg(None)),
        ("recip_rank", Measure::Rr(None)),
        ("recall_10", Measure::Recall(10)),
        ("recall_100", Measure::Recall(100)),
        ("P_10", Measure::Precision(10)),
        ("map", Measure::Ap(None)),
    ];
    let measures: Vec<Measure> = names.iter().map(|(_, m)| *m).collect();
    let mut checked = 0;
    for (level_name, level) in [("rel1", 1), ("rel2", 2)] {
        let options = EvalOptions {
            min_relevance: level,
            keep_queries_without_relevant: true,
            ..Default::default()
        };
        let ours = evaluate(&qrels, &run, &measures, &options);
        let theirs = &expected[level_name];
        assert_eq!(
            ours.per_query.len(),
            theirs.len(),
            "{level_name}: query count"
        );
        for (qid, values) in theirs {
            let mine = &ours.per_query[qid];
            for (i, (name, _)) in names.iter().enumerate() {
                let want = values[*name];
                assert!(
                    (mine[i] - want).abs() < 1e-9,
                    "{level_name} query {qid} {name}: ours {} trec_eval {want}",
                    mine[i]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} values compared");
}
