//! `shoal bench`: shoal against the Linux kernel, one table (see `shoal::bench`).

use shoal::bench::{self, Options, report};

/// Options of `shoal bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Every scenario, frame size (64, 512, 1500) and flow count (1, 64); the default is a
    /// quick set that ends in under two minutes.
    #[arg(long)]
    full: bool,
    /// Only scenarios whose name contains this (e.g. "chain"); may repeat.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Frame lengths to measure instead of the set's (bytes, without FCS); may repeat.
    #[arg(long = "frame", value_name = "BYTES")]
    frames: Vec<usize>,
    /// Flow counts to measure instead of the set's; may repeat.
    #[arg(long = "flows", value_name = "N")]
    flows: Vec<u16>,
    /// Runs per measurement (the table shows the median and min-max).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of traffic per run.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Skip the trafgen cross-check.
    #[arg(long)]
    no_trafgen: bool,
    /// Also search each path's lossless capacity (RFC 2544-style: six paced runs per row).
    #[arg(long)]
    capacity: bool,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut set = bench::scenarios(args.full);
    if !args.scenarios.is_empty() {
        set.retain(|s| args.scenarios.iter().any(|n| s.name.contains(n.as_str())));
        anyhow::ensure!(!set.is_empty(), "no scenario matches {:?}", args.scenarios);
    }
    for s in &mut set {
        if !args.frames.is_empty() {
            s.frames = args.frames.clone();
        }
        if !args.flows.is_empty() && !s.paths.is_empty() {
            s.flows = args.flows.clone();
        }
    }
    let opts = Options {
        runs: args.runs.max(1),
        seconds: args.seconds.clamp(0.1, 600.0),
        trafgen: !args.no_trafgen,
        capacity: args.capacity,
    };
    let t0 = std::time::Instant::now();
    let rows = bench::run(&set, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", report::table(&rows));
        println!(
            "{} runs of {} s per row; median (min-max); CPU = machine busy time less the \
             generator's, per million delivered; took {:.0} s",
            opts.runs,
            opts.seconds,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
