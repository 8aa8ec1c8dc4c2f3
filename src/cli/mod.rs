//! Subcommands of the `shoal` binary.

mod bench;
mod demo;
mod r#gen;
mod probe;
mod report;
mod run;
pub mod sys;

pub use shoal::topo::TopoError;

use clap::{Parser, Subcommand};

/// Many isolated userspace IPv4 routers in one process.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a 254-router chain between two hosts on every core, trace and ping across it, then
    /// flood it with UDP and report rates, loss and latency. No root, no NIC.
    Demo(demo::DemoArgs),
    /// Measure shoal against the Linux kernel on the same topologies (root): one table.
    Bench(bench::BenchArgs),
    /// Run a topology file on the engine until Ctrl-C, with live totals.
    Run(run::RunArgs),
    /// Write a generated topology (chain, grid, hypercube) as TOML.
    Gen(r#gen::GenArgs),
    /// Ping from a node of a topology file, run in the simulator (virtual time).
    Ping(probe::PingArgs),
    /// Traceroute from a node of a topology file, run in the simulator (virtual time).
    Traceroute(probe::TracerouteArgs),
}

/// Run the chosen subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Demo(a) => demo::run(a),
        Command::Run(a) => run::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Gen(a) => r#gen::run(a),
        Command::Ping(a) => probe::ping(a),
        Command::Traceroute(a) => probe::traceroute(a),
    }
}
