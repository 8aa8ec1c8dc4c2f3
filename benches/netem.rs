//! How exactly the engine's impaired links do what their netem spec says, on the wall clock:
//! delay error, rate over 100 ms windows, loss rate, and the delay distribution. Two hosts on
//! one link, a paced UDP flow from one to the other, the impairment on the sender's end; the
//! link's two ends are captured and the capture read back, so each frame's time on the link
//! is its arrival stamp less its departure stamp. Prints a table; `harness = false`. (The
//! simulator is exact by construction and held to its formulas by tests/netem.rs.)

#[path = "common/pcapng.rs"]
mod pcapng;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shoal::capture::Capture;
use shoal::engine::{Engine, EngineConfig, FlowSpec, Network};
use shoal::fabric::NodeId;
use shoal::fabric::Pace;
use shoal::router::{Config, IfAddr, IfaceId, Router};
use shoal::shape::Netem;
use shoal::sim::PingReply;
use shoal::wire::ethernet;

/// A capture written into memory.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<u8>>>);

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut v = self.0.lock().map_err(|_| std::io::ErrorKind::Other)?;
        v.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn host(last: u8) -> Router {
    let mut r = Router::new(Config::host());
    let mac = ethernet::Address([2, 0, 0, 0, 9, last]);
    let id = r.add_iface("eth0", mac, 1500).expect("interface");
    let addr = IfAddr::new([10, 9, 0, last].into(), 24).expect("prefix");
    r.add_addr(id, addr).expect("address");
    r
}

/// a ─ b, `netem` on a's end, a flow of `frame`-byte datagrams a → b at `pps`; both ends
/// captured into `memory` if given.
fn pair(netem: &str, frame: usize, pps: u64, memory: Option<&Memory>) -> Network {
    let mut net = Network::new();
    let (a, b) = (net.add("a", host(1)), net.add("b", host(2)));
    let (ea, eb) = ((a, IfaceId(0)), (b, IfaceId(0)));
    net.link(ea, eb).expect("link");
    net.impair(ea, netem.parse().expect("netem spec"));
    net.add_flow(
        a,
        FlowSpec {
            dst: [10, 9, 0, 2].into(),
            port: 5001,
            frame_len: frame,
            pace: Pace::Rate(pps),
            sources: 1,
        },
    );
    net.add_sink(b, 5001);
    if let Some(m) = memory {
        net.capture(ea);
        net.capture(eb);
        net.set_capture(Capture::new(Box::new(m.clone()), 1 << 16).expect("capture"));
    }
    net
}

fn start(net: Network) -> Engine {
    start_with(net, false, true)
}

/// The engine on one worker; `busy_poll`: spinning when idle (`shoal run --busy-poll`) instead
/// of sleeping until the next frame is due; `flows_at_start`: false holds the flows until
/// [`Engine::set_flows`].
fn start_with(net: Network, busy_poll: bool, flows_at_start: bool) -> Engine {
    let cfg = EngineConfig {
        workers: 1,
        busy_poll,
        flows_at_start,
        ..EngineConfig::default()
    };
    Engine::start(net, cfg).expect("engine starts")
}

/// Each flow datagram's time on the link, ns, in send order (`None`: lost), from a capture.
fn transits(memory: &Memory) -> Vec<Option<i64>> {
    let file = memory.0.lock().expect("capture").clone();
    // The flow's datagrams: UDP to port 5001, the sequence number in their stamp.
    let seq = |p: &pcapng::Packet| {
        let s: [u8; 4] = p.data.get(46..50)?.try_into().ok()?;
        (p.data.get(36..38)? == [0x13, 0x89]).then_some(u32::from_be_bytes(s))
    };
    let (mut out, mut inb) = (Vec::new(), HashMap::new());
    for p in pcapng::packets(&file) {
        match (p.iface, p.outbound, seq(&p)) {
            (0, true, Some(s)) => out.push((s, p.ts_ns, p.dropped)),
            (1, false, Some(s)) => {
                inb.insert(s, p.ts_ns);
            }
            _ => {}
        }
    }
    // A dropped frame was captured twice on the way out: as sent and as dropped.
    let dropped: std::collections::HashSet<u32> = out.iter().filter(|o| o.2).map(|o| o.0).collect();
    out.retain(|o| !o.2);
    out.iter()
        .map(|&(s, t, _)| {
            let arrived = inb.get(&s).filter(|_| !dropped.contains(&s));
            arrived.map(|&a| a as i64 - t as i64)
        })
        .collect()
}

fn quantile(sorted: &[i64], q: f64) -> i64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn row(what: &str, target: &str, measured: &str, ok: bool) {
    let verdict = if ok { "met" } else { "MISSED" };
    println!("{what:<34} {target:<18} {measured:<42} {verdict}");
}

/// What the machine itself allows: a thread pinned to core 0 (the worker's) spins reading the
/// clock for `secs`, noting every gap between two reads (time it was not running). A frame
/// falling due at a random instant inside a gap of length g waits out the rest of it, so a
/// perfect spinning worker would be later than x with probability Σ max(g − x, 0) / run; the
/// row prints the x where that is 1% — the p99 delay error no software on this machine beats —
/// and the share of time lost to gaps.
fn machine_row(secs: f64) {
    if let Some(core) = core_affinity::get_core_ids().and_then(|c| c.first().copied()) {
        core_affinity::set_for_current(core);
    }
    let start = Instant::now();
    let mut last = start;
    let mut gaps: Vec<u64> = Vec::new();
    while last.duration_since(start).as_secs_f64() < secs {
        let now = Instant::now();
        let gap = (now - last).as_nanos() as u64;
        if gap > 1_000 {
            gaps.push(gap);
        }
        last = now;
    }
    let run = (last - start).as_nanos() as f64;
    let late = |x: u64| gaps.iter().map(|&g| g.saturating_sub(x)).sum::<u64>() as f64 / run;
    // The least x (to 0.1 µs) at which a random instant is later than x at most 1% of the time.
    let (mut lo, mut hi) = (0u64, gaps.iter().copied().max().unwrap_or(0));
    while hi - lo > 100 {
        let mid = (lo + hi) / 2;
        if late(mid) > 0.01 { lo = mid } else { hi = mid }
    }
    let measured = format!(
        "p99 {:.1} us; {:.2}% of the time not running",
        hi as f64 / 1e3,
        100.0 * late(0)
    );
    println!(
        "{:<34} {:<18} {measured}",
        "machine: a spinning thread", "(the floor)"
    );
}

fn delay_error(ms: u64, secs: f64, busy_poll: bool) {
    let memory = Memory::default();
    let net = pair(&format!("delay {ms}ms"), 64, 2_000, Some(&memory));
    let engine = start_with(net, busy_poll, false);
    let name = match busy_poll {
        true => format!("delay {ms}ms: error, busy-poll"),
        false => format!("delay {ms}ms: error"),
    };
    // a learns b's address first: datagrams held for ARP would cross as one burst, whose
    // frames leave one after another — a measure of the burst, not of the delay.
    let (a, b) = (NodeId(0), [10, 9, 0, 2].into());
    let answered = engine.ping(a, b, 1, Duration::from_secs(1));
    assert!(
        matches!(answered, PingReply::Echo { .. }),
        "b answers a's ping: {answered:?}"
    );
    engine.set_flows(true);
    std::thread::sleep(Duration::from_secs_f64(secs));
    engine.stop().expect("stops");
    let want = (ms * 1_000_000) as i64;
    let mut err: Vec<i64> = transits(&memory)
        .into_iter()
        .flatten()
        .map(|t| t - want)
        .collect();
    err.sort_unstable();
    if err.is_empty() {
        row(&name, "p99 <= 20 us", "no frame arrived", false);
        return;
    }
    let us = |v: i64| v as f64 / 1e3;
    let (p50, p99, max, min) = (
        quantile(&err, 0.5),
        quantile(&err, 0.99),
        err[err.len() - 1],
        err[0],
    );
    let measured = format!(
        "p50 {:.1} p99 {:.1} max {:.1} min {:.1} us ({} frames)",
        us(p50),
        us(p99),
        us(max),
        us(min),
        err.len()
    );
    row(&name, "p99 <= 20 us", &measured, p99 <= 20_000 && min >= 0);
}

/// Worst deviation from `bits_per_s` over spans of consecutive arrivals of at least 100 ms,
/// from the capture's arrival stamps (exact: no counting of whole frames per window).
fn rate_by_capture(bits_per_s: u64, frame: usize, secs: f64) -> (f64, usize) {
    let memory = Memory::default();
    let pps = bits_per_s * 11 / 10 / (frame as u64 * 8);
    let spec = format!("rate {bits_per_s}bit limit 100000");
    let engine = start(pair(&spec, frame, pps.max(1), Some(&memory)));
    std::thread::sleep(Duration::from_secs_f64(secs));
    engine.stop().expect("stops");
    let file = memory.0.lock().expect("capture").clone();
    let arrivals: Vec<u64> = pcapng::packets(&file)
        .into_iter()
        .filter(|p| p.iface == 1 && !p.outbound && p.data.len() == frame)
        .map(|p| p.ts_ns)
        .collect();
    // Skip the first arrivals (the queue filling), then measure span by span.
    let start = arrivals.len() / 10;
    let (mut worst, mut spans, mut from) = (0.0f64, 0, start);
    for i in start + 1..arrivals.len() {
        let span = arrivals[i] - arrivals[from];
        if span >= 100_000_000 {
            let rate = (i - from) as f64 * frame as f64 * 8.0 / (span as f64 / 1e9);
            worst = worst.max((rate / bits_per_s as f64 - 1.0).abs());
            spans += 1;
            from = i;
        }
    }
    (worst, spans)
}

/// Worst deviation from `bits_per_s` over 100 ms windows, sampling the running totals (for
/// rates where a window holds thousands of frames, so counting whole frames is exact enough).
fn rate_by_sampling(bits_per_s: u64, frame: usize, secs: f64) -> (f64, usize, f64) {
    let pps = bits_per_s * 11 / 10 / (frame as u64 * 8);
    let engine = start(pair(&format!("rate {bits_per_s}bit"), frame, pps, None));
    std::thread::sleep(Duration::from_millis(300));
    let mut samples = vec![(Instant::now(), engine.stats())];
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_millis(100));
        samples.push((Instant::now(), engine.stats()));
    }
    engine.stop().expect("stops");
    let mut worst = 0.0f64;
    for w in samples.windows(2) {
        let dt = w[1].0.duration_since(w[0].0).as_secs_f64();
        let bits = (w[1].1.received - w[0].1.received) as f64 * frame as f64 * 8.0;
        worst = worst.max((bits / dt / bits_per_s as f64 - 1.0).abs());
    }
    let (first, last) = (&samples[0], &samples[samples.len() - 1]);
    let offered = (last.1.sent - first.1.sent) as f64 * frame as f64 * 8.0
        / last.0.duration_since(first.0).as_secs_f64();
    (worst, samples.len() - 1, offered / bits_per_s as f64)
}

fn rate_row(bits_per_s: u64, secs: f64) {
    let name = match bits_per_s {
        r if r >= 1_000_000_000 => format!("{}gbit", r / 1_000_000_000),
        r => format!("{}mbit", r / 1_000_000),
    };
    let what = format!("rate {name}: 1500-byte frames");
    if bits_per_s <= 100_000_000 {
        let (worst, spans) = rate_by_capture(bits_per_s, 1500, secs);
        let m = format!(
            "worst span {:.3}% off ({spans} spans >= 100 ms)",
            worst * 100.0
        );
        row(&what, "within 1%", &m, spans > 0 && worst <= 0.01);
    } else {
        let (worst, windows, offered) = rate_by_sampling(bits_per_s, 1500, secs);
        let bound = offered < 1.0;
        let m = format!(
            "worst window {:.3}% off ({windows} windows; offered {:.2}x)",
            worst * 100.0,
            offered
        );
        let m = if bound {
            format!("{m}, generator-bound")
        } else {
            m
        };
        row(&what, "within 1%", &m, !bound && worst <= 0.01);
    }
}

fn loss_row(percent: f64, frames: u64) {
    let pps = 20_000;
    let memory = Memory::default();
    let net = pair(&format!("loss {percent}%"), 64, pps, Some(&memory));
    let engine = start(net);
    std::thread::sleep(Duration::from_secs_f64(frames as f64 / pps as f64));
    engine.stop().expect("stops");
    let t = transits(&memory);
    let n = t.len() as f64;
    let lost = t.iter().filter(|x| x.is_none()).count() as f64;
    let p = percent / 100.0;
    let sigma = (n * p * (1.0 - p)).sqrt();
    let z = (lost - n * p) / sigma;
    let m = format!("{:.3}% of {n} lost, z = {z:+.2}", 100.0 * lost / n);
    row(&format!("loss {percent}%"), "|z| <= 3", &m, z.abs() <= 3.0);
}

fn distribution_row(spec: &str, frames: usize) {
    let netem: Netem = spec.parse().expect("spec");
    let memory = Memory::default();
    let pps = 2_000;
    let engine = start(pair(spec, 64, pps, Some(&memory)));
    std::thread::sleep(Duration::from_secs_f64(frames as f64 / pps as f64));
    engine.stop().expect("stops");
    let mut t: Vec<i64> = transits(&memory).into_iter().flatten().collect();
    t.sort_unstable();
    let n = t.len() as f64;
    let d = t
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = netem.delay.cdf(Duration::from_nanos(x.max(0) as u64));
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max);
    let critical = 1.63 / n.sqrt();
    let m = format!("KS D {d:.4} (1% critical {critical:.4}, {n} frames)");
    row(spec, "D < critical", &m, d < critical);
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test` this is a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    // `cargo bench --bench netem -- delay` runs only the rows of that group (delay, rate,
    // loss, distribution).
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runs = |group: &str| only.as_deref().is_none_or(|o| o == group);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "netem accuracy on the engine (1 worker; load average {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<34} {:<18} {:<42} verdict",
        "impairment", "target", "measured"
    );
    if !full {
        delay_error(1, 0.3, false);
        rate_row(10_000_000, 0.5);
        return;
    }
    if runs("delay") {
        // On its own thread, so that this one's affinity stays as it was.
        let probe = std::thread::spawn(|| machine_row(2.0));
        probe.join().expect("the probe runs");
    }
    for busy_poll in [false, true].into_iter().filter(|_| runs("delay")) {
        delay_error(1, 3.0, busy_poll);
        delay_error(100, 3.0, busy_poll);
    }
    for r in [
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
        10_000_000_000,
    ]
    .into_iter()
    .filter(|_| runs("rate"))
    {
        rate_row(r, 2.0);
    }
    if runs("loss") {
        loss_row(1.0, 40_000);
        loss_row(10.0, 40_000);
    }
    for d in ["uniform", "normal", "pareto", "paretonormal"]
        .into_iter()
        .filter(|_| runs("distribution"))
    {
        distribution_row(&format!("delay 10ms 2ms distribution {d}"), 6_000);
    }
}
