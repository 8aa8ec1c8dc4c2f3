//! Numbers with units, read the way iproute2's tc reads them and written back exactly.
//!
//! Each reader mirrors one iproute2 helper: [`time`] is `get_time64` (lib/utils.c), [`percent`]
//! is `parse_percent` (tc/tc_util.c), [`size`] is `get_size` and [`rate`] is `get_rate64`
//! (lib/utils_math.c), [`c_u32`] and [`c_i32`] are `get_u32`/`get_s32` with base 0 (C literals:
//! `0x1f`, `017`). Where tc would hit undefined behaviour (huge values, `nan`) the readers refuse.
//! The writers pick the largest unit that keeps the value an integer, so reading what they write
//! gives back the same value bit for bit.

use core::fmt;

/// Longest time accepted, in nanoseconds: 2^53 (about 104 days). Up to here every integer is
/// exact in an `f64`, which is how tc reads numbers, so written times read back unchanged.
pub(crate) const MAX_TIME_NS: u64 = 1 << 53;

/// Fastest rate accepted, in bytes per second (2^50, 9 Pbit/s), for the same reason: its bit
/// count stays exact in an `f64`.
pub(crate) const MAX_RATE_BYTES: u64 = 1 << 50;

/// The number `strtod` would read at the start of `word` (decimal only: no `inf`, `nan` or hex
/// floats), and the rest of the word. `None` when there are no digits or it overflows.
fn split_number(word: &str) -> Option<(f64, &str)> {
    let b = word.as_bytes();
    let digits_from = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_end = digits_from(i);
    let mut digits = int_end - i;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = digits_from(i + 1);
        digits += frac_end - (i + 1);
        i = frac_end;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let j = i + 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let end = digits_from(j);
        if end > j {
            i = end;
        }
    }
    let value: f64 = word[..i].parse().ok()?;
    value.is_finite().then_some((value, &word[i..]))
}

/// `get_time64`: a non-negative number with `s`/`sec`/`secs`, `ms`/`msec`/`msecs`,
/// `us`/`usec`/`usecs` or `ns`/`nsec`/`nsecs` (any case); a bare number is nanoseconds (unlike
/// the old 32-bit `get_time`, whose bare numbers were microseconds). Fractions of a nanosecond
/// are truncated, as tc's conversion to an integer does.
pub(crate) fn time(word: &str) -> Option<u64> {
    let (value, unit) = split_number(word)?;
    if value < 0.0 {
        return None;
    }
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "ns" | "nsec" | "nsecs" => 1.0,
        "us" | "usec" | "usecs" => 1e3,
        "ms" | "msec" | "msecs" => 1e6,
        "s" | "sec" | "secs" => 1e9,
        _ => return None,
    };
    let ns = value * scale;
    (ns <= MAX_TIME_NS as f64).then_some(ns as u64)
}

/// Why a percentage did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PercentError {
    /// Not a number, or followed by something other than `%`.
    Malformed,
    /// Below 0% or above 100%.
    Range,
}

/// `parse_percent`: a number of percentage points, with or without a trailing `%` (`0.5` and
/// `0.5%` both mean one in two hundred; a bare number is not a fraction). Returns the points.
pub(crate) fn percent(word: &str) -> Result<f64, PercentError> {
    let (value, rest) = split_number(word).ok_or(PercentError::Malformed)?;
    // tc checks the range before the suffix, so `200x` is "out of range", not "malformed".
    let fraction = value / 100.0;
    if !(0.0..=1.0).contains(&fraction) {
        return Err(PercentError::Range);
    }
    if !rest.is_empty() && rest != "%" {
        return Err(PercentError::Malformed);
    }
    // `-0` is in range; store it as +0 so that it prints as a number tc sees as one.
    Ok(value + 0.0)
}

/// `get_size`: a byte count with an optional `b`, `k`/`kb`, `m`/`mb`, `g`/`gb`, `kbit`, `mbit`,
/// `gbit` (binary multiples, any case). The result must be a whole number that fits 32 bits.
pub(crate) fn size(word: &str) -> Option<u32> {
    let (value, unit) = split_number(word)?;
    if value < 0.0 {
        return None;
    }
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        "kbit" => 128.0,
        "mbit" => 131_072.0,
        "gbit" => 134_217_728.0,
        _ => return None,
    };
    let bytes = value * scale;
    (bytes.fract() == 0.0 && bytes <= f64::from(u32::MAX)).then_some(bytes as u32)
}

/// iproute2's rate suffixes and their multipliers in bits per second (matched ignoring case, in
/// this order, so `kbps` is `KBps`: kilobytes).
const RATE_SUFFIXES: [(&str, f64); 18] = [
    ("bit", 1.0),
    ("Kibit", 1024.0),
    ("kbit", 1e3),
    ("mibit", 1_048_576.0),
    ("mbit", 1e6),
    ("gibit", 1_073_741_824.0),
    ("gbit", 1e9),
    ("tibit", 1_099_511_627_776.0),
    ("tbit", 1e12),
    ("Bps", 8.0),
    ("KiBps", 8.0 * 1024.0),
    ("KBps", 8e3),
    ("MiBps", 8.0 * 1_048_576.0),
    ("MBps", 8e6),
    ("GiBps", 8.0 * 1_073_741_824.0),
    ("GBps", 8e9),
    ("TiBps", 8.0 * 1_099_511_627_776.0),
    ("TBps", 8e12),
];

/// `get_rate64`: a rate in bits per second (bare number or `bit`, `kbit`, `mbit`, `gbit`,
/// `tbit`, their `Kibit`-style binary forms, or bytes per second as `Bps`, `KBps`, `MBps`, ...).
/// Returns bytes per second, truncated as tc truncates (so `1001bit` is 125 bytes/s).
pub(crate) fn rate(word: &str) -> Option<u64> {
    let (value, unit) = split_number(word)?;
    if value < 0.0 {
        return None;
    }
    let scale = if unit.is_empty() {
        1.0
    } else {
        RATE_SUFFIXES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))?
            .1
    };
    let bytes = value * scale / 8.0;
    (bytes <= MAX_RATE_BYTES as f64).then_some(bytes as u64)
}

/// An unsigned C literal as `strtoul(.., 0)` reads it: decimal, `0x` hex or leading-zero octal,
/// with an optional `+`; the whole word must be used.
fn c_unsigned(word: &str) -> Option<u64> {
    let w = word.strip_prefix('+').unwrap_or(word);
    let (digits, radix) = if let Some(hex) = w.strip_prefix("0x").or(w.strip_prefix("0X")) {
        (hex, 16)
    } else if w.len() > 1 && w.starts_with('0') {
        (&w[1..], 8)
    } else {
        (w, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// `get_u32(.., 0)`.
pub(crate) fn c_u32(word: &str) -> Option<u32> {
    c_unsigned(word).and_then(|v| u32::try_from(v).ok())
}

/// `get_s32(.., 0)`: a C literal with an optional sign.
pub(crate) fn c_i32(word: &str) -> Option<i32> {
    let (negative, magnitude) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    if magnitude.starts_with(['+', '-']) && negative {
        return None;
    }
    let m = i64::try_from(c_unsigned(magnitude)?).ok()?;
    i32::try_from(if negative { -m } else { m }).ok()
}

/// A time written with the largest unit that keeps it whole: `10ms`, `2500us`, `7ns`.
pub(crate) struct TimeText(pub(crate) u64);

impl fmt::Display for TimeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        match ns {
            0 => write!(f, "0ms"),
            _ if ns.is_multiple_of(1_000_000_000) => write!(f, "{}s", ns / 1_000_000_000),
            _ if ns.is_multiple_of(1_000_000) => write!(f, "{}ms", ns / 1_000_000),
            _ if ns.is_multiple_of(1_000) => write!(f, "{}us", ns / 1_000),
            _ => write!(f, "{ns}ns"),
        }
    }
}

/// A rate given in bytes per second, written in bits with the largest decimal unit that keeps it
/// whole: `1gbit`, `1500kbit`, `8bit`.
pub(crate) struct RateText(pub(crate) u64);

impl fmt::Display for RateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = u128::from(self.0) * 8;
        for (unit, scale) in [("tbit", 1e12 as u128), ("gbit", 1e9 as u128)]
            .into_iter()
            .chain([("mbit", 1_000_000), ("kbit", 1_000)])
        {
            if bits != 0 && bits % scale == 0 {
                return write!(f, "{}{unit}", bits / scale);
            }
        }
        write!(f, "{bits}bit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_get_time64() {
        assert_eq!(time("10ms"), Some(10_000_000));
        assert_eq!(time("2.5ms"), Some(2_500_000));
        assert_eq!(time("100us"), Some(100_000));
        assert_eq!(time("1s"), Some(1_000_000_000));
        assert_eq!(time("1.5SEC"), Some(1_500_000_000));
        assert_eq!(time("3msecs"), Some(3_000_000));
        assert_eq!(time("7usec"), Some(7_000));
        assert_eq!(time("40nsec"), Some(40));
        // A bare number is nanoseconds in get_time64.
        assert_eq!(time("250"), Some(250));
        assert_eq!(time(".5ms"), Some(500_000));
        assert_eq!(time("1e3us"), Some(1_000_000));
        assert_eq!(time("1.9ns"), Some(1));
        for bad in [
            "", "ms", "-1ms", "10 ms", "10min", "10m", "1e99s", "nan", "0x10",
        ] {
            assert_eq!(time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn percents_read_as_parse_percent() {
        assert_eq!(percent("1%"), Ok(1.0));
        assert_eq!(percent("0.5%"), Ok(0.5));
        // A bare number is percentage points too, not a fraction.
        assert_eq!(percent("0.5"), Ok(0.5));
        assert_eq!(percent("100%"), Ok(100.0));
        assert_eq!(percent("-0%"), Ok(0.0));
        assert!(percent("-0%").is_ok_and(|p| p.is_sign_positive()));
        assert_eq!(percent("100.1%"), Err(PercentError::Range));
        assert_eq!(percent("-1%"), Err(PercentError::Range));
        assert_eq!(percent("200x"), Err(PercentError::Range));
        assert_eq!(percent("5%%"), Err(PercentError::Malformed));
        assert_eq!(percent("five"), Err(PercentError::Malformed));
        assert_eq!(percent("%"), Err(PercentError::Malformed));
    }

    #[test]
    fn sizes_read_as_get_size() {
        assert_eq!(size("1000"), Some(1000));
        assert_eq!(size("1k"), Some(1024));
        assert_eq!(size("1.5KB"), Some(1536));
        assert_eq!(size("2m"), Some(2 << 20));
        assert_eq!(size("1kbit"), Some(128));
        assert_eq!(size("1mbit"), Some(131_072));
        assert_eq!(size("10b"), Some(10));
        for (unit, bytes) in [
            ("b", 1),
            ("k", 1024),
            ("kb", 1024),
            ("m", 1 << 20),
            ("mb", 1 << 20),
            ("g", 1 << 30),
            ("gb", 1 << 30),
            ("kbit", 128),
            ("mbit", 131_072),
            ("gbit", 134_217_728),
        ] {
            assert_eq!(size(&format!("2{unit}")), Some(2 * bytes), "{unit}");
            let upper = unit.to_ascii_uppercase();
            assert_eq!(size(&format!("2{upper}")), Some(2 * bytes), "{upper}");
        }
        for bad in ["1.5", "-1", "4g", "1x", "k"] {
            assert_eq!(size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rates_read_as_get_rate64() {
        assert_eq!(rate("1mbit"), Some(125_000));
        assert_eq!(rate("10Gbit"), Some(1_250_000_000));
        assert_eq!(rate("100kbps"), Some(100_000));
        assert_eq!(rate("1000bit"), Some(125));
        assert_eq!(rate("1000"), Some(125));
        assert_eq!(rate("1001bit"), Some(125));
        assert_eq!(rate("1kibit"), Some(128));
        assert_eq!(rate("1MiBps"), Some(1 << 20));
        assert_eq!(rate("2.5mbit"), Some(312_500));
        assert_eq!(rate("1tbit"), Some(125_000_000_000));
        for (unit, bits) in RATE_SUFFIXES {
            // 64 units of each, so that every multiplier gives whole bytes.
            assert_eq!(
                rate(&format!("64{unit}")),
                Some((64.0 * bits / 8.0) as u64),
                "{unit}"
            );
            let lower = unit.to_ascii_lowercase();
            assert_eq!(
                rate(&format!("64{lower}")),
                rate(&format!("64{unit}")),
                "{lower}"
            );
        }
        assert_eq!(rate("64GiBps"), Some(64 << 30));
        assert_eq!(rate("7bit"), Some(0));
        for bad in ["", "mbit", "-1mbit", "1mb", "1e30bit", "1 mbit"] {
            assert_eq!(rate(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn c_literals_read_as_strtoul_base_zero() {
        assert_eq!(c_u32("5"), Some(5));
        assert_eq!(c_u32("0"), Some(0));
        assert_eq!(c_u32("0x10"), Some(16));
        assert_eq!(c_u32("010"), Some(8));
        assert_eq!(c_u32("+7"), Some(7));
        assert_eq!(c_u32("4294967295"), Some(u32::MAX));
        for bad in ["", "08", "0x", "0x+1", "4294967296", "-1", "5k"] {
            assert_eq!(c_u32(bad), None, "{bad:?}");
        }
        assert_eq!(c_i32("-14"), Some(-14));
        assert_eq!(c_i32("-0x10"), Some(-16));
        assert_eq!(c_i32("2147483647"), Some(i32::MAX));
        assert_eq!(c_i32("-2147483648"), Some(i32::MIN));
        assert_eq!(c_i32("2147483648"), None);
        assert_eq!(c_i32("--1"), None);
        assert_eq!(c_i32("-+1"), None);
    }

    #[test]
    fn written_values_read_back_exactly() {
        for ns in [
            0,
            1,
            999,
            1_000,
            2_500_000,
            10_000_000,
            3_000_000_000,
            MAX_TIME_NS,
        ] {
            assert_eq!(time(&TimeText(ns).to_string()), Some(ns), "{ns}");
        }
        assert_eq!(TimeText(2_500_000).to_string(), "2500us");
        assert_eq!(TimeText(10_000_000).to_string(), "10ms");
        for bytes in [
            0,
            1,
            125,
            125_000,
            1_250_000_000,
            123_456_789,
            MAX_RATE_BYTES,
        ] {
            assert_eq!(rate(&RateText(bytes).to_string()), Some(bytes), "{bytes}");
        }
        assert_eq!(RateText(125_000).to_string(), "1mbit");
        assert_eq!(RateText(1_250_000_000).to_string(), "10gbit");
        assert_eq!(RateText(100_000).to_string(), "800kbit");
        assert_eq!(RateText(0).to_string(), "0bit");
    }
}
