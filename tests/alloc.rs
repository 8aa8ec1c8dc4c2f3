//! The forwarding path allocates nothing: a counting global allocator watches 100,000 frames
//! go through a warmed-up router (parse, validate, route lookup, ARP cache hit, TTL and
//! checksum update, MAC rewrite, transmit action).

#[path = "common/counting.rs"]
mod counting;

use shoal::rig::ForwardRig;

#[test]
fn forwarding_100k_frames_allocates_nothing() {
    let mut rig = ForwardRig::new(10, 32);
    // Warm up: action and batch buffers reach their working size.
    for _ in 0..10 {
        rig.round();
    }
    let before = rig.router().counters().forwarded;
    let (sent, allocations) = counting::allocations_in(|| {
        let mut sent = 0;
        while sent < 100_000 {
            sent += rig.round();
        }
        sent
    });
    assert_eq!(rig.router().counters().forwarded - before, sent as u64);
    assert!(sent >= 100_000);
    assert_eq!(allocations, 0, "heap allocations while forwarding");
}

/// A frame built by hand: Ethernet to `mac`, IPv4 from 10.1.0.2 to 10.5.0.1, UDP, TTL 64.
fn datagram(mac: [u8; 6]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], mac)
        .ipv4([10, 1, 0, 2], [10, 5, 0, 1], 64)
        .udp(4000, 5000);
    let payload = [0u8; 18];
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, &payload).expect("frame");
    out
}

/// Frames crossing an impaired link (every impairment at once, so every stage runs: loss,
/// duplication, corruption, a time-ordered delay line, rate) allocate nothing once the link's
/// queue has reached its working size.
#[test]
fn impaired_links_allocate_nothing_per_frame() {
    use shoal::router::{Config, IfaceId};
    use shoal::sim::Sim;
    use std::time::Duration;

    let mut sim = Sim::new(8192).unwrap();
    let (r1, r2) = (
        sim.add_node("r1", Config::default()),
        sim.add_node("r2", Config::default()),
    );
    let ip = |s: &str| shoal::router::IfAddr::new(s.parse().unwrap(), 24);
    sim.add_iface(r1, "in", ip("10.1.0.1")).unwrap();
    let (a, b) = (
        sim.add_iface(r1, "out", ip("10.2.0.1")).unwrap(),
        sim.add_iface(r2, "in", ip("10.2.0.2")).unwrap(),
    );
    sim.link((r1, a), (r2, b), Duration::ZERO).unwrap();
    let netem = "delay 1ms 100us loss 1% duplicate 1% corrupt 1% rate 1gbit"
        .parse()
        .unwrap();
    sim.impair((r1, a), &netem);
    sim.router_mut(r1)
        .add_route_str("10.5.0.0/16 via 10.2.0.2")
        .unwrap();
    sim.router_mut(r2)
        .add_route_str("blackhole 10.5.0.0/16")
        .unwrap();
    let frame = datagram(sim.router(r1).ifaces()[0].mac().0);
    let send = |sim: &mut Sim, n: usize| {
        for _ in 0..n {
            for _ in 0..8 {
                assert!(sim.inject((r1, IfaceId(0)), &frame));
            }
            sim.run_for(Duration::from_micros(20));
        }
    };
    // Warm up: ARP resolved, queues and the delay line at their working size.
    send(&mut sim, 5_000);
    sim.run_for(Duration::from_secs(1));
    send(&mut sim, 5_000);
    let ((), allocations) = counting::allocations_in(|| send(&mut sim, 12_500));
    sim.run_for(Duration::from_secs(1));
    let end = sim.link_counters((r1, a)).unwrap();
    assert!(
        end.tx_frames >= 170_000 && end.made > 0 && end.corrupted > 0,
        "{end:?} {:?}",
        sim.router(r1)
            .counters()
            .nonzero_drops()
            .collect::<Vec<_>>()
    );
    assert_eq!(allocations, 0, "heap allocations on impaired links");
}
