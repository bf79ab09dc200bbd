//! Means, spreads and paired t over seeds.

/// Whether a paired t over `n` differences is significant at p < 0.05, two-sided (Student's
/// t critical values for 1..=30 degrees of freedom; 1.96 beyond).
pub fn significant(t: f64, n: usize) -> bool {
    const T95: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if n < 2 || !t.is_finite() {
        return false;
    }
    t.abs() > T95.get(n - 2).copied().unwrap_or(1.96)
}

/// `mean ± std` of `n` values, or the mean alone for one value (no spread to show).
pub(crate) fn pm(mean: f64, std: f64, n: usize) -> String {
    if n < 2 {
        format!("{mean:.4}")
    } else {
        format!("{mean:.4} ± {std:.4}")
    }
}

/// The paired t statistic of `n` differences with this mean and sample standard deviation
/// (NaN below two differences or without spread).
pub fn paired_t(mean: f64, std: f64, n: usize) -> f64 {
    if n < 2 || std <= 0.0 {
        return f64::NAN;
    }
    mean / (std / (n as f64).sqrt())
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[0.7]), (0.7, 0.0));
    }

    #[test]
    fn paired_t_by_hand() {
        // Differences 1, 2, 3: mean 2, std 1, t = 2 / (1 / √3).
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((paired_t(m, s, 3) - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        assert!(paired_t(0.5, 0.0, 4).is_nan());
        assert!(paired_t(0.5, 0.1, 1).is_nan());
        // Critical values: df 4 (n = 5) is 2.776.
        assert!(significant(2.8, 5) && !significant(2.7, 5) && significant(-2.8, 5));
        assert!(!significant(10.0, 2) && significant(13.0, 2));
        assert!(!significant(f64::NAN, 5) && !significant(100.0, 1));
        assert!(significant(2.0, 100) && !significant(1.9, 100));
    }
}
