//! `shoal bench`: shoal against the Linux kernel's forwarding path, on the same topology, in
//! the same run, with the same generator.
//!
//! Each scenario builds its path in fresh network namespaces (`rig.rs`) — once forwarded by
//! Linux routers, once by a shoal process — and drives it with shoal's own generator (a host
//! instance sending UDP over AF_XDP, timestamps in the payload). As a cross-check, the 1-router
//! paths are driven again by shoal's generator and by Debian's `trafgen`, both paced at half
//! what the path carried flat out (at full speed trafgen would starve the sink, which shares
//! its core on a 2-core machine), and the two deliveries compared. Every measurement runs
//! several times; rows hold the median and the
//! min–max ([`report`]). The generator's own ceiling is measured first, per frame size, and a
//! result at that ceiling is marked generator-bound. CPU time comes from /proc ([`procstat`]).

pub mod procstat;
pub mod report;
mod rig;
mod sys;
mod trafgen;

use std::time::{Duration, Instant};

use anyhow::Context;

use crate::engine::{Engine, EngineConfig};
use report::{Row, Sample};
pub use rig::Path;
use rig::Run;

/// A scenario: a path of `routers` routers, forwarded by each of `paths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Name in the table.
    pub name: String,
    /// Routers in the path.
    pub routers: usize,
    /// What forwards it, each measured in turn.
    pub paths: Vec<Path>,
    /// Frame lengths to measure.
    pub frames: Vec<usize>,
    /// Flow counts to measure.
    pub flows: Vec<u16>,
}

/// Routers in the in-process chain (shoal only: no namespaces, no devices).
pub const IN_PROCESS_CHAIN: usize = 254;

/// The scenarios: the quick set (well under two minutes), or everything the issue names.
pub fn scenarios(full: bool) -> Vec<Scenario> {
    let (frames, flows) = if full {
        (vec![64, 512, 1500], vec![1, 64])
    } else {
        (vec![64], vec![1])
    };
    let s = |name: &str, routers, paths: &[Path], frames: &[usize], flows: &[u16]| Scenario {
        name: name.to_owned(),
        routers,
        paths: paths.to_vec(),
        frames: frames.to_vec(),
        flows: flows.to_vec(),
    };
    let all = [Path::Kernel, Path::ShoalXdp, Path::ShoalTap];
    let chain = [Path::Kernel, Path::ShoalXdp];
    let mut v = vec![s("1 router", 1, &all, &frames, &flows)];
    if !full {
        // TAP's target is in large frames: measure 1500 bytes in the quick set too.
        v.push(s("1 router", 1, &[Path::ShoalTap], &[1500], &[1]));
    }
    v.push(s("chain 4", 4, &chain, &frames, &flows));
    v.push(s("chain 16", 16, &chain, &frames, &flows));
    v.push(s(
        "chain 254 in-process",
        IN_PROCESS_CHAIN,
        &[],
        &frames,
        &[1],
    ));
    v
}

/// How to run the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs per measurement.
    pub runs: usize,
    /// Seconds of traffic per run.
    pub seconds: f64,
    /// Cross-check the 1-router paths with trafgen.
    pub trafgen: bool,
    /// Also search each path's lossless capacity (RFC 2544-style).
    pub capacity: bool,
}

/// Loss below which a paced rate counts as carried. RFC 2544 asks for none; on this kind of
/// VM every path loses 0.1–0.3% at low paced rates (the generator paces in bursts of up to 32,
/// and a sleeping worker wakes in tens of microseconds), so half a percent.
const LOSSLESS: f64 = 0.005;
/// Halvings of the capacity search: the answer is within 1/64 of the flat-out offered rate.
const SEARCH_STEPS: usize = 6;

/// Run every scenario; progress goes to stderr, one line per measurement.
pub fn run(scenarios: &[Scenario], opts: &Options) -> anyhow::Result<Vec<Row>> {
    anyhow::ensure!(
        crate::netns::is_root(),
        "shoal bench builds network namespaces and attaches XDP programs: run it as root"
    );
    let mut rows = Vec::new();
    let mut ceilings: Vec<(usize, u16, f64)> = Vec::new();
    for sc in scenarios {
        for &frame in &sc.frames {
            for &flows in &sc.flows {
                if sc.paths.is_empty() {
                    rows.push(in_process(sc, frame, opts)?);
                    continue;
                }
                let ceiling = match ceilings.iter().find(|c| c.0 == frame && c.1 == flows) {
                    Some(c) => c.2,
                    None => {
                        let row = repeat(sc, Path::Direct, frame, flows, opts, None)?;
                        let c = row.median.delivered_pps;
                        ceilings.push((frame, flows, c));
                        rows.push(row);
                        c
                    }
                };
                for &path in &sc.paths {
                    let mut row = repeat(sc, path, frame, flows, opts, Some(ceiling))?;
                    if opts.capacity {
                        row.capacity_pps = Some(capacity(sc, path, frame, flows, opts, &row)?);
                    }
                    if opts.trafgen && sc.routers == 1 && path != Path::ShoalTap {
                        // Both generators paced at half what the path delivered flat out: a
                        // load it carries, so each should see all of it arrive.
                        let rate = (row.median.delivered_pps / 2.0).max(1.0);
                        let r = Run {
                            path,
                            routers: 1,
                            frame,
                            flows,
                            rate: Some(rate as u64),
                            seconds: opts.seconds,
                        };
                        let ours = rig::measure(&r)?.delivered_pps;
                        let theirs = trafgen::measure(&r, rate)?;
                        row.cross_check = Some((rate, ours, theirs));
                    }
                    rows.push(row);
                }
            }
        }
    }
    report::compare_to_kernel(&mut rows);
    scale_in_process(&mut rows);
    Ok(rows)
}

/// Measure one path `opts.runs` times.
fn repeat(
    sc: &Scenario,
    path: Path,
    frame: usize,
    flows: u16,
    opts: &Options,
    ceiling: Option<f64>,
) -> anyhow::Result<Row> {
    let run = Run {
        path,
        routers: sc.routers,
        frame,
        flows,
        rate: None,
        seconds: opts.seconds,
    };
    let mut samples = Vec::with_capacity(opts.runs);
    for k in 0..opts.runs.max(1) {
        let s = rig::measure(&run).with_context(|| {
            format!("{} / {} / {frame} B / {flows} flows", sc.name, path.label())
        })?;
        eprintln!(
            "  {:<20} {:<12} {frame:>5} B {flows:>3} flows  run {}: {:.0} pps offered, {:.0} delivered",
            sc.name,
            path.label(),
            k + 1,
            s.offered_pps,
            s.delivered_pps
        );
        samples.push(s);
    }
    let name = if path == Path::Direct {
        "(ceiling)"
    } else {
        &sc.name
    };
    Ok(Row::new(name, path.label(), frame, flows, samples, ceiling))
}

/// The highest paced rate `path` carries without loss: a binary search between 0 and what the
/// generator offered flat out, one run per step (RFC 2544's throughput test, shortened).
fn capacity(
    sc: &Scenario,
    path: Path,
    frame: usize,
    flows: u16,
    opts: &Options,
    flat_out: &Row,
) -> anyhow::Result<f64> {
    let (mut lo, mut hi) = (0.0, flat_out.median.offered_pps);
    for _ in 0..SEARCH_STEPS {
        let rate = (lo + hi) / 2.0;
        let run = Run {
            path,
            routers: sc.routers,
            frame,
            flows,
            rate: Some(rate.max(1.0) as u64),
            seconds: opts.seconds,
        };
        let s = rig::measure(&run)?;
        let carried = s.loss() <= LOSSLESS;
        eprintln!(
            "  {:<20} {:<12} {frame:>5} B {flows:>3} flows  at {rate:.0} pps: {:.0} delivered{}",
            sc.name,
            path.label(),
            s.delivered_pps,
            if carried { "" } else { " (loss)" }
        );
        if carried {
            lo = rate;
        } else {
            hi = rate;
        }
    }
    Ok(lo)
}

/// The in-process chain: router hops per second on one core, no devices.
fn in_process(sc: &Scenario, frame: usize, opts: &Options) -> anyhow::Result<Row> {
    let mut samples = Vec::new();
    let mut hops = Vec::new();
    for _ in 0..opts.runs.max(1) {
        let net = crate::topo::generate::chain_flood(sc.routers, frame, crate::fabric::Pace::Flat)?
            .network;
        let cfg = EngineConfig {
            workers: 1,
            flows_at_start: false,
            ..EngineConfig::default()
        };
        let engine = Engine::start(net, cfg)?;
        let me = std::process::id();
        let cpu0 = procstat::process_cpu(me)?;
        let before = engine.stats();
        let t0 = Instant::now();
        engine.set_flows(true);
        std::thread::sleep(Duration::from_secs_f64(opts.seconds));
        let after = engine.stats();
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu = (procstat::process_cpu(me)? - cpu0) as f64 / procstat::TICKS_PER_SECOND as f64;
        engine.set_flows(false);
        let report = engine.stop()?;
        let delivered = (after.received - before.received) as f64 / elapsed;
        let q = |x| report.sink.latency.quantile(x).unwrap_or(0);
        hops.push((after.frames - before.frames) as f64 / elapsed);
        samples.push(Sample {
            offered_pps: (after.sent - before.sent) as f64 / elapsed,
            delivered_pps: delivered,
            forwarded_pps: delivered,
            latency_ns: [q(0.5), q(0.99), q(0.999)],
            cpu_s_per_mpkt: if delivered > 0.0 {
                cpu / (delivered * elapsed / 1e6)
            } else {
                0.0
            },
        });
        eprintln!(
            "  {:<20} {:<12} {frame:>5} B  {:.1} M router-hops/s",
            sc.name,
            "shoal",
            hops.last().copied().unwrap_or(0.0) / 1e6
        );
    }
    let mut row = Row::new(&sc.name, "shoal", frame, 1, samples, None);
    row.router_hops_pps = Some(report::median(hops));
    Ok(row)
}

/// The in-process chain has no kernel twin: compare its router hops per second with the
/// kernel's per-hop rate in the 16-router chain (delivered × 16), as the issue prescribes.
fn scale_in_process(rows: &mut [Row]) {
    let kernel_hops = rows
        .iter()
        .find(|r| r.path == "kernel" && r.scenario == "chain 16")
        .map(|r| r.median.delivered_pps * 16.0);
    for r in rows.iter_mut() {
        if let (Some(h), Some(k)) = (r.router_hops_pps, kernel_hops)
            && k > 0.0
        {
            r.vs_kernel = Some(h / k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_set_covers_every_path_and_the_full_set_every_size() {
        let quick = scenarios(false);
        let paths: Vec<Path> = quick.iter().flat_map(|s| s.paths.clone()).collect();
        for p in [Path::Kernel, Path::ShoalXdp, Path::ShoalTap] {
            assert!(paths.contains(&p), "{p:?}");
        }
        assert!(quick.iter().any(|s| s.routers == IN_PROCESS_CHAIN));
        let full = scenarios(true);
        assert!(full.iter().all(|s| s.frames == [64, 512, 1500]));
        assert!(full.iter().any(|s| s.flows == [1, 64]));
        assert!(full.iter().any(|s| s.routers == 16));
    }
}
