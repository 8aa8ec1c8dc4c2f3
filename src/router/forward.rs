//! Forwarding (RFC 1812 §5.2–5.3) and fragmentation (RFC 791 §3.2, RFC 1812 §4.2.2.7).
//!
//! The order of checks is Linux's ip_forward: link-layer broadcasts are not forwarded, the TTL
//! is checked before the MTU, DF with a too-large packet is answered with "fragmentation needed"
//! carrying the next-hop MTU (RFC 1191), and only then is the TTL decremented (with an
//! incremental checksum update), Record Route given the egress address, and the packet
//! fragmented if it must be. Fragments are cut as Linux's ip_do_fragment cuts them: every one
//! keeps the whole header length, the options that are not copied into fragments becoming No
//! Operation after the first; payloads are the largest multiple of 8 that fits.

use std::net::Ipv4Addr;

use super::fib::FlowKey;
use super::icmp::IcmpError;
use super::meta::Ipv4Meta;
use super::{DropReason, Io, NextHop, RouteKind, Router, options};
use crate::frame::{FRAME_SIZE, Frame};
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{ethernet, icmpv4, ipv4};

const ETH: usize = ethernet::HEADER_LEN;

impl Router {
    /// Forward a validated packet along `nh` (a unicast route).
    #[inline]
    pub(crate) fn forward(
        &mut self,
        now: Instant,
        ingress: IfaceId,
        mut frame: Frame,
        meta: &Ipv4Meta,
        nh: NextHop,
        io: &mut Io<'_>,
    ) {
        if meta.cast.link_multicast {
            return self.drop_frame(io, frame, DropReason::LinkBroadcast);
        }
        if meta.ttl <= 1 {
            let err = IcmpError::time_exceeded(icmpv4::time_exceeded::TTL);
            let reason = DropReason::TtlExceeded;
            return self.icmp_error(now, frame, meta, err, reason, io);
        }
        let Some(egress) = nh.dev.filter(|d| usize::from(d.0) < self.ifaces.len()) else {
            return self.drop_frame(io, frame, DropReason::NoRoute);
        };
        let out = &self.ifaces[usize::from(egress.0)];
        if !out.up {
            return self.drop_frame(io, frame, DropReason::EgressDown);
        }
        let mtu = out.mtu;
        if meta.total_len > usize::from(mtu) && meta.dont_frag {
            let err = IcmpError::frag_needed(mtu);
            let reason = DropReason::FragNeeded;
            return self.icmp_error(now, frame, meta, err, reason, io);
        }
        let next_hop = nh.gateway.unwrap_or(meta.dst);
        let egress_addr = (meta.opts.optlen != 0)
            .then(|| nh.src.or_else(|| out.select_addr(next_hop)))
            .flatten();
        let bytes = io.pool.data_mut(&frame);
        let header = &mut bytes[ETH..ETH + meta.header_len];
        let mut ip = ipv4::Packet::new_unchecked(&mut header[..]);
        ip.decrement_ttl();
        if egress == ingress && self.config.send_redirects && meta.opts.srr == 0 {
            self.redirect(now, ingress, &frame, meta, next_hop, io);
        }
        let header = &mut io.pool.data_mut(&frame)[ETH..ETH + meta.header_len];
        if let Some(addr) = egress_addr
            && options::forward(header, &meta.opts, addr)
        {
            ipv4::Packet::new_unchecked(&mut header[..]).fill_checksum();
        }
        self.counters.forwarded += 1;
        if meta.total_len > usize::from(mtu) {
            frame.truncate(ETH + meta.total_len);
            return self.fragment(now, Some(ingress), egress, next_hop, frame, io);
        }
        self.dispatch(now, Some(ingress), egress, next_hop, frame, io);
    }

    /// A packet leaves by the interface it came in on: if its sender is on that link, tell it
    /// the better next hop (ICMP host redirect, RFC 1812 §4.3.3.2, as Linux's
    /// ip_rt_send_redirect: backed off per sender, quoting the packet with its TTL already
    /// decremented). The packet itself is forwarded all the same.
    fn redirect(
        &mut self,
        now: Instant,
        ingress: IfaceId,
        frame: &Frame,
        meta: &Ipv4Meta,
        gateway: Ipv4Addr,
        io: &mut Io<'_>,
    ) {
        // The sender's route must be the link itself (__fib_validate_source: a next hop on
        // the ingress device without a gateway).
        let back = FlowKey {
            src: meta.dst,
            tos: meta.tos,
            iif: Some(ingress),
            ..FlowKey::to(meta.src)
        };
        let on_link = self.fib.route(&back).is_some_and(|r| {
            let nh = r.nexthop;
            nh.kind == RouteKind::Unicast && nh.dev == Some(ingress) && nh.gateway.is_none()
        });
        let cfg = self.config.icmp;
        if !on_link || !self.limiter.redirect_allow(&cfg, now, u32::from(meta.src)) {
            return;
        }
        let Some(copy) = io.pool.duplicate(frame) else {
            self.counters.drops[DropReason::PoolExhausted as usize] += 1;
            return;
        };
        let err = IcmpError {
            kind: icmpv4::Message::Redirect.into(),
            code: icmpv4::redirect::HOST,
            info: gateway.octets(),
        };
        if let Err(copy) = self.icmp_send(now, copy, meta, err, io) {
            io.pool.free(copy);
        }
    }

    /// Split the packet in `frame` into fragments that fit the egress MTU and dispatch them in
    /// order.
    pub(crate) fn fragment(
        &mut self,
        now: Instant,
        ingress: Option<IfaceId>,
        egress: IfaceId,
        next_hop: Ipv4Addr,
        frame: Frame,
        io: &mut Io<'_>,
    ) {
        let mut packet = [0u8; FRAME_SIZE];
        let bytes = io.pool.data(&frame).get(ETH..).unwrap_or_default();
        let len = bytes.len().min(FRAME_SIZE);
        packet[..len].copy_from_slice(&bytes[..len]);
        io.pool.free(frame);
        self.fragment_bytes(now, ingress, egress, next_hop, &mut packet[..len], io);
    }

    /// Cut the IPv4 packet `packet` (header first) into fragments for `egress`'s MTU and
    /// dispatch them in order (Linux's ip_do_fragment). The header is changed on the way (its
    /// options, for every fragment but the first).
    pub(crate) fn fragment_bytes(
        &mut self,
        now: Instant,
        ingress: Option<IfaceId>,
        egress: IfaceId,
        next_hop: Ipv4Addr,
        packet: &mut [u8],
        io: &mut Io<'_>,
    ) {
        let (header_len, total, base_offset, more_frags) = {
            let ip = ipv4::Packet::new_unchecked(&packet[..]);
            (
                ip.header_len(),
                usize::from(ip.total_len()).min(packet.len()),
                usize::from(ip.frag_offset()),
                ip.more_frags(),
            )
        };
        let mtu = usize::from(self.ifaces[usize::from(egress.0)].mtu);
        let room = mtu.saturating_sub(header_len);
        if header_len < ipv4::HEADER_LEN || room < 8 || total <= header_len {
            self.counters.drops[DropReason::FragNeeded as usize] += 1;
            return;
        }
        let mut offset = 0;
        let mut left = total - header_len;
        while left > 0 {
            let mut len = left.min(room);
            if len < left {
                len &= !7;
            }
            let Some(mut piece) = io.pool.alloc() else {
                self.counters.drops[DropReason::PoolExhausted as usize] += 1;
                return;
            };
            if piece.set_len(ETH + header_len + len).is_err() {
                io.pool.free(piece);
                self.counters.drops[DropReason::FragNeeded as usize] += 1;
                return;
            }
            let out = io.pool.data_mut(&piece);
            out[ETH..ETH + header_len].copy_from_slice(&packet[..header_len]);
            let from = header_len + offset;
            out[ETH + header_len..ETH + header_len + len]
                .copy_from_slice(&packet[from..from + len]);
            let mut ip = ipv4::Packet::new_unchecked(&mut out[ETH..]);
            ip.set_total_len((header_len + len) as u16);
            // The flags word is written whole: offset and MF, no DF, no reserved bit.
            let mf = if left > len || more_frags { 0x2000 } else { 0 };
            let word = (((base_offset + offset) >> 3) as u16 & 0x1fff) | mf;
            out[ETH + 6..ETH + 8].copy_from_slice(&word.to_be_bytes());
            ipv4::Packet::new_unchecked(&mut out[ETH..]).fill_checksum();
            if offset == 0 {
                // Later fragments keep only the options that are copied (ip_options_fragment).
                options::fragment(&mut packet[ipv4::HEADER_LEN..header_len]);
            }
            self.counters.fragments += 1;
            self.dispatch(now, ingress, egress, next_hop, piece, io);
            offset += len;
            left -= len;
        }
    }
}
