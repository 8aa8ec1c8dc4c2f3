//! Router hops per second on the engine: a chain of routers between two hosts, a flood of
//! 64-byte UDP datagrams from one host to the other, on 1 and then 2 workers, flat out (an open
//! loop: what the path cannot carry is dropped and counted) and windowed (`max`: as fast as the
//! path delivers, at most 1,024 on their way). Prints a table; `harness = false`. The same chain
//! as `shoal demo`. Rows marked `switches` run the same flood through a chain of switches
//! (one LAN): switch hops per second against router hops per second.

use std::time::{Duration, Instant};

use shoal::engine::{Engine, EngineConfig};
use shoal::fabric::{Pace, WINDOW};
use shoal::topo::generate::chain_flood;
use shoal::topo::switched;

fn main() {
    // `cargo bench` passes --bench; under `cargo test` this is a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let secs = if full { 3.0 } else { 0.2 };
    println!("chain: h1 - N routers - h2, 64-byte UDP for {secs} s per row");
    println!(
        "{:>8} {:>8} {:>9} {:>14} {:>18} {:>16} {:>8}  busy",
        "nodes", "workers", "flood", "Mpps e2e", "M node-hops/s", "per core", "loss %"
    );
    let (flat, max) = (Pace::Flat, Pace::Window(WINDOW));
    // (nodes, workers, pace, switches instead of routers)
    let rows: &[(usize, usize, Pace, bool)] = if full {
        &[
            (254, 1, flat, false),
            (254, 1, flat, true),
            (254, 2, flat, false),
            (254, 2, flat, true),
            (254, 1, max, false),
            (254, 1, max, true),
            (254, 2, max, false),
            (254, 2, max, true),
            (16, 1, flat, false),
            (16, 1, flat, true),
        ]
    } else {
        &[
            (16, 2, flat, false),
            (16, 2, flat, true),
            (16, 2, max, true),
        ]
    };
    for &(routers, workers, pace, switches) in rows {
        let flood = if switches {
            switched::chain_flood(routers, 64, pace).expect("valid switch chain")
        } else {
            chain_flood(routers, 64, pace).expect("valid chain")
        };
        let (net, h1, h2) = (flood.network, flood.h1, flood.h2_addr);
        let cfg = EngineConfig {
            workers,
            flows_at_start: false,
            ..EngineConfig::default()
        };
        let engine = Engine::start(net, cfg).expect("engine starts");
        // Resolve ARP along the path before measuring.
        let _ = engine.ping(h1, h2, 1, Duration::from_secs(2));
        let start = engine.stats();
        let t0 = Instant::now();
        engine.set_flows(true);
        std::thread::sleep(Duration::from_secs_f64(secs));
        engine.set_flows(false);
        let elapsed = t0.elapsed().as_secs_f64();
        let end = engine.stats();
        std::thread::sleep(Duration::from_millis(200));
        let report = engine.stop().expect("engine stops");
        let hops = (end.frames - start.frames) as f64 / elapsed / 1e6;
        let lost =
            report.sent.saturating_sub(report.sink.received) as f64 / report.sent.max(1) as f64;
        let busy: Vec<String> = report
            .workers
            .iter()
            .map(|w| format!("{:.0}%", 100.0 * w.busy))
            .collect();
        let mode = if pace == flat { "flat" } else { "max" };
        let kind = if switches { "sw" } else { "r" };
        println!(
            "{:>8} {workers:>8} {mode:>9} {:>14.3} {hops:>18.1} {:>16.1} {:>8.3}  {}",
            format!("{routers}{kind}"),
            (end.received - start.received) as f64 / elapsed / 1e6,
            hops / workers as f64,
            100.0 * lost,
            busy.join(" ")
        );
    }
}
