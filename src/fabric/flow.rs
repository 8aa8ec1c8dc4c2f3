//! UDP flows between hosts: a generator that stamps each datagram with a flow id, a sequence
//! number and its send time, and a sink that counts what arrives, what arrives out of order and
//! how late.
//!
//! The stamp is 16 bytes at the start of the UDP payload — flow id (u16), magic (u16), sequence
//! (u32), send time in nanoseconds of the engine's clock (u64), all big-endian — so it fits the
//! smallest frame (64 bytes). Senders and sinks of one engine share its clock, so latency is
//! exact to the clock's resolution.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::histogram::Histogram;
use crate::frame::Pool;
use crate::router::{Action, Router, SendOptions};
use crate::time::Instant;
use crate::wire::{ethernet, ipv4, udp};

const MAGIC: u16 = 0x5348;
/// Bytes of Ethernet, IPv4 and UDP headers in front of the stamp.
const HEADERS: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN;
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
    /// Datagrams per second, or `None` for as fast as the worker can.
    pub rate: Option<u64>,
    /// Distinct source ports the datagrams cycle through (5-tuples, as separate flows look
    /// to a hash); 0 or 1 for one.
    pub sources: u16,
}

/// A flow's sending side.
#[derive(Debug)]
pub struct Generator {
    spec: FlowSpec,
    id: u16,
    seq: u32,
    /// When the next datagram is due; `None` until the first poll starts the clock.
    next_due: Option<Instant>,
    sent: u64,
    send_errors: u64,
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
            sent: 0,
            send_errors: 0,
            payload: vec![0; len],
        }
    }

    /// Datagrams sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Datagrams the router refused (no route, pool exhausted).
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// When the next datagram is due (`None` when flat out: always).
    pub fn next_due(&self) -> Option<Instant> {
        self.spec.rate.and(self.next_due)
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
        let interval = self
            .spec
            .rate
            .map(|r| Duration::from_nanos(1_000_000_000 / r.max(1)));
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
                Ok(()) => self.sent += 1,
                Err(_) => self.send_errors += 1,
            }
            if let Some(i) = interval {
                due = due + i;
            }
            n += 1;
        }
        self.next_due = Some(due);
        n
    }
}

fn stamp(payload: &mut [u8], id: u16, seq: u32, now: Instant) {
    if let Some(s) = payload.first_chunk_mut::<STAMP_LEN>() {
        s[..2].copy_from_slice(&id.to_be_bytes());
        s[2..4].copy_from_slice(&MAGIC.to_be_bytes());
        s[4..8].copy_from_slice(&seq.to_be_bytes());
        s[8..].copy_from_slice(&now.as_nanos().to_be_bytes());
    }
}

/// A flow's receiving side (one per listening host; flows are told apart by id).
#[derive(Debug, Default)]
pub struct Sink {
    /// Stamped datagrams received.
    pub received: u64,
    /// UDP datagrams received without a stamp (from another generator, such as trafgen).
    pub unstamped: u64,
    /// Datagrams that arrived with a lower sequence number than one already seen.
    pub reordered: u64,
    /// Bytes of the frames received.
    pub bytes: u64,
    /// One-way latency, nanoseconds.
    pub latency: Histogram,
    highest: Vec<u32>,
}

impl Sink {
    /// Account for one delivered frame (Ethernet header first); ignores unstamped frames.
    pub fn on_frame(&mut self, now: Instant, frame: &[u8]) {
        let Some(s) = frame
            .get(HEADERS..)
            .and_then(|p| p.first_chunk::<STAMP_LEN>())
        else {
            return;
        };
        if u16::from_be_bytes([s[2], s[3]]) != MAGIC {
            let udp = frame.get(ethernet::HEADER_LEN + 9) == Some(&17);
            self.unstamped += u64::from(udp);
            return;
        }
        let id = usize::from(u16::from_be_bytes([s[0], s[1]]));
        let seq = u32::from_be_bytes([s[4], s[5], s[6], s[7]]);
        let sent = u64::from_be_bytes([s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]]);
        if self.highest.len() <= id {
            self.highest.resize(id + 1, 0);
        }
        if seq < self.highest[id] {
            self.reordered += 1;
        } else {
            self.highest[id] = seq;
        }
        self.received += 1;
        self.bytes += frame.len() as u64;
        self.latency.record(now.as_nanos().saturating_sub(sent));
    }

    /// Fold another sink's tallies into this one.
    pub fn merge(&mut self, other: &Sink) {
        self.received += other.received;
        self.unstamped += other.unstamped;
        self.reordered += other.reordered;
        self.bytes += other.bytes;
        self.latency.merge(&other.latency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u16, seq: u32, sent: u64) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        stamp(&mut f[HEADERS..], id, seq, Instant::from_nanos(sent));
        f
    }

    #[test]
    fn sink_counts_reordering_and_latency() {
        let mut s = Sink::default();
        for seq in [1, 2, 4, 3, 5] {
            s.on_frame(
                Instant::from_nanos(1000 + u64::from(seq)),
                &frame(0, seq, 1000),
            );
        }
        s.on_frame(Instant::from_nanos(5000), &frame(1, 1, 4000));
        s.on_frame(Instant::from_nanos(5000), &[0u8; 30]);
        let mut other = frame(2, 1, 0);
        other[ethernet::HEADER_LEN + 9] = 17;
        other[HEADERS + 2] = 0;
        s.on_frame(Instant::from_nanos(5000), &other);
        assert_eq!((s.received, s.reordered, s.unstamped), (6, 1, 1));
        assert_eq!(s.latency.max(), 1000);
    }
}
