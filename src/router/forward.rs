//! Forwarding (RFC 1812 §5.2–5.3) and fragmentation (RFC 791 §3.2, RFC 1812 §4.2.2.7).
//!
//! The order of checks is Linux's ip_forward: link-layer broadcasts are not forwarded, the TTL
//! is checked before the MTU, DF with a too-large packet is answered with "fragmentation needed"
//! carrying the next-hop MTU (RFC 1191), and only then is the TTL decremented (with an
//! incremental checksum update) and the packet fragmented if it must be.

use std::net::Ipv4Addr;

use super::icmp::IcmpError;
use super::input::Ipv4Meta;
use super::{DropReason, Io, NextHop, Router, options};
use crate::frame::Frame;
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
            let err = IcmpError {
                kind: icmpv4::Message::TimeExceeded,
                code: icmpv4::time_exceeded::TTL,
                mtu: 0,
            };
            return self.icmp_error(
                now,
                Some(ingress),
                frame,
                meta,
                err,
                DropReason::TtlExceeded,
                io,
            );
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
            return self.icmp_error(
                now,
                Some(ingress),
                frame,
                meta,
                err,
                DropReason::FragNeeded,
                io,
            );
        }
        let next_hop = nh.gateway.unwrap_or(meta.dst);
        let stamp_from = (meta.header_len > ipv4::HEADER_LEN)
            .then(|| out.select_addr(next_hop))
            .flatten();
        let bytes = io.pool.data_mut(&frame);
        let mut ip = ipv4::Packet::new_unchecked(&mut bytes[ETH..]);
        ip.decrement_ttl();
        if let Some(addr) = stamp_from
            && options::stamp(ip.options_mut(), addr, now.as_nanos() / 1_000_000)
        {
            ip.fill_checksum();
        }
        self.counters.forwarded += 1;
        if meta.total_len > usize::from(mtu) {
            frame.truncate(ETH + meta.total_len);
            return self.fragment(now, Some(ingress), egress, next_hop, frame, io);
        }
        self.dispatch(now, Some(ingress), egress, next_hop, frame, io);
    }

    /// Split the packet in `frame` into fragments that fit the egress MTU and dispatch them in order.
    /// Every fragment but the last is a new frame; the original buffer becomes the last one.
    pub(crate) fn fragment(
        &mut self,
        now: Instant,
        ingress: Option<IfaceId>,
        egress: IfaceId,
        next_hop: Ipv4Addr,
        mut frame: Frame,
        io: &mut Io<'_>,
    ) {
        let (header_len, payload_len, base_offset, more_frags, copied, copied_len) = {
            let ip =
                ipv4::Packet::new_unchecked(io.pool.data(&frame).get(ETH..).unwrap_or_default());
            let mut copied = [0u8; 40];
            let copied_len = ipv4::copy_fragment_options(ip.options(), &mut copied);
            let header_len = ip.header_len();
            let payload_len = usize::from(ip.total_len()).saturating_sub(header_len);
            (
                header_len,
                payload_len,
                ip.frag_offset(),
                ip.more_frags(),
                copied,
                copied_len,
            )
        };
        let mtu = usize::from(self.ifaces[usize::from(egress.0)].mtu);
        let later_header = ipv4::HEADER_LEN + copied_len;
        let first_chunk = mtu.saturating_sub(header_len) / 8 * 8;
        let later_chunk = mtu.saturating_sub(later_header) / 8 * 8;
        if first_chunk == 0 || later_chunk == 0 || payload_len == 0 {
            return self.drop_frame(io, frame, DropReason::FragNeeded);
        }
        // Payload ranges of each fragment; the last one stays in the original buffer.
        let mut pos = 0;
        let mut chunk = first_chunk;
        while payload_len - pos > chunk {
            let (hlen, opts): (usize, &[u8]) = if pos == 0 {
                (header_len, &[])
            } else {
                (later_header, &copied[..copied_len])
            };
            let Some(mut piece) = io.pool.alloc() else {
                return self.drop_frame(io, frame, DropReason::PoolExhausted);
            };
            if piece.set_len(ETH + hlen + chunk).is_err() {
                io.pool.free(piece);
                return self.drop_frame(io, frame, DropReason::FragNeeded);
            }
            // Header (with all options for the first fragment), then this fragment's payload.
            let base = if pos == 0 {
                ETH + header_len
            } else {
                ETH + ipv4::HEADER_LEN
            };
            io.pool.copy_between(&frame, 0..base, &piece, 0);
            let payload_at = ETH + header_len + pos;
            io.pool
                .copy_between(&frame, payload_at..payload_at + chunk, &piece, ETH + hlen);
            let bytes = io.pool.data_mut(&piece);
            let mut ip = ipv4::Packet::new_unchecked(&mut bytes[ETH..]);
            ip.set_header_len(hlen);
            ip.options_mut()[..opts.len()].copy_from_slice(opts);
            finish_fragment(&mut ip, hlen, chunk, base_offset + pos as u16, true);
            self.counters.fragments += 1;
            self.dispatch(now, ingress, egress, next_hop, piece, io);
            pos += chunk;
            chunk = later_chunk;
        }
        // The last fragment: move its payload up behind a header with only the copied options.
        let last = payload_len - pos;
        let hlen = if pos == 0 { header_len } else { later_header };
        if pos != 0 {
            let payload_at = ETH + header_len + pos;
            io.pool
                .copy_within(&frame, payload_at..payload_at + last, ETH + hlen);
        }
        frame.truncate(ETH + hlen + last);
        let bytes = io.pool.data_mut(&frame);
        let mut ip = ipv4::Packet::new_unchecked(&mut bytes[ETH..]);
        if pos != 0 {
            ip.set_header_len(hlen);
            ip.options_mut()[..copied_len].copy_from_slice(&copied[..copied_len]);
        }
        finish_fragment(&mut ip, hlen, last, base_offset + pos as u16, more_frags);
        self.counters.fragments += 1;
        self.dispatch(now, ingress, egress, next_hop, frame, io);
    }
}

/// Set a fragment's header length, total length, offset and MF, then its checksum.
fn finish_fragment(
    ip: &mut ipv4::Packet<&mut [u8]>,
    header_len: usize,
    payload_len: usize,
    offset: u16,
    more: bool,
) {
    ip.set_header_len(header_len);
    ip.set_total_len((header_len + payload_len) as u16);
    ip.set_frag_offset(offset);
    ip.set_more_frags(more);
    ip.fill_checksum();
}
