//! Rapid Spanning Tree Protocol (IEEE 802.1D-2004 clause 17), sans-IO, with 802.1D (STP)
//! compatibility so a port next to the Linux kernel bridge falls back to configuration and TCN
//! BPDUs.
//!
//! One [`Stp`] is the spanning-tree entity of one bridge. The switch hands it every frame
//! received for the bridge group address ([`Stp::receive`]), link changes ([`Stp::set_link`])
//! and time ([`Stp::handle_timeout`] at [`Stp::poll_timeout`]); it hands back BPDUs to send
//! ([`Stp::poll_transmit`]), each port's state ([`Stp::state`]: forward and learn only in
//! `Forwarding`, learn only in `Learning`) and requests to flush learned addresses
//! ([`Stp::take_flush`]). It never reads a clock and makes no system call.
//!
//! The state machines follow clause 17 closely, one file per group: `info` (Port
//! Information, 17.27), `selection` (Port Role Selection, 17.28), `roles` (Port Role
//! Transitions and Port State Transition, 17.29–17.30), `topology` (Topology Change, 17.31),
//! `transmit` (Port Transmit and Port Protocol Migration, 17.24 and 17.26). Timers count
//! whole seconds on a one-second tick, as the standard's do. All links are taken to be
//! point-to-point (full duplex), which is what shoal's links are. Malformed BPDUs are counted
//! per port and ignored; nothing here panics on frame bytes. docs/stp.md has the details,
//! measurements and how the switch drives it.

mod bpdu;
mod info;
mod port;
mod priority;
mod roles;
mod selection;
mod status;
mod topology;
mod transmit;

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Instant;

pub use bpdu::{Bpdu, BpduRole, GROUP, Kind, ParseError, flags, parse};
pub use priority::{BridgeId, Times, Vector};
pub use status::{PortStatus, Status};

use port::Port;

/// Which protocol a bridge speaks (Force Protocol Version, 17.13.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// RSTP, falling back to STP per port when a neighbour speaks only STP.
    #[default]
    Rstp,
    /// 802.1D STP only: configuration and TCN BPDUs, timer-driven transitions.
    Stp,
}

/// Bridge parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The bridge address, also the source address of every BPDU sent.
    pub mac: [u8; 6],
    /// Bridge priority, 0..=61440 in steps of 4096 (lower bits are ignored).
    pub priority: u16,
    /// Hello time (1–10 s; whole seconds).
    pub hello: Duration,
    /// Max age (6–40 s).
    pub max_age: Duration,
    /// Forward delay (4–30 s).
    pub forward_delay: Duration,
    /// Protocol version. `Stp` behaves as an 802.1D-1998 bridge (like Linux's): it sends
    /// configuration and TCN BPDUs only and ignores RST BPDUs.
    pub version: Version,
}

impl BridgeConfig {
    /// Defaults of 802.1D-2004 for a bridge with address `mac`: priority 32768, hello 2 s,
    /// max age 20 s, forward delay 15 s, RSTP.
    pub fn new(mac: [u8; 6]) -> BridgeConfig {
        BridgeConfig {
            mac,
            priority: 0x8000,
            hello: Duration::from_secs(2),
            max_age: Duration::from_secs(20),
            forward_delay: Duration::from_secs(15),
            version: Version::Rstp,
        }
    }
}

/// Port parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    /// Port priority, 0..=240 in steps of 16.
    pub priority: u8,
    /// Port path cost (802.1D-2004 Table 17-3: 20000 for 1 Gb/s).
    pub cost: u32,
    /// Administratively an edge port: forwards at once, until a BPDU is heard on it.
    pub edge: bool,
}

impl Default for PortConfig {
    fn default() -> PortConfig {
        PortConfig {
            priority: 128,
            cost: 20_000,
            edge: false,
        }
    }
}

/// A port's state as the forwarding process sees it (the switch's own type).
pub use super::PortState;

/// A port's role in the spanning tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Link down (or not part of the tree).
    Disabled,
    /// The port towards the root bridge.
    Root,
    /// The port that serves its LAN towards the root.
    Designated,
    /// A blocked port offering another path to the root.
    Alternate,
    /// A blocked port backing up another port of this bridge on a shared LAN.
    Backup,
}

/// A request to flush the addresses learned on a port: after a topology change they may
/// point the wrong way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush {
    /// The port whose learned entries are to be removed.
    pub port: usize,
}

/// Per-port tallies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortCounters {
    /// Configuration BPDUs received.
    pub rx_config: u64,
    /// RST BPDUs received.
    pub rx_rst: u64,
    /// TCN BPDUs received.
    pub rx_tcn: u64,
    /// Frames for the group address that were not valid BPDUs, or our own BPDUs looped back.
    pub rx_malformed: u64,
    /// BPDUs received while the link was down (ignored).
    pub rx_disabled: u64,
    /// Configuration BPDUs sent.
    pub tx_config: u64,
    /// RST BPDUs sent.
    pub tx_rst: u64,
    /// TCN BPDUs sent.
    pub tx_tcn: u64,
    /// BPDUs dropped because the driver did not take them (transmit queue full).
    pub tx_dropped: u64,
    /// Topology changes received (TC flag or TCN).
    pub tc_received: u64,
    /// Topology changes this port detected (it started forwarding).
    pub tc_detected: u64,
    /// Transitions to forwarding.
    pub forward_transitions: u64,
    /// Flush requests made for this port.
    pub flushes: u64,
}

/// Migrate Time (17.13.9): how long a port keeps its protocol before listening again.
const MIGRATE_TIME: u16 = 3;
/// Transmit Hold Count (17.13.12): BPDUs per port per second at most.
const TX_HOLD_COUNT: u16 = 6;
/// Queued BPDUs per port the driver may leave untaken before more are dropped.
const TX_QUEUE_PER_PORT: usize = 8;
/// A bound on state-machine steps per event (a safeguard; the machines settle in a few).
const MAX_STEPS: usize = 10_000;

fn secs(d: Duration) -> u16 {
    u16::try_from(d.as_secs()).unwrap_or(u16::MAX)
}

/// The spanning-tree entity of one bridge.
#[derive(Debug, Clone)]
pub struct Stp {
    config: BridgeConfig,
    id: BridgeId,
    bridge_priority: Vector,
    bridge_times: Times,
    root_priority: Vector,
    root_port: Option<usize>,
    root_times: Times,
    ports: Vec<Port>,
    tx: VecDeque<(usize, Bpdu)>,
    next_tick: Instant,
    /// Times the machines did not settle within [`MAX_STEPS`] (never seen; a safeguard).
    unsettled: u64,
}

impl Stp {
    /// A bridge with `ports` (numbered from 0; port identifiers number them from 1), all links
    /// up, starting at `now` (BEGIN).
    pub fn new(bridge: BridgeConfig, ports: Vec<PortConfig>, now: Instant) -> Stp {
        let id = BridgeId::new(bridge.priority, bridge.mac);
        let bridge_times = Times {
            message_age: 0,
            max_age: secs(bridge.max_age),
            hello: secs(bridge.hello).max(1),
            forward_delay: secs(bridge.forward_delay),
        };
        let bridge_priority = Vector {
            root: id,
            cost: 0,
            bridge: id,
            port: 0,
        };
        let n = ports.len();
        let mut stp = Stp {
            config: bridge,
            id,
            bridge_priority,
            bridge_times,
            root_priority: bridge_priority,
            root_port: None,
            root_times: bridge_times,
            ports: ports
                .into_iter()
                .enumerate()
                .map(|(i, c)| Port::new(c, i, bridge_times))
                .collect(),
            tx: VecDeque::with_capacity(n * TX_QUEUE_PER_PORT),
            next_tick: now + Duration::from_secs(1),
            unsettled: 0,
        };
        stp.begin();
        stp
    }

    fn rstp(&self) -> bool {
        self.config.version == Version::Rstp
    }

    /// BEGIN: every machine to its initial state.
    fn begin(&mut self) {
        self.update_role_disabled_tree();
        for i in 0..self.ports.len() {
            self.ppm_checking_rstp(i);
            self.pim_disabled(i);
            self.prt_init(i);
            self.pst_discarding(i);
            self.tcm_inactive(i);
            self.ptx_init(i);
        }
        self.run();
    }

    /// Run every machine until none has a transition left to take.
    fn run(&mut self) {
        for _ in 0..MAX_STEPS {
            let mut changed = self.prs();
            for i in 0..self.ports.len() {
                changed |= self.ppm(i);
                changed |= self.pim(i);
                changed |= self.prt(i);
                changed |= self.pst(i);
                changed |= self.tcm(i);
                changed |= self.ptx(i);
            }
            if !changed {
                return;
            }
        }
        self.unsettled += 1;
    }

    /// A frame received on `port` for the bridge group address: the whole Ethernet frame.
    /// Anything that is not a valid BPDU is counted and ignored.
    pub fn receive(&mut self, now: Instant, port: usize, frame: &[u8]) {
        self.catch_up(now);
        let (id, rstp) = (self.id, self.rstp());
        let Some(p) = self.ports.get_mut(port) else {
            return;
        };
        let bpdu = match parse(frame) {
            Ok(b) => b,
            Err(_) => {
                p.counters.rx_malformed += 1;
                return;
            }
        };
        match bpdu.kind {
            Kind::Config => p.counters.rx_config += 1,
            Kind::Rst => p.counters.rx_rst += 1,
            Kind::Tcn => p.counters.rx_tcn += 1,
        }
        if bpdu.kind != Kind::Tcn {
            let t = bpdu.times();
            // 9.3.4: a configuration BPDU must be younger than its max age, and one that
            // carries our own bridge and port identifiers is our own, looped back.
            let own = bpdu.vector.bridge == id && bpdu.vector.port & 0x0fff == p.id & 0x0fff;
            if (bpdu.kind == Kind::Config && t.message_age >= t.max_age) || own {
                p.counters.rx_malformed += 1;
                return;
            }
        }
        if !p.enabled {
            p.counters.rx_disabled += 1;
            return;
        }
        if bpdu.kind == Kind::Rst && !rstp {
            // An 802.1D bridge does not understand RST BPDUs (the Linux bridge drops every
            // BPDU of a version other than 0): counted, not acted on, so that the RSTP
            // neighbour hears only 802.1D from this port and falls back.
            return;
        }
        // Port Receive machine (17.23), RECEIVE: updtBPDUVersion(), operEdge = FALSE.
        match bpdu.kind {
            Kind::Rst => p.rcvd_rstp = true,
            Kind::Config | Kind::Tcn => p.rcvd_stp = true,
        }
        p.oper_edge = false;
        p.msg = Some(bpdu);
        p.rcvd_msg = true;
        self.run();
    }

    /// The link of `port` went up or down (portEnabled).
    pub fn set_link(&mut self, now: Instant, port: usize, up: bool) {
        self.catch_up(now);
        let Some(p) = self.ports.get_mut(port) else {
            return;
        };
        if p.enabled == up {
            return;
        }
        p.enabled = up;
        if !up && p.config.edge {
            // Bridge Detection (17.25): an admin edge port is an edge port again.
            p.oper_edge = true;
        }
        self.run();
    }

    /// When [`Stp::handle_timeout`] wants to be called next: the one-second tick.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_tick)
    }

    /// Advance to `now`: one tick of the port timers per second elapsed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.catch_up(now);
    }

    fn catch_up(&mut self, now: Instant) {
        while self.next_tick <= now {
            self.next_tick = self.next_tick + Duration::from_secs(1);
            for p in &mut self.ports {
                p.t.tick();
                p.tx_count = p.tx_count.saturating_sub(1);
            }
            self.run();
        }
    }

    /// The next BPDU to send: writes the whole Ethernet frame into `buf` and returns the port
    /// and the frame's length. A BPDU that does not fit (`buf` under 60 bytes) is dropped and
    /// counted.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<(usize, usize)> {
        let (port, bpdu) = self.tx.pop_front()?;
        let p = &mut self.ports[port];
        match bpdu.emit(self.config.mac, buf) {
            Some(n) => {
                match bpdu.kind {
                    Kind::Config => p.counters.tx_config += 1,
                    Kind::Rst => p.counters.tx_rst += 1,
                    Kind::Tcn => p.counters.tx_tcn += 1,
                }
                Some((port, n))
            }
            None => {
                p.counters.tx_dropped += 1;
                None
            }
        }
    }

    /// Queue a BPDU for `port`. One the driver has not taken yet for the same port is
    /// replaced: the newer carries the port's current information, and sending the stale one
    /// first would spread information this bridge no longer holds.
    fn send(&mut self, port: usize, bpdu: Bpdu) {
        if let Some(queued) = self.tx.iter_mut().find(|(p, _)| *p == port) {
            queued.1 = bpdu;
            return;
        }
        if self.tx.len() >= self.ports.len() * TX_QUEUE_PER_PORT {
            self.ports[port].counters.tx_dropped += 1;
            return;
        }
        self.tx.push_back((port, bpdu));
    }

    /// The forwarding state of `port` (`Disabled` for a port that does not exist).
    pub fn state(&self, port: usize) -> PortState {
        match self.ports.get(port) {
            None => PortState::Disabled,
            Some(p) if !p.enabled => PortState::Disabled,
            Some(p) if p.forwarding => PortState::Forwarding,
            Some(p) if p.learning => PortState::Learning,
            Some(_) => PortState::Discarding,
        }
    }

    /// The role of `port` (`Disabled` for a port that does not exist).
    pub fn role(&self, port: usize) -> Role {
        self.ports.get(port).map_or(Role::Disabled, |p| p.role)
    }

    /// The next port whose learned addresses the switch must flush; call until `None`.
    pub fn take_flush(&mut self) -> Option<Flush> {
        let port = self.ports.iter().position(|p| p.flush)?;
        self.ports[port].flush = false;
        Some(Flush { port })
    }

    /// This bridge's identifier.
    pub fn bridge_id(&self) -> BridgeId {
        self.id
    }

    /// The root bridge as this bridge sees it.
    pub fn root_id(&self) -> BridgeId {
        self.root_priority.root
    }

    /// The number of ports.
    pub fn ports(&self) -> usize {
        self.ports.len()
    }
}
