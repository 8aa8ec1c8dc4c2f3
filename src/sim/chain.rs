//! A line of routers with a host at each end: the setup of rump's startrouters.sh.
//!
//! ```text
//! h1 10.0.0.2 ─ r1 ─ r2 ─ … ─ rN ─ 10.2.0.2 h2
//! ```
//! h1's link is 10.0.0.0/24, h2's 10.2.0.0/24, and the link between routers i and i+1 is
//! 10.1.i.0/24 (router i is .1, router i+1 is .2). Each router routes h1's subnet to its left
//! neighbour and everything else to its right one, which is all ping, traceroute and flows
//! between the hosts need. Every node originates with TTL 255 (Linux's `ip_default_ttl=255`):
//! with the default 64, answers from routers more than 64 hops away would expire on the way
//! back, on Linux as here. [`plan`] builds the instances and links as data, for the simulator
//! ([`chain`]) or the engine to run.

use core::time::Duration;
use std::net::Ipv4Addr;

use super::{NodeId, Sim, SimError};
use crate::fabric::{FlowSpec, Network, NetworkError};
use crate::router::{Config, ConfigError, IfAddr, IfaceId, Router};
use crate::wire::ethernet;

/// Most routers a chain can have with this addressing plan.
pub const MAX_ROUTERS: usize = 255;

/// A chain as data: instances in order h1, r1..rN, h2, and the links between them.
pub struct Plan {
    /// Name and configured instance, left to right.
    pub nodes: Vec<(String, Router)>,
    /// Links as (node index, interface) pairs.
    pub links: Vec<((usize, IfaceId), (usize, IfaceId))>,
    /// h1's address.
    pub h1_addr: Ipv4Addr,
    /// h2's address.
    pub h2_addr: Ipv4Addr,
}

/// Build the instances of a chain of `routers` routers (1..=255).
pub fn plan(routers: usize) -> Result<Plan, (String, ConfigError)> {
    let n = routers.clamp(1, MAX_ROUTERS);
    let mut nodes = Vec::with_capacity(n + 2);
    let mut links = Vec::with_capacity(n + 1);
    let router = Config {
        default_ttl: 255,
        ..Config::default()
    };
    let host = Config {
        forwarding: false,
        ..router
    };
    let node = |index: usize, name: &str, config, ifaces: &[(&str, [u8; 4])], routes: &[String]| {
        let wrap = |e| (name.to_owned(), e);
        let mut r = Router::new(config);
        for (k, (ifname, addr)) in ifaces.iter().enumerate() {
            let mac = ethernet::Address([0x02, 0, (index >> 8) as u8, index as u8, k as u8, 0]);
            let id = r.add_iface(ifname, mac, 1500).map_err(wrap)?;
            let a = IfAddr::new(Ipv4Addr::from(*addr), 24).expect("24 is a valid prefix length");
            r.add_addr(id, a).map_err(wrap)?;
        }
        for route in routes {
            r.add_route_str(route).map_err(wrap)?;
        }
        Ok::<_, (String, ConfigError)>((name.to_owned(), r))
    };
    nodes.push(node(
        0,
        "h1",
        host,
        &[("eth0", [10, 0, 0, 2])],
        &["default via 10.0.0.1".into()],
    )?);
    for i in 0..n {
        let west = if i == 0 {
            [10, 0, 0, 1]
        } else {
            [10, 1, (i - 1) as u8, 2]
        };
        let (east, right_gw) = if i + 1 == n {
            ([10, 2, 0, 1], [10, 2, 0, 2])
        } else {
            ([10, 1, i as u8, 1], [10, 1, i as u8, 2])
        };
        let mut routes = vec![format!("default via {}", Ipv4Addr::from(right_gw))];
        if i > 0 {
            routes.push(format!(
                "10.0.0.0/24 via {}",
                Ipv4Addr::new(10, 1, (i - 1) as u8, 1)
            ));
        }
        nodes.push(node(
            i + 1,
            &format!("r{}", i + 1),
            router,
            &[("west", west), ("east", east)],
            &routes,
        )?);
        let left_iface = if i == 0 { IfaceId(0) } else { IfaceId(1) };
        links.push(((i, left_iface), (i + 1, IfaceId(0))));
    }
    nodes.push(node(
        n + 1,
        "h2",
        host,
        &[("eth0", [10, 2, 0, 2])],
        &["default via 10.2.0.1".into()],
    )?);
    links.push(((n, IfaceId(1)), (n + 1, IfaceId(0))));
    Ok(Plan {
        nodes,
        links,
        h1_addr: Ipv4Addr::new(10, 0, 0, 2),
        h2_addr: Ipv4Addr::new(10, 2, 0, 2),
    })
}

impl Plan {
    /// The chain as an engine network: nodes in plan order (h1 is `NodeId(0)`, h2 the last),
    /// with a UDP flow from h1 to h2 at `rate` datagrams per second (flat out if `None`) of
    /// `frame_len`-byte frames, sunk at h2.
    pub fn network(self, frame_len: usize, rate: Option<u64>) -> Result<Network, NetworkError> {
        const PORT: u16 = 5001;
        let mut net = Network::new();
        let last = self.nodes.len() as u32 - 1;
        for (name, router) in self.nodes {
            net.add(&name, router);
        }
        for ((a, ai), (b, bi)) in self.links {
            net.link((NodeId(a as u32), ai), (NodeId(b as u32), bi))?;
        }
        net.add_flow(
            NodeId(0),
            FlowSpec {
                dst: self.h2_addr,
                port: PORT,
                frame_len,
                rate,
                sources: 1,
            },
        );
        net.add_sink(NodeId(last), PORT);
        Ok(net)
    }
}

/// A built chain in the simulator and the names of its parts.
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

/// Build a chain of `routers` routers (1..=255) in a simulator with links of one-way `delay`.
pub fn chain(routers: usize, delay: Duration, frames: usize) -> Result<Chain, SimError> {
    let p = plan(routers).map_err(|(node, source)| SimError::Config { node, source })?;
    let mut sim = Sim::new(frames)?;
    let ids: Vec<NodeId> = p
        .nodes
        .into_iter()
        .map(|(name, r)| sim.add_router(&name, r))
        .collect();
    for ((a, ai), (b, bi)) in p.links {
        sim.link((ids[a], ai), (ids[b], bi), delay)?;
    }
    let (h1, h2) = (ids[0], ids[ids.len() - 1]);
    let routers = ids[1..ids.len() - 1].to_vec();
    Ok(Chain {
        sim,
        h1,
        h2,
        routers,
        h2_addr: p.h2_addr,
    })
}
