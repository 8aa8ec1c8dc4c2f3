//! A per-instance cache of routing decisions under policy rules: the answer of the mark
//! classifier and the rule walk for a flow, kept in a small direct-mapped table keyed by
//! everything either can look at (addresses, TOS, protocol, ports, ingress).
//!
//! With Linux's default rules the fast path needs no cache (one `main` lookup answers). With
//! policy rules each packet would pay the classifier and a walk of every rule before its
//! table; a flow seen before pays a hash and one compare instead. Entries carry the FIB's
//! generation, so any change to routes, rules, interface groups or the classifier makes every
//! entry stale at once; a new flow simply replaces whatever shared its slot, so a flood of new
//! flows costs the walk it would have cost anyway, never more memory. The cache is allocated on
//! first use: an instance without policy rules carries an empty vector.
//!
//! An entry may also carry the flow's [`Adjacency`] — egress, MTU and Ethernet addresses — under
//! the adjacency cache's rules (its own epoch and time), so that a known flow skips the next hop,
//! the egress interface and the ARP cache as a `main` packet does.

use super::adjacency::Adjacency;
use super::fib::NextHop;

/// Slots; a power of two.
const SLOTS: usize = 256;

/// What identifies a flow to the classifier and the rules: source, destination, both ports,
/// and TOS, protocol and ingress interface packed in one word.
pub(crate) type FlowId = [u32; 4];

/// A flow's cached decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    id: FlowId,
    /// The FIB generation the answer belongs to; 0 marks an empty slot.
    generation: u64,
    /// The next hop, or `None` for "network unreachable".
    pub(crate) answer: Option<NextHop>,
    /// Where the next hop leads, while it holds ([`Adjacency::EMPTY`] until known).
    pub(crate) link: Adjacency,
}

/// The cache.
#[derive(Debug, Default)]
pub(crate) struct FlowCache {
    slots: Vec<Entry>,
}

impl FlowCache {
    /// The cached entry for `id` at `generation` (which is never 0).
    #[inline]
    pub(crate) fn get(&self, id: &FlowId, generation: u64) -> Option<&Entry> {
        let e = self.slots.get(slot(id))?;
        (e.generation == generation && e.id == *id).then_some(e)
    }

    /// Remember `answer` for `id` at `generation`.
    pub(crate) fn put(&mut self, id: FlowId, generation: u64, answer: Option<NextHop>) {
        if self.slots.is_empty() {
            let empty = Entry {
                id: [0; 4],
                generation: 0,
                answer: None,
                link: Adjacency::EMPTY,
            };
            self.slots = vec![empty; SLOTS];
        }
        self.slots[slot(&id)] = Entry {
            id,
            generation,
            answer,
            link: Adjacency::EMPTY,
        };
    }

    /// Remember where flow `id`'s next hop leads, if its entry is still cached.
    pub(crate) fn set_link(&mut self, id: &FlowId, link: Adjacency) {
        if let Some(e) = self.slots.get_mut(slot(id)).filter(|e| e.id == *id) {
            e.link = link;
        }
    }

    /// Heap bytes.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Entry>()
    }
}

#[inline]
fn slot(id: &FlowId) -> usize {
    let a = (u64::from(id[0]) << 32 | u64::from(id[1])).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = (u64::from(id[2]) << 32 | u64::from(id[3])).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    ((a ^ b) >> 56) as usize & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::fib::RouteKind;

    #[test]
    fn answers_belong_to_their_flow_and_generation() {
        let mut c = FlowCache::default();
        let id = [1, 2, 3, 4];
        let answer = |c: &FlowCache, id, generation| c.get(id, generation).map(|e| e.answer);
        assert_eq!(answer(&c, &id, 1), None);
        assert_eq!(c.mem_bytes(), 0, "nothing until first use");
        let hop = NextHop::of_kind(RouteKind::Unicast);
        c.put(id, 1, Some(hop));
        assert_eq!(answer(&c, &id, 1), Some(Some(hop)));
        assert_eq!(answer(&c, &id, 2), None, "stale after a change");
        assert_eq!(answer(&c, &[1, 2, 3, 5], 1), None);
        c.put(id, 2, None);
        assert_eq!(
            answer(&c, &id, 2),
            Some(None),
            "unreachable is an answer too"
        );
        let link = Adjacency {
            epoch: 3,
            until: 10,
            ..Adjacency::EMPTY
        };
        c.set_link(&[1, 2, 3, 5], link);
        assert!(!c.get(&id, 2).unwrap().link.holds(3, 0), "another flow's");
        c.set_link(&id, link);
        assert!(c.get(&id, 2).unwrap().link.holds(3, 0));
        c.put(id, 2, None);
        assert!(
            !c.get(&id, 2).unwrap().link.holds(3, 0),
            "a new answer, no link yet"
        );
    }
}
