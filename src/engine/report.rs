//! What a stopped engine reports: every node's counters, every link's counters by end with its
//! drops by reason and what was still in flight ([`LinkReport`]), every device, and the flows'
//! totals. Links are added up over workers by link id and end, so a link between two workers,
//! or a spread router's device, is one row.

use super::worker::WorkerEnv;
use crate::capture::CaptureTotals;
use crate::fabric::flow::Generator;
use crate::fabric::flow::flow_of;
use crate::fabric::{Fabric, FlowReport, LinkReport, Sink};
use crate::port::PortStats;
use crate::router::Counters;

/// A node's totals.
#[derive(Debug, Clone)]
pub struct NodeReport {
    /// Its name.
    pub name: String,
    /// The node's own counters (a spread router's summed over its replicas; a switch's as
    /// [`crate::switch::Counters::summary`] gives them).
    pub counters: Counters,
    /// A switch's own counters (boxed: most nodes are routers, and a report may hold
    /// hundreds of thousands of them).
    pub switch: Option<Box<crate::switch::Counters>>,
    /// Frames it sent on interfaces on no link (dropped).
    pub unlinked: u64,
    /// Frames still waiting in its receive queues when the engine stopped.
    pub queued: u64,
}

/// A worker's share of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerReport {
    /// Nodes placed on it (replicas included).
    pub nodes: usize,
    /// The core it was pinned to, `None` when it floated (no core left for it, or the cpuset
    /// refused).
    pub core: Option<usize>,
    /// The fraction of the run it spent working rather than asleep or waiting for a frame
    /// due on a link.
    pub busy: f64,
}

/// A port's totals, as a stopped engine reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReport {
    /// Instance name.
    pub node: String,
    /// Interface name.
    pub iface: String,
    /// Device and mode, e.g. `veth1 afxdp native copy, 1 queue`.
    pub describe: String,
    /// The worker serving the port (several for a spread router's device).
    pub worker: usize,
    /// Frames in and out, and drops.
    pub stats: PortStats,
}

/// What a stopped engine reports.
pub struct Report {
    /// Each node, in network order (a spread router's replicas summed into it).
    pub nodes: Vec<NodeReport>,
    /// Each link, in network order.
    pub links: Vec<LinkReport>,
    /// All sinks folded together.
    pub sink: Sink,
    /// Datagrams the hosts' flows put on their links.
    pub sent: u64,
    /// What became of each flow's datagrams (by flow id).
    pub flows: Vec<FlowReport>,
    /// Every port: instance, interface, what it is bound to, and its totals.
    pub ports: Vec<PortReport>,
    /// Wall-clock time from start to stop.
    pub elapsed: std::time::Duration,
    /// The capture's totals (or why it failed), if the network had one.
    pub capture: Option<std::io::Result<CaptureTotals>>,
    /// Each worker: its nodes, its core, how busy it was.
    pub workers: Vec<WorkerReport>,
    /// The links between workers (`a:eth1 — b:eth0`): where placement cut the topology.
    pub cut: Vec<String>,
}

impl Report {
    /// The links whose frames do not add up (a bug if any).
    pub fn unbalanced(&self) -> impl Iterator<Item = (&LinkReport, i128)> {
        self.links
            .iter()
            .map(|l| (l, l.imbalance()))
            .filter(|&(_, d)| d != 0)
    }
}

/// What the report is made from: the stopped workers' fabrics and where everything was.
pub(super) struct Stopped<'a> {
    /// Their link ends are released once reported (see [`build`]).
    pub fabrics: &'a mut [Fabric<WorkerEnv>],
    /// Worker and slot of each node, in network order (replicas last).
    pub placement: &'a [(usize, u32)],
    /// For each replica (network index past the originals), the node it copies.
    pub replica_of: &'a [usize],
}

/// Build the report: links, ports and flows from each fabric, its link ends released once
/// reported (at half a million links they are as large as their rows), then the nodes.
pub(super) fn build(s: Stopped<'_>, elapsed: std::time::Duration) -> Report {
    let mut report = Report {
        nodes: Vec::new(),
        links: Vec::new(),
        sink: Sink::default(),
        sent: 0,
        flows: Vec::new(),
        ports: Vec::new(),
        elapsed,
        capture: None,
        workers: Vec::new(),
        cut: Vec::new(),
    };
    for (worker, f) in s.fabrics.iter_mut().enumerate() {
        f.report_links(&mut report.links);
        for m in &f.env.media {
            if let Some((node, iface, describe, stats)) = m.port() {
                let slot = &f.slots[node as usize];
                report.ports.push(PortReport {
                    node: slot.name.clone(),
                    iface: slot.node.iface_name(iface).unwrap_or_default().to_owned(),
                    describe,
                    worker,
                    stats,
                });
            }
        }
        for slot in &f.slots {
            report.sent += slot.generators.iter().map(Generator::sent).sum::<u64>();
            if let Some(sink) = &slot.sink {
                report.sink.merge(sink);
            }
        }
        f.report_flows(&mut report.flows);
        f.release_ends();
    }
    // Frames still in rings between workers were in flight when the workers stopped.
    for f in s.fabrics.iter() {
        for m in &f.env.media {
            m.peek(|frame| {
                if let Some((id, _)) = flow_of(frame)
                    && let Some(flow) = report.flows.get_mut(usize::from(id))
                {
                    flow.in_flight += 1;
                }
            });
        }
    }
    // Flows neither sent nor received in this run are ids of no flow.
    report
        .flows
        .retain(|f| !f.from.is_empty() || f.arrived.received != 0);
    let fabrics = &*s.fabrics;
    let originals = s.placement.len() - s.replica_of.len();
    report.nodes = s.placement[..originals]
        .iter()
        .map(|&(w, l)| node_report(&fabrics[w], l))
        .collect();
    for (k, &of) in s.replica_of.iter().enumerate() {
        let (w, l) = s.placement[originals + k];
        let r = node_report(&fabrics[w], l);
        let n = &mut report.nodes[of];
        n.counters += &r.counters;
        n.unlinked += r.unlinked;
        n.queued += r.queued;
    }
    report
}

fn node_report(f: &Fabric<WorkerEnv>, slot: u32) -> NodeReport {
    let s = &f.slots[slot as usize];
    NodeReport {
        name: s.name.clone(),
        counters: match (s.node.router(), s.node.switch()) {
            (Some(r), _) => r.counters().clone(),
            (None, Some(sw)) => sw.counters().summary(),
            (None, None) => Counters::default(),
        },
        switch: s.node.switch().map(|sw| Box::new(sw.counters().clone())),
        unlinked: s.unlinked,
        queued: s.rx.iter().map(|q| q.len() as u64).sum(),
    }
}
