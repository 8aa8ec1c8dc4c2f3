//! Ping and traceroute probes, and recognising the answers to them — shared by the simulator and
//! the engine, which differ only in how time passes.
//!
//! A [`Probe`] is what was sent: an echo request (matched by identifier and sequence number) or
//! a UDP datagram (matched by its ports, as Linux traceroute matches). An answer is an echo reply
//! for an echo, or any ICMP error whose quoted datagram is the probe (RFC 792 quotes the header
//! and the first 8 bytes, enough for both).

use core::time::Duration;
use std::net::Ipv4Addr;

use crate::wire::{ethernet, icmpv4, ipv4, udp};

/// traceroute's default first UDP port.
pub const TRACEROUTE_PORT: u16 = 33434;
/// The identifier shoal's pings carry.
pub const PING_IDENT: u16 = 0x5348;
/// The source port of shoal's traceroute probes.
pub const TRACE_SPORT: u16 = 40000;

/// What one ping probe got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingReply {
    /// An echo reply after this round-trip time, with the reply's TTL.
    Echo { rtt: Duration, ttl: u8 },
    /// An ICMP error from this address (type, code).
    Error { from: Ipv4Addr, kind: u8, code: u8 },
    /// Nothing within the timeout.
    Timeout,
}

/// One traceroute hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Probe TTL.
    pub ttl: u8,
    /// Who answered, if anyone.
    pub from: Option<Ipv4Addr>,
    /// Round trip of the answer.
    pub rtt: Option<Duration>,
    /// True when the answer was port unreachable from the destination: the trace is done.
    pub reached: bool,
}

/// A probe that was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// An echo request.
    Echo { ident: u16, seq: u16 },
    /// A UDP datagram.
    Udp { sport: u16, dport: u16 },
}

/// An ICMP message that answers a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Who sent it.
    pub from: Ipv4Addr,
    /// Its TTL on arrival.
    pub ttl: u8,
    /// ICMP type.
    pub kind: u8,
    /// ICMP code.
    pub code: u8,
}

impl Probe {
    /// The traceroute probe for hop `ttl`: from port 40000 to 33434 + ttl - 1.
    pub fn trace(ttl: u8) -> Probe {
        Probe::Udp {
            sport: TRACE_SPORT,
            dport: TRACEROUTE_PORT + u16::from(ttl).saturating_sub(1),
        }
    }

    /// The ports of a UDP probe (zero for an echo).
    pub fn ports(&self) -> (u16, u16) {
        match *self {
            Probe::Udp { sport, dport } => (sport, dport),
            Probe::Echo { .. } => (0, 0),
        }
    }

    /// If `frame` (Ethernet header first) answers this probe, what it says.
    pub fn answer(&self, frame: &[u8]) -> Option<Answer> {
        let v = parse_icmp(frame)?;
        let kind = v.icmp.msg_type();
        let ours = match *self {
            Probe::Echo { ident, seq } if kind == icmpv4::Message::EchoReply => {
                v.icmp.echo_ident() == ident && v.icmp.echo_seq_no() == seq
            }
            Probe::Echo { ident, seq } => {
                kind.is_error() && quoted_echo(v.quoted) == Some((ident, seq))
            }
            Probe::Udp { sport, dport } => {
                kind.is_error() && quoted_udp_ports(v.quoted) == Some((sport, dport))
            }
        };
        ours.then(|| Answer {
            from: v.src,
            ttl: v.ttl,
            kind: kind.into(),
            code: v.icmp.msg_code(),
        })
    }
}

impl Answer {
    /// As ping reports it, after `rtt`.
    pub fn ping(&self, rtt: Duration) -> PingReply {
        if self.kind == u8::from(icmpv4::Message::EchoReply) {
            PingReply::Echo { rtt, ttl: self.ttl }
        } else {
            PingReply::Error {
                from: self.from,
                kind: self.kind,
                code: self.code,
            }
        }
    }

    /// As traceroute reports it for hop `ttl`, after `rtt`.
    pub fn hop(&self, ttl: u8, rtt: Duration) -> Hop {
        let reached = self.kind == u8::from(icmpv4::Message::DstUnreachable)
            && self.code == icmpv4::dst_unreachable::PORT;
        Hop {
            ttl,
            from: Some(self.from),
            rtt: Some(rtt),
            reached,
        }
    }
}

/// Trace a path as Linux traceroute does by default: one UDP probe per TTL from 1 up, until the
/// destination answers port unreachable or `max_hops` is reached. `send` sends the probe for
/// one TTL and returns its answer with the round-trip time, or `None` after its timeout.
pub fn trace<E>(
    max_hops: u8,
    mut send: impl FnMut(u8, Probe) -> Result<Option<(Answer, Duration)>, E>,
) -> Result<Vec<Hop>, E> {
    let mut hops = Vec::new();
    for ttl in 1..=max_hops {
        let hop = match send(ttl, Probe::trace(ttl))? {
            Some((answer, rtt)) => answer.hop(ttl, rtt),
            None => Hop {
                ttl,
                from: None,
                rtt: None,
                reached: false,
            },
        };
        hops.push(hop);
        if hop.reached {
            break;
        }
    }
    Ok(hops)
}

/// An ICMP message as a node's application sees it.
struct IcmpView<'a> {
    src: Ipv4Addr,
    ttl: u8,
    icmp: icmpv4::Packet<&'a [u8]>,
    /// For errors, the datagram quoted.
    quoted: &'a [u8],
}

fn parse_icmp(frame: &[u8]) -> Option<IcmpView<'_>> {
    let ip = ipv4::Packet::new_checked(frame.get(ethernet::HEADER_LEN..)?).ok()?;
    if ip.protocol() != ipv4::Protocol::Icmp {
        return None;
    }
    let (src, ttl) = (ip.src_addr(), ip.ttl());
    let body = frame.get(
        ethernet::HEADER_LEN + ip.header_len()..ethernet::HEADER_LEN + usize::from(ip.total_len()),
    )?;
    let icmp = icmpv4::Packet::new_checked(body).ok()?;
    let quoted = body.get(icmpv4::HEADER_LEN..)?;
    Some(IcmpView {
        src,
        ttl,
        icmp,
        quoted,
    })
}

fn quoted_transport(quoted: &[u8], protocol: ipv4::Protocol) -> Option<&[u8]> {
    let ip = ipv4::Packet::new_unchecked(quoted);
    (quoted.len() >= ipv4::HEADER_LEN && ip.protocol() == protocol)
        .then(|| quoted.get(ip.header_len()..))
        .flatten()
}

fn quoted_echo(quoted: &[u8]) -> Option<(u16, u16)> {
    let icmp = icmpv4::Packet::new_checked(quoted_transport(quoted, ipv4::Protocol::Icmp)?).ok()?;
    Some((icmp.echo_ident(), icmp.echo_seq_no()))
}

fn quoted_udp_ports(quoted: &[u8]) -> Option<(u16, u16)> {
    let t = quoted_transport(quoted, ipv4::Protocol::Udp)?;
    (t.len() >= 4).then(|| {
        let u = udp::Packet::new_unchecked(t);
        (u.src_port(), u.dst_port())
    })
}
