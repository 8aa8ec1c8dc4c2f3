//! `shoal run`: run a topology file on the engine until Ctrl-C (or for a set time), with a
//! live line of totals, and print every instance's counters at the end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use shoal::ctl::{Ctl, Directory, Server, default_path};
use shoal::engine::{Engine, EngineConfig, FlowReport, FlowSpec, NodeId, Totals};
use shoal::fabric::{Pace, WINDOW};
use shoal::topo::Topology;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Worker threads, 1 or more (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Pin worker 0 to this core, worker 1 to the next, and so on.
    #[arg(long, default_value_t = 0)]
    first_core: usize,
    /// Spin when idle instead of sleeping.
    #[arg(long)]
    busy_poll: bool,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long)]
    seconds: Option<f64>,
    /// A UDP flow FROM:TO[:PPS|max] from a node to a node or an address: PPS datagrams a
    /// second, `max` as fast as the path delivers them (no more than 1,024 on their way, so the
    /// flow alone never overflows a queue: the path's capacity), or, without either, as fast
    /// as the worker makes them (an open loop: what the path cannot carry is dropped and
    /// counted); may repeat.
    #[arg(long = "flow", value_name = "FROM:TO[:PPS|max]")]
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
    /// Print the final report as one JSON document on standard output (everything else goes
    /// to standard error).
    #[arg(long)]
    json: bool,
    /// The control socket `shoal ctl` talks to (default: NAME.sock, after the topology file,
    /// in $XDG_RUNTIME_DIR/shoal, /run/shoal for root, else /tmp/shoal-UID).
    #[arg(long, value_name = "PATH")]
    ctl: Option<std::path::PathBuf>,
    #[command(flatten)]
    links: LinkArgs,
}

impl RunArgs {
    /// The topology, generated or read from the file, and what to call it in messages.
    pub(super) fn load(&self) -> anyhow::Result<(Topology, String)> {
        self.gen_arg.load(self.topo.as_deref())
    }

    /// With `--gen`, the positional taken for the file is not one (`shoal plug --gen chain 3
    /// h1:eth1`): hand it back.
    pub(super) fn take_positional_after_gen(&mut self) -> Option<String> {
        self.gen_arg.shape.as_ref()?;
        self.topo.take()
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    run_plugged(args, None)
}

/// `shoal run`, with interface `plugged` (`NODE:IFACE`) given standard input and output for
/// the `vde_plug` stream (`shoal plug`). With the stream (from `plugged` or the file's
/// `attach = { vde = "-" }`) all text goes to standard error, and the run ends when the
/// stream does.
pub(super) fn run_plugged(args: RunArgs, plugged: Option<&str>) -> anyhow::Result<()> {
    let (mut topo, name) = args.load()?;
    if let Some(end) = plugged {
        super::plug::give_stdio(&mut topo, end, &name)?;
    }
    let stdio = topo.uses_stdio();
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
    // Flows to addresses outside this file: (sender, address); their receivers count them.
    let mut remote = Vec::new();
    for flow in &args.flows {
        let (from, to, pace) = parse_flow(flow)?;
        let src = node(from, &format!("--flow {flow}"))?;
        // TO is a node of this file (which then sinks the flow) or any address, perhaps in
        // another process across a link file.
        let dst = match to.parse() {
            Ok(_) if matches!(pace, Pace::Window(_)) => {
                let msg = format!(
                    "--flow {flow}: max needs the receiver in this run (a node, not an address) \
                     to know what arrived"
                );
                return Err(super::Usage::new(msg).into());
            }
            Ok(addr) => {
                remote.push((from, addr));
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
                pace,
                sources: args.sources,
            },
        );
    }
    for sink in &args.sinks {
        net.add_sink(NodeId(node(sink, "--sink")? as u32), FLOW_PORT);
    }
    args.links.apply(&topo, &mut net)?;
    if args.json && args.links.capture_to_stdout() {
        let msg = "--json and -w - both want standard output: write the capture to a file";
        return Err(super::Usage::new(msg.into()).into());
    }
    if stdio && (args.json || args.links.capture_to_stdout()) {
        let msg = "standard output carries the vde_plug stream: write the capture or the JSON \
                   report to a file";
        return Err(super::Usage::new(msg.into()).into());
    }
    let to_stderr = args.links.capture_to_stdout() || args.json || stdio;
    let mut out = super::text_out(to_stderr);
    let defaults = EngineConfig::default();
    let cfg = EngineConfig {
        workers: args.workers.map_or(defaults.workers, usize::from),
        busy_poll: args.busy_poll,
        first_core: args.first_core,
        ..defaults
    };
    check_cores(&cfg)?;
    if args.frame < shoal::engine::MIN_FRAME {
        eprintln!(
            "shoal: warning: --frame {}: a flow's frames carry a {}-byte stamp; sending {}-byte \
             frames",
            args.frame,
            shoal::fabric::flow::STAMP_LEN,
            shoal::engine::MIN_FRAME
        );
    }
    sys::catch_interrupts();
    // The network holds what the run and its report need. The control socket keeps the model
    // to recompute routes and draw pictures, of networks small enough for that; a bigger one's
    // model goes, its memory to the engine (a quarter of a wired router's).
    let instances = topo.nodes.len();
    let model = (instances <= shoal::ctl::MAX_MODEL_NODES).then(|| Arc::new(topo));
    let dir = Directory::of(&net);
    let engine = Arc::new(Engine::start(net, cfg).context("starting the engine")?);
    let stop = Arc::new(AtomicBool::new(false));
    let mut ctl = Ctl::new(engine.clone(), dir, stop.clone());
    if let Some(model) = model {
        ctl = ctl.with_topology(model);
    }
    let ctl = Arc::new(ctl);
    let server = open_control(&args, ctl)?;
    writeln!(
        out,
        "{}: {} instances on {} worker(s); Ctrl-C stops",
        name, instances, cfg.workers
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
    writeln!(
        out,
        "control socket: {} (shoal ctl)",
        server.path().display()
    )?;
    let stream_ended = || stdio && shoal::vde::stdio_closed();
    let stopped = || sys::interrupted() || stop.load(Ordering::Relaxed) || stream_ended();
    while !stopped() && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        if now.duration_since(last.1) >= Duration::from_secs(1) {
            let t = engine.stats();
            let dt = now.duration_since(last.1).as_secs_f64();
            let mut line = format!(
                "{:>6.1} s  frames {:>12}  {:>8.3} Mpps  drops {:>8}  flows: sent {} received {}",
                now.duration_since(t0).as_secs_f64(),
                t.frames,
                (t.frames - last.0.frames) as f64 / dt / 1e6,
                t.drops,
                t.sent,
                t.received
            );
            if let Some(why) = engine.trouble() {
                line.push_str(&format!("  ({why})"));
            }
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
    if stream_ended() {
        writeln!(out, "the vde_plug stream on standard input/output ended")?;
    }
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(100));
    // The control socket goes first; its jobs hold the engine until they see it gone.
    drop(server);
    let report = unshare(engine)?.stop()?;
    // A flow's datagrams add up when its destination's sink is in this run.
    let local = |f: &FlowReport| !remote.contains(&(f.from.as_str(), f.to));
    if args.json {
        let doc = super::json::report(&report, &local);
        println!("{doc:#}");
    } else {
        super::report::print(&report, &mut out)?;
        super::report::flows(&report, &local, &mut out)?;
    }
    // This run's own flows (a sink also reports flows other processes send it).
    let mut ours = report
        .flows
        .iter()
        .filter(|f| !f.from.is_empty())
        .peekable();
    if ours.peek().is_some() && ours.all(|f| f.sent == 0) {
        anyhow::bail!("no flow sent anything (the flows table says why)");
    }
    Ok(())
}

/// The engine alone again once the control socket's jobs have let go of it.
fn unshare(mut engine: Arc<Engine>) -> anyhow::Result<Engine> {
    for _ in 0..500 {
        match Arc::try_unwrap(engine) {
            Ok(e) => return Ok(e),
            Err(shared) => engine = shared,
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    anyhow::bail!("a control job still holds the engine after 5 s")
}

/// Refuse a first core that does not exist; warn when workers will not be pinned (more of
/// them than cores from the first one on).
fn check_cores(cfg: &EngineConfig) -> anyhow::Result<()> {
    let cores = core_affinity::get_core_ids().map_or(0, |c| c.len());
    if cores == 0 {
        eprintln!("shoal: warning: this process may not pin threads: workers are not pinned");
        return Ok(());
    }
    if cfg.first_core >= cores {
        let msg = format!(
            "--first-core {}: this process may use cores 0 to {} only",
            cfg.first_core,
            cores - 1
        );
        return Err(super::Usage::new(msg).into());
    }
    let pinned = cores - cfg.first_core;
    if cfg.workers > pinned {
        let which = match cfg.workers - pinned {
            1 => format!("worker {pinned} is"),
            _ => format!("workers {pinned} to {} are", cfg.workers - 1),
        };
        eprintln!(
            "shoal: warning: {} workers from core {} on, {cores} cores: {which} not pinned and \
             share cores with the others",
            cfg.workers, cfg.first_core
        );
    }
    Ok(())
}

/// `FROM:TO[:PPS|max]`.
fn parse_flow(text: &str) -> anyhow::Result<(&str, &str, Pace)> {
    let usage = || super::Usage::new(format!("--flow {text}: expected FROM:TO[:PPS|max]"));
    let mut parts = text.split(':');
    let (Some(from), Some(to)) = (parts.next(), parts.next()) else {
        return Err(usage().into());
    };
    let pace = match parts.next() {
        None => Pace::Flat,
        Some("max") => Pace::Window(WINDOW),
        Some(r) => match r.parse::<u64>() {
            Ok(0) | Err(_) => {
                let msg = format!("--flow {text}: {r:?} is neither a rate above 0 nor max");
                return Err(super::Usage::new(msg).into());
            }
            Ok(pps) => Pace::Rate(pps),
        },
    };
    if parts.next().is_some() {
        return Err(usage().into());
    }
    Ok((from, to, pace))
}

/// The control socket: at `--ctl`, or by default after the topology file's name, the first of
/// `NAME.sock`, `NAME-2.sock`, … that no other run listens on (two runs of files with one name
/// in different directories both get one).
fn open_control(args: &RunArgs, ctl: Arc<Ctl>) -> anyhow::Result<Server> {
    if let Some(path) = &args.ctl {
        return Server::start(path, ctl)
            .with_context(|| format!("opening the control socket {}", path.display()));
    }
    // After the file; a generated network after its shape (`--gen chain 3`: chain-3).
    let name = match (&args.topo, &args.gen_arg.shape) {
        (Some(file), _) => std::path::Path::new(file)
            .file_stem()
            .map_or("shoal".into(), |s| s.to_string_lossy().into_owned()),
        (None, Some(shape)) => shape
            .split_whitespace()
            .collect::<Vec<_>>()
            .join("-")
            .replace('/', "_"),
        (None, None) => "shoal".into(),
    };
    let mut n = 1;
    loop {
        let path = match n {
            1 => default_path(&name),
            _ => default_path(&format!("{name}-{n}")),
        };
        match Server::start(&path, ctl.clone()) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && n < 100 => n += 1,
            r => {
                return r.with_context(|| format!("opening the control socket {}", path.display()));
            }
        }
    }
}
