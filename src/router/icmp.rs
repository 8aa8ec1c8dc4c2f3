//! ICMP the router originates — errors (RFC 792, RFC 1812 §4.3), echo and timestamp replies —
//! as Linux's icmp.c and route.c build and limit them.
//!
//! An error ([`Router::icmp_error`], Linux's `__icmp_send`) is refused, in this order, for a
//! datagram that came as a link-layer broadcast or multicast, an IP broadcast or multicast, a
//! fragment other than the first, or an ICMP error (or an ICMP type Linux does not know) —
//! RFC 1812 §4.3.2.7 — and when the datagram's options leave no room to answer. It comes from
//! the address the datagram was sent to when that is one of ours, else from the address the
//! route back to the source prefers (so a traceroute to a router's far side ends at the far
//! address, and an error about a spoofed source leaves by the route to it). It carries the
//! options [`options::echo`] gives and quotes as much of the datagram — as the router holds it,
//! its options filled in — as keeps the error within 576 bytes and the route's MTU. Rate limits
//! are [`ratelimit`](super::ratelimit)'s; errors about unreachable routes
//! ([`Router::route_error`], Linux's `ip_error`) pay their source twice. The error is built in
//! the datagram's own buffer: the new headers go into the headroom in front of the quote.
//!
//! Echo and timestamp replies ([`Router::echo_reply`], [`Router::timestamp_reply`], Linux's
//! `icmp_reply`) come from the address the request was sent to, echo its options, copy its TOS
//! and (for an echo) its code.

use std::net::Ipv4Addr;

use super::meta::Ipv4Meta;
use super::neigh::Queued;
use super::options::{self, Compiled};
use super::output::Via;
use super::ratelimit::{self, NR_ICMP_TYPES};
use super::{DropReason, Io, Router};
use crate::frame::{FRAME_SIZE, Frame, HEADROOM};
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{checksum, ethernet, icmpv4, ipv4};

const ETH: usize = ethernet::HEADER_LEN;
/// Largest ICMP error datagram (RFC 1812 §4.3.2.3).
const MAX_ERROR_LEN: usize = 576;
/// TOS precedence "internetwork control".
const PREC_INTERNETCONTROL: u8 = 0xc0;
/// TOS bits Linux keeps from the offending datagram (RT_TOS).
const RT_TOS_MASK: u8 = 0x1e;

/// An error to send: type, code, and the four bytes after the checksum (the next-hop MTU of
/// fragmentation-needed, the pointer of a parameter problem).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IcmpError {
    pub kind: u8,
    pub code: u8,
    pub info: [u8; 4],
}

impl IcmpError {
    pub(crate) fn dst_unreachable(code: u8) -> IcmpError {
        IcmpError {
            kind: icmpv4::Message::DstUnreachable.into(),
            code,
            info: [0; 4],
        }
    }

    pub(crate) fn frag_needed(mtu: u16) -> IcmpError {
        let [hi, lo] = mtu.to_be_bytes();
        IcmpError {
            info: [0, 0, hi, lo],
            ..IcmpError::dst_unreachable(icmpv4::dst_unreachable::FRAG_NEEDED)
        }
    }

    pub(crate) fn time_exceeded(code: u8) -> IcmpError {
        IcmpError {
            kind: icmpv4::Message::TimeExceeded.into(),
            code,
            info: [0; 4],
        }
    }

    pub(crate) fn parameter_problem(pointer: u8) -> IcmpError {
        IcmpError {
            kind: icmpv4::Message::ParamProblem.into(),
            code: 0,
            info: [pointer, 0, 0, 0],
        }
    }
}

/// ICMP types Linux treats as errors (its `icmp_pointers[].error`), which are never answered
/// with an error: 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, and every type it does not know.
pub(crate) fn is_error_type(kind: u8) -> bool {
    kind > NR_ICMP_TYPES || matches!(kind, 1..=7 | 9..=12)
}

impl Router {
    /// A packet hit no route, an `unreachable` or a `prohibit` route (Linux's `ip_error`): a
    /// host stays silent; a router charges the source's bucket, then sends the error.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route_error(
        &mut self,
        now: Instant,
        frame: Frame,
        meta: &Ipv4Meta,
        err: IcmpError,
        reason: DropReason,
        io: &mut Io<'_>,
    ) {
        if !self.config.forwarding {
            return self.drop_frame(io, frame, reason);
        }
        let src = u32::from(meta.src);
        if !self.limiter.route_error_allow(&self.config.icmp, now, src) {
            self.counters.icmp_rate_limited += 1;
            return self.drop_frame(io, frame, reason);
        }
        self.icmp_error(now, frame, meta, err, reason, io);
    }

    /// Drop the datagram in `frame` for `reason` and, where Linux would, turn its buffer into
    /// the ICMP error `err` back to its source.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn icmp_error(
        &mut self,
        now: Instant,
        frame: Frame,
        meta: &Ipv4Meta,
        err: IcmpError,
        reason: DropReason,
        io: &mut Io<'_>,
    ) {
        match self.icmp_send(now, frame, meta, err, io) {
            Ok(()) => self.counters.drops[reason as usize] += 1,
            Err(frame) => self.drop_frame(io, frame, reason),
        }
    }

    /// Turn the datagram in `frame` into the ICMP error `err` back to its source and send it,
    /// where Linux would (`__icmp_send`); the frame back if not.
    pub(crate) fn icmp_send(
        &mut self,
        now: Instant,
        mut frame: Frame,
        meta: &Ipv4Meta,
        err: IcmpError,
        io: &mut Io<'_>,
    ) -> Result<(), Frame> {
        if !self.may_answer(io.pool.data(&frame), meta) {
            return Err(frame);
        }
        let saddr = meta.local.then_some(meta.dst);
        let header = &io.pool.data(&frame)[ETH..ETH + meta.header_len];
        let Some((opts, dopt)) = self.answer_options(header, meta) else {
            return Err(frame);
        };
        let cfg = self.config.icmp;
        let limited = ratelimit::limited(&cfg, err.kind, err.code);
        if limited && !self.limiter.global_allow(&cfg, now) {
            self.counters.icmp_rate_limited += 1;
            return Err(frame);
        }
        let dst = if dopt.srr != 0 {
            Ipv4Addr::from(dopt.faddr)
        } else {
            meta.src
        };
        let tos = (meta.tos & RT_TOS_MASK) | PREC_INTERNETCONTROL;
        let Ok(route) = self.route_out(dst, tos, saddr) else {
            return Err(frame);
        };
        if limited && !self.limiter.peer_allow(&cfg, now, u32::from(dst)) {
            self.counters.icmp_rate_limited += 1;
            return Err(frame);
        }

        let optlen = usize::from(dopt.optlen);
        let room = usize::from(route.mtu).min(MAX_ERROR_LEN) - ipv4::HEADER_LEN - optlen - 8;
        let quoted = meta.quote_len.min(meta.total_len).min(room);
        let ip_len = ipv4::HEADER_LEN + optlen;
        let headers = ETH + ip_len + icmpv4::HEADER_LEN;
        frame.truncate(ETH + quoted);
        // The new headers go in the headroom in front of the quote; if it is too small, the
        // quote moves to the default offset first.
        if frame.push_head(headers - ETH).is_err() {
            io.pool.copy_within(
                &frame,
                ETH..ETH + quoted,
                HEADROOM - frame.offset() + headers,
            );
            let _ = frame.reset_head(HEADROOM);
            let _ = frame.set_len((headers + quoted).min(FRAME_SIZE - HEADROOM));
        }
        let ident = self.ident();
        let bytes = io.pool.data_mut(&frame);
        let ip = ipv4::Repr {
            src_addr: route.src,
            dst_addr: dst,
            protocol: ipv4::Protocol::Icmp,
            payload_len: icmpv4::HEADER_LEN + quoted,
            ttl: self.config.default_ttl,
            tos,
            ident,
            dont_frag: false,
        };
        write_header(
            &mut bytes[ETH..ETH + ip_len],
            &ip,
            &opts,
            &dopt,
            meta.src,
            now,
        );
        let icmp = &mut bytes[ETH + ip_len..];
        icmp[..4].copy_from_slice(&[err.kind, err.code, 0, 0]);
        icmp[4..8].copy_from_slice(&err.info);
        let sum = !checksum::data(&icmp[..icmpv4::HEADER_LEN + quoted]);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        self.counters.icmp_errors += 1;
        self.send_routed(now, frame, &route, io);
        Ok(())
    }

    /// RFC 1812 §4.3.2.7, as Linux's `__icmp_send` checks it: no error about a link-layer
    /// broadcast or multicast, an IP broadcast or multicast, a later fragment, or an ICMP error.
    fn may_answer(&self, frame: &[u8], meta: &Ipv4Meta) -> bool {
        let cast = meta.cast;
        if cast.link_multicast
            || cast.ip_broadcast
            || meta.dst.is_multicast()
            || meta.frag_offset != 0
        {
            return false;
        }
        if meta.protocol == ipv4::Protocol::Icmp {
            return frame
                .get(ETH + meta.header_len)
                .is_some_and(|&kind| !is_error_type(kind));
        }
        true
    }

    /// The options an answer to the packet with IPv4 header `header` carries (see
    /// [`options::echo`]), or `None` when they leave no room to answer.
    pub(crate) fn answer_options(
        &self,
        header: &[u8],
        meta: &Ipv4Meta,
    ) -> Option<([u8; options::MAX_LEN], Compiled)> {
        if meta.opts.optlen == 0 {
            return Some(([0; options::MAX_LEN], Compiled::default()));
        }
        let daddr = self.spec_dst(meta, None);
        options::echo(header, &meta.opts, daddr, |a| self.not_unicast(a)).ok()
    }

    /// Whether `a` is not a plain unicast address to this instance (Linux's `inet_addr_type`
    /// other than RTN_UNICAST: an address of ours, a broadcast or a multicast address).
    pub(crate) fn not_unicast(&self, a: Ipv4Addr) -> bool {
        let x = u32::from(a);
        x == 0
            || x == u32::MAX
            || a.is_multicast()
            || self.local_addrs.contains(&a)
            || self
                .ifaces
                .iter()
                .any(|i| i.addrs.iter().any(|ia| ia.broadcast() == Some(a)))
    }

    /// The address this instance answers the packet's source from (Linux's
    /// `fib_compute_spec_dst`): the destination when it is ours, else the preferred source of
    /// the route back, else the ingress interface's address towards the source.
    pub(crate) fn spec_dst(&self, meta: &Ipv4Meta, ingress: Option<IfaceId>) -> Ipv4Addr {
        if meta.local {
            return meta.dst;
        }
        let tos = meta.tos & RT_TOS_MASK;
        if let Ok(r) = self.route_out(meta.src, tos, None) {
            return r.src;
        }
        ingress
            .and_then(|i| self.iface(i))
            .and_then(|i| i.select_addr(meta.src))
            .unwrap_or(meta.dst)
    }

    /// Answer an echo request in place: addresses swapped, type changed, code kept, options
    /// echoed, checksum updated.
    pub(crate) fn echo_reply(
        &mut self,
        now: Instant,
        frame: Frame,
        meta: &Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        self.reply(now, frame, meta, Reply::Echo, io);
    }

    /// Answer a timestamp request (RFC 792): the originate timestamp copied, receive and
    /// transmit set to the instance's clock in milliseconds, high bit set (there is no wall
    /// clock); Linux writes milliseconds since midnight UT. A request with less than the
    /// originate timestamp is dropped, as Linux drops it.
    pub(crate) fn timestamp_reply(
        &mut self,
        now: Instant,
        frame: Frame,
        meta: &Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        self.reply(now, frame, meta, Reply::Timestamp, io);
    }

    fn reply(
        &mut self,
        now: Instant,
        mut frame: Frame,
        meta: &Ipv4Meta,
        kind: Reply,
        io: &mut Io<'_>,
    ) {
        let body = meta.total_len - meta.header_len;
        if kind == Reply::Timestamp && body < icmpv4::HEADER_LEN + 4 {
            return self.drop_frame(io, frame, DropReason::IcmpMalformed);
        }
        let header = &io.pool.data(&frame)[ETH..ETH + meta.header_len];
        let Some((opts, dopt)) = self.answer_options(header, meta) else {
            return self.drop_frame(io, frame, DropReason::IcmpMalformed);
        };
        let saddr = self.spec_dst(meta, None);
        let route = match self.route_out(meta.src, meta.tos & RT_TOS_MASK, Some(saddr)) {
            Ok(r) => r,
            Err(reason) => return self.drop_frame(io, frame, reason),
        };
        let ip_len = ipv4::HEADER_LEN + usize::from(dopt.optlen);
        let icmp_len = match kind {
            Reply::Echo => body,
            Reply::Timestamp => icmpv4::HEADER_LEN + 12,
        };
        // The ICMP message stays where it is; the header before it takes the echoed options'
        // length instead of the request's.
        let start = ETH + meta.header_len;
        let ok = if ip_len <= meta.header_len {
            frame.pull_head(meta.header_len - ip_len).is_ok()
        } else {
            frame.push_head(ip_len - meta.header_len).is_ok()
        };
        if !ok || frame.set_len(ETH + ip_len + icmp_len).is_err() {
            return self.drop_frame(io, frame, DropReason::IcmpMalformed);
        }
        let _ = start;
        let ident = self.ident();
        let bytes = io.pool.data_mut(&frame);
        let icmp = &mut bytes[ETH + ip_len..];
        match kind {
            Reply::Echo => icmp[0] = icmpv4::Message::EchoReply.into(),
            Reply::Timestamp => {
                icmp[0] = icmpv4::Message::TimestampReply.into();
                icmp[1] = 0;
                let t = options::timestamp(now);
                icmp[12..16].copy_from_slice(&t);
                icmp[16..20].copy_from_slice(&t);
            }
        }
        icmp[2..4].fill(0);
        let sum = !checksum::data(&icmp[..icmp_len]);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let ip = ipv4::Repr {
            src_addr: route.src,
            dst_addr: meta.src,
            protocol: ipv4::Protocol::Icmp,
            payload_len: icmp_len,
            ttl: self.config.default_ttl,
            tos: meta.tos,
            ident,
            dont_frag: false,
        };
        write_header(
            &mut bytes[ETH..ETH + ip_len],
            &ip,
            &opts,
            &dopt,
            meta.src,
            now,
        );
        self.counters.echo_replies += 1;
        self.counters.local += 1;
        self.send_routed(now, frame, &route, io);
    }
}

impl Router {
    /// A queued frame's next hop never answered: ICMP host unreachable to its sender if it was
    /// forwarded (Linux's arp_error_report), a plain drop if we made it.
    pub(crate) fn resolution_failed(&mut self, now: Instant, q: Queued, io: &mut Io<'_>) {
        let meta = match (q.ingress, Ipv4Meta::parse(io.pool.data(&q.frame))) {
            (Some(_), Ok(meta)) => meta,
            _ => return self.drop_frame(io, q.frame, DropReason::NeighFailed),
        };
        let err = IcmpError::dst_unreachable(icmpv4::dst_unreachable::HOST);
        self.icmp_error(now, q.frame, &meta, err, DropReason::NeighFailed, io);
    }

    /// Answer an echo request reassembled into more than a frame holds: the reply is built
    /// apart and leaves in fragments.
    pub(crate) fn echo_reply_large(
        &mut self,
        now: Instant,
        frame: Frame,
        datagram: &[u8],
        meta: &Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        let Some((opts, dopt)) = self.answer_options(&datagram[..meta.header_len], meta) else {
            return self.drop_frame(io, frame, DropReason::IcmpMalformed);
        };
        io.pool.free(frame);
        let saddr = self.spec_dst(meta, None);
        let route = match self.route_out(meta.src, meta.tos & RT_TOS_MASK, Some(saddr)) {
            Ok(r) => r,
            Err(reason) => {
                self.counters.drops[reason as usize] += 1;
                return;
            }
        };
        let body = &datagram[meta.header_len..];
        let ip_len = ipv4::HEADER_LEN + usize::from(dopt.optlen);
        let mut reply = vec![0u8; ip_len + body.len()];
        reply[ip_len..].copy_from_slice(body);
        let icmp = &mut reply[ip_len..];
        icmp[0] = icmpv4::Message::EchoReply.into();
        icmp[2..4].fill(0);
        let sum = !checksum::data(icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let ip = ipv4::Repr {
            src_addr: route.src,
            dst_addr: meta.src,
            protocol: ipv4::Protocol::Icmp,
            payload_len: body.len(),
            ttl: self.config.default_ttl,
            tos: meta.tos,
            ident: self.ident(),
            dont_frag: false,
        };
        write_header(&mut reply[..ip_len], &ip, &opts, &dopt, meta.src, now);
        self.counters.echo_replies += 1;
        self.counters.local += 1;
        match route.via {
            Via::Neighbour { egress, next_hop } => {
                self.fragment_bytes(now, None, egress, next_hop, &mut reply, io)
            }
            _ => self.counters.drops[DropReason::FragNeeded as usize] += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Echo,
    Timestamp,
}

/// Write an IPv4 header with the answer options `opts` (as [`options::echo`] made them) into
/// `h`, sized `20 + dopt.optlen`, filled in for `ip`'s source and `daddr` as final destination.
pub(crate) fn write_header(
    h: &mut [u8],
    ip: &ipv4::Repr,
    opts: &[u8; options::MAX_LEN],
    dopt: &Compiled,
    daddr: Ipv4Addr,
    now: Instant,
) {
    let optlen = usize::from(dopt.optlen);
    let mut p = ipv4::Packet::new_unchecked(&mut h[..]);
    ip.emit(&mut p);
    if optlen == 0 {
        return;
    }
    p.set_header_len(ipv4::HEADER_LEN + optlen);
    p.set_total_len((ipv4::HEADER_LEN + optlen + ip.payload_len) as u16);
    h[ipv4::HEADER_LEN..ipv4::HEADER_LEN + optlen].copy_from_slice(&opts[..optlen]);
    options::build(h, dopt, ip.src_addr, daddr, now);
    ipv4::Packet::new_unchecked(&mut h[..]).fill_checksum();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_linuxs() {
        let errors: Vec<u8> = (0..=18).filter(|&t| is_error_type(t)).collect();
        assert_eq!(errors, [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]);
        assert!(is_error_type(19) && is_error_type(42) && is_error_type(255));
        assert!(!is_error_type(0) && !is_error_type(8) && !is_error_type(13));
    }
}
