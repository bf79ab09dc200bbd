//! A bias added to the rows of the last dim, its gradient summed on all threads.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::fused::{f32_slice, par_fill};

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
        let len = (16_384 / n).max(1) * n;
        let out = par_fill(x.len(), len, |i, o| {
            let x = &x[i * len..][..o.len()];
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
    use crate::fused::{max_diff, rand4};
    use candle_core::{Device, Var};

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
}
