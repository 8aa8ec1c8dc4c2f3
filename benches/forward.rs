//! The forwarding pipeline per packet: parse, validate (incl. header checksum), martian
//! checks, route lookup through the rules (local, main), ARP cache hit, TTL decrement with
//! incremental checksum, MAC rewrite, transmit action. 64-byte UDP frames, batches of 32, a
//! 10-route table — see `shoal::rig` for what one round includes.
//!
//! `switch/*`: a switch forwarding the same frames to a destination its FDB has learned.
//!
//! `policy/*`: the same with 10 or 100 policy rules ahead of `main` that no packet matches, and
//! with a mark classifier entry; `policy/new_flows_*` with a new source address per frame, so
//! the per-flow decision cache never helps. Also prints the memory of an idle router with 4 interfaces and
//! 10 routes.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shoal::rig::ForwardRig;
use shoal::rig_switch::SwitchRig;
use shoal::router::{Config, IfAddr, Router};
use shoal::wire::ethernet;

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward");
    for batch in [1usize, 32, 64] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("udp64_10routes_batch{batch}"), |b| {
            let mut rig = ForwardRig::new(10, batch);
            b.iter(|| black_box(rig.round()));
        });
    }
    group.finish();
}

/// The same batches through a switch to a learned destination: the cost of an L2 hop, against
/// the router's `forward/*` above.
fn switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");
    for batch in [1usize, 32, 64] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("learned_unicast64_batch{batch}"), |b| {
            let mut rig = SwitchRig::new(batch);
            b.iter(|| black_box(rig.round()));
        });
    }
    group.finish();
}

/// Policy rules ahead of `main` that no packet matches, so each packet walks them all, with and
/// without a classifier entry to test: what rule evaluation adds per packet.
fn policy(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    for (rules, marks) in [(0, false), (10, false), (100, false), (0, true), (10, true)] {
        group.throughput(Throughput::Elements(32));
        let name = format!("rules{rules}{}_batch32", if marks { "_marks" } else { "" });
        group.bench_function(name, |b| {
            let mut rig = ForwardRig::with_policy(10, 32, rules, marks);
            b.iter(|| black_box(rig.round()));
        });
    }
    // Every frame a new flow: the per-flow decision cache misses, each packet pays the
    // classifier and the whole walk.
    for (rules, marks) in [(0, false), (10, false), (10, true), (100, false)] {
        group.throughput(Throughput::Elements(32));
        let name = format!(
            "new_flows_rules{rules}{}_batch32",
            if marks { "_marks" } else { "" }
        );
        group.bench_function(name, |b| {
            let mut rig = ForwardRig::with_new_flows(10, 32, rules, marks);
            b.iter(|| black_box(rig.round()));
        });
    }
    group.finish();
}

/// An idle router as a topology file would make it: 4 interfaces, an address each, 10 routes.
fn idle_router() -> Router {
    let mut r = Router::new(Config::default());
    for i in 0..4u8 {
        let id = r
            .add_iface(
                &format!("eth{i}"),
                ethernet::Address([2, 0, 0, 0, 1, i]),
                1500,
            )
            .expect("valid");
        r.add_addr(
            id,
            IfAddr::new(Ipv4Addr::new(10, i, 0, 1), 24).expect("valid"),
        )
        .expect("valid");
    }
    for k in 0..10u8 {
        r.add_route_str(&format!("172.16.{k}.0/24 via 10.{}.0.2", k % 4))
            .expect("valid");
    }
    r
}

fn memory(_: &mut Criterion) {
    let r = idle_router();
    let main = r
        .fib()
        .table(shoal::router::fib::TABLE_MAIN)
        .expect("main exists");
    eprintln!(
        "memory: idle router (4 interfaces, 10 routes): {} bytes; its main table ({} routes): {} bytes",
        r.mem_bytes(),
        main.len(),
        main.mem_bytes()
    );
}

criterion_group!(benches, pipeline, switch, policy, memory);
criterion_main!(benches);
