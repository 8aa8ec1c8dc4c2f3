//! Received ARP (RFC 826) as Linux's arp_process handles it with its defaults (arp_ignore=0,
//! arp_accept=0, arp_filter=0).
//!
//! Only requests and replies about IPv4 with 6-byte hardware addresses are read (hardware type
//! 1 or 6); a target that is multicast or loopback ends it. A request from 0.0.0.0 (duplicate
//! address detection) for one of our addresses is answered and learns nothing. A request for
//! one of our addresses — on any interface — from a sender an IPv4 packet could come from (not
//! martian, not one of ours) is answered and makes the sender's entry; a request for anything
//! else from such a sender does nothing at all. Every other frame only refreshes an existing
//! entry: a reply to us confirms it, a broadcast reply or a request leaves it stale. The
//! sender's hardware address is taken as it is, multicast included, as Linux takes it.

use super::meta::{is_martian_destination, is_martian_source};
use super::neigh::Queued;
use super::{Action, DropReason, Io, Router};
use crate::frame::{Frame, Pool};
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{arp, ethernet};

const ETH: usize = ethernet::HEADER_LEN;

/// What a received ARP packet asks of the cache and of us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Answer a probe (duplicate address detection), learn nothing.
    AnswerProbe,
    /// Answer and make (or update) the sender's entry.
    AnswerAndLearn,
    /// Nothing at all.
    Ignore,
    /// A reply to us: confirm an existing entry.
    Confirm,
    /// Refresh an existing entry only.
    Refresh,
}

impl Router {
    fn arp_verdict(&self, repr: &arp::Repr, link_multicast: bool) -> Verdict {
        let (sip, tip) = (repr.source_protocol_addr, repr.target_protocol_addr);
        let for_us = self.local_addrs.contains(&tip);
        let request = repr.operation == arp::Operation::Request;
        if sip.is_unspecified() {
            return if request && for_us {
                Verdict::AnswerProbe
            } else {
                Verdict::Ignore
            };
        }
        // ip_route_input_noref(skb, tip, sip): would an IPv4 packet from sip to tip route?
        let routes = !is_martian_source(sip)
            && !self.local_addrs.contains(&sip)
            && !is_martian_destination(tip);
        match (request, routes) {
            (true, true) if for_us => Verdict::AnswerAndLearn,
            (true, true) => Verdict::Ignore,
            (false, _) if !link_multicast => Verdict::Confirm,
            _ => Verdict::Refresh,
        }
    }

    pub(crate) fn process_arp(
        &mut self,
        now: Instant,
        id: IfaceId,
        mut frame: Frame,
        link_multicast: bool,
        io: &mut Io<'_>,
    ) {
        let Some(repr) = parse_arp(io.pool.data(&frame)) else {
            return self.drop_frame(io, frame, DropReason::ArpMalformed);
        };
        let (sha, sip, tip) = (
            repr.source_hardware_addr,
            repr.source_protocol_addr,
            repr.target_protocol_addr,
        );
        match self.arp_verdict(&repr, link_multicast) {
            verdict @ (Verdict::AnswerProbe | Verdict::AnswerAndLearn) => {
                if verdict == Verdict::AnswerAndLearn {
                    let waiting = self.neigh.learn(now, id, sip, sha, true);
                    self.release(id, sha, waiting, io);
                }
                let our_mac = self.ifaces[usize::from(id.0)].mac;
                let reply = arp::Repr {
                    operation: arp::Operation::Reply,
                    source_hardware_addr: our_mac,
                    source_protocol_addr: tip,
                    target_hardware_addr: sha,
                    target_protocol_addr: sip,
                };
                if frame.set_len(ETH + arp::ETHERNET_IPV4_LEN).is_err() {
                    return self.drop_frame(io, frame, DropReason::ArpMalformed);
                }
                let bytes = io.pool.data_mut(&frame);
                reply.emit(&mut arp::Packet::new_unchecked(&mut bytes[ETH..]));
                self.counters.arp_replies += 1;
                self.counters.local += 1;
                self.transmit(id, sha, ethernet::EtherType::Arp, frame, io);
            }
            Verdict::Ignore => self.drop_frame(io, frame, DropReason::ArpIgnored),
            Verdict::Confirm => {
                io.pool.free(frame);
                match self.neigh.confirm(now, id, sip, sha) {
                    Some(waiting) => {
                        self.counters.local += 1;
                        self.release(id, sha, waiting, io)
                    }
                    None => self.counters.drops[DropReason::ArpUnsolicited as usize] += 1,
                }
            }
            Verdict::Refresh => {
                self.counters.local += 1;
                io.pool.free(frame);
                let waiting = self.neigh.learn(now, id, sip, sha, false);
                self.release(id, sha, waiting, io);
            }
        }
    }

    /// Learn from an ARP frame another replica of this instance received on interface `id`
    /// (see [`Router::replica`]), as `process_arp` would, but without answering it and without
    /// counting it. Frames that waited for the neighbour go out as actions. Malformed frames,
    /// and frames on an interface that is missing or down, are ignored.
    pub fn absorb_arp(
        &mut self,
        now: Instant,
        id: IfaceId,
        frame: &[u8],
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        let Some(repr) = parse_arp(frame) else {
            return;
        };
        if !self.ifaces.get(usize::from(id.0)).is_some_and(|i| i.up) {
            return;
        }
        let (sha, sip) = (repr.source_hardware_addr, repr.source_protocol_addr);
        let link_multicast = frame[0] & 1 != 0;
        let waiting = match self.arp_verdict(&repr, link_multicast) {
            Verdict::AnswerProbe | Verdict::Ignore => None,
            Verdict::AnswerAndLearn => Some(self.neigh.learn(now, id, sip, sha, true)),
            Verdict::Confirm => self.neigh.confirm(now, id, sip, sha),
            Verdict::Refresh => Some(self.neigh.learn(now, id, sip, sha, false)),
        };
        if let Some(waiting) = waiting {
            self.release(id, sha, waiting, &mut Io { pool, out });
        }
    }

    /// Send frames that waited for `mac`.
    fn release(
        &mut self,
        id: IfaceId,
        mac: ethernet::Address,
        waiting: Vec<Queued>,
        io: &mut Io<'_>,
    ) {
        for q in waiting {
            self.transmit(id, mac, ethernet::EtherType::Ipv4, q.frame, io);
        }
    }
}

/// The ARP packet of an Ethernet frame, if Linux reads it: well formed, a request or a reply,
/// a target that is neither multicast nor loopback.
fn parse_arp(frame: &[u8]) -> Option<arp::Repr> {
    let repr = frame
        .get(ETH..)
        .and_then(|b| arp::Packet::new_checked(b).ok())
        .and_then(|p| arp::Repr::parse(&p).ok())?;
    let tip = repr.target_protocol_addr;
    (!tip.is_multicast() && !tip.is_loopback()).then_some(repr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{Config, IfAddr};
    use std::net::Ipv4Addr;

    const OURS: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 1]);
    const PEER: ethernet::Address = ethernet::Address([2, 0, 0, 0, 0, 9]);

    fn router() -> Router {
        let mut r = Router::new(Config::default());
        for (i, name) in ["eth0", "eth1"].into_iter().enumerate() {
            let id = r.add_iface(name, OURS, 1500).unwrap();
            let addr = IfAddr::new(Ipv4Addr::new(10, i as u8, 0, 1), 24).unwrap();
            r.add_addr(id, addr).unwrap();
        }
        r
    }

    fn arp(op: arp::Operation, sha: ethernet::Address, sip: [u8; 4], tip: [u8; 4]) -> arp::Repr {
        arp::Repr {
            operation: op,
            source_hardware_addr: sha,
            source_protocol_addr: Ipv4Addr::from(sip),
            target_hardware_addr: ethernet::Address::default(),
            target_protocol_addr: Ipv4Addr::from(tip),
        }
    }

    /// What Linux 6.18 did with these in the parity harness's ARP classes.
    #[test]
    fn requests_are_answered_when_an_ipv4_packet_from_the_sender_would_be() {
        use arp::Operation::{Reply, Request};
        let r = router();
        let v = |a: arp::Repr| r.arp_verdict(&a, true);
        assert_eq!(
            v(arp(Request, PEER, [10, 0, 0, 5], [10, 0, 0, 1])),
            Verdict::AnswerAndLearn
        );
        // arp_ignore=0: any of our addresses, on any interface.
        assert_eq!(
            v(arp(Request, PEER, [10, 0, 0, 5], [10, 1, 0, 1])),
            Verdict::AnswerAndLearn
        );
        // A multicast sender MAC is taken as it is.
        let mc = ethernet::Address([1, 0, 0x5e, 0, 0, 9]);
        assert_eq!(
            v(arp(Request, mc, [10, 0, 0, 5], [10, 0, 0, 1])),
            Verdict::AnswerAndLearn
        );
        // Senders no packet may come from: our own address, loopback.
        assert_eq!(
            v(arp(Request, PEER, [10, 0, 0, 1], [10, 0, 0, 1])),
            Verdict::Refresh
        );
        assert_eq!(
            v(arp(Request, PEER, [127, 0, 0, 1], [10, 0, 0, 1])),
            Verdict::Refresh
        );
        // A subnet's broadcast address is a sender like any other.
        assert_eq!(
            v(arp(Request, PEER, [10, 0, 0, 255], [10, 0, 0, 1])),
            Verdict::AnswerAndLearn
        );
        // Someone else's address: nothing, not even a refresh.
        assert_eq!(
            v(arp(Request, PEER, [10, 0, 0, 5], [10, 0, 0, 77])),
            Verdict::Ignore
        );
        assert_eq!(
            v(arp(Request, PEER, [0, 0, 0, 0], [10, 0, 0, 1])),
            Verdict::AnswerProbe
        );
        assert_eq!(
            v(arp(Request, PEER, [0, 0, 0, 0], [10, 0, 0, 9])),
            Verdict::Ignore
        );
        assert_eq!(
            r.arp_verdict(&arp(Reply, PEER, [10, 0, 0, 5], [10, 0, 0, 1]), false),
            Verdict::Confirm
        );
        assert_eq!(
            v(arp(Reply, PEER, [10, 0, 0, 5], [10, 0, 0, 1])),
            Verdict::Refresh
        );
    }
}
