//! Subcommands of the `shoal` binary.

mod bench;
mod ctl;
mod demo;
mod r#gen;
mod graph;
mod json;
mod links;
mod plug;
mod probe;
mod report;
mod run;
mod source;
pub mod sys;

pub use shoal::topo::TopoError;

/// A command line that asks for something impossible or malformed: reported like a topology
/// error, with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(String);

impl Usage {
    /// A usage error saying `what`.
    pub fn new(what: String) -> Usage {
        Usage(what)
    }
}

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
    /// Run a topology file with one interface speaking the vde_plug stream on standard input
    /// and output: `dpipe vde_plug SWITCH = shoal plug TOPO NODE:IFACE`.
    Plug(plug::PlugArgs),
    /// Write a generated topology (chain, grid, hypercube, random) as TOML.
    Gen(r#gen::GenArgs),
    /// Talk to a running `shoal run`: show and change its nodes and links, ping, capture.
    Ctl(ctl::CtlArgs),
    /// Draw a topology as Graphviz DOT, or as SVG, PNG or PDF through Graphviz's `dot`.
    Graph(graph::GraphArgs),
    /// Ping from a node of a topology file, run in the simulator (virtual time).
    Ping(probe::PingArgs),
    /// Traceroute from a node of a topology file, run in the simulator (virtual time).
    Traceroute(probe::TracerouteArgs),
}

/// Where a command's text goes: standard output, or standard error when a capture streams
/// to standard output.
fn text_out(capture_on_stdout: bool) -> Box<dyn std::io::Write> {
    if capture_on_stdout {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    }
}

/// The command line, `--gen NAME ARGS…` joined into one value first (see [`source::join_gen`]).
pub fn parse() -> Args {
    Args::parse_from(source::join_gen(std::env::args_os()))
}

/// Run the chosen subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Demo(a) => demo::run(a),
        Command::Run(a) => run::run(a),
        Command::Plug(a) => plug::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Gen(a) => r#gen::run(a),
        Command::Ctl(a) => ctl::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Ping(a) => probe::ping(a),
        Command::Traceroute(a) => probe::traceroute(a),
    }
}
