//! The neighbour (ARP) cache: IPv4 next hop → Ethernet address, per interface (RFC 826).
//!
//! The states follow Linux's neighbour subsystem (NUD_*) with its default timings:
//! an unknown next hop becomes `Incomplete` and is asked for by broadcast up to
//! `mcast_solicit` times, `retrans` apart, while up to `queue_len` frames wait for it (the
//! oldest is dropped on overflow); no answer fails the entry and its queued frames. An answered
//! entry is `Reachable` for `reachable` after its last confirmation, then `Stale`: still used,
//! but the first use moves it to `Delay`, and `delay_first_probe` later to `Probe`, where up to
//! `ucast_solicit` unicast requests must be answered or the entry is dropped. Stale entries
//! unused for `gc_stale` are swept. Replies that nobody asked for create nothing but refresh an
//! existing entry (Linux's arp_accept=0).
//!
//! The cache is sans-IO: it returns what to send ([`Event`]) and never sends itself.

use core::time::Duration;
use std::net::Ipv4Addr;

use rustc_hash::FxHashMap;

use super::iface::IfaceId;
use crate::frame::Frame;
use crate::time::Instant;
use crate::wire::ethernet;

/// Timings and limits; defaults are Linux's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighConfig {
    /// Interval between requests (retrans_time_ms).
    pub retrans: Duration,
    /// Broadcast requests before an unresolved entry fails (mcast_solicit).
    pub mcast_solicit: u8,
    /// Unicast probes before a stale entry is dropped (ucast_solicit).
    pub ucast_solicit: u8,
    /// How long a confirmation keeps an entry reachable (base_reachable_time, not randomised
    /// so simulations are deterministic).
    pub reachable: Duration,
    /// Wait in `Delay` before probing (delay_first_probe_time).
    pub delay_first_probe: Duration,
    /// Stale entries unused this long are removed (gc_stale_time).
    pub gc_stale: Duration,
    /// Frames held per unresolved next hop. Linux bounds it in bytes (unres_qlen_bytes,
    /// 212,992: about 100 small packets); we count frames.
    pub queue_len: usize,
}

impl Default for NeighConfig {
    fn default() -> NeighConfig {
        NeighConfig {
            retrans: Duration::from_secs(1),
            mcast_solicit: 3,
            ucast_solicit: 3,
            reachable: Duration::from_secs(30),
            delay_first_probe: Duration::from_secs(5),
            gc_stale: Duration::from_secs(60),
            queue_len: 64,
        }
    }
}

/// State of an entry (Linux's NUD states that matter to a router).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Asked for, no answer yet.
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Address known but not confirmed recently.
    Stale,
    /// Used while stale; probing starts when the timer fires.
    Delay,
    /// Unicast probes in flight.
    Probe,
}

/// A frame waiting for its next hop, with the interface it arrived on (for the ICMP error if
/// resolution fails; `None` for locally originated frames).
#[derive(Debug)]
pub struct Queued {
    /// The frame, Ethernet header space included.
    pub frame: Frame,
    /// Where it came in.
    pub ingress: Option<IfaceId>,
}

/// What the cache asks the router to do.
#[derive(Debug)]
pub enum Event {
    /// Send an ARP request for `ip` on `iface`, broadcast or to the known `unicast` address.
    Request {
        iface: IfaceId,
        ip: Ipv4Addr,
        unicast: Option<ethernet::Address>,
    },
    /// Resolution failed: these frames will never be sent.
    Failed { iface: IfaceId, frames: Vec<Queued> },
}

/// Outcome of queueing a frame behind an unresolved next hop.
#[derive(Debug)]
pub enum Enqueued {
    /// The entry is new: send the first request now.
    New,
    /// Queued behind a request already in flight.
    Waiting,
    /// Queued, and this older frame was pushed out.
    Overflow(Queued),
}

#[derive(Debug)]
struct Entry {
    mac: ethernet::Address,
    state: State,
    /// Last confirmation; `None` for an entry never confirmed (Linux dates a new entry's
    /// confirmation two reachable times back, so that using it probes).
    confirmed: Option<Instant>,
    used: Instant,
    timer: Option<Instant>,
    probes: u8,
    queue: Vec<Queued>,
}

type Key = (IfaceId, u32);

/// Slots of the direct-mapped cache of reachable entries in front of the map.
const HOT_SLOTS: usize = 8;

/// The hot cache's slot for `key`.
#[inline(always)]
fn hot_slot((iface, ip): Key) -> usize {
    (ip as usize ^ usize::from(iface.0)) % HOT_SLOTS
}

/// A reachable entry, cached for the fast path until its reachable time ends.
#[derive(Debug, Clone, Copy, Default)]
struct Hot {
    key: Option<Key>,
    mac: ethernet::Address,
    /// Nanoseconds at which the entry stops being reachable.
    until: u64,
}

/// The cache of one router instance.
#[derive(Debug, Default)]
pub struct NeighCache {
    entries: FxHashMap<Key, Entry>,
    /// Reachable entries by `(ip ^ iface) % HOT_SLOTS`; emptied by every change to `entries`,
    /// so a hit is always what the map would answer.
    hot: [Hot; HOT_SLOTS],
    /// Bumped by every change to `hot` (see [`NeighCache::generation`]).
    generation: u64,
    next_timer: Option<Instant>,
    next_sweep: Option<Instant>,
}

/// Interval of the aging sweep while the cache is not empty.
const SWEEP_INTERVAL: Duration = Duration::from_secs(15);

impl NeighCache {
    /// The frames waiting for a next hop to resolve.
    pub fn held(&self) -> impl Iterator<Item = &Frame> {
        self.entries
            .values()
            .flat_map(|e| e.queue.iter().map(|q| &q.frame))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// State and address of an entry, for inspection.
    pub fn get(&self, iface: IfaceId, ip: Ipv4Addr) -> Option<(State, ethernet::Address)> {
        self.entries
            .get(&(iface, u32::from(ip)))
            .map(|e| (e.state, e.mac))
    }

    /// Every entry as `(iface, ip, state, mac)`.
    pub fn entries(
        &self,
    ) -> impl Iterator<Item = (IfaceId, Ipv4Addr, State, ethernet::Address)> + '_ {
        self.entries
            .iter()
            .map(|(&(i, ip), e)| (i, Ipv4Addr::from(ip), e.state, e.mac))
    }

    /// The fast path: the address to send to, if known. Using a stale entry starts the
    /// delay-then-probe cycle.
    #[inline(always)]
    pub fn lookup(
        &mut self,
        now: Instant,
        cfg: &NeighConfig,
        iface: IfaceId,
        ip: Ipv4Addr,
    ) -> Option<ethernet::Address> {
        let key = (iface, u32::from(ip));
        let slot = hot_slot(key);
        let hot = &self.hot[slot];
        if hot.key == Some(key) && now.as_nanos() < hot.until {
            return Some(hot.mac);
        }
        self.lookup_map(now, cfg, key, slot)
    }

    /// Counts changes to the cache of reachable entries that [`NeighCache::lookup`] answers
    /// from first: while it stays the same, a lookup that [`NeighCache::reachable_until`]
    /// answered for is answered from that cache, the same address until the same time, and
    /// changes nothing.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// When the entry for `ip` on `iface` stops being reachable, if [`NeighCache::lookup`]
    /// answers it from its cache of reachable entries (as it does right after answering it).
    pub(crate) fn reachable_until(&self, iface: IfaceId, ip: Ipv4Addr) -> Option<u64> {
        let key = (iface, u32::from(ip));
        let hot = &self.hot[hot_slot(key)];
        (hot.key == Some(key)).then_some(hot.until)
    }

    fn clear_hot(&mut self) {
        self.hot = Default::default();
        self.generation += 1;
    }

    /// [`NeighCache::lookup`] past the hot cache: the map, and the state machine on use.
    #[inline(never)]
    fn lookup_map(
        &mut self,
        now: Instant,
        cfg: &NeighConfig,
        key: Key,
        slot: usize,
    ) -> Option<ethernet::Address> {
        let e = self.entries.get_mut(&key)?;
        e.used = now;
        if e.state == State::Reachable
            && let Some(c) = e.confirmed.filter(|&c| now - c < cfg.reachable)
        {
            let until = (c + cfg.reachable).as_nanos();
            self.hot[slot] = Hot {
                key: Some(key),
                mac: e.mac,
                until,
            };
            self.generation += 1;
            return Some(e.mac);
        }
        match e.state {
            State::Incomplete => return None,
            State::Reachable | State::Stale => {
                e.state = State::Delay;
                let at = now + cfg.delay_first_probe;
                e.timer = Some(at);
                self.next_timer = Some(self.next_timer.map_or(at, |t| t.min(at)));
            }
            State::Delay | State::Probe => {}
        }
        Some(e.mac)
    }

    /// Hold `frame` until `ip` resolves, creating an incomplete entry if there is none.
    pub fn enqueue(
        &mut self,
        now: Instant,
        cfg: &NeighConfig,
        iface: IfaceId,
        ip: Ipv4Addr,
        q: Queued,
    ) -> Enqueued {
        self.clear_hot();
        let key = (iface, u32::from(ip));
        if let Some(e) = self.entries.get_mut(&key) {
            e.used = now;
            let pushed_out = if e.queue.len() >= cfg.queue_len.max(1) {
                Some(e.queue.remove(0))
            } else {
                None
            };
            e.queue.push(q);
            return match pushed_out {
                Some(old) => Enqueued::Overflow(old),
                None => Enqueued::Waiting,
            };
        }
        let at = now + cfg.retrans;
        self.entries.insert(
            key,
            Entry {
                mac: ethernet::Address::default(),
                state: State::Incomplete,
                confirmed: None,
                used: now,
                timer: Some(at),
                probes: 1,
                queue: vec![q],
            },
        );
        self.arm(now, at);
        Enqueued::New
    }

    /// An ARP reply from `ip`: confirm an existing entry (creating none). Returns the frames
    /// that were waiting, or `None` if nobody asked.
    pub fn confirm(
        &mut self,
        now: Instant,
        iface: IfaceId,
        ip: Ipv4Addr,
        mac: ethernet::Address,
    ) -> Option<Vec<Queued>> {
        self.clear_hot();
        let e = self.entries.get_mut(&(iface, u32::from(ip)))?;
        e.mac = mac;
        e.state = State::Reachable;
        e.confirmed = Some(now);
        e.timer = None;
        e.probes = 0;
        Some(core::mem::take(&mut e.queue))
    }

    /// A neighbour showed its address without being asked (an ARP request). With `create`, a
    /// missing entry is made `Stale` (Linux does this for requests aimed at us); an existing one
    /// takes the address, going `Stale` if it changed. Returns frames that were waiting.
    pub fn learn(
        &mut self,
        now: Instant,
        iface: IfaceId,
        ip: Ipv4Addr,
        mac: ethernet::Address,
        create: bool,
    ) -> Vec<Queued> {
        self.clear_hot();
        let key = (iface, u32::from(ip));
        match self.entries.get_mut(&key) {
            Some(e) if e.state == State::Incomplete || e.mac != mac => {
                e.mac = mac;
                e.state = State::Stale;
                e.timer = None;
                e.probes = 0;
                core::mem::take(&mut e.queue)
            }
            Some(_) => Vec::new(),
            None if create => {
                self.entries.insert(
                    key,
                    Entry {
                        mac,
                        state: State::Stale,
                        confirmed: None,
                        used: now,
                        timer: None,
                        probes: 0,
                        queue: Vec::new(),
                    },
                );
                self.arm(now, now + SWEEP_INTERVAL);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// Drop every entry on `iface`, returning their queued frames.
    pub fn flush_iface(&mut self, iface: IfaceId) -> Vec<Queued> {
        self.clear_hot();
        let mut frames = Vec::new();
        self.entries.retain(|&(i, _), e| {
            if i == iface {
                frames.append(&mut e.queue);
            }
            i != iface
        });
        frames
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_timer, self.next_sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run retries, probes and aging due at `now`, pushing what must be sent onto `events`.
    pub fn handle_timeout(&mut self, now: Instant, cfg: &NeighConfig, events: &mut Vec<Event>) {
        self.clear_hot();
        let sweep = self.next_sweep.is_some_and(|t| t <= now);
        let mut next: Option<Instant> = None;
        self.entries.retain(|&(iface, ip), e| {
            let ip = Ipv4Addr::from(ip);
            if let Some(t) = e.timer.filter(|&t| t <= now) {
                let _ = t;
                match e.state {
                    State::Incomplete if e.probes < cfg.mcast_solicit => {
                        e.probes += 1;
                        e.timer = Some(now + cfg.retrans);
                        events.push(Event::Request {
                            iface,
                            ip,
                            unicast: None,
                        });
                    }
                    State::Incomplete => {
                        events.push(Event::Failed {
                            iface,
                            frames: core::mem::take(&mut e.queue),
                        });
                        return false;
                    }
                    State::Delay if e.confirmed.is_some_and(|c| now - c < cfg.reachable) => {
                        e.state = State::Reachable;
                        e.timer = None;
                    }
                    State::Delay => {
                        e.state = State::Probe;
                        e.probes = 1;
                        e.timer = Some(now + cfg.retrans);
                        events.push(Event::Request {
                            iface,
                            ip,
                            unicast: Some(e.mac),
                        });
                    }
                    State::Probe if e.probes < cfg.ucast_solicit => {
                        e.probes += 1;
                        e.timer = Some(now + cfg.retrans);
                        events.push(Event::Request {
                            iface,
                            ip,
                            unicast: Some(e.mac),
                        });
                    }
                    State::Probe => return false,
                    State::Reachable | State::Stale => e.timer = None,
                }
            }
            if sweep {
                if e.state == State::Reachable
                    && e.confirmed.is_none_or(|c| now - c >= cfg.reachable)
                {
                    e.state = State::Stale;
                }
                if e.state == State::Stale && now - e.used >= cfg.gc_stale {
                    return false;
                }
            }
            if let Some(t) = e.timer {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            true
        });
        self.next_timer = next;
        if sweep || self.next_sweep.is_none() {
            self.next_sweep = (!self.entries.is_empty()).then(|| now + SWEEP_INTERVAL);
        }
    }

    /// Note a new deadline and make sure the aging sweep runs while entries exist.
    fn arm(&mut self, now: Instant, at: Instant) {
        self.next_timer = Some(self.next_timer.map_or(at, |t| t.min(at)));
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now + SWEEP_INTERVAL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Pool;

    const IF0: IfaceId = IfaceId(0);
    const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const MAC: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 2]);

    fn at(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    fn requests(events: &[Event]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, Event::Request { .. }))
            .count()
    }

    #[test]
    fn unanswered_resolution_retries_then_fails_with_its_queue() {
        let cfg = NeighConfig::default();
        let mut pool = Pool::new(16).unwrap();
        let mut n = NeighCache::default();
        let q = |pool: &mut Pool| Queued {
            frame: pool.alloc().unwrap(),
            ingress: Some(IfaceId(1)),
        };
        assert!(matches!(
            n.enqueue(at(0), &cfg, IF0, IP, q(&mut pool)),
            Enqueued::New
        ));
        assert!(matches!(
            n.enqueue(at(0), &cfg, IF0, IP, q(&mut pool)),
            Enqueued::Waiting
        ));
        assert_eq!(n.lookup(at(0), &cfg, IF0, IP), None);
        let mut ev = Vec::new();
        let mut t = at(0);
        let mut failed = 0;
        while let Some(next) = n.poll_timeout() {
            t = next;
            n.handle_timeout(t, &cfg, &mut ev);
            for e in ev.drain(..) {
                match e {
                    Event::Request { .. } => {}
                    Event::Failed { frames, .. } => {
                        failed += frames.len();
                        frames.into_iter().for_each(|q| pool.free(q.frame));
                    }
                }
            }
            if n.is_empty() {
                break;
            }
        }
        assert_eq!(failed, 2);
        assert_eq!(t, at(3), "three requests one second apart, then failure");
    }

    #[test]
    fn queue_is_bounded_dropping_the_oldest() {
        let cfg = NeighConfig {
            queue_len: 2,
            ..NeighConfig::default()
        };
        let mut pool = Pool::new(8).unwrap();
        let mut n = NeighCache::default();
        for i in 0..3 {
            let frame = pool.alloc().unwrap();
            let out = n.enqueue(
                at(0),
                &cfg,
                IF0,
                IP,
                Queued {
                    frame,
                    ingress: None,
                },
            );
            if i == 2 {
                let Enqueued::Overflow(old) = out else {
                    panic!("expected overflow")
                };
                assert_eq!(old.frame.index(), 0, "the first frame queued is pushed out");
                pool.free(old.frame);
            }
        }
        let frames = n.confirm(at(0), IF0, IP, MAC).unwrap();
        assert_eq!(frames.len(), 2);
        frames.into_iter().for_each(|q| pool.free(q.frame));
    }

    #[test]
    fn unsolicited_replies_create_nothing_but_refresh() {
        let cfg = NeighConfig::default();
        let mut n = NeighCache::default();
        assert!(n.confirm(at(0), IF0, IP, MAC).is_none());
        assert!(n.is_empty());
        n.learn(at(0), IF0, IP, MAC, false);
        assert!(n.is_empty());
        n.learn(at(0), IF0, IP, MAC, true);
        assert_eq!(n.get(IF0, IP), Some((State::Stale, MAC)));
        let other = ethernet::Address([2, 0, 0, 0, 0, 9]);
        assert!(n.confirm(at(1), IF0, IP, other).is_some());
        assert_eq!(n.get(IF0, IP), Some((State::Reachable, other)));
        assert_eq!(n.lookup(at(2), &cfg, IF0, IP), Some(other));
    }

    #[test]
    fn stale_use_probes_by_unicast_and_silence_removes() {
        let cfg = NeighConfig::default();
        let mut n = NeighCache::default();
        let mut ev = Vec::new();
        n.learn(at(0), IF0, IP, MAC, true);
        n.confirm(at(0), IF0, IP, MAC).unwrap();
        // Reachable for 30 s, then the next use goes to Delay and 5 s later to Probe.
        assert_eq!(n.lookup(at(40), &cfg, IF0, IP), Some(MAC));
        assert_eq!(n.get(IF0, IP).unwrap().0, State::Delay);
        n.handle_timeout(at(45), &cfg, &mut ev);
        assert_eq!(n.get(IF0, IP).unwrap().0, State::Probe);
        assert!(matches!(
            ev[..],
            [Event::Request {
                unicast: Some(MAC),
                ..
            }]
        ));
        for s in 46..=48 {
            n.handle_timeout(at(s), &cfg, &mut ev);
        }
        assert_eq!(requests(&ev), 3);
        assert!(n.is_empty());
    }

    #[test]
    fn the_hot_cache_never_disagrees_with_the_map() {
        let cfg = NeighConfig::default();
        let mut n = NeighCache::default();
        n.learn(at(0), IF0, IP, MAC, true);
        n.confirm(at(0), IF0, IP, MAC).unwrap();
        assert_eq!(n.lookup(at(1), &cfg, IF0, IP), Some(MAC), "fills the cache");
        assert_eq!(
            n.lookup(at(2), &cfg, IF0, IP),
            Some(MAC),
            "served from the cache"
        );
        let moved = ethernet::Address([2, 0, 0, 0, 0, 7]);
        n.confirm(at(3), IF0, IP, moved).unwrap();
        assert_eq!(
            n.lookup(at(4), &cfg, IF0, IP),
            Some(moved),
            "a new address is seen at once"
        );
        assert_eq!(
            n.lookup(at(20), &cfg, IF0, Ipv4Addr::new(10, 0, 0, 3)),
            None
        );
        // Past the reachable time the cache no longer answers: the map moves the entry on.
        assert_eq!(n.lookup(at(34), &cfg, IF0, IP), Some(moved));
        assert_eq!(n.get(IF0, IP).unwrap().0, State::Delay);
    }

    #[test]
    fn unused_stale_entries_age_out() {
        let cfg = NeighConfig::default();
        let mut n = NeighCache::default();
        let mut ev = Vec::new();
        n.learn(at(0), IF0, IP, MAC, true);
        let mut t = at(0);
        while !n.is_empty() {
            t = n.poll_timeout().unwrap();
            n.handle_timeout(t, &cfg, &mut ev);
        }
        assert!(t >= at(60) && t <= at(75), "swept at {t:?}");
        assert!(ev.is_empty());
        assert_eq!(n.poll_timeout(), None, "an empty cache sets no timer");
    }
}
