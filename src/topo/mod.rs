//! Topology files: routers, hosts and the links between them, parsed once into a validated model.
//!
//! A TOML file (format and rules in docs/topology.md) is read into [`doc::Doc`], the file as
//! written, and then checked as a whole by `validate.rs`: names resolve, every link's ends share
//! a subnet, no two links' subnets overlap, gateways and routes are reachable, and
//! `routes = "auto"` is expanded into shortest-path static routes (`auto.rs`). What comes out, a
//! [`Topology`], is the only thing the simulator ([`Topology::build_sim`]) and later the engine
//! see: "parse, don't validate". Every error names the file, the line and the key, because a
//! topology of a thousand routers is written by scripts and debugged by people.
//!
//! [`generate`] writes the classic test topologies (a chain, a grid, a hyper-matrix) as the same
//! model, which serializes back to TOML.

mod auto;
mod build;
pub mod doc;
mod expand;
#[path = "gen.rs"]
pub mod generate; // `gen` is a reserved word in edition 2024
mod lattice;
mod ortc;
mod route;
mod segment;
mod subnet;
mod switch;
pub mod switched;
mod validate;

use core::time::Duration;
use std::net::Ipv4Addr;

use crate::router::IfAddr;
use crate::router::fib::ParsedRoute;
use crate::shape::Netem;
use crate::sim::SimError;
use crate::wire::ethernet;
pub use doc::Doc;
pub use route::{AutoRoute, AutoRoutes, Hop};

/// Why a topology could not be read, validated or built.
#[derive(Debug, thiserror::Error)]
pub enum TopoError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The path.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid topology.
    #[error("{file}:{line}: {}{message}", key_prefix(.key))]
    Invalid {
        /// The path (or `<generated>`).
        file: String,
        /// 1-based line of the offending value.
        line: usize,
        /// The key at fault, dotted as in the file (`link.ends`); empty for TOML syntax errors,
        /// whose message names it.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The model could not be written as TOML.
    #[error("writing TOML: {0}")]
    Serialize(#[from] toml::ser::Error),
    /// The simulator refused the model (a bug: validation should have caught it).
    #[error("building the simulation: {0}")]
    Build(#[from] SimError),
    /// The engine refused the model.
    #[error("building the network: {0}")]
    Engine(#[from] crate::engine::EngineError),
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// What a long build reports as it goes: `report("routes", 40960, 100000)` — a stage (`nodes`
/// made, `routes` computed, `routers` configured), how many are done, of how many. Called every
/// few thousand items, from the thread that started the build.
pub trait Progress {
    /// `done` of `total` items of stage `what` are done.
    fn report(&self, what: &str, done: usize, total: usize);
}

impl<F: Fn(&str, usize, usize)> Progress for F {
    fn report(&self, what: &str, done: usize, total: usize) {
        self(what, done, total)
    }
}

/// Progress nobody watches.
pub struct Quiet;

impl Progress for Quiet {
    fn report(&self, _: &str, _: usize, _: usize) {}
}

/// A router, a host or a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Forwards packets.
    Router,
    /// Does not forward; reaches the world through its gateway.
    Host,
    /// An Ethernet switch or hub: its interfaces are ports, without addresses.
    Switch,
}

/// A validated node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique name.
    pub name: String,
    /// Router or host.
    pub kind: Kind,
    /// Worker core to pin to, if the file asks (the engine's business).
    pub core: Option<u32>,
    /// Workers serving the node's host devices (1 unless the file spreads a router).
    pub workers: u32,
    /// Interfaces, in file order.
    pub ifaces: Vec<Iface>,
    /// The file's routes, parsed once, then `default via GATEWAY` when a gateway is given
    /// (installed after [`Node::auto`]).
    pub routes: Vec<ParsedRoute>,
    /// Routes were computed (`routes = "auto"`).
    pub auto_routes: bool,
    /// The computed routes (empty unless `auto_routes`).
    pub auto: AutoRoutes,
    /// Table names, as (name, id).
    pub tables: Vec<(String, u32)>,
    /// Policy rules, `ip rule` syntax, in order.
    pub rules: Vec<String>,
    /// Mark classifier entries, in order.
    pub marks: Vec<String>,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// TTL of the packets it originates.
    pub ttl: u8,
    /// A switch's configuration (its ports are [`Node::ifaces`], in the same order); boxed,
    /// as most nodes are not switches.
    pub switch: Option<Box<crate::switch::Config>>,
}

/// A validated interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Iface {
    /// Unique within its node.
    pub name: String,
    /// Addresses with prefix lengths; at least one.
    pub addrs: Vec<IfAddr>,
    /// IP MTU.
    pub mtu: u16,
    /// MAC address (given, or generated as 02:nn:nn:nn:ii:00 from the node and interface index).
    pub mac: ethernet::Address,
    /// Index of the link it is on, if any.
    pub link: Option<usize>,
    /// A shared-memory link file joining it to another process, if any.
    pub link_file: Option<std::path::PathBuf>,
    /// The host device it is bound to, if any (boxed, as the next fields: rare, and a model of
    /// 100,000 routers holds a million interfaces).
    pub attach: Option<Box<crate::port::PortSpec>>,
    /// How it joins VDE, if it does (`attach = { vde = … }`, `vde = { listen = … }`).
    pub vde: Option<Box<crate::vde::VdeSpec>>,
    /// Interface group (`suppress_ifgroup`).
    pub group: u32,
    /// Impairment of the frames leaving it, if the file gives one on the interface.
    pub netem: Option<Box<Netem>>,
    /// A VLAN sub-interface (`eth0.10`): (index of its parent interface, VLAN id). It sends
    /// and receives through its parent, tagged.
    pub vlan: Option<(usize, u16)>,
}

/// A validated link.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// (node index, interface index) of each end; two for point-to-point, more for a bus.
    pub ends: Vec<(usize, usize)>,
    /// One-way delay of a direction no impairment covers.
    pub delay: Duration,
    /// Impairment of every direction, if the file gives one on the link (an interface's own
    /// `netem` is on [`Iface::netem`]; the two never meet).
    pub netem: Option<Box<Netem>>,
}

/// A warning: the topology is usable but probably not what was meant.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// 1-based line.
    pub line: usize,
    /// The key.
    pub key: String,
    /// What is odd.
    pub message: String,
}

/// A validated topology.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Routers first, then hosts, each in file order; a node's index is its simulator NodeId.
    pub nodes: Vec<Node>,
    /// Links in file order.
    pub links: Vec<Link>,
    /// Things worth telling the user (interfaces on no link).
    pub warnings: Vec<Warning>,
    /// Seed of every link's random generator.
    pub seed: u64,
    /// `settings.aggregate`: blocks whose unassigned addresses computed routes send where they
    /// send the subnet below them, as (network, length).
    pub aggregates: Vec<(Ipv4Addr, u8)>,
    doc: Doc,
}

/// Default one-way link delay when neither the link nor `[settings]` gives one: none, so a
/// link nobody configured is perfect in both drivers (as in Mininet or under netem). A delay
/// costs the engine a timer and a precise wake-up per frame due.
pub const DEFAULT_DELAY_US: u64 = 0;

/// Seed of the links' random generators when `[settings]` gives none.
pub const DEFAULT_SEED: u64 = 1;

/// TTL of originated packets when neither the node nor `[settings]` gives one (Linux's).
pub const DEFAULT_TTL: u8 = 64;

impl Node {
    /// A switch running spanning tree.
    pub fn runs_stp(&self) -> bool {
        self.switch.as_deref().is_some_and(|c| c.stp.enabled)
    }
}

impl Topology {
    /// Parse and validate TOML text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Topology, TopoError> {
        Topology::parse_with(file, text, &Quiet)
    }

    /// [`Topology::parse`], reporting progress.
    pub fn parse_with(
        file: &str,
        text: &str,
        progress: &dyn Progress,
    ) -> Result<Topology, TopoError> {
        let doc: Doc = toml::from_str(text).map_err(|e| TopoError::Invalid {
            file: file.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            key: String::new(),
            message: e.message().trim_end().to_owned(),
        })?;
        validate::validate(doc, file, text, progress)
    }

    /// Read, parse and validate a file.
    pub fn load(path: &str) -> Result<Topology, TopoError> {
        Topology::load_with(path, &Quiet)
    }

    /// [`Topology::load`], reporting progress.
    pub fn load_with(path: &str, progress: &dyn Progress) -> Result<Topology, TopoError> {
        let text = std::fs::read_to_string(path).map_err(|source| TopoError::Read {
            file: path.to_owned(),
            source,
        })?;
        Topology::parse_with(path, &text, progress)
    }

    /// Validate a document built in code (generators); errors name the file `<generated>`.
    pub fn from_doc(doc: Doc) -> Result<Topology, TopoError> {
        Topology::from_doc_with(doc, &Quiet)
    }

    /// [`Topology::from_doc`], reporting progress.
    pub fn from_doc_with(doc: Doc, progress: &dyn Progress) -> Result<Topology, TopoError> {
        validate::validate(doc, "<generated>", "", progress)
    }

    /// The document this topology was made from.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// The topology as TOML (as written or generated: `routes = "auto"` stays "auto").
    pub fn to_toml(&self) -> Result<String, TopoError> {
        Ok(toml::to_string(&self.doc)?)
    }

    /// Index of the node with this name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// A node's first address.
    pub fn first_addr(&self, node: usize) -> Option<Ipv4Addr> {
        let n = self.nodes.get(node)?;
        n.ifaces
            .iter()
            .flat_map(|i| &i.addrs)
            .map(|a| a.addr)
            .next()
    }

    /// The node that owns an address.
    pub fn owner(&self, addr: Ipv4Addr) -> Option<&Node> {
        self.nodes.iter().find(|n| {
            n.ifaces
                .iter()
                .flat_map(|i| &i.addrs)
                .any(|a| a.addr == addr)
        })
    }

    /// Whether an interface speaks the `vde_plug` stream on standard input and output
    /// (`attach = { vde = "-" }`): then standard output is not for text.
    pub fn uses_stdio(&self) -> bool {
        self.nodes
            .iter()
            .flat_map(|n| &n.ifaces)
            .any(|f| f.vde.as_deref() == Some(&crate::vde::VdeSpec::Stdio))
    }

    /// Every route a node gets, in iproute2's syntax: the computed ones (by prefix), then the
    /// file's and the gateway's, in order. For people and tests; routers take the data.
    pub fn route_lines(&self, node: usize) -> Vec<String> {
        let Some(n) = self.nodes.get(node) else {
            return Vec::new();
        };
        let mut auto: Vec<_> = n.auto.fib_routes().collect();
        auto.sort_by_key(|r| (u32::from(r.prefix), r.len));
        let main = crate::router::fib::TABLE_MAIN;
        auto.iter()
            .map(|r| route::text(n, main, r, &[]))
            .chain(n.routes.iter().map(|p| route::parsed_text(n, p)))
            .collect()
    }

    /// What `routes = "auto"` computes when the links marked in `down` (by index in
    /// [`Topology::links`]) carry nothing: a routing protocol's answer after it reconverged.
    /// One [`AutoRoutes`] per node, empty for nodes that did not ask for computed routes.
    pub fn auto_routes_without(&self, down: &[bool]) -> Vec<AutoRoutes> {
        let aggregates: Vec<subnet::Subnet> = (self.aggregates.iter())
            .map(|&(net, len)| (u32::from(net), len))
            .collect();
        auto::compute_without(&self.nodes, &self.links, down, &aggregates)
    }

    /// Indices of the hosts.
    pub fn hosts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].kind == Kind::Host)
    }
}

impl serde::Serialize for Topology {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.doc.serialize(s)
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
