//! Invariants of evaluation and writes, checked on generated inputs (proptest; fusion's are
//! the search crate's).

use std::collections::HashSet;

use engine::metrics::{evaluate, parse_measures, EvalOptions};
use engine::{Analysis, Engine, IndexOptions};
use index_data::{Document, Qrels, Run};
use proptest::prelude::*;

/// Judgments of up to 3 queries over docs d0..d11 (levels -1 to 3), and a run over the same
/// docs whose scores may tie.
fn qrels_and_run() -> impl Strategy<Value = (Qrels, Run)> {
    let judged = prop::collection::vec((0..3usize, 0..12usize, -1..4i32), 1..30);
    let retrieved = prop::collection::vec((0..3usize, 0..12usize, 0..6u8), 0..40);
    (judged, retrieved).prop_map(|(j, r)| {
        let mut qrels = Qrels::default();
        for (q, d, l) in j {
            qrels.insert(&format!("q{q}"), &format!("d{d}"), l);
        }
        let mut run = Run::default();
        let mut seen = HashSet::new();
        for (q, d, s) in r {
            if seen.insert((q, d)) {
                run.push(&format!("q{q}"), &format!("d{d}"), f64::from(s) / 2.0);
            }
        }
        (qrels, run)
    })
}

const MEASURES: &str = "ndcg@10,ndcg,rr@10,recall@5,p@5,map";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Evaluation ranks by score (ties by id) whatever order a run lists its documents in.
    #[test]
    fn a_shuffled_run_evaluates_the_same((qrels, run) in qrels_and_run(), seed in any::<u64>()) {
        let ms = parse_measures(MEASURES).unwrap();
        let opts = EvalOptions::default();
        let mut shuffled = run.clone();
        let mut rng = seed;
        for docs in shuffled.by_query.values_mut() {
            for i in (1..docs.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                docs.swap(i, (rng >> 33) as usize % (i + 1));
            }
        }
        let a = evaluate(&qrels, &run, &ms, &opts);
        let b = evaluate(&qrels, &shuffled, &ms, &opts);
        prop_assert_eq!(a.per_query, b.per_query);
    }

    /// Every measure lies in [0, 1], at every relevance level and with -c.
    #[test]
    fn measures_lie_in_zero_one((qrels, run) in qrels_and_run(), min_rel in 0..3i32, complete in any::<bool>()) {
        let ms = parse_measures(MEASURES).unwrap();
        let opts = EvalOptions { min_relevance: min_rel, complete, ..Default::default() };
        let e = evaluate(&qrels, &run, &ms, &opts);
        for (q, values) in &e.per_query {
            for (m, v) in ms.iter().zip(values) {
                prop_assert!((0.0..=1.0).contains(v), "{} {:?} = {}", q, m, v);
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Upserting ids (repeats included) leaves one document per distinct id; deleting some
    /// leaves the rest.
    #[test]
    fn upserts_never_duplicate_an_id(
        ids in prop::collection::vec(0..8u8, 1..30),
        deletes in prop::collection::vec(0..8u8, 0..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
        let docs: Vec<index_data::Result<Document>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Ok(Document { id: format!("id{id}"), title: String::new(), body: format!("version {i}") }))
            .collect();
        engine.index_documents(docs, &IndexOptions::default(), &mut |_| {}).unwrap();
        let distinct: HashSet<u8> = ids.iter().copied().collect();
        prop_assert_eq!(engine.num_docs() as usize, distinct.len());
        // Again, one at a time: the count does not move.
        for id in &ids {
            engine.upsert(&Document { id: format!("id{id}"), title: String::new(), body: "again".into() }).unwrap();
        }
        engine.commit().unwrap();
        prop_assert_eq!(engine.num_docs() as usize, distinct.len());
        let gone: Vec<String> = deletes.iter().map(|d| format!("id{d}")).collect();
        let report = engine.delete_ids(&gone).unwrap();
        engine.commit().unwrap();
        let removed: HashSet<u8> = deletes.iter().copied().filter(|d| distinct.contains(d)).collect();
        prop_assert_eq!(report.found, removed.len());
        prop_assert_eq!(engine.num_docs() as usize, distinct.len() - removed.len());
        let mut live = engine.live_ids().unwrap();
        live.sort();
        let mut want: Vec<String> = distinct.difference(&removed).map(|d| format!("id{d}")).collect();
        want.sort();
        prop_assert_eq!(live, want);
    }
}
