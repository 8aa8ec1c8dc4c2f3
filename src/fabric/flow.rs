//! UDP flows between hosts: a generator that stamps each datagram with a flow id, a sequence
//! number and its send time (the sink that counts them is in `sink.rs`), and recognising a
//! flow's frames wherever they are dropped.
//!
//! The stamp is 16 bytes at the start of the UDP payload — flow id (u16), magic (u16), sequence
//! (u32), send time in nanoseconds of the engine's clock (u64), all big-endian — so it fits the
//! smallest frame (64 bytes). Senders and sinks of one engine share its clock, so latency is
//! exact to the clock's resolution.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::frame::Pool;
use crate::router::{Action, Router, SendOptions};
use crate::time::Instant;
use crate::wire::{ethernet, ipv4, udp};

pub(super) const MAGIC: u16 = 0x5348;
/// The IPv4 protocol number of UDP.
const UDP: u8 = 17;
/// The IPv4 protocol number of ICMP.
const ICMP: u8 = 1;
/// Bytes of Ethernet, IPv4 and UDP headers in front of the stamp.
pub(super) const HEADERS: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN;
/// Length of the stamp.
pub const STAMP_LEN: usize = 16;
/// The smallest frame a flow can send.
pub const MIN_FRAME: usize = HEADERS + STAMP_LEN;

/// What a flow sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSpec {
    /// Destination host address.
    pub dst: Ipv4Addr,
    /// Destination UDP port (the sink listens on it).
    pub port: u16,
    /// Ethernet frame length without FCS (at least [`MIN_FRAME`]).
    pub frame_len: usize,
    /// How fast it sends.
    pub pace: Pace,
    /// Distinct source ports the datagrams cycle through (5-tuples, as separate flows look
    /// to a hash); 0 or 1 for one.
    pub sources: u16,
}

/// How fast a flow sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as its worker makes datagrams: an open loop, so a path slower than the worker
    /// drops the difference (counted where it happens).
    Flat,
    /// This many datagrams per second.
    Rate(u64),
    /// As fast as the path delivers them: at most this many datagrams on their way at once,
    /// so the flow alone never overflows a queue on its path; its rate is the path's capacity
    /// (`shoal run --flow A:B:max`). The sink must be in the same run; a datagram lost anyway
    /// (an impairment, other traffic) is given up on after [`WINDOW_TIMEOUT`] of no progress.
    Window(u32),
}

/// Datagrams on their way at once in [`Pace::Window`] by default: no more than a
/// shared-memory ring between workers holds (1,024), so a worker that falls behind never
/// overflows the ring feeding it for the flow alone; receive queues (256) take at most a
/// batch per worker iteration on a path (a generator's 32, a ring's 64), so none overflows
/// either. Enough to keep two workers of a chain busy at once.
pub const WINDOW: u32 = 1024;

/// How long a windowed flow waits for progress before it gives up on the datagrams on their
/// way (they were lost) and sends again. Long against a worker's hiccups (descheduled for tens
/// of milliseconds on a loaded host, its queues still holding the window): giving up on
/// datagrams that are only late would send a second window into a full ring.
pub const WINDOW_TIMEOUT: Duration = Duration::from_millis(200);

/// How soon a flow whose window is full looks again.
const WINDOW_RECHECK: Duration = Duration::from_micros(20);

/// What the sinks of a run received of each windowed flow, shared with its generator on
/// whatever worker: the sink adds, the generator reads.
#[derive(Debug, Default)]
pub struct Windows {
    /// By flow id: received so far, for windowed flows.
    received: Box<[Option<AtomicU64>]>,
}

impl Windows {
    /// Counters for the windowed ones among `flows` (by flow id).
    pub fn new(windowed: impl IntoIterator<Item = bool>) -> Windows {
        let received = windowed
            .into_iter()
            .map(|w| w.then(|| AtomicU64::new(0)))
            .collect();
        Windows { received }
    }

    /// A sink received a datagram of flow `id`.
    #[inline]
    pub fn delivered(&self, id: u16) {
        if let Some(Some(c)) = self.received.get(usize::from(id)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn received(&self, id: u16) -> u64 {
        match self.received.get(usize::from(id)) {
            Some(Some(c)) => c.load(Ordering::Relaxed),
            _ => 0,
        }
    }
}

/// Why a host's router refused to originate a flow's datagram.
pub type Refusal = crate::router::SendError;

/// A flow's sending side.
#[derive(Debug)]
pub struct Generator {
    spec: FlowSpec,
    id: u16,
    seq: u32,
    /// When the next datagram is due; `None` until the first poll starts the clock.
    next_due: Option<Instant>,
    /// Datagrams made (each handed to the router, or refused by it).
    made: u64,
    /// Datagrams the host put on its link (counted by the fabric as they leave).
    pub(crate) sent: u64,
    /// Datagrams the router refused, and the last reason.
    refused: u64,
    last_refusal: Option<Refusal>,
    /// The reason changed since [`Generator::news`] last looked.
    news: bool,
    /// For a windowed flow: what its sink received, and the window's base (datagrams given
    /// up on are added to it), when it last moved and what it had received then.
    window: Option<(Arc<Windows>, u64, Instant, u64)>,
    /// The window was full at the last poll.
    blocked: bool,
    payload: Vec<u8>,
}

/// The most backlog a paced flow catches up on.
const MAX_LAG: Duration = Duration::from_millis(1);

impl Generator {
    /// A generator for flow number `id`; it starts at its first poll.
    pub fn new(spec: FlowSpec, id: u16) -> Generator {
        let len = spec.frame_len.max(MIN_FRAME) - HEADERS;
        Generator {
            spec,
            id,
            seq: 0,
            next_due: None,
            made: 0,
            sent: 0,
            refused: 0,
            last_refusal: None,
            news: false,
            window: None,
            blocked: false,
            payload: vec![0; len],
        }
    }

    /// Read what the flow's sink received from `windows` (a windowed flow's only way to
    /// know how many of its datagrams are on their way).
    pub fn watch(&mut self, windows: Arc<Windows>) {
        self.window = Some((windows, 0, Instant::ZERO, 0));
    }

    /// The flow's id (in its datagrams' stamps).
    pub fn id(&self) -> u16 {
        self.id
    }

    /// What it sends.
    pub fn spec(&self) -> &FlowSpec {
        &self.spec
    }

    /// Datagrams made: handed to the host's router or refused by it.
    pub fn made(&self) -> u64 {
        self.made
    }

    /// Datagrams the host put on its link.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Datagrams the host's router refused to originate (no route, no source address, no
    /// buffer), and why the last one was.
    pub fn refused(&self) -> (u64, Option<&Refusal>) {
        (self.refused, self.last_refusal.as_ref())
    }

    /// A new reason the router refused the flow's datagrams, once.
    pub fn news(&mut self) -> Option<&Refusal> {
        core::mem::take(&mut self.news)
            .then_some(self.last_refusal.as_ref())
            .flatten()
    }

    /// When the next datagram is due (`None` when flat out: always).
    pub fn next_due(&self) -> Option<Instant> {
        match self.spec.pace {
            Pace::Rate(_) => self.next_due,
            // A full window is looked at again shortly: its sink may be on another worker,
            // which does not wake this one.
            Pace::Window(_) => self.blocked.then_some(self.next_due).flatten(),
            Pace::Flat => None,
        }
    }

    /// How many datagrams a windowed flow may send now (any number for the others).
    fn room(&mut self, now: Instant) -> usize {
        let Pace::Window(window) = self.spec.pace else {
            return usize::MAX;
        };
        let Some((windows, base, moved, seen)) = &mut self.window else {
            return usize::MAX;
        };
        let received = windows.received(self.id);
        let out = (self.made - self.refused).saturating_sub(received + *base);
        // The window opens as datagrams arrive, from one: the first crosses the path alone
        // and resolves its next hops, so none waits in a queue for ARP behind it.
        let window = u64::from(window).min(1 + received);
        // Progress: room in the window, or a datagram arrived since the last look.
        if out < window || received != *seen {
            *moved = now;
            *seen = received;
        } else if now.saturating_since(*moved) > WINDOW_TIMEOUT {
            // Nothing arrived for a while with the window full: what is out was lost.
            *base += out;
            *moved = now;
            return window as usize;
        }
        window.saturating_sub(out) as usize
    }

    /// Send what is due at `now`, at most `budget` datagrams, through `router`. Returns how
    /// many were handed to the router.
    pub fn poll(
        &mut self,
        now: Instant,
        budget: usize,
        router: &mut Router,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) -> usize {
        let interval = match self.spec.pace {
            Pace::Rate(r) => Some(Duration::from_nanos(1_000_000_000 / r.max(1))),
            Pace::Flat | Pace::Window(_) => None,
        };
        let room = self.room(now);
        self.blocked = room == 0;
        if self.blocked {
            self.next_due = Some(now + WINDOW_RECHECK);
            return 0;
        }
        let budget = budget.min(room);
        // A paced flow that fell behind (the worker was busy or asleep) resumes from now rather
        // than bursting its backlog.
        let mut due = match self.next_due {
            Some(t) if t + MAX_LAG >= now => t,
            _ => now,
        };
        let mut n = 0;
        while n < budget && (interval.is_none() || due <= now) {
            self.seq = self.seq.wrapping_add(1);
            stamp(&mut self.payload, self.id, self.seq, now);
            let port = self.spec.port;
            let sport = port.wrapping_add((self.seq % u32::from(self.spec.sources.max(1))) as u16);
            let opts = SendOptions {
                ttl: router.config().default_ttl,
                ..SendOptions::default()
            };
            match router.send_udp(
                now,
                self.spec.dst,
                sport,
                port,
                &self.payload,
                opts,
                pool,
                out,
            ) {
                Ok(()) => {}
                Err(e) => {
                    self.refused += 1;
                    if self.last_refusal.as_ref() != Some(&e) {
                        self.last_refusal = Some(e);
                        self.news = true;
                    }
                }
            }
            self.made += 1;
            if let Some(i) = interval {
                due = due + i;
            }
            n += 1;
        }
        self.next_due = Some(due);
        n
    }
}

/// The flow a frame (Ethernet header first) belongs to: a stamped UDP datagram of it, or an
/// ICMP error quoting one (a router answered it instead of passing it on). Reads a few bytes at
/// fixed offsets; `None` for anything else. The Ethernet header is not trusted — a frame
/// waiting for its next hop to resolve has none written yet — so the IP header is looked for
/// right after an untagged header first, and after an 802.1Q tag (a frame on a trunk) when
/// that finds nothing and the frame says it is tagged.
pub fn flow_of(frame: &[u8]) -> Option<(u16, bool)> {
    flow_in(frame.get(ethernet::HEADER_LEN..)?).or_else(|| {
        ethernet::Frame::new_checked(frame).ok()?.vlan()?;
        flow_in(frame.get(ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN..)?)
    })
}

/// [`flow_of`] for the IPv4 header at the start of `ip`.
fn flow_in(ip: &[u8]) -> Option<(u16, bool)> {
    let stamped = |ip: &[u8]| -> Option<u16> {
        let ihl = usize::from(ip.first()? & 0x0f) * 4;
        if ip.first()? >> 4 != 4 || *ip.get(9)? != UDP {
            return None;
        }
        let s = ip.get(ihl + udp::HEADER_LEN..ihl + udp::HEADER_LEN + 4)?;
        (u16::from_be_bytes([s[2], s[3]]) == MAGIC).then(|| u16::from_be_bytes([s[0], s[1]]))
    };
    if ip.first()? >> 4 != 4 {
        return None;
    }
    match *ip.get(9)? {
        UDP => stamped(ip).map(|id| (id, false)),
        ICMP => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            // Destination unreachable, time exceeded, parameter problem quote the datagram.
            matches!(ip.get(ihl)?, 3 | 11 | 12)
                .then(|| stamped(ip.get(ihl + 8..)?))
                .flatten()
                .map(|id| (id, true))
        }
        _ => None,
    }
}

pub(super) fn stamp(payload: &mut [u8], id: u16, seq: u32, now: Instant) {
    if let Some(s) = payload.first_chunk_mut::<STAMP_LEN>() {
        s[..2].copy_from_slice(&id.to_be_bytes());
        s[2..4].copy_from_slice(&MAGIC.to_be_bytes());
        s[4..8].copy_from_slice(&seq.to_be_bytes());
        s[8..].copy_from_slice(&now.as_nanos().to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamped UDP datagram of flow `id`, as a generator's host sends it.
    fn datagram(id: u16) -> Vec<u8> {
        let mut f = vec![0u8; MIN_FRAME];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[14 + 9] = UDP;
        stamp(&mut f[HEADERS..], id, 1, Instant::ZERO);
        f
    }

    #[test]
    fn a_flow_s_frames_are_recognised_even_quoted_in_an_icmp_error() {
        assert_eq!(flow_of(&datagram(7)), Some((7, false)));
        let mut error = datagram(0);
        error[14 + 9] = ICMP;
        error[34] = 11;
        error.truncate(34 + 8);
        error.extend_from_slice(&datagram(9)[14..]);
        assert_eq!(flow_of(&error), Some((9, true)));
        error[34] = 0; // an echo reply quotes nothing
        assert_eq!(flow_of(&error), None);
        let mut other = datagram(3);
        other[HEADERS + 2] ^= 1;
        assert_eq!(flow_of(&other), None);
        assert_eq!(flow_of(&[0; 10]), None);
    }

    #[test]
    fn a_flow_s_frames_are_recognised_when_802_1q_tagged() {
        let plain = datagram(5);
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 10]);
        tagged.extend_from_slice(&plain[12..]);
        assert_eq!(flow_of(&tagged), Some((5, false)));
        tagged[12..14].copy_from_slice(&[0x08, 0x06]); // not tagged after all
        assert_eq!(flow_of(&tagged), None);
    }
}
