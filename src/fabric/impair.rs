//! The impairment stage of a link end, sized for what it does: a constant delay — what every
//! link with a plain `delay_us` has, the lattices' hundreds of thousands of links included — is
//! a delay and a queue bound (16 bytes), and only a netem spec that can do more (loss, jitter,
//! duplication, corruption, reordering, rate, bit errors) gets a full [`Shaper`], boxed, with
//! its random generator and correlation state (about 450 bytes).
//!
//! The two give the same fates for the same spec: a constant delay draws nothing from a
//! shaper's generator (every draw is guarded by a chance that is zero), so a shaper would
//! send each frame at `now + delay` or drop it for the `limit`, as [`Impairment::admit`] does.

use std::borrow::Cow;

use crate::shape::{Admission, Delay, Fate, Impair, Netem, Shaper};
use crate::time::Instant;

/// What a link end does to the frames leaving it.
#[derive(Debug)]
pub(crate) enum Impairment {
    /// A constant delay in nanoseconds and netem's queue bound, nothing random.
    Delay { ns: u64, limit: u32 },
    /// Anything more: netem in full.
    Netem(Box<Shaper>),
}

impl Impairment {
    /// The stage for `spec`, its generator (if it needs one) seeded with `seed`.
    pub fn new(spec: &Netem, seed: u64) -> Impairment {
        match delay_only(spec) {
            Some(ns) => Impairment::Delay {
                ns,
                limit: spec.limit,
            },
            None => Impairment::Netem(Box::new(Shaper::new(spec, seed))),
        }
    }

    /// The spec this stage runs (rebuilt for a constant delay: it is equal to the one given).
    pub fn spec(&self) -> Cow<'_, Netem> {
        match self {
            Impairment::Delay { ns, limit } => Cow::Owned(Netem {
                limit: *limit,
                delay: Delay {
                    latency: core::time::Duration::from_nanos(*ns),
                    ..Delay::default()
                },
                ..Netem::default()
            }),
            Impairment::Netem(s) => Cow::Borrowed(s.spec()),
        }
    }

    /// Whether frames always leave in the order they came (a FIFO can hold them).
    pub fn ordered(&self) -> bool {
        match self {
            Impairment::Delay { .. } => true,
            Impairment::Netem(s) => s.spec().is_constant_delay(),
        }
    }

    /// The fate of a frame of `len` bytes handed in at `now` with `queued` frames waiting (see
    /// [`Shaper::admit`]).
    #[inline]
    pub fn admit(&mut self, now: Instant, len: usize, queued: usize) -> Admission {
        match self {
            Impairment::Delay { ns, limit } => {
                let first = if queued >= *limit as usize {
                    Fate::Drop(Impair::Limit)
                } else {
                    Fate::Send {
                        at: Instant::from_nanos(now.as_nanos().saturating_add(*ns)),
                        corrupt: None,
                    }
                };
                Admission { first, copy: None }
            }
            Impairment::Netem(s) => s.admit(now, len, queued),
        }
    }
}

/// The delay of a spec that is exactly a constant delay and a limit (nothing else set, not
/// even to a chance of zero, so that the spec rebuilt from the two is the one given).
fn delay_only(spec: &Netem) -> Option<u64> {
    let plain = Netem {
        limit: spec.limit,
        delay: Delay {
            latency: spec.delay.latency,
            ..Delay::default()
        },
        ..Netem::default()
    };
    (*spec == plain)
        .then(|| u64::try_from(spec.delay.latency.as_nanos()).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Netem {
        text.parse().expect("a netem spec")
    }

    /// A constant delay is compact, anything more is a shaper, and both give a shaper's fates
    /// and give back the spec they were made from.
    #[test]
    fn a_constant_delay_is_compact_and_admits_as_a_shaper_does() {
        let specs = [
            Netem::delay(core::time::Duration::from_micros(100)),
            spec("delay 10ms limit 3"),
            spec("delay 10ms 1ms"),
            spec("loss 0%"),
            spec("rate 1mbit"),
        ];
        for (k, s) in specs.iter().enumerate() {
            let mut stage = Impairment::new(s, 7);
            assert_eq!(matches!(stage, Impairment::Delay { .. }), k < 2, "{s}");
            assert_eq!(&*stage.spec(), s);
            let mut shaper = Shaper::new(s, 7);
            for i in 0..8u64 {
                let now = Instant::from_nanos(1_000_000 + i * 10);
                let queued = i as usize;
                assert_eq!(stage.admit(now, 64, queued), shaper.admit(now, 64, queued));
            }
        }
        assert!(size_of::<Impairment>() <= 16);
    }
}
