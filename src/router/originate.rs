//! Packets the local application sends: echo requests and UDP datagrams (what ping,
//! traceroute and flow generators need), routed and resolved like any other.

use std::net::Ipv4Addr;

use super::Action;
use super::{Io, RouteKind, Router};
use crate::frame::Pool;
use crate::time::Instant;
use crate::wire::{ethernet, icmpv4, ipv4, udp};

const ETH: usize = ethernet::HEADER_LEN;

/// Why the application's packet could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No route, or a route that refuses (blackhole, unreachable, prohibit).
    #[error("no route to {0}")]
    NoRoute(Ipv4Addr),
    /// No interface address to send from.
    #[error("no source address for {0}")]
    NoSourceAddress(Ipv4Addr),
    /// The pool has no free buffer.
    #[error("frame pool exhausted")]
    PoolExhausted,
    /// Headers and payload do not fit one frame buffer.
    #[error("payload of {0} bytes does not fit a frame")]
    TooBig(usize),
    /// The node is a switch: it has no IP stack to send from.
    #[error("a switch sends no packets of its own")]
    NoStack,
}

/// The IP-level choices of an originated packet.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// Time to live.
    pub ttl: u8,
    /// Set Don't Fragment.
    pub dont_frag: bool,
    /// Type of service byte.
    pub tos: u8,
}

impl Default for SendOptions {
    fn default() -> SendOptions {
        SendOptions {
            ttl: 64,
            dont_frag: false,
            tos: 0,
        }
    }
}

impl Router {
    /// Send an ICMP echo request (what `ping` sends).
    #[allow(clippy::too_many_arguments)]
    pub fn send_echo_request(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        payload: &[u8],
        opts: SendOptions,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) -> Result<(), SendError> {
        let len = icmpv4::HEADER_LEN + payload.len();
        self.originate(
            now,
            dst,
            ipv4::Protocol::Icmp,
            len,
            opts,
            &mut Io { pool, out },
            |body, _| {
                let mut icmp = icmpv4::Packet::new_unchecked(body);
                icmp.set_msg_type(icmpv4::Message::EchoRequest);
                icmp.set_msg_code(0);
                icmp.set_echo_ident(ident);
                icmp.set_echo_seq_no(seq);
                icmp.data_mut().copy_from_slice(payload);
                icmp.fill_checksum();
            },
        )
    }

    /// Send a UDP datagram (what `traceroute` and flow generators send).
    #[allow(clippy::too_many_arguments)]
    pub fn send_udp(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
        opts: SendOptions,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) -> Result<(), SendError> {
        let len = udp::HEADER_LEN + payload.len();
        self.originate(
            now,
            dst,
            ipv4::Protocol::Udp,
            len,
            opts,
            &mut Io { pool, out },
            |body, src| {
                let mut u = udp::Packet::new_unchecked(body);
                u.set_src_port(src_port);
                u.set_dst_port(dst_port);
                u.set_len(len as u16);
                u.payload_mut().copy_from_slice(payload);
                u.fill_checksum(src, dst);
            },
        )
    }

    /// Build a packet of `body_len` bytes of `protocol` to `dst`, from the address the route
    /// prefers, and send it. `write` fills the body given the chosen source address.
    #[allow(clippy::too_many_arguments)]
    fn originate(
        &mut self,
        now: Instant,
        dst: Ipv4Addr,
        protocol: ipv4::Protocol,
        body_len: usize,
        opts: SendOptions,
        io: &mut Io<'_>,
        write: impl FnOnce(&mut [u8], Ipv4Addr),
    ) -> Result<(), SendError> {
        let nh = *self.fib.lookup(dst).ok_or(SendError::NoRoute(dst))?;
        if !matches!(
            nh.kind,
            RouteKind::Unicast | RouteKind::Local | RouteKind::Broadcast
        ) {
            return Err(SendError::NoRoute(dst));
        }
        let src = nh
            .src
            .or_else(|| self.iface(nh.dev?)?.select_addr(nh.gateway.unwrap_or(dst)))
            .ok_or(SendError::NoSourceAddress(dst))?;
        let mut frame = io.pool.alloc().ok_or(SendError::PoolExhausted)?;
        let total = ETH + ipv4::HEADER_LEN + body_len;
        if frame.set_len(total).is_err() {
            io.pool.free(frame);
            return Err(SendError::TooBig(body_len));
        }
        let ident = self.ident();
        let bytes = io.pool.data_mut(&frame);
        let repr = ipv4::Repr {
            src_addr: src,
            dst_addr: dst,
            protocol,
            payload_len: body_len,
            ttl: opts.ttl,
            tos: opts.tos,
            ident,
            dont_frag: opts.dont_frag,
        };
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[ETH..]));
        write(&mut bytes[ETH + ipv4::HEADER_LEN..], src);
        self.output(now, frame, dst, io);
        Ok(())
    }
}
