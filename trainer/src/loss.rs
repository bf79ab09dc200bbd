//! Distillation losses over groups of candidates of one query each.
//!
//! Shapes: student logits `s` and teacher logits `t` are `[groups, n]` (raw logits, not
//! probabilities); `positive` is a `[groups, n]` 0/1 mask of the labeled positives. Every
//! loss returns a scalar: the mean over groups of the per-group loss. With temperature τ,
//! `p = softmax(t/τ)` (the teacher's distribution, a constant) and `q = softmax(s/τ)`.
//!
//! - [`kl`]: Σᵢ pᵢ log(pᵢ/qᵢ).
//! - [`ckl`]: the contrastively weighted KL of Yang et al., "Weighted KL-Divergence for
//!   Document Ranking Model Refinement" (SIGIR 2024), in our reading (we could not obtain the
//!   full text): positives weighted (1−qⱼ)^γ, negatives qᵢ^(γ−βᵢ), with βᵢ = +β where the
//!   teacher ranks negative i below every positive but the student ranks it above some
//!   positive, −β where the teacher ranks it above some positive, else 0. With γ = β = 0 it
//!   is exactly [`kl`].
//! - [`margin_mse`]: mean over (positive, negative) pairs of ((s₊ − s₋) − (t₊ − t₋))².
//! - [`listwise_ce`]: −mean over positives of log softmax(s)₊ (labels only, no teacher).

use candle_core::{Result, Tensor, D};
use candle_nn::ops::log_softmax;

/// CKL's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CklParams {
    /// Focusing exponent γ.
    pub gamma: f64,
    /// Rank bias β.
    pub beta: f64,
    /// Temperature τ.
    pub tau: f64,
    /// Let gradients flow through the weights too (default: the weights are constants).
    pub attach_weights: bool,
}

impl Default for CklParams {
    fn default() -> Self {
        CklParams {
            gamma: 1.0,
            beta: 0.5,
            tau: 1.0,
            attach_weights: false,
        }
    }
}

/// KL(p ‖ q) per group, averaged: see the module docs.
pub fn kl(s: &Tensor, t: &Tensor, tau: f64) -> Result<Tensor> {
    let terms = kl_terms(s, t, tau)?;
    terms.sum(D::Minus1)?.mean_all()
}

/// `pᵢ (log pᵢ − log qᵢ)`, `[groups, n]`.
fn kl_terms(s: &Tensor, t: &Tensor, tau: f64) -> Result<Tensor> {
    let log_p = log_softmax(&(t / tau)?.detach(), D::Minus1)?;
    let p = log_p.exp()?;
    let log_q = log_softmax(&(s / tau)?, D::Minus1)?;
    p * (log_p - log_q)?
}

/// The CKL weights, `[groups, n]`: (1−qⱼ)^γ on positives, qᵢ^(γ−βᵢ) on negatives.
pub fn ckl_weights(
    s: &Tensor,
    t: &Tensor,
    positive: &Tensor,
    params: &CklParams,
) -> Result<Tensor> {
    let pos = positive.to_dtype(s.dtype())?;
    let neg = (1.0 - &pos)?;
    let log_q = log_softmax(&(s / params.tau)?, D::Minus1)?;
    let q = log_q.exp()?;
    // The lowest positive score per group, by teacher and by student (a large number where a
    // group has no positive, so that no negative gets a bias there).
    let big = 1e30;
    let min_pos = |x: &Tensor| -> Result<Tensor> {
        let masked = (x.detach() * &pos)?.add(&((&neg * big)?))?;
        masked.min_keepdim(D::Minus1)
    };
    let t_min = min_pos(t)?;
    let s_min = min_pos(s)?;
    let teacher_above = t.detach().broadcast_gt(&t_min)?.to_dtype(s.dtype())?;
    let teacher_below = t.detach().broadcast_lt(&t_min)?.to_dtype(s.dtype())?;
    let student_above = s.detach().broadcast_gt(&s_min)?.to_dtype(s.dtype())?;
    // βᵢ on negatives: +β (teacher right, student wrong), −β (teacher wrong), else 0.
    let plus = (&teacher_below * &student_above)?;
    let bias = ((plus - &teacher_above)? * params.beta)?;
    let neg_w = ((bias.neg()? + params.gamma)? * &log_q)?.exp()?; // q^(γ−β)
    let pos_w = (1.0 - &q)?.powf(params.gamma)?;
    let w = ((pos_w * &pos)? + (neg_w * &neg)?)?;
    if params.attach_weights {
        Ok(w)
    } else {
        Ok(w.detach())
    }
}

/// Contrastively weighted KL: see the module docs.
pub fn ckl(s: &Tensor, t: &Tensor, positive: &Tensor, params: &CklParams) -> Result<Tensor> {
    let w = ckl_weights(s, t, positive, params)?;
    let terms = (kl_terms(s, t, params.tau)? * w)?;
    terms.sum(D::Minus1)?.mean_all()
}

/// MarginMSE: per group, the mean over (positive, negative) pairs of
/// ((s₊ − s₋) − (t₊ − t₋))², then the mean over groups (groups without a positive or a
/// negative contribute 0).
pub fn margin_mse(s: &Tensor, t: &Tensor, positive: &Tensor) -> Result<Tensor> {
    let (g, n) = s.dims2()?;
    let pos = positive.to_dtype(s.dtype())?;
    let neg = (1.0 - &pos)?;
    let diff = |x: &Tensor| -> Result<Tensor> {
        x.reshape((g, n, 1))?.broadcast_sub(&x.reshape((g, 1, n))?)
    };
    let d = (diff(s)? - diff(&t.detach())?)?;
    let mask = pos
        .reshape((g, n, 1))?
        .broadcast_mul(&neg.reshape((g, 1, n))?)?;
    let per_group = (d.sqr()? * &mask)?.sum((1, 2))?;
    let pairs = mask.sum((1, 2))?.clamp(1.0, f64::INFINITY)?;
    (per_group / pairs)?.mean_all()
}

/// Listwise softmax cross-entropy on the labels alone: −mean over a group's positives of
/// log softmax(s), then the mean over groups.
pub fn listwise_ce(s: &Tensor, positive: &Tensor) -> Result<Tensor> {
    let pos = positive.to_dtype(s.dtype())?;
    let log_q = log_softmax(s, D::Minus1)?;
    let count = pos.sum_keepdim(D::Minus1)?.clamp(1.0, f64::INFINITY)?;
    let per_group = (log_q * &pos)?
        .sum_keepdim(D::Minus1)?
        .broadcast_div(&count)?;
    per_group.neg()?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn t2(rows: &[&[f64]]) -> Tensor {
        let n = rows[0].len();
        let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_vec(flat, (rows.len(), n), &Device::Cpu).unwrap()
    }

    fn scalar(x: &Tensor) -> f64 {
        x.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    fn softmax_vec(x: &[f64], tau: f64) -> Vec<f64> {
        let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = x.iter().map(|v| ((v - m) / tau).exp()).collect();
        let z: f64 = e.iter().sum();
        e.iter().map(|v| v / z).collect()
    }

    /// KL by hand: p = softmax([2, 0, -1]), q = softmax([1, 1, 0]).
    #[test]
    fn kl_by_hand() {
        let p = softmax_vec(&[2.0, 0.0, -1.0], 1.0);
        let q = softmax_vec(&[1.0, 1.0, 0.0], 1.0);
        let want: f64 = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
        let got = scalar(&kl(&t2(&[&[1.0, 1.0, 0.0]]), &t2(&[&[2.0, 0.0, -1.0]]), 1.0).unwrap());
        assert!((got - want).abs() < 1e-12, "{got} {want}");
        // τ = 2 divides the logits.
        let p = softmax_vec(&[2.0, 0.0, -1.0], 2.0);
        let q = softmax_vec(&[1.0, 1.0, 0.0], 2.0);
        let want: f64 = p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum();
        let got = scalar(&kl(&t2(&[&[1.0, 1.0, 0.0]]), &t2(&[&[2.0, 0.0, -1.0]]), 2.0).unwrap());
        assert!((got - want).abs() < 1e-12);
        // Identical distributions: 0.
        let same = scalar(&kl(&t2(&[&[1.0, 2.0]]), &t2(&[&[1.0, 2.0]]), 1.0).unwrap());
        assert!(same.abs() < 1e-15);
    }

    /// CKL by hand on one group: doc 0 positive; doc 1 a negative the teacher puts below the
    /// positive but the student above it (β = +β); doc 2 a negative the teacher puts above the
    /// positive (β = −β); doc 3 a plain negative (both below).
    #[test]
    fn ckl_by_hand_and_its_bias_cases() {
        let s = [0.5, 1.5, 0.0, -1.0];
        let t = [2.0, 1.0, 3.0, -2.0];
        let pos = t2(&[&[1.0, 0.0, 0.0, 0.0]]);
        let (gamma, beta) = (1.0, 0.5);
        let p = softmax_vec(&t, 1.0);
        let q = softmax_vec(&s, 1.0);
        let w = [
            (1.0 - q[0]).powf(gamma),
            q[1].powf(gamma - beta),
            q[2].powf(gamma + beta),
            q[3].powf(gamma),
        ];
        let want: f64 = (0..4).map(|i| w[i] * p[i] * (p[i] / q[i]).ln()).sum();
        let params = CklParams {
            gamma,
            beta,
            tau: 1.0,
            attach_weights: false,
        };
        let got = scalar(&ckl(&t2(&[&s]), &t2(&[&t]), &pos, &params).unwrap());
        assert!((got - want).abs() < 1e-12, "{got} {want}");
        let weights = ckl_weights(&t2(&[&s]), &t2(&[&t]), &pos, &params)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        for i in 0..4 {
            assert!((weights[0][i] - w[i]).abs() < 1e-12, "weight {i}");
        }
    }

    #[test]
    fn ckl_with_zero_gamma_and_beta_is_kl() {
        let s = t2(&[&[0.3, -1.2, 2.0, 0.1], &[1.0, 0.0, -3.0, 0.5]]);
        let t = t2(&[&[1.3, 0.2, -2.0, 0.4], &[-1.0, 2.0, 0.5, 0.0]]);
        let pos = t2(&[&[1.0, 0.0, 0.0, 0.0], &[0.0, 1.0, 1.0, 0.0]]);
        for tau in [0.5, 1.0, 3.0] {
            let params = CklParams {
                gamma: 0.0,
                beta: 0.0,
                tau,
                attach_weights: true,
            };
            let a = scalar(&ckl(&s, &t, &pos, &params).unwrap());
            let b = scalar(&kl(&s, &t, tau).unwrap());
            assert!((a - b).abs() < 1e-15, "tau {tau}: {a} {b}");
        }
    }

    #[test]
    fn weights_vanish_where_the_paper_says() {
        let params = CklParams::default();
        let pos = t2(&[&[1.0, 0.0, 0.0]]);
        // A positive the student already rates q → 1: weight → 0. Its negatives q → 0: → 0.
        let w = ckl_weights(
            &t2(&[&[30.0, 0.0, 0.0]]),
            &t2(&[&[5.0, 0.0, 0.0]]),
            &pos,
            &params,
        )
        .unwrap()
        .to_vec2::<f64>()
        .unwrap();
        assert!(w[0][0] < 1e-10, "{w:?}");
        assert!(w[0][1] < 1e-10 && w[0][2] < 1e-10, "{w:?}");
        // +β raises a wrongly ranked negative's weight above the unbiased q^γ; −β lowers it.
        let s = t2(&[&[0.0, 1.0, 0.5]]);
        let t = t2(&[&[1.0, 0.0, 2.0]]);
        let w = ckl_weights(&s, &t, &pos, &params)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let q = softmax_vec(&[0.0, 1.0, 0.5], 1.0);
        assert!(w[0][1] > q[1] && (w[0][1] - q[1].powf(0.5)).abs() < 1e-12);
        assert!(w[0][2] < q[2] && (w[0][2] - q[2].powf(1.5)).abs() < 1e-12);
    }

    #[test]
    fn margin_mse_and_ce_by_hand() {
        // Group: positives 0 and 1, negatives 2 and 3.
        let s = [1.0, 0.0, 0.5, -1.0];
        let t = [2.0, 1.0, 0.0, 0.0];
        let pos = t2(&[&[1.0, 1.0, 0.0, 0.0]]);
        let mut sum = 0.0;
        for j in 0..2 {
            for i in 2..4 {
                let d: f64 = (s[j] - s[i]) - (t[j] - t[i]);
                sum += d * d;
            }
        }
        let got = scalar(&margin_mse(&t2(&[&s]), &t2(&[&t]), &pos).unwrap());
        assert!((got - sum / 4.0).abs() < 1e-12);
        let q = softmax_vec(&s, 1.0);
        let want = -(q[0].ln() + q[1].ln()) / 2.0;
        let got = scalar(&listwise_ce(&t2(&[&s]), &pos).unwrap());
        assert!((got - want).abs() < 1e-12);
    }

    /// Every loss's gradient against central finite differences (f64).
    #[test]
    fn gradients_match_finite_differences() {
        let s0 = [[0.3, -1.2, 2.0, 0.1, 0.7], [1.0, 0.0, -3.0, 0.5, 0.2]];
        let t = t2(&[&[1.3, 0.2, -2.0, 0.4, 2.5], &[-1.0, 2.0, 0.5, 0.0, 1.0]]);
        let pos = t2(&[&[1.0, 0.0, 0.0, 0.0, 0.0], &[0.0, 1.0, 1.0, 0.0, 0.0]]);
        let attached = CklParams {
            gamma: 1.0,
            beta: 0.5,
            tau: 1.5,
            attach_weights: true,
        };
        let detached = CklParams {
            attach_weights: false,
            ..attached
        };
        type LossFn<'a> = Box<dyn Fn(&Tensor) -> Tensor + 'a>;
        let w_fixed = ckl_weights(&t2(&[&s0[0], &s0[1]]), &t, &pos, &detached).unwrap();
        let cases: Vec<(&str, LossFn)> = vec![
            ("kl", Box::new(|s| kl(s, &t, 1.5).unwrap())),
            (
                "ckl attached",
                Box::new(|s| ckl(s, &t, &pos, &attached).unwrap()),
            ),
            // Detached weights are constants: compare with the loss at fixed weights.
            (
                "ckl detached",
                Box::new(|s| ckl(s, &t, &pos, &detached).unwrap()),
            ),
            ("margin_mse", Box::new(|s| margin_mse(s, &t, &pos).unwrap())),
            ("ce", Box::new(|s| listwise_ce(s, &pos).unwrap())),
        ];
        let fixed_w_loss = |s: &Tensor| {
            (kl_terms(s, &t, 1.5).unwrap() * &w_fixed)
                .unwrap()
                .sum(D::Minus1)
                .unwrap()
                .mean_all()
                .unwrap()
        };
        for (name, f) in &cases {
            let var = Var::from_tensor(&t2(&[&s0[0], &s0[1]])).unwrap();
            let loss = f(var.as_tensor());
            let grads = loss.backward().unwrap();
            let g = grads
                .get(var.as_tensor())
                .unwrap()
                .to_vec2::<f64>()
                .unwrap();
            let eps = 1e-6;
            for r in 0..2 {
                for c in 0..5 {
                    let mut plus = s0;
                    let mut minus = s0;
                    plus[r][c] += eps;
                    minus[r][c] -= eps;
                    let eval = |x: [[f64; 5]; 2]| {
                        let x = t2(&[&x[0], &x[1]]);
                        if *name == "ckl detached" {
                            scalar(&fixed_w_loss(&x))
                        } else {
                            scalar(&f(&x))
                        }
                    };
                    let fd = (eval(plus) - eval(minus)) / (2.0 * eps);
                    assert!(
                        (fd - g[r][c]).abs() < 1e-6,
                        "{name} [{r},{c}]: autograd {} finite differences {fd}",
                        g[r][c]
                    );
                }
            }
        }
    }
}
