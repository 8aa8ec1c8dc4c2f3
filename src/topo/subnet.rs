//! Subnets of interfaces and links, as validation and auto routes both see them.

use super::Node;
use crate::router::IfAddr;

/// A subnet as (network, prefix length).
pub(super) type Subnet = (u32, u8);

pub(super) fn subnet(a: &IfAddr) -> Subnet {
    (u32::from(a.network()), a.len)
}

/// The subnets of a link's ends (or a lone interface's), each once, in order.
pub(super) fn subnets_of(ends: &[(usize, usize)], nodes: &[Node]) -> Vec<Subnet> {
    let mut out = Vec::new();
    for &(n, i) in ends {
        for s in nodes[n].ifaces[i].addrs.iter().map(subnet) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}
