//! What the engine runs, before it runs: instances, the wires between their interfaces
//! (point to point, hubs, link files to other processes, host devices), the flows hosts send
//! and the UDP ports they sink — and where each instance goes: its topology's core if pinned, otherwise
//! contiguous blocks of a breadth-first walk, so chains and meshes keep most links inside one
//! worker.

use std::collections::VecDeque;

use super::{EngineError, FlowSpec, NodeId};
use crate::port::PortSpec;
use crate::router::{IfaceId, Router};

/// What an interface is wired to, before placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire {
    None,
    Peer(NodeId, IfaceId),
    Hub(usize),
    /// A shared-memory link file whose other side belongs to another process.
    File(usize),
    /// A host device (AF_XDP or TAP).
    Port(usize),
}

pub(super) struct NodeSpec {
    pub(super) name: String,
    pub(super) router: Router,
    pub(super) core: Option<usize>,
    pub(super) peers: Vec<Wire>,
    pub(super) flows: Vec<FlowSpec>,
    pub(super) sink: bool,
    /// Workers serving the instance's devices, one replica each ([`Network::spread`]).
    pub(super) workers: usize,
}

/// A replica the engine added for a spread router: the node it copies and its shard (1..n;
/// the node itself is shard 0).
pub(super) struct Replica {
    pub(super) of: usize,
    pub(super) shard: usize,
}

/// Instances, links and traffic, before they run.
#[derive(Default)]
pub struct Network {
    pub(super) nodes: Vec<NodeSpec>,
    pub(super) hubs: Vec<Vec<(NodeId, IfaceId)>>,
    pub(super) files: Vec<std::path::PathBuf>,
    pub(super) ports: Vec<PortSpec>,
}

impl Network {
    /// An empty network.
    pub fn new() -> Network {
        Network::default()
    }

    /// Add an instance (its interfaces already configured).
    pub fn add(&mut self, name: &str, router: Router) -> NodeId {
        let peers = vec![Wire::None; router.ifaces().len()];
        self.nodes.push(NodeSpec {
            name: name.to_owned(),
            router,
            core: None,
            peers,
            flows: Vec::new(),
            sink: false,
            workers: 1,
        });
        NodeId(self.nodes.len() as u32 - 1)
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are no instances.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Pin an instance to a core (worker `core % workers`).
    pub fn pin(&mut self, node: NodeId, core: usize) {
        if let Some(n) = self.nodes.get_mut(node.0 as usize) {
            n.core = Some(core);
        }
    }

    /// Serve a router's host devices with `workers` pinned workers, one per share of each
    /// device's receive queues: the engine runs a replica of the router on each (same
    /// configuration, its own ARP cache and counters), on consecutive workers from the
    /// router's own. Replicas tell each other the ARP frames they receive, so a reply that
    /// arrives on another queue than its request left from still resolves the neighbour. Every
    /// interface of a spread router must be bound to a host device or unconnected, and it may
    /// not send or sink flows; [`Engine::start`](super::Engine::start) checks this.
    pub fn spread(&mut self, node: NodeId, workers: usize) {
        if let Some(n) = self.nodes.get_mut(node.0 as usize) {
            n.workers = workers.max(1);
        }
    }

    /// Append a replica node for every shard beyond the first of each spread router, after
    /// checking it can be spread over `workers` workers. Returns what each appended node is.
    pub(super) fn add_replicas(&mut self, workers: usize) -> Result<Vec<Replica>, EngineError> {
        let mut replicas = Vec::new();
        for i in 0..self.nodes.len() {
            let spec = &self.nodes[i];
            if spec.workers <= 1 {
                continue;
            }
            let why = |why: String| EngineError::Spread {
                node: spec.name.clone(),
                why,
            };
            if spec.workers > workers {
                let n = spec.workers;
                return Err(why(format!(
                    "it asks for {n} workers; the engine runs {workers}"
                )));
            }
            if !spec.flows.is_empty() || spec.sink {
                return Err(why("a host's flows and sinks run on one worker".into()));
            }
            let linked = spec
                .peers
                .iter()
                .position(|w| !matches!(w, Wire::None | Wire::Port(_)));
            if let Some(k) = linked {
                let name = spec.router.ifaces()[k].name();
                return Err(why(format!(
                    "interface {name} is linked to another instance; every interface of a \
                     spread router is bound to a host device or unconnected"
                )));
            }
            let copies: Vec<NodeSpec> = (1..spec.workers)
                .map(|_| NodeSpec {
                    name: spec.name.clone(),
                    router: spec.router.replica(),
                    core: None,
                    peers: spec.peers.clone(),
                    flows: Vec::new(),
                    sink: false,
                    workers: 1,
                })
                .collect();
            for (k, copy) in copies.into_iter().enumerate() {
                replicas.push(Replica {
                    of: i,
                    shard: k + 1,
                });
                self.nodes.push(copy);
            }
        }
        Ok(replicas)
    }

    /// Connect two interfaces point to point.
    pub fn link(&mut self, a: (NodeId, IfaceId), b: (NodeId, IfaceId)) -> Result<(), EngineError> {
        self.wire(&[a, b], |x| {
            if x == a {
                Wire::Peer(b.0, b.1)
            } else {
                Wire::Peer(a.0, a.1)
            }
        })
    }

    /// Connect several interfaces to one hub: what one sends, every other receives.
    pub fn hub(&mut self, members: &[(NodeId, IfaceId)]) -> Result<(), EngineError> {
        let index = self.hubs.len();
        self.wire(members, |_| Wire::Hub(index))?;
        self.hubs.push(members.to_vec());
        Ok(())
    }

    /// Attach an interface to a shared-memory link file (created if absent, mode 0600), whose
    /// other side another shoal process attaches to: rump's shmif file, point to point.
    pub fn attach_file(
        &mut self,
        end: (NodeId, IfaceId),
        path: &std::path::Path,
    ) -> Result<(), EngineError> {
        let index = self.files.len();
        self.wire(&[end], |_| Wire::File(index))?;
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// Bind an interface to a host device: AF_XDP sockets on a NIC or veth, or a TAP device
    /// (see [`PortSpec`]). The device is opened when the engine starts.
    pub fn attach_port(
        &mut self,
        end: (NodeId, IfaceId),
        spec: PortSpec,
    ) -> Result<(), EngineError> {
        let index = self.ports.len();
        self.wire(&[end], |_| Wire::Port(index))?;
        self.ports.push(spec);
        Ok(())
    }

    /// Set each end's wire, after checking every end exists and is free.
    fn wire(
        &mut self,
        ends: &[(NodeId, IfaceId)],
        to: impl Fn((NodeId, IfaceId)) -> Wire,
    ) -> Result<(), EngineError> {
        for (k, &(node, iface)) in ends.iter().enumerate() {
            let missing = || EngineError::NoSuchIface {
                node: format!("#{}", node.0),
                iface: iface.0,
            };
            let spec = self.nodes.get(node.0 as usize).ok_or_else(missing)?;
            let slot =
                spec.peers
                    .get(usize::from(iface.0))
                    .ok_or_else(|| EngineError::NoSuchIface {
                        node: spec.name.clone(),
                        iface: iface.0,
                    })?;
            if *slot != Wire::None || ends[..k].contains(&(node, iface)) {
                return Err(EngineError::AlreadyLinked {
                    node: spec.name.clone(),
                    iface: iface.0,
                });
            }
        }
        for &end in ends {
            self.nodes[end.0.0 as usize].peers[usize::from(end.1.0)] = to(end);
        }
        Ok(())
    }

    /// The instances an interface's wire reaches.
    pub(super) fn neighbours(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes[i].peers.iter().flat_map(move |w| {
            let (one, hub) = match *w {
                Wire::Peer(n, _) => (Some(n.0 as usize), None),
                Wire::Hub(h) => (None, self.hubs.get(h)),
                Wire::None | Wire::File(_) | Wire::Port(_) => (None, None),
            };
            one.into_iter()
                .chain(hub.into_iter().flatten().map(|m| m.0.0 as usize))
        })
    }

    /// Let a host send a flow.
    pub fn add_flow(&mut self, from: NodeId, spec: FlowSpec) {
        if let Some(n) = self.nodes.get_mut(from.0 as usize) {
            n.flows.push(spec);
        }
    }

    /// Let a host count the flows arriving on `port`.
    pub fn add_sink(&mut self, node: NodeId, port: u16) {
        if let Some(n) = self.nodes.get_mut(node.0 as usize) {
            n.router.listen_udp(port);
            n.sink = true;
        }
    }

    /// Worker of each instance: pinned ones by their core, the rest in contiguous blocks of a
    /// breadth-first walk (so a chain splits into a few long runs).
    pub(super) fn place(&self, workers: usize) -> Vec<usize> {
        let n = self.nodes.len();
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        for start in 0..n {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let mut queue = VecDeque::from([start]);
            while let Some(i) = queue.pop_front() {
                order.push(i);
                for p in self.neighbours(i) {
                    if !seen[p] {
                        seen[p] = true;
                        queue.push_back(p);
                    }
                }
            }
        }
        let free: Vec<usize> = order
            .into_iter()
            .filter(|&i| self.nodes[i].core.is_none())
            .collect();
        let mut placement = vec![0; n];
        let per = free.len().div_ceil(workers.max(1)).max(1);
        for (k, &i) in free.iter().enumerate() {
            placement[i] = (k / per).min(workers - 1);
        }
        for (i, spec) in self.nodes.iter().enumerate() {
            if let Some(core) = spec.core {
                placement[i] = core % workers;
            }
        }
        placement
    }
}
