//! Reassembly of fragments addressed to the instance (RFC 791 §3.2, RFC 1122 §3.3.2), exactly
//! as Linux's ip_fragment.c and inet_fragment.c do it, with their limits.
//!
//! Fragments are queued by (source, destination, identification, protocol). A queue lives at
//! most `timeout` (30 s, ipfrag_time) from its first fragment; when it expires holding the first
//! fragment, the source gets time exceeded, code 1 (fragment reassembly), quoting that fragment.
//! Fragments are kept as Linux keeps them, in *runs*: a fragment that continues the last run at
//! its end extends it, any other starts a run of its own. A fragment that falls wholly inside
//! one run is a duplicate and is dropped alone; one that overlaps anything else — even with the
//! same bytes, even across two adjacent runs — discards the whole queue (RFC 5722's rule,
//! which Linux applies to IPv4). So does a zero-length fragment, a non-last fragment shorter
//! than 8 bytes, a last fragment that disagrees with an earlier one or ends before data already
//! received, a datagram over 65,535 bytes, and fragments whose ECN fields cannot be combined
//! (RFC 3168 §5.3). More than `max_dist` (64) fragments from the same source arriving between
//! two of one queue restart that queue (ipfrag_max_dist).
//!
//! Memory is bounded as Linux bounds it: every queue and every held fragment is charged (a
//! fragment as the frame buffer it arrived in, 2 KiB, plus 256 bytes, where Linux charges the
//! socket buffer's truesize, which depends on the driver), and while the charge is above
//! `high_thresh` (4 MiB) every fragment is dropped, new queue or not. Held fragments are copied
//! out of their frames, so a fragment flood cannot drain the frame pool either.
//!
//! The instance is sans-IO: queues expire through [`Reassembler::poll_timeout`] and
//! [`Reassembler::expire`].

use core::time::Duration;

use rustc_hash::FxHashMap;

use super::meta::Ipv4Meta;
use crate::router::iface::IfaceId;
use crate::time::Instant;

/// Reassembly limits; defaults are Linux's sysctls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasmConfig {
    /// Bytes held in queues above which fragments are dropped (ipfrag_high_thresh).
    pub high_thresh: usize,
    /// How long a queue waits for its fragments (ipfrag_time).
    pub timeout: Duration,
    /// Fragments from one source between two of a queue that restart it (ipfrag_max_dist; 0
    /// turns the check off).
    pub max_dist: u32,
}

impl Default for ReasmConfig {
    fn default() -> ReasmConfig {
        ReasmConfig {
            high_thresh: 4 << 20,
            timeout: Duration::from_secs(30),
            max_dist: 64,
        }
    }
}

/// What a held fragment is charged: the 2 KiB buffer it came in, and bookkeeping.
pub(crate) const FRAGMENT_CHARGE: usize = 2048 + 256;
/// The most of a first fragment's payload a time-out's ICMP error can quote.
const MAX_QUOTE: usize = 576;
/// What a queue is charged.
const QUEUE_CHARGE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: u32,
    dst: u32,
    ident: u16,
    protocol: u8,
}

/// The first fragment as received (after its options were compiled): its header becomes the
/// datagram's, and it is what a timeout quotes.
#[derive(Debug, Clone)]
pub(crate) struct First {
    pub header: Vec<u8>,
    /// The start of its payload, as much as an ICMP error can quote.
    pub payload: Vec<u8>,
    pub meta: Ipv4Meta,
    pub eth: [u8; 14],
}

#[derive(Debug)]
struct Fragment {
    offset: usize,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Queue {
    expires: Instant,
    /// Payload length, once known (from the last fragment or the furthest end).
    len: usize,
    /// Payload bytes held.
    meat: usize,
    last_in: bool,
    first: Option<First>,
    fragments: Vec<Fragment>,
    /// Runs `(start, end)`, sorted and disjoint.
    runs: Vec<(usize, usize)>,
    /// The fragment with the furthest end (Linux's fragments_tail) and the start of the run
    /// it ended (last_run_head).
    tail: Option<(usize, usize)>,
    last_run: usize,
    ecn: u8,
    max_size: usize,
    max_df_size: usize,
    /// The source's fragment count when this queue last took one.
    rid: u32,
    charge: usize,
}

/// What became of a fragment.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Held, waiting for the rest.
    Held,
    /// Dropped alone, for this reason.
    Dropped(Failure),
    /// Its queue was discarded: this many fragments held before it went too.
    Discarded(Failure, usize),
    /// The datagram is complete: header and payload, what it was made of (fragments held
    /// before this one), the ingress of the last fragment, and the first fragment's options
    /// and Ethernet header.
    Complete {
        datagram: Vec<u8>,
        held: usize,
        first: First,
    },
}

/// Why a fragment or a queue was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Wholly inside a run already held.
    Duplicate,
    /// Overlapping what was held.
    Overlap,
    /// Zero length, a last fragment that disagrees, data beyond the end, over 65,535 bytes,
    /// ECN that cannot be combined.
    Invalid,
    /// Over the memory limit.
    Memory,
}

/// A queue that timed out.
#[derive(Debug)]
pub(crate) struct Expired {
    /// Fragments it held.
    pub held: usize,
    /// The first fragment, if it came: its source gets time exceeded.
    pub first: Option<First>,
}

/// The queues of one instance.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    queues: FxHashMap<Key, Queue>,
    /// Per source with queues: fragments counted (Linux's inet_peer rid) and its queues.
    sources: FxHashMap<u32, (u32, u32)>,
    charge: usize,
    next_expiry: Option<Instant>,
}

/// A fragment as the pipeline hands it over.
pub(crate) struct Incoming<'a> {
    pub meta: &'a Ipv4Meta,
    /// The whole IP packet (header and payload, trimmed to its total length).
    pub packet: &'a [u8],
    pub eth: [u8; 14],
}

/// RFC 3168's ECN codepoints of a fragment, as a bit (ip4_frag_ecn).
fn ecn_bit(tos: u8) -> u8 {
    1 << (tos & 3)
}

/// ip_frag_ecn_table: what the reassembled TOS gets, or `None` for combinations that drop it.
fn ecn_combined(bits: u8) -> Option<u8> {
    const NOT_ECT: u8 = 1;
    const ECT_1: u8 = 2;
    const ECT_0: u8 = 4;
    const CE: u8 = 8;
    if bits & NOT_ECT != 0 && bits != NOT_ECT {
        return None;
    }
    Some(if bits & CE != 0 && bits & (ECT_0 | ECT_1) != 0 {
        3
    } else {
        0
    })
}

impl Reassembler {
    /// Number of queues.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queues.len()
    }

    /// Bytes charged.
    #[cfg(test)]
    pub(crate) fn charge(&self) -> usize {
        self.charge
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.next_expiry
    }

    /// A queue of `src` is gone.
    fn forget(&mut self, src: u32) {
        if let Some(s) = self.sources.get_mut(&src) {
            s.1 -= 1;
            if s.1 == 0 {
                self.sources.remove(&src);
            }
        }
    }

    fn rearm(&mut self) {
        self.next_expiry = self.queues.values().map(|q| q.expires).min();
    }

    /// Take a fragment (ip_defrag, ip_frag_queue): what became of it, and how many held
    /// fragments a restart of its queue dropped (ipfrag_max_dist).
    pub(crate) fn add(
        &mut self,
        cfg: &ReasmConfig,
        now: Instant,
        f: Incoming<'_>,
    ) -> (Outcome, usize) {
        if cfg.high_thresh == 0 || self.charge > cfg.high_thresh {
            return (Outcome::Dropped(Failure::Memory), 0);
        }
        let m = f.meta;
        let key = Key {
            src: u32::from(m.src),
            dst: u32::from(m.dst),
            ident: m.ident,
            protocol: u8::from(m.protocol),
        };
        if !self.queues.contains_key(&key) {
            self.sources.entry(key.src).or_default().1 += 1;
            self.queues.insert(
                key,
                Queue {
                    expires: now + cfg.timeout,
                    len: 0,
                    meat: 0,
                    last_in: false,
                    first: None,
                    fragments: Vec::new(),
                    runs: Vec::new(),
                    tail: None,
                    last_run: 0,
                    ecn: 0,
                    max_size: 0,
                    max_df_size: 0,
                    rid: 0,
                    charge: QUEUE_CHARGE,
                },
            );
            self.charge += QUEUE_CHARGE;
            if self.next_expiry.is_none_or(|t| now + cfg.timeout < t) {
                self.next_expiry = Some(now + cfg.timeout);
            }
        }
        let source_rid = {
            let s = self.sources.entry(key.src).or_default();
            s.0 = s.0.wrapping_add(1);
            s.0
        };
        let Some(q) = self.queues.get_mut(&key) else {
            return (Outcome::Dropped(Failure::Memory), 0);
        };
        // ip_frag_too_far: too many fragments from this source since this queue's last.
        let mut restarted = 0;
        if cfg.max_dist != 0 {
            let start = q.rid;
            q.rid = source_rid;
            if q.tail.is_some() && source_rid.wrapping_sub(start) > cfg.max_dist {
                restarted = q.fragments.len();
                self.charge -= q.charge - QUEUE_CHARGE;
                let expires = now + cfg.timeout;
                *q = Queue {
                    expires,
                    fragments: Vec::new(),
                    runs: Vec::new(),
                    first: None,
                    charge: QUEUE_CHARGE,
                    len: 0,
                    meat: 0,
                    last_in: false,
                    tail: None,
                    last_run: 0,
                    ecn: 0,
                    max_size: 0,
                    max_df_size: 0,
                    rid: q.rid,
                };
            }
        }
        let outcome = match Self::queue(q, &f) {
            Step::Held(charge) => {
                self.charge += charge;
                let q = &self.queues[&key];
                if q.first.is_some() && q.last_in && q.meat == q.len {
                    self.finish(key)
                } else {
                    Outcome::Held
                }
            }
            Step::Duplicate => Outcome::Dropped(Failure::Duplicate),
            Step::Discard(failure) => {
                let (held, charge) = self
                    .queues
                    .remove(&key)
                    .map_or((0, 0), |q| (q.fragments.len(), q.charge));
                self.forget(key.src);
                self.charge -= charge;
                self.rearm();
                Outcome::Discarded(failure, held)
            }
        };
        (outcome, restarted)
    }

    /// ip_frag_queue on one queue: where the fragment goes, or why it cannot.
    fn queue(q: &mut Queue, f: &Incoming<'_>) -> Step {
        let m = f.meta;
        let offset = usize::from(m.frag_offset);
        let payload = f.packet.get(m.header_len..).unwrap_or_default();
        let mut end = offset + payload.len();
        if !m.more_frags {
            if end < q.len || (q.last_in && end != q.len) {
                return Step::Discard(Failure::Invalid);
            }
            q.last_in = true;
            q.len = end;
        } else {
            end &= !7;
            if end > q.len {
                if q.last_in {
                    return Step::Discard(Failure::Invalid);
                }
                q.len = end;
            }
        }
        if end == offset {
            return Step::Discard(Failure::Invalid);
        }
        // inet_frag_queue_insert.
        match q.tail {
            None => {
                q.runs.push((offset, end));
                q.last_run = offset;
                q.tail = Some((offset, end));
            }
            Some((_, tail_end)) if tail_end < end => {
                if offset < tail_end {
                    return Step::Discard(Failure::Overlap);
                }
                if offset == tail_end {
                    if let Some(r) = q.runs.iter_mut().find(|r| r.0 == q.last_run) {
                        r.1 = end;
                    }
                } else {
                    q.runs.push((offset, end));
                    q.last_run = offset;
                }
                q.tail = Some((offset, end));
            }
            Some(_) => {
                let at = q.runs.partition_point(|r| r.1 <= offset);
                if let Some(&(s, e)) = q.runs.get(at).filter(|r| r.0 < end) {
                    return if offset >= s && end <= e {
                        Step::Duplicate
                    } else {
                        Step::Discard(Failure::Overlap)
                    };
                }
                q.runs.insert(at, (offset, end));
            }
        }
        let data = payload[..end - offset].to_vec();
        let at = q.fragments.partition_point(|x| x.offset < offset);
        q.fragments.insert(at, Fragment { offset, data });
        q.meat += end - offset;
        q.ecn |= ecn_bit(m.tos);
        q.charge += FRAGMENT_CHARGE;
        if offset == 0 {
            q.first = Some(First {
                header: f.packet[..m.header_len].to_vec(),
                payload: payload[..(end - offset).min(MAX_QUOTE)].to_vec(),
                meta: *m,
                eth: f.eth,
            });
        }
        let size = end - offset + m.header_len;
        q.max_size = q.max_size.max(size);
        if m.dont_frag {
            q.max_df_size = q.max_df_size.max(size);
        }
        Step::Held(FRAGMENT_CHARGE)
    }

    /// ip_frag_reasm: the whole datagram, header from the first fragment.
    fn finish(&mut self, key: Key) -> Outcome {
        let Some(q) = self.queues.remove(&key) else {
            return Outcome::Dropped(Failure::Invalid);
        };
        self.forget(key.src);
        self.charge -= q.charge;
        self.rearm();
        let held = q.fragments.len() - 1;
        let Some(mut first) = q.first else {
            return Outcome::Discarded(Failure::Invalid, held);
        };
        let Some(ecn) = ecn_combined(q.ecn) else {
            return Outcome::Discarded(Failure::Invalid, held);
        };
        let header_len = first.header.len();
        let total = header_len + q.len;
        if total > 65_535 {
            return Outcome::Discarded(Failure::Invalid, held);
        }
        let mut datagram = Vec::with_capacity(total);
        datagram.extend_from_slice(&first.header);
        for f in &q.fragments {
            datagram.extend_from_slice(&f.data);
        }
        let df = q.max_df_size == q.max_size;
        datagram[1] |= ecn;
        datagram[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        datagram[6..8].copy_from_slice(&(if df { 0x4000u16 } else { 0 }).to_be_bytes());
        datagram[10..12].fill(0);
        let sum = !crate::wire::checksum::data(&datagram[..header_len]);
        datagram[10..12].copy_from_slice(&sum.to_be_bytes());
        first.meta.total_len = total;
        first.meta.quote_len = total;
        first.meta.tos = datagram[1];
        first.meta.more_frags = false;
        first.meta.frag_offset = 0;
        first.meta.dont_frag = df;
        first.meta.cast.link_multicast = false;
        Outcome::Complete {
            datagram,
            held,
            first,
        }
    }

    /// Queues whose time is up at `now` (ip_expire).
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<Expired>) {
        if self.next_expiry.is_none_or(|t| t > now) {
            return;
        }
        let mut charge = 0;
        let mut gone = Vec::new();
        self.queues.retain(|k, q| {
            if q.expires > now {
                return true;
            }
            gone.push(k.src);
            charge += q.charge;
            out.push(Expired {
                held: q.fragments.len(),
                first: q.first.take(),
            });
            false
        });
        self.charge -= charge;
        for src in gone {
            self.forget(src);
        }
        self.rearm();
    }

    /// Heap bytes held.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.queues.capacity() * size_of::<(Key, Queue)>()
            + self.sources.capacity() * 12
            + self
                .queues
                .values()
                .map(|q| {
                    q.fragments.iter().map(|f| f.data.capacity()).sum::<usize>()
                        + q.fragments.capacity() * size_of::<Fragment>()
                        + q.runs.capacity() * 16
                })
                .sum::<usize>()
    }
}

enum Step {
    Held(usize),
    Duplicate,
    Discard(Failure),
}

// The router's side: fragments in, datagrams (and time-outs) out.

use super::icmp::IcmpError;
use super::{DropReason, Io, Router};
use crate::frame::{Frame, HEADROOM, MAX_DATA};
use crate::wire::{ethernet, icmpv4};

const ETH: usize = ethernet::HEADER_LEN;

impl Failure {
    fn reason(self) -> DropReason {
        match self {
            Failure::Duplicate => DropReason::ReasmDuplicate,
            Failure::Overlap => DropReason::ReasmOverlap,
            Failure::Invalid => DropReason::ReasmInvalid,
            Failure::Memory => DropReason::ReasmMemory,
        }
    }
}

impl Router {
    /// A fragment addressed to this instance: held, dropped, or the last piece of a datagram
    /// that is then delivered whole.
    pub(crate) fn reassemble(
        &mut self,
        now: Instant,
        id: IfaceId,
        mut frame: Frame,
        meta: Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        let (outcome, restarted) = {
            let bytes = io.pool.data(&frame);
            let mut eth = [0u8; ETH];
            eth.copy_from_slice(&bytes[..ETH]);
            let incoming = Incoming {
                meta: &meta,
                packet: &bytes[ETH..ETH + meta.total_len],
                eth,
            };
            self.reasm.add(&self.config.reasm, now, incoming)
        };
        self.counters.drops[DropReason::ReasmTooFar as usize] += restarted as u64;
        self.counters.held -= restarted as u64;
        match outcome {
            Outcome::Held => {
                self.counters.held += 1;
                io.pool.free(frame)
            }
            Outcome::Dropped(f) => self.drop_frame(io, frame, f.reason()),
            Outcome::Discarded(f, held) => {
                self.counters.drops[f.reason() as usize] += held as u64;
                self.counters.held -= held as u64;
                self.drop_frame(io, frame, f.reason());
            }
            Outcome::Complete {
                datagram,
                held,
                first,
            } => {
                // The fragments held are taken in; the last one goes on as the datagram.
                self.counters.local += held as u64;
                self.counters.held -= held as u64;
                self.counters.reassembled += 1;
                let meta = first.meta;
                // The completing fragment's buffer takes the datagram if it fits.
                if ETH + datagram.len() <= MAX_DATA
                    && frame.reset_head(HEADROOM).is_ok()
                    && frame.set_len(ETH + datagram.len()).is_ok()
                {
                    let bytes = io.pool.data_mut(&frame);
                    bytes[..ETH].copy_from_slice(&first.eth);
                    bytes[ETH..].copy_from_slice(&datagram);
                    return self.deliver_local(now, id, frame, meta, io);
                }
                self.deliver_large(now, frame, datagram, first, io);
            }
        }
    }

    /// Queues whose time is up: their fragments are dropped, and a source whose first
    /// fragment came gets time exceeded (reassembly) quoting it.
    pub(crate) fn expire_fragments(&mut self, now: Instant, io: &mut Io<'_>) {
        let mut expired = Vec::new();
        self.reasm.expire(now, &mut expired);
        for e in expired {
            let reason = DropReason::ReasmTimeout as usize;
            self.counters.held -= e.held as u64;
            let Some(first) = e.first else {
                self.counters.drops[reason] += e.held as u64;
                continue;
            };
            self.counters.drops[reason] += e.held.saturating_sub(1) as u64;
            // The first fragment, header and payload, as it arrived.
            let Some(mut frame) = io.pool.alloc() else {
                self.counters.drops[reason] += 1;
                continue;
            };
            let held = &first.payload;
            let len = (ETH + first.header.len() + held.len()).min(MAX_DATA);
            if frame.set_len(len).is_err() {
                io.pool.free(frame);
                self.counters.drops[reason] += 1;
                continue;
            }
            let bytes = io.pool.data_mut(&frame);
            bytes[..ETH].copy_from_slice(&first.eth);
            let h = first.header.len();
            bytes[ETH..ETH + h].copy_from_slice(&first.header);
            let n = held.len().min(len - ETH - h);
            bytes[ETH + h..ETH + h + n].copy_from_slice(&held[..n]);
            let mut meta = first.meta;
            meta.quote_len = h + n;
            let err = IcmpError::time_exceeded(icmpv4::time_exceeded::REASSEMBLY);
            self.icmp_error(now, frame, &meta, err, DropReason::ReasmTimeout, io);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum;
    use std::net::Ipv4Addr;

    /// A fragment of datagram `ident` from 10.0.0.9: payload bytes `from..to` of `len`, each
    /// byte its offset's low bits (xor `salt`).
    fn frag(ident: u16, from: usize, to: usize, last: bool, salt: u8) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((20 + to - from) as u16).to_be_bytes());
        p[4..6].copy_from_slice(&ident.to_be_bytes());
        let word = ((from / 8) as u16) | if last { 0 } else { 0x2000 };
        p[6..8].copy_from_slice(&word.to_be_bytes());
        p[8] = 64;
        p[9] = 1;
        p[12..16].copy_from_slice(&[10, 0, 0, 9]);
        p[16..20].copy_from_slice(&[10, 0, 0, 1]);
        let sum = !checksum::data(&p);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend((from..to).map(|i| i as u8 ^ salt));
        p
    }

    fn meta_of(packet: &[u8]) -> Ipv4Meta {
        let mut f = vec![0u8; 14];
        f.extend_from_slice(packet);
        Ipv4Meta::parse(&f).unwrap()
    }

    fn add(r: &mut Reassembler, cfg: &ReasmConfig, t: u64, packet: &[u8]) -> (Outcome, usize) {
        let meta = meta_of(packet);
        r.add(
            cfg,
            Instant::from_millis(t),
            Incoming {
                meta: &meta,
                packet,
                eth: [0; 14],
            },
        )
    }

    fn complete(o: &(Outcome, usize)) -> Option<&Vec<u8>> {
        match o {
            (Outcome::Complete { datagram, .. }, _) => Some(datagram),
            _ => None,
        }
    }

    #[test]
    fn fragments_in_any_order_make_the_datagram_with_the_first_header() {
        let cfg = ReasmConfig::default();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut r = Reassembler::default();
            let f = [
                frag(7, 0, 16, false, 0),
                frag(7, 16, 40, false, 0),
                frag(7, 40, 43, true, 0),
            ];
            let mut last = None;
            for (n, &i) in order.iter().enumerate() {
                let o = add(&mut r, &cfg, 0, &f[i]);
                if n < 2 {
                    assert!(matches!(o.0, Outcome::Held), "{order:?}");
                } else {
                    last = complete(&o).cloned();
                }
            }
            let d = last.expect("complete");
            assert_eq!(d.len(), 20 + 43);
            assert_eq!(u16::from_be_bytes([d[2], d[3]]), 63);
            assert_eq!(&d[6..8], &[0, 0], "no fragment bits left");
            assert_eq!(checksum::data(&d[..20]), 0xffff);
            assert!(d[20..].iter().enumerate().all(|(i, &b)| b == i as u8));
            assert_eq!((r.len(), r.charge()), (0, 0));
        }
    }

    /// Linux keeps fragments in runs: inside a run is a duplicate (dropped alone), anything
    /// else overlapping discards the datagram — what the parity harness saw Linux 6.18 do.
    #[test]
    fn duplicates_inside_a_run_are_dropped_and_overlaps_discard_the_datagram() {
        let cfg = ReasmConfig::default();
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(1, 0, 48, false, 0));
        add(&mut r, &cfg, 0, &frag(1, 48, 96, false, 0));
        // 8..24 with other bytes lies inside the run 0..96: a duplicate.
        let dup = add(&mut r, &cfg, 0, &frag(1, 8, 24, false, 0xff));
        assert!(matches!(dup.0, Outcome::Dropped(Failure::Duplicate)));
        let d = complete(&add(&mut r, &cfg, 0, &frag(1, 96, 120, true, 0)))
            .cloned()
            .unwrap();
        assert!(
            d[20..].iter().enumerate().all(|(i, &b)| b == i as u8),
            "first bytes win"
        );

        // Past the end of the last run: the whole datagram goes.
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(2, 0, 48, false, 0));
        add(&mut r, &cfg, 0, &frag(2, 48, 96, false, 0));
        let o = add(&mut r, &cfg, 0, &frag(2, 88, 120, true, 0));
        assert!(
            matches!(o.0, Outcome::Discarded(Failure::Overlap, 2)),
            "{o:?}"
        );
        assert_eq!(r.len(), 0);

        // A fragment put between others is a run of its own: spanning two runs overlaps,
        // even with the very same bytes.
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(3, 80, 120, true, 0));
        add(&mut r, &cfg, 0, &frag(3, 0, 40, false, 0));
        add(&mut r, &cfg, 0, &frag(3, 40, 72, false, 0));
        let o = add(&mut r, &cfg, 0, &frag(3, 32, 48, false, 0));
        assert!(
            matches!(o.0, Outcome::Discarded(Failure::Overlap, 3)),
            "{o:?}"
        );
        // In order, the same fragments make one run, and the spanning one is a duplicate.
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(4, 0, 40, false, 0));
        add(&mut r, &cfg, 0, &frag(4, 40, 72, false, 0));
        let o = add(&mut r, &cfg, 0, &frag(4, 32, 48, false, 0));
        assert!(matches!(o.0, Outcome::Dropped(Failure::Duplicate)), "{o:?}");
    }

    #[test]
    fn malformed_fragments_discard_the_datagram() {
        let cfg = ReasmConfig::default();
        // Fewer than 8 bytes with more to come: it ends where it starts.
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(1, 0, 16, false, 0));
        let o = add(&mut r, &cfg, 0, &frag(1, 16, 20, false, 0));
        assert!(
            matches!(o.0, Outcome::Discarded(Failure::Invalid, 1)),
            "{o:?}"
        );
        // Two last fragments that disagree.
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(2, 32, 48, true, 0));
        let o = add(&mut r, &cfg, 0, &frag(2, 32, 64, true, 0));
        assert!(
            matches!(o.0, Outcome::Discarded(Failure::Invalid, 1)),
            "{o:?}"
        );
        // Past 65,535 bytes.
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(3, 0, 1000, false, 0));
        let o = add(&mut r, &cfg, 0, &frag(3, 65528, 65544, true, 0));
        assert!(matches!(o.0, Outcome::Held), "{o:?}");
    }

    #[test]
    fn ecn_of_the_fragments_combines_as_rfc_3168_says() {
        assert_eq!(ecn_combined(ecn_bit(2) | ecn_bit(3)), Some(3));
        assert_eq!(ecn_combined(ecn_bit(2)), Some(0));
        assert_eq!(ecn_combined(ecn_bit(0)), Some(0));
        assert_eq!(ecn_combined(ecn_bit(0) | ecn_bit(3)), None);
        assert_eq!(ecn_combined(ecn_bit(0) | ecn_bit(1)), None);
    }

    #[test]
    fn queues_time_out_after_30_s_with_their_first_fragment() {
        let cfg = ReasmConfig::default();
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(1, 0, 16, false, 0));
        add(&mut r, &cfg, 1000, &frag(2, 16, 32, true, 0));
        assert_eq!(r.poll_timeout(), Some(Instant::from_millis(30_000)));
        let mut out = Vec::new();
        r.expire(Instant::from_millis(29_999), &mut out);
        assert!(out.is_empty());
        r.expire(Instant::from_millis(30_000), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].first.as_ref().is_some_and(|f| f.payload.len() == 16));
        r.expire(Instant::from_millis(31_000), &mut out);
        assert_eq!(out.len(), 2);
        assert!(
            out[1].first.is_none(),
            "no first fragment, nothing to quote"
        );
        assert_eq!((r.len(), r.charge(), r.poll_timeout()), (0, 0, None));
    }

    /// A flood of first fragments, each of its own datagram: the charge stops at the limit
    /// and every later fragment is dropped, counted.
    #[test]
    fn a_fragment_flood_stops_at_the_memory_limit() {
        let cfg = ReasmConfig::default();
        let mut r = Reassembler::default();
        let mut dropped = 0;
        for i in 0..10_000u32 {
            let mut f = frag(i as u16, 0, 1400, false, 0);
            f[12..16].copy_from_slice(&(0x0a00_0000 | (i >> 16)).to_be_bytes());
            f[10..12].fill(0);
            let sum = !checksum::data(&f[..20]);
            f[10..12].copy_from_slice(&sum.to_be_bytes());
            if matches!(
                add(&mut r, &cfg, 0, &f).0,
                Outcome::Dropped(Failure::Memory)
            ) {
                dropped += 1;
            }
        }
        assert!(r.charge() <= cfg.high_thresh + FRAGMENT_CHARGE + QUEUE_CHARGE);
        assert!(r.len() < 2000, "{}", r.len());
        assert_eq!(dropped, 10_000 - r.len());
    }

    #[test]
    fn too_many_fragments_from_the_source_in_between_restart_a_queue() {
        let cfg = ReasmConfig::default();
        let mut r = Reassembler::default();
        add(&mut r, &cfg, 0, &frag(1, 0, 16, false, 0));
        // 65 fragments of other datagrams from the same source.
        for i in 0..65 {
            add(&mut r, &cfg, 0, &frag(100 + i, 0, 16, false, 0));
        }
        let (o, restarted) = add(&mut r, &cfg, 0, &frag(1, 16, 32, true, 0));
        assert_eq!(restarted, 1);
        assert!(matches!(o, Outcome::Held), "{o:?}");
        let _ = Ipv4Addr::UNSPECIFIED;
    }
}
