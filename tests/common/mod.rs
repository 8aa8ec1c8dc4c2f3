//! Shared test topology: h1 — r1 — r2 — h2 over simulated links.
//!
//! ```text
//! h1 10.0.1.2/24 ─ eth0 10.0.1.1 [r1] eth1 10.0.12.1 ─ eth0 10.0.12.2 [r2] eth1 10.0.2.1 ─ 10.0.2.2/24 h2
//! ```

#![allow(dead_code)]

pub mod netns;
pub mod raw;

use std::net::Ipv4Addr;
use std::time::Duration;

use shoal::router::{Config, IfAddr};
use shoal::sim::{NodeId, Sim};

pub const LINK_DELAY: Duration = Duration::from_micros(100);

pub struct Net {
    pub sim: Sim,
    pub h1: NodeId,
    pub r1: NodeId,
    pub r2: NodeId,
    pub h2: NodeId,
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

fn addr(s: &str) -> Option<IfAddr> {
    let (a, l) = s.split_once('/').expect("test prefix");
    IfAddr::new(ip(a), l.parse().expect("test length"))
}

pub fn two_routers() -> Net {
    let mut sim = Sim::new(4096).expect("pool");
    let h1 = sim.add_node("h1", Config::host());
    let r1 = sim.add_node("r1", Config::default());
    let r2 = sim.add_node("r2", Config::default());
    let h2 = sim.add_node("h2", Config::host());
    let h1e = sim.add_iface(h1, "eth0", addr("10.0.1.2/24")).unwrap();
    let r1a = sim.add_iface(r1, "eth0", addr("10.0.1.1/24")).unwrap();
    let r1b = sim.add_iface(r1, "eth1", addr("10.0.12.1/24")).unwrap();
    let r2a = sim.add_iface(r2, "eth0", addr("10.0.12.2/24")).unwrap();
    let r2b = sim.add_iface(r2, "eth1", addr("10.0.2.1/24")).unwrap();
    let h2e = sim.add_iface(h2, "eth0", addr("10.0.2.2/24")).unwrap();
    sim.link((h1, h1e), (r1, r1a), LINK_DELAY).unwrap();
    sim.link((r1, r1b), (r2, r2a), LINK_DELAY).unwrap();
    sim.link((r2, r2b), (h2, h2e), LINK_DELAY).unwrap();
    sim.router_mut(h1)
        .add_route_str("default via 10.0.1.1")
        .unwrap();
    sim.router_mut(h2)
        .add_route_str("default via 10.0.2.1")
        .unwrap();
    sim.router_mut(r1)
        .add_route_str("10.0.2.0/24 via 10.0.12.2")
        .unwrap();
    sim.router_mut(r2)
        .add_route_str("10.0.1.0/24 via 10.0.12.1")
        .unwrap();
    Net {
        sim,
        h1,
        r1,
        r2,
        h2,
    }
}
