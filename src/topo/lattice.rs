//! Lattices — the grid (two dimensions) and the hyper-matrix (`m`^`n`) — built straight into the
//! model, with an address plan that follows their structure and routes computed from it.
//!
//! A router sits at every point of {0..m_0} × … × {0..m_(n-1)} (index: row-major), linked to
//! its neighbours along each dimension as a line, not a ring. Its interfaces come in dimension
//! order — towards the lower coordinate, then the higher, for dimension 0, then 1, … — and a
//! host sits on every corner. Ties between shortest paths break by interface order
//! (docs/topology.md), so a router's first hop to a destination is along the first dimension
//! where they differ: dimension-order routing, the same answer the general search gives.
//!
//! **Addresses.** Every subnet has a slot in one block of 10.0.0.0/8: the link along dimension
//! `e` from router `u` to `u + 1` in that dimension is slot `e · 2^F + Σ u_d · 2^shift_d`, where
//! coordinate `d` takes `b_d = ⌈log2 m_d⌉` bits, most significant first (`F = Σ b_d`); the LAN of
//! the host on corner `w` is slot `n · 2^F + Σ w_d · 2^shift_d`. A slot is a /30 (a /31 when a
//! /30 plan would not fit the /8): the lower router (or the LAN's router) `.1`, the other end
//! `.2`. The block is the topology's `settings.aggregate`, so an address of it no interface
//! holds goes where the subnet below it goes.
//!
//! **Routes.** Seen from router `c`, every slot of a kind (a dimension's links, the LANs)
//! falls in a few ranges of one next hop each: for each dimension in turn, the coordinates below
//! `c`'s go down that dimension, those above go up, and only the slots level with `c` look at
//! the next dimension (for links along `e`, "level" is the two coordinates `c_e − 1` and `c_e`,
//! whose nearer end is level with `c`). A walk over the fields in address order writes those
//! ranges — O(n²) of them — and ORTC compresses them, without visiting the other routers'
//! subnets: microseconds per router where the general search takes time in the size of the
//! whole topology. The result is the general computation's, route for route (a test holds
//! them equal).

use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;
use std::net::Ipv4Addr;

use super::ortc::{Entry, FREE, Scratch, Trie};
use super::route::{AutoRoute, AutoRoutes, Hop};
use super::{Iface, Kind, Link, Node, Progress};
use crate::router::fib::{ParsedRoute, TABLE_MAIN};
use crate::router::{IfAddr, NextHop, Route, RouteKind};
use crate::wire::ethernet;

/// How interfaces and routers are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `r{row}_{col}` from 1; `north`, `south`, `west`, `east`.
    Grid,
    /// `r{c0}_{c1}_…` from 0; `dn{d}`, `up{d}`.
    Cube,
}

/// First address of the plan.
const BASE: u32 = 0x0a00_0000;

/// Bits of 10.0.0.0/8.
const SPACE: u32 = 24;

/// Routers between two progress reports.
const STEP: usize = 4096;

/// A lattice's shape and address plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lattice {
    dims: Vec<usize>,
    style: Style,
    /// Router `i`'s coordinate `d` is `i / stride[d] % dims[d]`.
    stride: Vec<usize>,
    /// Where coordinate `d` sits in a slot number, and its width.
    shift: Vec<u32>,
    bits: Vec<u32>,
    /// Bits of the coordinates together (the kind of a slot sits above them).
    fields: u32,
    /// Host bits of a slot: 2 for /30, 1 for /31.
    host_bits: u32,
    /// Router index of each host's corner, in host order.
    corners: Vec<usize>,
}

fn width(m: usize) -> u32 {
    usize::BITS - (m.max(1) - 1).leading_zeros()
}

impl Lattice {
    /// The lattice of `dims` (each at least 1), or an error when its plan does not fit
    /// 10.0.0.0/8.
    pub fn new(dims: &[usize], style: Style) -> Result<Lattice, String> {
        let dims: Vec<usize> = dims.iter().map(|&m| m.max(1)).collect();
        let n = dims.len();
        dims.iter()
            .try_fold(1usize, |acc, &m| acc.checked_mul(m))
            .filter(|&r| r <= 1 << SPACE)
            .ok_or_else(|| format!("{dims:?} is more routers than 10.0.0.0/8 can number"))?;
        let bits: Vec<u32> = dims.iter().map(|&m| width(m)).collect();
        let fields: u32 = bits.iter().sum();
        let kinds = width(n + 1);
        let host_bits = match fields + kinds {
            f if f + 2 <= SPACE => 2,
            f if f < SPACE => 1,
            _ => {
                return Err(format!(
                    "{dims:?} needs {} address bits for its links, more than 10.0.0.0/8 has",
                    fields + kinds + 1
                ));
            }
        };
        let mut stride = vec![1; n];
        let mut shift = vec![0; n];
        for d in (0..n.saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * dims[d + 1];
            shift[d] = shift[d + 1] + bits[d + 1];
        }
        let mut corners = Vec::new();
        for mask in 0..(1usize << n.min(20)) {
            let index = (0..n).fold(0, |acc, d| {
                let high = mask >> (n - 1 - d) & 1 == 1;
                acc * dims[d] + if high { dims[d] - 1 } else { 0 }
            });
            if !corners.contains(&index) {
                corners.push(index);
            }
        }
        Ok(Lattice {
            dims,
            style,
            stride,
            shift,
            bits,
            fields,
            host_bits,
            corners,
        })
    }

    /// Number of routers.
    pub fn routers(&self) -> usize {
        self.stride.first().map_or(1, |s| s * self.dims[0])
    }

    /// Routers on the longest path between two hosts.
    pub fn reach(&self) -> usize {
        self.dims.iter().map(|m| m - 1).sum::<usize>() + 1
    }

    /// The plan's block, as (network, length).
    pub fn block(&self) -> (u32, u8) {
        let kinds = width(self.dims.len() + 1);
        (BASE, (32 - self.fields - kinds - self.host_bits) as u8)
    }

    fn coord(&self, i: usize, d: usize) -> usize {
        i / self.stride[d] % self.dims[d]
    }

    /// First address of slot `kind · 2^F + fields(u)`.
    fn slot(&self, kind: usize, u: usize) -> u32 {
        let fields = (0..self.dims.len()).fold(0u32, |acc, d| {
            acc | (self.coord(u, d) as u32) << self.shift[d]
        });
        BASE + ((kind as u32) << self.fields | fields) * (1 << self.host_bits)
    }

    /// The lower end's address on a slot (`.1` of a /30, `.0` of a /31).
    fn low(&self) -> u32 {
        if self.host_bits == 2 { 1 } else { 0 }
    }

    fn prefix_len(&self) -> u8 {
        (32 - self.host_bits) as u8
    }

    /// Router `i`'s interfaces in order: (dimension, towards the higher coordinate), then its
    /// LAN (`None`) if a host sits on it.
    fn ifaces_of(&self, i: usize) -> Vec<Option<(usize, bool)>> {
        let mut out = Vec::new();
        for (d, &m) in self.dims.iter().enumerate() {
            let c = self.coord(i, d);
            if c > 0 {
                out.push(Some((d, false)));
            }
            if c + 1 < m {
                out.push(Some((d, true)));
            }
        }
        if self.corners.contains(&i) {
            out.push(None);
        }
        out
    }

    fn router_name(&self, i: usize) -> String {
        let coords = (0..self.dims.len()).map(|d| self.coord(i, d));
        match self.style {
            Style::Grid => {
                let c: Vec<String> = coords.map(|c| (c + 1).to_string()).collect();
                format!("r{}", c.join("_"))
            }
            Style::Cube => {
                let c: Vec<String> = coords.map(|c| c.to_string()).collect();
                format!("r{}", c.join("_"))
            }
        }
    }

    fn iface_name(&self, port: Option<(usize, bool)>) -> String {
        match (self.style, port) {
            (_, None) => "lan".into(),
            (Style::Grid, Some((0, false))) => "north".into(),
            (Style::Grid, Some((0, true))) => "south".into(),
            (Style::Grid, Some((_, false))) => "west".into(),
            (Style::Grid, Some((_, true))) => "east".into(),
            (Style::Cube, Some((d, false))) => format!("dn{d}"),
            (Style::Cube, Some((d, true))) => format!("up{d}"),
        }
    }

    /// The routers, then the hosts, as validated nodes, and the links: every dimension's links
    /// in slot order, then each host's LAN. `ttl` is every node's; `delay` every link's.
    pub fn build(
        &self,
        ttl: u8,
        delay: Duration,
        progress: &dyn Progress,
    ) -> (Vec<Node>, Vec<Node>, Vec<Link>) {
        let routers = self.routers();
        let mac = |node: usize, iface: usize| {
            let [_, a, b, c] = (node as u32).to_be_bytes();
            ethernet::Address([0x02, a, b, c, iface as u8, 0])
        };
        let addr = |a: u32| IfAddr {
            addr: Ipv4Addr::from(a),
            len: self.prefix_len(),
        };
        let node = |name: String, kind: Kind, ifaces: Vec<Iface>| Node {
            name,
            kind,
            core: None,
            workers: 1,
            ifaces,
            routes: Vec::new(),
            auto_routes: kind == Kind::Router,
            auto: AutoRoutes::default(),
            tables: Vec::new(),
            rules: Vec::new(),
            marks: Vec::new(),
            gateway: None,
            ttl,
            switch: None,
        };
        let iface = |name: String, a: u32, mac| Iface {
            name,
            addrs: vec![addr(a)],
            mtu: 1500,
            mac,
            link: None,
            link_file: None,
            attach: None,
            vde: None,
            group: 0,
            netem: None,
            vlan: None,
        };
        let mut nodes: Vec<Node> = Vec::with_capacity(routers);
        for i in 0..routers {
            let ports = self.ifaces_of(i);
            let ifaces = (ports.iter().enumerate())
                .map(|(k, &port)| {
                    let a = match port {
                        Some((d, true)) => self.slot(d, i) + self.low(),
                        Some((d, false)) => self.slot(d, i - self.stride[d]) + self.low() + 1,
                        None => self.slot(self.dims.len(), i) + self.low(),
                    };
                    iface(self.iface_name(port), a, mac(i, k))
                })
                .collect();
            nodes.push(node(self.router_name(i), Kind::Router, ifaces));
            if i % STEP == STEP - 1 {
                progress.report("nodes", i + 1, routers);
            }
        }
        let mut links = Vec::new();
        let link = |ends| Link {
            ends,
            delay,
            netem: None,
        };
        for d in 0..self.dims.len() {
            for u in (0..routers).filter(|&u| self.coord(u, d) + 1 < self.dims[d]) {
                let v = u + self.stride[d];
                let iu = self.position(u, Some((d, true)));
                let iv = self.position(v, Some((d, false)));
                nodes[u].ifaces[iu].link = Some(links.len());
                nodes[v].ifaces[iv].link = Some(links.len());
                links.push(link(vec![(u, iu), (v, iv)]));
            }
        }
        let mut hosts = Vec::with_capacity(self.corners.len());
        for (k, &r) in self.corners.iter().enumerate() {
            let net = self.slot(self.dims.len(), r);
            let h = routers + k;
            let lan = nodes[r].ifaces.len() - 1;
            nodes[r].ifaces[lan].link = Some(links.len());
            let mut f = iface("eth0".into(), net + self.low() + 1, mac(h, 0));
            f.link = Some(links.len());
            links.push(link(vec![(r, lan), (h, 0)]));
            let gw = Ipv4Addr::from(net + self.low());
            let mut host = node(format!("h{}", k + 1), Kind::Host, vec![f]);
            host.gateway = Some(gw);
            host.routes.push(default_via(gw));
            hosts.push(host);
        }
        (nodes, hosts, links)
    }

    /// Index of interface `port` among router `i`'s.
    fn position(&self, i: usize, port: Option<(usize, bool)>) -> usize {
        let Some((d, up)) = port else {
            return self.ifaces_of(i).len() - 1;
        };
        let mut k = 0;
        for e in 0..d {
            let c = self.coord(i, e);
            k += usize::from(c > 0) + usize::from(c + 1 < self.dims[e]);
        }
        k + usize::from(up && self.coord(i, d) > 0)
    }

    /// Every router's routes (`nodes` starts with the lattice's routers), on every core.
    pub fn route_all(&self, nodes: &mut [Node], progress: &dyn Progress) {
        let routers = self.routers().min(nodes.len());
        let done = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = routers.div_ceil(threads).max(1);
        // Progress is reported by the calling thread, which takes the first share.
        let mut shares = nodes[..routers].chunks_mut(chunk).enumerate();
        let first = shares.next();
        std::thread::scope(|scope| {
            for (k, share) in shares {
                let done = &done;
                scope.spawn(move || {
                    let mut work = Work::default();
                    for (j, node) in share.iter_mut().enumerate() {
                        node.auto = self.routes(k * chunk + j, &mut work);
                        if j % STEP == STEP - 1 {
                            done.fetch_add(STEP, Ordering::Relaxed);
                        }
                    }
                });
            }
            if let Some((_, share)) = first {
                let mut work = Work::default();
                for (j, node) in share.iter_mut().enumerate() {
                    node.auto = self.routes(j, &mut work);
                    if j % STEP == STEP - 1 {
                        let d = done.fetch_add(STEP, Ordering::Relaxed) + STEP;
                        progress.report("routes", d.min(routers), routers);
                    }
                }
            }
        });
        progress.report("routes", routers, routers);
    }

    /// Router `i`'s compressed routes: what the general computation gives it, from the
    /// lattice's structure alone.
    pub fn routes(&self, i: usize, w: &mut Work) -> AutoRoutes {
        let n = self.dims.len();
        // Labels: 1 + the interface's place among the router's links (its LAN comes last).
        w.labels_of.clear();
        let mut k = 0u8;
        for d in 0..n {
            let c = self.coord(i, d);
            let dn = if c > 0 {
                k += 1;
                k
            } else {
                0
            };
            let up = if c + 1 < self.dims[d] {
                k += 1;
                k
            } else {
                0
            };
            w.labels_of.push([dn, up]);
        }
        let labels_of = core::mem::take(&mut w.labels_of);
        let label = |d: usize, up: bool| labels_of[d][usize::from(up)];
        w.bps.clear();
        w.bps.push((0, 0));
        for kind in 0..=n {
            if kind < n && self.dims[kind] < 2 {
                continue; // no links along this dimension
            }
            let start = (kind as u32) << self.fields;
            self.walk(i, kind, 0, start, &label, &mut w.bps);
        }
        // Slots to addresses, then intervals to leaves; "no route" stretches stay out (the
        // trie's background says the same).
        let (block, len) = self.block();
        let end = u64::from(block) + (1u64 << (32 - len));
        w.leaves.clear();
        w.leaf_labels.clear();
        for (k, &(slot, l)) in w.bps.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let lo = u64::from(block) + (u64::from(slot) << self.host_bits);
            let hi = (w.bps.get(k + 1)).map_or(end, |&(s, _)| {
                u64::from(block) + (u64::from(s) << self.host_bits)
            });
            split(lo, hi, &mut w.leaves);
            w.leaf_labels.resize(w.leaves.len(), l);
        }
        w.trie.rebuild(&w.leaves);
        w.entries.clear();
        w.trie
            .compress(&w.leaf_labels, &mut w.scratch, &mut w.entries);
        let mut hops = Vec::with_capacity(usize::from(k));
        for (d, pair) in labels_of.iter().enumerate() {
            for (up, &l) in pair.iter().enumerate() {
                if l == 0 {
                    continue;
                }
                // Our interface is the link's upper end when it goes down, so the neighbour
                // holds the lower address, and the other way round.
                let (owner, theirs) = if up == 1 {
                    (i, self.low() + 1)
                } else {
                    (i - self.stride[d], self.low())
                };
                hops.push(Hop {
                    iface: u16::from(l - 1),
                    via: Ipv4Addr::from(self.slot(d, owner) + theirs),
                });
            }
        }
        w.labels_of = labels_of;
        let mut routes: Vec<AutoRoute> = (w.entries.iter())
            .map(|e| AutoRoute {
                prefix: e.prefix,
                len: e.len,
                hop: u16::from(e.label),
            })
            .collect();
        routes.sort_unstable_by_key(|r| (r.prefix, r.len));
        AutoRoutes { routes, hops }
    }

    /// Appends `(slot, label)` breakpoints for the slots of `kind` (a dimension's links, or the
    /// LANs at `kind == n`) whose coordinates before `d` are router `c`'s ("level" for links
    /// along `kind`), from slot `prefix` on, in address order.
    fn walk(
        &self,
        c: usize,
        kind: usize,
        d: usize,
        prefix: u32,
        label: &dyn Fn(usize, bool) -> u8,
        out: &mut Vec<(u32, u8)>,
    ) {
        let n = self.dims.len();
        let m = self.dims[d];
        let cd = self.coord(c, d);
        let at = |x: usize| prefix | (x as u32) << self.shift[d];
        // The coordinates of this field that have slots: 0..=last, or (LANs) just the ends.
        let ends_only = kind == n;
        let last = if kind == d { m - 2 } else { m - 1 };
        let real = |x: usize| x <= last && (!ends_only || x == 0 || x == last);
        // Level — the coordinates that look at the next field — is `c`'s own, or for links
        // along this dimension the two whose nearer end is `c`'s coordinate.
        let lo = if kind == d { cd.saturating_sub(1) } else { cd };
        if lo > 0 {
            push(out, at(0), label(d, false));
        }
        for x in lo..=cd.min(last) {
            if !real(x) {
                continue;
            }
            if d + 1 == n {
                // Level in every field: one of the router's own subnets.
                push(out, at(x), FREE);
                push(out, at(x) + 1, 0);
            } else {
                self.walk(c, kind, d + 1, at(x), label, out);
            }
        }
        let above = if ends_only { last } else { cd + 1 };
        if above > cd && above <= last {
            push(out, at(above), label(d, true));
        }
    }
}

/// Working memory for [`Lattice::routes`], kept from one router to the next.
#[derive(Default)]
pub struct Work {
    labels_of: Vec<[u8; 2]>,
    bps: Vec<(u32, u8)>,
    leaves: Vec<(u32, u8)>,
    leaf_labels: Vec<u8>,
    trie: Trie,
    scratch: Scratch,
    entries: Vec<Entry>,
}

/// Add a breakpoint; one at the same slot as the last replaces it, and one that repeats the
/// last label is dropped.
fn push(out: &mut Vec<(u32, u8)>, slot: u32, label: u8) {
    if out.last().is_some_and(|&(s, _)| s == slot) {
        out.pop();
    }
    if out.last().is_none_or(|&(_, l)| l != label) {
        out.push((slot, label));
    }
}

/// `lo..hi` as the fewest aligned prefixes.
fn split(mut lo: u64, hi: u64, out: &mut Vec<(u32, u8)>) {
    while lo < hi {
        let align = if lo == 0 {
            32
        } else {
            lo.trailing_zeros().min(32)
        };
        let fit = 63 - (hi - lo).leading_zeros();
        let bits = align.min(fit);
        out.push((lo as u32, (32 - bits) as u8));
        lo += 1u64 << bits;
    }
}

/// `default via GW`, as validation parses a gateway.
fn default_via(gw: Ipv4Addr) -> ParsedRoute {
    ParsedRoute {
        table: TABLE_MAIN,
        route: Route {
            prefix: Ipv4Addr::UNSPECIFIED,
            len: 0,
            metric: 0,
            nexthop: NextHop {
                gateway: Some(gw),
                ..NextHop::of_kind(RouteKind::Unicast)
            },
        },
        multipath: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topo::Quiet;

    /// Each router's routes from the structure are the general computation's, route for
    /// route, with /30 and with /31 slots (which only lattices too big to compare choose by
    /// themselves).
    #[test]
    fn structure_gives_the_general_routes() {
        for (dims, style) in [
            (vec![4, 3, 5], Style::Cube),
            (vec![6, 7], Style::Grid),
            (vec![2, 2, 2, 2], Style::Cube),
            (vec![1, 5], Style::Grid),
        ] {
            for host_bits in [2, 1] {
                let mut l = Lattice::new(&dims, style).unwrap();
                l.host_bits = host_bits;
                let (mut nodes, hosts, links) = l.build(64, Duration::ZERO, &Quiet);
                let routers = nodes.len();
                nodes.extend(hosts);
                let general = crate::topo::auto::compute(&nodes, &links, &[l.block()], &Quiet);
                let mut work = Work::default();
                for i in 0..routers {
                    let ours = l.routes(i, &mut work);
                    assert_eq!(
                        ours,
                        general[i],
                        "{dims:?} /{} {}",
                        32 - host_bits,
                        nodes[i].name
                    );
                }
            }
        }
    }
}
