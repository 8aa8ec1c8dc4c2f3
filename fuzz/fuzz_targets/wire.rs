//! Fuzz the `shoal::wire` views: arbitrary bytes through every `new_checked`, every getter and
//! every `Repr::parse`.
//!
//! The input is tried as each protocol at once (Ethernet, ARP, IPv4, ICMPv4, UDP), and also at
//! the offset where that protocol sits in an Ethernet frame, so the real frames of the seed
//! corpus exercise every layer. Nothing may panic, on checked or unchecked views (the module
//! promises getters never panic either way). On a checked view the lengths the getters report
//! must agree with the buffer, and a parsed `Repr` must survive `emit` and `parse` unchanged.

#![no_main]

use std::hint::black_box;
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use shoal::wire::{arp, checksum, ethernet, icmpv4, ipv4, udp};

fuzz_target!(|data: &[u8]| {
    for bytes in [data, data.get(ethernet::HEADER_LEN..).unwrap_or(&[])] {
        arp_view(bytes);
        ipv4_view(bytes);
    }
    ethernet_view(data);
    // The transport header after an IPv4 header (or from the start, for bytes that are not one).
    let transport = ipv4::Packet::new_checked(data.get(ethernet::HEADER_LEN..).unwrap_or(&[]))
        .ok()
        .and_then(|ip| {
            let start = ethernet::HEADER_LEN + ip.header_len();
            data.get(start..ethernet::HEADER_LEN + usize::from(ip.total_len()))
        });
    for bytes in [data, transport.unwrap_or(&[])] {
        icmpv4_view(bytes);
        udp_view(bytes);
    }
    black_box(checksum::data(data));
    let mut dst = [0u8; 40];
    let n = data.first().map_or(0, |&b| usize::from(b) % 41);
    let copied = ipv4::copy_fragment_options(data, &mut dst[..n]);
    assert!(
        copied <= n && copied.is_multiple_of(4),
        "copied {copied} option bytes into {n}"
    );
});

fn ethernet_view(bytes: &[u8]) {
    let unchecked = ethernet::Frame::new_unchecked(bytes);
    ethernet_getters(&unchecked);
    if let Ok(frame) = ethernet::Frame::new_checked(bytes) {
        let header_len = ethernet_getters(&frame);
        assert_eq!(frame.payload().len(), bytes.len() - header_len);
        assert_eq!(frame.vlan().is_some(), header_len > ethernet::HEADER_LEN);
    }
}

fn ethernet_getters(f: &ethernet::Frame<&[u8]>) -> usize {
    black_box((f.dst_addr(), f.src_addr(), f.ethertype(), f.vlan()));
    black_box((f.payload_ethertype(), f.payload()));
    f.header_len()
}

fn arp_view(bytes: &[u8]) {
    let unchecked = arp::Packet::new_unchecked(bytes);
    arp_getters(&unchecked);
    let repr_unchecked = arp::Repr::parse(&unchecked);
    if let Ok(p) = arp::Packet::new_checked(bytes) {
        arp_getters(&p);
        let (hlen, plen) = (usize::from(p.hardware_len()), usize::from(p.protocol_len()));
        assert_eq!(p.source_hardware_addr().len(), hlen);
        assert_eq!(p.target_hardware_addr().len(), hlen);
        assert_eq!(p.source_protocol_addr().len(), plen);
        assert_eq!(p.target_protocol_addr().len(), plen);
        assert_eq!(arp::Repr::parse(&p), repr_unchecked);
    }
    if let Ok(repr) = repr_unchecked {
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
        let again = arp::Packet::new_checked(&buf[..]).map(|p| arp::Repr::parse(&p));
        assert_eq!(again, Ok(Ok(repr)), "ARP repr does not round-trip");
    }
}

fn arp_getters(p: &arp::Packet<&[u8]>) {
    black_box((
        p.hardware_type(),
        p.protocol_type(),
        p.hardware_len(),
        p.protocol_len(),
    ));
    black_box(p.operation());
    black_box((p.source_hardware_addr(), p.source_protocol_addr()));
    black_box((p.target_hardware_addr(), p.target_protocol_addr()));
}

fn ipv4_view(bytes: &[u8]) {
    let unchecked = ipv4::Packet::new_unchecked(bytes);
    ipv4_getters(&unchecked);
    let repr_unchecked = ipv4::Repr::parse(&unchecked);
    if let Ok(p) = ipv4::Packet::new_checked(bytes) {
        ipv4_getters(&p);
        let (header_len, total_len) = (p.header_len(), usize::from(p.total_len()));
        assert_eq!(p.version(), 4);
        assert_eq!(p.options().len(), header_len - ipv4::HEADER_LEN);
        assert_eq!(p.payload().len(), total_len - header_len);
        assert_eq!(p.is_fragment(), p.more_frags() || p.frag_offset() != 0);
        assert_eq!(ipv4::Repr::parse(&p), repr_unchecked);
    }
    if let Ok(repr) = repr_unchecked {
        let mut buf = vec![0u8; repr.buffer_len() + repr.payload_len];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
        let emitted = ipv4::Packet::new_checked(&buf[..]);
        assert!(
            emitted.as_ref().is_ok_and(|p| p.verify_checksum()),
            "emitted IPv4 header is invalid: {emitted:?}"
        );
        let again = emitted.map(|p| ipv4::Repr::parse(&p));
        assert_eq!(again, Ok(Ok(repr)), "IPv4 repr does not round-trip");
    }
}

fn ipv4_getters(p: &ipv4::Packet<&[u8]>) {
    black_box((
        p.version(),
        p.header_len(),
        p.dscp(),
        p.ecn(),
        p.tos(),
        p.total_len(),
    ));
    black_box((
        p.ident(),
        p.dont_frag(),
        p.more_frags(),
        p.frag_offset(),
        p.is_fragment(),
    ));
    black_box((
        p.ttl(),
        p.protocol(),
        p.checksum(),
        p.src_addr(),
        p.dst_addr(),
    ));
    black_box((p.options(), p.payload(), p.verify_checksum()));
}

fn icmpv4_view(bytes: &[u8]) {
    icmpv4_getters(&icmpv4::Packet::new_unchecked(bytes));
    if let Ok(p) = icmpv4::Packet::new_checked(bytes) {
        icmpv4_getters(&p);
        assert_eq!(p.data().len(), bytes.len() - icmpv4::HEADER_LEN);
    }
}

fn icmpv4_getters(p: &icmpv4::Packet<&[u8]>) {
    let kind = p.msg_type();
    black_box((kind, kind.is_error(), p.msg_code(), p.checksum()));
    black_box((p.echo_ident(), p.echo_seq_no(), p.next_hop_mtu()));
    black_box((p.data(), p.verify_checksum()));
}

fn udp_view(bytes: &[u8]) {
    // Addresses for the pseudo-header, from the bytes themselves so both paths get exercised.
    let addr = |at: usize| {
        Ipv4Addr::from(
            bytes
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .unwrap_or([10, 0, 0, 1]),
        )
    };
    let (src, dst) = (addr(0), addr(4));
    udp_getters(&udp::Packet::new_unchecked(bytes), src, dst);
    if let Ok(p) = udp::Packet::new_checked(bytes) {
        udp_getters(&p, src, dst);
        assert_eq!(p.payload().len(), usize::from(p.len()) - udp::HEADER_LEN);
    }
}

fn udp_getters(p: &udp::Packet<&[u8]>, src: Ipv4Addr, dst: Ipv4Addr) {
    black_box((p.src_port(), p.dst_port(), p.len(), p.checksum()));
    black_box((p.payload(), p.verify_checksum(src, dst)));
}
