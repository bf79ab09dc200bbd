//! Pair tokenization (what every reranked query pays before the model runs): 100 passages of
//! a few hundred words against one query, cut to max_len 256. Needs the fetched splade-tiny
//! tokenizer (`python3 scripts/fetch_models.py`); without it the benchmark says so and stops.
//!
//! ```text
//! cargo bench -p reranker --bench tokenize
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use reranker::PairTokenizer;

fn tokenize(c: &mut Criterion) {
    let path = reranker::models_dir().join("splade-tiny/tokenizer.json");
    let Ok(tok) = PairTokenizer::from_file(&path, 256) else {
        eprintln!(
            "skipped: no tokenizer at {} (fetch the models first)",
            path.display()
        );
        return;
    };
    let words = "vitamin deficiency increases the risk of multiple sclerosis in adults who live far from the equator";
    let passages: Vec<String> = (0..100)
        .map(|i| format!("Passage {i}. {}", words.repeat(1 + i % 8)))
        .collect();
    let pairs: Vec<(&str, &str)> = passages
        .iter()
        .map(|p| {
            (
                "does vitamin d protect against multiple sclerosis",
                p.as_str(),
            )
        })
        .collect();
    c.bench_function("encode 100 pairs, max_len 256", |b| {
        b.iter(|| tok.encode_pairs(&pairs).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = tokenize
}
criterion_main!(benches);
