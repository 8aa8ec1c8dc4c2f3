//! The simulator: a network run on a virtual clock, deterministic and replayable.
//!
//! It drives the same runtime model as the engine's workers ([`crate::fabric`]) with the whole
//! network in one fabric and one pool: nodes behind the batch contract, links with their
//! stages (impairments, observers, counters), hubs. The clock jumps straight to the next thing
//! due — a frame whose time on a link is up, a node's timer — so a simulated minute of ARP aging
//! costs microseconds, and every random choice of a link comes from its own generator seeded
//! from the network's seed, so the same network and seed give the same run.
//!
//! What nodes deliver to their application (echo replies, ICMP errors, UDP to listened ports)
//! lands in the node's inbox as bytes; [`Sim::ping`] and [`Sim::traceroute`] are built on it,
//! answering like their Linux namesakes. A trace of every frame put on a link can be recorded
//! for tests that inspect the wire.

use core::time::Duration;
use std::net::Ipv4Addr;

use crate::capture::{Capture, CaptureTotals};
use crate::fabric::runtime::Seen;
use crate::fabric::{
    Egress, Env, Fabric, IfaceId, LinkId, Medium, Network, NetworkError, Node, Parts,
};
use crate::frame::{Frame, Pool, PoolError};

mod probe;

pub use crate::fabric::{EndCounters, LinkReport, NodeId};
pub use crate::probe::{Hop, PingReply, TRACEROUTE_PORT};
use crate::router::{Config, ConfigError, IfAddr, Router, SendError, SendOptions};
use crate::shape::Netem;
use crate::switch::Switch;
use crate::time::Instant;
use crate::wire::ethernet;

/// One end of a link: a node's interface.
pub type Endpoint = (NodeId, IfaceId);

/// A frame a node handed to its application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// When.
    pub at: Instant,
    /// Interface it arrived on.
    pub iface: IfaceId,
    /// The whole frame, Ethernet header first.
    pub bytes: Vec<u8>,
}

/// A frame seen on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traced {
    /// When it was sent.
    pub at: Instant,
    /// Sender.
    pub from: Endpoint,
    /// The frame.
    pub bytes: Vec<u8>,
}

/// Why a simulation could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The frame pool could not be made.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A router refused a configuration step.
    #[error("{node}: {source}")]
    Config {
        /// Node name.
        node: String,
        /// What it refused.
        source: ConfigError,
    },
    /// A switch refused its configuration.
    #[error("{node}: {source}")]
    Switch {
        /// Node name.
        node: String,
        /// What it refused.
        source: crate::switch::ConfigError,
    },
    /// A link could not be made.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The capture could not be written.
    #[error("capture: {0}")]
    Capture(std::io::Error),
    /// No node has that name.
    #[error("no node named {0}")]
    NoSuchNode(String),
}

/// The simulator's side of the fabric: the virtual clock, the inboxes, the trace.
#[derive(Default)]
struct SimEnv {
    now: Instant,
    inboxes: Vec<Vec<Delivered>>,
    trace: Option<Vec<Traced>>,
}

impl Env for SimEnv {
    fn now(&self) -> Instant {
        self.now
    }

    fn transmit(
        &mut self,
        _exit: u32,
        _pool: &mut Pool,
        frames: &mut Vec<Frame>,
        refused: &mut Vec<Frame>,
    ) -> usize {
        // The simulator runs no media of its own: nothing is ever staged for one.
        refused.append(frames);
        0
    }

    fn delivered(&mut self, node: u32, iface: IfaceId, at: Instant, frame: &[u8]) {
        if let Some(inbox) = self.inboxes.get_mut(node as usize) {
            inbox.push(Delivered {
                at,
                iface,
                bytes: frame.to_vec(),
            });
        }
    }

    fn wall(&self, at: Instant) -> u64 {
        at.as_nanos()
    }

    fn observe(&mut self, seen: Seen<'_>) {
        // A frame an impairment drops was seen when it was put on the link.
        if let Some(trace) = &mut self.trace
            && seen.outbound
            && seen.dropped.is_none()
        {
            trace.push(Traced {
                at: seen.at,
                from: (NodeId(seen.node), seen.iface),
                bytes: seen.frame.to_vec(),
            });
        }
    }
}

/// The simulated network.
pub struct Sim {
    fabric: Fabric<SimEnv>,
    /// Where captured frames go, written as the clock advances.
    capture: Option<Capture>,
    capture_error: Option<std::io::Error>,
    /// Links made so far (their ids seed their generators).
    links: u32,
    seed: u64,
}

impl Sim {
    /// An empty network whose nodes share a pool of `frames` buffers.
    pub fn new(frames: usize) -> Result<Sim, SimError> {
        Ok(Sim {
            fabric: Fabric::new(SimEnv::default(), Pool::new(frames)?),
            capture: None,
            capture_error: None,
            links: 0,
            seed: 0,
        })
    }

    /// Run a described network, its nodes sharing a pool of `frames` buffers. Node `i` of the
    /// network is `NodeId(i)`. Interfaces on a link file or bound to a host device send into
    /// nothing: neither the other process nor the host is part of a simulation. Flows are the
    /// engine's business; a node's sink is kept.
    pub fn from_network(net: Network, frames: usize) -> Result<Sim, SimError> {
        let mut sim = Sim::new(frames)?;
        let Parts {
            nodes,
            links,
            seed,
            capture,
            taps,
        } = net.into_parts().map_err(SimError::Capture)?;
        sim.seed = seed;
        sim.capture = capture;
        for spec in nodes {
            let slot = sim.add(&spec.name, spec.node);
            if spec.sink {
                sim.fabric
                    .set_app(slot.0, Vec::new(), Some(Default::default()));
            }
        }
        for (l, spec) in links.iter().enumerate() {
            let link = LinkId(l as u32);
            let at: Vec<_> = spec.ends.iter().map(|&(n, i)| (n.0, i)).collect();
            let egress = &spec.egress;
            let ends = match (&spec.medium, &at[..]) {
                (Medium::Wire, &[a, b]) => {
                    let f = &mut sim.fabric;
                    f.wire_pair(link, [a, b], [&egress[0], &egress[1]], seed)
                        .to_vec()
                }
                (Medium::Wire, _) => sim.fabric.wire_hub(link, &at, egress, seed),
                (Medium::File(_) | Medium::Port(_) | Medium::Vde(_), _) => at
                    .iter()
                    .zip(egress)
                    .enumerate()
                    .map(|(k, (&place, eg))| sim.fabric.wire_away(link, k, place, eg, seed))
                    .collect(),
            };
            for (&e, tap) in ends.iter().zip(&taps[l]) {
                if let Some(tap) = tap {
                    sim.fabric.capture(e, tap.clone());
                }
            }
        }
        sim.links = links.len() as u32;
        Ok(sim)
    }

    /// Write what the capture holds and close it (the network's capture, if it has one),
    /// with its totals; `None` without a capture.
    pub fn finish_capture(&mut self) -> Option<std::io::Result<CaptureTotals>> {
        let mut capture = self.capture.take()?;
        Some(match self.capture_error.take() {
            Some(e) => Err(e),
            None => capture.drain().and_then(|_| capture.finish()),
        })
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.fabric.env.now
    }

    /// The shared pool.
    pub fn pool(&self) -> &Pool {
        &self.fabric.pool
    }

    /// Add a node.
    pub fn add_node(&mut self, name: &str, config: Config) -> NodeId {
        self.add_router(name, Router::new(config))
    }

    /// Add a node around an already configured instance.
    pub fn add_router(&mut self, name: &str, router: Router) -> NodeId {
        self.add(name, Box::new(Node::Router(router)))
    }

    fn add(&mut self, name: &str, node: Box<Node>) -> NodeId {
        self.fabric.env.inboxes.push(Vec::new());
        NodeId(self.fabric.add_slot(name.to_owned(), node))
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Result<NodeId, SimError> {
        self.fabric
            .slots
            .iter()
            .position(|n| n.name == name)
            .map(|i| NodeId(i as u32))
            .ok_or_else(|| SimError::NoSuchNode(name.to_owned()))
    }

    /// A node's name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.fabric.slots[id.0 as usize].name
    }

    /// A node's router.
    ///
    /// # Panics
    /// If the node is a switch.
    pub fn router(&self, id: NodeId) -> &Router {
        match &*self.fabric.slots[id.0 as usize].node {
            Node::Router(r) => r,
            Node::Switch(_) => panic!("{} is a switch, not a router", self.name(id)),
        }
    }

    /// A node's router, for configuration.
    ///
    /// # Panics
    /// If the node is a switch.
    pub fn router_mut(&mut self, id: NodeId) -> &mut Router {
        let name = self.name(id).to_owned();
        match &mut *self.fabric.slots[id.0 as usize].node {
            Node::Router(r) => r,
            Node::Switch(_) => panic!("{name} is a switch, not a router"),
        }
    }

    /// A node's switch.
    ///
    /// # Panics
    /// If the node is a router or host.
    pub fn switch(&self, id: NodeId) -> &Switch {
        match &*self.fabric.slots[id.0 as usize].node {
            Node::Switch(s) => s,
            Node::Router(_) => panic!("{} is not a switch", self.name(id)),
        }
    }

    /// Add a switch.
    pub fn add_switch(&mut self, name: &str, switch: Switch) -> NodeId {
        self.add(name, Box::new(Node::Switch(switch)))
    }

    /// Every link's totals by end, with what is in flight now (link ids in the order the links
    /// were made).
    pub fn links(&self) -> Vec<LinkReport> {
        let mut links = Vec::new();
        self.fabric.report_links(&mut links);
        links
    }

    /// What the link end at a node's interface counted, if it is on a link.
    pub fn link_counters(&self, (node, iface): Endpoint) -> Option<&EndCounters> {
        let e = self.fabric.outlet(node.0, iface)?;
        Some(&self.fabric.ends[e as usize].counters)
    }

    /// Add an interface with MTU 1500, a generated locally administered MAC
    /// (02:00:node:node:iface:00) and, optionally, an address.
    pub fn add_iface(
        &mut self,
        node: NodeId,
        name: &str,
        addr: Option<IfAddr>,
    ) -> Result<IfaceId, SimError> {
        let index = self.router(node).ifaces().len();
        let [hi, lo] = (node.0 as u16).to_be_bytes();
        let mac = ethernet::Address([0x02, 0, hi, lo, index as u8, 0]);
        let id = self.add_iface_with(node, name, mac, 1500)?;
        if let Some(a) = addr {
            let r = self.router_mut(node).add_addr(id, a);
            r.map_err(|source| SimError::Config {
                node: self.name(node).to_owned(),
                source,
            })?;
        }
        Ok(id)
    }

    /// Add an interface with the given MAC and MTU and no address (addresses follow through
    /// [`router_mut`](Self::router_mut)).
    pub fn add_iface_with(
        &mut self,
        node: NodeId,
        name: &str,
        mac: ethernet::Address,
        mtu: u16,
    ) -> Result<IfaceId, SimError> {
        let added = self.router_mut(node).add_iface(name, mac, mtu);
        let id = added.map_err(|source| SimError::Config {
            node: self.name(node).to_owned(),
            source,
        })?;
        self.fabric.iface_added(node.0);
        Ok(id)
    }

    /// Connect two interfaces with a link of one-way `delay`.
    pub fn link(&mut self, a: Endpoint, b: Endpoint, delay: Duration) -> Result<(), SimError> {
        self.check_unlinked(&[a, b])?;
        let egress = Egress::delayed(delay);
        let link = self.next_link();
        let ends = [(a.0.0, a.1), (b.0.0, b.1)];
        self.fabric
            .wire_pair(link, ends, [&egress, &egress], self.seed);
        self.watch_new_ends();
        Ok(())
    }

    /// Connect interfaces to one hub of one-way `delay`: a frame any member sends reaches every
    /// other member (each gets its own copy; a copy the pool has no room for is lost and
    /// counted, as on a congested segment).
    pub fn hub(&mut self, members: &[Endpoint], delay: Duration) -> Result<(), SimError> {
        self.check_unlinked(members)?;
        let egress = vec![Egress::delayed(delay); members.len()];
        let link = self.next_link();
        let at: Vec<_> = members.iter().map(|&(n, i)| (n.0, i)).collect();
        self.fabric.wire_hub(link, &at, &egress, self.seed);
        self.watch_new_ends();
        Ok(())
    }

    /// Impair the frames leaving `end` (netem is an egress stage): replaces the end's delay.
    /// Returns false when the interface is on no link.
    pub fn impair(&mut self, end: Endpoint, netem: &Netem) -> bool {
        let Some(e) = self.fabric.outlet(end.0.0, end.1) else {
            return false;
        };
        let link = self.fabric.ends[e as usize].link;
        let k = self.fabric.ends[..e as usize]
            .iter()
            .filter(|x| x.link == link)
            .count();
        let seed = crate::fabric::end_seed(self.seed, link, k);
        self.fabric.reshape(e, Some(netem), seed);
        true
    }

    /// Bring the link a node's interface is on up or down. Returns false when it is on no link.
    pub fn set_link_up(&mut self, end: Endpoint, up: bool) -> bool {
        let Some(e) = self.fabric.outlet(end.0.0, end.1) else {
            return false;
        };
        let link = self.fabric.ends[e as usize].link;
        for x in 0..self.fabric.ends.len() {
            if self.fabric.ends[x].link == link {
                self.fabric.set_up(x as u32, up);
            }
        }
        true
    }

    fn next_link(&mut self) -> LinkId {
        self.links += 1;
        LinkId(self.links - 1)
    }

    fn check_unlinked(&self, ends: &[Endpoint]) -> Result<(), SimError> {
        for (k, &(node, iface)) in ends.iter().enumerate() {
            let slot = self
                .fabric
                .slots
                .get(node.0 as usize)
                .filter(|s| usize::from(iface.0) < s.node.iface_count());
            let Some(slot) = slot else {
                return Err(NetworkError::NoSuchIface {
                    node: format!("#{}", node.0),
                    iface: iface.0,
                }
                .into());
            };
            if self.fabric.outlet(node.0, iface).is_some() || ends[..k].contains(&(node, iface)) {
                return Err(NetworkError::AlreadyLinked {
                    node: slot.name.clone(),
                    iface: iface.0,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Record every frame put on a link from now on.
    pub fn start_trace(&mut self) {
        self.fabric.env.trace = Some(Vec::new());
        self.watch_new_ends();
    }

    fn watch_new_ends(&mut self) {
        if self.fabric.env.trace.is_some() {
            for e in 0..self.fabric.ends.len() {
                self.fabric.trace(e as u32, true);
            }
        }
    }

    /// Frames recorded since [`start_trace`](Self::start_trace), emptied.
    pub fn take_trace(&mut self) -> Vec<Traced> {
        let trace = self.fabric.env.trace.as_mut();
        trace.map(core::mem::take).unwrap_or_default()
    }

    /// Frames a node's application received, emptied.
    pub fn take_inbox(&mut self, node: NodeId) -> Vec<Delivered> {
        core::mem::take(&mut self.fabric.env.inboxes[node.0 as usize])
    }

    /// Put raw bytes on the wire towards `to`, as if its link peer had sent them. Returns false
    /// when the pool is exhausted or the bytes do not fit a frame.
    pub fn inject(&mut self, to: Endpoint, bytes: &[u8]) -> bool {
        let Some(frame) = self.fabric.pool.alloc_from(bytes) else {
            return false;
        };
        self.fabric.inject(to.0.0, to.1, frame);
        true
    }

    /// Send an echo request from `node`'s application.
    pub fn send_echo_request(
        &mut self,
        node: NodeId,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload: &[u8],
        opts: SendOptions,
    ) -> Result<(), SendError> {
        let now = self.now();
        self.fabric.originate(node.0, |n, pool, out| match n {
            Node::Router(r) => r.send_echo_request(now, dst, ident, seq, payload, opts, pool, out),
            Node::Switch(_) => Err(SendError::NoStack),
        })
    }

    /// Send a UDP datagram from `node`'s application.
    pub fn send_udp(
        &mut self,
        node: NodeId,
        dst: Ipv4Addr,
        ports: (u16, u16),
        payload: &[u8],
        opts: SendOptions,
    ) -> Result<(), SendError> {
        let now = self.now();
        self.fabric.originate(node.0, |n, pool, out| match n {
            Node::Router(r) => r.send_udp(now, dst, ports.0, ports.1, payload, opts, pool, out),
            Node::Switch(_) => Err(SendError::NoStack),
        })
    }

    /// Run until nothing is in flight and no timer is due before `deadline`; the clock ends at
    /// `deadline`.
    pub fn run_until(&mut self, deadline: Instant) {
        loop {
            self.settle();
            match self.fabric.next_deadline().filter(|&t| t <= deadline) {
                Some(t) => self.advance(t),
                None => break,
            }
        }
        self.advance(deadline);
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now() + d);
    }

    /// Run until `node`'s inbox has a frame that `want` accepts (returning it, and leaving the
    /// rest of the inbox in place) or `timeout` passes.
    pub fn run_until_delivered(
        &mut self,
        node: NodeId,
        timeout: Duration,
        want: impl Fn(&Delivered) -> bool,
    ) -> Option<Delivered> {
        let deadline = self.now() + timeout;
        loop {
            self.settle();
            let inbox = &mut self.fabric.env.inboxes[node.0 as usize];
            if let Some(i) = inbox.iter().position(&want) {
                return Some(inbox.remove(i));
            }
            match self.fabric.next_deadline().filter(|&t| t <= deadline) {
                Some(t) => self.advance(t),
                None => {
                    self.advance(deadline);
                    return None;
                }
            }
        }
    }

    /// Do everything due at the current time, until nothing more is.
    fn settle(&mut self) {
        let now = self.now();
        while self.fabric.run(now) != 0 {}
        if let Some(c) = &mut self.capture
            && self.capture_error.is_none()
            && let Err(e) = c.drain()
        {
            // Kept for finish_capture; the network runs on without its capture.
            self.capture_error = Some(e);
        }
    }

    fn advance(&mut self, t: Instant) {
        let env = &mut self.fabric.env;
        env.now = env.now.max(t);
    }
}
