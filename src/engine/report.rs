//! What a stopped engine reports: every node's counters, every link's counters by end with its
//! drops by reason and what was still in flight, every device, and the flows' totals. Links
//! are added up over workers by link id, so a link between two workers, or a spread router's
//! device, is one row.

use super::worker::WorkerEnv;
use crate::capture::CaptureTotals;
use crate::fabric::flow::Generator;
use crate::fabric::{EndCounters, Fabric, LinkSpec, Medium, NodeSpec, Sink, end_name};
use crate::port::PortStats;
use crate::router::Counters;

/// A node's totals.
#[derive(Debug, Clone)]
pub struct NodeReport {
    /// Its name.
    pub name: String,
    /// The node's own counters (a spread router's summed over its replicas).
    pub counters: Counters,
    /// Frames it sent on interfaces on no link (dropped).
    pub unlinked: u64,
    /// Frames still waiting in its receive queues when the engine stopped.
    pub queued: u64,
}

/// One end of a link's totals.
#[derive(Debug, Clone)]
pub struct EndReport {
    /// `node:iface`.
    pub name: String,
    /// What it counted (summed over a spread router's replicas).
    pub counters: EndCounters,
    /// Frames sent from it still on the link when the engine stopped.
    pub in_flight: u64,
    /// The impairment of frames leaving it, netem syntax.
    pub netem: Option<String>,
    /// Its impairment does more than a constant delay.
    pub impaired: bool,
}

/// A link's totals.
#[derive(Debug, Clone)]
pub struct LinkReport {
    /// Its ends, `a:eth0 — b:eth1`.
    pub name: String,
    /// What carried it: `wire` (in-worker hand-off), `ring` (between workers), `hub`,
    /// `file PATH`, `port`.
    pub medium: String,
    /// Its ends, in link order.
    pub ends: Vec<EndReport>,
}

impl LinkReport {
    /// Frames that entered the link (sent by its nodes, made by it, taken from media beyond)
    /// less frames that left it (handed to nodes or media, dropped, still in flight): zero
    /// when every frame is accounted for. Frames in a ring between two workers count as
    /// handed out by one end and not yet taken in by the other.
    pub fn imbalance(&self) -> i128 {
        let mut sum: i128 = 0;
        for e in &self.ends {
            let c = &e.counters;
            sum += i128::from(c.tx_frames) + i128::from(c.made) + i128::from(c.taken);
            sum -= i128::from(c.rx_frames) + i128::from(c.out) + i128::from(c.total_drops());
            sum -= i128::from(e.in_flight);
        }
        sum
    }

    /// Frames in flight in the link's rings between workers (handed out by one end, not yet
    /// taken in by the other).
    pub fn in_ring(&self) -> u64 {
        if self.medium != "ring" {
            return 0;
        }
        let out: u64 = self.ends.iter().map(|e| e.counters.out).sum();
        let taken: u64 = self.ends.iter().map(|e| e.counters.taken).sum();
        out.saturating_sub(taken)
    }
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
    /// Datagrams generated.
    pub generated: u64,
    /// Datagrams a router refused to originate.
    pub send_errors: u64,
    /// Every port: instance, interface, what it is bound to, and its totals.
    pub ports: Vec<PortReport>,
    /// Wall-clock time from start to stop.
    pub elapsed: std::time::Duration,
    /// The capture's totals (or why it failed), if the network had one.
    pub capture: Option<std::io::Result<CaptureTotals>>,
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
    pub fabrics: &'a [Fabric<WorkerEnv>],
    /// Worker and slot of each node, in network order (replicas last).
    pub placement: &'a [(usize, u32)],
    /// For each replica (network index past the originals), the node it copies.
    pub replica_of: &'a [usize],
    pub links: &'a [LinkSpec],
    /// `node:iface` of each link end, as described.
    pub end_names: &'a [Vec<String>],
}

/// Build the report.
pub(super) fn build(s: Stopped<'_>, elapsed: std::time::Duration) -> Report {
    let originals = s.placement.len() - s.replica_of.len();
    let mut nodes: Vec<NodeReport> = s.placement[..originals]
        .iter()
        .map(|&(w, l)| node_report(&s.fabrics[w], l))
        .collect();
    for (k, &of) in s.replica_of.iter().enumerate() {
        let (w, l) = s.placement[originals + k];
        let r = node_report(&s.fabrics[w], l);
        let n = &mut nodes[of];
        n.counters += &r.counters;
        n.unlinked += r.unlinked;
        n.queued += r.queued;
    }
    let mut links: Vec<LinkReport> = s
        .links
        .iter()
        .zip(s.end_names)
        .map(|(spec, names)| LinkReport {
            name: names.join(" — "),
            medium: String::new(),
            ends: names
                .iter()
                .zip(&spec.egress)
                .map(|(name, eg)| EndReport {
                    name: name.clone(),
                    counters: EndCounters::default(),
                    in_flight: 0,
                    netem: eg.netem.as_ref().map(ToString::to_string),
                    impaired: eg.netem.as_ref().is_some_and(|n| !n.is_constant_delay()),
                })
                .collect(),
        })
        .collect();
    let mut report = Report {
        nodes,
        links: Vec::new(),
        sink: Sink::default(),
        generated: 0,
        send_errors: 0,
        ports: Vec::new(),
        elapsed,
        capture: None,
    };
    for (worker, f) in s.fabrics.iter().enumerate() {
        for end in &f.ends {
            let Some(link) = links.get_mut(end.link.0 as usize) else {
                continue;
            };
            let spec = &s.links[end.link.0 as usize];
            // Which end of the link: a replica's end of a device is the link's one end.
            let k = spec
                .ends
                .iter()
                .position(|&(n, i)| {
                    let (w, l) = s.placement[n.0 as usize];
                    (w, l, i) == (worker, end.node, end.iface)
                })
                .unwrap_or(0);
            let r = &mut link.ends[k];
            r.counters += &end.counters;
            r.in_flight += end.line.len() as u64;
            link.medium = medium(spec, end.path).to_owned();
        }
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
            report.generated += slot.generators.iter().map(Generator::sent).sum::<u64>();
            report.send_errors += slot
                .generators
                .iter()
                .map(Generator::send_errors)
                .sum::<u64>();
            if let Some(sink) = &slot.sink {
                report.sink.merge(sink);
            }
        }
    }
    for (link, spec) in links.iter_mut().zip(s.links) {
        if link.medium.is_empty() {
            link.medium = medium(spec, crate::fabric::Path::Away).to_owned();
        }
    }
    report.links = links;
    report
}

fn node_report(f: &Fabric<WorkerEnv>, slot: u32) -> NodeReport {
    let s = &f.slots[slot as usize];
    NodeReport {
        name: s.name.clone(),
        counters: s
            .node
            .router()
            .map(|r| r.counters().clone())
            .unwrap_or_default(),
        unlinked: s.unlinked,
        queued: s.rx.iter().map(|q| q.len() as u64).sum(),
    }
}

/// What carried a link, as the report names it.
fn medium(spec: &LinkSpec, path: crate::fabric::Path) -> &'static str {
    use crate::fabric::Path;
    match (&spec.medium, path) {
        (Medium::Wire, Path::Hub(_)) => "hub",
        (Medium::Wire, Path::Exit(_)) => "ring",
        (Medium::Wire, _) => "wire",
        (Medium::File(_), _) => "file",
        (Medium::Port(_), _) => "port",
    }
}

/// `node:iface` names of every link end, from the description.
pub(super) fn end_names(nodes: &[NodeSpec], links: &[LinkSpec]) -> Vec<Vec<String>> {
    links
        .iter()
        .map(|l| l.ends.iter().map(|&e| end_name(nodes, e)).collect())
        .collect()
}
