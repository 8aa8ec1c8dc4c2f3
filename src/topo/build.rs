//! Instantiating a [`Topology`]: configured router instances, then the simulator or the engine
//! around them.
//!
//! Node `i` of the model becomes node `i` of one [`Network`], which the simulator and the
//! engine both run; interfaces keep their order, so interface `j` is `IfaceId(j)`. Two-ended
//! links become point-to-point links, longer ones hubs.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::engine::EngineError;
use crate::fabric::{Network, Node as Instance, NodeId};
use crate::router::fib::TABLE_MAIN;
use crate::router::{Config, ConfigError, IfaceId, Router};
use crate::sim::{Sim, SimError};
use crate::switch::Switch;

use super::{Kind, Link, Node, Progress, Quiet, TopoError, Topology};

impl Topology {
    /// Every router and host as a configured instance, in model order (switches left out).
    pub fn routers(&self) -> Result<Vec<Router>, TopoError> {
        Ok(self
            .instances_with(&Quiet)?
            .into_iter()
            .filter_map(|n| match *n {
                Instance::Router(r) => Some(r),
                Instance::Switch(_) => None,
            })
            .collect())
    }

    /// Every node as a configured instance (router, host or switch), in model order,
    /// configured on every core (they are independent), reporting `routers` done as it goes.
    /// Each is boxed where it is configured: the network keeps that box, so an instance's
    /// pages are touched once, by the core that built it.
    pub fn instances_with(&self, progress: &dyn Progress) -> Result<Vec<Box<Instance>>, TopoError> {
        let total = self.nodes.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = total.div_ceil(threads).max(4096);
        let done = AtomicUsize::new(0);
        let mut shares = self.nodes.chunks(chunk);
        let first = shares.next().unwrap_or(&[]);
        let parts: Vec<Result<Vec<Box<Instance>>, TopoError>> = std::thread::scope(|scope| {
            let done = &done;
            let handles: Vec<_> =
                (shares.map(|s| scope.spawn(move || configure(s, done, None)))).collect();
            let mut parts = vec![configure(first, done, Some((progress, total)))];
            for h in handles {
                parts.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            parts
        });
        let mut out = Vec::with_capacity(total);
        for part in parts {
            out.extend(part?);
        }
        progress.report("routers", total, total);
        Ok(out)
    }

    /// The topology as a network: node `i` of [`Topology::nodes`] is `NodeId(i)` and
    /// interface `j` is `IfaceId(j)`; two-ended links are point to point, longer ones hubs,
    /// each with its one-way delay; interfaces on a `link_file`, attached to a device or to
    /// VDE are on links of those media; nodes with `core` are pinned to it, with `workers` spread.
    pub fn network(&self) -> Result<Network, TopoError> {
        self.network_with(&Quiet)
    }

    /// [`Topology::network`], reporting the routers configured (`routers`) as it goes.
    pub fn network_with(&self, progress: &dyn Progress) -> Result<Network, TopoError> {
        let mut net = Network::new();
        for (node, instance) in self.nodes.iter().zip(self.instances_with(progress)?) {
            let id = net.add_node(&node.name, instance);
            if let Some(core) = node.core {
                net.pin(id, core as usize);
            }
            if node.workers > 1 {
                net.spread(id, node.workers as usize);
            }
        }
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
                if let Some(spec) = &f.vde {
                    net.attach_vde(end, (**spec).clone())
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
    /// [`Sim::node`] finds nodes by name. Interfaces on a `link_file`, attached to a device or
    /// to VDE send into nothing: neither the other process nor the host is part of a
    /// simulation.
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

/// One node as a configured instance: a switch from its configuration; a router or host
/// with interfaces and addresses, computed routes in one rebuild of `main`, then the file's
/// routes, rules and marks.
fn node_instance(node: &Node) -> Result<Instance, TopoError> {
    let config = match (node.kind, &node.switch) {
        (_, Some(c)) => {
            let s = Switch::new((**c).clone()).map_err(|e| {
                TopoError::from(SimError::Switch {
                    node: node.name.clone(),
                    source: e,
                })
            })?;
            return Ok(Instance::Switch(s));
        }
        (Kind::Router, None) => Config::default(),
        (Kind::Host | Kind::Switch, None) => Config::host(),
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
    let mut addrs = Vec::new();
    for f in &node.ifaces {
        let i = r.add_iface(&f.name, f.mac, f.mtu).map_err(wrap)?;
        addrs.extend(f.addrs.iter().map(|&a| (i, a)));
        r.set_group(i, f.group).map_err(wrap)?;
        if let Some((parent, vid)) = f.vlan {
            r.set_vlan(i, IfaceId(parent as u16), vid).map_err(wrap)?;
        }
    }
    r.add_addrs(&addrs).map_err(wrap)?;
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
    Ok(Instance::Router(r))
}

/// Configure `nodes` in order, counting them in `done` (and reporting, on the calling thread).
// Boxed on purpose: the network keeps each box, so the instance is written once, here.
#[allow(clippy::vec_box)]
fn configure(
    nodes: &[Node],
    done: &AtomicUsize,
    report: Option<(&dyn Progress, usize)>,
) -> Result<Vec<Box<Instance>>, TopoError> {
    let mut out = Vec::with_capacity(nodes.len());
    for (k, node) in nodes.iter().enumerate() {
        out.push(Box::new(node_instance(node)?));
        if k % 4096 == 4095 {
            let d = done.fetch_add(4096, Ordering::Relaxed) + 4096;
            if let Some((progress, total)) = report {
                progress.report("routers", d.min(total), total);
            }
        }
    }
    Ok(out)
}
