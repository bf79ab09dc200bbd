//! AdamW (its moments are saved with a checkpoint, so a resumed run continues exactly; candle_nn
//! keeps its own private), global-norm clipping, and the linear warmup and decay schedule.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::error::Result;
use crate::train::TrainConfig;

/// AdamW's first and second moments, by parameter name.
#[derive(Default)]
pub(crate) struct AdamW {
    m: HashMap<String, Tensor>,
    v: HashMap<String, Tensor>,
}

const B1: f64 = 0.9;
const B2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// Biases and LayerNorms take no weight decay.
fn no_decay(name: &str) -> bool {
    name.contains("bias") || name.contains("LayerNorm")
}

/// The learning rate at `step` of `total`: linear warmup over `warmup` of the steps, then
/// linear decay to 0.
pub(crate) fn lr_at(cfg: &TrainConfig, step: usize, total: usize) -> f64 {
    let warm = ((cfg.warmup * total as f64).ceil() as usize).max(1);
    if step < warm {
        cfg.lr * (step + 1) as f64 / warm as f64
    } else {
        cfg.lr * (total - step) as f64 / (total - warm).max(1) as f64
    }
}

impl AdamW {
    /// Clips the gradients of `vars` to the global norm `cfg.clip` and applies step `step`
    /// (0-based) at learning rate `lr`.
    pub(crate) fn step(
        &mut self,
        vars: &[(String, Var)],
        grads: &GradStore,
        cfg: &TrainConfig,
        step: usize,
        lr: f64,
    ) -> Result<()> {
        let mut sq = 0f64;
        for (_, var) in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        let norm = sq.sqrt();
        let scale = if norm > cfg.clip {
            cfg.clip / norm
        } else {
            1.0
        };
        let t1 = (step + 1) as i32;
        let (c1, c2) = (1.0 - B1.powi(t1), 1.0 - B2.powi(t1));
        for (name, var) in vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = (g * scale)?;
            let m = match self.m.get(name) {
                Some(m) => ((m * B1)? + (&g * (1.0 - B1))?)?,
                None => (&g * (1.0 - B1))?,
            };
            let v = match self.v.get(name) {
                Some(v) => ((v * B2)? + (g.sqr()? * (1.0 - B2))?)?,
                None => (g.sqr()? * (1.0 - B2))?,
            };
            let update = ((&m / c1)? / ((&v / c2)?.sqrt()? + EPS)?)?;
            let theta = var.as_tensor();
            let decay = if no_decay(name) {
                0.0
            } else {
                cfg.weight_decay
            };
            let new = (theta - ((update + (theta * decay)?)? * lr)?)?;
            var.set(&new)?;
            self.m.insert(name.clone(), m);
            self.v.insert(name.clone(), v);
        }
        Ok(())
    }

    /// The moments as named tensors (`m.<name>`, `v.<name>`), for a checkpoint.
    pub(crate) fn to_tensors(&self) -> HashMap<String, Tensor> {
        let mut out = HashMap::new();
        for (name, m) in &self.m {
            out.insert(format!("m.{name}"), m.clone());
        }
        for (name, v) in &self.v {
            out.insert(format!("v.{name}"), v.clone());
        }
        out
    }

    /// The moments of `name` from a checkpoint's tensors, if it has them.
    pub(crate) fn restore(&mut self, name: &str, saved: &HashMap<String, Tensor>) {
        if let (Some(m), Some(v)) = (
            saved.get(&format!("m.{name}")),
            saved.get(&format!("v.{name}")),
        ) {
            self.m.insert(name.to_owned(), m.clone());
            self.v.insert(name.to_owned(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let cfg = TrainConfig {
            lr: 1.0,
            warmup: 0.1,
            ..Default::default()
        };
        assert!((lr_at(&cfg, 0, 100) - 0.1).abs() < 1e-12);
        assert!((lr_at(&cfg, 9, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(&cfg, 10, 100) - 1.0).abs() < 1e-12);
        assert!((lr_at(&cfg, 99, 100) - 1.0 / 90.0).abs() < 1e-12);
    }
}
