//! How late this worker's wake-ups come, learned as it runs, so that it wakes that much before
//! a frame falls due on a delayed link and spins the rest.
//!
//! A sleep asked to end at `t` ends at `t + late`, where `late` is the machine's: a few
//! microseconds on bare metal, tens to hundreds in a busy virtual machine, and, one time in
//! a few hundred, milliseconds. A fixed spin window either costs a core on a quiet host or
//! lets the tail through on a busy one. [`Lateness`] keeps a running estimate of the 99th
//! percentile of the lateness it observes — a stochastic-approximation quantile (Robbins and
//! Monro; the "frugal" streaming estimator) taken in the log domain: each sample above the
//! estimate raises it by 0.99 of a step, each below lowers it by 0.01 of one, a step being a
//! fixed fraction of the estimate, so it settles where 1% of samples lie above and follows the
//! machine from microseconds to milliseconds and back within seconds. It keeps no samples and
//! costs a compare and a multiply per wake-up.
//!
//! When the machine stalls a sleeping thread for milliseconds more than one time in a hundred
//! (a virtual machine whose host is busy), the window reaches its ceiling and a worker with
//! frames in flight spins much as `--busy-poll` does: the price of the accuracy there. An idle
//! worker, with nothing in flight, still sleeps.

use core::time::Duration;

/// The quantile tracked.
const QUANTILE_PERMILLE: u64 = 990;
/// One step, as a fraction of the estimate (1/20): the estimate rises by 0.99 of it (+4.95%)
/// and falls by 0.01 of it (−0.05%).
const STEP_DIVISOR: u64 = 20;
/// The least the estimate goes to, ns (so that a step is never zero).
const LEAST_NS: u64 = 1_000;
/// Spin at least this long before a frame is due, even when wake-ups look punctual.
const FLOOR: Duration = Duration::from_micros(20);
/// Never spin longer than this before a frame is due.
const CEILING: Duration = Duration::from_millis(10);
/// Added to the estimate: a wake-up at the estimate still has a loop to run before release.
const MARGIN: Duration = Duration::from_micros(10);

/// A running estimate of the 99th percentile of how late wake-ups are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lateness {
    p99_ns: u64,
}

impl Default for Lateness {
    /// Starts at 50 µs, about what an io_uring wake-up takes in a virtual machine.
    fn default() -> Lateness {
        Lateness { p99_ns: 50_000 }
    }
}

impl Lateness {
    /// A wake-up asked for one time came `late` after it.
    pub fn observe(&mut self, late: Duration) {
        let late = u64::try_from(late.as_nanos()).unwrap_or(u64::MAX);
        let step = self.p99_ns / STEP_DIVISOR;
        if late > self.p99_ns {
            self.p99_ns += step * QUANTILE_PERMILLE / 1000;
        } else {
            self.p99_ns -= step * (1000 - QUANTILE_PERMILLE) / 1000;
        }
        self.p99_ns = self.p99_ns.clamp(LEAST_NS, CEILING.as_nanos() as u64);
    }

    /// How long before a frame is due to stop sleeping and spin.
    pub fn spin_window(&self) -> Duration {
        (Duration::from_nanos(self.p99_ns) + MARGIN).clamp(FLOOR, CEILING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible stream of lateness samples: `xorshift` uniform draws mapped through
    /// `f`.
    fn samples(n: usize, f: impl Fn(f64) -> u64) -> Vec<Duration> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Duration::from_nanos(f((x >> 11) as f64 / (1u64 << 53) as f64))
            })
            .collect()
    }

    /// The window after `l` has observed `samples`.
    fn window_after(l: &mut Lateness, samples: Vec<Duration>) -> Duration {
        for s in samples {
            l.observe(s);
        }
        l.spin_window()
    }

    #[test]
    fn settles_on_the_99th_percentile() {
        // Uniform 0..200 µs: the 99th percentile is 198 µs.
        let mut l = Lateness::default();
        window_after(&mut l, samples(200_000, |u| (u * 200_000.0) as u64));
        let p99 = l.p99_ns as f64;
        assert!(
            (p99 - 198_000.0).abs() < 0.06 * 198_000.0,
            "estimate {p99} ns"
        );
        assert_eq!(
            l.spin_window(),
            Duration::from_nanos(l.p99_ns) + MARGIN,
            "inside the bounds the window is the estimate and the margin"
        );
    }

    #[test]
    fn a_rare_stall_does_not_become_the_window() {
        // 10 µs wake-ups, one in a thousand a 5 ms stall: the window stays near 10 µs.
        let stalls = samples(100_000, |u| if u < 0.001 { 5_000_000 } else { 10_000 });
        let w = window_after(&mut Lateness::default(), stalls);
        assert!(w < Duration::from_micros(40), "{w:?}");
    }

    #[test]
    fn follows_the_machine_up_and_back_down() {
        // Wake-ups 2-4 ms late for a while (a busy host), then 5-10 µs late again.
        let mut l = Lateness::default();
        let busy = samples(2_000, |u| 2_000_000 + (u * 2_000_000.0) as u64);
        let w = window_after(&mut l, busy);
        assert!(w > Duration::from_millis(3), "{w:?}");
        // Ten thousand wake-ups: five seconds of a 2,000 pps flow.
        let quiet = samples(10_000, |u| 5_000 + (u * 5_000.0) as u64);
        let w = window_after(&mut l, quiet);
        assert!(w < Duration::from_micros(40), "{w:?}");
    }

    #[test]
    fn the_window_is_bounded() {
        let mut punctual = Lateness::default();
        let mut stalled = Lateness::default();
        for _ in 0..100_000 {
            punctual.observe(Duration::ZERO);
            stalled.observe(Duration::from_secs(1));
        }
        assert_eq!(punctual.spin_window(), FLOOR);
        assert_eq!(stalled.spin_window(), CEILING);
    }
}
