//! Fused, seeded CPU kernels for the attention softmax and dropout, with their backward
//! passes.
//!
//! candle's composed softmax takes five passes over the `[batch, heads, seq, seq]` scores
//! forward and more backward, its fast `softmax_last_dim` has no backward, and its dropout
//! draws from a thread RNG (so training cannot be repeated). Here the mask add, softmax and
//! dropout are one pass forward and one backward, rows run in parallel, and the dropout mask
//! is a hash of (seed, element index): the backward pass regenerates it instead of storing it,
//! and the same seed gives the same run.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// A uniform number in [0, 1) from (seed, index): splitmix64.
#[inline]
fn uniform(seed: u64, index: u64) -> f32 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(d) => d,
        _ => candle_core::bail!("{what}: f32 only"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: input must be contiguous"),
    }
}

/// Softmax over the last dim of `scores + mask` with dropout; see [`attention_softmax`].
#[derive(Debug, Clone, Copy)]
struct AttnSoftmax {
    p: f32,
    seed: u64,
}

impl AttnSoftmax {
    /// `y` (softmax of row + mask) into `out`; returns nothing.
    #[inline]
    fn row_softmax(src: &[f32], mask: &[f32], out: &mut [f32]) {
        let mut max = f32::NEG_INFINITY;
        for (o, (s, m)) in out.iter_mut().zip(src.iter().zip(mask)) {
            *o = s + m;
            max = max.max(*o);
        }
        let mut sum = 0f32;
        for o in out.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        let inv = 1.0 / sum;
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
}

fn dims4(l: &Layout) -> Result<(usize, usize, usize, usize)> {
    l.shape().dims4()
}

impl CustomOp2 for AttnSoftmax {
    fn name(&self) -> &'static str {
        "attn-softmax-dropout"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let scores = f32_slice(s1, l1, "attention scores")?;
        let mask = f32_slice(s2, l2, "attention mask")?;
        let (b, h, q, k) = dims4(l1)?;
        if l2.shape().elem_count() != b * k {
            candle_core::bail!("attention mask must hold batch x seq values");
        }
        let mut out = vec![0f32; scores.len()];
        let (p, seed) = (self.p, self.seed);
        let scale = if p > 0.0 { 1.0 / (1.0 - p) } else { 1.0 };
        out.par_chunks_mut(k)
            .zip(scores.par_chunks(k))
            .enumerate()
            .for_each(|(row, (o, s))| {
                let bi = row / (h * q);
                Self::row_softmax(s, &mask[bi * k..(bi + 1) * k], o);
                if p > 0.0 {
                    let base = (row * k) as u64;
                    for (j, v) in o.iter_mut().enumerate() {
                        *v = if uniform(seed, base + j as u64) >= p {
                            *v * scale
                        } else {
                            0.0
                        };
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        scores: &Tensor,
        mask: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = scores.apply_op3_no_bwd(
            &mask.contiguous()?,
            &grad.contiguous()?,
            &AttnSoftmaxBwd(*self),
        )?;
        Ok((Some(g), None))
    }
}

#[derive(Debug, Clone, Copy)]
struct AttnSoftmaxBwd(AttnSoftmax);

impl CustomOp3 for AttnSoftmaxBwd {
    fn name(&self) -> &'static str {
        "attn-softmax-dropout-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let scores = f32_slice(s1, l1, "attention scores")?;
        let mask = f32_slice(s2, l2, "attention mask")?;
        let grad = f32_slice(s3, l3, "attention gradient")?;
        let (_, h, q, k) = dims4(l1)?;
        let AttnSoftmax { p, seed } = self.0;
        let scale = if p > 0.0 { 1.0 / (1.0 - p) } else { 1.0 };
        let mut out = vec![0f32; scores.len()];
        out.par_chunks_mut(k)
            .zip(scores.par_chunks(k).zip(grad.par_chunks(k)))
            .enumerate()
            .for_each(|(row, (o, (s, g)))| {
                let bi = row / (h * q);
                // o = y (the softmax), recomputed.
                AttnSoftmax::row_softmax(s, &mask[bi * k..(bi + 1) * k], o);
                let base = (row * k) as u64;
                let gy = |j: usize| {
                    if p > 0.0 {
                        if uniform(seed, base + j as u64) >= p {
                            g[j] * scale
                        } else {
                            0.0
                        }
                    } else {
                        g[j]
                    }
                };
                let dot: f32 = o.iter().enumerate().map(|(j, y)| gy(j) * y).sum();
                for (j, y) in o.iter_mut().enumerate() {
                    *y *= gy(j) - dot;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `dropout(softmax(scores + mask))` over the last dim, in one pass.
///
/// `scores`: f32 `[batch, heads, q, k]`; `mask`: additive f32, `batch × k` values (e.g.
/// `[batch, 1, 1, k]`), not differentiated. `p = 0` is plain softmax. Differentiable in
/// `scores`.
pub fn attention_softmax(scores: &Tensor, mask: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    scores
        .contiguous()?
        .apply_op2(&mask.contiguous()?, AttnSoftmax { p, seed })
}

/// Seeded inverted dropout: keeps an element with probability `1 − p`, scaled by `1/(1 − p)`.
#[derive(Debug, Clone, Copy)]
struct Dropout {
    p: f32,
    seed: u64,
}

impl CustomOp1 for Dropout {
    fn name(&self) -> &'static str {
        "seeded-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "dropout")?;
        let scale = 1.0 / (1.0 - self.p);
        let (p, seed) = (self.p, self.seed);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(4096)
            .zip(x.par_chunks(4096))
            .enumerate()
            .for_each(|(c, (o, x))| {
                let base = (c * 4096) as u64;
                for (j, (o, x)) in o.iter_mut().zip(x).enumerate() {
                    *o = if uniform(seed, base + j as u64) >= p {
                        x * scale
                    } else {
                        0.0
                    };
                }
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        // The same mask, regenerated from the seed, applied to the gradient.
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(self)?))
    }
}

/// Seeded dropout (identity when `p` is 0). Differentiable.
pub fn dropout(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    x.contiguous()?.apply_op1(Dropout { p, seed })
}

/// `x + b` with `b` added to each row of the last dim.
#[derive(Debug, Clone, Copy)]
struct BiasAdd;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "bias-add input")?;
        let b = f32_slice(s2, l2, "bias")?;
        let n = b.len();
        if n == 0 || l1.shape().dims().last() != Some(&n) {
            candle_core::bail!("bias-add: bias of {n} for input {:?}", l1.shape());
        }
        let mut out = vec![0f32; x.len()];
        let rows_per_chunk = (16_384 / n).max(1);
        out.par_chunks_mut(rows_per_chunk * n)
            .zip(x.par_chunks(rows_per_chunk * n))
            .for_each(|(o, x)| {
                for (o, x) in o.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
                    for ((o, x), b) in o.iter_mut().zip(x).zip(b) {
                        *o = x + b;
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let db = grad
            .contiguous()?
            .apply_op1_no_bwd(&ColumnSum(b.elem_count()))?;
        Ok((Some(grad.clone()), Some(db)))
    }
}

/// Sums of the columns of a contiguous `[rows, n]` matrix (any leading dims), rows split
/// over threads.
#[derive(Debug, Clone, Copy)]
struct ColumnSum(usize);

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = f32_slice(s, l, "column-sum input")?;
        let n = self.0;
        let rows_per_chunk = (65_536 / n).max(1);
        let partial: Vec<Vec<f32>> = g
            .par_chunks(rows_per_chunk * n)
            .map(|c| {
                let mut acc = vec![0f32; n];
                for row in c.chunks_exact(n) {
                    for (a, x) in acc.iter_mut().zip(row) {
                        *a += x;
                    }
                }
                acc
            })
            .collect();
        let mut out = vec![0f32; n];
        for p in partial {
            for (o, x) in out.iter_mut().zip(p) {
                *o += x;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }
}

/// `x + b`, `b` broadcast over every row of the last dim. Differentiable; its bias gradient
/// sums the rows on all threads (candle's broadcast backward sums on one).
pub fn bias_add(x: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&b.contiguous()?, BiasAdd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};

    fn rand4(seed: u64) -> Vec<f32> {
        (0..2 * 2 * 3 * 5)
            .map(|i| uniform(seed, i) * 4.0 - 2.0)
            .collect()
    }

    #[test]
    fn matches_composed_softmax_and_its_gradient() {
        let dev = Device::Cpu;
        let x = Var::from_vec(rand4(1), (2, 2, 3, 5), &dev).unwrap();
        let mask = Tensor::new(&[[0f32, 0., 0., 0., -10000.], [0., 0., 0., 0., 0.]], &dev).unwrap();
        let w = Tensor::from_vec(rand4(2), (2, 2, 3, 5), &dev).unwrap();
        let fused = attention_softmax(x.as_tensor(), &mask, 0.0, 0).unwrap();
        let composed = candle_nn::ops::softmax(
            &x.as_tensor()
                .broadcast_add(&mask.reshape((2, 1, 1, 5)).unwrap())
                .unwrap(),
            D::Minus1,
        )
        .unwrap();
        let diff = (&fused - &composed)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "{diff}");
        let g1 = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (composed * &w)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let (g1, g2) = (
            g1.get(x.as_tensor()).unwrap(),
            g2.get(x.as_tensor()).unwrap(),
        );
        let diff = (g1 - g2)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "{diff}");
    }

    #[test]
    fn bias_add_matches_broadcast_add_and_its_gradients() {
        let dev = Device::Cpu;
        // Many rows, so the column sums run in several chunks.
        let x = Var::from_vec(
            (0..3 * 9000 * 5)
                .map(|i| ((i * 7919) % 113) as f32 / 50.0 - 1.0)
                .collect(),
            (3, 9000, 5),
            &dev,
        )
        .unwrap();
        let b = Var::from_vec(rand4(9)[..5].to_vec(), 5, &dev).unwrap();
        let r = x.as_tensor().sin().unwrap();
        let y1 = bias_add(x.as_tensor(), b.as_tensor()).unwrap();
        let y2 = x.as_tensor().broadcast_add(b.as_tensor()).unwrap();
        let max_diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert_eq!(max_diff(&y1, &y2), 0.0);
        let g1 = (y1 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (y2 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(
            max_diff(
                g1.get(x.as_tensor()).unwrap(),
                g2.get(x.as_tensor()).unwrap()
            ),
            0.0
        );
        let (db1, db2) = (
            g1.get(b.as_tensor()).unwrap(),
            g2.get(b.as_tensor()).unwrap(),
        );
        assert_eq!(db1.dims(), &[5]);
        // Sums of 27,000 terms in another order: equal up to f32 rounding.
        let scale = db2
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let d = max_diff(db1, db2);
        assert!(d <= 1e-5 * scale.max(1.0), "{d} (sums up to {scale})");
    }

    #[test]
    fn layer_norm_and_gelu_match_composed_ops_and_gradients() {
        let dev = Device::Cpu;
        let x = Var::from_vec(rand4(5), (6, 10), &dev).unwrap();
        let w = Var::from_vec(rand4(6)[..10].to_vec(), 10, &dev).unwrap();
        let b = Var::from_vec(rand4(7)[..10].to_vec(), 10, &dev).unwrap();
        let r = Tensor::from_vec(rand4(8), (6, 10), &dev).unwrap();
        let composed = |x: &Tensor| {
            let mean = x.mean_keepdim(D::Minus1).unwrap();
            let c = x.broadcast_sub(&mean).unwrap();
            let var = c.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
            c.broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
                .unwrap()
                .broadcast_mul(w.as_tensor())
                .unwrap()
                .broadcast_add(b.as_tensor())
                .unwrap()
        };
        let close = |a: &Tensor, b: &Tensor, tol: f32| {
            let d = (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(d < tol, "{d}");
        };
        let y1 = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5).unwrap();
        let y2 = composed(x.as_tensor());
        close(&y1, &y2, 1e-5);
        let g1 = (y1 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (y2 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &w, &b] {
            close(
                g1.get(v.as_tensor()).unwrap(),
                g2.get(v.as_tensor()).unwrap(),
                1e-4,
            );
        }
        let z1 = gelu_erf(x.as_tensor()).unwrap();
        let z2 = x.as_tensor().gelu_erf().unwrap();
        close(&z1, &z2, 1e-6);
        let g1 = (z1 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (z2 * &r).unwrap().sum_all().unwrap().backward().unwrap();
        close(
            g1.get(x.as_tensor()).unwrap(),
            g2.get(x.as_tensor()).unwrap(),
            1e-5,
        );
    }

    #[test]
    fn dropout_is_seeded_and_its_gradient_uses_the_same_mask() {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![1f32; 10_000], 10_000, &dev).unwrap();
        let a = dropout(x.as_tensor(), 0.25, 7).unwrap();
        let b = dropout(x.as_tensor(), 0.25, 7).unwrap();
        let c = dropout(x.as_tensor(), 0.25, 8).unwrap();
        let (av, bv, cv) = (
            a.to_vec1::<f32>().unwrap(),
            b.to_vec1::<f32>().unwrap(),
            c.to_vec1::<f32>().unwrap(),
        );
        assert_eq!(av, bv);
        assert_ne!(av, cv);
        let dropped = av.iter().filter(|&&v| v == 0.0).count();
        assert!((2200..2800).contains(&dropped), "{dropped}");
        assert!(av
            .iter()
            .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        let g = a.sum_all().unwrap().backward().unwrap();
        let gv = g.get(x.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(gv, av, "gradient mask differs from the forward mask");
        // Attention dropout: the gradient matches a finite difference of the same masked op.
        let s = Var::from_vec(rand4(3), (2, 2, 3, 5), &dev).unwrap();
        let mask = Tensor::zeros((2, 5), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::from_vec(rand4(4), (2, 2, 3, 5), &dev).unwrap();
        let f = |t: &Tensor| {
            (attention_softmax(t, &mask, 0.3, 11).unwrap() * &w)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let grads = f(s.as_tensor()).backward().unwrap();
        let g = grads
            .get(s.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let base = rand4(3);
        for i in [0usize, 7, 33, 59] {
            let eps = 1e-2f32;
            let mut plus = base.clone();
            let mut minus = base.clone();
            plus[i] += eps;
            minus[i] -= eps;
            let at = |v: Vec<f32>| {
                f(&Tensor::from_vec(v, (2, 2, 3, 5), &dev).unwrap())
                    .to_scalar::<f32>()
                    .unwrap()
            };
            let fd = (at(plus) - at(minus)) / (2.0 * eps);
            assert!((fd - g[i]).abs() < 2e-3, "element {i}: {fd} vs {}", g[i]);
        }
    }
}

/// LayerNorm over the last dim: forward in one pass; backward gives dx, dγ and dβ from one
/// kernel (its output holds dx, then dγ, then dβ, split with `narrow`).
#[derive(Debug, Clone, Copy)]
struct LayerNormOp {
    eps: f32,
}

fn ln_row_stats(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "layer norm input")?;
        let w = f32_slice(s2, l2, "layer norm weight")?;
        let b = f32_slice(s3, l3, "layer norm bias")?;
        let h = w.len();
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h)
            .zip(x.par_chunks(h))
            .for_each(|(o, x)| {
                let (mean, rstd) = ln_row_stats(x, self.eps);
                for j in 0..h {
                    o[j] = (x[j] - mean) * rstd * w[j] + b[j];
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let h = w.elem_count();
        let n = x.elem_count();
        let all = x.contiguous()?.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &LayerNormBwd { eps: self.eps },
        )?;
        let dx = all.narrow(0, 0, n)?.reshape(x.shape())?;
        let dw = all.narrow(0, n, h)?.reshape(w.shape())?;
        let db = all.narrow(0, n + h, h)?.reshape(w.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

#[derive(Debug, Clone, Copy)]
struct LayerNormBwd {
    eps: f32,
}

impl CustomOp3 for LayerNormBwd {
    fn name(&self) -> &'static str {
        "layer-norm-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "layer norm input")?;
        let w = f32_slice(s2, l2, "layer norm weight")?;
        let g = f32_slice(s3, l3, "layer norm gradient")?;
        let h = w.len();
        let n = x.len();
        let mut dx = vec![0f32; n];
        // Per-thread partial sums of dγ and dβ, over chunks of rows.
        let rows_per_chunk = 256;
        let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
            .par_chunks_mut(h * rows_per_chunk)
            .zip(
                x.par_chunks(h * rows_per_chunk)
                    .zip(g.par_chunks(h * rows_per_chunk)),
            )
            .map(|(dxc, (xc, gc))| {
                let mut dw = vec![0f32; h];
                let mut db = vec![0f32; h];
                for ((dxr, xr), gr) in dxc.chunks_mut(h).zip(xc.chunks(h)).zip(gc.chunks(h)) {
                    let (mean, rstd) = ln_row_stats(xr, self.eps);
                    let mut sum_dy = 0f32;
                    let mut sum_dy_xhat = 0f32;
                    for j in 0..h {
                        let xhat = (xr[j] - mean) * rstd;
                        let dy = gr[j] * w[j];
                        sum_dy += dy;
                        sum_dy_xhat += dy * xhat;
                        dw[j] += gr[j] * xhat;
                        db[j] += gr[j];
                    }
                    let (m1, m2) = (sum_dy / h as f32, sum_dy_xhat / h as f32);
                    for j in 0..h {
                        let xhat = (xr[j] - mean) * rstd;
                        dxr[j] = rstd * (gr[j] * w[j] - m1 - xhat * m2);
                    }
                }
                (dw, db)
            })
            .collect();
        let mut out = dx;
        let mut dw = vec![0f32; h];
        let mut db = vec![0f32; h];
        for (pw, pb) in partial {
            for j in 0..h {
                dw[j] += pw[j];
                db[j] += pb[j];
            }
        }
        out.extend(dw);
        out.extend(db);
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

/// LayerNorm over the last dim, `(x − mean) / sqrt(var + eps) · w + b`. Differentiable in
/// `x`, `w` and `b`.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(w, b, LayerNormOp { eps: eps as f32 })
}

/// Exact GELU, `x · Φ(x)`, with its backward in one pass each.
#[derive(Debug, Clone, Copy)]
struct GeluErf;

/// erf in f32: Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), about 5x faster than the f64
/// routine candle uses, and well inside the 1e-4 candle/ONNX parity we test.
#[inline]
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_4 * t - 1.453_152_1) * t) + 1.421_413_7) * t - 0.284_496_72) * t
            + 0.254_829_6)
            * t
            * (-x * x).exp();
    y.copysign(x)
}

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "gelu")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(4096)
            .zip(x.par_chunks(4096))
            .for_each(|(o, x)| {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
                }
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            arg.contiguous()?
                .apply_op2_no_bwd(&grad.contiguous()?, &GeluErfBwd)?,
        ))
    }
}

#[derive(Debug, Clone, Copy)]
struct GeluErfBwd;

impl CustomOp2 for GeluErfBwd {
    fn name(&self) -> &'static str {
        "gelu-erf-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "gelu input")?;
        let g = f32_slice(s2, l2, "gelu gradient")?;
        let mut out = vec![0f32; x.len()];
        let c = 1.0 / (2.0 * std::f32::consts::PI).sqrt();
        out.par_chunks_mut(4096)
            .zip(x.par_chunks(4096).zip(g.par_chunks(4096)))
            .for_each(|(o, (x, g))| {
                for ((o, &x), &g) in o.iter_mut().zip(x).zip(g) {
                    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
                    let pdf = c * (-0.5 * x * x).exp();
                    *o = g * (cdf + x * pdf);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Exact (erf) GELU. Differentiable.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluErf)
}
