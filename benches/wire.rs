//! The wire views on their own: parsing a 64-byte UDP frame's Ethernet, IPv4 (with the header
//! checksum) and UDP headers, the 20-byte header checksum, the RFC 1624 update of a TTL
//! decrement, and the UDP checksum over a 1500-byte datagram.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, criterion_group, criterion_main};
use shoal::wire::{checksum, ethernet, ipv4, udp};

/// A UDP frame from 10.0.0.2 to 10.1.0.9 with `payload` bytes and valid checksums.
fn frame(payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8 + payload];
    let mut eth = ethernet::Frame::new_unchecked(&mut f[..]);
    eth.set_dst_addr(ethernet::Address([2, 0, 0, 0, 0, 1]));
    eth.set_src_addr(ethernet::Address([2, 0, 0, 0, 0, 2]));
    eth.set_ethertype(ethernet::EtherType::Ipv4);
    let repr = ipv4::Repr {
        src_addr: Ipv4Addr::new(10, 0, 0, 2),
        dst_addr: Ipv4Addr::new(10, 1, 0, 9),
        protocol: ipv4::Protocol::Udp,
        payload_len: 8 + payload,
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: false,
    };
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut f[14..]));
    let mut u = udp::Packet::new_unchecked(&mut f[34..]);
    u.set_src_port(5000);
    u.set_dst_port(5001);
    u.set_len((8 + payload) as u16);
    u.fill_checksum(repr.src_addr, repr.dst_addr);
    f
}

fn wire(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire");
    let f = frame(22);
    g.bench_function("parse_eth_ipv4_udp_64B", |b| {
        b.iter(|| {
            let eth = ethernet::Frame::new_checked(black_box(&f[..])).expect("valid");
            let ip = ipv4::Packet::new_checked(eth.payload()).expect("valid");
            let ok = ip.verify_checksum();
            let u = udp::Packet::new_checked(ip.payload()).expect("valid");
            (ok, u.dst_port(), ip.dst_addr())
        })
    });
    let header: [u8; 20] = f[14..34].try_into().expect("20 bytes");
    g.bench_function("ipv4_header_checksum_20B", |b| {
        b.iter(|| checksum::data_fixed(black_box(&header)))
    });
    g.bench_function("rfc1624_ttl_decrement", |b| {
        b.iter(|| checksum::ttl_decremented(black_box([0x1c, 0x46])))
    });
    let big = frame(1472);
    g.bench_function("udp_checksum_1500B", |b| {
        b.iter(|| {
            let ip = ipv4::Packet::new_checked(&big[14..]).expect("valid");
            let u = udp::Packet::new_checked(ip.payload()).expect("valid");
            let ok = u.verify_checksum(ip.src_addr(), ip.dst_addr());
            assert!(ok, "the frame's checksum is right");
            ok
        })
    });
    g.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
