//! Instantiating a [`Topology`] in the simulator.
//!
//! Node `i` of the model becomes `NodeId(i)` of the [`Sim`]; interfaces keep their order, so
//! interface `j` is `IfaceId(j)`. Two-ended links become point-to-point links, longer ones hubs.

use crate::router::{Config, ConfigError};
use crate::sim::{NodeId, Sim, SimError};

use super::{Kind, TopoError, Topology};

impl Topology {
    /// Build the topology in a fresh simulator. Node `i` of [`Topology::nodes`] is `NodeId(i)`,
    /// and [`Sim::node`] finds nodes by name.
    pub fn build_sim(&self) -> Result<Sim, TopoError> {
        let ifaces: usize = self.nodes.iter().map(|n| n.ifaces.len()).sum();
        // The pool is mapped lazily, so room for bursts on every interface costs nothing idle.
        let mut sim = Sim::new((ifaces * 16).max(8192))?;
        for node in &self.nodes {
            let config = match node.kind {
                Kind::Router => Config::default(),
                Kind::Host => Config::host(),
            };
            let id = sim.add_node(&node.name, config);
            let wrap = |source: ConfigError| SimError::Config {
                node: node.name.clone(),
                source,
            };
            for f in &node.ifaces {
                let i = sim.add_iface_with(id, &f.name, f.mac, f.mtu)?;
                for &a in &f.addrs {
                    sim.router_mut(id).add_addr(i, a).map_err(wrap)?;
                }
            }
            for r in &node.routes {
                sim.router_mut(id).add_route_str(r).map_err(wrap)?;
            }
        }
        for link in &self.links {
            let ends: Vec<_> = link
                .ends
                .iter()
                .map(|&(n, i)| (NodeId(n), crate::router::IfaceId(i as u16)))
                .collect();
            match ends[..] {
                [a, b] => sim.link(a, b, link.delay)?,
                _ => sim.hub(&ends, link.delay)?,
            }
        }
        Ok(sim)
    }
}
