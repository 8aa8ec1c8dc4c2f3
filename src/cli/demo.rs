//! `shoal demo`: what shoal does, in half a minute, with no root and no NIC.
//!
//! A host, a chain of routers and another host run as real instances on the engine's worker
//! threads, wired by in-process links. The demo traces the path and pings across it with
//! wall-clock round trips, then floods 64-byte UDP datagrams end to end — as fast as the path
//! carries them (at most 1,024 on their way at once, so the headline is the path's capacity, not
//! the loss of a generator outrunning it) — and reports what every router hop cost.

use std::time::{Duration, Instant};

use anyhow::Context;
use shoal::engine::{Engine, EngineConfig};
use shoal::fabric::{Pace, WINDOW};
use shoal::probe::PingReply;
use shoal::topo::generate::chain_flood;

/// Options of `shoal demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Routers in the chain (1..=255).
    #[arg(long, default_value_t = 254, value_parser = clap::value_parser!(u16).range(1..=255))]
    routers: u16,
    /// Seconds of UDP flood.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Frame length of the flood, bytes (without FCS).
    #[arg(long, default_value_t = 64)]
    frame: usize,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let n = usize::from(args.routers);
    let frame = args.frame.max(shoal::engine::MIN_FRAME);
    let flood = chain_flood(n, frame, Pace::Window(WINDOW)).context("building the chain")?;
    let (net, h1, h2_addr) = (flood.network, flood.h1, flood.h2_addr);
    let cfg = EngineConfig {
        flows_at_start: false,
        ..EngineConfig::default()
    };
    println!(
        "shoal demo: h1 ─ {n} routers ─ h2, isolated instances on {} pinned worker thread(s); links inside a \
         worker pass frame handles, links between workers are shared-memory rings\n",
        cfg.workers
    );
    let workers = cfg.workers;
    let engine = Engine::start(net, cfg).context("starting the engine")?;

    println!("traceroute to {h2_addr} from h1, {} hops max", n + 1);
    let hops = engine.traceroute(h1, h2_addr, (n + 1).min(255) as u8, Duration::from_secs(2));
    for hop in &hops {
        match (hop.from, hop.rtt) {
            (Some(from), Some(rtt)) => println!("{:>3}  {:<15} {:>9.3} ms", hop.ttl, from, ms(rtt)),
            _ => println!("{:>3}  *", hop.ttl),
        }
    }
    anyhow::ensure!(
        hops.last().is_some_and(|h| h.reached),
        "traceroute did not reach h2"
    );

    println!("\nping {h2_addr} from h1, 56 data bytes");
    for seq in 1..=3 {
        match engine.ping(h1, h2_addr, seq, Duration::from_secs(2)) {
            PingReply::Echo { rtt, ttl } => println!(
                "64 bytes from {h2_addr}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                ms(rtt)
            ),
            other => println!("icmp_seq={seq}: {other:?}"),
        }
    }

    let secs = args.seconds.clamp(0.5, 60.0);
    println!(
        "\nUDP flood h1 → h2, {}-byte frames, {secs} s, as fast as the path carries them \
         (at most {WINDOW} on their way)",
        args.frame
    );
    let start = engine.stats();
    let t0 = Instant::now();
    engine.set_flows(true);
    let mut last = (start, t0);
    while t0.elapsed().as_secs_f64() < secs {
        std::thread::sleep(
            Duration::from_secs(1).min(
                Duration::from_secs_f64(secs - t0.elapsed().as_secs_f64())
                    .max(Duration::from_millis(1)),
            ),
        );
        let (now, at) = (engine.stats(), Instant::now());
        let dt = at.duration_since(last.1).as_secs_f64();
        println!(
            "  {:>5.1} s  {:>7.3} Mpps delivered  {:>7.1} M router-hops/s  drops {}",
            at.duration_since(t0).as_secs_f64(),
            (now.received - last.0.received) as f64 / dt / 1e6,
            (now.frames - last.0.frames) as f64 / dt / 1e6,
            now.drops - start.drops
        );
        last = (now, at);
    }
    engine.set_flows(false);
    let flood = t0.elapsed().as_secs_f64();
    // Let the last datagrams reach h2 before counting.
    std::thread::sleep(Duration::from_millis(200));
    let end = engine.stats();
    let report = engine.stop()?;
    let s = &report.sink;
    let hops_per_frame = n as f64 + 2.0;
    let q = |p| s.latency.quantile(p).map_or(0.0, |v| v as f64 / 1e3);
    println!(
        "\nsent {} datagrams, received {}, lost {} ({:.3}%), reordered {}",
        report.sent,
        s.received,
        report.sent.saturating_sub(s.received),
        100.0 * report.sent.saturating_sub(s.received) as f64 / report.sent.max(1) as f64,
        s.reordered
    );
    println!(
        "{:.3} Mpps end to end, {:.1} M router-hops/s on {} core(s), {:.3} Gbit/s of {}-byte frames",
        s.received as f64 / flood / 1e6,
        (end.frames - start.frames) as f64 / flood / 1e6,
        workers,
        s.bytes as f64 * 8.0 / flood / 1e9,
        args.frame
    );
    println!(
        "one-way latency: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs ({hops_per_frame} instances per datagram)",
        q(0.5),
        q(0.99),
        q(0.999),
        s.latency.max() as f64 / 1e3
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
