//! Where each node runs: its topology's core if pinned, otherwise contiguous blocks of a
//! breadth-first walk, so chains and meshes keep most links inside one worker; and the
//! replicas of routers spread over several workers.

use std::collections::VecDeque;

use super::EngineError;
use crate::fabric::{LinkSpec, Medium, NodeSpec};

/// A replica the engine added for a spread router: the node it copies and its shard (1..n;
/// the node itself is shard 0).
pub(super) struct Replica {
    pub(super) of: usize,
    pub(super) shard: usize,
}

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
                node: spec.node.replica(),
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

/// The nodes a node's in-process links reach.
fn neighbours<'a>(
    nodes: &'a [NodeSpec],
    links: &'a [LinkSpec],
    i: usize,
) -> impl Iterator<Item = usize> + 'a {
    nodes[i]
        .links
        .iter()
        .flatten()
        .map(|l| &links[l.0 as usize])
        .filter(|l| l.medium == Medium::Wire)
        .flat_map(move |l| {
            l.ends
                .iter()
                .map(|e| e.0.0 as usize)
                .filter(move |&n| n != i)
        })
}

/// Worker of each node: pinned ones by their core, the rest in contiguous blocks of a
/// breadth-first walk (so a chain splits into a few long runs).
pub(super) fn place(nodes: &[NodeSpec], links: &[LinkSpec], workers: usize) -> Vec<usize> {
    let n = nodes.len();
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for start in 0..n {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            order.push(i);
            for p in neighbours(nodes, links, i) {
                if !seen[p] {
                    seen[p] = true;
                    queue.push_back(p);
                }
            }
        }
    }
    let free: Vec<usize> = order
        .into_iter()
        .filter(|&i| nodes[i].core.is_none())
        .collect();
    let mut placement = vec![0; n];
    let per = free.len().div_ceil(workers.max(1)).max(1);
    for (k, &i) in free.iter().enumerate() {
        placement[i] = (k / per).min(workers - 1);
    }
    for (i, spec) in nodes.iter().enumerate() {
        if let Some(core) = spec.core {
            placement[i] = core % workers;
        }
    }
    placement
}
