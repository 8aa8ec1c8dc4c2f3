//! `shoal ping` and `shoal traceroute`: run a topology file in the simulator and probe across it,
//! printing what Linux's ping and traceroute print. Times are virtual: the simulator's clock,
//! driven by link delays, not the wall clock.

use core::time::Duration;
use std::io::Write;
use std::net::Ipv4Addr;

use anyhow::Context;
use shoal::router::SendOptions;
use shoal::sim::{NodeId, PingReply, Sim};
use shoal::topo::Topology;

use super::Usage;
use super::links::LinkArgs;
use super::source::{GenArg, Meter};

/// Options of `shoal ping`.
#[derive(Debug, clap::Args)]
pub struct PingArgs {
    /// The topology file (none with --gen), the node to ping from, and the address or node
    /// name to ping (a node's first address).
    #[arg(value_name = "[TOPO] FROM DST", num_args = 2..=3, required = true)]
    args: Vec<String>,
    #[command(flatten)]
    gen_arg: GenArg,
    /// Number of echo requests (1 or more).
    #[arg(short = 'c', long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    count: u16,
    /// Bytes of payload.
    #[arg(short = 's', long, default_value_t = 56)]
    size: usize,
    #[command(flatten)]
    links: LinkArgs,
}

/// Options of `shoal traceroute`.
#[derive(Debug, clap::Args)]
pub struct TracerouteArgs {
    /// The topology file (none with --gen), the node to trace from, and the address or node
    /// name to trace to.
    #[arg(value_name = "[TOPO] FROM DST", num_args = 2..=3, required = true)]
    args: Vec<String>,
    #[command(flatten)]
    gen_arg: GenArg,
    /// Most hops to probe (1 to 255).
    #[arg(short = 'm', long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..))]
    max_hops: u8,
    #[command(flatten)]
    links: LinkArgs,
}

/// Load and build the topology with the command line's impairments and captures, and resolve
/// the source node and destination address.
fn setup(
    args: &[String],
    gen_arg: &GenArg,
    links: &LinkArgs,
) -> anyhow::Result<(Topology, Sim, NodeId, Ipv4Addr, [String; 2])> {
    let (file, from, dst) = match args {
        [from, dst] => (None, from, dst),
        [file, from, dst] => (Some(file.as_str()), from, dst),
        _ => return Err(Usage::new("give [TOPO] FROM DST".into()).into()),
    };
    let (topo, file) = gen_arg.load(file)?;
    for w in &topo.warnings {
        eprintln!("{file}:{}: warning: {}: {}", w.line, w.key, w.message);
    }
    let meter = Meter::new();
    let mut net = topo.network_with(&meter)?;
    meter.done();
    links.apply(&topo, &mut net)?;
    let sim = Sim::from_network(net, topo.sim_pool())?;
    let node = sim.node(from)?;
    let addr = match dst.parse() {
        Ok(a) => a,
        Err(_) => topo
            .node_index(dst)
            .and_then(|i| topo.first_addr(i))
            .with_context(|| format!("{dst:?} is neither an address nor a node of {file}"))?,
    };
    Ok((topo, sim, node, addr, [from.clone(), dst.clone()]))
}

pub fn ping(args: PingArgs) -> anyhow::Result<()> {
    let (_, mut sim, node, dst, [from, _]) = setup(&args.args, &args.gen_arg, &args.links)?;
    let mut out = super::text_out(args.links.capture_to_stdout());
    writeln!(
        out,
        "PING {dst} ({dst}) from {} {}({}) bytes of data; times are virtual (simulator clock).",
        from,
        args.size,
        args.size + 28
    )?;
    let start = sim.now();
    let mut rtts = Vec::new();
    let mut errors = 0;
    let interval = Duration::from_secs(1);
    for seq in 1..=args.count {
        let sent = sim.now();
        let reply = sim.ping(node, dst, seq, args.size, SendOptions::default(), interval)?;
        match reply {
            PingReply::Echo { rtt, ttl } => {
                writeln!(
                    out,
                    "{} bytes from {dst}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                    args.size + 8,
                    ms(rtt)
                )?;
                rtts.push(ms(rtt));
            }
            PingReply::Error {
                from,
                kind,
                code,
                info,
            } => {
                errors += 1;
                let what = PingReply::describe_error(kind, code, info);
                writeln!(out, "From {from} icmp_seq={seq} {what}")?
            }
            PingReply::Timeout => {}
        }
        if seq < args.count {
            sim.run_until(sent + interval);
        }
    }
    let sent = usize::from(args.count);
    let loss = (sent - rtts.len()) * 100 / sent.max(1);
    writeln!(out, "\n--- {dst} ping statistics ---")?;
    let errors = if errors > 0 {
        format!(", +{errors} errors")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{sent} packets transmitted, {} received{errors}, {loss}% packet loss, time {}ms",
        rtts.len(),
        (sim.now() - start).as_millis()
    )?;
    if !rtts.is_empty() {
        let n = rtts.len() as f64;
        let avg = rtts.iter().sum::<f64>() / n;
        let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().copied().fold(0.0, f64::max);
        let mdev = (rtts.iter().map(|r| (r - avg).powi(2)).sum::<f64>() / n).sqrt();
        writeln!(
            out,
            "rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms"
        )?;
    }
    finish_capture(&mut sim, &mut out)?;
    anyhow::ensure!(!rtts.is_empty(), "no reply from {dst}");
    Ok(())
}

pub fn traceroute(args: TracerouteArgs) -> anyhow::Result<()> {
    let (topo, mut sim, node, dst, [from, _]) = setup(&args.args, &args.gen_arg, &args.links)?;
    let mut out = super::text_out(args.links.capture_to_stdout());
    writeln!(
        out,
        "traceroute to {dst} ({dst}) from {}, {} hops max, 60 byte packets; times are virtual \
         (simulator clock)",
        from, args.max_hops
    )?;
    let hops = sim.traceroute(node, dst, args.max_hops.max(1), Duration::from_secs(5))?;
    for hop in &hops {
        match (hop.from, hop.rtt) {
            (Some(from), Some(rtt)) => {
                let name = topo
                    .owner(from)
                    .map_or(from.to_string(), |n| n.name.clone());
                let mark = hop.mark.map(|m| format!(" {m}")).unwrap_or_default();
                writeln!(
                    out,
                    "{:>2}  {name} ({from})  {:.3} ms{mark}",
                    hop.ttl,
                    ms(rtt)
                )?;
            }
            _ => writeln!(out, "{:>2}  *", hop.ttl)?,
        }
    }
    finish_capture(&mut sim, &mut out)
}

/// Close the capture, if any, and say what it holds.
fn finish_capture(sim: &mut Sim, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(done) = sim.finish_capture() {
        let t = done.context("writing the capture")?;
        writeln!(
            out,
            "capture: {} frames written, {} copies dropped",
            t.written, t.dropped_copies
        )?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
