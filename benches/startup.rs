//! Start-up cost of many routers: build N instances with 4 interfaces and 10 routes each,
//! start them on one engine worker, and report the wall time and the resident memory they
//! added (from /proc/self/statm, so allocator overhead and page rounding are included). Then
//! check the idle engine's CPU use over one second. Routers are configured on every core, as a
//! topology's are. Prints a table; `harness = false`.

#[path = "common/procfs.rs"]
mod procfs;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use shoal::engine::{Engine, EngineConfig, Network};
use shoal::fabric::Node;
use shoal::router::fib::TABLE_MAIN;
use shoal::router::{Config, IfAddr, NextHop, Route, RouteKind, Router};
use shoal::wire::ethernet;

/// Router `i`: four interfaces (10.k.0.1/24 on eth k — instances are isolated, so every
/// router may use the same plan), ten routes through neighbours on those subnets.
fn router(i: u32) -> Router {
    let mut r = Router::new(Config::default());
    let [_, a, b, c] = i.to_be_bytes();
    let mut addrs = Vec::new();
    for k in 0..4u8 {
        let id = r
            .add_iface(
                &format!("eth{k}"),
                ethernet::Address([2, a, b, c, k, 0]),
                1500,
            )
            .expect("valid interface");
        let addr = IfAddr::new(Ipv4Addr::new(10, k, 0, 1), 24).expect("valid prefix");
        addrs.push((id, addr));
    }
    r.add_addrs(&addrs).expect("fresh addresses");
    // Routes as data, in one rebuild of the table (as a topology installs them).
    let routes = (0..10u8).map(|k| Route {
        prefix: Ipv4Addr::new(172, 16, k, 0),
        len: 24,
        metric: 0,
        nexthop: NextHop {
            gateway: Some(Ipv4Addr::new(10, k % 4, 0, 2)),
            ..NextHop::of_kind(RouteKind::Unicast)
        },
    });
    r.add_routes(TABLE_MAIN, routes).expect("valid routes");
    r
}

/// Routers `0..n`, each in its own box, configured on every core in contiguous shares.
// Boxed on purpose: the network keeps each box, so the router is written once, where it is made.
#[allow(clippy::vec_box)]
fn boxed_routers(n: u32) -> Vec<Box<Node>> {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()) as u32;
    let share = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..n)
            .step_by(share as usize)
            .map(|lo| {
                scope.spawn(move || {
                    (lo..(lo + share).min(n))
                        .map(|i| Box::new(Node::Router(router(i))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a share configures"))
            .collect()
    })
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test` this is a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: &[u32] = if full {
        &[1_000, 10_000, 100_000, 1_000_000]
    } else {
        &[1_000]
    };
    println!("startup: N routers, 4 interfaces and 10 routes each, one worker");
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>14} {:>16} {:>14}",
        "routers", "build", "start", "build+start", "RSS added", "per router", "idle CPU/1 s"
    );
    for &n in sizes {
        let rss0 = procfs::rss_bytes();
        let t0 = Instant::now();
        // Configured on every core, as a topology's routers are, each boxed where it is
        // made: the network keeps the box, so a router's pages are touched once, by the core
        // that built it (on this VM a first touch of fresh memory is most of the cost).
        let mut net = Network::new();
        for (i, node) in (0..n).zip(boxed_routers(n)) {
            net.add_node(&format!("r{i}"), node);
        }
        let built = t0.elapsed();
        let engine = Engine::start(
            net,
            EngineConfig {
                workers: 1,
                pin: false,
                ..EngineConfig::default()
            },
        )
        .expect("engine starts");
        let started = t0.elapsed();
        std::thread::sleep(Duration::from_millis(200));
        let rss = procfs::rss_bytes().saturating_sub(rss0);
        let ticks = procfs::cpu_ticks();
        std::thread::sleep(Duration::from_secs(1));
        let idle = procfs::cpu_ticks() - ticks;
        engine.stop().expect("engine stops");
        println!(
            "{n:>8} {:>8.3} s {:>8.3} s {:>10.3} s {:>11.1} MiB {:>13.1} KiB {:>11} ms",
            built.as_secs_f64(),
            (started - built).as_secs_f64(),
            started.as_secs_f64(),
            rss as f64 / (1 << 20) as f64,
            rss as f64 / n as f64 / 1024.0,
            idle * 10
        );
    }
}
