//! Multipath (ECMP) routes: a group of next hops with weights, one chosen per flow.
//!
//! The choice hashes the flow's addresses, protocol and ports (0 for protocols without ports
//! and for fragments after the first), so every packet of a flow takes the same path and flows
//! spread in proportion to the weights: each member owns a share of the 31-bit hash space, as
//! Linux's hash-threshold selection does. Which member a given flow gets differs from Linux
//! (Linux's hash is keyed by a random per-boot secret); the set of members and their shares
//! are the same.

use super::NextHop;
use super::rule::FlowKey;

/// The members of one multipath route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    members: Vec<(NextHop, u16)>,
    /// Upper bound of each member's share of the hash space, in member order.
    bounds: Vec<u32>,
}

impl Group {
    /// A group of `(next hop, weight)` pairs; weights of 0 count as 1.
    pub fn new(members: &[(NextHop, u16)]) -> Group {
        let total: u64 = members.iter().map(|&(_, w)| u64::from(w.max(1))).sum();
        let mut acc = 0u64;
        let bounds = members
            .iter()
            .map(|&(_, w)| {
                acc += u64::from(w.max(1));
                ((acc << 31) / total.max(1)).saturating_sub(1) as u32
            })
            .collect();
        Group {
            members: members.to_vec(),
            bounds,
        }
    }

    /// The members with their weights.
    pub fn members(&self) -> &[(NextHop, u16)] {
        &self.members
    }

    /// The member for this flow.
    pub fn pick(&self, key: &FlowKey) -> Option<&NextHop> {
        let h = flow_hash(key) >> 1;
        let i = self.bounds.iter().position(|&b| h <= b)?;
        self.members.get(i).map(|(nh, _)| nh)
    }

    /// Heap bytes.
    pub fn mem_bytes(&self) -> usize {
        self.members.capacity() * size_of::<(NextHop, u16)>() + self.bounds.capacity() * 4
    }
}

/// A 32-bit hash of the flow's 5-tuple (murmur3's 64-bit finaliser).
pub fn flow_hash(key: &FlowKey) -> u32 {
    let addrs = (u64::from(u32::from(key.src)) << 32) | u64::from(u32::from(key.dst));
    let rest = (u64::from(key.proto) << 32) | (u64::from(key.sport) << 16) | u64::from(key.dport);
    let mut h = addrs ^ rest.rotate_left(23);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::router::fib::RouteKind;
    use crate::router::iface::IfaceId;

    fn hop(dev: u16) -> NextHop {
        NextHop {
            dev: Some(IfaceId(dev)),
            ..NextHop::of_kind(RouteKind::Unicast)
        }
    }

    #[test]
    fn flows_stick_to_a_member_and_spread_by_weight() {
        let g = Group::new(&[(hop(0), 1), (hop(1), 3)]);
        let mut counts = [0u32; 2];
        for i in 0..40_000u32 {
            let key = FlowKey {
                src: Ipv4Addr::from(0x0a00_0000 + i),
                proto: 17,
                sport: (i % 1000) as u16,
                dport: 53,
                ..FlowKey::to(Ipv4Addr::new(192, 0, 2, 1))
            };
            let first = g.pick(&key).unwrap();
            assert_eq!(g.pick(&key), Some(first), "stable for a flow");
            counts[usize::from(first.dev.unwrap().0)] += 1;
        }
        let share = f64::from(counts[1]) / 40_000.0;
        assert!((0.72..0.78).contains(&share), "weight 3 of 4 got {share}");
    }

    #[test]
    fn ports_change_the_choice() {
        let g = Group::new(&[(hop(0), 1), (hop(1), 1)]);
        let base = FlowKey {
            proto: 6,
            ..FlowKey::to(Ipv4Addr::new(192, 0, 2, 1))
        };
        let devs: std::collections::HashSet<_> = (0..64u16)
            .map(|p| g.pick(&FlowKey { sport: p, ..base }).unwrap().dev)
            .collect();
        assert_eq!(devs.len(), 2);
    }
}
