//! Subcommands of the `shoal` binary.

mod demo;
pub mod sys;

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
    /// Build a chain of routers between two hosts on simulated links, trace and ping across it,
    /// then measure the forwarding pipeline of one router on this core. No root, no NIC.
    Demo(demo::DemoArgs),
}

/// Run the chosen subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Demo(a) => demo::run(a),
    }
}
