//! Wired routers at scale: generated topologies with `routes = "auto"` — a 316×316 grid and the
//! 10^5 hyper-matrix, 100,000 routers each — computed, built, started on the engine, traced
//! across and flooded, with the time of each step, the routes per router, the resident memory
//! per router (after start, and the peak of the whole run, the stop's report included, from
//! /proc/self/status: allocator overhead and page rounding included; the model is dropped
//! before the start, as `shoal run` drops it; the detail line adds the peak through the start)
//! and the idle engine's CPU over one second. Each topology runs in a process of its own, so
//! peaks do not mix. A random topology of 10,000 routers (average degree 4) is timed to its
//! routes only. Prints a table; `harness = false`. Under `cargo test` (no `--bench`) a 10×10
//! grid is the smoke run.

#[path = "common/procfs.rs"]
mod procfs;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use shoal::engine::{Engine, EngineConfig, FlowSpec, NodeId};
use shoal::fabric::Pace;
use shoal::topo::Topology;
use shoal::topo::generate::{self, Shape};

const PORT: u16 = 5001;

/// A field of /proc/self/status in bytes (`VmHWM`, `VmRSS`).
fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The 1-minute load average, for each row: this is a shared machine.
fn load() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().next().unwrap_or("?").to_owned()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The destination of the trace and the flow: the last host when it is within reach of a TTL
/// of 255 (the hyper-matrix), else a router 199 hops from h1 (the grid, whose hosts sit on its
/// corners, 316 routers or more apart).
fn target(t: &Topology) -> (Ipv4Addr, Option<usize>, String) {
    let last = t.hosts().last().expect("a host");
    let h1 = t.node_index("h1").expect("h1");
    let reach = t
        .nodes
        .iter()
        .filter(|n| n.kind == shoal::topo::Kind::Router)
        .count();
    match t.node_index("r100_100") {
        Some(r) if reach > 10_000 => (
            t.first_addr(r).expect("an address"),
            None,
            "r100_100".into(),
        ),
        _ => {
            let _ = h1;
            let name = t.nodes[last].name.clone();
            (t.first_addr(last).expect("an address"), Some(last), name)
        }
    }
}

/// One topology, in this process: prints one line of figures.
fn one(shape: Shape, wired: bool) {
    let rss0 = procfs::rss_bytes();
    let t0 = Instant::now();
    let topo = generate::shape(shape).expect("the topology builds");
    let routed = t0.elapsed();
    let routers: Vec<usize> = (0..topo.nodes.len())
        .filter(|&i| topo.nodes[i].auto_routes)
        .collect();
    let routes: Vec<usize> = routers.iter().map(|&i| topo.nodes[i].auto.len()).collect();
    let avg = routes.iter().sum::<usize>() as f64 / routes.len().max(1) as f64;
    let max = routes.iter().max().copied().unwrap_or(0);
    let routers = routers.len();
    drop(routes);
    let workers = std::env::var("SHOAL_SCALE_WORKERS").unwrap_or_else(|_| "-".into());
    let head = format!(
        "{:<20} {:>8} {:>8} {avg:>6.1} {max:>4} {:>8}",
        format!("{shape} /{workers}w"),
        routers,
        topo.links.len(),
        secs(routed)
    );
    if !wired {
        println!("{head}   (routes only; load {})", load());
        return;
    }
    let rss_model = procfs::rss_bytes().saturating_sub(rss0);
    let t1 = Instant::now();
    let mut net = topo.network().expect("the network builds");
    let built = t1.elapsed();
    let rss_net = procfs::rss_bytes().saturating_sub(rss0);
    let h1 = topo.node_index("h1").expect("h1");
    let (dst, sink, dst_name) = target(&topo);
    if let Some(s) = sink {
        let flow = FlowSpec {
            dst,
            port: PORT,
            frame_len: 64,
            pace: Pace::Rate(10_000),
            sources: 1,
        };
        net.add_flow(NodeId(h1 as u32), flow);
        net.add_sink(NodeId(s as u32), PORT);
    }
    drop(topo);
    let t2 = Instant::now();
    let defaults = EngineConfig::default();
    let workers = workers.parse().unwrap_or(defaults.workers);
    let cfg = EngineConfig {
        workers,
        pin: false,
        flows_at_start: false,
        ..defaults
    };
    let engine = Engine::start(net, cfg).expect("the engine starts");
    let started = t2.elapsed();
    let peak_started = status_bytes("VmHWM");
    std::thread::sleep(Duration::from_millis(300));
    let rss = procfs::rss_bytes().saturating_sub(rss0);
    let ticks = procfs::cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let idle_ms = (procfs::cpu_ticks() - ticks) * 10;
    let hops = engine.traceroute(NodeId(h1 as u32), dst, 255, Duration::from_secs(2));
    let answered = hops.iter().filter(|h| h.from.is_some()).count();
    let reached = hops.last().is_some_and(|h| h.reached);
    let ping = engine.ping(NodeId(h1 as u32), dst, 1, Duration::from_secs(2));
    let flow = if sink.is_some() {
        engine.set_flows(true);
        std::thread::sleep(Duration::from_secs(1));
        engine.set_flows(false);
        std::thread::sleep(Duration::from_millis(200));
        None
    } else {
        Some("no pair of hosts within 255 hops".to_string())
    };
    let report = engine.stop().expect("the engine stops");
    let flow =
        flow.unwrap_or_else(|| format!("{} sent, {} received", report.sent, report.sink.received));
    let peak = status_bytes("VmHWM");
    let per = |b: u64| b as f64 / routers as f64 / 1024.0;
    eprintln!(
        "  RSS per router: model {:.1} KiB, + network {:.1} KiB, + engine {:.1} KiB; peak {:.1} \
         KiB through the start, {:.1} KiB with the stop's report; {} links between workers",
        per(rss_model),
        per(rss_net),
        per(rss),
        per(peak_started),
        per(peak),
        report.cut.len()
    );
    println!(
        "{head} {:>8} {:>8} {:>9.1} {:>9.1} {:>6} ms   h1→{dst_name}: {answered}/{} hops answered{}, ping {}; flow: {flow}; load {}",
        secs(built),
        secs(started),
        per(rss),
        per(peak),
        idle_ms,
        hops.len(),
        if reached { " (reached)" } else { "" },
        match ping {
            shoal::sim::PingReply::Echo { .. } => "answered",
            _ => "lost",
        },
        load(),
    );
}

fn main() {
    if let Ok(spec) = std::env::var("SHOAL_SCALE_ONE") {
        let (wired, shape) = spec.split_once(';').expect("WIRED;SHAPE");
        one(shape.parse().expect("a shape"), wired == "1");
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    // (shape, started on the engine, workers): 0 workers is one per core.
    let cases: &[(&str, bool, usize)] = if full {
        &[
            ("grid 100x100", true, 1),
            ("hypercube 10 4", true, 1),
            ("grid 316x316", true, 1),
            ("hypercube 10 5", true, 1),
            ("grid 316x316", true, 0),
            ("hypercube 10 5", true, 0),
            ("random 1000 4 1", false, 1),
            ("random 3000 4 1", false, 1),
            ("random 10000 4 1", false, 1),
        ]
    } else {
        &[("grid 10x10", true, 1)]
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "scale: generated topologies with auto routes on the engine ({} cores; load {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<20} {:>8} {:>8} {:>6} {:>4} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "topology",
        "routers",
        "links",
        "routes",
        "max",
        "routes",
        "build",
        "start",
        "KiB/rtr",
        "peak KiB",
        "idle CPU"
    );
    let exe = std::env::current_exe().expect("this bench's path");
    for &(shape, wired, workers) in cases {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = if workers == 0 { cores } else { workers };
        let status = Command::new(&exe)
            .env("SHOAL_SCALE_ONE", format!("{};{shape}", u8::from(wired)))
            .env("SHOAL_SCALE_WORKERS", workers.to_string())
            .status()
            .expect("the bench runs itself");
        assert!(status.success(), "{shape}: {status}");
    }
}
