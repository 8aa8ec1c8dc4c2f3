//! Ping and traceroute from a simulated node, answering like their Linux namesakes.

use core::time::Duration;
use std::net::Ipv4Addr;

use super::{NodeId, Sim};
use crate::probe::{Hop, PING_IDENT, PingReply, Probe};
use crate::router::{SendError, SendOptions};

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
        let probe = Probe::Echo {
            ident: PING_IDENT,
            seq,
        };
        let sent = self.now();
        self.send_echo_request(node, dst, PING_IDENT, seq, &vec![0xa5; payload_len], opts)?;
        let got = self.run_until_delivered(node, timeout, |d| probe.answer(&d.bytes).is_some());
        Ok(
            match got.and_then(|d| probe.answer(&d.bytes).map(|a| (d.at, a))) {
                Some((at, answer)) => answer.ping(at - sent),
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
        crate::probe::trace(max_hops, |ttl, probe| {
            let sent = self.now();
            let opts = SendOptions {
                ttl,
                ..SendOptions::default()
            };
            self.send_udp(node, dst, probe.ports(), &[0u8; 32], opts)?;
            let got = self.run_until_delivered(node, timeout, |d| probe.answer(&d.bytes).is_some());
            Ok(got.and_then(|d| probe.answer(&d.bytes).map(|a| (a, d.at - sent))))
        })
    }
}
