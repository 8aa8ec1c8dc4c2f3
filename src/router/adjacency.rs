//! The fast path's adjacency cache: for each next hop of `main` through a gateway, what
//! forwarding through it takes — the egress interface, its MTU and the twelve bytes of
//! Ethernet addresses to write — so that a packet whose next hop is cached reads one entry
//! rather than the next hop, the egress interface and the neighbour cache (VPP's and Linux's
//! "adjacency": a next hop with its link-layer header).
//!
//! An entry holds for one *epoch*: the sum of the FIB's, the interfaces' and the neighbour
//! cache's generations. Each of them only grows, and every change that could change an entry
//! bumps one (routes and rules; an interface's state, MTU or MAC; any change to the neighbour
//! cache's cache of reachable entries), so an equal sum means nothing changed. Within its epoch
//! an entry answers until its neighbour's reachable time ends — exactly when the neighbour
//! cache would stop answering from its cache of reachable entries — so a hit is what the full
//! fast path would have done, with the same (absent) side effects.

use super::iface::IfaceId;

/// What forwarding through one next hop takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adjacency {
    /// The epoch the entry belongs to (0: an empty entry; an epoch is never 0).
    pub(crate) epoch: u64,
    /// Nanoseconds at which the next hop's neighbour entry stops being reachable.
    pub(crate) until: u64,
    /// The next hop's MAC, then the egress interface's: the frame's new first twelve bytes.
    pub(crate) macs: [u8; 12],
    /// The egress interface's MTU.
    pub(crate) mtu: u16,
    /// The egress interface.
    pub(crate) egress: IfaceId,
}

impl Adjacency {
    /// An entry that holds at no epoch.
    pub(crate) const EMPTY: Adjacency = Adjacency {
        epoch: 0,
        until: 0,
        macs: [0; 12],
        mtu: 0,
        egress: IfaceId(0),
    };

    /// Whether the entry holds at `epoch` and `now` (nanoseconds).
    #[inline(always)]
    pub(crate) fn holds(&self, epoch: u64, now: u64) -> bool {
        self.epoch == epoch && now < self.until
    }
}

/// The entries, by the id of their next hop in `main`. Empty until the fast path first
/// forwards through a gateway; then as long as the highest id used.
#[derive(Debug, Default)]
pub(crate) struct Adjacencies {
    entries: Vec<Adjacency>,
}

impl Adjacencies {
    /// The entry for next hop `id` if it holds at `epoch` and `now` (nanoseconds).
    #[inline(always)]
    pub(crate) fn get(&self, id: u16, epoch: u64, now: u64) -> Option<&Adjacency> {
        self.entries
            .get(usize::from(id))
            .filter(|a| a.holds(epoch, now))
    }

    /// Remember `adjacency` for next hop `id`.
    pub(crate) fn put(&mut self, id: u16, adjacency: Adjacency) {
        let i = usize::from(id);
        if i >= self.entries.len() {
            self.entries.resize(i + 1, Adjacency::EMPTY);
        }
        self.entries[i] = adjacency;
    }

    /// Heap bytes held.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<Adjacency>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_for_its_epoch_until_its_time() {
        let mut cache = Adjacencies::default();
        assert!(cache.get(3, 1, 0).is_none());
        let entry = Adjacency {
            epoch: 5,
            until: 100,
            macs: [2; 12],
            mtu: 1500,
            egress: IfaceId(1),
        };
        cache.put(3, entry);
        assert_eq!(cache.get(3, 5, 99).map(|a| a.egress), Some(IfaceId(1)));
        assert!(cache.get(3, 5, 100).is_none(), "past its time");
        assert!(cache.get(3, 6, 0).is_none(), "another epoch");
        assert!(
            cache.get(2, 0, 0).is_none(),
            "an empty entry matches no epoch"
        );
        assert!(cache.get(4, 5, 0).is_none());
    }
}
