//! BM25 search on a synthetic 20,000-document index (built once, in a temporary folder):
//! lenient queries of 3 and 30 words, top 100, ids only and with stored text.
//!
//! ```text
//! cargo bench -p engine --bench bm25
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use engine::{Analysis, Engine, IndexOptions};
use index_data::Document;

/// A deterministic vocabulary word.
fn word(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let mut w = String::new();
    for _ in 0..(4 + i % 6) {
        w.push((b'a' + (x % 26) as u8) as char);
        x /= 26;
    }
    w
}

fn bm25(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::create(dir.path(), Analysis::default()).unwrap();
    // Zipf-like: low ids much more frequent.
    let docs = (0..20_000u64).map(|d| {
        let body: Vec<String> = (0..120u64)
            .map(|j| word(((d * 131 + j * 7919) % 5000).pow(2) / 5000))
            .collect();
        Ok(Document::new(format!("d{d}"), word(d), body.join(" ")))
    });
    engine
        .index_documents(docs, &IndexOptions::default(), &mut |_| {})
        .unwrap();
    let short: String = (0..3).map(|i| word(i * 97)).collect::<Vec<_>>().join(" ");
    let long: String = (0..30).map(|i| word(i * 61)).collect::<Vec<_>>().join(" ");
    c.bench_function("search_ids 3 words, top 100", |b| {
        b.iter(|| engine.search_ids(&short, 100).unwrap())
    });
    c.bench_function("search_ids 30 words, top 100", |b| {
        b.iter(|| engine.search_ids(&long, 100).unwrap())
    });
    c.bench_function("search with text, 3 words, top 100", |b| {
        b.iter(|| engine.search(&short, 100).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bm25
}
criterion_main!(benches);
