//! A flow's receiving side: a sink on a host that counts the stamped datagrams arriving there
//! — in all, and flow by flow — what arrives out of order, and how late (one-way latency from
//! the stamp's send time, exact when sender and sink share a clock, as an engine's workers and
//! processes on one host do).

use std::sync::Arc;

use super::flow::{HEADERS, MAGIC, STAMP_LEN, Windows};
use super::histogram::Histogram;
use crate::time::Instant;
use crate::wire::ethernet;

/// What a sink counted of one flow.
#[derive(Debug, Clone, Default)]
pub struct FlowTally {
    /// Stamped datagrams received.
    pub received: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Datagrams that arrived with a lower sequence number than one already seen.
    pub reordered: u64,
    /// One-way latency, nanoseconds.
    pub latency: Histogram,
    highest: u32,
}

impl FlowTally {
    /// Add another tally of the same flow.
    pub fn merge(&mut self, o: &FlowTally) {
        self.received += o.received;
        self.bytes += o.bytes;
        self.reordered += o.reordered;
        self.latency.merge(&o.latency);
        self.highest = self.highest.max(o.highest);
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
    /// The same, flow by flow (by flow id; grown as flows arrive).
    flows: Vec<Option<FlowTally>>,
    /// Where windowed flows' generators read what arrived.
    windows: Option<Arc<Windows>>,
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
        let latency = now.as_nanos().saturating_sub(sent);
        if let Some(w) = &self.windows {
            w.delivered(id as u16);
        }
        if self.flows.len() <= id {
            self.flows.resize_with(id + 1, || None);
        }
        // A flow's tally is made when its first datagram arrives; then nothing allocates.
        let f = self.flows[id].get_or_insert_with(FlowTally::default);
        if seq < f.highest {
            f.reordered += 1;
            self.reordered += 1;
        } else {
            f.highest = seq;
        }
        f.received += 1;
        f.bytes += frame.len() as u64;
        f.latency.record(latency);
        self.received += 1;
        self.bytes += frame.len() as u64;
        self.latency.record(latency);
    }

    /// Tell windowed flows' generators through `windows` what arrives.
    pub fn report_to(&mut self, windows: Arc<Windows>) {
        self.windows = Some(windows);
    }

    /// What arrived, flow by flow.
    pub fn flows(&self) -> impl Iterator<Item = (u16, &FlowTally)> {
        self.flows
            .iter()
            .enumerate()
            .filter_map(|(id, f)| Some((id as u16, f.as_ref()?)))
    }

    /// What arrived of flow `id`.
    pub fn flow(&self, id: u16) -> Option<&FlowTally> {
        self.flows.get(usize::from(id))?.as_ref()
    }

    /// Fold another sink's tallies into this one.
    pub fn merge(&mut self, other: &Sink) {
        self.received += other.received;
        self.unstamped += other.unstamped;
        self.reordered += other.reordered;
        self.bytes += other.bytes;
        self.latency.merge(&other.latency);
        if self.flows.len() < other.flows.len() {
            self.flows.resize_with(other.flows.len(), || None);
        }
        for (mine, theirs) in self.flows.iter_mut().zip(&other.flows) {
            if let Some(t) = theirs {
                mine.get_or_insert_with(FlowTally::default).merge(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u16, seq: u32, sent: u64) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        super::super::flow::stamp(&mut f[HEADERS..], id, seq, Instant::from_nanos(sent));
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
        let (a, b) = (s.flow(0).unwrap(), s.flow(1).unwrap());
        assert_eq!((a.received, a.reordered, b.received), (5, 1, 1));
        assert!(s.flow(2).is_none());
        let mut m = Sink::default();
        m.merge(&s);
        m.merge(&s);
        assert_eq!(m.flow(0).unwrap().received, 10);
    }
}
