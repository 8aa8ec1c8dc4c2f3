//! A deterministic network of router instances on a virtual clock.
//!
//! Nodes are [`Router`]s (hosts are routers with forwarding off) wired by point-to-point links
//! or hubs (a bus: a frame sent by one member reaches every other member, like a shmif bus
//! file or an old coaxial segment), each with a fixed one-way delay. Frames in flight wait in
//! a time-ordered queue; the clock jumps straight to the next delivery or timer, so a simulated
//! minute of ARP aging costs microseconds.
//! Everything shares one [`Pool`], and a link hands over the frame reference itself: the same
//! zero-copy hand-off an engine does between instances on one worker.
//!
//! What nodes deliver to their application (echo replies, ICMP errors, UDP to listened ports)
//! lands in the node's inbox as bytes; [`Sim::ping`] and [`Sim::traceroute`] are built on it,
//! answering like their Linux namesakes. A trace of every frame put on a link can be recorded
//! for tests that inspect the wire.

use core::time::Duration;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;

use crate::frame::{Frame, Pool, PoolError};

mod chain;
mod probe;

pub use crate::probe::{Hop, PingReply, TRACEROUTE_PORT};
use crate::router::{Action, Config, ConfigError, IfAddr, IfaceId, Router, SendError, SendOptions};
use crate::time::Instant;
use crate::wire::ethernet;
pub use chain::{Chain, Plan, chain, plan};

/// Index of a node in a [`Sim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

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

struct Node {
    name: String,
    router: Router,
    inbox: Vec<Delivered>,
}

struct InFlight {
    at: Instant,
    seq: u64,
    to: Endpoint,
    frame: Frame,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
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
    /// An endpoint is already linked.
    #[error("{0} is already linked")]
    AlreadyLinked(String),
    /// No node has that name.
    #[error("no node named {0}")]
    NoSuchNode(String),
}

/// What an endpoint is plugged into.
#[derive(Debug, Clone, Copy)]
enum Wire {
    /// A point-to-point link to this peer.
    Peer(Endpoint, Duration),
    /// The hub with this index.
    Hub(usize),
}

/// The simulated network.
pub struct Sim {
    pool: Pool,
    nodes: Vec<Node>,
    /// What each endpoint is plugged into, indexed by node then interface.
    peers: Vec<Vec<Option<Wire>>>,
    /// Members of each hub and its one-way delay.
    hubs: Vec<(Vec<Endpoint>, Duration)>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    now: Instant,
    actions: Vec<Action>,
    trace: Option<Vec<Traced>>,
}

impl Sim {
    /// An empty network whose nodes share a pool of `frames` buffers.
    pub fn new(frames: usize) -> Result<Sim, SimError> {
        Ok(Sim {
            pool: Pool::new(frames)?,
            nodes: Vec::new(),
            peers: Vec::new(),
            hubs: Vec::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            now: Instant::ZERO,
            actions: Vec::new(),
            trace: None,
        })
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The shared pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Add a node.
    pub fn add_node(&mut self, name: &str, config: Config) -> NodeId {
        self.add_router(name, Router::new(config))
    }

    /// Add a node around an already configured instance.
    pub fn add_router(&mut self, name: &str, router: Router) -> NodeId {
        let ifaces = router.ifaces().len();
        self.nodes.push(Node {
            name: name.to_owned(),
            router,
            inbox: Vec::new(),
        });
        self.peers.push(vec![None; ifaces]);
        NodeId(self.nodes.len() - 1)
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Result<NodeId, SimError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .map(NodeId)
            .ok_or_else(|| SimError::NoSuchNode(name.to_owned()))
    }

    /// A node's name.
    pub fn name(&self, id: NodeId) -> &str {
        &self.nodes[id.0].name
    }

    /// A node's router.
    pub fn router(&self, id: NodeId) -> &Router {
        &self.nodes[id.0].router
    }

    /// A node's router, for configuration.
    pub fn router_mut(&mut self, id: NodeId) -> &mut Router {
        &mut self.nodes[id.0].router
    }

    /// Add an interface with MTU 1500, a generated locally administered MAC
    /// (02:00:node:node:iface:00) and, optionally, an address.
    pub fn add_iface(
        &mut self,
        node: NodeId,
        name: &str,
        addr: Option<IfAddr>,
    ) -> Result<IfaceId, SimError> {
        let index = self.nodes[node.0].router.ifaces().len();
        let [hi, lo] = (node.0 as u16).to_be_bytes();
        let mac = ethernet::Address([0x02, 0, hi, lo, index as u8, 0]);
        let id = self.add_iface_with(node, name, mac, 1500)?;
        if let Some(a) = addr {
            let n = &mut self.nodes[node.0];
            n.router
                .add_addr(id, a)
                .map_err(|source| SimError::Config {
                    node: n.name.clone(),
                    source,
                })?;
        }
        Ok(id)
    }

    /// Add an interface with the given MAC and MTU and no address (a topology file's interface;
    /// addresses follow through [`router_mut`](Self::router_mut)).
    pub fn add_iface_with(
        &mut self,
        node: NodeId,
        name: &str,
        mac: ethernet::Address,
        mtu: u16,
    ) -> Result<IfaceId, SimError> {
        let n = &mut self.nodes[node.0];
        let id = n
            .router
            .add_iface(name, mac, mtu)
            .map_err(|source| SimError::Config {
                node: n.name.clone(),
                source,
            })?;
        self.peers[node.0].push(None);
        Ok(id)
    }

    /// Connect two interfaces with a link of one-way `delay`.
    pub fn link(&mut self, a: Endpoint, b: Endpoint, delay: Duration) -> Result<(), SimError> {
        self.check_unlinked(&[a, b])?;
        self.peers[a.0.0][usize::from(a.1.0)] = Some(Wire::Peer(b, delay));
        self.peers[b.0.0][usize::from(b.1.0)] = Some(Wire::Peer(a, delay));
        Ok(())
    }

    /// Connect interfaces to one hub of one-way `delay`: a frame any member sends reaches every
    /// other member (each gets its own copy; a copy the pool has no room for is lost, as on a
    /// congested segment).
    pub fn hub(&mut self, members: &[Endpoint], delay: Duration) -> Result<(), SimError> {
        self.check_unlinked(members)?;
        let index = self.hubs.len();
        for e in members {
            self.peers[e.0.0][usize::from(e.1.0)] = Some(Wire::Hub(index));
        }
        self.hubs.push((members.to_vec(), delay));
        Ok(())
    }

    fn check_unlinked(&self, ends: &[Endpoint]) -> Result<(), SimError> {
        for (i, &e) in ends.iter().enumerate() {
            if self.peer(e).is_some() || ends[..i].contains(&e) {
                return Err(SimError::AlreadyLinked(format!(
                    "{}:{}",
                    self.nodes[e.0.0].name, e.1.0
                )));
            }
        }
        Ok(())
    }

    fn peer(&self, e: Endpoint) -> Option<Wire> {
        self.peers
            .get(e.0.0)?
            .get(usize::from(e.1.0))
            .copied()
            .flatten()
    }

    /// Record every frame put on a link from now on.
    pub fn start_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// Frames recorded since [`start_trace`](Self::start_trace), emptied.
    pub fn take_trace(&mut self) -> Vec<Traced> {
        self.trace.as_mut().map(core::mem::take).unwrap_or_default()
    }

    /// Frames a node's application received, emptied.
    pub fn take_inbox(&mut self, node: NodeId) -> Vec<Delivered> {
        core::mem::take(&mut self.nodes[node.0].inbox)
    }

    /// Put raw bytes on the wire towards `to`, as if its link peer had sent them. Returns false
    /// when the pool is exhausted or the bytes do not fit a frame.
    pub fn inject(&mut self, to: Endpoint, bytes: &[u8]) -> bool {
        let Some(frame) = self.pool.alloc_from(bytes) else {
            return false;
        };
        self.schedule(self.now, to, frame);
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
        let router = &mut self.nodes[node.0].router;
        router.send_echo_request(
            self.now,
            dst,
            ident,
            seq,
            payload,
            opts,
            &mut self.pool,
            &mut self.actions,
        )?;
        self.apply(node);
        Ok(())
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
        let router = &mut self.nodes[node.0].router;
        router.send_udp(
            self.now,
            dst,
            ports.0,
            ports.1,
            payload,
            opts,
            &mut self.pool,
            &mut self.actions,
        )?;
        self.apply(node);
        Ok(())
    }

    /// Run until nothing is in flight and no timer is due before `deadline`; the clock ends at
    /// `deadline`.
    pub fn run_until(&mut self, deadline: Instant) {
        while let Some(at) = self.next_event().filter(|&t| t <= deadline) {
            self.now = self.now.max(at);
            self.step();
        }
        self.now = self.now.max(deadline);
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Run until `node`'s inbox has a frame that `want` accepts (returning it, and leaving the
    /// rest of the inbox in place) or `timeout` passes.
    pub fn run_until_delivered(
        &mut self,
        node: NodeId,
        timeout: Duration,
        want: impl Fn(&Delivered) -> bool,
    ) -> Option<Delivered> {
        let deadline = self.now + timeout;
        loop {
            let inbox = &mut self.nodes[node.0].inbox;
            if let Some(i) = inbox.iter().position(&want) {
                return Some(inbox.remove(i));
            }
            match self.next_event().filter(|&t| t <= deadline) {
                Some(at) => {
                    self.now = self.now.max(at);
                    self.step();
                }
                None => {
                    self.now = deadline;
                    return None;
                }
            }
        }
    }

    fn next_event(&self) -> Option<Instant> {
        let wire = self.in_flight.peek().map(|Reverse(f)| f.at);
        let timers = self
            .nodes
            .iter()
            .filter_map(|n| n.router.poll_timeout())
            .min();
        match (wire, timers) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Deliver every frame due now and run every timer due now.
    fn step(&mut self) {
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(f)| f.at <= self.now)
        {
            let Some(Reverse(f)) = self.in_flight.pop() else {
                break;
            };
            let (node, iface) = f.to;
            self.nodes[node.0].router.process_frame(
                self.now,
                iface,
                f.frame,
                &mut self.pool,
                &mut self.actions,
            );
            self.apply(node);
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i]
                .router
                .poll_timeout()
                .is_some_and(|t| t <= self.now)
            {
                self.nodes[i]
                    .router
                    .handle_timeout(self.now, &mut self.pool, &mut self.actions);
                self.apply(NodeId(i));
            }
        }
    }

    /// Carry out the actions `node` just produced.
    fn apply(&mut self, node: NodeId) {
        let mut actions = core::mem::take(&mut self.actions);
        for action in actions.drain(..) {
            match action {
                Action::Transmit { iface, frame } => {
                    let from = (node, iface);
                    let wire = self.peer(from);
                    if wire.is_some()
                        && let Some(trace) = &mut self.trace
                    {
                        trace.push(Traced {
                            at: self.now,
                            from,
                            bytes: self.pool.data(&frame).to_vec(),
                        });
                    }
                    match wire {
                        Some(Wire::Peer(to, delay)) => self.schedule(self.now + delay, to, frame),
                        Some(Wire::Hub(h)) => self.broadcast(h, from, frame),
                        None => self.pool.free(frame),
                    }
                }
                Action::Deliver { iface, frame } => {
                    let bytes = self.pool.data(&frame).to_vec();
                    self.nodes[node.0].inbox.push(Delivered {
                        at: self.now,
                        iface,
                        bytes,
                    });
                    self.pool.free(frame);
                }
                Action::Drop { frame, .. } => self.pool.free(frame),
            }
        }
        self.actions = actions;
    }

    /// Hand `frame` to every member of hub `h` but its sender: copies for all but the last.
    fn broadcast(&mut self, h: usize, from: Endpoint, frame: Frame) {
        let (members, delay) = &self.hubs[h];
        let (delay, others): (Duration, Vec<Endpoint>) = (
            *delay,
            members.iter().copied().filter(|&m| m != from).collect(),
        );
        let at = self.now + delay;
        let Some((&last, rest)) = others.split_last() else {
            self.pool.free(frame);
            return;
        };
        for &to in rest {
            let bytes = self.pool.data(&frame).to_vec();
            if let Some(copy) = self.pool.alloc_from(&bytes) {
                self.schedule(at, to, copy);
            }
        }
        self.schedule(at, last, frame);
    }

    fn schedule(&mut self, at: Instant, to: Endpoint, frame: Frame) {
        self.seq += 1;
        self.in_flight.push(Reverse(InFlight {
            at,
            seq: self.seq,
            to,
            frame,
        }));
    }
}
