//! ICMP the router originates: echo replies and error messages (RFC 792, RFC 1812 §4.3), with
//! Linux's rate limits.
//!
//! An error quotes the offending datagram, its header and as much data as keeps the error
//! within 576 bytes (RFC 1812 §4.3.2.3, Linux's icmp_send). It is built in place: the new
//! Ethernet, IPv4 and ICMP headers go into the headroom in front of the quoted bytes, so the
//! original frame becomes the error with no copy. No error is sent about an ICMP error, a
//! datagram sent as a link-layer broadcast or multicast, an IP broadcast or multicast, a
//! non-first fragment, or a datagram whose source does not name a single host (RFC 1812
//! §4.3.2.7). Errors are sourced from the ingress interface's address and carry precedence
//! "internetwork control" (Linux's IPTOS_PREC_INTERNETCONTROL).
//!
//! Rate limiting mirrors Linux: only types in `ratemask` (destination unreachable, source
//! quench, time exceeded, parameter problem) are limited, fragmentation-needed never is; a
//! per-instance bucket allows `msgs_per_sec` with bursts of `msgs_burst`
//! (icmp_msgs_per_sec/icmp_msgs_burst), and a per-destination bucket allows one per `ratelimit`
//! with bursts of six (icmp_ratelimit, XRLIM_BURST_FACTOR).

use core::time::Duration;
use std::net::Ipv4Addr;

use super::input::{Ipv4Meta, is_martian_source};
use super::{DropReason, Io, Router};
use crate::frame::{FRAME_SIZE, Frame, HEADROOM};
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{ethernet, icmpv4, ipv4};

const ETH: usize = ethernet::HEADER_LEN;
/// Largest ICMP error datagram (RFC 1812 §4.3.2.3).
const MAX_ERROR_LEN: usize = 576;
/// ICMP types above this are unknown to Linux and never answered with an error.
const NR_ICMP_TYPES: u8 = 18;
/// TOS precedence "internetwork control".
const PREC_INTERNETCONTROL: u8 = 0xc0;
/// TOS bits Linux keeps from the offending datagram (RT_TOS).
const RT_TOS_MASK: u8 = 0x1e;

/// ICMP rate limits; defaults are Linux's sysctls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpConfig {
    /// Minimum spacing per destination (icmp_ratelimit); zero disables the per-destination limit.
    pub ratelimit: Duration,
    /// Bit `t` set: type `t` is limited (icmp_ratemask).
    pub ratemask: u32,
    /// Instance-wide rate (icmp_msgs_per_sec); zero disables the instance-wide limit.
    pub msgs_per_sec: u32,
    /// Instance-wide burst (icmp_msgs_burst).
    pub msgs_burst: u32,
}

impl Default for IcmpConfig {
    fn default() -> IcmpConfig {
        IcmpConfig {
            ratelimit: Duration::from_millis(1000),
            ratemask: 0x1818,
            msgs_per_sec: 1000,
            msgs_burst: 50,
        }
    }
}

/// An error to send: message type, code, and for fragmentation-needed the next-hop MTU.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IcmpError {
    pub kind: icmpv4::Message,
    pub code: u8,
    pub mtu: u16,
}

impl IcmpError {
    pub(crate) fn dst_unreachable(code: u8) -> IcmpError {
        IcmpError {
            kind: icmpv4::Message::DstUnreachable,
            code,
            mtu: 0,
        }
    }

    pub(crate) fn frag_needed(mtu: u16) -> IcmpError {
        IcmpError {
            kind: icmpv4::Message::DstUnreachable,
            code: icmpv4::dst_unreachable::FRAG_NEEDED,
            mtu,
        }
    }
}

/// Slots in the per-destination table; destinations hashing to a slot share it.
const PEERS: usize = 16;
/// Burst per destination, in multiples of `ratelimit` (Linux's XRLIM_BURST_FACTOR).
const BURST_FACTOR: u32 = 6;

#[derive(Debug, Clone, Copy, Default)]
struct Peer {
    addr: u32,
    tokens: Duration,
    last: Instant,
    used: bool,
}

/// Token buckets: one for the instance, one per recent destination.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    credit: u32,
    stamp: Option<Instant>,
    peers: [Peer; PEERS],
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter {
            credit: 0,
            stamp: None,
            peers: [Peer::default(); PEERS],
        }
    }
}

impl RateLimiter {
    /// May an error of this type and code go to `dst` now? Consumes a token if so.
    pub(crate) fn allow(
        &mut self,
        cfg: &IcmpConfig,
        now: Instant,
        kind: u8,
        code: u8,
        dst: Ipv4Addr,
    ) -> bool {
        let limited = kind <= NR_ICMP_TYPES
            && cfg.ratemask & (1 << kind) != 0
            && !(kind == u8::from(icmpv4::Message::DstUnreachable)
                && code == icmpv4::dst_unreachable::FRAG_NEEDED);
        if !limited {
            return true;
        }
        self.global_allow(cfg, now) && self.peer_allow(cfg, now, dst)
    }

    fn global_allow(&mut self, cfg: &IcmpConfig, now: Instant) -> bool {
        if cfg.msgs_per_sec == 0 {
            return true;
        }
        let elapsed = self.stamp.map_or(Duration::from_secs(1), |s| {
            (now - s).min(Duration::from_secs(1))
        });
        let refill = (u128::from(cfg.msgs_per_sec) * elapsed.as_millis() / 1000) as u32;
        if refill > 0 || self.stamp.is_none() {
            self.credit = (self.credit + refill).min(cfg.msgs_burst);
            self.stamp = Some(now);
        }
        if self.credit == 0 {
            return false;
        }
        self.credit -= 1;
        true
    }

    fn peer_allow(&mut self, cfg: &IcmpConfig, now: Instant, dst: Ipv4Addr) -> bool {
        if cfg.ratelimit.is_zero() {
            return true;
        }
        let addr = u32::from(dst);
        let burst = cfg.ratelimit * BURST_FACTOR;
        let slot = &mut self.peers[(addr.wrapping_mul(0x9e37_79b9) >> 28) as usize % PEERS];
        if !slot.used || slot.addr != addr {
            *slot = Peer {
                addr,
                tokens: burst,
                last: now,
                used: true,
            };
        }
        slot.tokens = (slot.tokens + (now - slot.last)).min(burst);
        slot.last = now;
        if slot.tokens < cfg.ratelimit {
            return false;
        }
        slot.tokens -= cfg.ratelimit;
        true
    }
}

impl Router {
    /// Drop the datagram in `frame` for `reason` and, where RFC 1812 allows and the rate limit
    /// agrees, turn its buffer into the ICMP error `err` back to its source.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn icmp_error(
        &mut self,
        now: Instant,
        ingress: Option<IfaceId>,
        mut frame: Frame,
        meta: &Ipv4Meta,
        err: IcmpError,
        reason: DropReason,
        io: &mut Io<'_>,
    ) {
        let Some(src) = self.error_source(ingress, meta) else {
            return self.drop_frame(io, frame, reason);
        };
        if !self.may_answer(io.pool.data(&frame), meta) {
            return self.drop_frame(io, frame, reason);
        }
        let kind = u8::from(err.kind);
        if !self
            .limiter
            .allow(&self.config.icmp, now, kind, err.code, meta.src)
        {
            self.counters.icmp_rate_limited += 1;
            return self.drop_frame(io, frame, reason);
        }
        self.counters.drops[reason as usize] += 1;

        let quoted = meta
            .total_len
            .min(MAX_ERROR_LEN - ipv4::HEADER_LEN - icmpv4::HEADER_LEN);
        let headers = ETH + ipv4::HEADER_LEN + icmpv4::HEADER_LEN;
        frame.truncate(ETH + quoted);
        // Put the new headers in the headroom in front of the quoted datagram; if the headroom
        // is too small, move the datagram to the default offset first.
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
            src_addr: src,
            dst_addr: meta.src,
            protocol: ipv4::Protocol::Icmp,
            payload_len: icmpv4::HEADER_LEN + quoted,
            ttl: self.config.default_ttl,
            tos: (meta.tos & RT_TOS_MASK) | PREC_INTERNETCONTROL,
            ident,
            dont_frag: false,
        };
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[ETH..]));
        let mut icmp = icmpv4::Packet::new_unchecked(&mut bytes[ETH + ipv4::HEADER_LEN..]);
        icmp.set_msg_type(err.kind);
        icmp.set_msg_code(err.code);
        icmp.clear_rest_of_header();
        if err.mtu != 0 {
            icmp.set_next_hop_mtu(err.mtu);
        }
        icmp.fill_checksum();
        self.counters.icmp_errors += 1;
        self.output(now, frame, meta.src, io);
    }

    /// RFC 1812 §4.3.2.7: the cases in which no ICMP error may be sent.
    fn may_answer(&self, frame: &[u8], meta: &Ipv4Meta) -> bool {
        let cast = meta.cast;
        if cast.link_multicast
            || cast.ip_broadcast
            || meta.dst.is_multicast()
            || meta.frag_offset != 0
        {
            return false;
        }
        if meta.src.is_unspecified() || is_martian_source(meta.src) {
            return false;
        }
        if meta.protocol == ipv4::Protocol::Icmp {
            // Only informational messages may be answered with an error.
            let Some(&kind) = frame.get(ETH + meta.header_len) else {
                return false;
            };
            if kind > NR_ICMP_TYPES || icmpv4::Message::from(kind).is_error() {
                return false;
            }
        }
        true
    }

    /// The address an error is sent from: the ingress interface's address (on the sender's
    /// subnet if it has several), else that of the interface the reply will leave by.
    fn error_source(&self, ingress: Option<IfaceId>, meta: &Ipv4Meta) -> Option<Ipv4Addr> {
        ingress
            .and_then(|id| self.iface(id))
            .and_then(|i| i.select_addr(meta.src))
            .or_else(|| {
                let nh = self.fib.lookup(meta.src)?;
                nh.src.or_else(|| {
                    self.iface(nh.dev?)?
                        .select_addr(nh.gateway.unwrap_or(meta.src))
                })
            })
    }

    /// Answer an echo request in place: swap the addresses, change the type, fix the checksum.
    pub(crate) fn echo_reply(
        &mut self,
        now: Instant,
        mut frame: Frame,
        meta: &Ipv4Meta,
        io: &mut Io<'_>,
    ) {
        // Drop any IP options by moving the Ethernet header space up to the ICMP message.
        let strip = meta.header_len - ipv4::HEADER_LEN;
        if strip != 0 && frame.pull_head(strip).is_err() {
            return self.drop_frame(io, frame, DropReason::IcmpMalformed);
        }
        let ident = self.ident();
        let bytes = io.pool.data_mut(&frame);
        let ip = ipv4::Repr {
            src_addr: meta.dst,
            dst_addr: meta.src,
            protocol: ipv4::Protocol::Icmp,
            payload_len: meta.total_len - meta.header_len,
            ttl: self.config.default_ttl,
            tos: meta.tos,
            ident,
            dont_frag: false,
        };
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[ETH..]));
        let mut icmp = icmpv4::Packet::new_unchecked(&mut bytes[ETH + ipv4::HEADER_LEN..]);
        let old = u16::from_be_bytes([u8::from(icmp.msg_type()), icmp.msg_code()]);
        icmp.set_msg_type(icmpv4::Message::EchoReply);
        icmp.set_msg_code(0);
        let sum = crate::wire::checksum::update(icmp.checksum(), old, 0);
        icmp.set_checksum(sum);
        self.counters.echo_replies += 1;
        self.output(now, frame, meta.src, io);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn per_destination_burst_of_six_then_one_per_second() {
        let cfg = IcmpConfig::default();
        let mut rl = RateLimiter::default();
        let allowed = (0..10)
            .filter(|_| rl.allow(&cfg, ms(0), 11, 0, DST))
            .count();
        assert_eq!(allowed, 6);
        assert!(!rl.allow(&cfg, ms(999), 11, 0, DST));
        assert!(rl.allow(&cfg, ms(1000), 11, 0, DST));
        assert!(
            rl.allow(&cfg, ms(1000), 11, 0, Ipv4Addr::new(10, 0, 0, 10)),
            "another destination"
        );
    }

    #[test]
    fn instance_bucket_caps_bursts_across_destinations() {
        let cfg = IcmpConfig {
            ratelimit: Duration::ZERO,
            ..IcmpConfig::default()
        };
        let mut rl = RateLimiter::default();
        let allowed = (0..100u32)
            .filter(|i| rl.allow(&cfg, ms(0), 3, 1, Ipv4Addr::from(*i)))
            .count();
        assert_eq!(allowed, 50);
        assert!(!rl.allow(&cfg, ms(0), 3, 1, DST));
        // 1000/s refills one per millisecond.
        assert!(rl.allow(&cfg, ms(1), 3, 1, DST));
    }

    #[test]
    fn unmasked_types_and_frag_needed_are_never_limited() {
        let cfg = IcmpConfig::default();
        let mut rl = RateLimiter::default();
        assert!((0..100).all(|_| rl.allow(
            &cfg,
            ms(0),
            3,
            icmpv4::dst_unreachable::FRAG_NEEDED,
            DST
        )));
        assert!((0..100).all(|_| rl.allow(&cfg, ms(0), 0, 0, DST)));
        assert!((0..100).all(|_| rl.allow(&cfg, ms(0), 200, 0, DST)));
    }
}
