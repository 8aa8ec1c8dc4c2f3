//! Instantiating a [`Topology`]: configured router instances, then the simulator or the engine
//! around them.
//!
//! Node `i` of the model becomes node `i` of the simulator or the engine network; interfaces
//! keep their order, so interface `j` is `IfaceId(j)`. Two-ended links become point-to-point
//! links, longer ones hubs.

use crate::engine::Network;
use crate::router::{Config, ConfigError, IfaceId, Router};
use crate::sim::{NodeId, Sim, SimError};

use super::{Kind, Link, TopoError, Topology};

impl Topology {
    /// Every node as a configured instance, in model order.
    pub fn routers(&self) -> Result<Vec<Router>, TopoError> {
        self.nodes
            .iter()
            .map(|node| {
                let config = match node.kind {
                    Kind::Router => Config::default(),
                    Kind::Host => Config::host(),
                };
                let wrap = |source: ConfigError| {
                    TopoError::from(SimError::Config {
                        node: node.name.clone(),
                        source,
                    })
                };
                let mut r = Router::new(config);
                for (name, id) in &node.tables {
                    r.name_table(name, *id);
                }
                for f in &node.ifaces {
                    let i = r.add_iface(&f.name, f.mac, f.mtu).map_err(wrap)?;
                    for &a in &f.addrs {
                        r.add_addr(i, a).map_err(wrap)?;
                    }
                    r.set_group(i, f.group).map_err(wrap)?;
                }
                for route in &node.routes {
                    r.add_route_str(route).map_err(wrap)?;
                }
                for rule in &node.rules {
                    r.add_rule_str(rule).map_err(wrap)?;
                }
                for mark in &node.marks {
                    r.add_mark_str(mark).map_err(wrap)?;
                }
                Ok(r)
            })
            .collect()
    }

    /// Build the topology in a fresh simulator. Node `i` of [`Topology::nodes`] is `NodeId(i)`,
    /// and [`Sim::node`] finds nodes by name. Interfaces on a `link_file` or attached to a
    /// device stay unconnected: neither the other process nor the host is part of a simulation.
    pub fn build_sim(&self) -> Result<Sim, TopoError> {
        let ifaces: usize = self.nodes.iter().map(|n| n.ifaces.len()).sum();
        // The pool is mapped lazily, so room for bursts on every interface costs nothing idle.
        let mut sim = Sim::new((ifaces * 16).max(8192))?;
        for (node, router) in self.nodes.iter().zip(self.routers()?) {
            sim.add_router(&node.name, router);
        }
        for link in &self.links {
            let ends: Vec<_> = ends(link).map(|(n, i)| (NodeId(n), i)).collect();
            match ends[..] {
                [a, b] => sim.link(a, b, link.delay)?,
                _ => sim.hub(&ends, link.delay)?,
            }
        }
        Ok(sim)
    }

    /// Build the topology as an engine network (link delays do not apply: engine links are as
    /// fast as the workers). Nodes with `core` are pinned to it.
    pub fn build_network(&self) -> Result<Network, TopoError> {
        let mut net = Network::new();
        for (node, router) in self.nodes.iter().zip(self.routers()?) {
            let id = net.add(&node.name, router);
            if let Some(core) = node.core {
                net.pin(id, core as usize);
            }
            if node.workers > 1 {
                net.spread(id, node.workers as usize);
            }
        }
        for (n, node) in self.nodes.iter().enumerate() {
            for (i, f) in node.ifaces.iter().enumerate() {
                let end = (crate::engine::NodeId(n as u32), IfaceId(i as u16));
                if let Some(path) = &f.link_file {
                    net.attach_file(end, path)?;
                }
                if let Some(spec) = &f.attach {
                    net.attach_port(end, spec.clone())?;
                }
            }
        }
        for link in &self.links {
            let ends: Vec<_> = ends(link)
                .map(|(n, i)| (crate::engine::NodeId(n as u32), i))
                .collect();
            match ends[..] {
                [a, b] => net.link(a, b)?,
                _ => net.hub(&ends)?,
            }
        }
        Ok(net)
    }
}

fn ends(link: &Link) -> impl Iterator<Item = (usize, IfaceId)> + '_ {
    link.ends.iter().map(|&(n, i)| (n, IfaceId(i as u16)))
}
