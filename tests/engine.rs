//! The engine on real threads: flows across a chain of routers, idle instances that cost no
//! CPU, placement. Assertions are about what arrives, never about how fast.

#[path = "../benches/common/procfs.rs"]
mod procfs;

use std::time::Duration;

use shoal::engine::{Engine, EngineConfig, Network, NodeId};
use shoal::fabric::Pace;
use shoal::router::{Config, IfAddr, IfaceId, Router};
use shoal::topo::generate::chain_flood;
use shoal::wire::ethernet::Address;

/// A chain of `routers` as an engine network, h1 sending a flow to h2; and its node count.
fn chain(routers: usize, rate: Option<u64>) -> (Network, usize) {
    let pace = rate.map_or(Pace::Flat, Pace::Rate);
    let net = chain_flood(routers, 64, pace).expect("valid chain").network;
    let nodes = net.len();
    (net, nodes)
}

/// h1's index in a chain of `routers` (routers come first, then h1 and h2).
fn h1(routers: usize) -> NodeId {
    NodeId(routers as u32)
}

/// h2's address in a generated chain of `routers` (the last /30 of the plan).
fn h2_addr(routers: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(0x0a00_0000 + 4 * routers as u32 + 2)
}

/// Tests of this file run one at a time: one measures the CPU the process uses while idle,
/// which another's busy workers would spoil.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A router with one interface, 10.0.0.`last`/24.
fn router(last: u8) -> Router {
    let mut r = Router::new(Config::default());
    let id = r
        .add_iface("eth0", Address([2, 0, 0, 0, 0, last]), 1500)
        .unwrap();
    let addr = IfAddr::new([10, 0, 0, last].into(), 24).unwrap();
    r.add_addr(id, addr).unwrap();
    r
}

fn one_worker() -> EngineConfig {
    EngineConfig {
        workers: 1,
        pin: false,
        ..EngineConfig::default()
    }
}

/// No link lost a frame, and every link's frames add up.
fn assert_links_lossless(report: &shoal::engine::Report) {
    for l in &report.links {
        assert_eq!(l.imbalance(), 0, "{} does not balance", l.name());
        for e in &l.ends {
            let drops: Vec<_> = e.counters.nonzero_drops().collect();
            assert!(drops.is_empty(), "{}: {drops:?}", e.name);
        }
    }
}

/// Let the flow run for `d`, then stop generating by stopping the engine.
fn run(net: Network, cfg: EngineConfig, d: Duration) -> shoal::engine::Report {
    let engine = Engine::start(net, cfg).unwrap();
    std::thread::sleep(d);
    engine.stop().unwrap()
}

#[test]
fn a_paced_flow_crosses_ten_routers_complete_and_in_order() {
    let _one = serial();
    let (net, nodes) = chain(10, Some(20_000));
    let report = run(net, one_worker(), Duration::from_millis(400));
    assert!(report.sent > 1000, "sent {}", report.sent);
    // The first datagram waits for ARP along the chain; at most a handful can be in flight
    // when the engine stops, none may be lost to a full queue.
    let lost = report.sent - report.sink.received;
    assert!(lost <= 16, "lost {lost} of {}", report.sent);
    assert_eq!(report.sink.reordered, 0);
    assert_links_lossless(&report);
    assert_eq!(report.sink.latency.len(), report.sink.received);
    // Routers come first in a generated chain, then the hosts.
    for n in &report.nodes[..nodes - 2] {
        let (name, c) = (&n.name, &n.counters);
        assert!(
            c.forwarded >= report.sink.received,
            "{name} forwarded {}",
            c.forwarded
        );
        assert_eq!(
            c.total_drops(),
            0,
            "{name}: {:?}",
            c.nonzero_drops().collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_flat_out_flow_is_delivered_without_loss_inside_one_worker() {
    let _one = serial();
    let (net, _) = chain(4, None);
    let report = run(net, one_worker(), Duration::from_millis(300));
    assert!(report.sent > 10_000, "sent {}", report.sent);
    assert!(report.sent - report.sink.received <= 64);
    assert_links_lossless(&report);
}

#[test]
fn ten_thousand_idle_routers_sleep() {
    let _one = serial();
    let mut net = Network::new();
    for i in 0..10_000u32 {
        net.add(&format!("r{i}"), router(1));
    }
    let engine = Engine::start(net, one_worker()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = procfs::cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let ticks = procfs::cpu_ticks() - before;
    engine.stop().unwrap();
    // Clock ticks are 10 ms: a busy worker would burn ~100 in this second.
    assert!(
        ticks <= 5,
        "idle engine used {ticks} ticks of CPU in one second"
    );
}

#[test]
fn placement_keeps_a_chain_in_contiguous_runs() {
    let _one = serial();
    let (net, nodes) = chain(8, Some(1));
    let cfg = EngineConfig {
        workers: 1,
        pin: false,
        ..EngineConfig::default()
    };
    let engine = Engine::start(net, cfg).unwrap();
    assert_eq!(engine.placement(), vec![0; nodes]);
    engine.stop().unwrap();
}

#[test]
fn ping_and_traceroute_on_running_workers() {
    let _one = serial();
    let (net, nodes) = chain(10, None);
    let cfg = EngineConfig {
        flows_at_start: false,
        ..one_worker()
    };
    let engine = Engine::start(net, cfg).unwrap();
    let h2 = h2_addr(10);
    let hops = engine.traceroute(h1(10), h2, 30, Duration::from_secs(5));
    assert_eq!(hops.len(), 11, "{hops:?}");
    assert!(hops.iter().all(|h| h.from.is_some() && h.rtt.is_some()));
    assert_eq!(hops[0].from, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(hops[1].from, Some("10.0.0.6".parse().unwrap()));
    assert!(hops[10].reached);
    match engine.ping(h1(10), h2, 1, Duration::from_secs(5)) {
        shoal::probe::PingReply::Echo { ttl, .. } => {
            assert_eq!(ttl, 64 - 10, "a short chain originates with Linux's TTL")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(engine.stats().sent, 0, "flows wait for start");
    engine.set_flows(true);
    std::thread::sleep(Duration::from_millis(100));
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(50));
    let report = engine.stop().unwrap();
    assert!(report.sent > 0);
    assert_eq!(
        report.sent, report.sink.received,
        "all delivered after the flows stopped"
    );
    assert_eq!(report.nodes.len(), nodes);
}

#[test]
fn a_chain_split_across_two_workers_crosses_shared_memory() {
    let _one = serial();
    let (net, nodes) = chain(12, Some(20_000));
    let cfg = EngineConfig {
        workers: 2,
        pin: false,
        flows_at_start: false,
        ..EngineConfig::default()
    };
    let engine = Engine::start(net, cfg).unwrap();
    let placement = engine.placement();
    assert!(
        placement.contains(&0) && placement.contains(&1),
        "{placement:?}"
    );
    let h2 = h2_addr(12);
    let hops = engine.traceroute(h1(12), h2, 30, Duration::from_secs(5));
    assert_eq!(hops.len(), 13);
    assert!(hops.last().is_some_and(|h| h.reached), "{hops:?}");
    assert!(matches!(
        engine.ping(h1(12), h2, 1, Duration::from_secs(5)),
        shoal::probe::PingReply::Echo { .. }
    ));
    engine.set_flows(true);
    std::thread::sleep(Duration::from_millis(300));
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(100));
    let report = engine.stop().unwrap();
    assert!(report.sent > 1000, "sent {}", report.sent);
    assert_eq!(
        report.sent, report.sink.received,
        "nothing lost between workers"
    );
    assert_eq!(report.sink.reordered, 0);
    assert_eq!(report.nodes.len(), nodes);
}

/// A router spread over workers may only have device-bound or unconnected interfaces and
/// no more workers than the engine runs; a valid one is reported as one instance.
#[test]
fn spreading_a_router_is_checked_and_reported_as_one() {
    let _one = serial();
    use shoal::engine::EngineError;

    let two = EngineConfig {
        workers: 2,
        pin: false,
        ..EngineConfig::default()
    };
    let why = |net: Network| match Engine::start(net, two) {
        Err(EngineError::Spread { node, why }) => format!("{node}: {why}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("started"),
    };

    let mut net = Network::new();
    let (a, b) = (net.add("a", router(1)), net.add("b", router(2)));
    net.link((a, IfaceId(0)), (b, IfaceId(0))).unwrap();
    net.spread(a, 2);
    let e = why(net);
    assert!(e.starts_with("a: interface eth0 is linked"), "{e}");

    let mut net = Network::new();
    let a = net.add("a", router(1));
    net.spread(a, 3);
    let e = why(net);
    assert!(e.contains("asks for 3 workers; the engine runs 2"), "{e}");

    let mut net = Network::new();
    let a = net.add("a", router(1));
    net.spread(a, 2);
    let engine = Engine::start(net, two).unwrap();
    assert_eq!(engine.placement(), [0]);
    let report = engine.stop().unwrap();
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.nodes[0].name, "a");
}

/// A host whose first ARP request is lost on an impaired link asks again a second later, as
/// Linux does, and its flow then gets through; every link's frames add up.
#[test]
fn a_lost_arp_request_is_retried_and_the_flow_gets_through() {
    let _one = serial();
    let mut net = Network::new();
    let (a, b) = (net.add("a", router(1)), net.add("b", router(2)));
    net.link((a, IfaceId(0)), (b, IfaceId(0))).unwrap();
    // With seed 0, the first frame this spec sees is lost: the ARP request.
    net.impair((a, IfaceId(0)), "loss 10%".parse().unwrap());
    net.add_flow(
        a,
        shoal::engine::FlowSpec {
            dst: "10.0.0.2".parse().unwrap(),
            port: 5001,
            frame_len: 64,
            pace: Pace::Rate(2_000),
            sources: 1,
        },
    );
    net.add_sink(b, 5001);
    let report = run(net, one_worker(), Duration::from_millis(1_600));
    let link = &report.links[0];
    assert_eq!(link.imbalance(), 0, "{link:#?}");
    let lost = link.ends[0]
        .counters
        .dropped(shoal::fabric::LinkDrop::NetemLoss);
    assert!(lost >= 1, "{link:#?}");
    assert!(
        report.nodes[0].counters.arp_requests >= 2,
        "asked again: {:?}",
        report.nodes[0].counters
    );
    assert!(
        report.sink.received > 500,
        "received {}",
        report.sink.received
    );
}

/// Flat out across a chain split over two workers, frames are lost where the load exceeds a
/// queue or a ring — and every one of them is counted at a link with its reason: every link
/// balances, and h2 received what h1 sent less what the links and routers dropped and what
/// was still on the way.
#[test]
fn under_overload_on_two_workers_every_link_balances() {
    let _one = serial();
    let (net, _) = chain(20, None);
    let cfg = EngineConfig {
        workers: 2,
        pin: false,
        ..EngineConfig::default()
    };
    let report = run(net, cfg, Duration::from_millis(500));
    assert!(report.sent > 10_000, "sent {}", report.sent);
    for l in &report.links {
        assert_eq!(l.imbalance(), 0, "{} does not balance: {l:#?}", l.name());
    }
    assert!(
        report.links.iter().any(|l| l.medium == "ring"),
        "the chain crosses workers"
    );
    // The flow's own account: every datagram made is received, dropped somewhere with a
    // reason, or still on its way.
    let flow = &report.flows[0];
    assert_eq!(flow.made, report.sent + flow.refused, "{flow:#?}");
    assert_eq!(flow.imbalance(), 0, "{flow:#?}");
    assert!(flow.total_dropped() > 0, "overloaded: {flow:#?}");
    assert!(
        flow.dropped.iter().all(|(place, _, _)| !place.is_empty()),
        "{flow:#?}"
    );
}

/// A windowed flow (`max`) runs as fast as the path delivers and loses nothing, even across
/// two workers: no link drops a frame, and every datagram made was received.
#[test]
fn a_windowed_flow_is_lossless_across_workers() {
    let _one = serial();
    let net = chain_flood(20, 64, Pace::Window(shoal::fabric::WINDOW))
        .expect("valid chain")
        .network;
    let cfg = EngineConfig {
        workers: 2,
        pin: false,
        flows_at_start: false,
        ..EngineConfig::default()
    };
    let engine = Engine::start(net, cfg).unwrap();
    engine.set_flows(true);
    std::thread::sleep(Duration::from_millis(500));
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(100));
    let report = engine.stop().unwrap();
    assert!(report.sent > 10_000, "sent {}", report.sent);
    assert_links_lossless(&report);
    let flow = &report.flows[0];
    assert_eq!(flow.imbalance(), 0, "{flow:#?}");
    assert_eq!(flow.arrived.received, flow.made, "{flow:#?}");
}

/// A windowed flow over a lossy link gives up on what the link lost and keeps going; what it
/// lost is counted on the link.
#[test]
fn a_windowed_flow_recovers_from_losses() {
    let _one = serial();
    let mut net = Network::new();
    let (a, b) = (net.add("a", router(1)), net.add("b", router(2)));
    net.link((a, IfaceId(0)), (b, IfaceId(0))).unwrap();
    net.impair((a, IfaceId(0)), "loss 5%".parse().unwrap());
    net.add_flow(
        a,
        shoal::engine::FlowSpec {
            dst: "10.0.0.2".parse().unwrap(),
            port: 5001,
            frame_len: 64,
            pace: Pace::Window(shoal::fabric::WINDOW),
            sources: 1,
        },
    );
    net.add_sink(b, 5001);
    let report = run(net, one_worker(), Duration::from_millis(1_500));
    let flow = &report.flows[0];
    assert!(flow.arrived.received > 10_000, "{flow:#?}");
    assert_eq!(flow.imbalance(), 0, "{flow:#?}");
    let lost = report.links[0].ends[0]
        .counters
        .dropped(shoal::fabric::LinkDrop::NetemLoss);
    // The link lost the flow's datagrams and a few ARP frames.
    let flow_lost = flow.total_dropped();
    assert!(
        flow_lost > 0 && flow_lost <= lost && lost - flow_lost < 16,
        "{flow:#?}"
    );
}
