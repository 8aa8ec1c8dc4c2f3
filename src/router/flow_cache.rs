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

use super::fib::NextHop;

/// Slots; a power of two.
const SLOTS: usize = 256;

/// What identifies a flow to the classifier and the rules: source, destination, both ports,
/// and TOS, protocol and ingress interface packed in one word.
pub(crate) type FlowId = [u32; 4];

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: FlowId,
    /// The FIB generation the answer belongs to; 0 marks an empty slot.
    generation: u64,
    /// The next hop, or `None` for "network unreachable".
    answer: Option<NextHop>,
}

/// The cache.
#[derive(Debug, Default)]
pub(crate) struct FlowCache {
    slots: Vec<Entry>,
}

impl FlowCache {
    /// The cached answer for `id` at `generation` (which is never 0).
    #[inline]
    pub(crate) fn get(&self, id: &FlowId, generation: u64) -> Option<Option<NextHop>> {
        let e = self.slots.get(slot(id))?;
        (e.generation == generation && e.id == *id).then_some(e.answer)
    }

    /// Remember `answer` for `id` at `generation`.
    pub(crate) fn put(&mut self, id: FlowId, generation: u64, answer: Option<NextHop>) {
        if self.slots.is_empty() {
            let empty = Entry {
                id: [0; 4],
                generation: 0,
                answer: None,
            };
            self.slots = vec![empty; SLOTS];
        }
        self.slots[slot(&id)] = Entry {
            id,
            generation,
            answer,
        };
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
        assert_eq!(c.get(&id, 1), None);
        assert_eq!(c.mem_bytes(), 0, "nothing until first use");
        let hop = NextHop::of_kind(RouteKind::Unicast);
        c.put(id, 1, Some(hop));
        assert_eq!(c.get(&id, 1), Some(Some(hop)));
        assert_eq!(c.get(&id, 2), None, "stale after a change");
        assert_eq!(c.get(&[1, 2, 3, 5], 1), None);
        c.put(id, 2, None);
        assert_eq!(c.get(&id, 2), Some(None), "unreachable is an answer too");
    }
}
