//! A switch running spanning tree: the glue between [`Switch`] and its [`Stp`] entity.
//!
//! The entity is made at the switch's first timer, which is due at once (so it starts on the
//! driver's clock); until then every port discards. BPDUs received go to it and are consumed
//! (counted as `bpdu`); after every call into it, the BPDUs it wants sent leave their ports
//! (whatever the port's state, as 802.1D requires), the flushes it asks for empty the FDB, and
//! each port takes the state it gives. A link taken down (`shoal ctl link … down`) reaches
//! the switch as its carrier going, and spanning tree hears of it at once; a neighbour that
//! merely falls silent (a device port's cable pulled far away) is noticed when its
//! information ages out (three hellos in RSTP, max age in 802.1D).

use super::stp::{BridgeConfig, PortConfig, Role, Stp};
use super::{PortState, StpConfig, Switch};
use crate::frame::{Frame, Pool};
use crate::router::{Action, DropReason, IfaceId};
use crate::time::Instant;

/// The 802.1D-2004 path cost of a 1 Gbit/s link, a port's default.
const DEFAULT_COST: u32 = 20_000;

/// The entity `config` describes, started at `now`.
fn entity(config: &StpConfig, now: Instant) -> Stp {
    let bridge = BridgeConfig {
        priority: config.priority,
        hello: config.timers.hello,
        max_age: config.timers.max_age,
        forward_delay: config.timers.forward_delay,
        ..BridgeConfig::new(config.mac.0)
    };
    let ports = (config.ports.iter())
        .map(|p| PortConfig {
            priority: p.priority,
            cost: p.cost.unwrap_or(DEFAULT_COST),
            edge: p.edge,
        })
        .collect();
    Stp::new(bridge, ports, now)
}

impl Switch {
    /// When spanning tree next needs the clock (at once before it has started).
    pub(super) fn stp_due(&self) -> Option<Instant> {
        if !self.config.stp.enabled {
            return None;
        }
        match &self.stp {
            Some(stp) => stp.poll_timeout(),
            None => Some(Instant::ZERO),
        }
    }

    /// Spanning tree's timers at `now` (its start, the first time).
    pub(super) fn stp_timeout(&mut self, now: Instant, pool: &mut Pool, out: &mut Vec<Action>) {
        if !self.config.stp.enabled {
            return;
        }
        let config = &self.config.stp;
        let stp = self
            .stp
            .get_or_insert_with(|| Box::new(entity(config, now)));
        stp.handle_timeout(now);
        self.stp_sync(pool, out);
    }

    /// Port `port`'s carrier came (`up`) or went at `now`: a port losing it forgets what it
    /// learned (as Linux's bridge does), and spanning tree hears of it at once instead of
    /// from the neighbour's silence.
    pub fn set_carrier(
        &mut self,
        now: Instant,
        port: u16,
        up: bool,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        if usize::from(port) >= self.ports.len() {
            return;
        }
        if !up {
            self.fdb.flush(Some(port), None);
        }
        if let Some(stp) = self.stp.as_deref_mut() {
            stp.set_link(now, usize::from(port), up);
            self.stp_sync(pool, out);
        }
    }

    /// A BPDU received on `port`: spanning tree's, consumed here.
    pub(super) fn bpdu(
        &mut self,
        now: Instant,
        port: u16,
        frame: Frame,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        if let Some(stp) = self.stp.as_deref_mut() {
            stp.receive(now, usize::from(port), pool.data(&frame));
        }
        self.drop(frame, DropReason::Bpdu, out);
        self.stp_sync(pool, out);
    }

    /// Carry out what spanning tree decided: send its BPDUs, flush, set port states.
    fn stp_sync(&mut self, pool: &mut Pool, out: &mut Vec<Action>) {
        let Some(stp) = self.stp.as_deref_mut() else {
            return;
        };
        let mut buf = [0u8; 64];
        while let Some((port, len)) = stp.poll_transmit(&mut buf) {
            let Some(frame) = pool.alloc_from(&buf[..len]) else {
                self.counters.copy_failed += 1;
                continue;
            };
            self.counters.tx_frames += 1;
            self.ports[port].tx_frames += 1;
            out.push(Action::Transmit {
                iface: IfaceId(port as u16),
                frame,
            });
        }
        while let Some(flush) = stp.take_flush() {
            self.fdb.flush(Some(flush.port as u16), None);
        }
        for (p, state) in self.state.iter_mut().enumerate() {
            *state = stp.state(p);
        }
    }

    /// Spanning tree's view, if it runs: `Display`s as `shoal ctl SWITCH stp` shows it.
    pub fn stp(&self) -> Option<&Stp> {
        self.stp.as_deref()
    }

    /// Ports spanning tree keeps discarding to break a loop (alternate and backup roles).
    pub fn blocked_ports(&self) -> Vec<u16> {
        let Some(stp) = self.stp.as_deref() else {
            return Vec::new();
        };
        (0..stp.ports())
            .filter(|&p| matches!(stp.role(p), Role::Alternate | Role::Backup))
            .map(|p| p as u16)
            .collect()
    }

    /// Whether spanning tree has settled: running, and every root and designated port
    /// forwarding (true when it is off).
    pub fn stp_settled(&self) -> bool {
        if !self.config.stp.enabled {
            return true;
        }
        let Some(stp) = self.stp.as_deref() else {
            return false;
        };
        (0..stp.ports()).all(|p| {
            !matches!(stp.role(p), Role::Root | Role::Designated)
                || stp.state(p) == PortState::Forwarding
        })
    }
}
