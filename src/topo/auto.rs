//! `routes = "auto"`: shortest-path static routes for every router, as a routing protocol would
//! converge to with hop count as the metric, compressed to the fewest prefixes that forward
//! exactly the same.
//!
//! A breadth-first search from each router over the graph of routers (two routers are adjacent
//! when they share a link) gives, for every other router, the distance and the neighbour on the
//! first hop. Each subnet the router is not connected to goes via the first hop toward the
//! nearest router attached to it. Ties are broken by order in the file: interfaces in their
//! order, a link's ends in theirs, and among equally near attached routers the first. Hosts never
//! forward, so they are not part of the graph; they reach the world through their gateway.
//!
//! That *full* table — a route per subnet — is then compressed with ORTC (`ortc.rs`): the
//! router's connected subnets are free (their connected routes decide there), every address in
//! no subnet keeps what the full table gives it (no route, or the gateway's default route), and
//! what comes out forwards every address exactly as the full table does. Labels are the router's
//! neighbours; a router with more than 62 of them keeps its full table.
//!
//! Cost: one search and one pass over the subnets and over their trie per router, so
//! O(routers × (routers + links + subnets)) time and O(routers + links) memory besides the
//! tables.

use std::net::Ipv4Addr;

use super::ortc::{Entry, FREE, LABELS, Scratch, Trie};
use super::route::{AutoRoute, AutoRoutes, Hop};
use super::subnet::{Subnet, subnet, subnets_of};
use super::{Kind, Link, Node, Progress};

/// A router's neighbour: its index, our interface towards it, and its address there.
#[derive(Clone, Copy)]
struct Adj {
    node: u32,
    iface: u16,
    via: Ipv4Addr,
}

/// The routers' graph and the subnets with the routers attached to each.
pub(super) struct Net {
    /// `adj[off[n]..off[n + 1]]` are node `n`'s neighbours, in tie-break order.
    off: Vec<u32>,
    adj: Vec<Adj>,
    /// Every subnet once, sorted by address.
    subnets: Vec<Subnet>,
    /// The unassigned parts of the aggregates, as prefixes, each with the subnet below it in
    /// its aggregate (`u32::MAX`: none).
    holes: Vec<(Subnet, u32)>,
    /// `att[att_off[s]..att_off[s + 1]]`: the routers with an address in subnet `s`, in node
    /// order.
    att_off: Vec<u32>,
    att: Vec<u32>,
}

impl Net {
    /// The graph over the links not marked in `down` (by index; missing marks are up). The
    /// interfaces of a down link keep their subnets, each on its own, as interfaces on no link.
    pub(super) fn new(nodes: &[Node], links: &[Link], down: &[bool], aggregates: &[Subnet]) -> Net {
        let is_router = |n: usize| nodes[n].kind == Kind::Router;
        let mut off = Vec::with_capacity(nodes.len() + 1);
        let mut adj = Vec::new();
        off.push(0);
        for n in 0..nodes.len() {
            if is_router(n) {
                neighbours(n, nodes, links, down, &mut adj);
            }
            off.push(adj.len() as u32);
        }
        // (subnet, attached router), then grouped.
        let mut pairs: Vec<(Subnet, u32)> = Vec::new();
        let mut push = |ends: &[(usize, usize)]| {
            for s in subnets_of(ends, nodes) {
                let before = pairs.len();
                for &(n, i) in ends {
                    let has = nodes[n].ifaces[i].addrs.iter().any(|a| subnet(a) == s);
                    if is_router(n) && has {
                        pairs.push((s, n as u32));
                    }
                }
                if pairs.len() == before {
                    pairs.push((s, u32::MAX)); // hosts only: a subnet nobody routes to
                }
            }
        };
        for (l, link) in links.iter().enumerate() {
            if is_down(down, l) {
                link.ends.iter().for_each(|&end| push(&[end]));
            } else {
                push(&link.ends);
            }
        }
        for (n, node) in nodes.iter().enumerate() {
            for (i, f) in node.ifaces.iter().enumerate() {
                if f.link.is_none() {
                    push(&[(n, i)]);
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let (mut subnets, mut att_off, mut att) = (Vec::new(), vec![0u32], Vec::new());
        for (k, &(s, n)) in pairs.iter().enumerate() {
            if k > 0 && pairs[k - 1].0 != s {
                subnets.push(pairs[k - 1].0);
                att_off.push(att.len() as u32);
            }
            if n != u32::MAX {
                att.push(n);
            }
        }
        if let Some(&(s, _)) = pairs.last() {
            subnets.push(s);
            att_off.push(att.len() as u32);
        }
        let holes = holes(&subnets, aggregates);
        Net {
            off,
            adj,
            subnets,
            holes,
            att_off,
            att,
        }
    }

    /// The trie's leaves: the subnets, then the holes.
    fn leaves(&self) -> Vec<Subnet> {
        let holes = self.holes.iter().map(|&(h, _)| h);
        self.subnets.iter().copied().chain(holes).collect()
    }

    fn adj(&self, n: usize) -> &[Adj] {
        &self.adj[self.off[n] as usize..self.off[n + 1] as usize]
    }

    fn attached(&self, s: usize) -> &[u32] {
        &self.att[self.att_off[s] as usize..self.att_off[s + 1] as usize]
    }
}

/// Per-router working memory, reused.
struct Search {
    dist: Vec<u32>,
    /// 1 + index of the first hop's neighbour in the source's adjacency.
    first: Vec<u16>,
    queue: Vec<u32>,
    labels: Vec<u8>,
    scratch: Scratch,
    entries: Vec<Entry>,
}

/// Computed routes for every node that asked for them (empty for the others), compressed.
pub(super) fn compute(
    nodes: &[Node],
    links: &[Link],
    aggregates: &[Subnet],
    progress: &dyn Progress,
) -> Vec<AutoRoutes> {
    tables(nodes, links, &[], aggregates, true, progress)
}

/// The same with the links marked in `down` (by index) carrying nothing: what a routing
/// protocol converges to after they failed.
pub(super) fn compute_without(
    nodes: &[Node],
    links: &[Link],
    down: &[bool],
    aggregates: &[Subnet],
) -> Vec<AutoRoutes> {
    tables(nodes, links, down, aggregates, true, &super::Quiet)
}

/// The same, uncompressed: one route per subnet the router is not on (and per piece of an
/// aggregate's unassigned space), as the comparison for the compressed tables.
#[cfg(test)]
pub(super) fn full(nodes: &[Node], links: &[Link], aggregates: &[Subnet]) -> Vec<AutoRoutes> {
    tables(nodes, links, &[], aggregates, false, &super::Quiet)
}

fn tables(
    nodes: &[Node],
    links: &[Link],
    down: &[bool],
    aggregates: &[Subnet],
    compress: bool,
    progress: &dyn Progress,
) -> Vec<AutoRoutes> {
    let mut out = vec![AutoRoutes::default(); nodes.len()];
    if !nodes.iter().any(|n| n.auto_routes) {
        return out;
    }
    let net = Net::new(nodes, links, down, aggregates);
    let leaves = net.leaves();
    let trie = Trie::new(&leaves);
    let mut search = Search {
        dist: vec![u32::MAX; nodes.len()],
        first: vec![0; nodes.len()],
        queue: Vec::with_capacity(nodes.len()),
        labels: vec![0; leaves.len()],
        scratch: Scratch::default(),
        entries: Vec::new(),
    };
    let total = nodes.iter().filter(|n| n.auto_routes).count();
    let mut done = 0;
    for (r, node) in nodes.iter().enumerate() {
        if node.kind == Kind::Router && node.auto_routes {
            out[r] = router(r, node, &net, &trie, &mut search, compress);
            done += 1;
            if done % 256 == 0 {
                progress.report("routes", done, total);
            }
        }
    }
    progress.report("routes", total, total);
    out
}

/// One router's table.
fn router(
    r: usize,
    node: &Node,
    net: &Net,
    trie: &Trie,
    s: &mut Search,
    compress: bool,
) -> AutoRoutes {
    bfs(r, net, s);
    let subnets = net.subnets.len();
    for (k, label) in s.labels[..subnets].iter_mut().enumerate() {
        let att = net.attached(k);
        *label = if att.iter().any(|&n| n as usize == r) {
            FREE
        } else {
            // The nearest attached router, the first among equals.
            let mut best: Option<(u32, u32)> = None;
            for &n in att {
                let d = s.dist[n as usize];
                if d != u32::MAX && best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, n));
                }
            }
            match best {
                // Labels beyond a byte only happen on routers too wide to compress.
                Some((_, n)) => s.first[n as usize].min(u16::from(u8::MAX - 1)) as u8,
                None => 0,
            }
        };
    }
    // An unassigned address goes where the subnet below it goes; the routers on that subnet
    // have no route for it.
    for (h, &(_, floor)) in net.holes.iter().enumerate() {
        s.labels[subnets + h] = match s.labels.get(floor as usize) {
            Some(&FREE) | None => 0,
            Some(&l) => l,
        };
    }
    let adj = net.adj(r);
    let mut hops: Vec<Hop> = adj
        .iter()
        .map(|a| Hop {
            iface: a.iface,
            via: a.via,
        })
        .collect();
    // Label 0 is what the full table does where it has no route: nothing, or the default
    // route through the gateway, which a route must then name (a `throw` would skip `main`).
    let background = match node.gateway.and_then(|g| gateway_hop(node, g)) {
        Some(hop) => {
            hops.push(hop);
            hops.len() as u16
        }
        None => 0,
    };
    let hop_of = |label: u8| match label {
        0 => background,
        l => u16::from(l),
    };
    let mut routes = Vec::new();
    if compress && adj.len() < LABELS - 1 {
        s.entries.clear();
        trie.compress(&s.labels, &mut s.scratch, &mut s.entries);
        routes.extend(s.entries.iter().map(|e| AutoRoute {
            prefix: e.prefix,
            len: e.len,
            hop: hop_of(e.label),
        }));
        routes.sort_unstable_by_key(|r| (r.prefix, r.len));
    } else {
        for (k, &(prefix, len)) in net.subnets.iter().enumerate() {
            if let (Some(hop), false) = (bfs_hop(r, k, net, s), s.labels[k] == FREE) {
                routes.push(AutoRoute { prefix, len, hop });
            }
        }
        for &((prefix, len), floor) in &net.holes {
            let floor = floor as usize;
            let hop = (floor < subnets && s.labels[floor] != FREE)
                .then(|| bfs_hop(r, floor, net, s))
                .flatten();
            if let Some(hop) = hop {
                routes.push(AutoRoute { prefix, len, hop });
            }
        }
    }
    routes.shrink_to_fit();
    AutoRoutes { routes, hops }
}

/// The full table's hop for subnet `k` from `r` (after [`bfs`]), without the label cap.
fn bfs_hop(r: usize, k: usize, net: &Net, s: &Search) -> Option<u16> {
    let mut best: Option<(u32, u32)> = None;
    for &n in net.attached(k) {
        if n as usize == r {
            return None;
        }
        let d = s.dist[n as usize];
        if d != u32::MAX && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| s.first[n as usize])
}

/// Breadth-first search from `r`: `dist` and `first` for every router it reaches.
fn bfs(r: usize, net: &Net, s: &mut Search) {
    // Forget the previous search's marks (it visited exactly what its queue holds).
    for &v in &s.queue {
        s.dist[v as usize] = u32::MAX;
    }
    s.queue.clear();
    s.dist[r] = 0;
    s.queue.push(r as u32);
    let mut head = 0;
    while let Some(&u) = s.queue.get(head) {
        head += 1;
        let u = u as usize;
        let (du, fu) = (s.dist[u], s.first[u]);
        for (k, a) in net.adj(u).iter().enumerate() {
            let v = a.node as usize;
            if s.dist[v] == u32::MAX {
                s.dist[v] = du + 1;
                s.first[v] = if u == r { k as u16 + 1 } else { fu };
                s.queue.push(a.node);
            }
        }
    }
}

/// The unassigned parts of `aggregates` between (sorted, disjoint) `subnets`, as prefixes, each
/// with the index of the last subnet before it in the same aggregate.
fn holes(subnets: &[Subnet], aggregates: &[Subnet]) -> Vec<(Subnet, u32)> {
    let end = |(p, len): Subnet| u64::from(p) + (1u64 << (32 - len));
    let mut out = Vec::new();
    for &agg in aggregates {
        let (start, stop) = (u64::from(agg.0), end(agg));
        let first = subnets.partition_point(|&s| u64::from(s.0) < start);
        if first > 0 && end(subnets[first - 1]) > start {
            continue; // inside a subnet: nothing unassigned
        }
        let (mut cursor, mut floor) = (start, u32::MAX);
        for (k, &s) in subnets.iter().enumerate().skip(first) {
            if u64::from(s.0) >= stop {
                break;
            }
            if end(s) > stop || s.1 < agg.1 {
                // A subnet wider than the aggregate leaves no hole in it.
                cursor = stop;
                break;
            }
            prefixes(cursor, u64::from(s.0), floor, &mut out);
            cursor = end(s);
            floor = k as u32;
        }
        prefixes(cursor, stop, floor, &mut out);
    }
    out
}

/// `lo..hi` as the fewest aligned prefixes, each tagged with `floor`.
fn prefixes(mut lo: u64, hi: u64, floor: u32, out: &mut Vec<(Subnet, u32)>) {
    while lo < hi {
        let align = if lo == 0 {
            32
        } else {
            lo.trailing_zeros().min(32)
        };
        let fit = 63 - (hi - lo).leading_zeros();
        let bits = align.min(fit);
        out.push(((lo as u32, (32 - bits) as u8), floor));
        lo += 1u64 << bits;
    }
}

/// The gateway as a hop: the first interface on its subnet.
fn gateway_hop(node: &Node, g: Ipv4Addr) -> Option<Hop> {
    let iface = node
        .ifaces
        .iter()
        .position(|f| f.addrs.iter().any(|a| a.contains(g)))?;
    Some(Hop {
        iface: iface as u16,
        via: g,
    })
}

fn is_down(down: &[bool], link: usize) -> bool {
    down.get(link).copied().unwrap_or(false)
}

fn neighbours(n: usize, nodes: &[Node], links: &[Link], down: &[bool], out: &mut Vec<Adj>) {
    for (i, f) in nodes[n].ifaces.iter().enumerate() {
        let Some(l) = f.link.filter(|&l| !is_down(down, l)) else {
            continue;
        };
        for &(m, j) in &links[l].ends {
            if m == n || nodes[m].kind != Kind::Router {
                continue;
            }
            // Its address in a subnet we share on this link.
            let via = nodes[m].ifaces[j]
                .addrs
                .iter()
                .find(|theirs| f.addrs.iter().any(|ours| subnet(ours) == subnet(theirs)));
            if let Some(v) = via {
                out.push(Adj {
                    node: m as u32,
                    iface: i as u16,
                    via: v.addr,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::topo::Topology;

    /// A square r1–r2–r3–r4–r1 (link k joins r(k+1) "a" as .1 and the next router's "b" as .2),
    /// with a stub subnet on r3.
    fn square() -> String {
        let mut text = String::from("[settings]\nroutes = \"auto\"\n");
        for r in 1..=4usize {
            let stub = if r == 3 {
                ", { name = \"s\", addr = \"10.9.0.1/24\" }"
            } else {
                ""
            };
            text += &format!(
                "[[router]]\nname = \"r{r}\"\niface = [{{ name = \"a\", addr = \"10.0.{}.1/24\" }}, \
                 {{ name = \"b\", addr = \"10.0.{}.2/24\" }}{stub}]\n",
                r - 1,
                (r + 2) % 4
            );
        }
        for k in 0..4 {
            text += &format!(
                "[[link]]\nends = [\"r{}:a\", \"r{}:b\"]\n",
                k + 1,
                (k + 1) % 4 + 1
            );
        }
        text
    }

    /// Each subnet goes to its nearest attached router; r3's stub is two hops away both ways
    /// round, and the tie goes to r1's first interface.
    #[test]
    fn shortest_paths_and_ties() {
        let t = Topology::parse("square.toml", &square()).unwrap();
        assert_eq!(t.warnings.len(), 1, "the stub is on no link");
        let full = super::full(&t.nodes, &t.links, &[]);
        let lines = |routes: &super::AutoRoutes| {
            let mut n = t.nodes[0].clone();
            n.auto = routes.clone();
            n.routes.clear();
            let mut t = t.clone();
            t.nodes[0] = n;
            t.route_lines(0)
        };
        assert_eq!(
            lines(&full[0]),
            [
                "10.0.1.0/24 via 10.0.0.2 dev a",
                "10.0.2.0/24 via 10.0.3.1 dev b",
                "10.9.0.0/24 via 10.0.0.2 dev a"
            ]
        );
        // Compressed: 10.0.0/24 and 10.0.3/24 are r1's own, so 10.0.1/24 and 10.0.2/24 widen.
        assert_eq!(
            t.route_lines(0),
            [
                "10.0.0.0/22 via 10.0.0.2 dev a",
                "10.0.2.0/23 via 10.0.3.1 dev b",
                "10.9.0.0/24 via 10.0.0.2 dev a"
            ]
        );
        // Every router reaches the stub.
        for (i, n) in t.nodes[..4].iter().enumerate() {
            if n.name != "r3" {
                let stub = u32::from(std::net::Ipv4Addr::new(10, 9, 0, 7));
                let reached = n
                    .auto
                    .routes
                    .iter()
                    .any(|r| r.hop != 0 && stub & crate::router::mask(r.len) == r.prefix);
                assert!(reached, "{}: {:?}", n.name, t.route_lines(i));
            }
        }
    }

    /// A subnet reachable only through hosts gets no route; nothing panics.
    #[test]
    fn host_only_subnets_are_skipped() {
        let text = r#"
[settings]
routes = "auto"
[[router]]
name = "r"
iface = { name = "eth0", addr = "10.0.0.1/24" }
[[host]]
name = "a"
iface = [{ name = "eth0", addr = "10.0.0.2/24" }, { name = "eth1", addr = "10.9.0.1/24" }]
[[host]]
name = "b"
iface = { name = "eth0", addr = "10.9.0.2/24" }
[[link]]
ends = ["r:eth0", "a:eth0"]
[[link]]
ends = ["a:eth1", "b:eth0"]
"#;
        let t = Topology::parse("t.toml", text).unwrap();
        assert!(t.nodes[0].auto.is_empty());
    }
}

#[cfg(test)]
#[path = "auto_test.rs"]
mod equivalence;
