//! `shoal ping` and `shoal traceroute`: run a topology file in the simulator and probe across it,
//! printing what Linux's ping and traceroute print. Times are virtual: the simulator's clock,
//! driven by link delays, not the wall clock.

use core::time::Duration;
use std::net::Ipv4Addr;

use anyhow::Context;
use shoal::router::SendOptions;
use shoal::sim::{NodeId, PingReply, Sim};
use shoal::topo::Topology;

/// Options of `shoal ping`.
#[derive(Debug, clap::Args)]
pub struct PingArgs {
    /// Topology file.
    topo: String,
    /// Node to ping from.
    from: String,
    /// Address or node name to ping (a node's first address).
    dst: String,
    /// Number of echo requests.
    #[arg(short = 'c', long, default_value_t = 3)]
    count: u16,
    /// Bytes of payload.
    #[arg(short = 's', long, default_value_t = 56)]
    size: usize,
}

/// Options of `shoal traceroute`.
#[derive(Debug, clap::Args)]
pub struct TracerouteArgs {
    /// Topology file.
    topo: String,
    /// Node to trace from.
    from: String,
    /// Address or node name to trace to.
    dst: String,
    /// Most hops to probe.
    #[arg(short = 'm', long, default_value_t = 30)]
    max_hops: u8,
}

/// Load and build the topology and resolve the source node and destination address.
fn setup(file: &str, from: &str, dst: &str) -> anyhow::Result<(Topology, Sim, NodeId, Ipv4Addr)> {
    let topo = Topology::load(file)?;
    for w in &topo.warnings {
        eprintln!("{file}:{}: warning: {}: {}", w.line, w.key, w.message);
    }
    let sim = topo.build_sim()?;
    let node = sim.node(from)?;
    let addr = match dst.parse() {
        Ok(a) => a,
        Err(_) => topo
            .node_index(dst)
            .and_then(|i| topo.first_addr(i))
            .with_context(|| format!("{dst:?} is neither an address nor a node of {file}"))?,
    };
    Ok((topo, sim, node, addr))
}

pub fn ping(args: PingArgs) -> anyhow::Result<()> {
    let (_, mut sim, node, dst) = setup(&args.topo, &args.from, &args.dst)?;
    println!(
        "PING {dst} ({dst}) from {} {}({}) bytes of data; times are virtual (simulator clock).",
        args.from,
        args.size,
        args.size + 28
    );
    let start = sim.now();
    let mut rtts = Vec::new();
    let interval = Duration::from_secs(1);
    for seq in 1..=args.count {
        let sent = sim.now();
        let reply = sim.ping(node, dst, seq, args.size, SendOptions::default(), interval)?;
        match reply {
            PingReply::Echo { rtt, ttl } => {
                println!(
                    "{} bytes from {dst}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                    args.size + 8,
                    ms(rtt)
                );
                rtts.push(ms(rtt));
            }
            PingReply::Error { from, kind, code } => {
                println!("From {from} icmp_seq={seq} {}", icmp_error(kind, code))
            }
            PingReply::Timeout => {}
        }
        if seq < args.count {
            sim.run_until(sent + interval);
        }
    }
    let sent = usize::from(args.count);
    let loss = (sent - rtts.len()) * 100 / sent.max(1);
    println!("\n--- {dst} ping statistics ---");
    println!(
        "{sent} packets transmitted, {} received, {loss}% packet loss, time {}ms",
        rtts.len(),
        (sim.now() - start).as_millis()
    );
    if !rtts.is_empty() {
        let n = rtts.len() as f64;
        let avg = rtts.iter().sum::<f64>() / n;
        let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().copied().fold(0.0, f64::max);
        let mdev = (rtts.iter().map(|r| (r - avg).powi(2)).sum::<f64>() / n).sqrt();
        println!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms");
    }
    anyhow::ensure!(!rtts.is_empty(), "no reply from {dst}");
    Ok(())
}

pub fn traceroute(args: TracerouteArgs) -> anyhow::Result<()> {
    let (topo, mut sim, node, dst) = setup(&args.topo, &args.from, &args.dst)?;
    println!(
        "traceroute to {dst} ({dst}) from {}, {} hops max, 60 byte packets; times are virtual \
         (simulator clock)",
        args.from, args.max_hops
    );
    let hops = sim.traceroute(node, dst, args.max_hops.max(1), Duration::from_secs(5))?;
    for hop in &hops {
        match (hop.from, hop.rtt) {
            (Some(from), Some(rtt)) => {
                let name = topo
                    .owner(from)
                    .map_or(from.to_string(), |n| n.name.clone());
                println!("{:>2}  {name} ({from})  {:.3} ms", hop.ttl, ms(rtt));
            }
            _ => println!("{:>2}  *", hop.ttl),
        }
    }
    Ok(())
}

/// What Linux ping prints for an ICMP error.
fn icmp_error(kind: u8, code: u8) -> String {
    match (kind, code) {
        (3, 0) => "Destination Net Unreachable".into(),
        (3, 1) => "Destination Host Unreachable".into(),
        (3, 3) => "Destination Port Unreachable".into(),
        (3, 4) => "Frag needed and DF set".into(),
        (3, 13) => "Packet filtered".into(),
        (11, 0) => "Time to live exceeded".into(),
        _ => format!("ICMP type {kind} code {code}"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
