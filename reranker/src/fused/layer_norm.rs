//! LayerNorm over the last dim, dx, dγ and dβ from one backward kernel.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::fused::math::{dot3_lanes, dot_lanes, simd_kernel, sum_lanes};
use crate::fused::{f32_slice, par_fill};

/// LayerNorm over the last dim: forward in one pass; backward gives dx, dγ and dβ from one
/// kernel (its output holds dx, then dγ, then dβ, split with `narrow`).
#[derive(Debug, Clone, Copy)]
struct LayerNormOp {
    eps: f32,
}

/// `out` = `x − mean(x)`; returns 1 / sqrt(var + eps).
#[inline(always)]
fn center(x: &[f32], out: &mut [f32], eps: f32) -> f32 {
    let n = x.len() as f32;
    let mean = sum_lanes(x) / n;
    for (o, v) in out.iter_mut().zip(x) {
        *o = v - mean;
    }
    let var = dot_lanes(out, out) / n;
    1.0 / (var + eps).sqrt()
}

simd_kernel! {
    /// One row of LayerNorm into `out`.
    fn ln_row(x: &[f32], w: &[f32], b: &[f32], out: &mut [f32], eps: f32) {
        let rstd = center(x, out, eps);
        for ((o, w), b) in out.iter_mut().zip(w).zip(b) {
            *o = *o * rstd * w + b;
        }
    }
}

simd_kernel! {
    /// One row of LayerNorm's backward: `dx` for the row, its terms of dγ and dβ added to
    /// `dw` and `db`.
    fn ln_row_bwd(x: &[f32], g: &[f32], w: &[f32], dx: &mut [f32], dw: &mut [f32], db: &mut [f32], eps: f32) {
        let h = x.len() as f32;
        // dx holds x̂ until the last loop.
        let rstd = center(x, dx, eps);
        for xh in dx.iter_mut() {
            *xh *= rstd;
        }
        for (((dw, db), xh), g) in dw.iter_mut().zip(db.iter_mut()).zip(dx.iter()).zip(g) {
            *dw += g * xh;
            *db += g;
        }
        let m1 = dot_lanes(g, w) / h;
        let m2 = dot3_lanes(g, w, dx) / h;
        for ((d, g), w) in dx.iter_mut().zip(g).zip(w) {
            *d = rstd * (g * w - m1 - *d * m2);
        }
    }
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
        let out = par_fill(x.len(), h, |r, o| {
            ln_row(&x[r * h..][..h], w, b, o, self.eps)
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
        // Room for dγ and dβ after dx, so that appending them does not copy dx.
        let mut dx = Vec::with_capacity(n + 2 * h);
        dx.resize(n, 0f32);
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
                    ln_row_bwd(xr, gr, w, dxr, &mut dw, &mut db, self.eps);
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::{max_diff, rand4};
    use candle_core::{Device, Var, D};

    #[test]
    fn layer_norm_matches_composed_ops_and_gradients() {
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
            let d = max_diff(a, b);
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
    }
}
