//! `shoal demo`: what shoal does, in half a minute, with no root and no NIC.

use std::time::{Duration, Instant};

use anyhow::Context;
use shoal::rig::ForwardRig;
use shoal::router::SendOptions;
use shoal::sim::{PingReply, chain};

/// Options of `shoal demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Routers in the chain (1..=255).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=255))]
    routers: u16,
    /// One-way delay of each simulated link, in microseconds.
    #[arg(long, default_value_t = 50)]
    link_delay_us: u64,
    /// Seconds of wall-clock time for the forwarding measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let n = usize::from(args.routers);
    let delay = Duration::from_micros(args.link_delay_us);
    println!(
        "shoal demo: h1 ─ {n} routers ─ h2, links of {} µs one way, on a virtual clock\n",
        args.link_delay_us
    );
    let mut c = chain(n, delay, 8192).context("building the chain")?;

    println!("traceroute to {} from h1, {} hops max", c.h2_addr, n + 1);
    let hops = c.sim.traceroute(
        c.h1,
        c.h2_addr,
        (n + 1).min(255) as u8,
        Duration::from_secs(2),
    )?;
    for hop in &hops {
        match (hop.from, hop.rtt) {
            (Some(from), Some(rtt)) => println!("{:>3}  {:<15} {:>9.3} ms", hop.ttl, from, ms(rtt)),
            _ => println!("{:>3}  *", hop.ttl),
        }
    }
    anyhow::ensure!(
        hops.last().is_some_and(|h| h.reached),
        "traceroute did not reach h2"
    );

    println!("\nping {} from h1, 56 data bytes", c.h2_addr);
    for seq in 1..=3 {
        match c.sim.ping(
            c.h1,
            c.h2_addr,
            seq,
            56,
            SendOptions::default(),
            Duration::from_secs(2),
        )? {
            PingReply::Echo { rtt, ttl } => println!(
                "64 bytes from {}: icmp_seq={seq} ttl={ttl} time={:.3} ms",
                c.h2_addr,
                ms(rtt)
            ),
            other => println!("icmp_seq={seq}: {other:?}"),
        }
    }
    let forwarded: u64 = c
        .routers
        .iter()
        .map(|&r| c.sim.router(r).counters().forwarded)
        .sum();
    let arp: u64 = c
        .routers
        .iter()
        .map(|&r| c.sim.router(r).counters().arp_requests)
        .sum();
    println!(
        "routers forwarded {forwarded} packets and sent {arp} ARP requests; every buffer returned: {}",
        c.sim.pool().available() == c.sim.pool().capacity()
    );

    println!(
        "\nforwarding pipeline, one router on this core: 64-byte UDP, 10 routes, batches of 32"
    );
    let mut rig = ForwardRig::new(10, 32);
    let start = Instant::now();
    let budget = Duration::from_secs_f64(args.seconds.clamp(0.1, 60.0));
    let mut packets = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1024 {
            packets += rig.round() as u64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{packets} packets in {secs:.2} s: {:.1} Mpps, {:.1} ns per packet, {:.2} Gbit/s of 64-byte frames",
        packets as f64 / secs / 1e6,
        secs * 1e9 / packets as f64,
        packets as f64 * 64.0 * 8.0 / secs / 1e9
    );
    println!("drops: {}", rig.router().counters().total_drops());
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
