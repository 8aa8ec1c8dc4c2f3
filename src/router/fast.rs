//! The fast path: the common forwarding case in one function.
//!
//! A frame qualifies when it is unicast to the interface, carries IPv4 with a 20-byte header
//! that verifies, has a source and destination the general pipeline would accept, TTL above
//! one, a unicast route whose interface is up with room for it, and a next hop whose Ethernet
//! address is known. Then the TTL, the checksum (RFC 1624) and the MAC addresses are rewritten
//! through one borrow of the frame's bytes and the frame is transmitted. Anything else — and
//! any doubt — returns the frame untouched to the general pipeline in `input.rs`, which is the
//! reference: for every frame the fast path takes, the outcome and the counters are the ones
//! the general pipeline would produce.

use std::net::Ipv4Addr;

use super::adjacency::{Adjacencies, Adjacency};
use super::fib::{Fib, MainView, bloom_bit};
use super::flow_cache::FlowCache;
use super::iface::Iface;
use super::input::flow_key;
use super::mark::Classifier;
use super::neigh::{NeighCache, NeighConfig};
use super::{Action, Io, NextHop, RouteKind, Router};
use crate::frame::Frame;
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{checksum, ethernet, ipv4};

const ETH: usize = ethernet::HEADER_LEN;
const HEADERS: usize = ETH + 20;

/// `N` bytes of the headers from `offset` (the bounds are constants the compiler checks away).
#[inline(always)]
fn at<const N: usize>(h: &[u8; HEADERS], offset: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&h[offset..offset + N]);
    out
}

/// First octets of the addresses the fast path leaves to the general pipeline, as source or
/// destination: 0/8, 127/8 and 224/3 (multicast, reserved, limited broadcast). This covers
/// every martian source (`input::is_martian_source`: 0/8, 127/8, 224/4, 255.255.255.255) and
/// every destination the general pipeline treats specially (0/8, 127/8, multicast, limited
/// broadcast); it only sends more frames the general way, never fewer.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[0] = true;
    t[127] = true;
    let mut i = 224;
    while i < 256 {
        t[i] = true;
        i += 1;
    }
    t
};

/// What the fast path forwarded from one interface, counted into the instance and interface
/// counters once per batch by [`Router::settle`] rather than per frame. Transmit counters
/// depend on the egress: they are kept for the latest egress and counted when it changes.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    frames: u64,
    rx_bytes: u64,
    tx_bytes: u64,
    /// The egress of the latest frames (an index into the interfaces), and the frame and byte
    /// counts at which they started.
    egress: usize,
    egress_from: (u64, u64),
}

impl Tally {
    /// Count the latest egress's frames into its counters and start on `next`.
    fn switch_egress(&mut self, ifaces: &mut [Iface], next: usize) {
        // An egress always exists: the fast path takes it from an interface it looked up, and
        // interfaces are never removed.
        if let Some(i) = ifaces.get_mut(self.egress) {
            i.counters.tx_frames += self.frames - self.egress_from.0;
            i.counters.tx_bytes += self.tx_bytes - self.egress_from.1;
        }
        self.egress = next;
        self.egress_from = (self.frames, self.tx_bytes);
    }
}

/// The fast path over a run of frames from one interface: what it reads for every frame,
/// looked up once, and the parts of the router it may change, borrowed apart. A frame it
/// hands back goes to the general pipeline, which may change anything (an ARP reply fills the
/// cache), so a new `FastPath` is made for the frames after it.
pub(crate) struct FastPath<'r> {
    now: Instant,
    ingress: IfaceId,
    /// The ingress interface's MAC as the low 48 bits of a little-endian word.
    our_mac: u64,
    local_bloom: u64,
    local_addrs: &'r [Ipv4Addr],
    /// `None` when policy rules (or a large `local` table) make every lookup walk the rules.
    main: Option<MainView<'r>>,
    fib: &'r Fib,
    marks: &'r Classifier,
    flow_cache: &'r mut FlowCache,
    ifaces: &'r mut [Iface],
    neigh: &'r mut NeighCache,
    neigh_config: &'r NeighConfig,
    adjacencies: &'r mut Adjacencies,
    /// The FIB's and the interfaces' generations: the part of the epoch no frame of the run
    /// changes.
    fixed_generations: u64,
    /// The adjacencies' epoch now (see [`adjacency`](super::adjacency)).
    epoch: u64,
    /// Whether a packet leaving by its ingress may need a redirect (the general path decides).
    redirects: bool,
    tally: &'r mut Tally,
}

impl Router {
    /// The fast path for frames received on `ingress` (whose MAC is `our_mac`), or `None` when
    /// they must all take the general pipeline: the interface is down, forwarding is off, or
    /// the fast path is switched off.
    #[inline]
    pub(crate) fn fast_path_mac(&self, ingress: IfaceId) -> Option<ethernet::Address> {
        self.iface(ingress)
            .filter(|i| i.up && self.fast_path && self.config.forwarding && !self.has_vlans)
            .map(|i| i.mac)
    }

    /// The fast path over the next frames from `ingress`; see [`FastPath`].
    #[inline(always)]
    pub(crate) fn fast_path<'r>(
        &'r mut self,
        now: Instant,
        ingress: IfaceId,
        our_mac: ethernet::Address,
        tally: &'r mut Tally,
    ) -> FastPath<'r> {
        let o = our_mac.0;
        let fixed_generations = self.fib.generation() + self.ifaces_generation;
        let epoch = fixed_generations + self.neigh.generation();
        FastPath {
            now,
            ingress,
            our_mac: u64::from_le_bytes([o[0], o[1], o[2], o[3], o[4], o[5], 0, 0]),
            local_bloom: self.local_bloom,
            local_addrs: &self.local_addrs,
            main: self.fib.main_view(),
            fib: &self.fib,
            marks: &self.marks,
            flow_cache: &mut self.flow_cache,
            ifaces: &mut self.ifaces,
            neigh: &mut self.neigh,
            neigh_config: &self.config.neigh,
            adjacencies: &mut self.adjacencies,
            fixed_generations,
            epoch,
            redirects: self.config.send_redirects,
            tally,
        }
    }

    /// Add what the fast path forwarded from `ingress` to the counters: received, forwarded and
    /// transmitted by the instance, received by the interface, sent by the latest egress. The same sums the general
    /// pipeline would have added frame by frame.
    #[inline]
    pub(crate) fn settle(&mut self, ingress: IfaceId, mut tally: Tally) {
        if tally.frames == 0 {
            return;
        }
        tally.switch_egress(&mut self.ifaces, 0);
        self.counters.rx_frames += tally.frames;
        self.counters.forwarded += tally.frames;
        self.counters.tx_frames += tally.frames;
        if let Some(i) = self.ifaces.get_mut(usize::from(ingress.0)) {
            i.counters.rx_frames += tally.frames;
            i.counters.rx_bytes += tally.rx_bytes;
        }
    }
}

impl FastPath<'_> {
    /// Forward frames from `frames` while they are the common case; the first one that is not
    /// comes back untouched, for the general pipeline. `None` once `frames` is exhausted.
    #[inline(always)]
    pub(crate) fn forward_run(
        &mut self,
        frames: &mut impl Iterator<Item = Frame>,
        io: &mut Io<'_>,
    ) -> Option<Frame> {
        // Told apart once per run, so that each loop is made for its kind of lookup.
        match self.main {
            Some(main) => frames.find_map(|frame| self.forward_via(frame, io, Some(main))),
            None => frames.find_map(|frame| self.forward_via(frame, io, None)),
        }
    }

    /// Forward `frame` if it is the common case; otherwise hand it back untouched.
    #[inline]
    pub(crate) fn forward(&mut self, frame: Frame, io: &mut Io<'_>) -> Option<Frame> {
        self.forward_via(frame, io, self.main)
    }

    /// Where a packet goes under policy rules (see [`FastPath::link`]): the classifier and the
    /// whole rule walk on the packet's key, their answer and where it leads cached per flow.
    /// (Inlined: out of line the walk's part cost policy packets 7 ns and saved the default
    /// path 0.5 ns; docs/benchmarks.md.)
    #[inline(always)]
    fn policy_link(
        &mut self,
        ip: &[u8; 20],
        ports: [u8; 4],
        dst: Ipv4Addr,
        total: usize,
    ) -> Option<([u8; 12], IfaceId)> {
        let first = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
        let port_word = if first { u32::from_be_bytes(ports) } else { 0 };
        let misc = u32::from_be_bytes([ip[1], ip[9], 0, 0]) | u32::from(self.ingress.0);
        let addr = |i: usize| u32::from_be_bytes([ip[i], ip[i + 1], ip[i + 2], ip[i + 3]]);
        let id = [addr(12), addr(16), port_word, misc];
        let generation = self.fib.generation();
        let (answer, known) = match self.flow_cache.get(&id, generation) {
            Some(cached) if cached.link.holds(self.epoch, self.now.as_nanos()) => {
                let a = &cached.link;
                return (total <= usize::from(a.mtu)).then_some((a.macs, a.egress));
            }
            Some(cached) => (cached.answer, true),
            None => {
                let key = flow_key(self.ingress, ip, first.then_some(&ports[..]), self.marks);
                let answer = self.fib.route(&key).map(|r| *r.nexthop);
                self.flow_cache.put(id, generation, answer);
                (answer, false)
            }
        };
        let nh = answer?;
        let (macs, egress) = self.link(&nh, dst, total)?;
        // Remembered from a flow's second packet on, so that a flood of new flows costs what
        // it did without. The flow names its destination, so even a next hop on the link can
        // be remembered.
        if known && let Some(link) = self.adjacency(nh.gateway.unwrap_or(dst), egress, macs) {
            self.flow_cache.set_link(&id, link);
        }
        Some((macs, egress))
    }

    /// Where a packet of `total` bytes to `dst` goes through next hop `nh`, if the fast path
    /// may send it: a unicast route out of an interface that is up and has room for it, to a
    /// neighbour whose address is known. The answer is the frame's new Ethernet addresses and
    /// the egress. (What an adjacency hit stands for.)
    #[inline(always)]
    fn link(&mut self, nh: &NextHop, dst: Ipv4Addr, total: usize) -> Option<([u8; 12], IfaceId)> {
        if nh.kind != RouteKind::Unicast {
            return None;
        }
        let egress = nh.dev?;
        let out = self.ifaces.get(usize::from(egress.0))?;
        if !out.up || total > usize::from(out.mtu) {
            return None;
        }
        let next_hop = nh.gateway.unwrap_or(dst);
        let mac = self
            .neigh
            .lookup(self.now, self.neigh_config, egress, next_hop);
        // The lookup may have refilled the ARP hot cache.
        self.epoch = self.fixed_generations + self.neigh.generation();
        let mut macs = [0; 12];
        macs[..6].copy_from_slice(&mac?.0);
        macs[6..].copy_from_slice(&out.mac.0);
        Some((macs, egress))
    }

    /// [`FastPath::link`] for next hop `id` of `main`, remembered as its adjacency when it
    /// names a gateway that the ARP cache answers from its hot cache. (Out of line: adjacency
    /// hits are the common case.)
    #[inline(never)]
    fn resolve(
        &mut self,
        nh: &NextHop,
        id: u16,
        dst: Ipv4Addr,
        total: usize,
    ) -> Option<([u8; 12], IfaceId)> {
        let (macs, egress) = self.link(nh, dst, total)?;
        if let Some(adjacency) = nh.gateway.and_then(|gw| self.adjacency(gw, egress, macs)) {
            self.adjacencies.put(id, adjacency);
        }
        Some((macs, egress))
    }

    /// The adjacency for sending to neighbour `next_hop` out of `egress` with these Ethernet
    /// addresses, right after [`FastPath::link`] found them: `None` unless the ARP cache answers
    /// the neighbour from its hot cache (and so will, unchanged, until the epoch moves on or
    /// the neighbour's reachable time ends).
    fn adjacency(&self, next_hop: Ipv4Addr, egress: IfaceId, macs: [u8; 12]) -> Option<Adjacency> {
        Some(Adjacency {
            epoch: self.epoch,
            until: self.neigh.reachable_until(egress, next_hop)?,
            macs,
            mtu: self.ifaces.get(usize::from(egress.0))?.mtu,
            egress,
        })
    }

    /// [`FastPath::forward`] with `main`'s view, or `None` to walk the policy rules.
    #[inline(always)]
    fn forward_via(
        &mut self,
        mut frame: Frame,
        io: &mut Io<'_>,
        main: Option<MainView<'_>>,
    ) -> Option<Frame> {
        let len = frame.len();
        let Some((h, after)) = io.pool.data_mut(&frame).split_first_chunk_mut::<HEADERS>() else {
            return Some(frame);
        };
        // Whole words, loaded once each: the destination MAC, then the EtherType, compared as
        // integers; the header through the one decoder, its common case.
        let mac = u64::from_le_bytes(at::<8>(h, 0)) & 0xffff_ffff_ffff;
        if mac != self.our_mac || u16::from_be_bytes(at::<2>(h, 12)) != 0x0800 {
            return Some(frame);
        }
        let Some(Ok(ip)) = ipv4::Header::decode_fixed(&at::<20>(h, ETH), len - ETH) else {
            return Some(frame);
        };
        let (total, ttl) = (ip.total_len, ip.ttl);
        if ttl <= 1 {
            return Some(frame);
        }
        let s = u32::from(ip.src);
        let d = u32::from(ip.dst);
        let dst = ip.dst;
        // Martian sources, limited broadcast, multicast and martian destinations all take the
        // general path, as does a source that may be one of ours.
        if SPECIAL[(s >> 24) as usize] | SPECIAL[(d >> 24) as usize]
            || (self.local_bloom & bloom_bit(s) != 0
                && self.local_addrs.contains(&Ipv4Addr::from(s)))
        {
            return Some(frame);
        }
        let now = self.now;
        let adjacency = match main {
            Some(main) => {
                let Some(id) = main.nexthop_id(d) else {
                    return Some(frame);
                };
                match self.adjacencies.get(id, self.epoch, now.as_nanos()) {
                    Some(a) if total <= usize::from(a.mtu) => Some((a.macs, a.egress)),
                    Some(_) => return Some(frame),
                    None => match main.nexthop(id) {
                        Some(nh) => self.resolve(nh, id, dst, total),
                        None => None,
                    },
                }
            }
            // Policy rules (or a large `local` table): see `policy_link`. The four bytes
            // after a 20-byte header are the ports, should the rules ask for them.
            None => {
                let ports = after.get(..4).map_or([0; 4], |p| [p[0], p[1], p[2], p[3]]);
                self.policy_link(&at::<20>(h, ETH), ports, dst, total)
            }
        };
        let Some((macs, egress)) = adjacency else {
            return Some(frame);
        };
        // Back out of the interface it came in on: a redirect may be due.
        if egress == self.ingress && self.redirects {
            return Some(frame);
        }

        // Committed: this is exactly what input → forward → dispatch → transmit would do.
        h[22] = ttl - 1;
        let sum = checksum::ttl_decremented([h[24], h[25]]);
        h[24..26].copy_from_slice(&sum);
        h[..12].copy_from_slice(&macs);
        // Ethernet padding is trimmed; the packet fills most frames.
        let sent = ETH + total;
        if sent < len {
            frame.truncate(sent);
        }
        if usize::from(egress.0) != self.tally.egress {
            self.tally.switch_egress(self.ifaces, usize::from(egress.0));
        }
        self.tally.frames += 1;
        self.tally.rx_bytes += len as u64;
        self.tally.tx_bytes += sent as u64;
        io.out.push(Action::Transmit {
            iface: egress,
            frame,
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Pool;
    use crate::router::fib::TABLE_MAIN;
    use crate::router::{Config, DropReason, IfAddr};
    use crate::wire::{arp, ipv4};
    use core::time::Duration;

    const MACS: [ethernet::Address; 2] = [
        ethernet::Address([2, 0, 0, 0, 0, 1]),
        ethernet::Address([2, 0, 0, 0, 0, 2]),
    ];
    const PEER: ethernet::Address = ethernet::Address([2, 9, 0, 0, 0, 9]);
    const OTHER_MAC: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 7]);

    fn router(fast: bool, policy: bool) -> Router {
        let mut r = Router::new(Config::default());
        r.fast_path = fast;
        for (i, mac) in MACS.iter().enumerate() {
            let id = r.add_iface(&format!("eth{i}"), *mac, 1500).unwrap();
            r.add_addr(
                id,
                IfAddr::new(Ipv4Addr::new(10, i as u8, 0, 1), 24).unwrap(),
            )
            .unwrap();
        }
        r.set_mtu(IfaceId(1), 1000).unwrap();
        for route in [
            "10.50.0.0/16 via 10.1.0.2",
            "10.60.0.0/16 via 10.1.0.3",
            "unreachable 10.70.0.0/16",
            "blackhole 10.80.0.0/16",
            // Back out of the ingress: ARP replies in the same batch change what later frames
            // of that batch see.
            "10.90.0.0/16 via 10.0.0.3",
        ] {
            r.add_route_str(route).unwrap();
        }
        if policy {
            // The fast path then walks the rules on the packet's key: marks from the
            // classifier, a multipath route, a throw back to main.
            for route in [
                "10.50.0.0/16 table 100 nexthop via 10.1.0.2 nexthop via 10.1.0.3 weight 2",
                "throw 10.60.0.0/16 table 100",
            ] {
                r.add_route_str(route).unwrap();
            }
            for rule in [
                "fwmark 0x1 to 10.50.0.0/16 lookup 100 pref 100",
                "from 10.0.0.0/24 to 10.60.0.0/16 lookup 100 pref 200",
                "tos 0x10 prohibit pref 300",
            ] {
                r.add_rule_str(rule).unwrap();
            }
            r.add_mark_str("ipproto udp mark 1").unwrap();
        }
        r
    }

    /// A UDP frame from 10.0.0.2 to `dst` as eth0 receives it.
    fn udp(dst: [u8; 4], ttl: u8, len: usize, df: bool) -> Vec<u8> {
        let mut f = vec![0u8; ETH + 20 + 8 + len];
        let mut eth = ethernet::Frame::new_unchecked(&mut f[..]);
        eth.set_dst_addr(MACS[0]);
        eth.set_src_addr(PEER);
        eth.set_ethertype(ethernet::EtherType::Ipv4);
        let repr = ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 2),
            dst_addr: Ipv4Addr::from(dst),
            protocol: ipv4::Protocol::Udp,
            payload_len: 8 + len,
            ttl,
            tos: 0,
            ident: 7,
            dont_frag: df,
        };
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut f[ETH..]));
        f
    }

    fn arp_reply(from_ip: [u8; 4], from_mac: ethernet::Address) -> Vec<u8> {
        let on = usize::from(from_ip[1]);
        let mut f = vec![0u8; ETH + 28];
        let mut eth = ethernet::Frame::new_unchecked(&mut f[..]);
        eth.set_dst_addr(MACS[on]);
        eth.set_src_addr(from_mac);
        eth.set_ethertype(ethernet::EtherType::Arp);
        let repr = arp::Repr {
            operation: arp::Operation::Reply,
            source_hardware_addr: from_mac,
            source_protocol_addr: Ipv4Addr::from(from_ip),
            target_hardware_addr: MACS[on],
            target_protocol_addr: Ipv4Addr::new(10, from_ip[1], 0, 1),
        };
        repr.emit(&mut arp::Packet::new_unchecked(&mut f[ETH..]));
        f
    }

    /// What an action did, independent of which pool buffer carried it.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Tx(IfaceId, Vec<u8>),
        Deliver(IfaceId, Vec<u8>),
        Drop(DropReason),
    }

    /// Process `frames` as one batch received on `iface` (after due timers), and say what came
    /// out, in order.
    fn run(
        r: &mut Router,
        pool: &mut Pool,
        now: Instant,
        iface: IfaceId,
        frames: &[Vec<u8>],
    ) -> Vec<Seen> {
        let mut out = Vec::new();
        if r.poll_timeout().is_some_and(|t| t <= now) {
            r.handle_timeout(now, pool, &mut out);
        }
        let mut batch = crate::frame::Batch::new();
        for bytes in frames {
            let frame = pool.alloc_from(bytes).unwrap();
            batch.push(frame).unwrap();
        }
        r.process(now, iface, &mut batch, pool, &mut out);
        out.into_iter()
            .map(|a| match a {
                Action::Transmit { iface, frame } => {
                    let s = Seen::Tx(iface, pool.data(&frame).to_vec());
                    pool.free(frame);
                    s
                }
                Action::Deliver { iface, frame } => {
                    let s = Seen::Deliver(iface, pool.data(&frame).to_vec());
                    pool.free(frame);
                    s
                }
                Action::Drop { frame, reason } => {
                    pool.free(frame);
                    Seen::Drop(reason)
                }
            })
            .collect()
    }

    /// A random frame for `iface`, possibly mutated: ARP replies from the gateways, UDP to a
    /// local address, to unreachable and blackholed prefixes, too big for the egress, through
    /// the gateways, back out of the ingress.
    fn random_frame(rand: &mut impl FnMut() -> u64, iface: IfaceId) -> Vec<u8> {
        let mut f = match rand() % 12 {
            0 if iface == IfaceId(1) => {
                let gw = 2 + (rand() % 2) as u8;
                arp_reply([10, 1, 0, gw], ethernet::Address([2, 9, 0, 0, 1, gw]))
            }
            0 => arp_reply([10, 0, 0, 3], PEER),
            1 => udp([10, 0, 0, 1], 64, 8, false),
            2 => udp([10, 70 + (rand() % 2) as u8 * 10, 0, 1], 64, 8, false),
            3 => udp([10, 1, 0, 9], 64, 1200, rand() & 1 == 0),
            4 => udp([10, 90, 0, 1], 64, 8, false),
            // Larger than some of the MTUs `reconfigure` sets.
            5 => udp(
                [10, 50 + (rand() % 2) as u8 * 10, 1, 1],
                64,
                700,
                rand() & 1 == 0,
            ),
            _ => udp(
                [10, 50 + (rand() % 2) as u8 * 10, 1, 1],
                1 + (rand() % 70) as u8,
                8,
                false,
            ),
        };
        if iface == IfaceId(1) {
            // Frames on eth1 are addressed to eth1 (ARP replies already are).
            f[..6].copy_from_slice(&MACS[1].0);
        }
        let mutation = rand() % 8;
        if mutation == 0 {
            let at = (rand() as usize) % f.len().min(40);
            f[at] ^= 1 << (rand() % 8);
        } else if mutation == 1 {
            let at = ETH + (rand() as usize) % 20;
            if f.len() >= ETH + 20 {
                f[at] = rand() as u8;
                let sum = !checksum::data(
                    &f[ETH..ETH + 20]
                        .iter()
                        .enumerate()
                        .map(|(i, &b)| if i == 10 || i == 11 { 0 } else { b })
                        .collect::<Vec<_>>(),
                );
                f[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());
            }
        } else if mutation == 2 {
            f.truncate((rand() as usize) % f.len() + 1);
        }
        f
    }

    /// Two routers, fast path on and off, fed the same batches: single frames and batches of up
    /// to 40 in which frames that take the general path (ARP replies that resolve a later
    /// frame's next hop, local, unreachable, expiring, oversized and mutated frames) sit between
    /// frames the fast path takes. Actions, their order, bytes and counters must be identical.
    #[test]
    fn fast_path_is_indistinguishable_from_the_general_pipeline() {
        differential(false);
    }

    #[test]
    fn fast_path_is_indistinguishable_under_policy_rules() {
        differential(true);
    }

    /// A fast router and a general one, fed the same frames and changes.
    struct Pair {
        fast: (Router, Pool),
        slow: (Router, Pool),
        now: Instant,
    }

    impl Pair {
        fn new() -> Pair {
            let pools = || Pool::new(256).unwrap();
            Pair {
                fast: (router(true, false), pools()),
                slow: (router(false, false), pools()),
                now: Instant::ZERO,
            }
        }

        fn change(&mut self, f: impl Fn(&mut Router, &mut Pool)) {
            f(&mut self.fast.0, &mut self.fast.1);
            f(&mut self.slow.0, &mut self.slow.1);
        }

        /// What both make of `frames` on `iface`, `after` the previous batch.
        fn send(&mut self, after: Duration, iface: IfaceId, frames: &[Vec<u8>]) -> Vec<Seen> {
            self.now = self.now + after;
            let (r, pool) = &mut self.fast;
            let a = run(r, pool, self.now, iface, frames);
            let (r, pool) = &mut self.slow;
            let b = run(r, pool, self.now, iface, frames);
            assert_eq!(a, b, "at {:?}", self.now);
            assert_eq!(self.fast.0.counters(), self.slow.0.counters());
            a
        }
    }

    /// The Ethernet addresses of the frames sent out of eth1.
    fn macs_out(seen: &[Seen]) -> Vec<[u8; 12]> {
        let out = seen.iter().filter_map(|s| match s {
            Seen::Tx(IfaceId(1), f) if f[12..14] == [8, 0] => f.first_chunk().copied(),
            _ => None,
        });
        out.collect()
    }

    /// Every change that an adjacency depends on shows in the next frame: the neighbour's
    /// address, the egress MAC and MTU, the route's gateway, the reachable time, a hot-cache
    /// slot taken by another neighbour (which the general path refills, noting the use).
    #[test]
    fn adjacencies_follow_every_change() {
        let mut p = Pair::new();
        let gw = |last| ethernet::Address([2, 9, 0, 0, 1, last]);
        let header = |dst: ethernet::Address, src: ethernet::Address| {
            let mut h = [0; 12];
            h[..6].copy_from_slice(&dst.0);
            h[6..].copy_from_slice(&src.0);
            h
        };
        let small = udp([10, 50, 1, 1], 64, 8, false);
        let big = udp([10, 50, 1, 1], 64, 700, true);
        let ms = Duration::from_millis;
        p.send(ms(0), IfaceId(0), std::slice::from_ref(&small));
        p.send(ms(1), IfaceId(1), &[arp_reply([10, 1, 0, 2], gw(2))]);
        // The first fills the adjacency, the second takes it.
        let seen = p.send(ms(1), IfaceId(0), &[small.clone(), small.clone()]);
        assert_eq!(macs_out(&seen), [header(gw(2), MACS[1]); 2]);
        p.send(ms(1), IfaceId(1), &[arp_reply([10, 1, 0, 2], gw(7))]);
        let seen = p.send(ms(1), IfaceId(0), &[small.clone(), small.clone()]);
        assert_eq!(macs_out(&seen), [header(gw(7), MACS[1]); 2]);
        p.change(|r, _| r.set_mac(IfaceId(1), OTHER_MAC).unwrap());
        let seen = p.send(ms(1), IfaceId(0), std::slice::from_ref(&small));
        assert_eq!(macs_out(&seen), [header(gw(7), OTHER_MAC)]);
        // Back, so that replies (sent to the old address) are taken again.
        p.change(|r, _| r.set_mac(IfaceId(1), MACS[1]).unwrap());
        let seen = p.send(ms(1), IfaceId(0), &[small.clone(), big.clone()]);
        assert_eq!(
            macs_out(&seen),
            [header(gw(7), MACS[1]); 2],
            "eth1's MTU is 1000"
        );
        p.change(|r, _| r.set_mtu(IfaceId(1), 576).unwrap());
        let seen = p.send(ms(1), IfaceId(0), std::slice::from_ref(&big));
        assert!(macs_out(&seen).is_empty(), "too big, and DF set");
        let seen = p.send(ms(1), IfaceId(0), std::slice::from_ref(&small));
        assert_eq!(macs_out(&seen), [header(gw(7), MACS[1])]);
        // Another gateway under the same next-hop id (the route's old one was released).
        p.change(|r, _| {
            r.remove_route(TABLE_MAIN, Ipv4Addr::new(10, 50, 0, 0), 16, None);
            r.add_route_str("10.50.0.0/16 via 10.1.0.4").unwrap();
        });
        let seen = p.send(ms(1), IfaceId(0), std::slice::from_ref(&small));
        assert!(macs_out(&seen).is_empty(), "10.1.0.4 is not resolved");
        p.send(ms(1), IfaceId(1), &[arp_reply([10, 1, 0, 4], gw(4))]);
        let seen = p.send(ms(1), IfaceId(0), std::slice::from_ref(&small));
        assert_eq!(macs_out(&seen), [header(gw(4), MACS[1])]);
        // 10.0.0.5 on eth0 takes 10.1.0.4's slot of the hot cache; the general path then
        // finds 10.1.0.4 in the map, which notes the use, and the last use decides when the
        // entry, once stale, ages out. Start right after a run of the timers (which empties
        // the hot cache), so that the next run is 15 s away.
        let to_host = udp([10, 0, 0, 5], 64, 8, false);
        p.send(ms(1), IfaceId(0), std::slice::from_ref(&to_host));
        p.send(ms(1), IfaceId(0), &[arp_reply([10, 0, 0, 5], PEER)]);
        while let Some(t) = p.fast.0.poll_timeout().filter(|&t| t < p.now + ms(14_000)) {
            p.send(t - p.now, IfaceId(0), &[]);
        }
        p.send(ms(1), IfaceId(0), std::slice::from_ref(&small));
        p.send(ms(1), IfaceId(0), std::slice::from_ref(&to_host));
        p.send(ms(13_000), IfaceId(0), std::slice::from_ref(&small));
        // Now no more traffic, and the timers run late once, so that the aging sweeps fall
        // between the last use the fast path saw and the one the general path noted.
        p.send(ms(1_000), IfaceId(0), &[]);
        p.send(ms(25_000), IfaceId(0), &[]);
        for _ in 0..50 {
            p.send(ms(1_000), IfaceId(0), &[]);
            assert_eq!(
                p.fast.0.neighbours().len(),
                p.slow.0.neighbours().len(),
                "at {:?}",
                p.now
            );
        }
        let seen = p.send(ms(0), IfaceId(0), std::slice::from_ref(&small));
        assert!(macs_out(&seen).is_empty(), "10.1.0.4 aged out");
    }

    /// A cached decision does not outlive a change of the rules or the classifier.
    #[test]
    fn cached_decisions_follow_configuration_changes() {
        let mut r = router(true, true);
        let mut pool = Pool::new(64).unwrap();
        let now = Instant::ZERO;
        let frame = udp([10, 50, 1, 1], 64, 8, false);
        // The first frame asks for the gateway's address; the answer releases it.
        let to_gw = |r: &mut Router, pool: &mut Pool| {
            run(
                r,
                pool,
                now,
                IfaceId(0),
                &[udp([10, 50, 1, 1], 64, 8, false)],
            );
            run(r, pool, now, IfaceId(1), &[arp_reply([10, 1, 0, 2], PEER)]);
            run(r, pool, now, IfaceId(1), &[arp_reply([10, 1, 0, 3], PEER)]);
        };
        to_gw(&mut r, &mut pool);
        let send = |r: &mut Router, pool: &mut Pool| {
            run(r, pool, now, IfaceId(0), std::slice::from_ref(&frame))
        };
        let sent = |seen: &[Seen]| matches!(seen, [Seen::Tx(..)]);
        assert!(sent(&send(&mut r, &mut pool)));
        assert!(sent(&send(&mut r, &mut pool)));
        r.add_rule_str("to 10.50.0.0/16 blackhole pref 10").unwrap();
        let seen = send(&mut r, &mut pool);
        assert_eq!(seen, [Seen::Drop(DropReason::Blackhole)]);
        let mut r = router(true, true);
        to_gw(&mut r, &mut pool);
        r.add_rule_str("fwmark 0x7 prohibit pref 10").unwrap();
        assert!(sent(&send(&mut r, &mut pool)));
        // A new classifier entry ahead of the old one would not be seen; a first entry is.
        let mut fresh = router(true, false);
        fresh.add_rule_str("fwmark 0x7 prohibit pref 10").unwrap();
        to_gw(&mut fresh, &mut pool);
        assert!(sent(&send(&mut fresh, &mut pool)));
        fresh.add_mark_str("ipproto udp mark 0x7").unwrap();
        let seen = send(&mut fresh, &mut pool);
        // Refused with ICMP back to the sender (which first needs its address resolved).
        assert!(matches!(seen[..], [Seen::Tx(IfaceId(0), _)]), "{seen:?}");
    }

    /// One of the changes that invalidate adjacencies, picked by `change`: eth1's MTU, MAC or
    /// state, or the gateway (and interface) of 10.60.0.0/16.
    fn reconfigure(r: &mut Router, pool: &mut Pool, change: u64) {
        let pick = (change / 4) as usize;
        match change % 4 {
            0 => r.set_mtu(IfaceId(1), [1000, 1500, 576][pick % 3]).unwrap(),
            1 => r
                .set_mac(IfaceId(1), [MACS[1], OTHER_MAC][pick % 2])
                .unwrap(),
            2 => r
                .set_iface_up(IfaceId(1), !pick.is_multiple_of(4), pool)
                .unwrap(),
            _ => {
                r.remove_route(TABLE_MAIN, Ipv4Addr::new(10, 60, 0, 0), 16, None);
                let gw = ["10.1.0.2", "10.1.0.3", "10.0.0.3"][pick % 3];
                // Refused while eth1 is down (the gateway is not on a connected subnet).
                let _ = r.add_route_str(&format!("10.60.0.0/16 via {gw}"));
            }
        }
    }

    fn differential(policy: bool) {
        let (mut fast, mut slow) = (router(true, policy), router(false, policy));
        let (mut pf, mut ps) = (Pool::new(1024).unwrap(), Pool::new(1024).unwrap());
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut now = Instant::ZERO;
        let (mut fast_taken, mut batches, mut mixed) = (0, 0, 0);
        for round in 0..20_000 {
            // Now and then a pause long enough for neighbours to go stale and age out.
            let pause = if rand().is_multiple_of(200) {
                40_000 + rand() % 80_000
            } else {
                rand() % 3000
            };
            now = now + Duration::from_millis(pause);
            // Mostly eth0, where the traffic comes in; eth1 carries the gateways' ARP replies.
            let iface = IfaceId(u16::from(rand().is_multiple_of(5)));
            let n = if round % 2 == 0 {
                1
            } else {
                1 + (rand() % 40) as usize
            };
            if rand().is_multiple_of(100) {
                let change = rand();
                reconfigure(&mut fast, &mut pf, change);
                reconfigure(&mut slow, &mut ps, change);
            }
            let frames: Vec<Vec<u8>> = (0..n).map(|_| random_frame(&mut rand, iface)).collect();
            let a = run(&mut fast, &mut pf, now, iface, &frames);
            let b = run(&mut slow, &mut ps, now, iface, &frames);
            assert_eq!(a, b, "batch {frames:02x?}");
            let tx = a
                .iter()
                .filter(|s| matches!(s, Seen::Tx(_, f) if f.len() > 23 && f[12..14] == [8, 0] && f[23] == 17))
                .count();
            fast_taken += tx;
            batches += usize::from(n > 1);
            mixed += usize::from(n > 1 && tx > 0 && tx < a.len());
        }
        assert_eq!(fast.counters(), slow.counters());
        for i in 0..2 {
            assert_eq!(fast.ifaces()[i].counters(), slow.ifaces()[i].counters());
        }
        assert_eq!(fast.neighbours().len(), slow.neighbours().len());
        assert!(
            fast_taken > 30_000,
            "only {fast_taken} frames were forwarded"
        );
        assert!(mixed > batches / 2, "{mixed} of {batches} batches mixed");
    }
}
