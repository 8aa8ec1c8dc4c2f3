//! Where each node runs, and the replicas of routers spread over several workers.
//!
//! Nodes pinned to a core go to that core's worker. The rest are cut into one block per worker
//! so that the work is even and few frames cross between workers (a crossing costs a copy
//! through a shared-memory ring and a wake-up): nodes are weighed — a host's flat-out flow
//! makes datagrams at a cost of several router hops each — and laid out in the order of a
//! breadth-first walk from a node at the edge of the topology (so a chain is walked end to end
//! and cut into runs, a grid by diagonals), the walk is cut into blocks of even weight, and
//! the cut is then improved by moving nodes at the border to the block most of their links
//! lead to while the blocks stay within a tenth of even. The network's own order is cut the
//! same way, and the cut crossing fewer links is kept (a generated lattice, numbered by
//! coordinates, cuts along an axis).

use super::EngineError;
use crate::fabric::{LinkSpec, Medium, NodeSpec, Pace};

/// A replica the engine added for a spread router: the node it copies and its shard (1..n;
/// the node itself is shard 0).
pub(super) struct Replica {
    pub(super) of: usize,
    pub(super) shard: usize,
}

/// What a host's flow weighs, in router hops: making a datagram (route lookup, headers,
/// payload) costs about as much as forwarding one through a few routers.
const FLOW_WEIGHT: u64 = 4;

/// How far from even a block may grow while the cut is improved, in tenths of its share.
const SLACK_TENTHS: u64 = 1;

/// Rounds of border moves at most.
const ROUNDS: usize = 8;

/// Append a replica node for every shard beyond the first of each spread router, after
/// checking it can be spread over `workers` workers. Returns what each appended node is.
pub(super) fn add_replicas(
    nodes: &mut Vec<NodeSpec>,
    links: &[LinkSpec],
    workers: usize,
) -> Result<Vec<Replica>, EngineError> {
    let mut replicas = Vec::new();
    for i in 0..nodes.len() {
        let spec = &nodes[i];
        if spec.workers <= 1 {
            continue;
        }
        let why = |why: String| EngineError::Spread {
            node: spec.name.clone(),
            why,
        };
        if spec.workers > workers {
            let n = spec.workers;
            return Err(why(format!(
                "it asks for {n} workers; the engine runs {workers}"
            )));
        }
        if !spec.flows.is_empty() || spec.sink {
            return Err(why("a host's flows and sinks run on one worker".into()));
        }
        let linked = spec.links.iter().position(|l| {
            l.is_some_and(|l| !matches!(links[l.0 as usize].medium, Medium::Port(_)))
        });
        if let Some(k) = linked {
            let name = spec.node.iface_name(crate::fabric::IfaceId(k as u16));
            let name = name.unwrap_or("?");
            return Err(why(format!(
                "interface {name} is linked to another instance; every interface of a \
                 spread router is bound to a host device or unconnected"
            )));
        }
        let copies: Vec<NodeSpec> = (1..spec.workers)
            .map(|_| NodeSpec {
                name: spec.name.clone(),
                node: Box::new(spec.node.replica()),
                core: None,
                workers: 1,
                links: spec.links.clone(),
                flows: Vec::new(),
                sink: false,
            })
            .collect();
        for (k, copy) in copies.into_iter().enumerate() {
            replicas.push(Replica {
                of: i,
                shard: k + 1,
            });
            nodes.push(copy);
        }
    }
    Ok(replicas)
}

/// Each node's neighbours over in-process links.
fn adjacency(nodes: &[NodeSpec], links: &[LinkSpec]) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); nodes.len()];
    for l in links.iter().filter(|l| l.medium == Medium::Wire) {
        for &(a, _) in &l.ends {
            for &(b, _) in &l.ends {
                if a != b {
                    adj[a.0 as usize].push(b.0 as usize);
                }
            }
        }
    }
    adj
}

/// A breadth-first walk from `start` over the unvisited nodes it reaches; returns them in
/// order (and marks them seen).
fn walk(adj: &[Vec<usize>], start: usize, seen: &mut [bool], order: &mut Vec<usize>) {
    let first = order.len();
    seen[start] = true;
    order.push(start);
    let mut next = first;
    while let Some(&i) = order.get(next) {
        next += 1;
        for &p in &adj[i] {
            if !seen[p] {
                seen[p] = true;
                order.push(p);
            }
        }
    }
}

/// Worker of each node: pinned ones by their core, the rest cut into blocks as the module says.
pub(super) fn place(nodes: &[NodeSpec], links: &[LinkSpec], workers: usize) -> Vec<usize> {
    let n = nodes.len();
    let workers = workers.max(1);
    if workers == 1 {
        // Nothing to cut: a million unlinked routers are placed without a walk.
        return vec![0; n];
    }
    let adj = adjacency(nodes, links);
    let weight: Vec<u64> = nodes
        .iter()
        .map(|s| {
            1 + FLOW_WEIGHT
                * s.flows
                    .iter()
                    .filter(|f| f.pace != Pace::Rate(0) && !matches!(f.pace, Pace::Rate(_)))
                    .count() as u64
        })
        .collect();
    // Walk each connected part from its edge: the last node a walk from anywhere reaches.
    let mut walked = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut probe_seen = vec![false; n];
    let mut probe = Vec::new();
    for start in 0..n {
        if seen[start] {
            continue;
        }
        probe.clear();
        walk(&adj, start, &mut probe_seen, &mut probe);
        let edge = probe.last().copied().unwrap_or(start);
        walk(&adj, edge, &mut seen, &mut walked);
    }
    // The network's own order is the other candidate: a generator numbers a lattice's nodes
    // coordinate by coordinate, so cutting that order cuts along an axis — 10^4 links of the
    // 10^5 hyper-matrix, where a walk from a corner cuts a diagonal layer of 2.8 times as many.
    // The cut that crosses fewer links wins; the walk on a tie.
    let mut best: Option<(usize, Vec<usize>)> = None;
    for order in [walked, (0..n).collect()] {
        let placement = blocks(nodes, &adj, &weight, order, workers);
        let crossing = crossing(&adj, &placement);
        if best.as_ref().is_none_or(|(c, _)| crossing < *c) {
            best = Some((crossing, placement));
        }
    }
    best.map(|(_, p)| p).unwrap_or_default()
}

/// Nodes pinned to a core on its worker, the free ones in `order` cut into blocks of even
/// weight, then the border improved.
fn blocks(
    nodes: &[NodeSpec],
    adj: &[Vec<usize>],
    weight: &[u64],
    order: Vec<usize>,
    workers: usize,
) -> Vec<usize> {
    let free: Vec<usize> = order
        .into_iter()
        .filter(|&i| nodes[i].core.is_none())
        .collect();
    let mut placement = vec![0; nodes.len()];
    for (i, spec) in nodes.iter().enumerate() {
        if let Some(core) = spec.core {
            placement[i] = core % workers;
        }
    }
    let total: u64 = free.iter().map(|&i| weight[i]).sum();
    let share = total.div_ceil(workers as u64).max(1);
    let mut load = vec![0u64; workers];
    let mut acc = 0;
    for &i in &free {
        let w = ((acc + weight[i] / 2) / share).min(workers as u64 - 1) as usize;
        placement[i] = w;
        load[w] += weight[i];
        acc += weight[i];
    }
    improve(adj, weight, &free, &mut placement, &mut load, share);
    placement
}

/// In-process links between workers (each counted from both ends).
fn crossing(adj: &[Vec<usize>], placement: &[usize]) -> usize {
    let apart = |(i, peers): (usize, &Vec<usize>)| {
        peers
            .iter()
            .filter(|&&p| placement[p] != placement[i])
            .count()
    };
    adj.iter().enumerate().map(apart).sum()
}

/// Move free nodes at the border of their block to the block most of their links lead to,
/// while that cuts fewer links and keeps every block within the slack of its share.
fn improve(
    adj: &[Vec<usize>],
    weight: &[u64],
    free: &[usize],
    placement: &mut [usize],
    load: &mut [u64],
    share: u64,
) {
    let most = share + share * SLACK_TENTHS / 10;
    for _ in 0..ROUNDS {
        let mut moved = false;
        for &i in free {
            let own = placement[i];
            let mut links_to = vec![0usize; load.len()];
            for &p in &adj[i] {
                links_to[placement[p]] += 1;
            }
            let best = (0..load.len())
                .max_by_key(|&w| (links_to[w], w == own))
                .unwrap_or(own);
            if best != own && links_to[best] > links_to[own] && load[best] + weight[i] <= most {
                load[own] -= weight[i];
                load[best] += weight[i];
                placement[i] = best;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

/// The links whose ends run on different workers.
pub(super) fn cut(links: &[LinkSpec], placement: &[usize]) -> Vec<usize> {
    links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.medium == Medium::Wire)
        .filter(|(_, l)| {
            let mut w = l.ends.iter().map(|e| placement[e.0.0 as usize]);
            let first = w.next();
            w.any(|x| Some(x) != first)
        })
        .map(|(k, _)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::{FlowSpec, Network, NodeId};
    use crate::router::{Config, IfaceId, Router};
    use crate::wire::ethernet::Address;

    /// A network of `n` routers with `ifaces` interfaces each, linked by `edges`.
    fn net(n: usize, ifaces: u16, edges: &[(usize, u16, usize, u16)]) -> Network {
        let mut net = Network::new();
        for i in 0..n {
            let mut r = Router::new(Config::default());
            for k in 0..ifaces {
                let mac = Address([2, 0, 0, i as u8, k as u8, 1]);
                r.add_iface(&format!("e{k}"), mac, 1500).unwrap();
            }
            net.add(&format!("n{i}"), r);
        }
        for &(a, ai, b, bi) in edges {
            let e = |n: usize, i: u16| (NodeId(n as u32), IfaceId(i));
            net.link(e(a, ai), e(b, bi)).unwrap();
        }
        net
    }

    fn placed(net: Network, workers: usize) -> (Vec<usize>, Vec<usize>) {
        let parts = net.into_parts().unwrap();
        let p = place(&parts.nodes, &parts.links, workers);
        let c = cut(&parts.links, &p);
        (p, c)
    }

    #[test]
    fn a_chain_is_cut_once_into_runs_of_even_weight() {
        // Numbered out of order: the walk starts at an end, not at node 0.
        let order = [3, 0, 5, 1, 4, 2, 7, 6];
        let edges: Vec<_> = order.windows(2).map(|w| (w[0], 1, w[1], 0)).collect();
        let (p, c) = placed(net(8, 2, &edges), 2);
        assert_eq!(c.len(), 1, "{p:?}");
        assert_eq!(p.iter().filter(|&&w| w == 0).count(), 4, "{p:?}");
    }

    #[test]
    fn a_host_flooding_weighs_more() {
        // h ─ r1 ─ … ─ r9: with h's flow weighing four hops, its worker takes fewer routers.
        let mut network = net(10, 2, &(0..9).map(|i| (i, 1, i + 1, 0)).collect::<Vec<_>>());
        let flow = FlowSpec {
            dst: [10, 0, 0, 1].into(),
            port: 9,
            frame_len: 64,
            pace: Pace::Flat,
            sources: 1,
        };
        network.add_flow(NodeId(0), flow);
        let (p, c) = placed(network, 2);
        assert_eq!(c.len(), 1);
        let with_host = p.iter().filter(|&&w| w == p[0]).count();
        assert!(with_host < 5, "{p:?}");
    }

    #[test]
    fn a_grid_cut_crosses_few_links() {
        // 6×6 grid: a walk from a corner goes by diagonals; the border moves straighten it.
        let side = 6;
        let id = |r: usize, c: usize| r * side + c;
        let mut edges = Vec::new();
        for r in 0..side {
            for c in 0..side {
                if c + 1 < side {
                    edges.push((id(r, c), 0, id(r, c + 1), 1));
                }
                if r + 1 < side {
                    edges.push((id(r, c), 2, id(r + 1, c), 3));
                }
            }
        }
        let (p, c) = placed(net(side * side, 4, &edges), 2);
        let on0 = p.iter().filter(|&&w| w == 0).count();
        assert!((16..=20).contains(&on0), "{on0} of 36 on worker 0: {p:?}");
        // A straight cut crosses 6 links, a diagonal one up to 11.
        assert!(c.len() <= 8, "{} links cut: {p:?}", c.len());
    }

    #[test]
    fn a_lattice_numbered_by_coordinates_is_cut_along_an_axis() {
        // 4×4×4, node = 16 x + 4 y + z: an axis cut crosses 16 links, a diagonal one more.
        let side = 4;
        let id = |c: [usize; 3]| (c[0] * side + c[1]) * side + c[2];
        let mut edges = Vec::new();
        for i in 0..side * side * side {
            let c = [i / (side * side), i / side % side, i % side];
            for d in 0..3 {
                if c[d] + 1 < side {
                    let mut n = c;
                    n[d] += 1;
                    edges.push((id(c), 2 * d as u16, id(n), 2 * d as u16 + 1));
                }
            }
        }
        let (p, c) = placed(net(side * side * side, 6, &edges), 2);
        assert_eq!(c.len(), side * side, "{p:?}");
    }
}
