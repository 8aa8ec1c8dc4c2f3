//! Instantiating a [`Topology`]: configured router instances, then the simulator or the engine
//! around them.
//!
//! Node `i` of the model becomes node `i` of one [`Network`], which the simulator and the
//! engine both run; interfaces keep their order, so interface `j` is `IfaceId(j)`. Two-ended
//! links become point-to-point links, longer ones hubs.

use crate::engine::EngineError;
use crate::fabric::{Network, NodeId};
use crate::router::fib::TABLE_MAIN;
use crate::router::{Config, ConfigError, IfaceId, Router};
use crate::sim::{Sim, SimError};

use super::{Kind, Link, Node, Progress, Quiet, TopoError, Topology};

impl Topology {
    /// Every node as a configured instance, in model order.
    pub fn routers(&self) -> Result<Vec<Router>, TopoError> {
        self.nodes.iter().map(node_router).collect()
    }

    /// The topology as a network: node `i` of [`Topology::nodes`] is `NodeId(i)` and
    /// interface `j` is `IfaceId(j)`; two-ended links are point to point, longer ones hubs,
    /// each with its one-way delay; interfaces on a `link_file` or attached to a device are on
    /// links of those media; nodes with `core` are pinned to it, with `workers` spread.
    pub fn network(&self) -> Result<Network, TopoError> {
        self.network_with(&Quiet)
    }

    /// [`Topology::network`], reporting the routers configured (`routers`) as it goes.
    pub fn network_with(&self, progress: &dyn Progress) -> Result<Network, TopoError> {
        let mut net = Network::new();
        let total = self.nodes.len();
        for (i, node) in self.nodes.iter().enumerate() {
            let id = net.add(&node.name, node_router(node)?);
            if let Some(core) = node.core {
                net.pin(id, core as usize);
            }
            if node.workers > 1 {
                net.spread(id, node.workers as usize);
            }
            if i % 4096 == 4095 {
                progress.report("routers", i + 1, total);
            }
        }
        progress.report("routers", total, total);
        for (n, node) in self.nodes.iter().enumerate() {
            for (i, f) in node.ifaces.iter().enumerate() {
                let end = (NodeId(n as u32), IfaceId(i as u16));
                if let Some(path) = &f.link_file {
                    net.attach_file(end, path).map_err(EngineError::from)?;
                }
                if let Some(spec) = &f.attach {
                    net.attach_port(end, (**spec).clone())
                        .map_err(EngineError::from)?;
                }
                if let Some(n) = &f.netem {
                    net.impair(end, (**n).clone());
                }
            }
        }
        for link in &self.links {
            let ends: Vec<_> = ends(link).map(|(n, i)| (NodeId(n as u32), i)).collect();
            let id = match ends[..] {
                [a, b] => net.link(a, b),
                _ => net.hub(&ends),
            };
            let id = id.map_err(EngineError::from)?;
            match &link.netem {
                Some(n) => net.impair_link(id, n),
                None => net.set_delay(id, link.delay),
            }
            for &end in &ends {
                let (n, i) = (end.0.0 as usize, usize::from(end.1.0));
                if let Some(netem) = &self.nodes[n].ifaces[i].netem {
                    net.impair(end, (**netem).clone());
                }
            }
        }
        net.set_seed(self.seed);
        Ok(net)
    }

    /// Build the topology in a fresh simulator ([`Topology::network`] on a virtual clock).
    /// [`Sim::node`] finds nodes by name. Interfaces on a `link_file` or attached to a device
    /// send into nothing: neither the other process nor the host is part of a simulation.
    pub fn build_sim(&self) -> Result<Sim, TopoError> {
        Ok(Sim::from_network(self.network()?, self.sim_pool())?)
    }

    /// Frame buffers a simulation of this topology gets: room for bursts on every interface
    /// (the pool is mapped lazily, so that costs nothing idle).
    pub fn sim_pool(&self) -> usize {
        let ifaces: usize = self.nodes.iter().map(|n| n.ifaces.len()).sum();
        (ifaces * 16).max(8192)
    }

    /// Build the topology as an engine network ([`Topology::network`]).
    pub fn build_network(&self) -> Result<Network, TopoError> {
        self.network()
    }
}

fn ends(link: &Link) -> impl Iterator<Item = (usize, IfaceId)> + '_ {
    link.ends.iter().map(|&(n, i)| (n, IfaceId(i as u16)))
}

/// One node as a configured instance: interfaces and addresses, computed routes in one
/// rebuild of `main`, then the file's routes, rules and marks.
fn node_router(node: &Node) -> Result<Router, TopoError> {
    let config = match node.kind {
        Kind::Router => Config::default(),
        Kind::Host => Config::host(),
    };
    let config = Config {
        default_ttl: node.ttl,
        ..config
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
    r.add_routes(TABLE_MAIN, node.auto.fib_routes())
        .map_err(|e| wrap(e.into()))?;
    for route in &node.routes {
        r.add_parsed(route).map_err(|e| wrap(e.into()))?;
    }
    for rule in &node.rules {
        r.add_rule_str(rule).map_err(wrap)?;
    }
    for mark in &node.marks {
        r.add_mark_str(mark).map_err(wrap)?;
    }
    Ok(r)
}
