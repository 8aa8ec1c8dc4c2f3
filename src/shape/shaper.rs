//! The per-direction impairment state: netem's `netem_enqueue`, decision for decision, as a
//! sans-IO function from (time, frame length, queue length) to the frame's fate.
//!
//! Order, as in Linux: duplicate, loss (a duplicated frame that is also lost goes on alone),
//! bit errors (shoal's `ber`, after loss), corrupt, the queue `limit`, then either the reorder
//! shortcut (leave now) or delay, jitter and rate. A duplicate is admitted after the original,
//! with duplication off, through loss, bit errors, corrupt, limit and delay of its own, and it
//! counts the original against the limit. Rate timing is Linux's: the previous departure still
//! queued is the reference point, `at = max(last, now + delay) + packet_time`. Guarantees: no
//! allocation, no clock, no I/O; the same seed and inputs give the same fates. Read `netem_enqueue`
//! in Linux's net/sched/sch_netem.c and docs/netem.md.

use super::dist::tabledist;
use super::loss::Loss;
use super::math;
use super::rng::{Crandom, Rng};
use super::spec::{Distribution, Netem, Rate};
use crate::time::Instant;

/// Why the shaper dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Impair {
    /// The loss model chose it.
    Loss,
    /// The queue held `limit` frames already.
    Limit,
    /// A bit error hit it (`ber`).
    Ber,
}

impl Impair {
    /// Every reason, for counters and reports.
    pub const ALL: &[Impair] = &[Impair::Loss, Impair::Limit, Impair::Ber];

    /// The name counters and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Impair::Loss => "netem-loss",
            Impair::Limit => "netem-limit",
            Impair::Ber => "netem-ber",
        }
    }
}

/// What happens to one frame (or to its duplicate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Dropped, counted under this reason.
    Drop(Impair),
    /// Leaves the link at `at` (never before the `now` it was admitted at). `corrupt` is the
    /// index of one bit to flip, in 0..8*len, counting from the most significant bit of the
    /// first byte: bit `i` is `frame[i / 8] ^= 0x80 >> (i % 8)`.
    Send {
        /// Departure time.
        at: Instant,
        /// A bit to flip, when `corrupt` fired.
        corrupt: Option<u32>,
    },
}

/// A frame's fate and, when `duplicate` fired, its copy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The frame handed in.
    pub first: Fate,
    /// The duplicate, when one was made.
    pub copy: Option<Fate>,
}

/// One direction's impairments: the spec, a seeded generator, correlation and loss-model state,
/// the reorder counter and the last departure handed out (for `rate`).
#[derive(Debug, Clone)]
pub struct Shaper {
    spec: Netem,
    rng: Rng,
    limit: usize,
    mu: i64,
    sigma: i64,
    distribution: Distribution,
    delay_cor: Crandom,
    loss: Loss,
    duplicate: u32,
    duplicate_cor: Crandom,
    corrupt: u32,
    corrupt_cor: Crandom,
    reorder: u32,
    reorder_cor: Crandom,
    gap: u32,
    counter: u32,
    /// Only when the rate is not zero (netem ignores a zero rate).
    rate: Option<Rate>,
    /// 1 - 1/N for `ber N`: a frame of L bytes survives with (1 - 1/N)^(8 L).
    ber_keep: Option<f64>,
    /// The latest departure handed out by the delay path, in nanoseconds.
    last: Option<u64>,
}

impl Shaper {
    /// The state for one link direction. Give each direction its own `seed`; the same seed and
    /// the same calls give the same fates on every machine.
    pub fn new(spec: &Netem, seed: u64) -> Shaper {
        let mut rng = Rng::new(seed);
        // One draw per correlation state, always in this order, whatever the spec holds.
        let delay_cor = Crandom::new(spec.delay.correlation.scaled(), &mut rng);
        let loss = Loss::new(spec.loss.as_ref(), &mut rng);
        let dup = spec.duplicate.unwrap_or_default();
        let duplicate_cor = Crandom::new(dup.correlation.scaled(), &mut rng);
        let corrupt = spec.corrupt.unwrap_or_default();
        let corrupt_cor = Crandom::new(corrupt.correlation.scaled(), &mut rng);
        let reorder = spec.reorder.unwrap_or_default();
        let reorder_cor = Crandom::new(reorder.chance.correlation.scaled(), &mut rng);
        Shaper {
            spec: spec.clone(),
            rng,
            limit: spec.limit(),
            mu: spec.delay.mu_ns(),
            sigma: spec.delay.sigma_ns(),
            distribution: spec.delay.distribution,
            delay_cor,
            loss,
            duplicate: dup.percent.scaled(),
            duplicate_cor,
            corrupt: corrupt.percent.scaled(),
            corrupt_cor,
            reorder: reorder.chance.percent.scaled(),
            reorder_cor,
            gap: reorder.gap,
            counter: 0,
            rate: spec.rate.filter(|r| r.bytes_per_sec != 0),
            ber_keep: spec.ber.map(|n| 1.0 - 1.0 / n.get() as f64),
            last: None,
        }
    }

    /// The spec this shaper runs.
    pub fn spec(&self) -> &Netem {
        &self.spec
    }

    /// Decide the fate of a frame of `len` bytes (Ethernet frame without FCS) handed to the link
    /// at `now`, with `queued` frames already waiting in this direction's queue (for `limit`,
    /// and for `rate`: 0 means the previous departures no longer matter).
    pub fn admit(&mut self, now: Instant, len: usize, queued: usize) -> Admission {
        let duplicated =
            self.duplicate != 0 && self.duplicate >= self.duplicate_cor.next(&mut self.rng);
        let lost = self.loss.event(&mut self.rng);
        if lost && !duplicated {
            return Admission {
                first: Fate::Drop(Impair::Loss),
                copy: None,
            };
        }
        let first = self.enqueue(now, len, queued);
        // Duplicated and lost is one frame (netem's count = 1 + 1 - 1): no copy.
        let copy = (duplicated && !lost).then(|| match first {
            // netem frees the clone with the original when the queue is full.
            Fate::Drop(Impair::Limit) => Fate::Drop(Impair::Limit),
            _ if self.loss.event(&mut self.rng) => Fate::Drop(Impair::Loss),
            Fate::Send { .. } => self.enqueue(now, len, queued.saturating_add(1)),
            Fate::Drop(_) => self.enqueue(now, len, queued),
        });
        Admission { first, copy }
    }

    /// What follows the loss decision for one frame: bit errors, corrupt, limit, then reorder or
    /// delay and rate.
    #[inline]
    fn enqueue(&mut self, now: Instant, len: usize, queued: usize) -> Fate {
        if let Some(keep) = self.ber_keep
            && len > 0
            && self.rng.next_f64() >= math::powu(keep, (len as u64).saturating_mul(8))
        {
            return Fate::Drop(Impair::Ber);
        }
        let corrupt = if self.corrupt != 0 && self.corrupt >= self.corrupt_cor.next(&mut self.rng) {
            let bits = (len as u64).saturating_mul(8).min(1 << 32);
            (bits > 0).then(|| self.rng.below(bits) as u32)
        } else {
            None
        };
        if queued >= self.limit {
            return Fate::Drop(Impair::Limit);
        }
        // netem's test, short-circuits included: the reorder draw is made only once the gap
        // has passed.
        let delayed = self.gap == 0
            || self.counter < self.gap - 1
            || self.reorder < self.reorder_cor.next(&mut self.rng);
        if !delayed {
            self.counter = 0;
            return Fate::Send { at: now, corrupt };
        }
        let delay = if self.sigma == 0 {
            self.mu
        } else {
            let rnd = self.delay_cor.next(&mut self.rng);
            tabledist(self.mu, self.sigma, self.distribution, rnd)
        };
        // A negative draw leaves at once.
        let mut at = now.as_nanos().saturating_add(delay.max(0) as u64);
        if queued == 0 {
            self.last = None;
        }
        if let Some(rate) = &self.rate {
            // Linux: delay -= last - now, floored at 0, then counted from last; that is
            // max(last, now + delay), plus the time to serialise this frame.
            if let Some(last) = self.last {
                at = at.max(last);
            }
            at = at.saturating_add(rate.packet_time_ns(len));
        }
        self.last = Some(self.last.map_or(at, |last| last.max(at)));
        self.counter = self.counter.wrapping_add(1);
        Fate::Send {
            at: Instant::from_nanos(at),
            corrupt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn spec(text: &str) -> Netem {
        match text.parse() {
            Ok(n) => n,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn at(fate: Fate) -> u64 {
        match fate {
            Fate::Send { at, .. } => at.as_nanos(),
            Fate::Drop(why) => panic!("dropped: {why:?}"),
        }
    }

    const T0: Instant = Instant::from_nanos(1_000_000_000);

    #[test]
    fn names_are_stable() {
        let names: Vec<&str> = Impair::ALL.iter().map(|i| i.name()).collect();
        assert_eq!(names, ["netem-loss", "netem-limit", "netem-ber"]);
    }

    #[test]
    fn constant_delay_is_a_fifo() {
        let mut s = Shaper::new(&Netem::delay(Duration::from_micros(100)), 1);
        for i in 0..1000u64 {
            let now = Instant::from_nanos(i * 10);
            let a = s.admit(now, 64, i as usize);
            assert_eq!(
                a.first,
                Fate::Send {
                    at: now + Duration::from_micros(100),
                    corrupt: None
                }
            );
            assert_eq!(a.copy, None);
        }
    }

    #[test]
    fn limit_drops_exactly_when_the_queue_is_full() {
        let mut s = Shaper::new(&spec("limit 5 delay 1ms"), 2);
        for queued in 0..10 {
            let a = s.admit(T0, 100, queued);
            assert_eq!(
                a.first == Fate::Drop(Impair::Limit),
                queued >= 5,
                "{queued}"
            );
        }
        let mut zero = Shaper::new(&spec("limit 0"), 2);
        assert_eq!(zero.admit(T0, 100, 0).first, Fate::Drop(Impair::Limit));
    }

    #[test]
    fn a_copy_counts_its_original_against_the_limit() {
        let mut s = Shaper::new(&spec("limit 2 duplicate 100%"), 3);
        let a = s.admit(T0, 100, 0);
        assert!(matches!(a.first, Fate::Send { .. }) && matches!(a.copy, Some(Fate::Send { .. })));
        let a = s.admit(T0, 100, 1);
        assert!(matches!(a.first, Fate::Send { .. }));
        assert_eq!(a.copy, Some(Fate::Drop(Impair::Limit)));
        // A full queue drops the original and its clone together.
        let a = s.admit(T0, 100, 2);
        assert_eq!(a.first, Fate::Drop(Impair::Limit));
        assert_eq!(a.copy, Some(Fate::Drop(Impair::Limit)));
    }

    #[test]
    fn duplicated_and_lost_is_one_frame() {
        let mut both = Shaper::new(&spec("duplicate 100% loss 100%"), 4);
        let a = both.admit(T0, 100, 0);
        assert_eq!(
            a.first,
            Fate::Send {
                at: T0,
                corrupt: None
            }
        );
        assert_eq!(a.copy, None);
        let mut lost = Shaper::new(&spec("loss 100%"), 4);
        assert_eq!(
            lost.admit(T0, 100, 0),
            Admission {
                first: Fate::Drop(Impair::Loss),
                copy: None
            }
        );
    }

    #[test]
    fn bit_errors_drop_and_spare_empty_frames() {
        let mut s = Shaper::new(&spec("ber 1"), 5);
        assert_eq!(s.admit(T0, 1, 0).first, Fate::Drop(Impair::Ber));
        assert_eq!(
            s.admit(T0, 0, 0).first,
            Fate::Send {
                at: T0,
                corrupt: None
            }
        );
        // The copy is a frame of its own on the wire: judged again.
        let mut dup = Shaper::new(&spec("ber 1 duplicate 100%"), 5);
        let a = dup.admit(T0, 10, 0);
        assert_eq!(
            (a.first, a.copy),
            (Fate::Drop(Impair::Ber), Some(Fate::Drop(Impair::Ber)))
        );
    }

    #[test]
    fn corruption_picks_a_bit_of_the_frame() {
        let mut s = Shaper::new(&spec("corrupt 100%"), 6);
        let mut seen = [false; 24];
        for _ in 0..2000 {
            match s.admit(T0, 3, 0).first {
                Fate::Send {
                    corrupt: Some(bit), ..
                } => seen[bit as usize] = true,
                other => panic!("{other:?}"),
            }
        }
        assert!(seen.iter().all(|&b| b), "every one of the 24 bits is hit");
        assert_eq!(
            s.admit(T0, 0, 0).first,
            Fate::Send {
                at: T0,
                corrupt: None
            }
        );
    }

    #[test]
    fn a_gap_sends_every_nth_frame_at_once() {
        let mut s = Shaper::new(&spec("delay 10ms reorder 100% gap 5"), 7);
        for i in 1..=20u64 {
            let now = T0 + Duration::from_micros(i);
            let t = at(s.admit(now, 100, 0).first);
            let expect = if i % 5 == 0 {
                now
            } else {
                now + Duration::from_millis(10)
            };
            assert_eq!(t, expect.as_nanos(), "frame {i}");
        }
    }

    #[test]
    fn negative_draws_leave_at_once() {
        let mut s = Shaper::new(&spec("delay 1ms 5ms"), 8);
        let mut at_once = 0;
        for _ in 0..1000 {
            let t = at(s.admit(T0, 100, 0).first);
            assert!(t >= T0.as_nanos() && t < (T0 + Duration::from_millis(6)).as_nanos());
            at_once += usize::from(t == T0.as_nanos());
        }
        // (5 - 1) / 10 of the uniform draws are negative.
        assert!((350..450).contains(&at_once), "{at_once}");
    }

    #[test]
    fn negative_draws_start_serialising_at_once() {
        // With an empty queue a negative draw counts from `now`: at = now + packet_time.
        let mut s = Shaper::new(&spec("delay 1ms 5ms rate 1mbit"), 8);
        let serialise = 100 * 8_000;
        let mut at_once = 0;
        for _ in 0..1000 {
            let t = at(s.admit(T0, 100, 0).first) - T0.as_nanos();
            assert!(t >= serialise, "{t}");
            at_once += usize::from(t == serialise);
        }
        assert!((350..450).contains(&at_once), "{at_once}");
    }

    #[test]
    fn jitter_reorders_without_rate_and_never_with_it() {
        let run = |text: &str| {
            let mut s = Shaper::new(&spec(text), 9);
            let times: Vec<u64> = (0..2000u64)
                .map(|i| at(s.admit(Instant::from_nanos(i * 100_000), 100, 1).first))
                .collect();
            times.windows(2).filter(|w| w[1] < w[0]).count()
        };
        assert!(run("delay 10ms 5ms") > 100);
        assert_eq!(run("delay 10ms 5ms rate 1gbit"), 0);
        assert_eq!(run("delay 10ms 5ms distribution pareto rate 10gbit"), 0);
    }

    #[test]
    fn a_rate_below_one_byte_a_second_is_no_rate() {
        // tc truncates 7 bit/s to 0 bytes/s, which netem reads as "no rate".
        let mut s = Shaper::new(&spec("rate 7bit"), 10);
        assert_eq!(at(s.admit(T0, 1500, 3).first), T0.as_nanos());
    }

    #[test]
    fn a_burst_takes_its_bytes_over_the_rate() {
        // 1 Mbit/s: 8000 ns a byte, exactly.
        let mut s = Shaper::new(&spec("rate 1mbit"), 10);
        let lens = [64usize, 1500, 576, 9000, 60, 1514, 128];
        let mut last = 0;
        for (queued, &len) in lens.iter().enumerate() {
            last = at(s.admit(T0, len, queued).first);
        }
        let bytes: u64 = lens.iter().map(|&l| l as u64).sum();
        assert_eq!(last - T0.as_nanos(), bytes * 8 * 1_000_000_000 / 1_000_000);
        // With overhead and cells, each frame costs netem's packet_time_ns.
        let rate = spec("rate 1mbit 20 48 5");
        let mut s = Shaper::new(&rate, 10);
        let mut want = T0.as_nanos();
        for (queued, &len) in lens.iter().enumerate() {
            want += rate.rate.map_or(0, |r| r.packet_time_ns(len));
            assert_eq!(at(s.admit(T0, len, queued).first), want);
        }
    }

    #[test]
    fn constant_delay_with_rate_is_serialise_then_propagate() {
        // departure = max(arrival, previous departure - delay) + serialisation + delay, to the
        // nanosecond: the link serialises at the rate, then the bits travel for `delay`.
        for text in [
            "delay 3ms rate 10mbit",
            "rate 17mbit 14 53 5",
            "delay 1ms rate 9999999bit",
        ] {
            let netem = spec(text);
            let (rate, delay) = (
                netem.rate.unwrap_or_default(),
                netem.base_delay().as_nanos(),
            );
            let delay = delay as u64;
            let mut s = Shaper::new(&netem, 11);
            let mut traffic = Rng::new(12);
            let (mut now, mut previous) = (T0.as_nanos(), 0u64);
            // Departures are in order here (rate), so the queue is a FIFO of departure times.
            let mut departures = std::collections::VecDeque::new();
            for _ in 0..20_000 {
                now += traffic.below(2_000_000);
                let len = 60 + traffic.below(1455) as usize;
                while departures.front().is_some_and(|&d| d <= now) {
                    departures.pop_front();
                }
                let queued = departures.len();
                let got = at(s.admit(Instant::from_nanos(now), len, queued).first);
                let want =
                    now.max(previous.saturating_sub(delay)) + rate.packet_time_ns(len) + delay;
                assert_eq!(got, want, "{text}");
                previous = got;
                departures.push_back(got);
            }
        }
    }

    #[test]
    fn same_seed_same_fates_other_seed_other_fates() {
        let netem = spec(
            "delay 10ms 3ms 20% distribution paretonormal loss gemodel 5% 30% 80% 1% \
             duplicate 5% corrupt 5% reorder 10% rate 100mbit ber 100000",
        );
        let run = |seed: u64| {
            let mut s = Shaper::new(&netem, seed);
            (0..5000u64)
                .map(|i| s.admit(Instant::from_nanos(i * 50_000), 64 + (i % 1400) as usize, 3))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn draws_are_pinned() {
        // Departures for seed 2024, frames 1 us apart: a change to the generator, the portable
        // math or the order of draws shows here. The normal and uniform rows were reproduced
        // independently (a Python transcription of the draw path).
        let pins: [(&str, [u64; 4]); 4] = [
            (
                "delay 10ms 3ms",
                [10_617_057, 9_741_880, 10_398_637, 7_063_747],
            ),
            (
                "delay 10ms 3ms distribution normal",
                [12_102_091, 12_372_634, 7_420_339, 7_540_112],
            ),
            (
                "delay 10ms 3ms distribution pareto",
                [10_421_062, 10_682_082, 8_301_470, 8_322_394],
            ),
            (
                "delay 10ms 3ms distribution paretonormal",
                [10_841_320, 11_104_720, 8_081_187, 8_126_824],
            ),
        ];
        for (text, want) in pins {
            let mut s = Shaper::new(&spec(text), 2024);
            let got: Vec<u64> = (0..4)
                .map(|i| at(s.admit(Instant::from_nanos(i * 1000), 1000, 0).first))
                .collect();
            assert_eq!(got, want, "{text}");
        }
        let mut s = Shaper::new(
            &spec("loss gemodel 5% 30% 80% 2% ber 10000 corrupt 10% duplicate 10% rate 10mbit"),
            2024,
        );
        let fates: Vec<Fate> = (0..4)
            .map(|i| s.admit(Instant::from_nanos(i * 1000), 1000, 0).first)
            .collect();
        let sent = |ns| Fate::Send {
            at: Instant::from_nanos(ns),
            corrupt: None,
        };
        let ber = Fate::Drop(Impair::Ber);
        assert_eq!(fates, [sent(800_000), ber, sent(802_000), ber]);
    }
}
