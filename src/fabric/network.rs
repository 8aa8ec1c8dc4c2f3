//! A network before it runs: nodes, the links between their interfaces, and what the hosts'
//! applications do. Topology files, generators, benches and tests build one; the simulator
//! ([`crate::sim::Sim::from_network`]) and the engine ([`crate::engine::Engine::start`]) run it.
//!
//! A link has ends (node interfaces), a medium and, for each end, the stages its outgoing frames
//! pass ([`Egress`]: an impairment, a capture). The medium says how frames cross:
//! [`Medium::Wire`] joins interfaces of this network — two ends point to point, more a hub —
//! and the driver picks the mechanism (a frame-handle hand-off inside a worker, a
//! shared-memory ring between workers); [`Medium::File`] is a link file whose other side is
//! another process; [`Medium::Port`] a device of the host (AF_XDP or TAP); [`Medium::Vde`] a
//! VDE switch, a VDE switch of the interface's own, or `vde_plug`'s stream on standard input
//! and output.

use std::path::PathBuf;

use super::flow::FlowSpec;
use super::node::{IfaceId, Node};
use crate::capture::{Capture, Tap};
use crate::port::PortSpec;
use crate::router::Router;
use crate::shape::Netem;
use crate::vde::VdeSpec;

/// Index of a node in a [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Index of a link in a [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// One end of a link: a node's interface.
pub type End = (NodeId, IfaceId);

/// Why a link could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// No such node or interface.
    #[error("no interface {iface} on {node}")]
    NoSuchIface {
        /// Node name (or `#index` when there is no such node).
        node: String,
        /// Interface index.
        iface: u16,
    },
    /// The interface is already on a link.
    #[error("{node} interface {iface} is already linked")]
    AlreadyLinked {
        /// Node name.
        node: String,
        /// Interface index.
        iface: u16,
    },
    /// A link between nodes needs at least two ends.
    #[error("a link needs at least two ends")]
    TooFewEnds,
}

/// How a link's frames cross.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// Between nodes of this network: point to point for two ends, a hub (every frame reaches
    /// every other end) for more.
    Wire,
    /// A shared-memory link file whose other side belongs to another process (one end here).
    File(PathBuf),
    /// A device of the host (one end here).
    Port(PortSpec),
    /// VDE (one end here): a switch plugged into, a switch of this interface's own whose
    /// clients share it as a hub, or the stream form on standard input and output.
    Vde(VdeSpec),
}

/// The stages of one end of a link: an impairment of the frames it sends (a constant delay
/// is a plain link's propagation), and a capture of what crosses it both ways.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Egress {
    /// netem-style impairment of the frames this end sends; `None` for a perfect link.
    /// Boxed: most ends have none, and a network describes hundreds of thousands of them.
    pub netem: Option<Box<Netem>>,
    /// Frames crossing this end, both ways, are copied into the network's capture.
    pub capture: bool,
}

impl Egress {
    /// The stages of a plain end of one-way `delay` (none for zero), not captured.
    pub fn delayed(delay: core::time::Duration) -> Egress {
        Egress {
            netem: (!delay.is_zero()).then(|| Box::new(Netem::delay(delay))),
            capture: false,
        }
    }
}

/// A link as described.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    /// Its ends, in order.
    pub ends: Vec<End>,
    /// How frames cross.
    pub medium: Medium,
    /// What frames leaving each end pass (same order as `ends`).
    pub egress: Vec<Egress>,
}

/// A node as described, with its place in the network and its applications.
#[derive(Debug)]
pub struct NodeSpec {
    /// Unique name.
    pub name: String,
    /// The configured instance.
    /// Boxed: a driver takes the box into its slot, so a router's kilobytes are written
    /// once, where they are made, not again when a million of them start.
    pub node: Box<Node>,
    /// Worker core to pin to, if asked.
    pub core: Option<usize>,
    /// Workers serving the node's host devices (see [`Network::spread`]).
    pub workers: usize,
    /// The link each interface is on.
    pub links: Vec<Option<LinkId>>,
    /// UDP flows the node's application sends.
    pub flows: Vec<FlowSpec>,
    /// Whether the node's application counts the flows arriving at it.
    pub sink: bool,
}

/// Nodes, links and traffic, before they run.
#[derive(Debug, Default)]
pub struct Network {
    nodes: Vec<NodeSpec>,
    links: Vec<LinkSpec>,
    seed: u64,
    capture: Option<Capture>,
}

/// A network taken apart by a driver: its parts, and a capture handle for every captured end
/// (per link, per end).
pub(crate) struct Parts {
    pub nodes: Vec<NodeSpec>,
    pub links: Vec<LinkSpec>,
    pub seed: u64,
    pub capture: Option<Capture>,
    pub taps: Vec<Vec<Option<Tap>>>,
}

impl Network {
    /// An empty network.
    pub fn new() -> Network {
        Network::default()
    }

    /// Add a router or host (its interfaces already configured).
    pub fn add(&mut self, name: &str, router: Router) -> NodeId {
        self.add_node(name, Node::Router(router))
    }

    /// Add a node (its interfaces already configured), inline or already boxed (a box is kept
    /// as it is: the instance is not copied).
    pub fn add_node(&mut self, name: &str, node: impl Into<Box<Node>>) -> NodeId {
        let node = node.into();
        let links = vec![None; node.iface_count()];
        self.nodes.push(NodeSpec {
            name: name.to_owned(),
            node,
            core: None,
            workers: 1,
            links,
            flows: Vec::new(),
            sink: false,
        });
        NodeId(self.nodes.len() as u32 - 1)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes, in the order they were added.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// A node, to configure it further.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut NodeSpec> {
        self.nodes.get_mut(id.0 as usize)
    }

    /// The links, in the order they were made.
    pub fn links(&self) -> &[LinkSpec] {
        &self.links
    }

    /// The seed every link's random generator is derived from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Set the seed every link's random generator is derived from (a run with the same
    /// network and seed makes the same random choices in the simulator).
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Copy every frame crossing a captured end, both ways, into `capture` (pcapng).
    pub fn set_capture(&mut self, capture: Capture) {
        self.capture = Some(capture);
    }

    /// Capture what crosses `end`, both ways (into the capture given to
    /// [`Network::set_capture`]). Returns false when the interface is on no link: nothing
    /// crosses it.
    pub fn capture(&mut self, end: End) -> bool {
        let Some(link) = self.link_of(end) else {
            return false;
        };
        let spec = &mut self.links[link.0 as usize];
        match spec.ends.iter().position(|&e| e == end) {
            Some(k) => {
                spec.egress[k].capture = true;
                true
            }
            None => false,
        }
    }

    /// Take the network apart for a driver, declaring every captured end to the capture (in
    /// link order, named `node:iface`).
    pub(crate) fn into_parts(mut self) -> std::io::Result<Parts> {
        let mut taps = Vec::with_capacity(self.links.len());
        for l in 0..self.links.len() {
            let spec = &self.links[l];
            let mut row = Vec::with_capacity(spec.ends.len());
            for (k, &end) in spec.ends.iter().enumerate() {
                let tap = match &mut self.capture {
                    Some(c) if spec.egress[k].capture => {
                        let name = end_name(&self.nodes, end);
                        Some(c.tap(&name)?)
                    }
                    _ => None,
                };
                row.push(tap);
            }
            taps.push(row);
        }
        Ok(Parts {
            nodes: self.nodes,
            links: self.links,
            seed: self.seed,
            capture: self.capture,
            taps,
        })
    }

    /// Pin a node to a core (worker `core % workers` of the engine; the simulator ignores it).
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
    /// not send or sink flows; [`Engine::start`](crate::engine::Engine::start) checks this.
    pub fn spread(&mut self, node: NodeId, workers: usize) {
        if let Some(n) = self.nodes.get_mut(node.0 as usize) {
            n.workers = workers.max(1);
        }
    }

    /// Connect two interfaces point to point.
    pub fn link(&mut self, a: End, b: End) -> Result<LinkId, NetworkError> {
        self.add_link(vec![a, b], Medium::Wire)
    }

    /// Connect several interfaces to one hub: what one sends, every other receives.
    pub fn hub(&mut self, members: &[End]) -> Result<LinkId, NetworkError> {
        if members.len() < 2 {
            return Err(NetworkError::TooFewEnds);
        }
        self.add_link(members.to_vec(), Medium::Wire)
    }

    /// Attach an interface to a shared-memory link file (created if absent, mode 0600), whose
    /// other side another shoal process attaches to: rump's shmif file, point to point.
    pub fn attach_file(
        &mut self,
        end: End,
        path: &std::path::Path,
    ) -> Result<LinkId, NetworkError> {
        self.add_link(vec![end], Medium::File(path.to_path_buf()))
    }

    /// Bind an interface to a host device: AF_XDP sockets on a NIC or veth, or a TAP device
    /// (see [`PortSpec`]). The device is opened when the engine starts.
    pub fn attach_port(&mut self, end: End, spec: PortSpec) -> Result<LinkId, NetworkError> {
        self.add_link(vec![end], Medium::Port(spec))
    }

    /// Join an interface to VDE (see [`VdeSpec`]): plug it into a switch, make it a switch
    /// of its own, or give it standard input and output. Opened when the engine starts; the
    /// simulator sends into nothing there.
    pub fn attach_vde(&mut self, end: End, spec: VdeSpec) -> Result<LinkId, NetworkError> {
        self.add_link(vec![end], Medium::Vde(spec))
    }

    /// Impair the frames leaving `end` on its link (netem is an egress stage, as on Linux).
    /// Returns false when the interface is on no link.
    pub fn impair(&mut self, end: End, netem: Netem) -> bool {
        let Some(link) = self.link_of(end) else {
            return false;
        };
        let spec = &mut self.links[link.0 as usize];
        match spec.ends.iter().position(|&e| e == end) {
            Some(k) => {
                spec.egress[k].netem = Some(Box::new(netem));
                true
            }
            None => false,
        }
    }

    /// Impair both (every) directions of a link.
    pub fn impair_link(&mut self, link: LinkId, netem: &Netem) {
        if let Some(spec) = self.links.get_mut(link.0 as usize) {
            for e in &mut spec.egress {
                e.netem = Some(Box::new(netem.clone()));
            }
        }
    }

    /// Give every end of a link a constant one-way delay (a propagation delay), replacing any
    /// impairment; zero makes it perfect.
    pub fn set_delay(&mut self, link: LinkId, delay: core::time::Duration) {
        if let Some(spec) = self.links.get_mut(link.0 as usize) {
            for e in &mut spec.egress {
                e.netem = Egress::delayed(delay).netem;
            }
        }
    }

    /// The link an interface is on.
    pub fn link_of(&self, (node, iface): End) -> Option<LinkId> {
        let n = self.nodes.get(node.0 as usize)?;
        n.links.get(usize::from(iface.0)).copied().flatten()
    }

    fn add_link(&mut self, ends: Vec<End>, medium: Medium) -> Result<LinkId, NetworkError> {
        for (k, &(node, iface)) in ends.iter().enumerate() {
            let spec =
                self.nodes
                    .get(node.0 as usize)
                    .ok_or_else(|| NetworkError::NoSuchIface {
                        node: format!("#{}", node.0),
                        iface: iface.0,
                    })?;
            let slot =
                spec.links
                    .get(usize::from(iface.0))
                    .ok_or_else(|| NetworkError::NoSuchIface {
                        node: spec.name.clone(),
                        iface: iface.0,
                    })?;
            if slot.is_some() || ends[..k].contains(&(node, iface)) {
                return Err(NetworkError::AlreadyLinked {
                    node: spec.name.clone(),
                    iface: iface.0,
                });
            }
        }
        let id = LinkId(self.links.len() as u32);
        for &(node, iface) in &ends {
            self.nodes[node.0 as usize].links[usize::from(iface.0)] = Some(id);
        }
        let egress = vec![Egress::default(); ends.len()];
        self.links.push(LinkSpec {
            ends,
            medium,
            egress,
        });
        Ok(id)
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
            if let Some(r) = n.node.router_mut() {
                r.listen_udp(port);
            }
            n.sink = true;
        }
    }

    /// A node by name.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        let i = self.nodes.iter().position(|n| n.name == name)?;
        Some(NodeId(i as u32))
    }

    /// A name for a link: its ends as `node:iface`, joined by `—`.
    pub fn link_name(&self, link: LinkId) -> String {
        let Some(spec) = self.links.get(link.0 as usize) else {
            return format!("link #{}", link.0);
        };
        let names: Vec<String> = spec.ends.iter().map(|&e| self.end_name(e)).collect();
        match &spec.medium {
            Medium::Wire => names.join(" — "),
            Medium::File(p) => format!("{} — {}", names.join(""), p.display()),
            Medium::Port(p) => format!(
                "{} — {}",
                names.join(""),
                p.dev.as_deref().or(p.tap.as_deref()).unwrap_or("tap")
            ),
            Medium::Vde(v) => format!("{} — {v}", names.join("")),
        }
    }

    /// `node:iface` of an end.
    pub fn end_name(&self, end: End) -> String {
        end_name(&self.nodes, end)
    }
}

/// `node:iface` of an end.
pub(crate) fn end_name(nodes: &[NodeSpec], (node, iface): End) -> String {
    match nodes.get(node.0 as usize) {
        Some(n) => match n.node.iface_name(iface) {
            Some(name) => format!("{}:{name}", n.name),
            None => format!("{}:#{}", n.name, iface.0),
        },
        None => format!("#{}:#{}", node.0, iface.0),
    }
}
