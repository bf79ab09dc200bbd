//! LayerNorm over the last dim, dx, dγ and dβ from one backward kernel.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::fused::f32_slice;

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
