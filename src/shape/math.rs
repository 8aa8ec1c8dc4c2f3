//! The few floating-point functions a frame's fate depends on, built from IEEE 754 basic
//! operations only (+, -, *, /, sqrt, exact scaling by powers of two).
//!
//! Why: those operations are correctly rounded on every machine, while `ln`, `exp` and `cbrt`
//! come from the platform's libm and may differ in the last bit between platforms. A last-bit
//! difference can flip a rounding to the nanosecond or a drop decision, and a replay on another
//! machine would then diverge. Accuracy: a few units in the last place, checked against std in
//! the tests below.

use core::f64::consts::{LN_2, SQRT_2};

const MANTISSA: u64 = (1 << 52) - 1;
const ONE_BITS: u64 = 1023 << 52;

/// 2^k for k in the normal exponent range, exactly.
fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023).clamp(1, 2046) as u64) << 52)
}

/// Splits a positive normal `x` into (m, e) with x = m * 2^e and m in [1, 2).
fn split(x: f64) -> (f64, i64) {
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    (f64::from_bits((bits & MANTISSA) | ONE_BITS), e)
}

/// The natural logarithm of `x` > 0 (`-inf` at 0, NaN below). Subnormals are scaled up first.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (x, shift) = if x < f64::MIN_POSITIVE {
        (x * pow2(54), -54)
    } else {
        (x, 0)
    };
    let (mut m, mut e) = split(x);
    if m > SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172: the odd series converges fast
    // (the term after s^41 is below 1e-32).
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut sum = 0.0;
    let mut k = 41.0;
    while k > 1.0 {
        sum = (sum + 1.0 / k) * s2;
        k -= 2.0;
    }
    2.0 * s * (1.0 + sum) + (e + shift) as f64 * LN_2
}

/// The cube root of `y` >= 0.
pub(crate) fn cbrt(y: f64) -> f64 {
    if y == 0.0 || y.is_nan() || y.is_infinite() {
        return y;
    }
    let (y, shift) = if y < f64::MIN_POSITIVE {
        (y * pow2(54), -18)
    } else {
        (y, 0)
    };
    let (m, e) = split(y);
    // y = (m * 2^r) * 2^(3q), with m * 2^r in [1, 8): its root is in [1, 2).
    let (q, r) = (e.div_euclid(3), e.rem_euclid(3));
    let z = m * pow2(r);
    // Newton's iteration from 1.4 (within 43% of any root in [1, 2)) converges quadratically:
    // seven steps reach the last bit.
    let mut c = 1.4;
    for _ in 0..7 {
        c = (2.0 * c + z / (c * c)) / 3.0;
    }
    c * pow2(q + shift)
}

/// `base` to the power `exp` by repeated squaring.
pub(crate) fn powu(base: f64, mut exp: u64) -> f64 {
    let (mut result, mut square) = (1.0, base);
    while exp > 0 {
        if exp & 1 == 1 {
            result *= square;
        }
        square *= square;
        exp >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn ln_matches_std() {
        let mut x = 1e-300;
        while x < 1e300 {
            assert!(close(ln(x), x.ln(), 4e-16), "{x}: {} vs {}", ln(x), x.ln());
            x *= 1.37;
        }
        for x in [
            1.0,
            2.0,
            0.5,
            SQRT_2,
            1.0 - 1e-12,
            1e-310,
            5e-324,
            2.3283064365386963e-10,
        ] {
            let tolerance = if x == 1.0 { 0.0 } else { 4e-16 };
            assert!(
                close(ln(x), x.ln(), tolerance),
                "{x}: {} vs {}",
                ln(x),
                x.ln()
            );
        }
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn cbrt_matches_std() {
        let mut y = 1e-300;
        while y < 1e300 {
            assert!(
                close(cbrt(y), y.cbrt(), 3e-16),
                "{y}: {} vs {}",
                cbrt(y),
                y.cbrt()
            );
            y *= 1.29;
        }
        for y in [1.0, 8.0, 27.0, 0.001, 2.3283064365386963e-10, 1e-310] {
            assert!(close(cbrt(y), y.cbrt(), 3e-16), "{y}");
        }
        assert_eq!(cbrt(0.0), 0.0);
    }

    #[test]
    fn powu_matches_std() {
        for (b, e) in [
            (0.9999, 800u64),
            (0.5, 10),
            (1.0 - 1e-6, 12_000),
            (0.0, 3),
            (3.0, 0),
        ] {
            assert!(close(powu(b, e), b.powf(e as f64), 1e-13), "{b}^{e}");
        }
    }
}
