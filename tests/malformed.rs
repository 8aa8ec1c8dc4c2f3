//! Every class of malformed or unwanted frame yields exactly one counted drop — never a panic,
//! never a lost buffer. Valid frames are built with etherparse (an independent implementation)
//! and then damaged one field at a time.

mod common;

use std::time::Duration;

use common::{ip, two_routers};
use shoal::router::{DropReason, IfaceId};
use shoal::wire::checksum;

/// A valid UDP frame from h1 to h2 as r1 receives it on eth0.
fn valid_frame(n: &common::Net) -> Vec<u8> {
    let r1_mac = n.sim.router(n.r1).ifaces()[0].mac();
    let h1_mac = n.sim.router(n.h1).ifaces()[0].mac();
    let builder = etherparse::PacketBuilder::ethernet2(h1_mac.0, r1_mac.0)
        .ipv4([10, 0, 1, 2], [10, 0, 2, 2], 64)
        .udp(4000, 5000);
    let mut out = Vec::new();
    builder.write(&mut out, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    out
}

/// Rewrite the IPv4 header checksum after a deliberate change, so only that change is wrong.
fn fix_checksum(frame: &mut [u8]) {
    let hl = usize::from(frame[14] & 0x0f) * 4;
    frame[24..26].copy_from_slice(&[0, 0]);
    let end = (14 + hl).min(frame.len());
    let sum = !checksum::data(&frame[14..end]);
    frame[24..26].copy_from_slice(&sum.to_be_bytes());
}

fn arp_request(n: &common::Net) -> Vec<u8> {
    let h1_mac = n.sim.router(n.h1).ifaces()[0].mac();
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&h1_mac.0);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&h1_mac.0);
    f.extend_from_slice(&[10, 0, 1, 2, 0, 0, 0, 0, 0, 0, 10, 0, 1, 1]);
    f
}

/// Inject `frame` into r1's eth0 and expect one drop for `reason` and nothing else.
fn expect_drop(frame: &[u8], reason: DropReason) {
    let mut n = two_routers();
    let before = n.sim.router(n.r1).counters().clone();
    assert!(n.sim.inject((n.r1, IfaceId(0)), frame));
    n.sim.run_for(Duration::from_secs(5));
    let after = n.sim.router(n.r1).counters();
    assert_eq!(
        after.dropped(reason) - before.dropped(reason),
        1,
        "{reason} for {frame:02x?}"
    );
    assert_eq!(
        after.total_drops() - before.total_drops(),
        1,
        "only {reason}: {after:?}"
    );
    assert_eq!(
        after.tx_frames, before.tx_frames,
        "nothing sent for {reason}"
    );
    assert_eq!(
        n.sim.pool().available(),
        n.sim.pool().capacity(),
        "buffer returned"
    );
    // Every frame is forwarded, delivered locally, dropped or held.
    assert_eq!(
        after.rx_frames,
        after.forwarded + after.delivered_locally() + after.total_drops() + after.held,
        "{after:?}"
    );
}

#[test]
fn the_valid_frame_is_forwarded() {
    let mut n = two_routers();
    let f = valid_frame(&n);
    n.sim.inject((n.r1, IfaceId(0)), &f);
    n.sim.run_for(Duration::from_secs(1));
    // The datagram, then h2's port unreachable on its way back.
    assert_eq!(n.sim.router(n.r1).counters().forwarded, 2);
    assert_eq!(n.sim.router(n.r1).counters().total_drops(), 0);
}

#[test]
fn truncated_ethernet() {
    let n = two_routers();
    let f = valid_frame(&n);
    for len in [0, 1, 6, 13] {
        expect_drop(&f[..len], DropReason::EthernetTruncated);
    }
}

#[test]
fn truncated_ipv4() {
    let n = two_routers();
    let f = valid_frame(&n);
    for len in [14, 15, 20, 33] {
        expect_drop(&f[..len], DropReason::Ipv4Truncated);
    }
}

#[test]
fn bad_version() {
    let n = two_routers();
    let mut f = valid_frame(&n);
    f[14] = 0x65;
    fix_checksum(&mut f);
    expect_drop(&f, DropReason::Ipv4BadVersion);
}

#[test]
fn ihl_below_five() {
    let n = two_routers();
    for ihl in 0..5u8 {
        let mut f = valid_frame(&n);
        f[14] = 0x40 | ihl;
        expect_drop(&f, DropReason::Ipv4BadHeaderLen);
    }
}

#[test]
fn ihl_beyond_the_frame() {
    let n = two_routers();
    let mut f = valid_frame(&n);
    f.truncate(14 + 24);
    f[14] = 0x4f;
    expect_drop(&f, DropReason::Ipv4BadHeaderLen);
}

#[test]
fn total_length_beyond_the_frame_or_below_the_header() {
    let n = two_routers();
    for total in [19u16, 200, 65535] {
        let mut f = valid_frame(&n);
        f[16..18].copy_from_slice(&total.to_be_bytes());
        fix_checksum(&mut f);
        expect_drop(&f, DropReason::Ipv4BadTotalLen);
    }
}

#[test]
fn bad_header_checksum() {
    let n = two_routers();
    let mut f = valid_frame(&n);
    f[24] ^= 0x01;
    expect_drop(&f, DropReason::Ipv4BadChecksum);
}

#[test]
fn non_ipv4_ethertypes() {
    let n = two_routers();
    for ethertype in [[0x86, 0xdd], [0x12, 0x34], [0x88, 0xcc], [0x00, 0x2e]] {
        let mut f = valid_frame(&n);
        f[12..14].copy_from_slice(&ethertype);
        expect_drop(&f, DropReason::UnsupportedEtherType);
    }
}

#[test]
fn vlan_tagged() {
    let n = two_routers();
    let f = valid_frame(&n);
    let mut tagged = f[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    tagged.extend_from_slice(&f[12..]);
    expect_drop(&tagged, DropReason::VlanTagged);
    expect_drop(&tagged[..15], DropReason::EthernetTruncated);
}

#[test]
fn arp_with_wrong_lengths_or_types() {
    let n = two_routers();
    let good = arp_request(&n);
    // Hardware type 6 (IEEE 802) is Ethernet to Linux; 7 is not.
    for (at, value) in [(18, 8u8), (19, 2), (19, 16), (15, 7), (16, 0x86)] {
        let mut f = good.clone();
        f[at] = value;
        expect_drop(&f, DropReason::ArpMalformed);
    }
    expect_drop(&good[..30], DropReason::ArpMalformed);
    // hlen 255 promises far more than the frame has.
    let mut f = good.clone();
    f[18] = 255;
    expect_drop(&f, DropReason::ArpMalformed);
}

#[test]
fn martian_sources() {
    let n = two_routers();
    // 0.1.2.3 is unicast since Linux 5.3 (only 0.0.0.0 of 0/8 is martian).
    for src in [
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "10.0.12.1",
    ] {
        let mut f = valid_frame(&n);
        f[26..30].copy_from_slice(&ip(src).octets());
        fix_checksum(&mut f);
        expect_drop(&f, DropReason::MartianSource);
    }
}

#[test]
fn martian_and_multicast_destinations() {
    let n = two_routers();
    for (dst, reason) in [
        ("127.0.0.1", DropReason::MartianDestination),
        ("0.0.0.0", DropReason::MartianDestination),
        ("239.1.1.1", DropReason::Multicast),
    ] {
        let mut f = valid_frame(&n);
        f[30..34].copy_from_slice(&ip(dst).octets());
        fix_checksum(&mut f);
        expect_drop(&f, reason);
    }
}

#[test]
fn frames_for_another_host_or_link_broadcast_unicast() {
    let n = two_routers();
    let mut f = valid_frame(&n);
    f[..6].copy_from_slice(&[0x02, 9, 9, 9, 9, 9]);
    expect_drop(&f, DropReason::OtherHost);
    // A unicast IP packet in a broadcast frame is not forwarded (and earns no ICMP error).
    let mut f = valid_frame(&n);
    f[..6].copy_from_slice(&[0xff; 6]);
    expect_drop(&f, DropReason::LinkBroadcast);
}

#[test]
fn source_routed_packets() {
    let n = two_routers();
    let f = valid_frame(&n);
    // Insert a loose source route option (and NOP padding) after the fixed header.
    let mut g = f[..34].to_vec();
    g.extend_from_slice(&[131, 7, 4, 10, 0, 2, 2, 1]);
    g.extend_from_slice(&f[34..]);
    g[14] = 0x47;
    let total = (g.len() - 14) as u16;
    g[16..18].copy_from_slice(&total.to_be_bytes());
    fix_checksum(&mut g);
    expect_drop(&g, DropReason::SourceRoute);
}

#[test]
fn icmp_and_udp_to_the_router_with_bad_checksums() {
    let n = two_routers();
    let r1_mac = n.sim.router(n.r1).ifaces()[0].mac();
    let h1_mac = n.sim.router(n.h1).ifaces()[0].mac();
    let mut ping = Vec::new();
    etherparse::PacketBuilder::ethernet2(h1_mac.0, r1_mac.0)
        .ipv4([10, 0, 1, 2], [10, 0, 1, 1], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut ping, &[0; 8])
        .unwrap();
    let mut short = ping[..14 + 20 + 4].to_vec();
    short[16..18].copy_from_slice(&24u16.to_be_bytes());
    fix_checksum(&mut short);
    expect_drop(&short, DropReason::IcmpMalformed);
    ping[36] ^= 0xff;
    expect_drop(&ping, DropReason::IcmpMalformed);
    let mut udp = Vec::new();
    etherparse::PacketBuilder::ethernet2(h1_mac.0, r1_mac.0)
        .ipv4([10, 0, 1, 2], [10, 0, 1, 1], 64)
        .udp(1, 2)
        .write(&mut udp, &[0; 8])
        .unwrap();
    udp[40] ^= 0xff;
    expect_drop(&udp, DropReason::UdpMalformed);
}

#[test]
fn no_error_about_an_icmp_error() {
    // An ICMP time-exceeded message whose own TTL runs out at r1: dropped, not answered.
    let n = two_routers();
    let r1_mac = n.sim.router(n.r1).ifaces()[0].mac();
    let h1_mac = n.sim.router(n.h1).ifaces()[0].mac();
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2(h1_mac.0, r1_mac.0)
        .ipv4([10, 0, 1, 2], [10, 0, 2, 2], 1)
        .icmpv4(etherparse::Icmpv4Type::TimeExceeded(
            etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit,
        ))
        .write(&mut f, &[0x45; 28])
        .unwrap();
    expect_drop(&f, DropReason::TtlExceeded);
}

#[test]
fn no_error_about_a_non_first_fragment() {
    let n = two_routers();
    let mut f = valid_frame(&n);
    f[22] = 1; // TTL 1
    f[20..22].copy_from_slice(&[0x00, 0x10]); // offset 128 bytes
    fix_checksum(&mut f);
    expect_drop(&f, DropReason::TtlExceeded);
}

#[test]
fn echo_to_a_broadcast_address_is_ignored() {
    let n = two_routers();
    let r1_mac = n.sim.router(n.r1).ifaces()[0].mac();
    let h1_mac = n.sim.router(n.h1).ifaces()[0].mac();
    for (dst_mac, dst_ip) in [
        (r1_mac.0, [10, 0, 1, 255]),
        ([0xff; 6], [255, 255, 255, 255]),
    ] {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(h1_mac.0, dst_mac)
            .ipv4([10, 0, 1, 2], dst_ip, 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut f, &[0; 8])
            .unwrap();
        expect_drop(&f, DropReason::EchoBroadcast);
    }
}

#[test]
fn random_bytes_never_panic_and_never_leak() {
    // A cheap deterministic fuzz pass in CI; the cargo-fuzz target goes much further.
    let mut n = two_routers();
    let base = valid_frame(&n);
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut f = base.clone();
        let len = (next() % 100) as usize;
        f.truncate(len.max(1));
        for _ in 0..(next() % 6) {
            let i = (next() as usize) % f.len();
            f[i] = next() as u8;
        }
        let iface = IfaceId((next() % 2) as u16);
        n.sim.inject((n.r1, iface), &f);
        n.sim.run_for(Duration::from_millis(1));
    }
    n.sim.run_for(Duration::from_secs(300));
    assert_eq!(n.sim.pool().available(), n.sim.pool().capacity());
}
