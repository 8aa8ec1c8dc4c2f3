//! Generated topologies: a chain (rump's startrouters.sh), a grid, a hyper-matrix and a random
//! graph, and `[generate]` blocks, which make them from a file.
//!
//! The chain and the random graph share one address plan: link `k`, in the order the generator
//! creates them, is the /30 `10.0.0.0 + 4k` of 10.0.0.0/8, its first end `.1` and its second `.2`
//! (on a router–host link the router is first, so hosts' gateways are `.1`). The grid and the
//! hyper-matrix are lattices (`lattice.rs`), numbered by coordinate so that their routers' tables
//! stay small, and built straight into the model — 100,000 routers without a line of TOML.
//! All routers use `routes = "auto"`; each host has one interface, `eth0`, and a gateway.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::net::Ipv4Addr;

use toml::Spanned;

use super::doc::{Doc, GenerateDoc, IfaceDoc, LinkDoc, NodeDoc, OneOrMany, Routes, Settings};
use super::lattice::{Lattice, Style};
use super::{DEFAULT_DELAY_US, DEFAULT_SEED, DEFAULT_TTL, Progress, TopoError, Topology};
use crate::fabric::{FlowSpec, LinkId, MIN_FRAME, Network, NodeId, Pace};

/// Most links the address plan holds: the /30s of 10.0.0.0/8.
pub const MAX_LINKS: usize = 1 << 22;

/// A generator and its arguments, as `[generate] shape` and `--gen` write them:
/// `chain 254`, `grid 316x316`, `hypercube 10 5`, `random 10000 4 [SEED]`, and the switched
/// `star 24` and `leafspine 4 2 8` (`switched.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// [`chain`].
    Chain(usize),
    /// [`grid`]: rows, columns.
    Grid(usize, usize),
    /// [`hypercube`]: routers per dimension, dimensions.
    Hypercube(usize, usize),
    /// [`random`]: routers, average degree, seed.
    Random(usize, usize, u64),
    /// [`super::switched::star`]: hosts.
    Star(usize),
    /// [`super::switched::leafspine`]: leaves, spines, hosts per leaf.
    LeafSpine(usize, usize, usize),
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(text: &str) -> Result<Shape, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let num = |w: &str| {
            w.parse::<usize>()
                .map_err(|_| format!("{w:?} is not a number"))
        };
        let usage = "give \"chain N\", \"grid MxN\", \"hypercube M N\", \"random N DEGREE [SEED]\", \
                     \"star HOSTS\" or \"leafspine LEAVES SPINES HOSTS\"";
        match words[..] {
            ["chain", n] => Ok(Shape::Chain(num(n)?)),
            ["grid", size] => {
                let (m, n) = size
                    .split_once(['x', 'X'])
                    .ok_or_else(|| format!("{size:?} is not MxN"))?;
                Ok(Shape::Grid(num(m)?, num(n)?))
            }
            ["hypercube", m, n] => Ok(Shape::Hypercube(num(m)?, num(n)?)),
            ["random", n, d] => Ok(Shape::Random(num(n)?, num(d)?, 1)),
            ["random", n, d, seed] => Ok(Shape::Random(num(n)?, num(d)?, num(seed)? as u64)),
            ["star", n] => Ok(Shape::Star(num(n)?)),
            ["leafspine", l, s, h] => Ok(Shape::LeafSpine(num(l)?, num(s)?, num(h)?)),
            _ => Err(format!("{text:?}: {usage}")),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Chain(n) => write!(f, "chain {n}"),
            Shape::Grid(m, n) => write!(f, "grid {m}x{n}"),
            Shape::Hypercube(m, n) => write!(f, "hypercube {m} {n}"),
            Shape::Random(n, d, seed) => write!(f, "random {n} {d} {seed}"),
            Shape::Star(n) => write!(f, "star {n}"),
            Shape::LeafSpine(l, s, h) => write!(f, "leafspine {l} {s} {h}"),
        }
    }
}

/// The topology a shape makes, as a file holding only `[generate] shape = "…"` would.
pub fn shape(shape: Shape) -> Result<Topology, TopoError> {
    Topology::from_doc(block(shape))
}

/// A document of one `[generate]` block.
pub fn block(shape: Shape) -> Doc {
    Doc {
        generate: Some(spanned(GenerateDoc {
            shape: spanned(shape.to_string()),
        })),
        ..Doc::default()
    }
}

/// Validate a document with a `[generate]` block: the shape, and the settings that may go with
/// it (`delay_us`, `seed`, `ttl`).
pub(super) fn expand(
    doc: Doc,
    file: &str,
    text: &str,
    progress: &dyn Progress,
) -> Result<Topology, TopoError> {
    let g = doc.generate.as_ref().map(|g| g.get_ref().shape.clone());
    let Some(g) = g else {
        return Err(error(file, text, 0..0, "generate", "no shape".into()));
    };
    let fail = |key: &str, m: String| error(file, text, g.span(), key, m);
    if !(doc.routers.is_empty()
        && doc.hosts.is_empty()
        && doc.switches.is_empty()
        && doc.links.is_empty())
    {
        return Err(fail(
            "generate",
            "a file with [generate] holds nothing else but [settings] (write the topology out \
             with `shoal gen` to add nodes or links to it)"
                .into(),
        ));
    }
    let s = &doc.settings;
    if s.routes
        .as_ref()
        .is_some_and(|r| *r.get_ref() != Routes::Auto)
        || s.aggregate.is_some()
    {
        return Err(fail(
            "settings",
            "a generated topology has routes = \"auto\" and its own aggregate".into(),
        ));
    }
    let shape: Shape = g.get_ref().parse().map_err(|m| fail("generate.shape", m))?;
    let ttl = match &s.ttl {
        Some(t) => Some(
            u8::try_from(*t.get_ref())
                .ok()
                .filter(|&v| v != 0)
                .ok_or_else(|| {
                    let m = format!("{} is outside 1..=255", t.get_ref());
                    error(file, text, t.span(), "settings.ttl", m)
                })?,
        ),
        None => None,
    };
    let delay = Duration::from_micros(s.delay_us.unwrap_or(DEFAULT_DELAY_US));
    let seed = s.seed.unwrap_or(DEFAULT_SEED);
    let (dims, style) = match shape {
        Shape::Grid(m, n) => (vec![m.max(1), n.max(1)], Style::Grid),
        Shape::Hypercube(_, n) if n > 24 => {
            return Err(fail(
                "generate.shape",
                format!("{n} dimensions: give 1 to 24"),
            ));
        }
        Shape::Hypercube(m, n) => (vec![m.max(1); n.max(1)], Style::Cube),
        Shape::Chain(_) | Shape::Random(..) | Shape::Star(_) | Shape::LeafSpine(..) => {
            // Written out and validated like a file, with the file's settings.
            let expanded = match shape {
                Shape::Chain(n) => chain_doc(n),
                Shape::Random(n, d, seed) => random_doc(n, d, seed),
                Shape::Star(n) => super::switched::star_doc(n),
                Shape::LeafSpine(l, s, h) => super::switched::leafspine_doc(l, s, h),
                _ => unreachable!("lattices are handled above"),
            };
            // A shape out of range is the file's error, at its shape.
            let mut expanded = expanded.map_err(|e| match e {
                TopoError::Invalid { message, .. } => fail("generate.shape", message),
                other => other,
            })?;
            let e = &mut expanded.settings;
            e.delay_us = s.delay_us.or(e.delay_us);
            e.seed = s.seed.or(e.seed);
            if let Some(t) = &s.ttl {
                e.ttl = Some(spanned(*t.get_ref()));
            }
            let mut t = super::validate::validate(expanded, file, "", progress)?;
            t.doc = doc;
            return Ok(t);
        }
    };
    let lattice = Lattice::new(&dims, style).map_err(|m| fail("generate.shape", m))?;
    let reach_ttl = if lattice.reach() >= usize::from(DEFAULT_TTL) {
        255
    } else {
        DEFAULT_TTL
    };
    let (mut nodes, hosts, links) = lattice.build(ttl.unwrap_or(reach_ttl), delay, progress);
    lattice.route_all(&mut nodes, progress);
    nodes.extend(hosts);
    let (block, len) = lattice.block();
    Ok(Topology {
        nodes,
        links,
        warnings: Vec::new(),
        seed,
        aggregates: vec![(Ipv4Addr::from(block), len)],
        doc,
    })
}

fn error(
    file: &str,
    text: &str,
    span: core::ops::Range<usize>,
    key: &str,
    message: String,
) -> TopoError {
    TopoError::Invalid {
        file: file.to_owned(),
        line: super::line_of(text, span.start),
        key: key.to_owned(),
        message,
    }
}

/// A line of `routers` routers `r1`…`rN` (eth0 towards r1's side, eth1 towards rN's) with host
/// `h1` on r1 and `h2` on rN.
pub fn chain(routers: usize) -> Result<Topology, TopoError> {
    Topology::from_doc(chain_doc(routers)?)
}

/// [`chain`] written out.
fn chain_doc(routers: usize) -> Result<Doc, TopoError> {
    let mut p = Plan::new();
    let rs: Vec<usize> = (1..=routers.max(1))
        .map(|i| p.router(format!("r{i}")))
        .collect();
    let (first, last) = (rs[0], rs[rs.len() - 1]);
    p.host_on("h1", first, "eth0")?;
    for w in rs.windows(2) {
        p.link((w[0], "eth1"), (w[1], "eth0"))?;
    }
    p.host_on("h2", last, "eth1")?;
    p.reach(routers);
    Ok(p.doc)
}

/// A generated chain ready to flood: perfect links (no delay), a UDP flow from `h1` to `h2`
/// (see [`chain_flood`]).
pub struct Flood {
    /// The network, with the flow and h2's sink.
    pub network: Network,
    /// The hosts.
    pub h1: NodeId,
    pub h2: NodeId,
    /// h2's address.
    pub h2_addr: Ipv4Addr,
}

/// UDP port of [`chain_flood`]'s flow.
pub const FLOOD_PORT: u16 = 5001;

/// [`chain`] as a network whose links have no delay, with a flow of `frame_len`-byte UDP
/// datagrams from `h1` to `h2` (port [`FLOOD_PORT`]) at `pace`, sunk at `h2`: the demo, the
/// chain bench and the engine tests run it.
pub fn chain_flood(routers: usize, frame_len: usize, pace: Pace) -> Result<Flood, TopoError> {
    let t = chain(routers)?;
    let host = |name: &str| {
        let i = t.node_index(name);
        let addr = i.and_then(|i| t.first_addr(i));
        i.zip(addr).ok_or_else(|| TopoError::Invalid {
            file: "<generated>".into(),
            line: 1,
            key: "host".into(),
            message: format!("the chain has no host {name} with an address"),
        })
    };
    let ((h1, _), (h2, h2_addr)) = (host("h1")?, host("h2")?);
    Flood::of(
        &t,
        NodeId(h1 as u32),
        NodeId(h2 as u32),
        h2_addr,
        frame_len,
        pace,
    )
}

impl Flood {
    /// `t` as a network whose links have no delay, with a flow of `frame_len`-byte UDP
    /// datagrams from `h1` to `h2` at `h2_addr` (port [`FLOOD_PORT`]) at `pace`, sunk at `h2`.
    pub(super) fn of(
        t: &Topology,
        h1: NodeId,
        h2: NodeId,
        h2_addr: Ipv4Addr,
        frame_len: usize,
        pace: Pace,
    ) -> Result<Flood, TopoError> {
        let mut network = t.network()?;
        for l in 0..network.links().len() {
            network.set_delay(LinkId(l as u32), core::time::Duration::ZERO);
        }
        let flow = FlowSpec {
            dst: h2_addr,
            port: FLOOD_PORT,
            frame_len: frame_len.max(MIN_FRAME),
            pace,
            sources: 1,
        };
        network.add_flow(h1, flow);
        network.add_sink(h2, FLOOD_PORT);
        Ok(Flood {
            network,
            h1,
            h2,
            h2_addr,
        })
    }
}

/// `rows` × `cols` routers `r{row}_{col}` (1-based), each linked to its neighbours (interfaces
/// `north`, `south`, `west`, `east`, in that order), with a host `h1`… on each corner router
/// (interface `lan`), in the order top-left, top-right, bottom-left, bottom-right. A lattice
/// (`lattice.rs`): numbered by row and column, routed by rows first.
pub fn grid(rows: usize, cols: usize) -> Result<Topology, TopoError> {
    shape(Shape::Grid(rows, cols))
}

/// The `m`^`n` hyper-matrix: routers at every point of {0..m}^n, named `r` and their
/// coordinates (`r0_2_1`), each linked to its neighbours along every dimension `d` — a line per
/// dimension, not a ring, so opposite corners are n(m−1) hops apart (interfaces `dn{d}` towards
/// the lower coordinate and `up{d}` towards the higher, dimension by dimension). A host `h1`…
/// (interface `lan`) sits on every corner, {0, m−1}^n, in counting order, so h1 and the last
/// host are opposite. A lattice (`lattice.rs`).
pub fn hypercube(m: usize, n: usize) -> Result<Topology, TopoError> {
    shape(Shape::Hypercube(m, n))
}

/// `routers` routers `r1`… joined at random with an average of `degree` links each — a random
/// spanning tree first, so that every router reaches every other, then random pairs not yet
/// joined — from a seeded generator (the same arguments give the same topology). Interfaces
/// are `e0`, `e1`… in the order links reach them; host `h1` sits on `r1` and `h2` on the last
/// router (interface `lan`).
pub fn random(routers: usize, degree: usize, seed: u64) -> Result<Topology, TopoError> {
    Topology::from_doc(random_doc(routers, degree, seed)?)
}

/// [`random`] written out.
fn random_doc(routers: usize, degree: usize, seed: u64) -> Result<Doc, TopoError> {
    let routers = routers.max(2);
    let links = check_size(routers.checked_mul(degree.max(1)).map(|l| l / 2 + 2))?;
    let mut rng = seed.max(1);
    let mut next = move |n: usize| {
        // xorshift64*: enough for a topology, and the same everywhere.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        (rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % n.max(1)
    };
    let mut p = Plan::new();
    let ids: Vec<usize> = (1..=routers).map(|i| p.router(format!("r{i}"))).collect();
    let mut count = vec![0usize; routers];
    let mut joined = std::collections::HashSet::new();
    let mut join = |p: &mut Plan, a: usize, b: usize| -> Result<bool, TopoError> {
        if a == b || !joined.insert((a.min(b), a.max(b))) {
            return Ok(false);
        }
        let (ea, eb) = (format!("e{}", count[a]), format!("e{}", count[b]));
        count[a] += 1;
        count[b] += 1;
        p.link((ids[a], &ea), (ids[b], &eb))?;
        Ok(true)
    };
    for r in 1..routers {
        join(&mut p, next(r), r)?;
    }
    let mut made = routers - 1;
    let mut tries = 0;
    while made < links - 2 && tries < 16 * links {
        tries += 1;
        if join(&mut p, next(routers), next(routers))? {
            made += 1;
        }
    }
    p.host_on("h1", ids[0], "lan")?;
    p.host_on("h2", ids[routers - 1], "lan")?;
    Ok(p.doc)
}

fn check_size(links: Option<usize>) -> Result<usize, TopoError> {
    links.filter(|&l| l <= MAX_LINKS).ok_or_else(too_many)
}

fn too_many() -> TopoError {
    TopoError::Invalid {
        file: "<generated>".into(),
        line: 1,
        key: "link".into(),
        message: format!("more than {MAX_LINKS} links do not fit the 10.0.0.0/8 plan of /30s"),
    }
}

fn spanned<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

/// A document under construction and the next free /30.
struct Plan {
    doc: Doc,
    links: usize,
}

impl Plan {
    fn new() -> Plan {
        Plan {
            doc: Doc {
                settings: Settings {
                    routes: Some(spanned(Routes::Auto)),
                    ..Settings::default()
                },
                ..Doc::default()
            },
            links: 0,
        }
    }

    fn node(name: String) -> NodeDoc {
        NodeDoc {
            name: spanned(name),
            core: None,
            workers: None,
            gateway: None,
            ttl: None,
            routes: None,
            tables: None,
            rules: Vec::new(),
            marks: Vec::new(),
            iface: OneOrMany(Vec::new()),
        }
    }

    /// Let packets cross `routers` routers, the most on a path between two hosts: beyond 63,
    /// Linux's default TTL of 64 runs out on the way, so every node originates with 255
    /// (`ip_default_ttl = 255`, as rump's startrouters.sh sets it).
    fn reach(&mut self, routers: usize) {
        if routers >= usize::from(super::DEFAULT_TTL) {
            self.doc.settings.ttl = Some(spanned(255));
        }
    }

    fn router(&mut self, name: String) -> usize {
        self.doc.routers.push(Plan::node(name));
        self.doc.routers.len() - 1
    }

    /// The next /30's two addresses.
    fn subnet(&mut self) -> Result<[Ipv4Addr; 2], TopoError> {
        if self.links >= MAX_LINKS {
            return Err(too_many());
        }
        let base = 0x0a00_0000 + 4 * self.links as u32;
        self.links += 1;
        Ok([Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2)])
    }

    fn iface(node: &mut NodeDoc, name: &str, addr: Ipv4Addr) -> String {
        node.iface.0.push(IfaceDoc {
            name: spanned(name.to_owned()),
            addr: spanned(OneOrMany(vec![format!("{addr}/30")])),
            mtu: None,
            mac: None,
            link_file: None,
            attach: None,
            vde: None,
            group: None,
            netem: None,
        });
        format!("{}:{name}", node.name.get_ref())
    }

    /// Link two routers.
    fn link(&mut self, a: (usize, &str), b: (usize, &str)) -> Result<(), TopoError> {
        let [x, y] = self.subnet()?;
        let ea = Plan::iface(&mut self.doc.routers[a.0], a.1, x);
        let eb = Plan::iface(&mut self.doc.routers[b.0], b.1, y);
        self.push_link(ea, eb);
        Ok(())
    }

    /// A host `name` on its own link to `router`'s interface `iface`.
    fn host_on(&mut self, name: &str, router: usize, iface: &str) -> Result<(), TopoError> {
        let [gw, addr] = self.subnet()?;
        let ea = Plan::iface(&mut self.doc.routers[router], iface, gw);
        let mut host = Plan::node(name.to_owned());
        host.gateway = Some(spanned(gw.to_string()));
        let eb = Plan::iface(&mut host, "eth0", addr);
        self.doc.hosts.push(host);
        self.push_link(ea, eb);
        Ok(())
    }

    fn push_link(&mut self, a: String, b: String) {
        self.doc.links.push(LinkDoc {
            ends: vec![spanned(a), spanned(b)],
            ..LinkDoc::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_address_plan() {
        let t = chain(1).unwrap();
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["r1", "h1", "h2"]);
        assert_eq!(t.nodes[1].gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(t.first_addr(1), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(t.nodes[2].gateway, Some(Ipv4Addr::new(10, 0, 0, 5)));
        assert!(
            t.nodes[0].auto.is_empty(),
            "r1 is connected to both subnets"
        );
    }

    #[test]
    fn shapes() {
        let g = grid(3, 4).unwrap();
        assert_eq!(g.nodes.len(), 12 + 4);
        assert_eq!(g.links.len(), 3 * 3 + 2 * 4 + 4);
        assert_eq!(grid(1, 1).unwrap().hosts().count(), 1);
        let h = hypercube(3, 3).unwrap();
        assert_eq!(h.links.len(), 3 * 2 * 9 + 8);
        assert_eq!(h.node_index("r2_2_2"), Some(26));
        assert_eq!(h.hosts().count(), 8);
        // h1 and h8 sit on opposite corners.
        let corner = |host: &str| {
            let i = h.node_index(host).unwrap();
            let l = h.nodes[i].ifaces[0].link.unwrap();
            h.nodes[h.links[l].ends[0].0].name.clone()
        };
        assert_eq!(
            (corner("h1"), corner("h8")),
            ("r0_0_0".into(), "r2_2_2".into())
        );
    }

    #[test]
    fn too_big_is_an_error() {
        assert!(hypercube(1000, 1000).is_err());
        assert!(grid(usize::MAX, 2).is_err());
    }
}
