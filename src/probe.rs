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
    /// An ICMP error from this address: type, code, and the four bytes after the checksum
    /// (the MTU of fragmentation-needed, the pointer of a parameter problem).
    Error {
        from: Ipv4Addr,
        kind: u8,
        code: u8,
        info: u32,
    },
    /// Nothing within the timeout.
    Timeout,
}

impl PingReply {
    /// What Linux's ping (iputils) prints for an ICMP error after `From ADDR icmp_seq=N `.
    pub fn describe_error(kind: u8, code: u8, info: u32) -> String {
        let text = match (kind, code) {
            (3, 0) => "Destination Net Unreachable",
            (3, 1) => "Destination Host Unreachable",
            (3, 2) => "Destination Protocol Unreachable",
            (3, 3) => "Destination Port Unreachable",
            (3, 4) => return format!("Frag needed and DF set (mtu = {})", info & 0xffff),
            (3, 5) => "Source Route Failed",
            (3, 6) => "Destination Net Unknown",
            (3, 7) => "Destination Host Unknown",
            (3, 8) => "Source Host Isolated",
            (3, 9) => "Destination Net Prohibited",
            (3, 10) => "Destination Host Prohibited",
            (3, 11) => "Destination Net Unreachable for Type of Service",
            (3, 12) => "Destination Host Unreachable for Type of Service",
            (3, 13) => "Packet filtered",
            (3, 14) => "Precedence Violation",
            (3, 15) => "Precedence Cutoff",
            (3, c) => return format!("Dest Unreachable, Bad Code: {c}"),
            (4, _) => "Source Quench",
            (5, c) => {
                let what = match c {
                    0 => "Redirect Network",
                    1 => "Redirect Host",
                    2 => "Redirect Type of Service and Network",
                    3 => "Redirect Type of Service and Host",
                    _ => return format!("Redirect, Bad Code: {c}"),
                };
                return format!("{what}(New nexthop: {})", Ipv4Addr::from(info));
            }
            (11, 0) => "Time to live exceeded",
            (11, 1) => "Frag reassembly time exceeded",
            (11, c) => return format!("Time exceeded, Bad Code: {c}"),
            (12, _) => return format!("Parameter problem: pointer = {}", info >> 24),
            (k, c) => return format!("Bad ICMP type: {k} code {c}"),
        };
        text.to_owned()
    }
}

/// What Linux traceroute prints after the time of an answer that ends the trace other than
/// at the destination: the destination unreachable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `!N`: network unreachable or unknown, source host isolated (codes 0, 6, 8, 11).
    Net,
    /// `!H`: host unreachable or unknown (1, 7, 12).
    Host,
    /// `!P`: protocol unreachable (2).
    Protocol,
    /// `!X`: communication administratively prohibited (9, 10, 13).
    Prohibited,
    /// `!F-MTU`: fragmentation needed (4), with the next-hop MTU.
    FragNeeded(u16),
    /// `!S`: source route failed (5).
    SourceRoute,
    /// `!V`: host precedence violation (14).
    Precedence,
    /// `!C`: precedence cutoff (15).
    Cutoff,
    /// `!<code>`: any other code.
    Code(u8),
}

impl Mark {
    /// The mark for a destination unreachable with this code and rest of header, or `None`
    /// for port unreachable (the destination answered).
    pub fn of(code: u8, info: u32) -> Option<Mark> {
        Some(match code {
            0 | 6 | 8 | 11 => Mark::Net,
            1 | 7 | 12 => Mark::Host,
            2 => Mark::Protocol,
            3 => return None,
            4 => Mark::FragNeeded(info as u16),
            5 => Mark::SourceRoute,
            9 | 10 | 13 => Mark::Prohibited,
            14 => Mark::Precedence,
            15 => Mark::Cutoff,
            c => Mark::Code(c),
        })
    }
}

impl core::fmt::Display for Mark {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Mark::Net => f.write_str("!N"),
            Mark::Host => f.write_str("!H"),
            Mark::Protocol => f.write_str("!P"),
            Mark::Prohibited => f.write_str("!X"),
            Mark::FragNeeded(mtu) => write!(f, "!F-{mtu}"),
            Mark::SourceRoute => f.write_str("!S"),
            Mark::Precedence => f.write_str("!V"),
            Mark::Cutoff => f.write_str("!C"),
            Mark::Code(c) => write!(f, "!<{c}>"),
        }
    }
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
    /// True when the answer was port unreachable: the destination (or the router owning the
    /// address) answered, and the trace is done.
    pub reached: bool,
    /// An unreachable other than the port's: printed after the time, and the trace ends here
    /// too, as Linux traceroute ends it.
    pub mark: Option<Mark>,
}

impl Hop {
    /// Whether the trace stops after this hop.
    pub fn last(&self) -> bool {
        self.reached || self.mark.is_some()
    }
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
    /// The four bytes after the checksum.
    pub info: u32,
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
        let rest = v.icmp.as_ref().get(4..8).unwrap_or(&[0; 4]);
        ours.then(|| Answer {
            from: v.src,
            ttl: v.ttl,
            kind: kind.into(),
            code: v.icmp.msg_code(),
            info: u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]),
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
                info: self.info,
            }
        }
    }

    /// As traceroute reports it for hop `ttl`, after `rtt`.
    pub fn hop(&self, ttl: u8, rtt: Duration) -> Hop {
        let unreachable = self.kind == u8::from(icmpv4::Message::DstUnreachable);
        Hop {
            ttl,
            from: Some(self.from),
            rtt: Some(rtt),
            reached: unreachable && self.code == icmpv4::dst_unreachable::PORT,
            mark: unreachable
                .then(|| Mark::of(self.code, self.info))
                .flatten(),
        }
    }
}

/// Trace a path as Linux traceroute does by default: one UDP probe per TTL from 1 up, until an
/// answer ends it — port unreachable (the destination), or any other destination unreachable
/// (`!N`, `!H`, ...) — or `max_hops` is reached. `send` sends the probe for
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
                mark: None,
            },
        };
        hops.push(hop);
        if hop.last() {
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
    let ip = ipv4::Header::decode(frame.get(ethernet::HEADER_LEN..)?).ok()?;
    if ip.protocol != ipv4::Protocol::Icmp {
        return None;
    }
    let (src, ttl) = (ip.src, ip.ttl);
    let body =
        frame.get(ethernet::HEADER_LEN + ip.header_len..ethernet::HEADER_LEN + ip.total_len)?;
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
