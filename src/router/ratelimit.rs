//! ICMP error rate limiting exactly as Linux 6.x does it (net/ipv4/icmp.c, inetpeer.c,
//! route.c's ip_error), in jiffies of a configurable HZ.
//!
//! Three limits, charged in this order for one error:
//!
//! 1. **Unreachable routes** (`ip_error`): a packet that hits no route, an `unreachable` or a
//!    `prohibit` route first charges its source's peer entry `error_cost` (1 s) out of a
//!    bucket of `error_burst` (5 s); an empty bucket sends nothing.
//! 2. **The instance** (`icmp_global_allow`, `icmp_msgs_per_sec`/`icmp_msgs_burst`): for types
//!    in `ratemask` (fragmentation-needed excepted), an error may go out while the credit is
//!    positive. The credit is refilled only once it has run out, and only after 20 ms (HZ/50):
//!    by `msgs_per_sec` per second elapsed (at most one second's worth), capped at the burst.
//!    The check comes before the route back is looked up; nothing is spent yet.
//! 3. **The destination** (`icmpv4_xrlim_allow`, `icmp_ratelimit`): the same peer entry's
//!    token bucket, `ratelimit` (1 s) per error, up to `XRLIM_BURST_FACTOR` (6) in a burst. Only
//!    when it allows the error is the instance charged, a random 0, 1 or 2 credits
//!    (`icmp_global_consume`, randomised against side channels since Linux 6.12).
//!
//! So a source hitting an `unreachable` route pays twice per error — traceroute shows
//! `!H !H *` — and the two buckets share one entry. Peer entries are created full (Linux dates
//! them 60 s back) and live in a map; an entry idle for longer than both bursts is exactly a
//! fresh one, so such entries are dropped freely, and the map holds at most `peer_threshold`
//! entries (Linux's inet_peer_threshold, 65,664 on any machine with more than 840 MiB), past
//! which the least recently used goes (where Linux's garbage collector takes whichever idle
//! entries its tree walk meets).

use core::time::Duration;

use rustc_hash::FxHashMap;

use crate::time::Instant;

/// ICMP rate limits; defaults are Linux 6.x's sysctls (HZ 250, as Debian and most
/// distributions build it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpConfig {
    /// Minimum spacing per destination (icmp_ratelimit); zero disables the per-destination limit.
    pub ratelimit: Duration,
    /// Bit `t` set: type `t` is limited (icmp_ratemask).
    pub ratemask: u32,
    /// Instance-wide rate (icmp_msgs_per_sec); zero disables the instance-wide limit.
    pub msgs_per_sec: u32,
    /// Instance-wide burst (icmp_msgs_burst).
    pub msgs_burst: u32,
    /// What an error from an unreachable route costs its source (route.error_cost).
    pub error_cost: Duration,
    /// The bucket that cost comes out of (route.error_burst).
    pub error_burst: Duration,
    /// The kernel's tick rate: every limit counts in ticks of 1/hz s (CONFIG_HZ).
    pub hz: u32,
    /// Most peer entries kept (inet_peer_threshold).
    pub peer_threshold: usize,
}

impl Default for IcmpConfig {
    fn default() -> IcmpConfig {
        IcmpConfig {
            ratelimit: Duration::from_millis(1000),
            ratemask: 0x1818,
            msgs_per_sec: 1000,
            msgs_burst: 50,
            error_cost: Duration::from_secs(1),
            error_burst: Duration::from_secs(5),
            hz: 250,
            peer_threshold: 65_536 + 128,
        }
    }
}

/// ICMP types above this are unknown to Linux: never limited, never answered with an error.
pub(crate) const NR_ICMP_TYPES: u8 = 18;
/// Burst per destination, in multiples of `ratelimit` (Linux's XRLIM_BURST_FACTOR).
const BURST_FACTOR: u64 = 6;
/// Map size above which idle entries are swept.
const SWEEP_AT: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Peer {
    /// Tokens, in jiffies.
    tokens: u64,
    /// When tokens were last added (before the clock's start for a new entry).
    last: i64,
    /// Last use, for eviction.
    used: u64,
    /// Redirects sent since the last silence (n_redirects).
    redirects: u32,
}

/// The instance's credit and the peer entries.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    credit: i64,
    /// Jiffies of the last refill; `None`: long ago.
    stamp: Option<u64>,
    peers: FxHashMap<u32, Peer>,
    /// xorshift state for the random charge.
    rng: u64,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter {
            credit: 0,
            stamp: None,
            peers: FxHashMap::default(),
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

fn jiffies(cfg: &IcmpConfig, t: Instant) -> u64 {
    (u128::from(t.as_nanos()) * u128::from(cfg.hz) / 1_000_000_000) as u64
}

fn ticks(cfg: &IcmpConfig, d: Duration) -> u64 {
    (d.as_nanos() * u128::from(cfg.hz) / 1_000_000_000) as u64
}

/// Ticks from `last` to `now`.
fn since(now: u64, last: i64) -> u64 {
    (now as i64).saturating_sub(last).max(0) as u64
}

/// Types the limits apply to (icmpv4_mask_allow's complement).
pub(crate) fn limited(cfg: &IcmpConfig, kind: u8, code: u8) -> bool {
    const DEST_UNREACH: u8 = 3;
    const FRAG_NEEDED: u8 = 4;
    kind <= NR_ICMP_TYPES
        && !(kind == DEST_UNREACH && code == FRAG_NEEDED)
        && cfg.ratemask & (1 << kind) != 0
}

impl RateLimiter {
    /// Step 1: `ip_error`'s charge on the source of a packet that hit an unreachable route.
    pub(crate) fn route_error_allow(&mut self, cfg: &IcmpConfig, now: Instant, src: u32) -> bool {
        let now = jiffies(cfg, now);
        let (burst, cost) = (ticks(cfg, cfg.error_burst), ticks(cfg, cfg.error_cost));
        let p = self.peer(cfg, now, src);
        p.tokens = (p.tokens + since(now, p.last)).min(burst);
        p.last = now as i64;
        if p.tokens >= cost {
            p.tokens -= cost;
            true
        } else {
            false
        }
    }

    /// Step 2: may the instance send one more error? Spends nothing.
    pub(crate) fn global_allow(&mut self, cfg: &IcmpConfig, now: Instant) -> bool {
        if cfg.msgs_per_sec == 0 || self.credit > 0 {
            return true;
        }
        let now = jiffies(cfg, now);
        let hz = u64::from(cfg.hz);
        let delta = self.stamp.map_or(hz, |s| now.wrapping_sub(s).min(hz));
        if delta < hz / 50 {
            return false;
        }
        let incr = (u64::from(cfg.msgs_per_sec) * delta / hz) as i64;
        if incr == 0 {
            return false;
        }
        self.stamp = Some(now);
        self.credit = (self.credit + incr).min(i64::from(cfg.msgs_burst));
        true
    }

    /// Step 3: the destination's bucket; when it allows, the instance is charged at random.
    pub(crate) fn peer_allow(&mut self, cfg: &IcmpConfig, now: Instant, dst: u32) -> bool {
        let allowed = if cfg.ratelimit.is_zero() {
            true
        } else {
            let now = jiffies(cfg, now);
            let timeout = ticks(cfg, cfg.ratelimit);
            let p = self.peer(cfg, now, dst);
            let delta = since(now, p.last);
            if delta != 0 {
                p.last = now as i64;
                p.tokens = (p.tokens + delta).min(BURST_FACTOR * timeout);
            }
            if p.tokens >= timeout {
                p.tokens -= timeout;
                true
            } else {
                false
            }
        };
        if allowed && cfg.msgs_per_sec != 0 {
            self.credit -= self.random_below_3();
        }
        allowed
    }

    /// May a redirect go to `src` now (ip_rt_send_redirect)? Redirects back off exponentially
    /// — 20 ms, doubled after each — stop after nine, and start over after 20.48 s without
    /// one; the same entry's tokens are zeroed at that restart, which the error limits see.
    pub(crate) fn redirect_allow(&mut self, cfg: &IcmpConfig, now: Instant, src: u32) -> bool {
        const NUMBER: u32 = 9;
        let now = jiffies(cfg, now);
        let load = u64::from(cfg.hz / 50);
        let silence = load << (NUMBER + 1);
        let p = self.peer(cfg, now, src);
        if since(now, p.last) > silence {
            p.tokens = 0;
            p.redirects = 0;
        }
        if p.redirects >= NUMBER {
            p.last = now as i64;
            return false;
        }
        if p.redirects == 0 || since(now, p.last) > load << p.redirects {
            p.last = now as i64;
            p.redirects += 1;
            return true;
        }
        false
    }

    /// The peer entry of `addr`, created full (Linux dates a new entry 60 s back).
    fn peer(&mut self, cfg: &IcmpConfig, now: u64, addr: u32) -> &mut Peer {
        if !self.peers.contains_key(&addr) {
            self.make_room(cfg, now);
        }
        let p = self.peers.entry(addr).or_insert(Peer {
            tokens: 0,
            last: now as i64 - 60 * i64::from(cfg.hz),
            used: now,
            redirects: 0,
        });
        p.used = now;
        p
    }

    /// Before adding an entry: drop idle ones (indistinguishable from absent ones) once the map
    /// is large, and the least recently used one at the threshold.
    fn make_room(&mut self, cfg: &IcmpConfig, now: u64) {
        if self.peers.len() < SWEEP_AT.min(cfg.peer_threshold) {
            return;
        }
        let idle = (BURST_FACTOR * ticks(cfg, cfg.ratelimit)).max(ticks(cfg, cfg.error_burst));
        self.peers.retain(|_, p| now.saturating_sub(p.used) < idle);
        if self.peers.len() >= cfg.peer_threshold.max(1)
            && let Some(oldest) = self
                .peers
                .iter()
                .min_by_key(|(_, p)| p.used)
                .map(|(a, _)| *a)
        {
            self.peers.remove(&oldest);
        }
    }

    fn random_below_3(&mut self) -> i64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (((self.rng >> 32) * 3) >> 32) as i64
    }

    /// Heap bytes held.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.peers.capacity() * (size_of::<u32>() + size_of::<Peer>() + 1)
    }

    #[cfg(test)]
    pub(crate) fn credit(&self) -> i64 {
        self.credit
    }

    #[cfg(test)]
    pub(crate) fn peers(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u32 = 0x0a00_0009;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// What one error costs, in Linux's order: the route charge (if any), the instance check,
    /// the destination's bucket.
    fn send(rl: &mut RateLimiter, cfg: &IcmpConfig, t: Instant, dst: u32, route: bool) -> bool {
        if route && !rl.route_error_allow(cfg, t, dst) {
            return false;
        }
        rl.global_allow(cfg, t) && rl.peer_allow(cfg, t, dst)
    }

    #[test]
    fn a_destination_gets_six_then_one_per_second() {
        let cfg = IcmpConfig::default();
        let mut rl = RateLimiter::default();
        let sent = (0..10)
            .filter(|_| send(&mut rl, &cfg, ms(0), A, false))
            .count();
        assert_eq!(sent, 6);
        // 1 s is 250 ticks: 996 ms is 249.
        assert!(!send(&mut rl, &cfg, ms(996), A, false));
        assert!(send(&mut rl, &cfg, ms(1000), A, false));
        assert!(
            send(&mut rl, &cfg, ms(1000), A + 1, false),
            "another destination"
        );
    }

    #[test]
    fn unreachable_routes_charge_twice_so_traceroute_sees_two_answers_of_three() {
        let cfg = IcmpConfig::default();
        let mut rl = RateLimiter::default();
        let three: Vec<bool> = (0..3)
            .map(|_| send(&mut rl, &cfg, ms(0), A, true))
            .collect();
        assert_eq!(three, [true, true, false]);
        // The bucket is empty now: the route charge refuses without spending.
        assert!(!send(&mut rl, &cfg, ms(10), A, true));
        // The same entry limits other errors: it is empty for them too.
        assert!(!send(&mut rl, &cfg, ms(10), A, false));
        // Two seconds later: two route charges' worth.
        assert!(send(&mut rl, &cfg, ms(2010), A, true));
        assert!(!send(&mut rl, &cfg, ms(2010), A, true));
    }

    #[test]
    fn the_instance_credit_refills_only_when_spent_and_after_20_ms() {
        let cfg = IcmpConfig {
            ratelimit: Duration::ZERO,
            ..IcmpConfig::default()
        };
        let mut rl = RateLimiter::default();
        // Full at first: 50 credits, each error spending 0, 1 or 2.
        let mut sent = 0;
        while send(&mut rl, &cfg, ms(0), A, false) {
            sent += 1;
            assert!(sent < 200, "never runs out");
        }
        assert!(rl.credit() <= 0);
        // Averaging one credit per error, 50 credits pass about 50 errors.
        assert!((20..=100).contains(&sent), "{sent}");
        // Within 20 ms (5 ticks) nothing comes back.
        assert!(!send(&mut rl, &cfg, ms(19), A, false));
        // At 20 ms: 1000/s × 5 ticks = 20 credits on top of the deficit.
        let before = rl.credit();
        assert!(send(&mut rl, &cfg, ms(20), A, false) || before < -19);
        assert!(rl.credit() <= before + 20);
    }

    #[test]
    fn the_instance_limit_allows_about_msgs_per_sec_under_a_flood() {
        let cfg = IcmpConfig {
            ratelimit: Duration::ZERO,
            ..IcmpConfig::default()
        };
        let mut rl = RateLimiter::default();
        // One error offered every 100 µs for 10 s, from ever new sources.
        let sent = (0..100_000u64)
            .filter(|i| {
                send(
                    &mut rl,
                    &cfg,
                    Instant::from_nanos(i * 100_000),
                    *i as u32,
                    false,
                )
            })
            .count();
        // ~1000/s, less the refills lost to the 20 ms floor: Linux measures about 1000/s.
        assert!((9_000..=10_100).contains(&sent), "{sent}");
    }

    #[test]
    fn redirects_back_off_and_stop_after_nine() {
        let cfg = IcmpConfig::default();
        let mut rl = RateLimiter::default();
        // The first, then none until 20 ms << 1 has passed, then 20 ms << 2, ...
        assert!(rl.redirect_allow(&cfg, ms(0), A));
        assert!(!rl.redirect_allow(&cfg, ms(40), A));
        assert!(rl.redirect_allow(&cfg, ms(44), A));
        let mut t = 44;
        let mut sent = 2;
        for _ in 0..200 {
            t += 400;
            sent += usize::from(rl.redirect_allow(&cfg, ms(t), A));
        }
        assert_eq!(sent, 9, "nine, then silence");
        // The first redirect to a new source zeroed its tokens: an error right after is
        // refused, as Linux refuses it.
        let b = A + 1;
        assert!(rl.redirect_allow(&cfg, ms(100_000), b));
        assert!(!send(&mut rl, &cfg, ms(100_000), b, false));
        assert!(send(&mut rl, &cfg, ms(101_000), b, false));
    }

    #[test]
    fn frag_needed_and_unmasked_types_are_not_limited() {
        let cfg = IcmpConfig::default();
        assert!(!limited(&cfg, 3, 4));
        assert!(limited(&cfg, 3, 1));
        assert!(limited(&cfg, 11, 0));
        assert!(limited(&cfg, 12, 0));
        assert!(!limited(&cfg, 0, 0));
        assert!(!limited(&cfg, 8, 0));
        assert!(!limited(&cfg, 200, 0));
    }

    #[test]
    fn idle_entries_go_and_the_map_stays_bounded() {
        let cfg = IcmpConfig {
            peer_threshold: 2000,
            ..IcmpConfig::default()
        };
        let mut rl = RateLimiter::default();
        for i in 0..5000u32 {
            send(&mut rl, &cfg, ms(u64::from(i)), i, false);
        }
        assert!(rl.peers() <= 2000, "{}", rl.peers());
        // Ten seconds on, every entry is idle longer than a burst: sweeping keeps the new one.
        for i in 0..SWEEP_AT as u32 {
            send(&mut rl, &cfg, ms(20_000), 100_000 + i, false);
        }
        assert!(rl.peers() <= SWEEP_AT + 1, "{}", rl.peers());
    }
}
