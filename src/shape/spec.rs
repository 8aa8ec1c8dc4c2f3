//! A netem specification as data: what `tc qdisc add dev X root netem ...` accepts, parsed.
//!
//! Values are kept as tc reads them (times in nanoseconds, percentages in the points written,
//! rates in bytes per second as the kernel holds them), so that `Display` writes canonical tc
//! syntax and parsing it gives back an equal value. Defaults for omitted arguments are resolved
//! at parse time, exactly as iproute2's tc/q_netem.c resolves them. See docs/netem.md.

use core::fmt;
use core::num::NonZeroU64;
use core::time::Duration;

use super::units::{RateText, TimeText};

/// A probability as tc takes it: percentage points (`0.5` is one in two hundred), kept as
/// written so it prints back unchanged. Always within 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Percent(f64);

impl Percent {
    /// 0%.
    pub const ZERO: Percent = Percent(0.0);
    /// 100%.
    pub const HUNDRED: Percent = Percent(100.0);

    /// `points` percent; `None` unless 0 <= points <= 100 (the check tc makes).
    pub fn new(points: f64) -> Option<Percent> {
        (0.0..=1.0)
            .contains(&(points / 100.0))
            .then_some(Percent(points + 0.0))
    }

    /// The percentage points.
    pub fn points(self) -> f64 {
        self.0
    }

    /// The probability scaled to `u32::MAX` = 100%, rounded to nearest even: the 32-bit value tc
    /// hands the kernel (`rint(p * UINT32_MAX)`) and netem compares random numbers against.
    pub fn scaled(self) -> u32 {
        (self.0 / 100.0 * f64::from(u32::MAX)).round_ties_even() as u32
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rust prints the shortest decimal that reads back to the same f64, never an exponent.
        write!(f, "{}%", self.0)
    }
}

/// A probability with netem's correlation to the previous draw (`PERCENT [CORRELATION]`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Chance {
    /// How often the event fires.
    pub percent: Percent,
    /// netem's correlation with the previous random value (0 = independent).
    pub correlation: Percent,
}

impl fmt::Display for Chance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.percent)?;
        if self.correlation != Percent::ZERO {
            write!(f, " {}", self.correlation)?;
        }
        Ok(())
    }
}

/// The shape of the jitter around the base delay (`distribution NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Distribution {
    /// netem's table-less default: uniform on [delay - jitter, delay + jitter).
    #[default]
    Uniform,
    /// iproute2's normal.dist: a standard normal, clamped to [-4, 4) jitters.
    Normal,
    /// iproute2's pareto.dist: a Pareto of shape 3 centred and scaled by 4/3, clamped at 4.
    Pareto,
    /// iproute2's paretonormal.dist: (normal + 3 pareto) / 4 taken quantile by quantile.
    ParetoNormal,
}

impl Distribution {
    /// Every distribution, in the order tc's usage lists them.
    pub const ALL: [Distribution; 4] = [
        Distribution::Uniform,
        Distribution::Normal,
        Distribution::Pareto,
        Distribution::ParetoNormal,
    ];

    /// The name tc takes after `distribution`.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Uniform => "uniform",
            Distribution::Normal => "normal",
            Distribution::Pareto => "pareto",
            Distribution::ParetoNormal => "paretonormal",
        }
    }
}

/// `delay TIME [JITTER [CORRELATION]]` with its `distribution`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Delay {
    /// The base one-way delay (netem's latency).
    pub latency: Duration,
    /// The spread around it (netem's jitter, sigma); netem caps it at 2^31 - 1 ns.
    pub jitter: Duration,
    /// Correlation of successive random values.
    pub correlation: Percent,
    /// The shape of the spread.
    pub distribution: Distribution,
}

/// Which frames are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossModel {
    /// `loss [random] PERCENT [CORRELATION]`: each frame independently (up to correlation).
    Random(Chance),
    /// `loss state P13 [P31 [P32 [P23 [P14]]]]`: netem's 4-state Markov chain (1 = received in a
    /// gap, 2 = received in a burst, 3 = lost in a burst, 4 = isolated loss). Omitted arguments
    /// default as iproute2: P31 = 100% - P13, P32 = 0%, P23 = 100%, P14 = 0%.
    State {
        /// Gap to burst (the frame is lost).
        p13: Percent,
        /// Burst back to gap (the frame is received).
        p31: Percent,
        /// Burst loss to burst reception.
        p32: Percent,
        /// Burst reception to burst loss.
        p23: Percent,
        /// Isolated loss within a gap.
        p14: Percent,
    },
    /// `loss gemodel P [R [1-H [1-K]]]`: Gilbert-Elliott. Omitted arguments default as iproute2:
    /// R = 100% - P, 1-H = 100%, 1-K = 0%.
    GilbertElliott {
        /// Good to bad.
        p: Percent,
        /// Bad to good.
        r: Percent,
        /// Loss probability in the bad state.
        one_minus_h: Percent,
        /// Loss probability in the good state.
        one_minus_k: Percent,
    },
}

impl fmt::Display for LossModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossModel::Random(chance) => write!(f, "loss random {chance}"),
            LossModel::State {
                p13,
                p31,
                p32,
                p23,
                p14,
            } => write!(f, "loss state {p13} {p31} {p32} {p23} {p14}"),
            LossModel::GilbertElliott {
                p,
                r,
                one_minus_h,
                one_minus_k,
            } => write!(f, "loss gemodel {p} {r} {one_minus_h} {one_minus_k}"),
        }
    }
}

/// `reorder PERCENT [CORRELATION] [gap DISTANCE]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reorder {
    /// Chance that a frame eligible for reordering is sent at once.
    pub chance: Chance,
    /// netem's gap: frames delayed between two reorderings; tc makes it 1 when a reorder
    /// probability is given without one. 0 turns reordering off.
    pub gap: u32,
}

/// `rate RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate {
    /// Bytes per second (tc divides the bit rate by 8 and truncates). 0 means no rate limit, as
    /// in netem.
    pub bytes_per_sec: u64,
    /// Bytes added to (or, negative, taken from) each frame's length.
    pub packet_overhead: i32,
    /// When non-zero, the length is rounded up to whole cells of this many bytes (ATM).
    pub cell_size: u32,
    /// Bytes added to each cell.
    pub cell_overhead: i32,
}

impl Rate {
    /// netem's `packet_time_ns`: nanoseconds to serialise a frame of `len` bytes, truncated.
    /// A negative overhead larger than the frame counts as zero bytes (netem's unsigned
    /// arithmetic would wrap instead).
    pub fn packet_time_ns(&self, len: usize) -> u64 {
        if self.bytes_per_sec == 0 {
            return 0;
        }
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let mut bytes = len.saturating_add(i64::from(self.packet_overhead)).max(0);
        if self.cell_size != 0 {
            let cell = i64::from(self.cell_size);
            let cells = (bytes + cell - 1) / cell;
            bytes = cells
                .saturating_mul(cell + i64::from(self.cell_overhead))
                .max(0);
        }
        let ns = (bytes as u128 * 1_000_000_000) / u128::from(self.bytes_per_sec);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate {}", RateText(self.bytes_per_sec))?;
        // The extras are positional: write up to the last one that is not zero.
        if self.packet_overhead != 0 || self.cell_size != 0 || self.cell_overhead != 0 {
            write!(f, " {}", self.packet_overhead)?;
        }
        if self.cell_size != 0 || self.cell_overhead != 0 {
            write!(f, " {}", self.cell_size)?;
        }
        if self.cell_overhead != 0 {
            write!(f, " {}", self.cell_overhead)?;
        }
        Ok(())
    }
}

/// A parsed netem specification: the words `tc qdisc add dev X root netem` takes after `netem`
/// (see [`Netem::from_str`](core::str::FromStr) and docs/netem.md for the grammar), plus
/// FreeBSD ng_pipe's `ber`. `Display` writes canonical tc syntax that parses back to an equal
/// value.
#[derive(Debug, Clone, PartialEq)]
pub struct Netem {
    /// The queue bound in frames (`limit`, default 1000).
    pub limit: u32,
    /// Delay, jitter, correlation and distribution.
    pub delay: Delay,
    /// The loss model, if `loss` was given.
    pub loss: Option<LossModel>,
    /// `duplicate PERCENT [CORRELATION]`.
    pub duplicate: Option<Chance>,
    /// `corrupt PERCENT [CORRELATION]`: flip one random bit of the frame.
    pub corrupt: Option<Chance>,
    /// `reorder ...` and its gap.
    pub reorder: Option<Reorder>,
    /// `rate ...`.
    pub rate: Option<Rate>,
    /// `ber N` (ng_pipe): one bit error per N bits; a frame with an error is dropped.
    pub ber: Option<NonZeroU64>,
}

impl Netem {
    /// netem's default queue bound.
    pub const DEFAULT_LIMIT: u32 = 1000;

    /// Only a constant delay (what a link's plain `delay_us` becomes): FIFO, no randomness, and
    /// no queue bound (`limit` is `u32::MAX`), so that a plain link never starts dropping
    /// frames for being busy.
    pub fn delay(d: Duration) -> Netem {
        Netem {
            limit: u32::MAX,
            delay: Delay {
                latency: d,
                ..Delay::default()
            },
            ..Netem::default()
        }
    }

    /// True when this spec is just a constant delay: no jitter, and no loss, duplication,
    /// corruption, reordering, rate or bit errors that could ever fire. Departures then keep
    /// arrival order, so the caller may use a plain FIFO instead of a time-ordered queue (the
    /// `limit` still applies through [`Shaper::admit`](super::Shaper::admit)).
    pub fn is_constant_delay(&self) -> bool {
        let never = |c: &Option<Chance>| c.is_none_or(|c| c.percent.scaled() == 0);
        self.delay.jitter.is_zero()
            && self.loss.is_none_or(|l| match l {
                LossModel::Random(c) => c.percent.scaled() == 0,
                _ => false,
            })
            && never(&self.duplicate)
            && never(&self.corrupt)
            && self.reorder.is_none_or(|r| r.gap == 0)
            && self.rate.is_none_or(|r| r.bytes_per_sec == 0)
            && self.ber.is_none()
    }

    /// The base delay (for docs and reports).
    pub fn base_delay(&self) -> Duration {
        self.delay.latency
    }

    /// The queue bound (`limit`).
    pub fn limit(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

impl Default for Netem {
    /// What `tc qdisc add ... netem` with no arguments gives: `limit 1000` and nothing else.
    fn default() -> Netem {
        Netem {
            limit: Netem::DEFAULT_LIMIT,
            delay: Delay::default(),
            loss: None,
            duplicate: None,
            corrupt: None,
            reorder: None,
            rate: None,
            ber: None,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl fmt::Display for Netem {
    /// Canonical tc syntax, keywords in a fixed order, `limit` always first (as `tc qdisc show`
    /// prints it). Arguments equal to their defaults are written only where a later positional
    /// argument needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limit {}", self.limit)?;
        let d = &self.delay;
        if !d.latency.is_zero() || !d.jitter.is_zero() || d.correlation != Percent::ZERO {
            write!(f, " delay {}", TimeText(nanos(d.latency)))?;
            if !d.jitter.is_zero() || d.correlation != Percent::ZERO {
                write!(f, " {}", TimeText(nanos(d.jitter)))?;
            }
            if d.correlation != Percent::ZERO {
                write!(f, " {}", d.correlation)?;
            }
        }
        if d.distribution != Distribution::Uniform {
            write!(f, " distribution {}", d.distribution.name())?;
        }
        if let Some(loss) = &self.loss {
            write!(f, " {loss}")?;
        }
        if let Some(dup) = &self.duplicate {
            write!(f, " duplicate {dup}")?;
        }
        if let Some(corrupt) = &self.corrupt {
            write!(f, " corrupt {corrupt}")?;
        }
        if let Some(reorder) = &self.reorder {
            write!(f, " reorder {}", reorder.chance)?;
            if reorder.gap > 1 {
                write!(f, " gap {}", reorder.gap)?;
            }
        }
        if let Some(rate) = &self.rate {
            write!(f, " {rate}")?;
        }
        if let Some(ber) = self.ber {
            write!(f, " ber {ber}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_scales_as_tc() {
        assert_eq!(Percent::HUNDRED.scaled(), u32::MAX);
        assert_eq!(Percent::ZERO.scaled(), 0);
        // rint(0.01 * 4294967295) = rint(42949672.95)
        assert_eq!(Percent::new(1.0).map(Percent::scaled), Some(42_949_673));
        assert_eq!(Percent::new(50.0).map(Percent::scaled), Some(2_147_483_648));
        assert_eq!(Percent::new(100.5), None);
        assert_eq!(Percent::new(-1.0), None);
        assert_eq!(Percent::new(f64::NAN), None);
        assert_eq!(
            Percent::new(0.5).map(|p| p.to_string()),
            Some("0.5%".into())
        );
        assert_eq!(
            Percent::new(1e-7).map(|p| p.to_string()),
            Some("0.0000001%".into())
        );
    }

    #[test]
    fn packet_time_is_netems() {
        let r = Rate {
            bytes_per_sec: 125_000, // 1 Mbit/s: 8 us a byte
            ..Rate::default()
        };
        assert_eq!(r.packet_time_ns(1500), 12_000_000);
        assert_eq!(r.packet_time_ns(0), 0);
        let with = Rate {
            packet_overhead: 20,
            ..r
        };
        assert_eq!(with.packet_time_ns(100), 120 * 8_000);
        let stripped = Rate {
            packet_overhead: -14,
            ..r
        };
        assert_eq!(stripped.packet_time_ns(10), 0);
        // ATM: 48-byte cells carrying 5 bytes of header each; 100 bytes need 3 cells.
        let atm = Rate {
            cell_size: 48,
            cell_overhead: 5,
            ..r
        };
        assert_eq!(atm.packet_time_ns(100), 3 * 53 * 8_000);
        assert_eq!(atm.packet_time_ns(96), 2 * 53 * 8_000);
        // Truncated, as div64_u64: 1 byte at 3 B/s.
        let odd = Rate {
            bytes_per_sec: 3,
            ..Rate::default()
        };
        assert_eq!(odd.packet_time_ns(1), 333_333_333);
        assert_eq!(Rate::default().packet_time_ns(1500), 0);
    }

    #[test]
    fn constant_delay_is_recognised() {
        let d = Netem::delay(Duration::from_micros(100));
        assert!(d.is_constant_delay());
        assert_eq!(d.base_delay(), Duration::from_micros(100));
        assert_eq!(d.limit(), u32::MAX as usize);
        assert_eq!(Netem::default().limit(), 1000);
        let mut j = d.clone();
        j.delay.jitter = Duration::from_micros(1);
        assert!(!j.is_constant_delay());
        let mut l = d.clone();
        l.loss = Some(LossModel::Random(Chance::default()));
        assert!(l.is_constant_delay(), "0% loss never fires");
        l.loss = Some(LossModel::Random(Chance {
            percent: Percent::HUNDRED,
            correlation: Percent::ZERO,
        }));
        assert!(!l.is_constant_delay());
        let mut r = d.clone();
        r.rate = Some(Rate {
            bytes_per_sec: 1,
            ..Rate::default()
        });
        assert!(!r.is_constant_delay());
        let mut b = d;
        b.ber = NonZeroU64::new(1_000_000);
        assert!(!b.is_constant_delay());
    }

    #[test]
    fn display_writes_canonical_syntax() {
        assert_eq!(Netem::default().to_string(), "limit 1000");
        assert_eq!(
            Netem::delay(Duration::from_micros(100)).to_string(),
            "limit 4294967295 delay 100us"
        );
        let rate = Rate {
            bytes_per_sec: 625,
            packet_overhead: 0,
            cell_size: 100,
            cell_overhead: 0,
        };
        assert_eq!(rate.to_string(), "rate 5kbit 0 100");
    }
}
