//! Ingress: Ethernet demultiplexing, ARP, IPv4 validation and the route decision, and local
//! delivery (echo, UDP, everything else).
//!
//! Validation follows RFC 1812 §5.2.2 in the order Linux's ip_rcv applies it; martian
//! addresses follow RFC 1812 §5.3.7 and Linux's ip_route_input_slow.

use std::net::Ipv4Addr;

use super::icmp::IcmpError;
use super::neigh::Queued;
use super::{Action, DropReason, Io, NextHop, RouteKind, Router};
use crate::frame::{Frame, Pool};
use crate::router::fib::FlowKey;
use crate::router::iface::IfaceId;
use crate::router::mark::Classifier;
use crate::time::Instant;
use crate::wire::{arp, checksum, ethernet, icmpv4, ipv4, udp};

const ETH: usize = ethernet::HEADER_LEN;

/// The fields of a validated IPv4 header the pipeline needs after the bytes are borrowed away.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ipv4Meta {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub header_len: usize,
    pub total_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub protocol: ipv4::Protocol,
    pub dont_frag: bool,
    pub frag_offset: u16,
    pub more_frags: bool,
    /// How it reached us; filled in by the caller of `parse`.
    pub cast: Cast,
}

impl Ipv4Meta {
    /// Validate the IPv4 packet after the Ethernet header of `frame` (RFC 1812 §5.2.2).
    #[inline]
    pub(crate) fn parse(frame: &[u8]) -> Result<Ipv4Meta, DropReason> {
        // Nearly every packet has a 20-byte header: check it as a fixed array, one bounds check.
        if let Some(h) = frame
            .get(ETH..ETH + ipv4::HEADER_LEN)
            .and_then(|h| <&[u8; 20]>::try_from(h).ok())
        {
            let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if h[0] == 0x45 && (ipv4::HEADER_LEN..=frame.len() - ETH).contains(&total_len) {
                if checksum::data_fixed(h) != 0xffff {
                    return Err(DropReason::Ipv4BadChecksum);
                }
                let flags = u16::from_be_bytes([h[6], h[7]]);
                return Ok(Ipv4Meta {
                    src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
                    dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
                    header_len: ipv4::HEADER_LEN,
                    total_len,
                    ttl: h[8],
                    tos: h[1],
                    protocol: ipv4::Protocol::from(h[9]),
                    dont_frag: flags & 0x4000 != 0,
                    frag_offset: (flags & 0x1fff) * 8,
                    more_frags: flags & 0x2000 != 0,
                    cast: Cast::default(),
                });
            }
        }
        Self::parse_general(frame)
    }

    /// Any header, options included, with the precise reason for a malformed one.
    fn parse_general(frame: &[u8]) -> Result<Ipv4Meta, DropReason> {
        let bytes = frame.get(ETH..).ok_or(DropReason::Ipv4Truncated)?;
        let ip = ipv4::Packet::new_checked(bytes).map_err(|e| match e {
            crate::wire::Error::BadVersion => DropReason::Ipv4BadVersion,
            crate::wire::Error::BadHeaderLen => DropReason::Ipv4BadHeaderLen,
            crate::wire::Error::BadTotalLen => DropReason::Ipv4BadTotalLen,
            _ => DropReason::Ipv4Truncated,
        })?;
        if !ip.verify_checksum() {
            return Err(DropReason::Ipv4BadChecksum);
        }
        Ok(Ipv4Meta {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            header_len: ip.header_len(),
            total_len: usize::from(ip.total_len()),
            ttl: ip.ttl(),
            tos: ip.tos(),
            protocol: ip.protocol(),
            dont_frag: ip.dont_frag(),
            frag_offset: ip.frag_offset(),
            more_frags: ip.more_frags(),
            cast: Cast::default(),
        })
    }

    pub(crate) fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }
}

/// Sources no packet may carry (RFC 1812 §5.3.7): this network (0/8), loopback (127/8),
/// multicast (224/4) and the limited broadcast.
#[inline]
pub(crate) fn is_martian_source(a: Ipv4Addr) -> bool {
    let a = u32::from(a);
    a >> 24 == 0 || a >> 24 == 127 || a >> 28 == 0xe || a == u32::MAX
}

/// Destinations Linux refuses to route: 0/8 and 127/8.
#[inline]
fn is_martian_destination(a: Ipv4Addr) -> bool {
    let a = u32::from(a);
    a >> 24 == 0 || a >> 24 == 127
}

/// Whether a packet reached us as a link-layer broadcast/multicast and as an IP broadcast; both
/// forbid ICMP errors about it (RFC 1812 §4.3.2.7).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cast {
    pub link_multicast: bool,
    pub ip_broadcast: bool,
}

impl Router {
    /// Everything a received frame goes through, first to last.
    #[inline]
    pub(crate) fn input(&mut self, now: Instant, id: IfaceId, frame: Frame, io: &mut Io<'_>) {
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
        match eth.ethertype() {
            ethernet::EtherType::Ipv4 => self.process_ipv4(now, id, frame, link_multicast, io),
            ethernet::EtherType::Arp => self.process_arp(now, id, frame, link_multicast, io),
            ethernet::EtherType::Vlan => self.drop_frame(io, frame, DropReason::VlanTagged),
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
        if is_martian_source(meta.src) || self.local_addrs.contains(&meta.src) {
            return self.drop_frame(io, frame, DropReason::MartianSource);
        }
        if meta.header_len > ipv4::HEADER_LEN
            && has_source_route(io.pool.data(&frame), meta.header_len)
        {
            return self.drop_frame(io, frame, DropReason::SourceRoute);
        }
        meta.cast.link_multicast = link_multicast;
        if meta.dst == Ipv4Addr::BROADCAST {
            meta.cast.ip_broadcast = true;
            return self.local_input(now, id, frame, meta, io);
        }
        if meta.dst.is_multicast() {
            return self.drop_frame(io, frame, DropReason::Multicast);
        }
        if is_martian_destination(meta.dst) {
            return self.drop_frame(io, frame, DropReason::MartianDestination);
        }
        let key = {
            let bytes = io.pool.data(&frame);
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
        };
        let Some(routed) = self.fib.route(&key) else {
            let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::NET);
            return self.icmp_error(now, Some(id), frame, &meta, err, DropReason::NoRoute, io);
        };
        let nh = *routed.nexthop;
        self.route_input(now, id, frame, meta, nh, io);
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
            RouteKind::Local => self.local_input(now, id, frame, meta, io),
            RouteKind::Broadcast => {
                let meta = Ipv4Meta {
                    cast: Cast {
                        ip_broadcast: true,
                        ..meta.cast
                    },
                    ..meta
                };
                self.local_input(now, id, frame, meta, io)
            }
            RouteKind::Blackhole => self.drop_frame(io, frame, DropReason::Blackhole),
            RouteKind::Unreachable => {
                let err = IcmpError::dst_unreachable(code::HOST);
                self.icmp_error(
                    now,
                    Some(id),
                    frame,
                    &meta,
                    err,
                    DropReason::Unreachable,
                    io,
                )
            }
            RouteKind::Prohibit => {
                let err = IcmpError::dst_unreachable(code::ADMIN_PROHIBITED);
                self.icmp_error(now, Some(id), frame, &meta, err, DropReason::Prohibited, io)
            }
            // The rule walk never returns a throw route.
            RouteKind::Throw => self.drop_frame(io, frame, DropReason::NoRoute),
        }
    }

    /// A packet addressed to this instance (or looped back from it).
    pub(crate) fn local_input(
        &mut self,
        now: Instant,
        id: IfaceId,
        frame: Frame,
        meta: Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        if meta.is_fragment() {
            return self.drop_frame(io, frame, DropReason::FragmentLocal);
        }
        let start = ETH + meta.header_len;
        match meta.protocol {
            ipv4::Protocol::Icmp => {
                let body = &io.pool.data(&frame)[start..];
                let Ok(icmp) = icmpv4::Packet::new_checked(body) else {
                    return self.drop_frame(io, frame, DropReason::IcmpMalformed);
                };
                if !icmp.verify_checksum() {
                    return self.drop_frame(io, frame, DropReason::IcmpMalformed);
                }
                match icmp.msg_type() {
                    icmpv4::Message::EchoRequest
                        if meta.cast.ip_broadcast || meta.cast.link_multicast =>
                    {
                        self.drop_frame(io, frame, DropReason::EchoBroadcast)
                    }
                    icmpv4::Message::EchoRequest => self.echo_reply(now, frame, &meta, io),
                    _ => self.deliver(id, frame, io),
                }
            }
            ipv4::Protocol::Udp => {
                let body = &io.pool.data(&frame)[start..];
                let dport = match udp::Packet::new_checked(body) {
                    Ok(u) if u.verify_checksum(meta.src, meta.dst) => u.dst_port(),
                    _ => return self.drop_frame(io, frame, DropReason::UdpMalformed),
                };
                if self.udp_ports.contains(&dport) {
                    return self.deliver(id, frame, io);
                }
                let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::PORT);
                self.icmp_error(
                    now,
                    Some(id),
                    frame,
                    &meta,
                    err,
                    DropReason::PortUnreachable,
                    io,
                )
            }
            // Linux answers TCP with a reset, never with ICMP; without a TCP stack we stay silent.
            ipv4::Protocol::Tcp => self.drop_frame(io, frame, DropReason::ProtocolUnreachable),
            _ => {
                let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::PROTOCOL);
                self.icmp_error(
                    now,
                    Some(id),
                    frame,
                    &meta,
                    err,
                    DropReason::ProtocolUnreachable,
                    io,
                )
            }
        }
    }

    fn deliver(&mut self, iface: IfaceId, frame: Frame, io: &mut Io<'_>) {
        self.counters.delivered += 1;
        io.out.push(Action::Deliver { iface, frame });
    }

    fn process_arp(
        &mut self,
        now: Instant,
        id: IfaceId,
        mut frame: Frame,
        link_multicast: bool,
        io: &mut Io<'_>,
    ) {
        let Some(repr) = parse_arp(io.pool.data(&frame)) else {
            return self.drop_frame(io, frame, DropReason::ArpMalformed);
        };
        let (sha, sip, tip) = (
            repr.source_hardware_addr,
            repr.source_protocol_addr,
            repr.target_protocol_addr,
        );
        // Linux's arp_ignore=0: answer for any local address, whichever interface asked.
        let for_us = self.local_addrs.contains(&tip);
        let known_sender = !sip.is_unspecified();
        match repr.operation {
            arp::Operation::Request if for_us => {
                if known_sender {
                    let waiting = self.neigh.learn(now, id, sip, sha, true);
                    self.release(id, sha, waiting, io);
                }
                let our_mac = self.ifaces[usize::from(id.0)].mac;
                let reply = arp::Repr {
                    operation: arp::Operation::Reply,
                    source_hardware_addr: our_mac,
                    source_protocol_addr: tip,
                    target_hardware_addr: sha,
                    target_protocol_addr: sip,
                };
                if frame.set_len(ETH + arp::ETHERNET_IPV4_LEN).is_err() {
                    return self.drop_frame(io, frame, DropReason::ArpMalformed);
                }
                let bytes = io.pool.data_mut(&frame);
                reply.emit(&mut arp::Packet::new_unchecked(&mut bytes[ETH..]));
                self.counters.arp_replies += 1;
                self.transmit(id, sha, ethernet::EtherType::Arp, frame, io);
            }
            arp::Operation::Reply if !link_multicast => {
                io.pool.free(frame);
                match self.neigh.confirm(now, id, sip, sha) {
                    Some(waiting) => self.release(id, sha, waiting, io),
                    None => self.counters.drops[DropReason::ArpUnsolicited as usize] += 1,
                }
            }
            _ => {
                // Someone else's request, or a broadcast (gratuitous) reply: refresh only.
                io.pool.free(frame);
                if known_sender {
                    let waiting = self.neigh.learn(now, id, sip, sha, false);
                    self.release(id, sha, waiting, io);
                }
            }
        }
    }

    /// Learn from an ARP frame another replica of this instance received on interface `id`
    /// (see [`Router::replica`]), as `process_arp` would, but without answering it and without
    /// counting it: a reply to us confirms the neighbour if this replica asked for it or knows
    /// it, a request for one of our addresses creates or updates the sender's entry, anything
    /// else refreshes an existing one. Frames that waited for the neighbour go out as actions.
    /// Malformed frames, and frames on an interface that is missing or down, are ignored.
    pub fn absorb_arp(
        &mut self,
        now: Instant,
        id: IfaceId,
        frame: &[u8],
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        let Some(repr) = parse_arp(frame) else {
            return;
        };
        if !self.ifaces.get(usize::from(id.0)).is_some_and(|i| i.up) {
            return;
        }
        let (sha, sip) = (repr.source_hardware_addr, repr.source_protocol_addr);
        let link_multicast = frame[0] & 1 != 0;
        let waiting = match repr.operation {
            arp::Operation::Reply if !link_multicast => self.neigh.confirm(now, id, sip, sha),
            _ if sip.is_unspecified() => None,
            op => {
                let for_us = self.local_addrs.contains(&repr.target_protocol_addr);
                let create = op == arp::Operation::Request && for_us;
                Some(self.neigh.learn(now, id, sip, sha, create))
            }
        };
        if let Some(waiting) = waiting {
            self.release(id, sha, waiting, &mut Io { pool, out });
        }
    }

    /// Send frames that waited for `mac`.
    fn release(
        &mut self,
        id: IfaceId,
        mac: ethernet::Address,
        waiting: Vec<Queued>,
        io: &mut Io<'_>,
    ) {
        for q in waiting {
            self.transmit(id, mac, ethernet::EtherType::Ipv4, q.frame, io);
        }
    }
}

/// The ARP packet of an Ethernet frame, if it is well formed and its addresses could be a
/// neighbour's: a unicast sender hardware address, a sender that is not multicast or limited
/// broadcast, a target that is not multicast or loopback.
fn parse_arp(frame: &[u8]) -> Option<arp::Repr> {
    let repr = frame
        .get(ETH..)
        .and_then(|b| arp::Packet::new_checked(b).ok())
        .and_then(|p| arp::Repr::parse(&p).ok())?;
    let (sip, tip) = (repr.source_protocol_addr, repr.target_protocol_addr);
    let bad = !repr.source_hardware_addr.is_unicast()
        || sip.is_multicast()
        || sip == Ipv4Addr::BROADCAST
        || tip.is_multicast()
        || tip.is_loopback();
    (!bad).then_some(repr)
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

/// True when the options of the IPv4 header in `frame` hold a loose or strict source route.
fn has_source_route(frame: &[u8], header_len: usize) -> bool {
    const LSRR: u8 = 131;
    const SSRR: u8 = 137;
    let Some(mut opts) = frame.get(ETH + ipv4::HEADER_LEN..ETH + header_len) else {
        return false;
    };
    while let [kind, rest @ ..] = opts {
        match *kind {
            0 => return false,
            1 => opts = rest,
            LSRR | SSRR => return true,
            _ => {
                let len = rest.first().map_or(0, |&l| usize::from(l));
                if len < 2 || len > opts.len() {
                    return false;
                }
                opts = &opts[len..];
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn martians() {
        for a in [
            [0, 1, 2, 3],
            [127, 0, 0, 1],
            [224, 0, 0, 5],
            [239, 1, 1, 1],
            [255, 255, 255, 255],
        ] {
            assert!(is_martian_source(Ipv4Addr::from(a)), "{a:?}");
        }
        for a in [
            [10, 0, 0, 1],
            [1, 1, 1, 1],
            [223, 255, 255, 255],
            [240, 0, 0, 1],
        ] {
            assert!(!is_martian_source(Ipv4Addr::from(a)), "{a:?}");
        }
        assert!(is_martian_destination(Ipv4Addr::new(127, 3, 3, 3)));
        assert!(!is_martian_destination(Ipv4Addr::new(10, 3, 3, 3)));
    }

    #[test]
    fn source_route_options_are_found_and_malformed_options_are_not() {
        let frame = |opts: &[u8]| {
            let mut f = vec![0u8; ETH + 20];
            f.extend_from_slice(opts);
            (f, 20 + opts.len())
        };
        let (f, hl) = frame(&[1, 131, 7, 4, 0, 0, 0, 0]);
        assert!(has_source_route(&f, hl));
        let (f, hl) = frame(&[7, 7, 4, 0, 0, 0, 0, 0]);
        assert!(!has_source_route(&f, hl));
        let (f, hl) = frame(&[7, 0, 0, 0]);
        assert!(!has_source_route(&f, hl));
        let (f, hl) = frame(&[7, 200, 0, 0]);
        assert!(!has_source_route(&f, hl));
    }

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
