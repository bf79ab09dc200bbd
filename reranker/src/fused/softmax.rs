//! The attention softmax: mask add, softmax and dropout in one pass each way.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use crate::fused::math::{dot_lanes, exp, max_lanes, simd_kernel, sum_lanes, Mask};
use crate::fused::{f32_slice, par_fill};

/// Softmax over the last dim of `scores + mask` with dropout; see [`attention_softmax`].
#[derive(Debug, Clone, Copy)]
struct AttnSoftmax {
    p: f32,
    seed: u64,
}

simd_kernel! {
    /// `out` = softmax of `src + mask`, then `keep`'s dropout (element `j` of the row is
    /// element `base + j` of the mask) when `dropout`.
    fn softmax_row(src: &[f32], mask: &[f32], out: &mut [f32], dropout: bool, keep: &Mask, base: u64) {
        for (o, (s, m)) in out.iter_mut().zip(src.iter().zip(mask)) {
            *o = s + m;
        }
        let max = max_lanes(out);
        for o in out.iter_mut() {
            *o = exp(*o - max);
        }
        let inv = 1.0 / sum_lanes(out);
        if dropout && keep.drops() {
            let scaled = inv * keep.scale();
            for (j, o) in out.iter_mut().enumerate() {
                *o = if keep.keep(base + j as u64) { *o * scaled } else { 0.0 };
            }
        } else {
            for o in out.iter_mut() {
                *o *= inv;
            }
        }
    }
}

simd_kernel! {
    /// The gradient of [`softmax_row`] with respect to `src`, into `out`: `y (gy − Σ gy·y)`
    /// with `y` the softmax (recomputed) and `gy` the gradient through the dropout mask
    /// (regenerated into `scratch`, of the row's length, when the mask drops anything).
    fn softmax_row_bwd(
        src: &[f32],
        mask: &[f32],
        grad: &[f32],
        out: &mut [f32],
        scratch: &mut [f32],
        keep: &Mask,
        base: u64,
    ) {
        softmax_row(src, mask, out, false, keep, base);
        let gy: &[f32] = if keep.drops() {
            let scale = keep.scale();
            for (j, (d, g)) in scratch.iter_mut().zip(grad).enumerate() {
                *d = if keep.keep(base + j as u64) { g * scale } else { 0.0 };
            }
            scratch
        } else {
            grad
        };
        let dot = dot_lanes(gy, out);
        for (y, d) in out.iter_mut().zip(gy) {
            *y *= d - dot;
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
        let keep = Mask::new(self.seed, self.p);
        let out = par_fill(scores.len(), k, |row, o| {
            let bi = row / (h * q);
            let mask = &mask[bi * k..(bi + 1) * k];
            softmax_row(
                &scores[row * k..][..k],
                mask,
                o,
                true,
                &keep,
                (row * k) as u64,
            );
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
        let keep = Mask::new(seed, p);
        // Chunks of 16 rows, each with its own scratch row.
        let rows = 16;
        let out = par_fill(scores.len(), rows * k, |c, o| {
            let mut gy = vec![0f32; k];
            for (i, o) in o.chunks_exact_mut(k).enumerate() {
                let row = c * rows + i;
                let bi = row / (h * q);
                let mask = &mask[bi * k..(bi + 1) * k];
                let (s, g) = (&scores[row * k..][..k], &grad[row * k..][..k]);
                softmax_row_bwd(s, mask, g, o, &mut gy, &keep, (row * k) as u64);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::{max_diff, rand4};
    use candle_core::{Device, Var, D};

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
        let diff = max_diff(&fused, &composed);
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
        let diff = max_diff(g1, g2);
        assert!(diff < 1e-6, "{diff}");
    }
}
