//! Seeded inverted dropout.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use crate::fused::math::{simd_kernel, Mask};
use crate::fused::{f32_slice, par_fill};

/// Seeded inverted dropout: keeps an element with probability `1 − p`, scaled by `1/(1 − p)`.
#[derive(Debug, Clone, Copy)]
struct Dropout {
    p: f32,
    seed: u64,
}

simd_kernel! {
    /// `out[j]` = `x[j]`, scaled, where `keep` keeps element `base + j`, else 0.
    fn drop_chunk(x: &[f32], out: &mut [f32], keep: &Mask, base: u64) {
        let scale = keep.scale();
        for (j, (o, x)) in out.iter_mut().zip(x).enumerate() {
            *o = if keep.keep(base + j as u64) { x * scale } else { 0.0 };
        }
    }
}

impl CustomOp1 for Dropout {
    fn name(&self) -> &'static str {
        "seeded-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "dropout")?;
        let keep = Mask::new(self.seed, self.p);
        let out = par_fill(x.len(), 4096, |c, o| {
            drop_chunk(&x[c * 4096..][..o.len()], o, &keep, (c * 4096) as u64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::attention_softmax;
    use crate::fused::rand4;
    use candle_core::{Device, Var};

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
