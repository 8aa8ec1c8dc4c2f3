//! `graph [SECONDS]`: the running network as Graphviz DOT (the picture `shoal graph` draws of
//! its topology file), each link noted with what it carried over SECONDS (default 1): frames a
//! second into it, the frames it dropped, and `down` for a link taken down; the switch ports
//! spanning tree blocks at that moment are drawn blocked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::{Job, Reply};
use crate::engine::Engine;
use crate::fabric::{LinkId, LinkReport, Node, NodeId};
use crate::graph::{Notes, dot, edge_of};
use crate::topo::Topology;

/// The longest `graph` measures over.
const MAX_SECONDS: f64 = 10.0;

/// `graph [SECONDS]`, as a job: two readings of every link's counters, then the picture.
pub fn graph(engine: Arc<Engine>, topo: Arc<Topology>, args: &[&str]) -> Result<Reply, String> {
    let seconds = match args {
        [] => 1.0,
        [s] => match s.parse::<f64>() {
            Ok(s) if (0.1..=MAX_SECONDS).contains(&s) => s,
            _ => return Err(format!("graph {s}: seconds from 0.1 to {MAX_SECONDS}")),
        },
        _ => return Err("graph [SECONDS]".into()),
    };
    let job: Job = Box::new(move |send| {
        let (t0, before) = (Instant::now(), engine.links());
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let (dt, after) = (t0.elapsed().as_secs_f64(), engine.links());
        let mut notes = Notes::new();
        for (l, now) in after.iter().enumerate() {
            let Some(edge) = edge_of(&topo, LinkId(l as u32)) else {
                continue;
            };
            notes.add(edge, note(before.get(l), now, dt));
        }
        for (n, node) in topo.nodes.iter().enumerate() {
            if !node.runs_stp() {
                continue;
            }
            let id = NodeId(n as u32);
            let ports = engine.inspect(id, |node| match node {
                Node::Switch(s) => s.blocked_ports(),
                Node::Router(_) => Vec::new(),
            });
            for p in ports.unwrap_or_default() {
                notes.block(n, usize::from(p));
            }
        }
        send(dot(&topo, &notes).as_bytes());
    });
    Ok(Reply::Stream(job))
}

/// `12.3 kpps, 4 drops`, or `down`.
fn note(before: Option<&LinkReport>, now: &LinkReport, dt: f64) -> String {
    if now.ends.iter().any(|e| !e.up) {
        return "down".into();
    }
    let total = |r: &LinkReport| {
        r.ends.iter().fold((0u64, 0u64), |(tx, drops), e| {
            (tx + e.counters.tx_frames, drops + e.counters.total_drops())
        })
    };
    let (tx, drops) = total(now);
    let (tx0, drops0) = before.map_or((0, 0), total);
    let pps = tx.saturating_sub(tx0) as f64 / dt.max(1e-9);
    let rate = match pps {
        p if p >= 1e6 => format!("{:.2} Mpps", p / 1e6),
        p if p >= 1e3 => format!("{:.1} kpps", p / 1e3),
        p => format!("{p:.0} pps"),
    };
    match drops.saturating_sub(drops0) {
        0 => rate,
        d => format!("{rate}, {d} drops"),
    }
}
