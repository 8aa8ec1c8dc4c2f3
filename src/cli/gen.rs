//! `shoal gen`: write a generated topology as TOML.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use shoal::topo::{Topology, generate, switched};

/// Options of `shoal gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    #[command(subcommand)]
    shape: Shape,
    /// Write to this file instead of standard output.
    #[arg(short, long, global = true)]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Shape {
    /// N routers in a line with a host at each end (rump's startrouters.sh).
    Chain {
        /// Number of routers (1 or more).
        #[arg(value_parser = at_least_one)]
        routers: usize,
    },
    /// An M×N grid of routers with a host on each corner.
    Grid {
        /// Rows and columns, as MxN (e.g. 4x5).
        #[arg(value_parser = parse_grid)]
        size: (usize, usize),
    },
    /// The M^N hyper-matrix: M routers along each of N dimensions, a host on each corner.
    Hypercube {
        /// Routers per dimension (1 or more).
        #[arg(value_parser = at_least_one)]
        m: usize,
        /// Dimensions (1 or more).
        #[arg(value_parser = at_least_one)]
        n: usize,
    },
    /// N routers joined at random, DEGREE links each on average, a host at either end.
    Random {
        /// Number of routers.
        routers: usize,
        /// Average links per router.
        degree: usize,
        /// Seed of the generator: the same arguments make the same topology.
        #[arg(default_value_t = 1)]
        seed: u64,
    },
    /// One switch with N hosts on it and a router (`gw`) to the outside (a host `ext`).
    Star {
        /// Number of hosts (1 or more).
        #[arg(value_parser = at_least_one)]
        hosts: usize,
    },
    /// A leaf–spine fabric: every leaf switch joined to every spine, H hosts on each leaf,
    /// a router on leaf 1. The redundant links need spanning tree (the switches have
    /// `stp = true`).
    Leafspine {
        /// Leaf switches (1 or more).
        #[arg(value_parser = at_least_one)]
        leaves: usize,
        /// Spine switches (1 or more).
        #[arg(value_parser = at_least_one)]
        spines: usize,
        /// Hosts on each leaf.
        hosts: usize,
    },
}

fn parse_grid(s: &str) -> Result<(usize, usize), String> {
    let (m, n) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not MxN"))?;
    Ok((at_least_one(m)?, at_least_one(n)?))
}

/// A count of 1 or more (a topology of no routers is no topology).
fn at_least_one(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(0) => Err("0: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{v:?}: {e}")),
    }
}

pub fn run(args: GenArgs) -> anyhow::Result<()> {
    let topo: Topology = match args.shape {
        Shape::Chain { routers } => generate::chain(routers)?,
        Shape::Grid { size: (m, n) } => generate::grid(m, n)?,
        Shape::Hypercube { m, n } => generate::hypercube(m, n)?,
        Shape::Random {
            routers,
            degree,
            seed,
        } => generate::random(routers, degree, seed)?,
        Shape::Star { hosts } => switched::star(hosts)?,
        Shape::Leafspine {
            leaves,
            spines,
            hosts,
        } => switched::leafspine(leaves, spines, hosts)?,
    };
    let text = topo.expanded_toml()?;
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing standard output")?,
    }
    Ok(())
}
