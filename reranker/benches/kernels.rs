//! The fused training kernels, forward and backward, at the splade-tiny student's shapes
//! (hidden 128, 2 heads, intermediate 512; 128 pairs of 64 tokens a step here, to stay short).
//!
//! ```text
//! cargo bench -p reranker --bench kernels
//! ```

use candle_core::{Device, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use reranker::fused;

fn inputs(shape: &[usize], seed: u32) -> Var {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        })
        .collect();
    Var::from_vec(data, shape, &Device::Cpu).unwrap()
}

fn kernels(c: &mut Criterion) {
    let (batch, heads, seq, hidden, inter) = (128, 2, 64, 128, 512);
    let scores = inputs(&[batch, heads, seq, seq], 1);
    let mask = Tensor::zeros((batch, seq), candle_core::DType::F32, &Device::Cpu).unwrap();
    c.bench_function("attention_softmax fwd+bwd", |b| {
        b.iter(|| {
            let y = fused::attention_softmax(scores.as_tensor(), &mask, 0.1, 7).unwrap();
            y.sum_all().unwrap().backward().unwrap()
        })
    });
    let x = inputs(&[batch * seq, hidden], 2);
    let w = inputs(&[hidden], 3);
    let bias = inputs(&[hidden], 4);
    c.bench_function("layer_norm fwd+bwd", |b| {
        b.iter(|| {
            let y =
                fused::layer_norm(x.as_tensor(), w.as_tensor(), bias.as_tensor(), 1e-12).unwrap();
            y.sum_all().unwrap().backward().unwrap()
        })
    });
    let h = inputs(&[batch * seq, inter], 5);
    c.bench_function("gelu_erf fwd+bwd", |b| {
        b.iter(|| {
            fused::gelu_erf(h.as_tensor())
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    let hb = inputs(&[inter], 6);
    c.bench_function("bias_add fwd+bwd", |b| {
        b.iter(|| {
            fused::bias_add(h.as_tensor(), hb.as_tensor())
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    c.bench_function("dropout fwd+bwd", |b| {
        b.iter(|| {
            fused::dropout(h.as_tensor(), 0.1, 9)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = kernels
}
criterion_main!(benches);
