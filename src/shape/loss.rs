//! Loss generators: netem's `loss_event` with its three models, decision for decision.
//!
//! Random loss compares a correlated 32-bit value with the scaled percentage (`loss >= rnd`,
//! never when 0). The 4-state Markov chain (`loss_4state`) and Gilbert-Elliott (`loss_gilb_ell`)
//! draw from the plain generator and move exactly as the kernel's do, with one deliberate change:
//! the kernel adds two 32-bit probabilities (`a1 + a4`, `a2 + a3`) in 32 bits, which wraps when a
//! spec's outgoing probabilities sum past 100%; here the sums are taken in 64 bits (saturating).
//! Read Linux's net/sched/sch_netem.c and Salsano, Ludovici, Ordine, "Definition of a general
//! and intuitive loss model for packet networks and its implementation in the Netem module in
//! the Linux kernel" (NetemCLG).

use super::rng::{Crandom, Rng};
use super::spec::LossModel;

/// The 4-state chain's states, with netem's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Four {
    /// 1: received within a gap.
    GapReceived,
    /// 2: received within a burst.
    BurstReceived,
    /// 3: lost within a burst.
    BurstLost,
    /// 4: an isolated loss within a gap.
    GapLost,
}

/// One direction's loss state.
#[derive(Debug, Clone)]
pub(crate) enum Loss {
    Never,
    Random {
        p: u32,
        cor: Crandom,
    },
    FourState {
        state: Four,
        p13: u64,
        p31: u64,
        p32: u64,
        p23: u64,
        p14: u64,
    },
    GilbertElliott {
        bad: bool,
        p: u32,
        r: u32,
        h: u32,
        k1: u32,
    },
}

impl Loss {
    /// The generator for `model`. Always takes one value from `rng` (the random model's
    /// correlation seed), whatever the model, so that the streams of the other impairments do
    /// not shift when the loss model changes.
    pub(crate) fn new(model: Option<&LossModel>, rng: &mut Rng) -> Loss {
        let rho = match model {
            Some(LossModel::Random(c)) => c.correlation.scaled(),
            _ => 0,
        };
        let cor = Crandom::new(rho, rng);
        match model {
            None => Loss::Never,
            Some(LossModel::Random(c)) => Loss::Random {
                p: c.percent.scaled(),
                cor,
            },
            Some(LossModel::State {
                p13,
                p31,
                p32,
                p23,
                p14,
            }) => Loss::FourState {
                state: Four::GapReceived,
                p13: p13.scaled().into(),
                p31: p31.scaled().into(),
                p32: p32.scaled().into(),
                p23: p23.scaled().into(),
                p14: p14.scaled().into(),
            },
            Some(LossModel::GilbertElliott {
                p,
                r,
                one_minus_h,
                one_minus_k,
            }) => Loss::GilbertElliott {
                bad: false,
                p: p.scaled(),
                r: r.scaled(),
                // tc passes h = UINT32_MAX - (1-h) to the kernel.
                h: u32::MAX - one_minus_h.scaled(),
                k1: one_minus_k.scaled(),
            },
        }
    }

    /// netem's `loss_event`: is the next frame lost?
    #[inline]
    pub(crate) fn event(&mut self, rng: &mut Rng) -> bool {
        match self {
            Loss::Never => false,
            Loss::Random { p, cor } => *p != 0 && *p >= cor.next(rng),
            Loss::FourState {
                state,
                p13,
                p31,
                p32,
                p23,
                p14,
            } => {
                let rnd = u64::from(rng.next_u32());
                let (next, lost) = match *state {
                    Four::GapReceived if rnd < *p14 => (Four::GapLost, true),
                    Four::GapReceived if rnd < *p13 + *p14 => (Four::BurstLost, true),
                    Four::GapReceived => (Four::GapReceived, false),
                    Four::BurstReceived if rnd < *p23 => (Four::BurstLost, true),
                    Four::BurstReceived => (Four::BurstReceived, false),
                    Four::BurstLost if rnd < *p32 => (Four::BurstReceived, false),
                    Four::BurstLost if rnd < *p31 + *p32 => (Four::GapReceived, false),
                    Four::BurstLost => (Four::BurstLost, true),
                    Four::GapLost => (Four::GapReceived, false),
                };
                *state = next;
                lost
            }
            Loss::GilbertElliott { bad, p, r, h, k1 } => {
                // The loss draw uses the state the frame arrived in, after the transition draw.
                if *bad {
                    if rng.next_u32() < *r {
                        *bad = false;
                    }
                    rng.next_u32() > *h
                } else {
                    if rng.next_u32() < *p {
                        *bad = true;
                    }
                    rng.next_u32() < *k1
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::spec::{Chance, Percent};

    fn pct(points: f64) -> Percent {
        Percent::new(points).unwrap_or_default()
    }

    fn losses(model: LossModel, frames: usize, seed: u64) -> Vec<bool> {
        let mut rng = Rng::new(seed);
        let mut loss = Loss::new(Some(&model), &mut rng);
        (0..frames).map(|_| loss.event(&mut rng)).collect()
    }

    #[test]
    fn no_model_and_zero_percent_never_lose() {
        let mut rng = Rng::new(1);
        let mut never = Loss::new(None, &mut rng);
        assert!((0..1000).all(|_| !never.event(&mut rng)));
        let zero = LossModel::Random(Chance::default());
        assert!(losses(zero, 1000, 1).iter().all(|l| !l));
    }

    #[test]
    fn hundred_percent_always_loses() {
        let all = LossModel::Random(Chance {
            percent: Percent::HUNDRED,
            correlation: pct(50.0),
        });
        assert!(losses(all, 1000, 2).iter().all(|&l| l));
    }

    #[test]
    fn four_state_walks_netems_chain() {
        // p13 = 100%, p31 = 100%: lose, recover, lose, recover...
        let alternate = LossModel::State {
            p13: Percent::HUNDRED,
            p31: Percent::HUNDRED,
            p32: Percent::ZERO,
            p23: Percent::HUNDRED,
            p14: Percent::ZERO,
        };
        let got = losses(alternate, 6, 3);
        assert_eq!(got, [true, false, true, false, true, false]);
        // p14 = 100%: every other frame is an isolated loss (state 4 always returns to 1).
        let isolated = LossModel::State {
            p13: Percent::ZERO,
            p31: Percent::ZERO,
            p32: Percent::ZERO,
            p23: Percent::ZERO,
            p14: Percent::HUNDRED,
        };
        assert_eq!(losses(isolated, 4, 4), [true, false, true, false]);
        // Into a burst and never out: p13 = 100%, p31 = p32 = 0.
        let stuck = LossModel::State {
            p13: Percent::HUNDRED,
            p31: Percent::ZERO,
            p32: Percent::ZERO,
            p23: Percent::HUNDRED,
            p14: Percent::ZERO,
        };
        assert!(losses(stuck, 100, 5).iter().all(|&l| l));
    }

    #[test]
    fn four_state_sums_do_not_wrap() {
        // p13 + p14 = 200%: the kernel's 32-bit sum would wrap; here the frame is always lost.
        let over = LossModel::State {
            p13: Percent::HUNDRED,
            p31: Percent::HUNDRED,
            p32: Percent::ZERO,
            p23: Percent::HUNDRED,
            p14: pct(50.0),
        };
        let got = losses(over, 1000, 6);
        assert!(
            got.windows(2).all(|w| w[0] != w[1] || !w[0]),
            "a loss is followed by a reception"
        );
        assert!(got.iter().filter(|&&l| l).count() == 500);
    }

    #[test]
    fn gilbert_elliott_extremes() {
        // Never leaves good, good never loses.
        let good = LossModel::GilbertElliott {
            p: Percent::ZERO,
            r: Percent::HUNDRED,
            one_minus_h: Percent::HUNDRED,
            one_minus_k: Percent::ZERO,
        };
        assert!(losses(good, 1000, 7).iter().all(|l| !l));
        // Goes bad on the first frame and stays; the first frame is judged in the good state.
        let bad = LossModel::GilbertElliott {
            p: Percent::HUNDRED,
            r: Percent::ZERO,
            one_minus_h: Percent::HUNDRED,
            one_minus_k: Percent::ZERO,
        };
        let got = losses(bad, 1000, 8);
        assert!(!got[0]);
        assert!(got[1..].iter().all(|&l| l));
    }
}
