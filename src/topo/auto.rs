//! `routes = "auto"`: shortest-path static routes for every router, as a routing protocol would
//! converge to with hop count as the metric.
//!
//! A breadth-first search from each router over the graph of routers (two routers are adjacent
//! when they share a link) gives, for every other router, the distance and the neighbour on the
//! first hop. Each subnet the router is not connected to is then routed via the first hop toward
//! the nearest router attached to that subnet. Ties are broken by order in the file: interfaces
//! in their order, a link's ends in theirs, and among equally near attached routers the first.
//! Hosts never forward, so they are not part of the graph; they reach the world through their
//! gateway.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::subnet::{Subnet, subnet, subnets_of};
use super::{Kind, Link, Node};

/// A router's neighbour: its index, our interface towards it, and its address there.
#[derive(Clone, Copy)]
struct Adj {
    node: usize,
    iface: usize,
    via: Ipv4Addr,
}

/// Routes for every node (empty for hosts), whether or not it asked for them.
pub(super) fn compute(nodes: &[Node], links: &[Link]) -> Vec<Vec<String>> {
    if !nodes.iter().any(|n| n.auto_routes) {
        return vec![Vec::new(); nodes.len()];
    }
    let is_router = |n: usize| nodes[n].kind == Kind::Router;
    let adj: Vec<Vec<Adj>> = (0..nodes.len())
        .map(|n| {
            if is_router(n) {
                neighbours(n, nodes, links)
            } else {
                Vec::new()
            }
        })
        .collect();

    // Every subnet once, with the routers attached to it.
    let mut subnets: Vec<Subnet> = Vec::new();
    for link in links {
        subnets.extend(subnets_of(&link.ends, nodes));
    }
    for (n, node) in nodes.iter().enumerate() {
        for (i, f) in node.ifaces.iter().enumerate() {
            if f.link.is_none() {
                subnets.extend(subnets_of(&[(n, i)], nodes));
            }
        }
    }
    let mut attached: Vec<Vec<usize>> = vec![Vec::new(); subnets.len()];
    for (s, sub) in subnets.iter().enumerate() {
        for n in (0..nodes.len()).filter(|&n| is_router(n)) {
            if connected(&nodes[n], *sub) {
                attached[s].push(n);
            }
        }
    }

    let mut out = vec![Vec::new(); nodes.len()];
    let mut dist = vec![usize::MAX; nodes.len()];
    let mut first: Vec<Option<Adj>> = vec![None; nodes.len()];
    let mut queue = VecDeque::new();
    for r in (0..nodes.len()).filter(|&n| is_router(n) && nodes[n].auto_routes) {
        dist.fill(usize::MAX);
        first.fill(None);
        dist[r] = 0;
        queue.push_back(r);
        while let Some(u) = queue.pop_front() {
            for a in &adj[u] {
                if dist[a.node] == usize::MAX {
                    dist[a.node] = dist[u] + 1;
                    first[a.node] = if u == r { Some(*a) } else { first[u] };
                    queue.push_back(a.node);
                }
            }
        }
        for (s, &sub) in subnets.iter().enumerate() {
            if connected(&nodes[r], sub) {
                continue;
            }
            let nearest = attached[s]
                .iter()
                .filter(|&&n| dist[n] != usize::MAX)
                .min_by_key(|&&n| dist[n]);
            if let Some(hop) = nearest.and_then(|&n| first[n]) {
                out[r].push(format!(
                    "{}/{} via {} dev {}",
                    Ipv4Addr::from(sub.0),
                    sub.1,
                    hop.via,
                    nodes[r].ifaces[hop.iface].name
                ));
            }
        }
    }
    out
}

fn connected(node: &Node, sub: Subnet) -> bool {
    node.ifaces
        .iter()
        .flat_map(|f| &f.addrs)
        .any(|a| subnet(a) == sub)
}

fn neighbours(n: usize, nodes: &[Node], links: &[Link]) -> Vec<Adj> {
    let mut out = Vec::new();
    for (i, f) in nodes[n].ifaces.iter().enumerate() {
        let Some(l) = f.link else { continue };
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
                    node: m,
                    iface: i,
                    via: v.addr,
                });
            }
        }
    }
    out
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
        assert_eq!(
            t.nodes[0].routes,
            [
                "10.0.1.0/24 via 10.0.0.2 dev a",
                "10.0.2.0/24 via 10.0.3.1 dev b",
                "10.9.0.0/24 via 10.0.0.2 dev a"
            ]
        );
        // Every router reaches the stub.
        for n in &t.nodes[..4] {
            if n.name != "r3" {
                assert!(
                    n.routes.iter().any(|r| r.starts_with("10.9.0.0/24 ")),
                    "{}",
                    n.name
                );
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
        assert!(t.nodes[0].routes.is_empty());
    }
}
