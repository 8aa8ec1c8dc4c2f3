//! A line of routers with a host at each end: the setup of rump's startrouters.sh.
//!
//! ```text
//! h1 10.0.0.2 ─ r1 ─ r2 ─ … ─ rN ─ 10.2.0.2 h2
//! ```
//! h1's link is 10.0.0.0/24, h2's 10.2.0.0/24, and the link between routers i and i+1 is
//! 10.1.i.0/24 (router i is .1, router i+1 is .2). Each router routes h1's subnet to its left
//! neighbour and everything else to its right one, which is all ping and traceroute between
//! the hosts need.

use core::time::Duration;
use std::net::Ipv4Addr;

use super::{NodeId, Sim, SimError};
use crate::router::{Config, IfAddr};

/// A built chain and the names of its parts.
pub struct Chain {
    /// The network.
    pub sim: Sim,
    /// Left host.
    pub h1: NodeId,
    /// Right host.
    pub h2: NodeId,
    /// Routers, left to right.
    pub routers: Vec<NodeId>,
    /// h2's address.
    pub h2_addr: Ipv4Addr,
}

/// Most routers a chain can have with this addressing plan.
pub const MAX_ROUTERS: usize = 255;

/// Build a chain of `routers` routers (1..=255) with links of one-way `delay`.
pub fn chain(routers: usize, delay: Duration, frames: usize) -> Result<Chain, SimError> {
    let n = routers.clamp(1, MAX_ROUTERS);
    let mut sim = Sim::new(frames)?;
    let a = |x: [u8; 4], len| IfAddr::new(Ipv4Addr::from(x), len);
    let h1 = sim.add_node("h1", Config::host());
    let h1e = sim.add_iface(h1, "eth0", a([10, 0, 0, 2], 24))?;
    sim.router_mut(h1)
        .add_route_str("default via 10.0.0.1")
        .map_err(|source| config("h1", source))?;
    let mut left = (h1, h1e);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("r{}", i + 1);
        let r = sim.add_node(&name, Config::default());
        // Router i's left link: h1's subnet for the first, else 10.1.(i-1).0/24.
        let (left_addr, left_gw) = if i == 0 {
            ([10, 0, 0, 1], None)
        } else {
            ([10, 1, (i - 1) as u8, 2], Some([10, 1, (i - 1) as u8, 1]))
        };
        let (right_addr, right_gw) = if i + 1 == n {
            ([10, 2, 0, 1], [10, 2, 0, 2])
        } else {
            ([10, 1, i as u8, 1], [10, 1, i as u8, 2])
        };
        let west = sim.add_iface(r, "west", a(left_addr, 24))?;
        let east = sim.add_iface(r, "east", a(right_addr, 24))?;
        sim.link(left, (r, west), delay)?;
        let router = sim.router_mut(r);
        if let Some(gw) = left_gw {
            router
                .add_route_str(&format!("10.0.0.0/24 via {}", Ipv4Addr::from(gw)))
                .map_err(|source| config(&name, source))?;
        }
        router
            .add_route_str(&format!("default via {}", Ipv4Addr::from(right_gw)))
            .map_err(|source| config(&name, source))?;
        left = (r, east);
        ids.push(r);
    }
    let h2 = sim.add_node("h2", Config::host());
    let h2e = sim.add_iface(h2, "eth0", a([10, 2, 0, 2], 24))?;
    sim.router_mut(h2)
        .add_route_str("default via 10.2.0.1")
        .map_err(|source| config("h2", source))?;
    sim.link(left, (h2, h2e), delay)?;
    Ok(Chain {
        sim,
        h1,
        h2,
        routers: ids,
        h2_addr: Ipv4Addr::new(10, 2, 0, 2),
    })
}

fn config(node: &str, source: crate::router::ConfigError) -> SimError {
    SimError::Config {
        node: node.to_owned(),
        source,
    }
}
