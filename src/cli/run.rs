//! `shoal run`: run a topology file on the engine until Ctrl-C (or for a set time), with a
//! live line of totals, and print every instance's counters at the end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use shoal::engine::{Engine, EngineConfig, FlowSpec, NodeId, Totals};

use super::links::LinkArgs;

use super::sys;

const FLOW_PORT: u16 = 5001;

/// Options of `shoal run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Topology file (or --gen).
    topo: Option<String>,
    #[command(flatten)]
    gen_arg: super::source::GenArg,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Pin worker 0 to this core, worker 1 to the next, and so on.
    #[arg(long, default_value_t = 0)]
    first_core: usize,
    /// Spin when idle instead of sleeping.
    #[arg(long)]
    busy_poll: bool,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long)]
    seconds: Option<f64>,
    /// A UDP flow FROM:TO[:PPS] from a node to a node or an address (flat out without PPS);
    /// may repeat.
    #[arg(long = "flow", value_name = "FROM:TO[:PPS]")]
    flows: Vec<String>,
    /// Count the flows arriving at this node (flows between nodes of the file are counted
    /// anyway); may repeat.
    #[arg(long = "sink", value_name = "NODE")]
    sinks: Vec<String>,
    /// Source ports each flow cycles through (5-tuples, as separate flows look to a hash).
    #[arg(long, default_value_t = 1)]
    sources: u16,
    /// Frame length of the flows, bytes (without FCS).
    #[arg(long, default_value_t = 64)]
    frame: usize,
    #[command(flatten)]
    links: LinkArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let (topo, name) = args.gen_arg.load(args.topo.as_deref())?;
    for w in &topo.warnings {
        eprintln!("{name}:{}: warning: {}: {}", w.line, w.key, w.message);
    }
    let meter = super::source::Meter::new();
    let mut net = topo.network_with(&meter)?;
    meter.done();
    let node = |node: &str, what: &str| {
        topo.node_index(node)
            .with_context(|| format!("{what}: no node {node:?} in {name}"))
    };
    let mut remote_flows = false;
    for flow in &args.flows {
        let (from, to, rate) = parse_flow(flow)?;
        let src = node(from, &format!("--flow {flow}"))?;
        // TO is a node of this file (which then sinks the flow) or any address, perhaps in
        // another process across a link file.
        let dst = match to.parse() {
            Ok(addr) => {
                remote_flows = true;
                addr
            }
            Err(_) => {
                let d = node(to, &format!("--flow {flow}"))?;
                net.add_sink(NodeId(d as u32), FLOW_PORT);
                topo.first_addr(d)
                    .with_context(|| format!("--flow {flow}: {to} has no address"))?
            }
        };
        net.add_flow(
            NodeId(src as u32),
            FlowSpec {
                dst,
                port: FLOW_PORT,
                frame_len: args.frame.max(shoal::engine::MIN_FRAME),
                rate,
                sources: args.sources,
            },
        );
    }
    for sink in &args.sinks {
        net.add_sink(NodeId(node(sink, "--sink")? as u32), FLOW_PORT);
    }
    args.links.apply(&topo, &mut net)?;
    let to_stderr = args.links.capture_to_stdout();
    let mut out = super::text_out(to_stderr);
    let defaults = EngineConfig::default();
    let cfg = EngineConfig {
        workers: args.workers.unwrap_or(defaults.workers).max(1),
        busy_poll: args.busy_poll,
        first_core: args.first_core,
        ..defaults
    };
    sys::catch_interrupts();
    let engine = Engine::start(net, cfg).context("starting the engine")?;
    writeln!(
        out,
        "{}: {} instances on {} worker(s); Ctrl-C stops",
        name,
        topo.nodes.len(),
        cfg.workers
    )?;
    let t0 = Instant::now();
    let deadline = args
        .seconds
        .map(|s| t0 + Duration::from_secs_f64(s.max(0.0)));
    let mut last = (Totals::default(), t0);
    let tty = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    while !sys::interrupted() && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        if now.duration_since(last.1) >= Duration::from_secs(1) {
            let t = engine.stats();
            let dt = now.duration_since(last.1).as_secs_f64();
            let line = format!(
                "{:>6.1} s  frames {:>12}  {:>8.3} Mpps  drops {:>8}  flows: sent {} received {}",
                now.duration_since(t0).as_secs_f64(),
                t.frames,
                (t.frames - last.0.frames) as f64 / dt / 1e6,
                t.drops,
                t.generated,
                t.received
            );
            // On a terminal one line is redrawn in place; into a pipe or file, a line a second.
            if tty {
                write!(out, "\r{line}")?;
                out.flush()?;
            } else {
                writeln!(out, "{line}")?;
            }
            last = (t, now);
        }
    }
    if tty {
        writeln!(out)?;
    }
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(100));
    let report = engine.stop()?;
    super::report::print(&report, &mut out)?;
    let s = &report.sink;
    let latency = |q| s.latency.quantile(q).unwrap_or(0) as f64 / 1e3;
    if report.generated != 0 && !remote_flows {
        let lost = report.generated.saturating_sub(s.received);
        writeln!(
            out,
            "flows: sent {}, received {}, lost {lost}, reordered {}",
            report.generated, s.received, s.reordered
        )?;
    } else if report.generated != 0 {
        writeln!(
            out,
            "flows: sent {} (to addresses outside this file: their receivers count them)",
            report.generated
        )?;
    }
    if s.received != 0 {
        writeln!(
            out,
            "received {} datagrams, {} reordered; one-way latency p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            s.received,
            s.reordered,
            latency(0.5),
            latency(0.99),
            s.latency.max() as f64 / 1e3
        )?;
    }
    Ok(())
}

/// `FROM:TO[:PPS]`.
fn parse_flow(text: &str) -> anyhow::Result<(&str, &str, Option<u64>)> {
    let mut parts = text.split(':');
    let (Some(from), Some(to)) = (parts.next(), parts.next()) else {
        anyhow::bail!("--flow {text}: expected FROM:TO[:PPS]");
    };
    let rate = parts
        .next()
        .map(|r| {
            r.parse::<u64>()
                .with_context(|| format!("--flow {text}: bad rate {r:?}"))
        })
        .transpose()?;
    anyhow::ensure!(
        parts.next().is_none(),
        "--flow {text}: expected FROM:TO[:PPS]"
    );
    Ok((from, to, rate))
}
