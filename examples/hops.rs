//! A fixed piece of work for instruction counts: the 254-router chain of `shoal demo` on one
//! worker (or, with a second argument `switches`, the chain bench's 254 switches between two
//! hosts), flooded for S seconds (default 1), printing how many node hops the worker did.
//! Under `valgrind --tool=callgrind --toggle-collect='*Worker*run*'`, instructions per hop is
//! the collected count over the hops printed — a figure no load on the machine moves.

use std::time::Duration;

use shoal::engine::{Engine, EngineConfig};
use shoal::fabric::Pace;

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    let flood = match std::env::args().nth(2).as_deref() {
        Some("switches") => shoal::topo::switched::chain_flood(254, 64, Pace::Flat)?,
        _ => shoal::topo::generate::chain_flood(254, 64, Pace::Flat)?,
    };
    let cfg = EngineConfig {
        workers: 1,
        flows_at_start: false,
        ..EngineConfig::default()
    };
    let engine = Engine::start(flood.network, cfg)?;
    // Resolve ARP along the chain first (slow under valgrind: wait long enough).
    let _ = engine.ping(flood.h1, flood.h2_addr, 1, Duration::from_secs(20));
    engine.set_flows(true);
    std::thread::sleep(Duration::from_secs_f64(secs));
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(200));
    let totals = engine.stats();
    engine.stop()?;
    println!("hops {} received {}", totals.frames, totals.received);
    Ok(())
}
