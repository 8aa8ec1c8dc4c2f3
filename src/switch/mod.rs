//! One Ethernet switch instance: a learning bridge (or a hub) with 802.1Q VLANs, port
//! mirroring and per-port MTUs, behind the same sans-IO batch contract as the router.
//!
//! Semantics follow the Linux bridge (`net/bridge/br_input.c`, `br_vlan.c`, `br_forward.c`),
//! so a shoal switch and a Linux bridge with the same configuration send the same frames out
//! of the same ports:
//! - frames with a multicast or zero source are dropped; frames to the link-local groups
//!   01:80:C2:00:00:0x are not forwarded (`group_fwd_mask` 0), except BPDUs (…:00), which go
//!   to spanning tree when it runs and are forwarded like any multicast when it does not;
//! - with `vlan_filtering` on, an untagged or priority-tagged (VID 0) frame belongs to the
//!   port's PVID (none: dropped), a tagged one to its VID, which the port must carry (ingress
//!   filtering); a frame leaves a port untagged if its VLAN is in the port's untagged set and
//!   tagged otherwise, its priority bits kept. With filtering off, tags pass unchanged and one
//!   FDB serves every VLAN;
//! - the source is learned per (VLAN, MAC) ([`fdb`]); a known unicast destination is sent to
//!   its port (never back out of the receiving one), anything else is flooded to every other
//!   port that carries the VLAN.
//!
//! Spanning tree ([`stp`], 802.1D-2004 RSTP with 802.1D fallback) runs when the
//! configuration asks (`spanning.rs` drives it): it takes the BPDUs received, sends its own,
//! and sets each port's [`PortState`], which gates learning and forwarding.
//!
//! No allocation per frame: flooding copies frames through the pool (a copy the pool cannot
//! give is counted in [`Counters::copy_failed`]), the list of egress ports is a reused buffer,
//! and tags are pushed into the frame's headroom or popped in place.

mod config;
mod counters;
pub mod fdb;
pub mod show;
mod spanning;
pub mod stp;
#[cfg(test)]
mod tests;
pub mod vlan;

pub use config::{
    Config, ConfigError, DEFAULT_AGEING, DEFAULT_FDB_MAX, Mirror, PortConfig, PortState, Static,
    StpConfig, StpPortConfig, StpTimers,
};
pub use counters::{Counters, PortCounters};
pub use fdb::Fdb;
pub use vlan::VlanSet;

use crate::frame::{Batch, Frame, Pool};
use crate::router::{Action, DropReason, IfaceId};
use crate::time::Instant;
use crate::wire::ethernet::{Address, HEADER_LEN, VLAN_TAG_LEN};
use fdb::Learned;

/// One switch.
#[derive(Debug)]
pub struct Switch {
    config: Config,
    fdb: Fdb,
    /// Spanning tree's state per port (all forwarding while it does not run).
    state: Vec<PortState>,
    counters: Counters,
    ports: Vec<PortCounters>,
    /// Per port: in VLAN 1 alone, its PVID and untagged (a Linux bridge port's default), so an
    /// untagged frame needs no VLAN set consulted on its way in or out.
    plain: Vec<bool>,
    /// Per port: copy what it receives / sends to the mirror port.
    mirror_rx: Vec<bool>,
    mirror_tx: Vec<bool>,
    mirror_to: Option<u16>,
    /// Egress ports of the frame being flooded (reused).
    egress: Vec<u16>,
    /// Spanning tree, once started (`config.stp.enabled`; see `spanning.rs`).
    stp: Option<Box<stp::Stp>>,
    /// Copies the last call made: (index in the action list of one of them, how many), so
    /// that flows through the switch balance.
    copies: Vec<(u32, u32)>,
    /// What the last frames told `input` (see [`Memo`]).
    memo: Memo,
}

/// What recent frames told [`Switch::input`], kept while the FDB's generation stands: the last
/// source learned on port `port`, as (VLAN, MAC), and when its entry's time was last written;
/// the last destination looked up, as (VLAN, MAC, port), and when that answer lapses. Checked
/// once per batch ([`Memo::check`]: a batch's frames share their port and `now`), so a frame
/// pays two compares for what it shares with the one before.
#[derive(Debug, Clone, Copy, Default)]
struct Memo {
    generation: u64,
    port: u16,
    src: Option<(u16, Address)>,
    written: Instant,
    dst: Option<(u16, Address, Option<u16>)>,
    lapses: Option<Instant>,
}

impl Memo {
    /// Forget what no longer holds for a batch from `port` at `now` with the FDB at
    /// `generation`.
    #[inline]
    fn check(&mut self, generation: u64, port: u16, now: Instant) {
        if self.generation != generation {
            *self = Memo {
                generation,
                ..Memo::default()
            };
        }
        if self.port != port || now.saturating_since(self.written) >= REWRITE {
            self.port = port;
            self.src = None;
        }
        if self.lapses.is_some_and(|t| now >= t) {
            self.dst = None;
        }
    }
}

/// How long a source's entry may go without its time being rewritten while frames from it keep
/// coming: a millisecond, Linux's resolution at HZ=1000 (`br_fdb_update` writes `updated`
/// only when the jiffy changed). An entry ages at most this much early.
const REWRITE: core::time::Duration = core::time::Duration::from_millis(1);

/// The link-local group prefix 01:80:C2:00:00:0x.
const LINK_LOCAL: [u8; 5] = [0x01, 0x80, 0xc2, 0x00, 0x00];

impl Switch {
    /// A switch as configured, its FDB holding the static entries.
    pub fn new(config: Config) -> Result<Switch, ConfigError> {
        let n = config.ports.len();
        if n > usize::from(u16::MAX) {
            return Err(ConfigError::TooManyPorts);
        }
        for (i, p) in config.ports.iter().enumerate() {
            if config.ports[..i].iter().any(|q| q.name == p.name) {
                return Err(ConfigError::DuplicatePort(p.name.clone()));
            }
        }
        let check = |p: u16| {
            (usize::from(p) < n)
                .then_some(())
                .ok_or(ConfigError::NoSuchPort(p))
        };
        let (mut mirror_rx, mut mirror_tx) = (vec![false; n], vec![false; n]);
        if let Some(m) = &config.mirror {
            check(m.to)?;
            for &f in &m.from {
                check(f)?;
                mirror_rx[usize::from(f)] = m.rx;
                mirror_tx[usize::from(f)] = m.tx;
            }
        }
        let mut fdb = Fdb::new(config.ageing, config.fdb_max);
        for s in &config.fdb {
            check(s.port)?;
            if !fdb.add_static(s.vlan, s.mac, s.port) {
                return Err(ConfigError::FdbFull);
            }
        }
        let plain = (config.ports.iter())
            .map(|p| {
                let one = VlanSet::of(1);
                p.pvid == Some(1) && p.vlans == one && p.untagged == one
            })
            .collect();
        Ok(Switch {
            fdb,
            plain,
            // Under spanning tree, ports discard until it says otherwise.
            state: vec![
                match config.stp.enabled {
                    true => PortState::Discarding,
                    false => PortState::Forwarding,
                };
                n
            ],
            counters: Counters::default(),
            ports: vec![PortCounters::default(); n],
            mirror_rx,
            mirror_tx,
            mirror_to: config.mirror.as_ref().map(|m| m.to),
            egress: Vec::with_capacity(n),
            stp: None,
            copies: Vec::new(),
            memo: Memo::default(),
            config,
        })
    }

    /// The same configuration with fresh state.
    pub fn replica(&self) -> Switch {
        Switch::new(self.config.clone()).expect("a running switch's configuration is valid")
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whole-switch counts.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Per-port counts, in port order.
    pub fn port_counters(&self) -> &[PortCounters] {
        &self.ports
    }

    /// The forwarding database.
    pub fn fdb(&self) -> &Fdb {
        &self.fdb
    }

    /// The copies the last call to `process` or `process_frame` made: (index in its action
    /// list of a transmission or drop of one, how many).
    pub fn copies_mut(&mut self) -> &mut Vec<(u32, u32)> {
        &mut self.copies
    }

    /// Number of ports.
    pub fn port_count(&self) -> usize {
        self.config.ports.len()
    }

    /// A port's name.
    pub fn port_name(&self, port: IfaceId) -> Option<&str> {
        self.config
            .ports
            .get(usize::from(port.0))
            .map(|p| p.name.as_str())
    }

    /// A port's spanning-tree state.
    pub fn port_state(&self, port: u16) -> Option<PortState> {
        self.state.get(usize::from(port)).copied()
    }

    /// Set a port's state (spanning tree's verdict). Unknown ports are ignored.
    pub fn set_port_state(&mut self, port: u16, state: PortState) {
        if let Some(s) = self.state.get_mut(usize::from(port)) {
            *s = state;
        }
    }

    /// Forget learned addresses on `port`, or on every port but `except` when `port` is
    /// `None` (a topology change). Returns how many went.
    pub fn flush(&mut self, port: Option<u16>, except: Option<u16>) -> usize {
        self.fdb.flush(port, except)
    }

    /// Process a burst of frames received on `iface`, emptying `batch` into `out`.
    #[inline]
    pub fn process(
        &mut self,
        now: Instant,
        iface: IfaceId,
        batch: &mut Batch,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        self.copies.clear();
        let mut memo = self.memo;
        memo.check(self.fdb.generation(), iface.0, now);
        for frame in batch.drain() {
            self.input(now, iface.0, frame, pool, out, &mut memo);
        }
        self.memo = memo;
    }

    /// Process one received frame.
    pub fn process_frame(
        &mut self,
        now: Instant,
        iface: IfaceId,
        frame: Frame,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        self.copies.clear();
        let mut memo = self.memo;
        memo.check(self.fdb.generation(), iface.0, now);
        self.input(now, iface.0, frame, pool, out, &mut memo);
        self.memo = memo;
    }

    /// When the switch next needs [`Switch::handle_timeout`]: the FDB's next sweep, or
    /// spanning tree's next tick.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.fdb.poll_timeout(), self.stp_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the timers due at `now`: aged FDB entries go; spanning tree ticks.
    pub fn handle_timeout(&mut self, now: Instant, pool: &mut Pool, out: &mut Vec<Action>) {
        self.fdb.handle_timeout(now);
        self.stp_timeout(now, pool, out);
    }

    fn drop(&mut self, frame: Frame, reason: DropReason, out: &mut Vec<Action>) {
        self.counters.drops[reason as usize] += 1;
        out.push(Action::Drop { frame, reason });
    }

    #[inline(always)]
    fn input(
        &mut self,
        now: Instant,
        port: u16,
        frame: Frame,
        pool: &mut Pool,
        out: &mut Vec<Action>,
        memo: &mut Memo,
    ) {
        self.counters.rx_frames += 1;
        let p = usize::from(port);
        let Some(c) = self.ports.get_mut(p) else {
            return self.drop(frame, DropReason::IfaceDown, out);
        };
        c.rx_frames += 1;
        if frame.len() < HEADER_LEN {
            return self.drop(frame, DropReason::EthernetTruncated, out);
        }
        if self.mirror_rx[p] {
            self.mirror(&frame, pool, out);
        }
        if self.mirror_to == Some(port) {
            return self.drop(frame, DropReason::MirrorPort, out);
        }
        let d = pool.data(&frame);
        let tci = vlan::tci(d);
        // What the MTU bounds: the frame past its header and tag.
        let payload = frame.len() - HEADER_LEN - if tci.is_some() { VLAN_TAG_LEN } else { 0 };
        if self.config.hub {
            return self.flood(frame, port, (0, false), payload, pool, out);
        }
        let Some(h) = d.first_chunk::<12>() else {
            return self.drop(frame, DropReason::EthernetTruncated, out);
        };
        let dst = Address([h[0], h[1], h[2], h[3], h[4], h[5]]);
        let src = Address([h[6], h[7], h[8], h[9], h[10], h[11]]);
        if src.is_multicast() || src.0 == [0; 6] {
            return self.drop(frame, DropReason::BadSourceMac, out);
        }
        if dst.0[..5] == LINK_LOCAL && dst.0[5] & 0xf0 == 0 {
            if dst.0[5] == 0 && self.config.stp.enabled {
                self.bpdu(now, port, frame, pool, out);
                // Spanning tree may have flushed the table.
                return memo.check(self.fdb.generation(), port, now);
            }
            if dst.0[5] != 0 {
                return self.drop(frame, DropReason::LinkLocal, out);
            }
        }
        let state = self.state[p];
        if !state.learns() {
            return self.drop(frame, DropReason::PortBlocked, out);
        }
        let (vid, tagged) = if !self.config.vlan_filtering {
            (0, false)
        } else if tci.is_none() && self.plain[p] {
            (1, false)
        } else {
            let pc = &self.config.ports[p];
            let (vid, tagged) = match tci {
                Some(t) if t & 0x0fff != 0 => (t & 0x0fff, true),
                Some(_) => match pc.pvid {
                    // Priority-tagged: the PVID's, priority kept (br_allowed_ingress).
                    Some(v) => {
                        vlan::set_vid(pool, &frame, v);
                        (v, true)
                    }
                    None => return self.drop(frame, DropReason::VlanFiltered, out),
                },
                None => match pc.pvid {
                    Some(v) => (v, false),
                    None => return self.drop(frame, DropReason::VlanFiltered, out),
                },
            };
            if !pc.vlans.contains(vid) {
                return self.drop(frame, DropReason::VlanFiltered, out);
            }
            (vid, tagged)
        };
        // Frames of a stream share their ingress port, source and destination: a source just
        // learned needs no second look within a millisecond, and a destination just looked up
        // is where it was, while the table is unchanged and the answer has not lapsed.
        if memo.src != Some((vid, src)) {
            match self.fdb.learn(now, vid, src, port) {
                Learned::New => self.counters.learned += 1,
                Learned::Moved => self.counters.moved += 1,
                Learned::Full => self.counters.fdb_full += 1,
                Learned::Refreshed => {}
            }
            if memo.generation != self.fdb.generation() {
                memo.generation = self.fdb.generation();
                memo.dst = None;
            }
            memo.src = Some((vid, src));
            memo.written = now;
        }
        if !state.forwards() {
            return self.drop(frame, DropReason::PortBlocked, out);
        }
        let known = match memo.dst {
            Some((v, a, q)) if v == vid && a == dst => q,
            _ if dst.is_multicast() => None,
            _ => {
                let (q, lapses) = self.fdb.answer(now, vid, dst);
                memo.dst = Some((vid, dst, q));
                memo.lapses = lapses;
                q
            }
        };
        if let Some(q) = known {
            if q == port {
                return self.drop(frame, DropReason::SamePort, out);
            }
            if !self.carries(q, vid) {
                return self.drop(frame, DropReason::EgressFiltered, out);
            }
            if !self.fits(q, payload) {
                self.ports[usize::from(q)].mtu_exceeded += 1;
                return self.drop(frame, DropReason::MtuExceeded, out);
            }
            self.counters.forwarded += 1;
            return self.send(q, frame, vid, tagged, pool, out);
        }
        self.flood(frame, port, (vid, tagged), payload, pool, out)
    }

    /// Whether port `q` may send a frame of `vid` (a hub's ports always may).
    #[inline(always)]
    fn carries(&self, q: u16, vid: u16) -> bool {
        let i = usize::from(q);
        self.state[i].forwards()
            && self.mirror_to != Some(q)
            && (!self.config.vlan_filtering
                || if self.plain[i] {
                    vid == 1
                } else {
                    self.config.ports[i].vlans.contains(vid)
                })
    }

    /// Whether a frame's payload (past its header and tag, if any) fits port `q`'s MTU.
    #[inline]
    fn fits(&self, q: u16, payload: usize) -> bool {
        payload <= usize::from(self.config.ports[usize::from(q)].mtu)
    }

    /// Send a copy to every port but `from` that carries the frame's VLAN `vid` (`tagged`:
    /// whether the frame holds a tag now) and fits its `payload`.
    fn flood(
        &mut self,
        frame: Frame,
        from: u16,
        (vid, tagged): (u16, bool),
        payload: usize,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        let mut egress = core::mem::take(&mut self.egress);
        egress.clear();
        let mut too_big = false;
        for q in 0..self.config.ports.len() as u16 {
            let ok = q != from
                && if self.config.hub {
                    self.mirror_to != Some(q)
                } else {
                    self.carries(q, vid)
                };
            if !ok {
                continue;
            }
            if !self.fits(q, payload) {
                self.ports[usize::from(q)].mtu_exceeded += 1;
                too_big = true;
                continue;
            }
            egress.push(q);
        }
        match egress.split_last() {
            None => {
                let why = if too_big {
                    DropReason::MtuExceeded
                } else {
                    DropReason::NoEgress
                };
                self.drop(frame, why, out);
            }
            Some((&last, rest)) => {
                self.counters.flooded += 1;
                let (at, mut made) = (out.len() as u32, 0);
                for &q in rest {
                    match pool.duplicate(&frame) {
                        Some(copy) => {
                            self.send(q, copy, vid, tagged, pool, out);
                            made += 1;
                        }
                        None => self.counters.copy_failed += 1,
                    }
                }
                self.send(last, frame, vid, tagged, pool, out);
                if made > 0 {
                    self.copies.push((at, made));
                }
            }
        }
        self.egress = egress;
    }

    /// Send on port `q`, tagged or not as the port carries `vid`.
    #[inline(always)]
    fn send(
        &mut self,
        q: u16,
        mut frame: Frame,
        vid: u16,
        tagged: bool,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        let i = usize::from(q);
        // A plain port carries VLAN 1 only, untagged: an untagged frame leaves as it is.
        if self.config.vlan_filtering && !self.config.hub && (tagged || !self.plain[i]) {
            let want = !self.config.ports[i].untagged.contains(vid);
            if tagged && !want {
                vlan::pop(pool, &mut frame);
            } else if want && !tagged && !vlan::push(pool, &mut frame, vid) {
                return self.drop(frame, DropReason::NoHeadroom, out);
            }
        }
        if self.mirror_tx[i] {
            self.mirror(&frame, pool, out);
        }
        self.counters.tx_frames += 1;
        self.ports[i].tx_frames += 1;
        out.push(Action::Transmit {
            iface: IfaceId(q),
            frame,
        });
    }

    /// A copy of `frame` to the mirror port.
    fn mirror(&mut self, frame: &Frame, pool: &mut Pool, out: &mut Vec<Action>) {
        let Some(to) = self.mirror_to else { return };
        let Some(copy) = pool.duplicate(frame) else {
            self.counters.copy_failed += 1;
            return;
        };
        self.counters.mirrored += 1;
        self.counters.tx_frames += 1;
        self.ports[usize::from(to)].tx_frames += 1;
        self.copies.push((out.len() as u32, 1));
        out.push(Action::Transmit {
            iface: IfaceId(to),
            frame: copy,
        });
    }
}
