//! A measurement rig: one router forwarding a steady stream of 64-byte UDP frames.
//!
//! The router has two interfaces and `routes` routes through two gateways whose ARP entries
//! were resolved by a real exchange. The rig keeps a working set of frames in one batch: each
//! round it rewrites their Ethernet and IP headers from a template (the router changed TTL,
//! checksum and MACs last time), feeds the batch to [`Router::process`], and puts the
//! transmitted frames straight back into it for the next round. So a round costs the forwarding
//! pipeline plus a 34-byte header refill per frame — the refill stands in for the NIC writing a
//! fresh frame — and the moves of the frame handles. The
//! forwarding bench, the no-allocation test and the demo all drive this rig.

use std::net::Ipv4Addr;

use crate::frame::{Batch, Pool};
use crate::router::{Action, Config, IfAddr, IfaceId, Router};
use crate::time::Instant;
use crate::wire::{arp, ethernet, ipv4, udp};

const ETH: usize = ethernet::HEADER_LEN;
const HEADERS: usize = ETH + ipv4::HEADER_LEN;
/// Length of the frames the rig forwards (a minimum Ethernet frame with its FCS).
pub const FRAME_LEN: usize = 64;
const IN: IfaceId = IfaceId(0);
const OUT: IfaceId = IfaceId(1);
const PEER_MAC: ethernet::Address = ethernet::Address([0x02, 0xaa, 0, 0, 0, 1]);
const ROUTER_IN_MAC: ethernet::Address = ethernet::Address([0x02, 0, 0, 0, 0, 1]);
const GW_MAC: [ethernet::Address; 2] = [
    ethernet::Address([0x02, 0xbb, 0, 0, 0, 2]),
    ethernet::Address([0x02, 0xbb, 0, 0, 0, 3]),
];

/// One router, warmed up, and the frames it forwards.
pub struct ForwardRig {
    router: Router,
    pool: Pool,
    out: Vec<Action>,
    /// The next batch: the frames the router transmitted last round.
    batch: Batch,
    /// Ethernet + IP header per frame, destinations spread over the routes.
    templates: Vec<[u8; HEADERS]>,
    now: Instant,
    /// Give every frame a new source address (a new flow), or 0 to keep the templates'.
    new_flows: bool,
    flow: u32,
}

impl ForwardRig {
    /// A rig with `routes` routes (at least 1) and batches of `batch` frames (1..=64).
    pub fn new(routes: usize, batch: usize) -> ForwardRig {
        ForwardRig::with_policy(routes, batch, 0, false)
    }

    /// A rig whose router also holds `rules` policy rules ahead of `main` that no packet
    /// matches (so every packet walks them all: the worst case), and, with `marks`, a
    /// classifier entry every packet is tested against.
    pub fn with_policy(routes: usize, batch: usize, rules: usize, marks: bool) -> ForwardRig {
        ForwardRig::build(routes, batch, rules, marks, false)
    }

    /// As [`ForwardRig::with_policy`], but every frame comes from a source address not seen
    /// for a long time (a new flow each: no per-flow cache helps). The source and header
    /// checksum rewrite costs the rig a little per frame, whatever the router does.
    pub fn with_new_flows(routes: usize, batch: usize, rules: usize, marks: bool) -> ForwardRig {
        ForwardRig::build(routes, batch, rules, marks, true)
    }

    fn build(
        routes: usize,
        batch: usize,
        rules: usize,
        marks: bool,
        new_flows: bool,
    ) -> ForwardRig {
        let routes = routes.clamp(1, 250);
        let batch = batch.clamp(1, crate::frame::BATCH_MAX);
        let mut router = Router::new(Config::default());
        let mac = |b| ethernet::Address([0x02, 0, 0, 0, 0, b]);
        let expect = "rig configuration is valid";
        let a = |x: [u8; 4], l| IfAddr::new(Ipv4Addr::from(x), l).expect(expect);
        router.add_iface("in", mac(1), 1500).expect(expect);
        router.add_iface("out", mac(2), 1500).expect(expect);
        router.add_addr(IN, a([10, 0, 0, 1], 24)).expect(expect);
        router.add_addr(OUT, a([10, 1, 0, 1], 24)).expect(expect);
        for r in 0..routes {
            let gw = 2 + r % 2;
            router
                .add_route_str(&format!("10.{}.0.0/16 via 10.1.0.{gw}", 10 + r))
                .expect(expect);
        }
        for k in 0..rules {
            let rule = format!("from 192.168.{}.0/24 lookup 100 pref {}", k % 256, k + 1);
            router.add_rule_str(&rule).expect(expect);
        }
        if marks {
            router
                .add_mark_str("ipproto tcp dport 80 mark 0x5")
                .expect(expect);
        }
        let mut pool = Pool::new(1024).expect("a 2 MiB pool maps");
        let mut out = Vec::with_capacity(4 * crate::frame::BATCH_MAX);
        let now = Instant::ZERO;
        let templates: Vec<[u8; HEADERS]> = (0..batch)
            .map(|i| header(Ipv4Addr::new(10, 10 + (i % routes) as u8, 0, 1)))
            .collect();
        // Resolve both gateways the way a real router does: a packet triggers a request, the
        // reply releases it.
        for (i, gw_mac) in GW_MAC.iter().enumerate() {
            let trigger = full_frame(&header(Ipv4Addr::new(10, 10 + i as u8, 0, 1)));
            let f = pool.alloc_from(&trigger).expect(expect);
            router.process_frame(now, IN, f, &mut pool, &mut out);
            let reply = arp_reply(mac(2), *gw_mac, Ipv4Addr::new(10, 1, 0, 2 + i as u8));
            let f = pool.alloc_from(&reply).expect(expect);
            router.process_frame(now, OUT, f, &mut pool, &mut out);
            for action in out.drain(..) {
                let (Action::Transmit { frame, .. }
                | Action::Deliver { frame, .. }
                | Action::Drop { frame, .. }) = action;
                pool.free(frame);
            }
        }
        let mut first_batch = Batch::new();
        for _ in 0..batch {
            // At most BATCH_MAX frames (`batch` is clamped).
            let _ = first_batch.push(pool.alloc_from(&[0; FRAME_LEN]).expect(expect));
        }
        ForwardRig {
            router,
            pool,
            out,
            batch: first_batch,
            templates,
            now,
            new_flows,
            flow: 0,
        }
    }

    /// Forward one batch; returns how many frames were transmitted.
    #[inline]
    pub fn round(&mut self) -> usize {
        for (frame, template) in self.batch.frames().iter().zip(&self.templates) {
            let h = &mut self.pool.data_mut(frame)[..HEADERS];
            h.copy_from_slice(template);
            if self.new_flows {
                // Sources 10.0.x.y over a /16 less the router's own address: 65,000 flows.
                self.flow = (self.flow + 1) % 65_000;
                let src = (10u32 << 24) | (self.flow + 2);
                h[ETH + 12..ETH + 16].copy_from_slice(&src.to_be_bytes());
                h[ETH + 10..ETH + 12].fill(0);
                let sum = !crate::wire::checksum::data(&h[ETH..]);
                h[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());
            }
        }
        self.router
            .process(self.now, IN, &mut self.batch, &mut self.pool, &mut self.out);
        // The transmitted frames make the next batch, as a NIC's transmit completions refill
        // its receive ring.
        let mut sent = 0;
        for action in self.out.drain(..) {
            match action {
                Action::Transmit { frame, .. } => {
                    sent += 1;
                    // The batch holds at most 64 and the rig never has more frames than that.
                    let _ = self.batch.push(frame);
                }
                Action::Deliver { frame, .. } | Action::Drop { frame, .. } => self.pool.free(frame),
            }
        }
        // Frames that did not come back (none, unless something dropped) are replaced.
        while self.batch.len() < self.templates.len() {
            let Some(f) = self.pool.alloc_from(&[0; FRAME_LEN]) else {
                break;
            };
            let _ = self.batch.push(f);
        }
        sent
    }

    /// The router, for its counters.
    pub fn router(&self) -> &Router {
        &self.router
    }
}

/// Ethernet + IPv4 header of a UDP packet from 10.0.0.2 to `dst`.
fn header(dst: Ipv4Addr) -> [u8; HEADERS] {
    let mut h = [0u8; HEADERS];
    let mut eth = ethernet::Frame::new_unchecked(&mut h[..]);
    eth.set_dst_addr(ROUTER_IN_MAC);
    eth.set_src_addr(PEER_MAC);
    eth.set_ethertype(ethernet::EtherType::Ipv4);
    let ip = ipv4::Repr {
        src_addr: Ipv4Addr::new(10, 0, 0, 2),
        dst_addr: dst,
        protocol: ipv4::Protocol::Udp,
        payload_len: FRAME_LEN - HEADERS,
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
    };
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut h[ETH..]));
    h
}

fn full_frame(header: &[u8; HEADERS]) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[..HEADERS].copy_from_slice(header);
    let mut u = udp::Packet::new_unchecked(&mut f[HEADERS..]);
    u.set_src_port(9);
    u.set_dst_port(9);
    u.set_len((FRAME_LEN - HEADERS) as u16);
    f
}

fn arp_reply(to: ethernet::Address, from: ethernet::Address, ip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    let mut eth = ethernet::Frame::new_unchecked(&mut f[..]);
    eth.set_dst_addr(to);
    eth.set_src_addr(from);
    eth.set_ethertype(ethernet::EtherType::Arp);
    let repr = arp::Repr {
        operation: arp::Operation::Reply,
        source_hardware_addr: from,
        source_protocol_addr: ip,
        target_hardware_addr: to,
        target_protocol_addr: Ipv4Addr::new(10, 1, 0, 1),
    };
    repr.emit(&mut arp::Packet::new_unchecked(&mut f[ETH..]));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_of_every_round_is_forwarded() {
        let mut rig = ForwardRig::new(10, 32);
        for _ in 0..100 {
            assert_eq!(rig.round(), 32);
        }
        let c = rig.router().counters();
        assert_eq!(c.forwarded, 3200 + 2, "plus the two that triggered ARP");
        assert_eq!(c.total_drops(), 0);
    }
}
