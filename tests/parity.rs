//! Differential test of what hosts see: the same chain h1 ─ r1 ═ r2 ─ h2 built twice, with
//! Linux routers and with shoal routers (r1 on AF_XDP, r2 on a TAP), Linux hosts on both ends
//! both times. h1 puts the same frames on the wire into both — several hundred classes,
//! well-formed and malformed (tests/parity/classes.rs) — and what reaches h2 and what comes
//! back to h1 is compared class by class. A class whose frames differ fails the test unless
//! the difference is listed below with its reason (and in docs/architecture.md, "Where Linux
//! differs").
//!
//! The seed (payloads, lengths, malformed fields, fragment orders) is random unless
//! `SHOAL_PARITY_SEED` is set, fixed in CI (CI=true), and always printed; `SHOAL_PARITY_CLASS`
//! runs only the classes whose names contain it. Needs root (skipped otherwise).

#[path = "parity/build.rs"]
mod build;
#[path = "parity/classes.rs"]
mod classes;
mod common;
#[path = "parity/compare.rs"]
mod compare;
#[path = "parity/flood.rs"]
mod flood;
#[path = "parity/net.rs"]
mod net;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use classes::Class;
use common::netns::skip_unless_root;
use common::raw::RawSocket;
use compare::Capture;
use net::Net;

/// Differences that are known and explained: a class-name prefix and the reason. Each is in
/// docs/architecture.md, "Where Linux differs".
const EXPLAINED: &[(&str, &str)] = &[];

/// One test at a time: each builds both chains, and the floods measure rates.
static ONE: Mutex<()> = Mutex::new(());

/// Time between classes: keeps the ICMP error rate well inside Linux's global limit (1000/s,
/// bursts of 50), whose random charge would otherwise make answers a matter of chance.
const PACE: Duration = Duration::from_millis(3);

fn seed() -> u64 {
    match std::env::var("SHOAL_PARITY_SEED") {
        Ok(s) => s.trim().parse().expect("SHOAL_PARITY_SEED is a u64"),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => 1,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// Send every class's frames into both chains; returns when the slowest class has had its time.
fn run(classes: &[Class], senders: &[RawSocket]) {
    let start = Instant::now();
    let mut until = start;
    for class in classes {
        let mut last = Instant::now();
        for send in &class.sends {
            if send.gap_ms > 0 {
                std::thread::sleep(Duration::from_millis(send.gap_ms));
            }
            for s in senders {
                if let Err(e) = s.send(&send.frame) {
                    println!("parity: {}: sending a frame failed: {e}", class.name);
                }
            }
            last = Instant::now();
            std::thread::sleep(PACE);
        }
        until = until.max(last + Duration::from_millis(class.wait_ms.max(300)));
    }
    let left = until.saturating_duration_since(Instant::now());
    println!(
        "parity: sent {} classes in {:.1} s; waiting {:.1} s for timers",
        classes.len(),
        start.elapsed().as_secs_f64(),
        left.as_secs_f64()
    );
    std::thread::sleep(left);
}

#[test]
fn hosts_see_shoal_as_they_see_linux() {
    if skip_unless_root("hosts_see_shoal_as_they_see_linux") {
        return;
    }
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let seed = seed();
    println!("parity: SHOAL_PARITY_SEED={seed}");
    let filter = std::env::var("SHOAL_PARITY_CLASS").unwrap_or_default();
    let classes: Vec<Class> = classes::all(seed)
        .into_iter()
        .filter(|c| c.name.contains(&filter))
        .collect();
    assert!(!classes.is_empty(), "no class matches {filter:?}");

    let linux = Net::linux().expect("Linux chain");
    let mut shoal = Net::shoal().expect("shoal chain");
    linux.warm_up().expect("Linux chain carries pings");
    shoal.warm_up().expect("shoal chain carries pings");

    let nets = [&linux, &shoal];
    let captures: Vec<(Capture, Capture)> = nets
        .iter()
        .map(|n| {
            (
                Capture::start(&n.h1, "eth0").expect("capture at h1"),
                Capture::start(&n.h2, "tb").expect("capture at h2"),
            )
        })
        .collect();
    let senders: Vec<RawSocket> = nets
        .iter()
        .map(|n| RawSocket::open(&n.h1, "eth0").expect("raw socket at h1"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    run(&classes, &senders);
    let seen: Vec<(compare::Frames, compare::Frames)> = captures
        .into_iter()
        .map(|(a, b)| (a.finish(), b.finish()))
        .collect();

    let report = shoal.shoal.as_mut().map(|r| r.stop()).unwrap_or_default();
    let nets = [&linux, &shoal];
    let at_h1: Vec<_> = seen
        .iter()
        .map(|s| compare::attribute(&classes, &s.0))
        .collect();
    let at_h2: Vec<_> = seen
        .iter()
        .map(|s| compare::attribute(&classes, &s.1))
        .collect();
    // SHOAL_PARITY_SHOW=1 prints what Linux's chain made of every class.
    let show = std::env::var("SHOAL_PARITY_SHOW").is_ok_and(|v| v == "1");
    let mut same = 0;
    let mut explained = Vec::new();
    let mut failures = Vec::new();
    let none = Vec::new();
    for (i, class) in classes.iter().enumerate() {
        let mut text = String::new();
        for (host, at) in [("h1", &at_h1), ("h2", &at_h2)] {
            let raw_l = at[0].0.get(&i).unwrap_or(&none);
            let raw_s = at[1].0.get(&i).unwrap_or(&none);
            let (l, s) = (compare::canonical(raw_l), compare::canonical(raw_s));
            if l != s {
                text += &format!("    at {host}:\n{}", compare::diff(&l, &s, raw_l, raw_s));
            }
        }
        if show {
            for (host, at) in [("h1", &at_h1), ("h2", &at_h2)] {
                for f in at[0].0.get(&i).unwrap_or(&none) {
                    println!("parity: {} at {host}: {}", class.name, compare::describe(f));
                }
            }
        }
        if text.is_empty() {
            same += 1;
            continue;
        }
        let sent: Vec<String> = class
            .sends
            .iter()
            .map(|s| format!("    sent: {}", compare::describe(&s.frame)))
            .collect();
        let entry = format!("  {}\n{}\n{text}", class.name, sent.join("\n"));
        match EXPLAINED.iter().find(|(p, _)| class.name.starts_with(p)) {
            Some((_, why)) => explained.push(format!("{entry}    explained: {why}\n")),
            None => failures.push(entry),
        }
    }
    for (n, (h1, h2)) in nets.iter().zip(at_h1.iter().zip(&at_h2)) {
        println!(
            "parity: {}: captured {} frames at h1, {} at h2; {} and {} belonged to no class",
            n.name,
            h1.0.values().map(Vec::len).sum::<usize>() + h1.1.len(),
            h2.0.values().map(Vec::len).sum::<usize>() + h2.1.len(),
            h1.1.len(),
            h2.1.len()
        );
    }
    for (n, (h1, h2)) in nets.iter().zip(at_h1.iter().zip(&at_h2)) {
        for (host, frames) in [("h1", &h1.1), ("h2", &h2.1)] {
            for f in frames.iter().take(10) {
                println!(
                    "parity: {} {host} unattributed: {}",
                    n.name,
                    compare::describe(f)
                );
            }
        }
    }
    println!(
        "parity: {} classes: {same} alike, {} explained differences, {} unexplained",
        classes.len(),
        explained.len(),
        failures.len()
    );
    for e in &explained {
        println!("parity: explained:\n{e}");
    }
    if !failures.is_empty() {
        println!("parity: shoal's report:\n{report}");
    }
    assert!(
        failures.is_empty(),
        "hosts see shoal differ from Linux in {} classes (SHOAL_PARITY_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// ICMP rate limits under floods from 1, 16, 64 and 4,096 sources, Linux's and shoal's routers
/// measured one after the other; the table goes to docs/benchmarks.md. The per-destination
/// limit is exact; the instance-wide one refills on the kernel's tick and charges a random 0-2
/// credits per error, so totals are compared within 15% (and a few messages), the steady rate
/// within 25%.
#[test]
fn icmp_rate_limits_match_linux_under_floods() {
    if skip_unless_root("icmp_rate_limits_match_linux_under_floods") {
        return;
    }
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut results = Vec::new();
    for build in [Net::linux as fn() -> std::io::Result<Net>, Net::shoal] {
        let net = build().expect("chain");
        net.warm_up().expect("chain carries pings");
        let measured: Vec<flood::Measured> = flood::FLOODS
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let m = flood::run(&net, i, *f);
                std::thread::sleep(Duration::from_secs(1));
                m
            })
            .collect();
        results.push((net.name, measured));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "parity: floods of {} s, load average {}",
        flood::SECONDS,
        load.trim()
    );
    println!(
        "| sources | offered/s (sent: Linux, shoal) | Linux: answers (first s, then /s) | shoal: answers (first s, then /s) | newcomer answered (Linux, shoal) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let (linux, shoal) = (&results[0].1, &results[1].1);
    let mut wrong = Vec::new();
    for ((f, l), s) in flood::FLOODS.iter().zip(linux).zip(shoal) {
        println!(
            "| {} | {} ({}, {}) | {} ({}, {:.0}/s) | {} ({}, {:.0}/s) | {}/{}, {}/{} |",
            f.sources,
            f.pps,
            l.sent as u64 / flood::SECONDS,
            s.sent as u64 / flood::SECONDS,
            l.answered,
            l.first_second,
            l.steady,
            s.answered,
            s.first_second,
            s.steady,
            l.newcomer.0,
            l.newcomer.1,
            s.newcomer.0,
            s.newcomer.1
        );
        // The totals within 15%; the split between the first second and the rest moves more
        // with the machine's load (Linux's refills follow its softirq timing).
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * a.max(b) + 3.0;
        if !close(l.answered as f64, s.answered as f64, 0.15) || !close(l.steady, s.steady, 0.25) {
            wrong.push(format!("{} sources: Linux {l:?}, shoal {s:?}", f.sources));
        }
    }
    assert!(
        wrong.is_empty(),
        "rate limits differ:\n{}",
        wrong.join("\n")
    );
}
