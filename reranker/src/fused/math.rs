//! What the kernels are built from: an `exp` and a dropout mask the compiler can vectorize,
//! and a macro that compiles a kernel twice (baseline x86-64 and AVX2 + FMA) and picks one at
//! run time.
//!
//! `f32::exp` is a call into libm per element, which stops the compiler from vectorizing the
//! loop around it; the splitmix64 hash the dropout masks were drawn from multiplies 64-bit
//! integers, which AVX2 cannot do in a vector. Both made the attention softmax's backward pass
//! (exp and the mask for every one of `batch × heads × seq²` elements) the largest single cost
//! of a training step after gemm (docs/RESULTS.md §4).

/// `e^x` in f32 (Cephes' `expf`: range reduction by ln 2, a degree-6 polynomial; relative
/// error under 3e-7 on its range), 0 below -87.3 and at most `e^88`. No branch and no call,
/// so loops over it vectorize.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, so that n · ln 2 is subtracted without rounding error.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding and subtracting it rounds to the nearest integer (no `round` call).
    const ROUND: f32 = 12_582_912.0;
    let under = x < -87.3;
    let x = x.clamp(-87.3, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    // n as an integer, read from t's mantissa (`n as i32` is a saturating conversion that
    // the compiler does one lane at a time).
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 0.166_666_65)
        * r
        + 0.5;
    let e = 1.0 + r + r * r * p;
    let scaled = f32::from_bits((ni.wrapping_add(127) << 23) as u32) * e;
    if under {
        0.0
    } else {
        scaled
    }
}

/// Lanes of the reductions below: floating-point sums are only vectorized when written as
/// this many independent accumulators (the compiler may not reorder an `f32` sum itself).
const LANES: usize = 8;

/// The largest value of `x` (−∞ when empty), NaN not propagated.
#[inline(always)]
pub(crate) fn max_lanes(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a = if v > *a { v } else { *a };
    }
    acc.iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// `Σ a[i] · b[i]` over the shorter of the two.
#[inline(always)]
pub(crate) fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(ta).zip(tb) {
        *s += x * y;
    }
    acc.iter().sum()
}

/// `Σ a[i] · b[i] · c[i]` over the shortest of the three.
#[inline(always)]
pub(crate) fn dot3_lanes(a: &[f32], b: &[f32], c: &[f32]) -> f32 {
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb, cc) = (
        a.chunks_exact(LANES),
        b.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    let (ta, tb, tc) = (ca.remainder(), cb.remainder(), cc.remainder());
    for ((x, y), z) in ca.zip(cb).zip(cc) {
        for (((s, &x), &y), &z) in acc.iter_mut().zip(x).zip(y).zip(z) {
            *s += x * y * z;
        }
    }
    for (((s, &x), &y), &z) in acc.iter_mut().zip(ta).zip(tb).zip(tc) {
        *s += x * y * z;
    }
    acc.iter().sum()
}

/// `Σ x[i]`.
#[inline(always)]
pub(crate) fn sum_lanes(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s += v;
        }
    }
    for (s, &v) in acc.iter_mut().zip(tail) {
        *s += v;
    }
    acc.iter().sum()
}

/// A 32-bit integer hash (the "lowbias32" finalizer of Wellons' hash prospector): a
/// bijection whose output bits each depend on every input bit.
#[inline(always)]
fn mix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x7feb_352d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846c_a68b);
    h ^ (h >> 16)
}

/// A dropout mask drawn from a seed: element `i` is kept when a hash of (seed, `i`) is at
/// or above `p`'s share of the 24-bit range, so the same seed gives the same mask forward and
/// backward without storing it. Indices are taken modulo 2^32.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mask {
    k0: u32,
    k1: u32,
    threshold: u32,
    scale: f32,
    drops: bool,
}

impl Mask {
    /// The mask that drops elements with probability `p` under `seed`.
    pub(crate) fn new(seed: u64, p: f32) -> Self {
        let s = seed ^ (seed >> 29);
        Mask {
            k0: mix32(s as u32 ^ 0x9e37_79b9),
            k1: mix32((s >> 32) as u32 ^ 0x85eb_ca6b),
            threshold: (p.clamp(0.0, 1.0) * (1u32 << 24) as f32).round() as u32,
            scale: if p > 0.0 { 1.0 / (1.0 - p) } else { 1.0 },
            drops: p > 0.0,
        }
    }

    /// Whether it drops anything (`p > 0`).
    #[inline(always)]
    pub(crate) fn drops(&self) -> bool {
        self.drops
    }

    /// What kept elements are multiplied by: `1 / (1 − p)` (inverted dropout).
    #[inline(always)]
    pub(crate) fn scale(&self) -> f32 {
        self.scale
    }

    /// Whether element `index` is kept.
    #[inline(always)]
    pub(crate) fn keep(&self, index: u64) -> bool {
        (mix32(mix32(index as u32 ^ self.k0).wrapping_add(self.k1)) >> 8) >= self.threshold
    }
}

/// Defines `fn NAME(args)` that runs its body compiled for AVX2 and FMA where the CPU has
/// them (checked at run time) and for baseline x86-64 elsewhere. The two give the same
/// results: Rust does not contract `a * b + c` into an FMA.
macro_rules! simd_kernel {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use simd_kernel;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_library_exp() {
        let mut worst = 0f32;
        for i in -8_729..=8_799 {
            let x = i as f32 * 0.01 + 0.003;
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp(-10_000.0), 0.0);
        assert_eq!(exp(-88.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(100.0).is_finite());
    }

    #[test]
    fn lane_reductions_match_plain_ones() {
        for n in [0usize, 1, 7, 8, 9, 256, 261] {
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let y: Vec<f32> = (0..n).map(|i| ((i * 11 % 13) as f32) / 3.0).collect();
            let max = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(max_lanes(&x), max);
            let sum: f32 = x.iter().sum();
            assert!((sum_lanes(&x) - sum).abs() < 1e-3, "{n}");
            let dot: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
            assert!((dot_lanes(&x, &y) - dot).abs() < 1e-3, "{n}");
            let dot3: f32 = x.iter().zip(&y).map(|(a, b)| a * b * b).sum();
            assert!((dot3_lanes(&x, &y, &y) - dot3).abs() < 1e-2, "{n}");
        }
    }

    #[test]
    fn masks_keep_their_share_and_differ_by_seed() {
        let n = 200_000u64;
        for p in [0.1f32, 0.5] {
            let m = Mask::new(42, p);
            let kept = (0..n).filter(|&i| m.keep(i)).count() as f64 / n as f64;
            assert!(
                (kept - (1.0 - p as f64)).abs() < 0.005,
                "p {p}: kept {kept}"
            );
        }
        let (a, b) = (Mask::new(1, 0.5), Mask::new(2, 0.5));
        let same = (0..n).filter(|&i| a.keep(i) == b.keep(i)).count() as f64 / n as f64;
        assert!((same - 0.5).abs() < 0.01, "seeds 1 and 2 agree on {same}");
        // Neighbouring elements are not correlated.
        let pairs = (0..n).filter(|&i| a.keep(i) == a.keep(i + 1)).count() as f64 / n as f64;
        assert!((pairs - 0.5).abs() < 0.01, "{pairs}");
        assert!((0..n).all(|i| Mask::new(3, 0.0).keep(i)));
    }
}
