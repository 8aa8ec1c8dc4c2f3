//! Routers and hosts over simulated links on a virtual clock: ARP, ping, traceroute, MTU and
//! DF, unreachable destinations, ICMP rate limits. Deterministic and root-free.

mod common;

use std::time::Duration;

use common::{LINK_DELAY, ip, two_routers};
use shoal::router::neigh::State;
use shoal::router::{DropReason, IfaceId, SendOptions};
use shoal::sim::{PingReply, Traced};
use shoal::wire::{ethernet, icmpv4, ipv4};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn arp_resolves_and_ping_crosses_two_routers() {
    let mut n = two_routers();
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 1, 56, SendOptions::default(), SECOND)
        .unwrap();
    // Two routers each decrement the reply's TTL once.
    let PingReply::Echo { rtt, ttl } = reply else {
        panic!("no echo reply: {reply:?}")
    };
    assert_eq!(ttl, 62);
    // The first ping also waits for three ARP exchanges (h1, r1, r2 each resolve once).
    assert!(rtt >= LINK_DELAY * 6, "rtt {rtt:?}");
    let r1 = n.sim.router(n.r1);
    assert_eq!(
        r1.neighbours()
            .get(IfaceId(1), ip("10.0.12.2"))
            .map(|e| e.0),
        Some(State::Reachable)
    );
    assert!(
        r1.neighbours().get(IfaceId(0), ip("10.0.1.2")).is_some(),
        "learned from h1's request"
    );
    // Warm caches: a second ping takes exactly six link traversals.
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 2, 56, SendOptions::default(), SECOND)
        .unwrap();
    assert_eq!(
        reply,
        PingReply::Echo {
            rtt: LINK_DELAY * 6,
            ttl: 62
        }
    );
    assert_eq!(n.sim.router(n.r1).counters().forwarded, 4);
    assert_eq!(n.sim.router(n.r2).counters().forwarded, 4);
    assert_eq!(n.sim.router(n.h2).counters().echo_replies, 2);
    assert_eq!(n.sim.router(n.r1).counters().total_drops(), 0);
    assert_eq!(
        n.sim.pool().available(),
        n.sim.pool().capacity(),
        "every frame returned"
    );
}

#[test]
fn routers_answer_ping_on_every_address() {
    let mut n = two_routers();
    for (dst, ttl) in [
        ("10.0.1.1", 64),
        ("10.0.12.1", 64),
        ("10.0.12.2", 63),
        ("10.0.2.1", 63),
    ] {
        let reply = n
            .sim
            .ping(n.h1, ip(dst), 1, 8, SendOptions::default(), SECOND)
            .unwrap();
        assert!(
            matches!(reply, PingReply::Echo { ttl: t, .. } if t == ttl),
            "{dst}: {reply:?}"
        );
    }
}

#[test]
fn traceroute_lists_each_routers_ingress_address_like_linux() {
    let mut n = two_routers();
    let hops = n.sim.traceroute(n.h1, ip("10.0.2.2"), 30, SECOND).unwrap();
    let path: Vec<_> = hops.iter().map(|h| (h.ttl, h.from, h.reached)).collect();
    assert_eq!(
        path,
        [
            (1, Some(ip("10.0.1.1")), false),
            (2, Some(ip("10.0.12.2")), false),
            (3, Some(ip("10.0.2.2")), true)
        ]
    );
    let back = n.sim.traceroute(n.h2, ip("10.0.1.2"), 30, SECOND).unwrap();
    let path: Vec<_> = back.iter().map(|h| h.from).collect();
    assert_eq!(
        path,
        [
            Some(ip("10.0.2.1")),
            Some(ip("10.0.12.1")),
            Some(ip("10.0.1.2"))
        ]
    );
    // One probe of each trace expired at r1.
    assert_eq!(
        n.sim
            .router(n.r1)
            .counters()
            .dropped(DropReason::TtlExceeded),
        2
    );
    // Traceroute to a router address ends at that router with port unreachable.
    let hops = n.sim.traceroute(n.h1, ip("10.0.12.2"), 30, SECOND).unwrap();
    assert_eq!(
        hops.last().map(|h| (h.from, h.reached)),
        Some((Some(ip("10.0.12.2")), true))
    );
}

/// A traceroute to a router's far address ends there, answered from that address (Linux
/// answers from the address a datagram was sent to); one to an unreachable, prohibited or
/// missing route ends at the router that refuses it, marked as Linux traceroute marks it.
#[test]
fn traceroute_ends_at_far_addresses_and_at_unreachables_with_their_marks() {
    use shoal::probe::Mark;
    let mut n = two_routers();
    // r1's far side (10.0.12.1) is one hop away: the probe with TTL 1 is delivered there.
    let hops = n.sim.traceroute(n.h1, ip("10.0.12.1"), 30, SECOND).unwrap();
    let path: Vec<_> = hops.iter().map(|h| (h.from, h.reached)).collect();
    assert_eq!(path, [(Some(ip("10.0.12.1")), true)]);
    // r2's far side (10.0.2.1): hop 1 is r1's near side, hop 2 the far address itself.
    let hops = n.sim.traceroute(n.h1, ip("10.0.2.1"), 30, SECOND).unwrap();
    let path: Vec<_> = hops.iter().map(|h| h.from).collect();
    assert_eq!(path, [Some(ip("10.0.1.1")), Some(ip("10.0.2.1"))]);

    let r2 = n.sim.router_mut(n.r2);
    r2.add_route_str("unreachable 10.50.0.0/16").unwrap();
    r2.add_route_str("prohibit 10.51.0.0/16").unwrap();
    n.sim
        .router_mut(n.r1)
        .add_route_str("10.50.0.0/15 via 10.0.12.2")
        .unwrap();
    for (dst, mark) in [("10.50.1.1", Mark::Host), ("10.51.1.1", Mark::Prohibited)] {
        let hops = n.sim.traceroute(n.h1, ip(dst), 30, SECOND).unwrap();
        let path: Vec<_> = hops.iter().map(|h| (h.from, h.mark)).collect();
        assert_eq!(
            path,
            [
                (Some(ip("10.0.1.1")), None),
                (Some(ip("10.0.12.2")), Some(mark))
            ],
            "{dst}"
        );
    }
    // No route at r1: !N at the first hop.
    let hops = n.sim.traceroute(n.h1, ip("10.99.1.1"), 30, SECOND).unwrap();
    assert_eq!(hops.len(), 1);
    assert_eq!(hops[0].mark, Some(Mark::Net));
    assert_eq!(hops[0].mark.map(|m| m.to_string()).as_deref(), Some("!N"));
}

/// Send `len` bytes of UDP from h1 towards h2 with TTL 1 and return the ICMP error r1 answers.
fn expire_at_r1(n: &mut common::Net, len: usize) -> shoal::sim::Delivered {
    let opts = SendOptions {
        ttl: 1,
        ..SendOptions::default()
    };
    n.sim
        .send_udp(n.h1, ip("10.0.2.2"), (1234, 33434), &vec![7; len], opts)
        .unwrap();
    n.sim
        .run_until_delivered(n.h1, SECOND, |_| true)
        .expect("an ICMP error")
}

#[test]
fn time_exceeded_quotes_the_datagram_as_received() {
    let mut n = two_routers();
    n.sim.run_for(SECOND);
    let got = expire_at_r1(&mut n, 100);
    let frame = &got.bytes;
    let outer = ipv4::Packet::new_checked(&frame[14..]).unwrap();
    assert!(outer.verify_checksum());
    assert_eq!(outer.src_addr(), ip("10.0.1.1"));
    assert_eq!(outer.tos(), 0xc0, "precedence internetwork control");
    let icmp = icmpv4::Packet::new_checked(outer.payload()).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(
        (icmp.msg_type(), icmp.msg_code()),
        (icmpv4::Message::TimeExceeded, 0)
    );
    let quoted = ipv4::Packet::new_checked(icmp.data()).unwrap();
    assert_eq!(
        quoted.ttl(),
        1,
        "quoted before the decrement, as Linux does"
    );
    assert_eq!(quoted.total_len(), 20 + 8 + 100);
    assert_eq!(icmp.data().len(), 128, "whole datagram fits in 576 bytes");
    // etherparse, as an independent parser, agrees the frame is well formed.
    let parsed = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    assert!(matches!(
        parsed.transport,
        Some(etherparse::TransportSlice::Icmpv4(_))
    ));
}

#[test]
fn large_datagrams_are_quoted_up_to_576_bytes() {
    let mut n = two_routers();
    let got = expire_at_r1(&mut n, 1400);
    assert_eq!(got.bytes.len(), 14 + 576);
}

#[test]
fn df_packets_too_big_get_frag_needed_with_the_next_hop_mtu() {
    let mut n = two_routers();
    n.sim.router_mut(n.r1).set_mtu(IfaceId(1), 1000).unwrap();
    let df = SendOptions {
        dont_frag: true,
        ..SendOptions::default()
    };
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 1, 1200, df, SECOND)
        .unwrap();
    assert_eq!(
        reply,
        PingReply::Error {
            from: ip("10.0.1.1"),
            kind: 3,
            code: 4,
            info: 1000,
        }
    );
    n.sim
        .send_echo_request(n.h1, ip("10.0.2.2"), 9, 9, &[0; 1200], df)
        .unwrap();
    let got = n.sim.run_until_delivered(n.h1, SECOND, |_| true).unwrap();
    let icmp = icmpv4::Packet::new_checked(&got.bytes[34..]).unwrap();
    assert_eq!(icmp.next_hop_mtu(), 1000);
    assert_eq!(
        n.sim
            .router(n.r1)
            .counters()
            .dropped(DropReason::FragNeeded),
        2
    );
    // Fits: passes.
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 2, 1000 - 28, df, SECOND)
        .unwrap();
    assert!(matches!(reply, PingReply::Echo { .. }), "{reply:?}");
}

/// Per fragment: offset, total length, more-fragments.
type Layout = Vec<(u16, u16, bool)>;

/// Fragments seen on r1 → r2 must reassemble, by offset, into the original payload.
fn reassemble(frames: &[Traced]) -> (Layout, Vec<u8>) {
    let mut layout = Vec::new();
    let mut data = vec![0u8; 0];
    for f in frames {
        let ip = ipv4::Packet::new_checked(&f.bytes[14..]).unwrap();
        assert!(ip.verify_checksum(), "fragment checksum");
        assert!(etherparse::Ipv4HeaderSlice::from_slice(&f.bytes[14..]).is_ok());
        let off = usize::from(ip.frag_offset());
        layout.push((ip.frag_offset(), ip.total_len(), ip.more_frags()));
        if data.len() < off + ip.payload().len() {
            data.resize(off + ip.payload().len(), 0);
        }
        data[off..off + ip.payload().len()].copy_from_slice(ip.payload());
    }
    (layout, data)
}

/// Warm ARP, set the MTUs, send `len` bytes of UDP from h1 to h2 and return the fragment
/// layout and reassembled payload seen leaving `from`, with the payload that was sent.
fn fragments_seen(
    n: &mut common::Net,
    mtus: &[(shoal::sim::NodeId, u16)],
    len: u32,
    from: shoal::sim::NodeId,
) -> (Layout, Vec<u8>, Vec<u8>) {
    n.sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    for &(node, mtu) in mtus {
        n.sim.router_mut(node).set_mtu(IfaceId(1), mtu).unwrap();
    }
    n.sim.start_trace();
    let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    n.sim
        .send_udp(
            n.h1,
            ip("10.0.2.2"),
            (5000, 6000),
            &payload,
            SendOptions::default(),
        )
        .unwrap();
    n.sim.run_for(SECOND);
    let out: Vec<Traced> = n
        .sim
        .take_trace()
        .into_iter()
        .filter(|t| t.from == (from, IfaceId(1)))
        .collect();
    let (layout, data) = reassemble(&out);
    (layout, data, payload)
}

#[test]
fn df_clear_packets_are_fragmented_correctly() {
    let mut n = two_routers();
    let r1 = n.r1;
    let (layout, data, payload) = fragments_seen(&mut n, &[(r1, 576)], 1400, r1);
    // 1408 bytes of UDP in 552-byte pieces (576 - 20, rounded down to 8): 552 + 552 + 304.
    assert_eq!(
        layout,
        [(0, 572, true), (552, 572, true), (1104, 324, false)]
    );
    assert_eq!(&data[8..], &payload[..], "payload survives, in order");
    assert_eq!(n.sim.router(n.r1).counters().fragments, 3);
    // h2 reassembles the datagram (two fragments taken in, the third goes on as the datagram)
    // and answers it: no one listens on port 6000.
    let h2 = n.sim.router(n.h2).counters();
    assert_eq!((h2.reassembled, h2.held), (1, 0));
    assert_eq!(h2.dropped(DropReason::PortUnreachable), 1);
}

#[test]
fn fragmenting_a_fragment_keeps_offsets_and_more_fragments() {
    let mut n = two_routers();
    let (r1, r2) = (n.r1, n.r2);
    // h1 fragments for its own 1500-byte MTU, r1 again for 1000, r2 again for 400.
    let (layout, data, payload) = fragments_seen(&mut n, &[(r1, 1000), (r2, 400)], 1700, r2);
    assert!(
        layout
            .iter()
            .all(|&(off, len, _)| off % 8 == 0 && len <= 400)
    );
    assert_eq!(
        layout.iter().filter(|l| !l.2).count(),
        1,
        "exactly one last fragment"
    );
    assert_eq!(&data[8..], &payload[..]);
    assert_eq!(n.sim.router(n.h1).counters().fragments, 2);
    assert!(n.sim.router(n.r2).counters().fragments > 4);
}

#[test]
fn no_route_is_answered_net_unreachable() {
    let mut n = two_routers();
    let reply = n
        .sim
        .ping(n.h1, ip("10.99.0.1"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    assert_eq!(
        reply,
        PingReply::Error {
            from: ip("10.0.1.1"),
            kind: 3,
            code: 0,
            info: 0,
        }
    );
    assert_eq!(
        n.sim.router(n.r1).counters().dropped(DropReason::NoRoute),
        1
    );
}

#[test]
fn route_kinds_unreachable_prohibit_blackhole() {
    let mut n = two_routers();
    let r1 = n.sim.router_mut(n.r1);
    r1.add_route_str("unreachable 10.50.0.0/16").unwrap();
    r1.add_route_str("prohibit 10.51.0.0/16").unwrap();
    r1.add_route_str("blackhole 10.52.0.0/16").unwrap();
    let ping = |n: &mut common::Net, dst| {
        n.sim
            .ping(n.h1, ip(dst), 1, 8, SendOptions::default(), SECOND)
            .unwrap()
    };
    assert_eq!(
        ping(&mut n, "10.50.1.1"),
        PingReply::Error {
            from: ip("10.0.1.1"),
            kind: 3,
            code: 1,
            info: 0,
        }
    );
    assert_eq!(
        ping(&mut n, "10.51.1.1"),
        PingReply::Error {
            from: ip("10.0.1.1"),
            kind: 3,
            code: 13,
            info: 0,
        }
    );
    assert_eq!(ping(&mut n, "10.52.1.1"), PingReply::Timeout);
    let c = n.sim.router(n.r1).counters();
    assert_eq!(
        (
            c.dropped(DropReason::Unreachable),
            c.dropped(DropReason::Prohibited),
            c.dropped(DropReason::Blackhole)
        ),
        (1, 1, 1)
    );
}

#[test]
fn unresolvable_next_hop_gets_host_unreachable_after_three_arp_tries() {
    let mut n = two_routers();
    n.sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    let before = n.sim.router(n.r2).counters().arp_requests;
    let sent = n.sim.now();
    let reply = n
        .sim
        .ping(
            n.h1,
            ip("10.0.2.77"),
            2,
            8,
            SendOptions::default(),
            5 * SECOND,
        )
        .unwrap();
    assert_eq!(
        reply,
        PingReply::Error {
            from: ip("10.0.12.2"),
            kind: 3,
            code: 1,
            info: 0,
        }
    );
    assert_eq!(n.sim.router(n.r2).counters().arp_requests - before, 3);
    assert!(n.sim.now() - sent >= 3 * SECOND);
    assert_eq!(
        n.sim
            .router(n.r2)
            .counters()
            .dropped(DropReason::NeighFailed),
        1
    );
    assert!(
        n.sim
            .router(n.r2)
            .neighbours()
            .get(IfaceId(1), ip("10.0.2.77"))
            .is_none()
    );
}

#[test]
fn icmp_errors_are_rate_limited_per_destination() {
    let mut n = two_routers();
    n.sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    let opts = SendOptions {
        ttl: 1,
        ..SendOptions::default()
    };
    for port in 0..10 {
        n.sim
            .send_udp(n.h1, ip("10.0.2.2"), (1, 33434 + port), &[], opts)
            .unwrap();
    }
    n.sim.run_for(Duration::from_millis(10));
    let errors = n.sim.take_inbox(n.h1).len();
    assert_eq!(errors, 6, "Linux's burst of six per destination");
    let c = n.sim.router(n.r1).counters();
    assert_eq!(
        (c.icmp_rate_limited, c.dropped(DropReason::TtlExceeded)),
        (4, 10)
    );
    n.sim.run_for(SECOND);
    n.sim
        .send_udp(n.h1, ip("10.0.2.2"), (1, 40000), &[], opts)
        .unwrap();
    n.sim.run_for(Duration::from_millis(10));
    assert_eq!(
        n.sim.take_inbox(n.h1).len(),
        1,
        "a token back after a second"
    );
}

#[test]
fn udp_to_a_closed_port_gets_port_unreachable_and_listeners_get_data() {
    let mut n = two_routers();
    let opts = SendOptions::default();
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, opts, SECOND)
        .unwrap();
    assert!(matches!(reply, PingReply::Echo { .. }));
    n.sim.router_mut(n.h2).listen_udp(9000);
    n.sim
        .send_udp(n.h1, ip("10.0.2.2"), (1000, 9000), b"hello", opts)
        .unwrap();
    let got = n
        .sim
        .run_until_delivered(n.h2, SECOND, |_| true)
        .expect("delivered");
    assert_eq!(&got.bytes[42..], b"hello");
    n.sim
        .send_udp(n.h1, ip("10.0.2.2"), (1000, 9001), b"hello", opts)
        .unwrap();
    let got = n
        .sim
        .run_until_delivered(n.h1, SECOND, |_| true)
        .expect("port unreachable");
    let icmp = icmpv4::Packet::new_checked(&got.bytes[34..]).unwrap();
    assert_eq!(
        (icmp.msg_type(), icmp.msg_code()),
        (icmpv4::Message::DstUnreachable, 3)
    );
}

#[test]
fn hosts_do_not_forward() {
    let mut n = two_routers();
    n.sim
        .router_mut(n.r1)
        .add_route_str("10.77.0.0/16 via 10.0.1.2")
        .unwrap();
    let reply = n
        .sim
        .ping(n.r1, ip("10.77.0.1"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    assert_eq!(reply, PingReply::Timeout);
    assert_eq!(
        n.sim
            .router(n.h1)
            .counters()
            .dropped(DropReason::NotForwarding),
        1
    );
}

#[test]
fn ping_own_address_loops_back() {
    let mut n = two_routers();
    let reply = n
        .sim
        .ping(n.r1, ip("10.0.12.1"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    assert_eq!(
        reply,
        PingReply::Echo {
            rtt: Duration::ZERO,
            ttl: 64
        }
    );
}

#[test]
fn admin_down_interfaces_drop_and_withdraw_their_routes() {
    let mut n = two_routers();
    n.sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    let mut pool = shoal::frame::Pool::new(1).unwrap();
    n.sim
        .router_mut(n.r2)
        .set_iface_up(IfaceId(1), false, &mut pool)
        .unwrap();
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 2, 8, SendOptions::default(), SECOND)
        .unwrap();
    assert_eq!(
        reply,
        PingReply::Error {
            from: ip("10.0.12.2"),
            kind: 3,
            code: 0,
            info: 0,
        },
        "connected route gone"
    );
    n.sim
        .router_mut(n.r2)
        .set_iface_up(IfaceId(1), true, &mut pool)
        .unwrap();
    let reply = n
        .sim
        .ping(n.h1, ip("10.0.2.2"), 3, 8, SendOptions::default(), SECOND)
        .unwrap();
    assert!(matches!(reply, PingReply::Echo { .. }), "{reply:?}");
}

#[test]
fn unsolicited_arp_replies_create_no_entry() {
    let mut n = two_routers();
    let mut frame = vec![0u8; 42];
    let mut eth = ethernet::Frame::new_unchecked(&mut frame[..]);
    eth.set_dst_addr(n.sim.router(n.r1).ifaces()[0].mac());
    eth.set_src_addr(ethernet::Address([2, 9, 9, 9, 9, 9]));
    eth.set_ethertype(ethernet::EtherType::Arp);
    let reply = shoal::wire::arp::Repr {
        operation: shoal::wire::arp::Operation::Reply,
        source_hardware_addr: ethernet::Address([2, 9, 9, 9, 9, 9]),
        source_protocol_addr: ip("10.0.1.99"),
        target_hardware_addr: n.sim.router(n.r1).ifaces()[0].mac(),
        target_protocol_addr: ip("10.0.1.1"),
    };
    reply.emit(&mut shoal::wire::arp::Packet::new_unchecked(
        &mut frame[14..],
    ));
    n.sim.inject((n.r1, IfaceId(0)), &frame);
    n.sim.run_for(SECOND);
    assert!(n.sim.router(n.r1).neighbours().is_empty());
    assert_eq!(
        n.sim
            .router(n.r1)
            .counters()
            .dropped(DropReason::ArpUnsolicited),
        1
    );
}

#[test]
fn arp_entries_age_out_when_unused() {
    let mut n = two_routers();
    n.sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    assert!(!n.sim.router(n.r1).neighbours().is_empty());
    n.sim.run_for(Duration::from_secs(120));
    assert!(n.sim.router(n.r1).neighbours().is_empty());
    assert_eq!(
        n.sim.router(n.r1).poll_timeout(),
        None,
        "an idle router has no timer"
    );
}

#[test]
fn record_route_collects_each_routers_egress_address() {
    let mut n = two_routers();
    n.sim
        .ping(n.h1, ip("10.0.2.2"), 1, 8, SendOptions::default(), SECOND)
        .unwrap();
    n.sim.router_mut(n.h2).listen_udp(7);
    let r1_mac = n.sim.router(n.r1).ifaces()[0].mac();
    let h1_mac = n.sim.router(n.h1).ifaces()[0].mac();
    let mut plain = Vec::new();
    etherparse::PacketBuilder::ethernet2(h1_mac.0, r1_mac.0)
        .ipv4([10, 0, 1, 2], [10, 0, 2, 2], 64)
        .udp(7, 7)
        .write(&mut plain, b"rr")
        .unwrap();
    // NOP, then Record Route with room for two addresses: IHL 8.
    let mut f = plain[..34].to_vec();
    f.extend_from_slice(&[1, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&plain[34..]);
    f[14] = 0x48;
    let total = (f.len() - 14) as u16;
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f[24..26].copy_from_slice(&[0, 0]);
    let sum = !shoal::wire::checksum::data(&f[14..46]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    n.sim.inject((n.r1, IfaceId(0)), &f);
    let got = n
        .sim
        .run_until_delivered(n.h2, SECOND, |_| true)
        .expect("delivered");
    let ip4 = ipv4::Packet::new_checked(&got.bytes[14..]).unwrap();
    assert!(ip4.verify_checksum());
    assert_eq!(ip4.options(), &[1, 7, 11, 12, 10, 0, 12, 1, 10, 0, 2, 1]);
    assert_eq!(ip4.ttl(), 62);
}
