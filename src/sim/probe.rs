//! Ping and traceroute from a simulated node, answering like their Linux namesakes.

use core::time::Duration;
use std::net::Ipv4Addr;

use super::{NodeId, Sim};
use crate::router::{SendError, SendOptions};
use crate::wire::{ethernet, icmpv4, ipv4, udp};

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

/// traceroute's default first UDP port.
pub const TRACEROUTE_PORT: u16 = 33434;

impl Sim {
    /// Ping `dst` from `node` once with `payload_len` bytes of payload and wait up to `timeout`.
    pub fn ping(
        &mut self,
        node: NodeId,
        dst: Ipv4Addr,
        seq: u16,
        payload_len: usize,
        opts: SendOptions,
        timeout: Duration,
    ) -> Result<PingReply, SendError> {
        const IDENT: u16 = 0x5348;
        let sent = self.now;
        self.send_echo_request(node, dst, IDENT, seq, &vec![0xa5; payload_len], opts)?;
        let got = self.run_until_delivered(node, timeout, |d| match parse_icmp(&d.bytes) {
            Some(v) if v.icmp.msg_type() == icmpv4::Message::EchoReply => {
                v.icmp.echo_ident() == IDENT && v.icmp.echo_seq_no() == seq
            }
            Some(v) if v.icmp.msg_type().is_error() => quoted_echo(v.quoted) == Some((IDENT, seq)),
            _ => false,
        });
        Ok(
            match got
                .as_ref()
                .and_then(|d| parse_icmp(&d.bytes).map(|p| (d.at, p)))
            {
                Some((at, v)) => match v.icmp.msg_type() {
                    icmpv4::Message::EchoReply => PingReply::Echo {
                        rtt: at - sent,
                        ttl: v.ttl,
                    },
                    kind => PingReply::Error {
                        from: v.src,
                        kind: kind.into(),
                        code: v.icmp.msg_code(),
                    },
                },
                None => PingReply::Timeout,
            },
        )
    }

    /// Trace the path from `node` to `dst` as Linux traceroute does by default: UDP probes to
    /// port 33434 + n with TTL 1, 2, ..., one probe per hop here, until the destination answers
    /// port unreachable or `max_hops` is reached.
    pub fn traceroute(
        &mut self,
        node: NodeId,
        dst: Ipv4Addr,
        max_hops: u8,
        timeout: Duration,
    ) -> Result<Vec<Hop>, SendError> {
        const SPORT: u16 = 40000;
        let mut hops = Vec::new();
        for ttl in 1..=max_hops {
            let dport = TRACEROUTE_PORT + u16::from(ttl) - 1;
            let sent = self.now;
            let opts = SendOptions {
                ttl,
                ..SendOptions::default()
            };
            self.send_udp(node, dst, (SPORT, dport), &[0u8; 32], opts)?;
            let got = self.run_until_delivered(node, timeout, |d| {
                parse_icmp(&d.bytes).is_some_and(|v| {
                    v.icmp.msg_type().is_error()
                        && quoted_udp_ports(v.quoted) == Some((SPORT, dport))
                })
            });
            let hop = match got
                .as_ref()
                .and_then(|d| parse_icmp(&d.bytes).map(|p| (d.at, p)))
            {
                Some((at, v)) => Hop {
                    ttl,
                    from: Some(v.src),
                    rtt: Some(at - sent),
                    reached: v.icmp.msg_type() == icmpv4::Message::DstUnreachable
                        && v.icmp.msg_code() == icmpv4::dst_unreachable::PORT,
                },
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
