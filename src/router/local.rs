//! Local delivery: what a Linux router's own stack does with a datagram addressed to it, for
//! the protocols the instance serves (RFC 1122 §3.2.2, §4.1.3, §4.2.2.13; Linux's icmp_rcv,
//! __udp4_lib_rcv, tcp_v4_rcv, ip_protocol_deliver_rcu).
//!
//! - ICMP: a checksum and at least 8 bytes, else dropped. Echo and timestamp requests are
//!   answered (not when sent to an IP broadcast or multicast address: Linux's
//!   icmp_echo_ignore_broadcasts); everything else goes to the application.
//! - UDP and UDP-Lite: length and checksum checked; a port the application listens on gets
//!   the datagram, any other port unreachable — quoting the datagram cut to its UDP length,
//!   as Linux quotes it.
//! - TCP: the instance has no TCP stack and listens on nothing, so a valid segment is answered
//!   with a reset as Linux answers a closed port (RFC 9293 §3.10.7.1), from the address it was
//!   sent to, DF set, identification 0; a reset is never answered, nor a segment to a
//!   broadcast address or received as a link-layer broadcast.
//! - IGMP: taken in silently (there is no multicast membership to update).
//! - Anything else: protocol unreachable.

use super::icmp::{IcmpError, write_header};
use super::meta::Ipv4Meta;
use super::reasm::First;
use super::{Action, DropReason, Io, Router};
use crate::frame::{Frame, HEADROOM, MAX_DATA};
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{checksum, ethernet, icmpv4, ipv4, udp};

const ETH: usize = ethernet::HEADER_LEN;
const UDPLITE: u8 = 136;
const IGMP: u8 = 2;

/// TCP header flags.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

impl Router {
    /// A whole datagram addressed to this instance (or looped back from it).
    pub(crate) fn deliver_local(
        &mut self,
        now: Instant,
        id: IfaceId,
        frame: Frame,
        mut meta: Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        let start = ETH + meta.header_len;
        let end = ETH + meta.total_len;
        match meta.protocol {
            ipv4::Protocol::Icmp => {
                let body = &io.pool.data(&frame)[start..end];
                let Ok(icmp) = icmpv4::Packet::new_checked(body) else {
                    return self.drop_frame(io, frame, DropReason::IcmpMalformed);
                };
                if checksum::data(body) != 0xffff {
                    return self.drop_frame(io, frame, DropReason::IcmpMalformed);
                }
                let to_group = meta.cast.ip_broadcast || meta.dst.is_multicast();
                match icmp.msg_type() {
                    icmpv4::Message::EchoRequest | icmpv4::Message::Timestamp if to_group => {
                        self.drop_frame(io, frame, DropReason::EchoBroadcast)
                    }
                    icmpv4::Message::EchoRequest => self.echo_reply(now, frame, &meta, io),
                    icmpv4::Message::Timestamp => self.timestamp_reply(now, frame, &meta, io),
                    _ => self.deliver(id, frame, io),
                }
            }
            ipv4::Protocol::Udp => {
                let Some((dport, len)) = udp_check(&io.pool.data(&frame)[start..end], &meta, false)
                else {
                    return self.drop_frame(io, frame, DropReason::UdpMalformed);
                };
                if self.udp_ports.contains(&dport) {
                    return self.deliver(id, frame, io);
                }
                // Linux has trimmed the datagram to its UDP length by now: that is what the
                // error quotes.
                meta.quote_len = meta.header_len + len;
                self.port_unreachable(now, frame, &meta, io);
            }
            ipv4::Protocol::Unknown(UDPLITE) => {
                if udp_check(&io.pool.data(&frame)[start..end], &meta, true).is_none() {
                    return self.drop_frame(io, frame, DropReason::UdpMalformed);
                }
                self.port_unreachable(now, frame, &meta, io);
            }
            ipv4::Protocol::Tcp => match tcp_check(&io.pool.data(&frame)[start..end], &meta) {
                Some(seg) => self.tcp_reset(now, frame, &meta, seg, io),
                None => self.drop_frame(io, frame, DropReason::TcpMalformed),
            },
            ipv4::Protocol::Unknown(IGMP) => self.drop_frame(io, frame, DropReason::Igmp),
            _ => {
                let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::PROTOCOL);
                let reason = DropReason::ProtocolUnreachable;
                self.icmp_error(now, frame, &meta, err, reason, io)
            }
        }
    }

    fn port_unreachable(&mut self, now: Instant, frame: Frame, meta: &Ipv4Meta, io: &mut Io<'_>) {
        let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::PORT);
        self.icmp_error(now, frame, meta, err, DropReason::PortUnreachable, io)
    }

    pub(crate) fn deliver(&mut self, iface: IfaceId, frame: Frame, io: &mut Io<'_>) {
        self.counters.delivered += 1;
        io.out.push(Action::Deliver { iface, frame });
    }

    /// A reassembled datagram too large for a frame: checked whole, answered from its first
    /// bytes (which `frame` then holds); one the application would get is dropped, as it
    /// takes datagrams of a frame at most.
    pub(crate) fn deliver_large(
        &mut self,
        now: Instant,
        mut frame: Frame,
        datagram: Vec<u8>,
        first: First,
        io: &mut Io<'_>,
    ) {
        let mut meta = first.meta;
        let body = &datagram[meta.header_len..];
        let to_group = meta.cast.ip_broadcast || meta.dst.is_multicast();
        // What is left to do needs only the datagram's first bytes.
        let prefix = |frame: &mut Frame, io: &mut Io<'_>| {
            let n = (ETH + datagram.len()).min(MAX_DATA);
            if frame.reset_head(HEADROOM).is_err() || frame.set_len(n).is_err() {
                return false;
            }
            let bytes = io.pool.data_mut(frame);
            bytes[..ETH].copy_from_slice(&first.eth);
            bytes[ETH..].copy_from_slice(&datagram[..n - ETH]);
            true
        };
        match meta.protocol {
            ipv4::Protocol::Icmp => {
                if body.len() < icmpv4::HEADER_LEN || checksum::data(body) != 0xffff {
                    return self.drop_frame(io, frame, DropReason::IcmpMalformed);
                }
                match icmpv4::Message::from(body[0]) {
                    icmpv4::Message::EchoRequest | icmpv4::Message::Timestamp if to_group => {
                        self.drop_frame(io, frame, DropReason::EchoBroadcast)
                    }
                    icmpv4::Message::EchoRequest => {
                        self.echo_reply_large(now, frame, &datagram, &meta, io)
                    }
                    icmpv4::Message::Timestamp if prefix(&mut frame, io) => {
                        self.timestamp_reply(now, frame, &meta, io)
                    }
                    _ => self.drop_frame(io, frame, DropReason::TooBigToDeliver),
                }
            }
            ipv4::Protocol::Udp | ipv4::Protocol::Unknown(UDPLITE) => {
                let lite = meta.protocol != ipv4::Protocol::Udp;
                let Some((dport, len)) = udp_check(body, &meta, lite) else {
                    return self.drop_frame(io, frame, DropReason::UdpMalformed);
                };
                if !lite && self.udp_ports.contains(&dport) {
                    return self.drop_frame(io, frame, DropReason::TooBigToDeliver);
                }
                meta.quote_len = meta.header_len + len;
                if !prefix(&mut frame, io) {
                    return self.drop_frame(io, frame, DropReason::TooBigToDeliver);
                }
                self.port_unreachable(now, frame, &meta, io);
            }
            ipv4::Protocol::Tcp => match tcp_check(body, &meta) {
                Some(seg) if prefix(&mut frame, io) => self.tcp_reset(now, frame, &meta, seg, io),
                _ => self.drop_frame(io, frame, DropReason::TcpMalformed),
            },
            ipv4::Protocol::Unknown(IGMP) => self.drop_frame(io, frame, DropReason::Igmp),
            _ if prefix(&mut frame, io) => {
                let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::PROTOCOL);
                let reason = DropReason::ProtocolUnreachable;
                self.icmp_error(now, frame, &meta, err, reason, io)
            }
            _ => self.drop_frame(io, frame, DropReason::TooBigToDeliver),
        }
    }

    /// Answer a checked TCP segment with a reset, as Linux's tcp_v4_send_reset answers one for
    /// a port nobody listens on.
    fn tcp_reset(
        &mut self,
        now: Instant,
        mut frame: Frame,
        meta: &Ipv4Meta,
        seg: Segment,
        io: &mut Io<'_>,
    ) {
        if meta.cast.link_multicast || !meta.local || seg.flags & RST != 0 {
            return self.drop_frame(io, frame, DropReason::TcpNoListener);
        }
        let header = &io.pool.data(&frame)[ETH..ETH + meta.header_len];
        let Some((opts, dopt)) = self.answer_options(header, meta) else {
            return self.drop_frame(io, frame, DropReason::TcpNoListener);
        };
        let route = match self.route_out(meta.src, meta.tos & 0x1e, Some(meta.dst)) {
            Ok(r) => r,
            Err(reason) => return self.drop_frame(io, frame, reason),
        };
        let mut rst = [0u8; 20];
        rst[..2].copy_from_slice(&seg.dport.to_be_bytes());
        rst[2..4].copy_from_slice(&seg.sport.to_be_bytes());
        rst[12] = 5 << 4;
        if seg.flags & ACK != 0 {
            rst[4..8].copy_from_slice(&seg.ack.to_be_bytes());
            rst[13] = RST;
        } else {
            let syn_fin = u32::from(seg.flags & SYN != 0) + u32::from(seg.flags & FIN != 0);
            let ack = seg.seq.wrapping_add(syn_fin).wrapping_add(seg.data_len);
            rst[8..12].copy_from_slice(&ack.to_be_bytes());
            rst[13] = RST | ACK;
        }
        let sum = !checksum::combine(&[
            checksum::pseudo_header(meta.dst, meta.src, 6, 20),
            checksum::data(&rst),
        ]);
        rst[16..18].copy_from_slice(&sum.to_be_bytes());

        let ip_len = ipv4::HEADER_LEN + usize::from(dopt.optlen);
        let moved = if ip_len <= meta.header_len {
            frame.pull_head(meta.header_len - ip_len)
        } else {
            frame.push_head(ip_len - meta.header_len)
        };
        if moved.is_err() || frame.set_len(ETH + ip_len + 20).is_err() {
            return self.drop_frame(io, frame, DropReason::TcpNoListener);
        }
        self.counters.drops[DropReason::TcpNoListener as usize] += 1;
        let bytes = io.pool.data_mut(&frame);
        let ip = ipv4::Repr {
            src_addr: route.src,
            dst_addr: meta.src,
            protocol: ipv4::Protocol::Tcp,
            payload_len: 20,
            ttl: self.config.default_ttl,
            tos: meta.tos & !0x03,
            ident: 0,
            dont_frag: true,
        };
        write_header(
            &mut bytes[ETH..ETH + ip_len],
            &ip,
            &opts,
            &dopt,
            meta.src,
            now,
        );
        bytes[ETH + ip_len..ETH + ip_len + 20].copy_from_slice(&rst);
        self.counters.tcp_resets += 1;
        self.send_routed(now, frame, &route, io);
    }
}

/// What a reset needs of a TCP segment.
#[derive(Debug, Clone, Copy)]
struct Segment {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    data_len: u32,
}

/// Check a TCP segment as tcp_v4_rcv does (a whole header, a data offset within it, the
/// checksum).
fn tcp_check(seg: &[u8], meta: &Ipv4Meta) -> Option<Segment> {
    let th = seg.first_chunk::<20>()?;
    let doff = usize::from(th[12] >> 4) * 4;
    if doff < 20 || doff > seg.len() || !transport_checksum_ok(seg, meta, 6) {
        return None;
    }
    let word = |i: usize| u32::from_be_bytes([th[i], th[i + 1], th[i + 2], th[i + 3]]);
    Some(Segment {
        sport: u16::from_be_bytes([th[0], th[1]]),
        dport: u16::from_be_bytes([th[2], th[3]]),
        seq: word(4),
        ack: word(8),
        flags: th[13],
        data_len: (seg.len() - doff) as u32,
    })
}

/// Check a UDP (or UDP-Lite) datagram as Linux's __udp4_lib_rcv does; its destination port and
/// UDP length.
fn udp_check(body: &[u8], meta: &Ipv4Meta, lite: bool) -> Option<(u16, usize)> {
    let h = body.first_chunk::<{ udp::HEADER_LEN }>()?;
    let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let sum = u16::from_be_bytes([h[6], h[7]]);
    let dport = u16::from_be_bytes([h[2], h[3]]);
    if lite {
        // The length field is the checksum coverage; 0 means all, and a checksum is required.
        let cover = if ulen == 0 { body.len() } else { ulen };
        if cover < udp::HEADER_LEN || cover > body.len() || sum == 0 {
            return None;
        }
        let ok = checksum::combine(&[
            checksum::pseudo_header(meta.src, meta.dst, UDPLITE, body.len() as u16),
            checksum::data(&body[..cover]),
        ]) == 0xffff;
        return ok.then_some((dport, body.len()));
    }
    if ulen > body.len() || ulen < udp::HEADER_LEN {
        return None;
    }
    if sum != 0 && !transport_checksum_ok(&body[..ulen], meta, 17) {
        return None;
    }
    Some((dport, ulen))
}

/// The transport checksum of `seg` over the pseudo header verifies.
fn transport_checksum_ok(seg: &[u8], meta: &Ipv4Meta, proto: u8) -> bool {
    checksum::combine(&[
        checksum::pseudo_header(meta.src, meta.dst, proto, seg.len() as u16),
        checksum::data(seg),
    ]) == 0xffff
}
