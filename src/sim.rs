//! A deterministic network of router instances on a virtual clock.
//!
//! Nodes are [`Router`]s (hosts are routers with forwarding off) wired by point-to-point links
//! with a fixed one-way delay. Frames in flight wait in a time-ordered queue; the clock jumps
//! straight to the next delivery or timer, so a simulated minute of ARP aging costs microseconds.
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
use crate::router::{Action, Config, ConfigError, IfAddr, IfaceId, Router, SendError, SendOptions};
use crate::time::Instant;
use crate::wire::{ethernet, icmpv4, ipv4, udp};

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

/// The simulated network.
pub struct Sim {
    pool: Pool,
    nodes: Vec<Node>,
    /// Peer of each endpoint, indexed by node then interface.
    peers: Vec<Vec<Option<(Endpoint, Duration)>>>,
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
        self.nodes.push(Node {
            name: name.to_owned(),
            router: Router::new(config),
            inbox: Vec::new(),
        });
        self.peers.push(Vec::new());
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
        let n = &mut self.nodes[node.0];
        let index = n.router.ifaces().len();
        let [hi, lo] = (node.0 as u16).to_be_bytes();
        let mac = ethernet::Address([0x02, 0, hi, lo, index as u8, 0]);
        let wrap = |source| SimError::Config {
            node: n.name.clone(),
            source,
        };
        let id = n.router.add_iface(name, mac, 1500).map_err(wrap)?;
        if let Some(a) = addr {
            n.router
                .add_addr(id, a)
                .map_err(|source| SimError::Config {
                    node: n.name.clone(),
                    source,
                })?;
        }
        self.peers[node.0].push(None);
        Ok(id)
    }

    /// Connect two interfaces with a link of one-way `delay`.
    pub fn link(&mut self, a: Endpoint, b: Endpoint, delay: Duration) -> Result<(), SimError> {
        for e in [a, b] {
            if self.peer(e).is_some() {
                return Err(SimError::AlreadyLinked(format!(
                    "{}:{}",
                    self.nodes[e.0.0].name, e.1.0
                )));
            }
        }
        self.peers[a.0.0][usize::from(a.1.0)] = Some((b, delay));
        self.peers[b.0.0][usize::from(b.1.0)] = Some((a, delay));
        Ok(())
    }

    fn peer(&self, e: Endpoint) -> Option<(Endpoint, Duration)> {
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
                Action::Transmit { iface, frame } => match self.peer((node, iface)) {
                    Some((to, delay)) => {
                        if let Some(trace) = &mut self.trace {
                            trace.push(Traced {
                                at: self.now,
                                from: (node, iface),
                                bytes: self.pool.data(&frame).to_vec(),
                            });
                        }
                        self.schedule(self.now + delay, to, frame);
                    }
                    None => self.pool.free(frame),
                },
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

/// What one ping probe got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingReply {
    /// An echo reply after this round-trip time, with the reply's TTL.
    Echo { rtt: Duration, ttl: u8 },
    /// An ICMP error from this address (type, code).
    Error { from: Ipv4Addr, kind: u8, code: u8 },
    /// Nothing within the timeout.
    Timeout,
}

/// One traceroute hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Probe TTL.
    pub ttl: u8,
    /// Who answered, if anyone.
    pub from: Option<Ipv4Addr>,
    /// Round trip of the answer.
    pub rtt: Option<Duration>,
    /// True when the answer was port unreachable from the destination: the trace is done.
    pub reached: bool,
}

/// traceroute's default first UDP port.
pub const TRACEROUTE_PORT: u16 = 33434;

impl Sim {
    /// Ping `dst` from `node` once with `payload_len` bytes of payload and wait up to `timeout`.
    pub fn ping(
        &mut self,
        node: NodeId,
        dst: Ipv4Addr,
        seq: u16,
        payload_len: usize,
        opts: SendOptions,
        timeout: Duration,
    ) -> Result<PingReply, SendError> {
        const IDENT: u16 = 0x5348;
        let sent = self.now;
        self.send_echo_request(node, dst, IDENT, seq, &vec![0xa5; payload_len], opts)?;
        let got = self.run_until_delivered(node, timeout, |d| match parse_icmp(&d.bytes) {
            Some((_, _, icmp, _)) if icmp.msg_type() == icmpv4::Message::EchoReply => {
                icmp.echo_ident() == IDENT && icmp.echo_seq_no() == seq
            }
            Some((_, _, icmp, quoted)) if icmp.msg_type().is_error() => {
                quoted_echo(quoted) == Some((IDENT, seq))
            }
            _ => false,
        });
        Ok(
            match got
                .as_ref()
                .and_then(|d| parse_icmp(&d.bytes).map(|p| (d.at, p)))
            {
                Some((at, (src, ttl, icmp, _))) => match icmp.msg_type() {
                    icmpv4::Message::EchoReply => PingReply::Echo {
                        rtt: at - sent,
                        ttl,
                    },
                    kind => PingReply::Error {
                        from: src,
                        kind: kind.into(),
                        code: icmp.msg_code(),
                    },
                },
                None => PingReply::Timeout,
            },
        )
    }

    /// Trace the path from `node` to `dst` as Linux traceroute does by default: UDP probes to
    /// port 33434 + n with TTL 1, 2, ..., one probe per hop here, until the destination answers
    /// port unreachable or `max_hops` is reached.
    pub fn traceroute(
        &mut self,
        node: NodeId,
        dst: Ipv4Addr,
        max_hops: u8,
        timeout: Duration,
    ) -> Result<Vec<Hop>, SendError> {
        const SPORT: u16 = 40000;
        let mut hops = Vec::new();
        for ttl in 1..=max_hops {
            let dport = TRACEROUTE_PORT + u16::from(ttl) - 1;
            let sent = self.now;
            let opts = SendOptions {
                ttl,
                ..SendOptions::default()
            };
            self.send_udp(node, dst, (SPORT, dport), &[0u8; 32], opts)?;
            let got = self.run_until_delivered(node, timeout, |d| {
                parse_icmp(&d.bytes).is_some_and(|(_, _, icmp, quoted)| {
                    icmp.msg_type().is_error() && quoted_udp_ports(quoted) == Some((SPORT, dport))
                })
            });
            let hop = match got
                .as_ref()
                .and_then(|d| parse_icmp(&d.bytes).map(|p| (d.at, p)))
            {
                Some((at, (src, _, icmp, _))) => Hop {
                    ttl,
                    from: Some(src),
                    rtt: Some(at - sent),
                    reached: icmp.msg_type() == icmpv4::Message::DstUnreachable
                        && icmp.msg_code() == icmpv4::dst_unreachable::PORT,
                },
                None => Hop {
                    ttl,
                    from: None,
                    rtt: None,
                    reached: false,
                },
            };
            hops.push(hop);
            if hop.reached {
                break;
            }
        }
        Ok(hops)
    }
}

/// Source, TTL, ICMP view and (for errors) the quoted datagram of an ICMP frame.
fn parse_icmp(frame: &[u8]) -> Option<(Ipv4Addr, u8, icmpv4::Packet<&[u8]>, &[u8])> {
    let ip = ipv4::Packet::new_checked(frame.get(ethernet::HEADER_LEN..)?).ok()?;
    if ip.protocol() != ipv4::Protocol::Icmp {
        return None;
    }
    let (src, ttl) = (ip.src_addr(), ip.ttl());
    let body = frame.get(
        ethernet::HEADER_LEN + ip.header_len()..ethernet::HEADER_LEN + usize::from(ip.total_len()),
    )?;
    let icmp = icmpv4::Packet::new_checked(body).ok()?;
    let quoted = body.get(icmpv4::HEADER_LEN..)?;
    Some((src, ttl, icmp, quoted))
}

fn quoted_transport(quoted: &[u8], protocol: ipv4::Protocol) -> Option<&[u8]> {
    let ip = ipv4::Packet::new_unchecked(quoted);
    (quoted.len() >= ipv4::HEADER_LEN && ip.protocol() == protocol)
        .then(|| quoted.get(ip.header_len()..))
        .flatten()
}

fn quoted_echo(quoted: &[u8]) -> Option<(u16, u16)> {
    let icmp = icmpv4::Packet::new_checked(quoted_transport(quoted, ipv4::Protocol::Icmp)?).ok()?;
    Some((icmp.echo_ident(), icmp.echo_seq_no()))
}

fn quoted_udp_ports(quoted: &[u8]) -> Option<(u16, u16)> {
    let t = quoted_transport(quoted, ipv4::Protocol::Udp)?;
    (t.len() >= 4).then(|| {
        let u = udp::Packet::new_unchecked(t);
        (u.src_port(), u.dst_port())
    })
}
