//! Invariants of fusion, checked on generated inputs (proptest).

use proptest::prelude::*;
use search::{fuse, CandidateScores};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Fused scores lie in [0, 1]; alpha 1 ranks as BM25, alpha 0 as the cross-encoder, and
    /// every run lists a query's documents best first.
    #[test]
    fn fusion_is_bounded_and_its_ends_are_the_systems(
        cands in prop::collection::vec((-50.0..50.0f64, -20.0..20.0f64), 1..30),
        alpha in 0.0..=1.0f64,
    ) {
        let bm25: Vec<f64> = cands.iter().map(|c| c.0).collect();
        let ce: Vec<f64> = cands.iter().map(|c| c.1).collect();
        for f in fuse(&bm25, &ce, alpha) {
            prop_assert!((0.0..=1.0 + 1e-12).contains(&f), "{}", f);
        }
        let mut scores = CandidateScores::default();
        scores.by_query.insert(
            "q".into(),
            cands.iter().enumerate().map(|(i, c)| (format!("d{i:02}"), c.0, c.1)).collect(),
        );
        for (a, by) in [(1.0, 0usize), (0.0, 1), (alpha, 2)] {
            let run = scores.run(a);
            let docs = &run.by_query["q"];
            prop_assert!(docs.windows(2).all(|w| w[0].score >= w[1].score), "alpha {}", a);
            if by < 2 {
                let mut expect: Vec<(String, f64)> = cands
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("d{i:02}"), if by == 0 { c.0 } else { c.1 }))
                    .collect();
                expect.sort_by(|x, y| y.1.total_cmp(&x.1).then_with(|| y.0.cmp(&x.0)));
                let got: Vec<&str> = docs.iter().map(|d| d.doc_id.as_str()).collect();
                let want: Vec<&str> = expect.iter().map(|d| d.0.as_str()).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
