//! Fused, seeded CPU kernels for the attention softmax and dropout, with their backward
//! passes.
//!
//! candle's composed softmax takes five passes over the `[batch, heads, seq, seq]` scores
//! forward and more backward, its fast `softmax_last_dim` has no backward, and its dropout
//! draws from a thread RNG (so training cannot be repeated). Here the mask add, softmax and
//! dropout are one pass forward and one backward, rows run in parallel, and the dropout mask
//! is a hash of (seed, element index): the backward pass regenerates it instead of storing it,
//! and the same seed gives the same run. `exp` and the mask are written so that the loops over
//! them vectorize, and each kernel is also compiled for AVX2 (`math.rs`).
//!
//! One kernel a file, each with its tests against candle's composed ops (values and
//! gradients) and finite differences:
//! - [`attention_softmax`] (`softmax.rs`): mask add + softmax + dropout over attention scores;
//! - [`dropout`] (`dropout.rs`): seeded inverted dropout;
//! - [`bias_add`] (`bias.rs`): a bias added to rows, its gradient summed on all threads;
//! - [`layer_norm`] (`layer_norm.rs`): LayerNorm with dx, dγ and dβ from one kernel;
//! - [`gelu_erf`] (`gelu.rs`): exact GELU.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Layout, Result};
use rayon::prelude::*;

mod bias;
mod dropout;
mod gelu;
mod layer_norm;
mod math;
mod softmax;

pub use bias::bias_add;
pub use dropout::dropout;
pub use gelu::gelu_erf;
pub use layer_norm::layer_norm;
pub use softmax::attention_softmax;

/// A uniform number in [0, 1) from (seed, index): splitmix64 (test inputs).
#[cfg(test)]
pub(crate) fn uniform(seed: u64, index: u64) -> f32 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

/// `n` floats written by `fill(i, chunk)` in parallel, chunk `i` holding elements
/// `i * len ..` (`len` each, the last one shorter). Each chunk is zeroed just before its
/// `fill`, on the thread that fills it and while it is in cache: `vec![0.0; n]` followed by
/// the same loop zeroed the whole buffer on the calling thread first (up to 64 MB a call, a
/// memset that was about a tenth of a training step).
pub(crate) fn par_fill(n: usize, len: usize, fill: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(n);
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(len.max(1))
        .enumerate()
        .for_each(|(i, chunk)| {
            chunk.fill(MaybeUninit::new(0.0));
            // SAFETY: every element of `chunk` was initialized just above, and
            // `MaybeUninit<f32>` has the layout of `f32`.
            let chunk = unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) };
            fill(i, chunk);
        });
    // SAFETY: the chunks cover the first `n` elements, each of them initialized above.
    unsafe { out.set_len(n) };
    out
}

pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d,
        _ => candle_core::bail!("{what}: f32 only"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: input must be contiguous"),
    }
}

/// Test inputs: 60 values in [-2, 2) from a seed.
#[cfg(test)]
pub(crate) fn rand4(seed: u64) -> Vec<f32> {
    (0..2 * 2 * 3 * 5)
        .map(|i| uniform(seed, i) * 4.0 - 2.0)
        .collect()
}

/// Test helper: the largest absolute difference between two tensors of one shape.
#[cfg(test)]
pub(crate) fn max_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::par_fill;

    #[test]
    fn par_fill_gives_each_chunk_its_place_and_covers_every_element() {
        for (n, len) in [(0, 4), (1, 4), (10_001, 64), (4096, 4096), (4097, 4096)] {
            let v = par_fill(n, len, |i, c| {
                assert!(c.iter().all(|&x| x == 0.0), "chunk {i} not zeroed");
                assert!(
                    c.len() == len || (i + 1) * len >= n,
                    "short chunk {i} not last"
                );
                for (j, x) in c.iter_mut().enumerate() {
                    *x = (i * len + j) as f32;
                }
            });
            assert_eq!(v.len(), n);
            assert!(
                v.iter().enumerate().all(|(k, &x)| x == k as f32),
                "{n} / {len}"
            );
        }
    }
}
