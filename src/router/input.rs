//! Ingress: Ethernet demultiplexing (802.1Q priority tags included), IPv4 validation, the
//! route decision, options, and the hand-over to forwarding or local delivery.
//!
//! Validation follows RFC 1812 §5.2.2 in the order Linux's ip_rcv applies it; martian
//! addresses follow Linux's ip_route_input_slow; options are compiled after the route is known
//! (ip_rcv_finish_core), so a malformed option is answered with a parameter problem whether the
//! packet was to be forwarded or delivered, and a source-routed packet is dropped
//! (accept_source_route=0).

use std::net::Ipv4Addr;

use super::fib::FlowKey;
use super::icmp::IcmpError;
use super::mark::Classifier;
use super::meta::{Ipv4Meta, is_martian_destination, is_martian_source};
use super::options::{self, Compiled};
use super::{DropReason, Io, NextHop, RouteKind, Router};
use crate::frame::Frame;
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{ethernet, icmpv4, ipv4};

const ETH: usize = ethernet::HEADER_LEN;
const VLAN_TPIDS: [u16; 2] = [0x8100, 0x88a8];

/// What the route lookup made of a received packet.
#[derive(Debug, Clone, Copy)]
enum Decision {
    /// No route: network unreachable.
    NoRoute,
    /// A route (or the limited broadcast, as a broadcast route).
    Route(NextHop),
}

/// What [`options::compile`] needs from the router for one packet.
struct OptionsContext<'r> {
    router: &'r Router,
    meta: Ipv4Meta,
    ingress: IfaceId,
    now: Instant,
}

impl options::Context for OptionsContext<'_> {
    fn spec_dst(&mut self) -> Ipv4Addr {
        self.router.spec_dst(&self.meta, Some(self.ingress))
    }
    fn not_unicast(&self, a: Ipv4Addr) -> bool {
        self.router.not_unicast(a)
    }
    fn now(&self) -> Instant {
        self.now
    }
}

impl Router {
    /// Everything a received frame goes through, first to last.
    #[inline]
    pub(crate) fn input(
        &mut self,
        now: Instant,
        mut id: IfaceId,
        mut frame: Frame,
        io: &mut Io<'_>,
    ) {
        self.counters.rx_frames += 1;
        let Some(iface) = self.ifaces.get_mut(usize::from(id.0)).filter(|i| i.up) else {
            return self.drop_frame(io, frame, DropReason::IfaceDown);
        };
        iface.counters.rx_frames += 1;
        iface.counters.rx_bytes += frame.len() as u64;
        let our_mac = iface.mac;
        let Ok(eth) = ethernet::Frame::new_checked(io.pool.data(&frame)) else {
            return self.drop_frame(io, frame, DropReason::EthernetTruncated);
        };
        let dst = eth.dst_addr();
        let link_multicast = dst.is_multicast();
        if !link_multicast && dst != our_mac {
            return self.drop_frame(io, frame, DropReason::OtherHost);
        }
        let mut ethertype = eth.ethertype();
        // Priority-tagged frames (802.1Q/802.1ad with VLAN ID 0, RFC-less but IEEE 802.1Q
        // §9.6) are untagged ones to Linux: the tag goes, the frame goes on.
        while ethertype == ethernet::EtherType::Vlan
            || ethertype == ethernet::EtherType::Unknown(VLAN_TPIDS[1])
        {
            let tag = io.pool.data(&frame).get(12..18).map(|t| {
                (
                    u16::from_be_bytes([t[2], t[3]]),
                    u16::from_be_bytes([t[4], t[5]]),
                )
            });
            match tag {
                Some((tci, inner)) if tci & 0x0fff == 0 => {
                    io.pool.copy_within(&frame, 0..12, 4);
                    if frame.pull_head(4).is_err() {
                        return self.drop_frame(io, frame, DropReason::EthernetTruncated);
                    }
                    ethertype = ethernet::EtherType::from(inner);
                }
                Some((tci, inner)) => {
                    // A VLAN sub-interface of this one takes the frame, untagged (Linux's
                    // vlan_do_receive).
                    let vid = tci & 0x0fff;
                    let sub = self
                        .ifaces
                        .iter()
                        .position(|f| f.vlan == Some((id, vid)) && f.up);
                    let Some(sub) = sub else {
                        return self.drop_frame(io, frame, DropReason::VlanTagged);
                    };
                    io.pool.copy_within(&frame, 0..12, 4);
                    if frame.pull_head(4).is_err() {
                        return self.drop_frame(io, frame, DropReason::EthernetTruncated);
                    }
                    id = IfaceId(sub as u16);
                    let f = &mut self.ifaces[sub];
                    f.counters.rx_frames += 1;
                    f.counters.rx_bytes += frame.len() as u64;
                    ethertype = ethernet::EtherType::from(inner);
                }
                None => return self.drop_frame(io, frame, DropReason::VlanTagged),
            }
        }
        match ethertype {
            ethernet::EtherType::Ipv4 => self.process_ipv4(now, id, frame, link_multicast, io),
            ethernet::EtherType::Arp => self.process_arp(now, id, frame, link_multicast, io),
            _ => self.drop_frame(io, frame, DropReason::UnsupportedEtherType),
        }
    }

    fn process_ipv4(
        &mut self,
        now: Instant,
        id: IfaceId,
        mut frame: Frame,
        link_multicast: bool,
        io: &mut Io<'_>,
    ) {
        let mut meta = match Ipv4Meta::parse(io.pool.data(&frame)) {
            Ok(m) => m,
            Err(reason) => return self.drop_frame(io, frame, reason),
        };
        // Ethernet pads short frames; the IP total length is the truth.
        frame.truncate(ETH + meta.total_len);
        meta.cast.link_multicast = link_multicast;
        // ip_route_input_slow, in its order.
        if meta.src.is_multicast() || meta.src == Ipv4Addr::BROADCAST {
            return self.drop_frame(io, frame, DropReason::MartianSource);
        }
        let decision = if meta.dst == Ipv4Addr::BROADCAST
            || (meta.src.is_unspecified() && meta.dst.is_unspecified())
        {
            Decision::Route(NextHop::of_kind(RouteKind::Broadcast))
        } else {
            if is_martian_source(meta.src) || self.local_addrs.contains(&meta.src) {
                return self.drop_frame(io, frame, DropReason::MartianSource);
            }
            if meta.dst.is_multicast() {
                return self.drop_frame(io, frame, DropReason::Multicast);
            }
            if is_martian_destination(meta.dst) {
                return self.drop_frame(io, frame, DropReason::MartianDestination);
            }
            match self.fib.route(&self.key(id, &frame, &meta, io)) {
                Some(routed) => Decision::Route(*routed.nexthop),
                None => Decision::NoRoute,
            }
        };
        if let Decision::Route(nh) = decision {
            meta.local = nh.kind == RouteKind::Local;
            meta.cast.ip_broadcast = nh.kind == RouteKind::Broadcast;
        }
        if meta.header_len > ipv4::HEADER_LEN {
            match self.compile_options(now, id, &frame, &meta, io) {
                Ok(opts) => meta.opts = opts,
                Err((pointer, partial)) => {
                    meta.opts = partial;
                    let err = IcmpError::parameter_problem(pointer);
                    let reason = DropReason::BadOptions;
                    return self.icmp_error(now, frame, &meta, err, reason, io);
                }
            }
            if meta.opts.srr != 0 {
                return self.drop_frame(io, frame, DropReason::SourceRoute);
            }
        }
        match decision {
            Decision::NoRoute => {
                let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::NET);
                self.route_error(now, frame, &meta, err, DropReason::NoRoute, io)
            }
            Decision::Route(nh) => self.route_input(now, id, frame, meta, nh, io),
        }
    }

    /// The routing key of a received packet (see [`flow_key`]).
    fn key(&self, id: IfaceId, frame: &Frame, meta: &Ipv4Meta, io: &Io<'_>) -> FlowKey {
        let bytes = io.pool.data(frame);
        let l4 = ETH + meta.header_len;
        let first = meta.frag_offset == 0;
        let header = bytes
            .get(ETH..ETH + 20)
            .and_then(|h| <[u8; 20]>::try_from(h).ok());
        // Marks only matter to rules: with Linux's defaults the classifier need not run.
        let marks = if self.fib.walks_rules() {
            &self.marks
        } else {
            &Classifier::EMPTY
        };
        match header {
            Some(h) => flow_key(id, &h, bytes.get(l4..).filter(|_| first), marks),
            None => FlowKey::to(meta.dst),
        }
    }

    /// Compile the options of the packet in `frame` (in place: Linux fills them in as it
    /// checks them).
    fn compile_options(
        &self,
        now: Instant,
        id: IfaceId,
        frame: &Frame,
        meta: &Ipv4Meta,
        io: &mut Io<'_>,
    ) -> Result<Compiled, (u8, Compiled)> {
        let mut ctx = OptionsContext {
            router: self,
            meta: *meta,
            ingress: id,
            now,
        };
        let header = &mut io.pool.data_mut(frame)[ETH..ETH + meta.header_len];
        options::compile(header, &mut ctx)
    }

    /// Act on the route chosen for a received packet.
    #[inline]
    fn route_input(
        &mut self,
        now: Instant,
        id: IfaceId,
        frame: Frame,
        meta: Ipv4Meta,
        nh: NextHop,
        io: &mut Io<'_>,
    ) {
        use icmpv4::dst_unreachable as code;
        match nh.kind {
            RouteKind::Unicast if self.config.forwarding => {
                self.forward(now, id, frame, &meta, nh, io)
            }
            RouteKind::Unicast => self.drop_frame(io, frame, DropReason::NotForwarding),
            RouteKind::Local | RouteKind::Broadcast => self.local_input(now, id, frame, meta, io),
            RouteKind::Blackhole => self.drop_frame(io, frame, DropReason::Blackhole),
            RouteKind::Unreachable => {
                let err = IcmpError::dst_unreachable(code::HOST);
                self.route_error(now, frame, &meta, err, DropReason::Unreachable, io)
            }
            RouteKind::Prohibit => {
                let err = IcmpError::dst_unreachable(code::ADMIN_PROHIBITED);
                self.route_error(now, frame, &meta, err, DropReason::Prohibited, io)
            }
            // The rule walk never returns a throw route.
            RouteKind::Throw => self.drop_frame(io, frame, DropReason::NoRoute),
        }
    }

    /// A packet addressed to this instance (or looped back from it): fragments are held for
    /// reassembly, whole datagrams delivered.
    pub(crate) fn local_input(
        &mut self,
        now: Instant,
        id: IfaceId,
        frame: Frame,
        meta: Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        if meta.is_fragment() {
            return self.reassemble(now, id, frame, meta, io);
        }
        self.deliver_local(now, id, frame, meta, io);
    }
}

/// The routing key of a received packet: addresses, TOS and protocol from its IPv4 header, the
/// ports from `l4` (the bytes after the header of a first or only fragment; ports count for TCP,
/// UDP, SCTP and UDP-Lite), the ingress, and the mark `marks` gives it.
#[inline]
pub(crate) fn flow_key(
    iif: IfaceId,
    ip: &[u8; 20],
    l4: Option<&[u8]>,
    marks: &Classifier,
) -> FlowKey {
    let proto = ip[9];
    let mut key = FlowKey {
        src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        tos: ip[1],
        iif: Some(iif),
        oif: None,
        mark: 0,
        proto,
        sport: 0,
        dport: 0,
    };
    if matches!(proto, 6 | 17 | 132 | 136)
        && let Some(p) = l4.and_then(|b| b.get(..4))
    {
        key.sport = u16::from_be_bytes([p[0], p[1]]);
        key.dport = u16::from_be_bytes([p[2], p[3]]);
    }
    if !marks.is_empty() {
        key.mark = marks.classify(&key);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Pool;
    use crate::router::Action;
    use crate::wire::arp;

    const OURS: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 1]);
    const PEER: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 9]);

    fn arp_frame(
        op: arp::Operation,
        dst: ethernet::Address,
        sip: [u8; 4],
        tip: [u8; 4],
    ) -> Vec<u8> {
        let mut f = vec![0u8; ETH + arp::ETHERNET_IPV4_LEN];
        let mut eth = ethernet::Frame::new_unchecked(&mut f[..]);
        eth.set_dst_addr(dst);
        eth.set_src_addr(PEER);
        eth.set_ethertype(ethernet::EtherType::Arp);
        arp::Repr {
            operation: op,
            source_hardware_addr: PEER,
            source_protocol_addr: Ipv4Addr::from(sip),
            target_hardware_addr: dst,
            target_protocol_addr: Ipv4Addr::from(tip),
        }
        .emit(&mut arp::Packet::new_unchecked(&mut f[ETH..]));
        f
    }

    fn udp_to(dst: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; ETH + 20 + 8];
        let mut eth = ethernet::Frame::new_unchecked(&mut f[..]);
        eth.set_dst_addr(OURS);
        eth.set_src_addr(PEER);
        eth.set_ethertype(ethernet::EtherType::Ipv4);
        ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 2),
            dst_addr: Ipv4Addr::from(dst),
            protocol: ipv4::Protocol::Udp,
            payload_len: 8,
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: true,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut f[ETH..]));
        f
    }

    /// A replica routes like the original from fresh state, and learns through `absorb_arp`
    /// what a sibling received: the reply to its own request releases the frame that waited,
    /// without counting the reply; nobody answers a request twice.
    #[test]
    fn replicas_learn_each_others_arp_replies() {
        use crate::router::{Config, Counters, IfAddr};
        let mut original = Router::new(Config::default());
        for (i, name) in ["eth0", "eth1"].into_iter().enumerate() {
            let id = original.add_iface(name, OURS, 1500).unwrap();
            let addr = IfAddr::new(Ipv4Addr::new(10, i as u8, 0, 1), 24).unwrap();
            original.add_addr(id, addr).unwrap();
        }
        original.add_route_str("10.7.0.0/16 via 10.1.0.9").unwrap();
        let mut pool = Pool::new(64).unwrap();
        let mut out = Vec::new();
        let now = Instant::ZERO;
        let mut a = original.replica();
        let mut b = original.replica();
        assert_eq!(a.counters(), &Counters::default());

        // `a` forwards towards the gateway and asks for its address.
        let mut batch = crate::frame::Batch::new();
        batch
            .push(pool.alloc_from(&udp_to([10, 7, 1, 1])).unwrap())
            .unwrap();
        a.process(now, IfaceId(0), &mut batch, &mut pool, &mut out);
        assert!(
            matches!(&out[..], [Action::Transmit { iface: IfaceId(1), frame }]
                if pool.data(frame)[12..14] == [8, 6])
        );
        for action in out.drain(..) {
            if let Action::Transmit { frame, .. } = action {
                pool.free(frame);
            }
        }
        // The reply reaches `b`, which did not ask: unsolicited there, absorbed by `a`.
        let reply = arp_frame(arp::Operation::Reply, OURS, [10, 1, 0, 9], [10, 1, 0, 1]);
        batch.push(pool.alloc_from(&reply).unwrap()).unwrap();
        b.process(now, IfaceId(1), &mut batch, &mut pool, &mut out);
        assert!(out.is_empty());
        assert_eq!(b.counters().dropped(DropReason::ArpUnsolicited), 1);
        let before = a.counters().clone();
        a.absorb_arp(now, IfaceId(1), &reply, &mut pool, &mut out);
        let [
            Action::Transmit {
                iface: IfaceId(1),
                frame,
            },
        ] = &out[..]
        else {
            panic!("{out:?}");
        };
        assert_eq!(pool.data(frame)[..6], PEER.0);
        assert_eq!(a.counters().rx_frames, before.rx_frames);
        assert_eq!(a.counters().total_drops(), before.total_drops());
        out.clear();

        // A request for our address creates the sender's entry in a sibling, unanswered; a
        // reply nobody asked for, or one on a missing interface, creates nothing.
        let mut c = original.replica();
        let request = arp_frame(
            arp::Operation::Request,
            ethernet::Address::BROADCAST,
            [10, 0, 0, 5],
            [10, 0, 0, 1],
        );
        c.absorb_arp(now, IfaceId(0), &request, &mut pool, &mut out);
        c.absorb_arp(now, IfaceId(1), &reply, &mut pool, &mut out);
        c.absorb_arp(now, IfaceId(5), &request, &mut pool, &mut out);
        c.absorb_arp(now, IfaceId(0), &reply[..20], &mut pool, &mut out);
        assert!(out.is_empty());
        assert_eq!(c.neighbours().len(), 1);
        assert_eq!(c.counters(), &Counters::default());
    }
}
