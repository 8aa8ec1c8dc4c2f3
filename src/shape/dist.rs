//! Delay distributions: netem's `tabledist` with iproute2's tables replaced by their formulas.
//!
//! netem draws `mu + sigma * table[rnd % 4096] / 8192`, the table being an inverse CDF that
//! iproute2's generators (netem/normal.c, pareto.c, paretonormal.c) write out. Here the inverse
//! CDF is computed instead, on the same 4096 slots: the low 12 bits of netem's 32-bit random
//! value choose the slot exactly as `rnd % size` does, and the high 20 bits place the draw inside
//! it, so the samples are continuous rather than 4096 steps. The formulas, with the tables'
//! clamping to a 16-bit range (-4 to 32767/8192 jitters), are:
//! - normal: the standard normal quantile (Acklam's rational approximation, relative error
//!   1.15e-9);
//! - pareto: `(4/3) * ((1 - u)^(-1/3) - 1.5)`, a Pareto of shape 3 and scale 1 shifted by its
//!   mean 1.5 and multiplied by 4/3 (pareto.c's own normalisation: its spread is 1.15, not 1);
//! - paretonormal: `(normal(u) + 3 * pareto(u)) / 4`, slot by slot: the two quantiles are
//!   averaged, not the two distributions mixed (paretonormal.c's comment says "mix"; its code
//!   averages quantiles).
//!
//! Uniform keeps netem's table-less integer formula, `mu - sigma + rnd % (2 * sigma)`. Draws use
//! only IEEE basic operations (see `math`), so a seed gives the same delays on every machine;
//! the CDFs, used by tests and benchmarks only, may use the platform's libm.
//! Read `tabledist` in Linux's net/sched/sch_netem.c and iproute2's netem/ directory.

use core::time::Duration;

use super::math;
use super::spec::{Delay, Distribution};

/// Entries in iproute2's tables (16384 / 4).
const SLOTS: u32 = 4096;
/// The tables are 16-bit: values are clamped to [-32768, 32767] / 8192 jitters.
const STD_MIN: f64 = -32768.0 / 8192.0;
const STD_MAX: f64 = 32767.0 / 8192.0;

/// A uniform value in (0, 1) from netem's 32-bit random value, keeping the kernel's slot.
#[inline]
fn unit(rnd: u32) -> f64 {
    let slot = f64::from(rnd % SLOTS);
    let within = (f64::from(rnd / SLOTS) + 0.5) / f64::from(u32::MAX / SLOTS + 1);
    (slot + within) / f64::from(SLOTS)
}

/// The standard normal quantile, after P. J. Acklam's algorithm (relative error below 1.15e-9),
/// with the portable logarithm so that draws are the same on every machine.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else if p < LOW {
        tail((-2.0 * math::ln(p)).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * math::ln(1.0 - p)).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The standard normal CDF, after Abramowitz and Stegun 7.1.26 (absolute error below 1e-7).
/// Independent of [`normal_quantile`], so that tests of one against the other mean something.
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / core::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = ((((1.061_405_429 * t - 1.453_152_027) * t + 1.421_413_741) * t - 0.284_496_736)
        * t
        + 0.254_829_592)
        * t;
    let half_tail = 0.5 * poly * (-z * z).exp();
    if x >= 0.0 { 1.0 - half_tail } else { half_tail }
}

fn pareto_quantile(u: f64) -> f64 {
    ((4.0 / 3.0) * (math::cbrt(1.0 - u).recip() - 1.5)).min(STD_MAX)
}

impl Distribution {
    /// The value, in jitters from the base delay, at probability `u` in (0, 1): the inverse CDF
    /// that iproute2's table for this distribution tabulates. Uniform gives `2u - 1`.
    pub fn quantile(self, u: f64) -> f64 {
        match self {
            Distribution::Uniform => 2.0 * u - 1.0,
            Distribution::Normal => normal_quantile(u).clamp(STD_MIN, STD_MAX),
            Distribution::Pareto => pareto_quantile(u),
            Distribution::ParetoNormal => {
                let normal = normal_quantile(u).clamp(STD_MIN, STD_MAX);
                (normal + 3.0 * pareto_quantile(u)) / 4.0
            }
        }
    }

    /// P(X <= x) for a draw X in jitters from the base delay: the CDF [`Distribution::quantile`]
    /// inverts, including the point masses the clamping puts at its ends.
    pub fn cdf(self, x: f64) -> f64 {
        match self {
            Distribution::Uniform => ((x + 1.0) / 2.0).clamp(0.0, 1.0),
            Distribution::Normal if x < STD_MIN => 0.0,
            Distribution::Normal if x >= STD_MAX => 1.0,
            Distribution::Normal => normal_cdf(x),
            Distribution::Pareto if x < -2.0 / 3.0 => 0.0,
            Distribution::Pareto if x >= STD_MAX => 1.0,
            Distribution::Pareto => 1.0 - (1.5 + 0.75 * x).powi(-3),
            Distribution::ParetoNormal => {
                // No closed form: invert the (non-decreasing) quantile by bisection.
                if x < self.quantile(0.0) {
                    return 0.0;
                }
                if x >= self.quantile(1.0) {
                    return 1.0;
                }
                let (mut lo, mut hi) = (0.0, 1.0);
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    if self.quantile(mid) <= x {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                lo
            }
        }
    }
}

/// netem's `tabledist(mu, sigma, ...)` for one random value `rnd`, in nanoseconds (may be
/// negative: the caller clamps). `sigma` must be in 1..=i32::MAX, as netem caps it.
#[inline]
pub(crate) fn tabledist(mu: i64, sigma: i64, dist: Distribution, rnd: u32) -> i64 {
    match dist {
        Distribution::Uniform => {
            let span = 2 * sigma as u64;
            (u64::from(rnd) % span) as i64 + mu - sigma
        }
        d => mu.saturating_add((sigma as f64 * d.quantile(unit(rnd))).round() as i64),
    }
}

impl Delay {
    /// The base delay in nanoseconds, as netem's signed 64-bit latency.
    pub(crate) fn mu_ns(&self) -> i64 {
        i64::try_from(self.latency.as_nanos()).unwrap_or(i64::MAX)
    }

    /// The jitter in nanoseconds, capped at 2^31 - 1 as netem caps it for `tabledist`.
    pub(crate) fn sigma_ns(&self) -> i64 {
        i64::try_from(self.jitter.as_nanos())
            .unwrap_or(i64::MAX)
            .min(i64::from(i32::MAX))
    }

    /// P(delay <= x) for one frame, drawn without correlation, negative draws counted as 0 (the
    /// frame leaves at once). Exact for uniform (netem's modulo bias included); for the others
    /// the CDF of the continuous draw, rounded to the nanosecond as the sampler rounds.
    pub fn cdf(&self, x: Duration) -> f64 {
        let x = i64::try_from(x.as_nanos()).unwrap_or(i64::MAX);
        let (mu, sigma) = (self.mu_ns(), self.sigma_ns());
        if sigma == 0 {
            return if x >= mu { 1.0 } else { 0.0 };
        }
        match self.distribution {
            Distribution::Uniform => {
                // delay = mu - sigma + rnd % span: count the 32-bit values with rnd % span <= k.
                let span = 2 * sigma as u64;
                let k = i128::from(x) - i128::from(mu) + i128::from(sigma);
                if k < 0 {
                    return 0.0;
                }
                let Ok(k) = u64::try_from(k) else {
                    return 1.0;
                };
                if k >= span - 1 {
                    return 1.0;
                }
                let (per, extra) = ((1u64 << 32) / span, (1u64 << 32) % span);
                let below = per * (k + 1) + extra.min(k + 1);
                below as f64 / (1u64 << 32) as f64
            }
            d => d.cdf((x as f64 - mu as f64 + 0.5) / sigma as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_and_cdf_agree_with_known_values() {
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-15);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-8);
        assert!((normal_cdf(1.0) - 0.841_344_746_068_543).abs() < 1e-7);
        assert!((normal_cdf(-2.0) - 0.022_750_131_948_179).abs() < 1e-7);
        for i in 1..1000 {
            let p = f64::from(i) / 1000.0;
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 2e-7, "{p}");
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
    }

    #[test]
    fn cdf_inverts_quantile() {
        for d in Distribution::ALL {
            for i in 1..200 {
                let u = f64::from(i) / 200.0;
                let x = d.quantile(u);
                if x < STD_MAX {
                    assert!((d.cdf(x) - u).abs() < 1e-6, "{d:?} at {u}: {}", d.cdf(x));
                }
            }
            assert_eq!(d.cdf(-10.0), 0.0);
            assert_eq!(d.cdf(10.0), 1.0);
        }
    }

    #[test]
    fn quantiles_have_the_tables_shape() {
        // iproute2's tables: pareto starts at -2/3 and is clamped at 32767/8192 for its top 1.1%;
        // paretonormal's smallest entry is about -1.5.
        assert!((Distribution::Pareto.quantile(0.0) + 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Distribution::Pareto.quantile(0.995), STD_MAX);
        assert!((Distribution::Pareto.cdf(STD_MAX - 1e-9) - (1.0 - 4.5f64.powi(-3))).abs() < 1e-6);
        assert!((Distribution::ParetoNormal.quantile(0.0) + 1.5).abs() < 1e-12);
        assert_eq!(Distribution::Normal.quantile(1e-9), STD_MIN);
    }

    #[test]
    fn unit_keeps_the_kernels_slot() {
        for rnd in [0u32, 1, 4095, 4096, 123_456_789, u32::MAX] {
            let u = unit(rnd);
            assert!(u > 0.0 && u < 1.0);
            assert_eq!((u * 4096.0) as u32, rnd % 4096, "{rnd}");
        }
    }

    #[test]
    fn uniform_tabledist_is_netems_formula() {
        assert_eq!(tabledist(1000, 100, Distribution::Uniform, 0), 900);
        assert_eq!(tabledist(1000, 100, Distribution::Uniform, 199), 1099);
        assert_eq!(tabledist(1000, 100, Distribution::Uniform, 200), 900);
        assert_eq!(
            tabledist(0, i64::from(i32::MAX), Distribution::Uniform, u32::MAX),
            1 - i64::from(i32::MAX)
        );
    }

    #[test]
    fn uniform_delay_cdf_counts_residues() {
        let delay = Delay {
            latency: Duration::from_nanos(1000),
            jitter: Duration::from_nanos(100),
            ..Delay::default()
        };
        assert_eq!(delay.cdf(Duration::from_nanos(899)), 0.0);
        // 2^32 = 21474836 * 200 + 96: residues 0..96 occur once more than the others.
        let one = (21_474_836.0 + 1.0) / 4_294_967_296.0;
        assert!((delay.cdf(Duration::from_nanos(900)) - one).abs() < 1e-15);
        assert_eq!(delay.cdf(Duration::from_nanos(1099)), 1.0);
        let half = delay.cdf(Duration::from_nanos(999));
        assert!((half - 0.5).abs() < 1e-6);
        let constant = Delay {
            jitter: Duration::ZERO,
            ..delay
        };
        assert_eq!(constant.cdf(Duration::from_nanos(999)), 0.0);
        assert_eq!(constant.cdf(Duration::from_nanos(1000)), 1.0);
    }
}
