//! The forwarding database: which port a (VLAN, MAC) was last seen on.
//!
//! Keyed like the Linux bridge's FDB (`br_fdb.c`): one entry per VLAN and address, so the same
//! MAC may sit behind different ports in different VLANs. Learned entries age out `ageing`
//! after they were last refreshed (300 s by default, `ageing_time`); an entry past its age is
//! never used even before the sweep that frees it. Static entries never age and never move.
//! The table is bounded: when it holds `max` entries a new address is refused (counted by the
//! caller), so a MAC flood cannot take memory — Linux's `fdb_max_learned`.
//!
//! Every change to what a lookup would answer — an entry added, moved, removed, or refreshed
//! after it had aged — advances the table's generation, so a caller may keep an answer while
//! the generation stands (and, for a learned entry, until [`Fdb::lookup`] says it lapses).

use core::time::Duration;

use rustc_hash::FxHashMap;

use crate::time::Instant;
use crate::wire::ethernet::Address;

/// One entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Port the address is behind.
    pub port: u16,
    /// When a frame from it was last seen (meaningless for static entries).
    pub seen: Instant,
    /// Configured, not learned: never ages, never moves.
    pub fixed: bool,
}

/// What [`Fdb::learn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// A new entry.
    New,
    /// An entry refreshed on the same port, or a static one left alone.
    Refreshed,
    /// The address moved to another port.
    Moved,
    /// The table is full: not learned.
    Full,
}

/// The table.
#[derive(Debug, Clone)]
pub struct Fdb {
    map: FxHashMap<u64, Entry>,
    ageing: Duration,
    max: usize,
    /// When the next sweep of aged entries is due (none while no learned entry exists).
    sweep: Option<Instant>,
    /// Advanced by every change to what a lookup answers.
    generation: u64,
}

#[inline]
fn key(vid: u16, mac: Address) -> u64 {
    let m = mac.0;
    u64::from(vid) << 48 | u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

/// The (VLAN, MAC) of a key.
fn unkey(k: u64) -> (u16, Address) {
    let b = k.to_be_bytes();
    (
        (k >> 48) as u16,
        Address([b[2], b[3], b[4], b[5], b[6], b[7]]),
    )
}

impl Fdb {
    /// An empty table whose learned entries live `ageing` and which holds at most `max`.
    pub fn new(ageing: Duration, max: usize) -> Fdb {
        Fdb {
            map: FxHashMap::default(),
            ageing,
            max,
            sweep: None,
            generation: 0,
        }
    }

    /// The port `mac` is behind in `vid`, if known and not aged out at `now`.
    #[inline]
    pub fn lookup(&self, now: Instant, vid: u16, mac: Address) -> Option<u16> {
        self.answer(now, vid, mac).0
    }

    /// [`Fdb::lookup`], and the moment its answer lapses unless the generation changes first
    /// (`None`: it does not).
    #[inline]
    pub fn answer(&self, now: Instant, vid: u16, mac: Address) -> (Option<u16>, Option<Instant>) {
        match self.map.get(&key(vid, mac)) {
            Some(e) if e.fixed => (Some(e.port), None),
            Some(e) if now.saturating_since(e.seen) < self.ageing => {
                (Some(e.port), Some(e.seen + self.ageing))
            }
            // Unknown, or aged: so until it is learned (again), which changes the generation.
            _ => (None, None),
        }
    }

    /// The generation: it changes whenever what [`Fdb::lookup`] answers may have.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A frame from `mac` in `vid` arrived on `port` at `now`.
    #[inline]
    pub fn learn(&mut self, now: Instant, vid: u16, mac: Address, port: u16) -> Learned {
        let full = self.map.len() >= self.max;
        match self.map.get_mut(&key(vid, mac)) {
            Some(e) if e.fixed => Learned::Refreshed,
            Some(e) => {
                if now.saturating_since(e.seen) >= self.ageing {
                    self.generation += 1;
                }
                e.seen = now;
                if e.port == port {
                    Learned::Refreshed
                } else {
                    e.port = port;
                    self.generation += 1;
                    Learned::Moved
                }
            }
            None if full => Learned::Full,
            None => {
                self.generation += 1;
                let fixed = false;
                self.map.insert(
                    key(vid, mac),
                    Entry {
                        port,
                        seen: now,
                        fixed,
                    },
                );
                self.sweep.get_or_insert(now + self.ageing);
                Learned::New
            }
        }
    }

    /// Add a static entry (replacing a learned one). `false` when the table is full.
    pub fn add_static(&mut self, vid: u16, mac: Address, port: u16) -> bool {
        let k = key(vid, mac);
        if !self.map.contains_key(&k) && self.map.len() >= self.max {
            return false;
        }
        let e = Entry {
            port,
            seen: Instant::ZERO,
            fixed: true,
        };
        self.map.insert(k, e);
        self.generation += 1;
        true
    }

    /// Forget the learned entries on `port`, or on every port but `except` when `port` is
    /// `None` (what a topology change asks for). Returns how many went.
    pub fn flush(&mut self, port: Option<u16>, except: Option<u16>) -> usize {
        let before = self.map.len();
        self.map
            .retain(|_, e| e.fixed || Some(e.port) == except || port.is_some_and(|p| e.port != p));
        self.removed(before)
    }

    /// When [`Fdb::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sweep
    }

    /// Free the entries aged out at `now`. Returns how many went.
    pub fn handle_timeout(&mut self, now: Instant) -> usize {
        if self.sweep.is_none_or(|s| now < s) {
            return 0;
        }
        let before = self.map.len();
        let ageing = self.ageing;
        self.map
            .retain(|_, e| e.fixed || now.saturating_since(e.seen) < ageing);
        self.sweep = (self.map.values())
            .filter(|e| !e.fixed)
            .map(|e| e.seen + ageing)
            .min();
        self.removed(before)
    }

    /// How many entries went since the table held `before`, advancing the generation if any.
    fn removed(&mut self, before: usize) -> usize {
        let gone = before - self.map.len();
        if gone > 0 {
            self.generation += 1;
        }
        gone
    }

    /// Entries held (aged ones included until swept).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every entry as (VLAN, MAC, entry), sorted by VLAN then MAC.
    pub fn entries(&self) -> Vec<(u16, Address, Entry)> {
        let mut v: Vec<_> = self.map.iter().map(|(&k, &e)| (k, e)).collect();
        v.sort_unstable_by_key(|&(k, _)| k);
        v.into_iter()
            .map(|(k, e)| {
                let (vid, mac) = unkey(k);
                (vid, mac, e)
            })
            .collect()
    }

    /// How long learned entries live.
    pub fn ageing(&self) -> Duration {
        self.ageing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Address = Address([2, 0, 0, 0, 0, 1]);
    const S: Duration = Duration::from_secs(1);

    fn at(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    #[test]
    fn learns_moves_ages_and_refuses_when_full() {
        let mut f = Fdb::new(300 * S, 2);
        assert_eq!(f.learn(at(0), 1, A, 3), Learned::New);
        assert_eq!(f.lookup(at(1), 1, A), Some(3));
        assert_eq!(f.lookup(at(1), 2, A), None, "another VLAN");
        assert_eq!(f.learn(at(10), 1, A, 4), Learned::Moved);
        assert_eq!(f.lookup(at(309), 1, A), Some(4));
        assert_eq!(f.lookup(at(310), 1, A), None, "aged");
        assert_eq!(f.learn(at(10), 2, A, 1), Learned::New);
        assert_eq!(f.learn(at(10), 3, A, 1), Learned::Full);
        assert_eq!(f.poll_timeout(), Some(at(300)));
        assert_eq!(f.handle_timeout(at(300)), 0);
        assert_eq!(f.poll_timeout(), Some(at(310)));
        assert_eq!(f.handle_timeout(at(310)), 2);
        assert_eq!(f.poll_timeout(), None);
        assert!(f.is_empty());
    }

    #[test]
    fn static_entries_stay_and_flush_spares_them() {
        let mut f = Fdb::new(S, 8);
        assert!(f.add_static(1, A, 2));
        assert_eq!(f.learn(at(0), 1, A, 5), Learned::Refreshed);
        assert_eq!(f.lookup(at(1000), 1, A), Some(2));
        f.learn(at(0), 1, Address([2, 0, 0, 0, 0, 2]), 5);
        f.learn(at(0), 1, Address([2, 0, 0, 0, 0, 3]), 6);
        assert_eq!(f.flush(None, Some(6)), 1);
        assert_eq!(f.flush(Some(6), None), 1);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f.entries()[0],
            (
                1,
                A,
                Entry {
                    port: 2,
                    seen: Instant::ZERO,
                    fixed: true
                }
            )
        );
    }

    proptest! {
        /// Against a naive model: a list of (vid, mac, port, last seen), bounded, same ageing.
        #[test]
        fn matches_a_naive_table(
            ops in proptest::collection::vec((0u16..3, 0u8..6, 0u16..4, 0u64..50, any::<bool>()), 1..200),
        ) {
            let ageing = Duration::from_secs(20);
            let max = 8;
            let mut f = Fdb::new(ageing, max);
            let mut model: Vec<(u16, u8, u16, u64)> = Vec::new();
            let mut now = 0;
            for (vid, m, port, dt, sweep) in ops {
                now += dt;
                let t = at(now);
                if sweep {
                    f.handle_timeout(t);
                    // The model forgets what aged out; the sweep may free less (it runs
                    // on its own schedule) but never answers differently.
                }
                let mac = Address([2, 0, 0, 0, 0, m]);
                let live = |e: &(u16, u8, u16, u64)| now - e.3 < 20;
                let expect = model.iter().find(|e| e.0 == vid && e.1 == m && live(e)).map(|e| e.2);
                prop_assert_eq!(f.lookup(t, vid, mac), expect);
                // The model holds what the table holds: live entries and unswept aged ones.
                let held: Vec<_> = f.entries().iter().map(|&(v, a, _)| (v, a.0[5])).collect();
                model.retain(|e| held.contains(&(e.0, e.1)));
                let len = model.len();
                match model.iter_mut().find(|e| e.0 == vid && e.1 == m) {
                    Some(e) => { e.2 = port; e.3 = now; }
                    None if len < max => model.push((vid, m, port, now)),
                    None => {}
                }
                f.learn(t, vid, mac, port);
                prop_assert_eq!(f.len(), model.len());
                prop_assert!(f.len() <= max);
            }
        }
    }
}
