//! Link impairments as Linux netem applies them: delay with jitter and correlation, the four
//! delay distributions, random, 4-state Markov and Gilbert-Elliott loss, duplication,
//! corruption, reordering, rate with cell overheads, a queue limit, and FreeBSD ng_pipe's bit
//! error rate.
//!
//! [`Netem`] is a spec in tc's own syntax (`"delay 10ms 2ms distribution normal loss 0.1%"`
//! parses; `Display` writes it back canonically). A [`Shaper`] runs one spec for one link
//! direction: sans-IO and seeded, [`Shaper::admit`] turns (time, frame length, queue length)
//! into a [`Fate`] for the frame and, when it was duplicated, for its copy. It never allocates,
//! never reads a clock, and gives the same fates for the same seed on every machine, so the
//! simulator replays it exactly and the engine runs it on the real clock.
//!
//! Sources: Linux's net/sched/sch_netem.c (`netem_enqueue`, `tabledist`, `get_crandom`,
//! `loss_4state`, `loss_gilb_ell`, `packet_time_ns`), iproute2's tc/q_netem.c (the grammar and
//! its defaults) and netem/ (the distribution tables), FreeBSD's ng_pipe(4) (`ber`). Where shoal
//! differs from netem, and why, is in docs/netem.md.
//!
//! Files: `spec` (the types), `syntax` (the parser), `units` (tc's numbers and units), `shaper`
//! (admission), `dist` (delay distributions), `loss` (loss models), `rng` (the generators),
//! `math` (libm-free `ln`, `cbrt` and powers, so that fates do not depend on the platform).

mod dist;
mod loss;
mod math;
mod rng;
mod shaper;
mod spec;
mod syntax;
mod units;

#[cfg(test)]
mod stats;

pub use shaper::{Admission, Fate, Impair, Shaper};
pub use spec::{Chance, Delay, Distribution, LossModel, Netem, Percent, Rate, Reorder};
pub use syntax::NetemError;
