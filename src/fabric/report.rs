//! What links and flows counted, as reports show it: each link by end, with its drops by
//! reason, what was still in flight, its impairment; each flow with what its host made, sent
//! and what became of it — and the checks that every frame is accounted for. Both drivers
//! build these from their fabrics; the engine adds up what several workers hold (a link split
//! between workers, a spread router's replicas of one end, a flow and its sink) by id.

use super::account::{Cause, Spot};
use super::end::{End, EndCounters, Path};
use super::flow::flow_of;
use super::runtime::{Env, Fabric};
use super::sink::FlowTally;
use crate::shape::Netem;

/// One end of a link's totals.
#[derive(Debug, Clone, Default)]
pub struct EndReport {
    /// `node:iface`.
    pub name: String,
    /// What it counted.
    pub counters: EndCounters,
    /// Frames sent from it still on the link (not yet due) when counted.
    pub in_flight: u64,
    /// The impairment of frames leaving it, netem syntax.
    pub netem: Option<String>,
    /// Its impairment does more than a constant delay.
    pub impaired: bool,
    /// The link is up at this end.
    pub up: bool,
}

/// A link's totals.
#[derive(Debug, Clone, Default)]
pub struct LinkReport {
    /// What carried it: `wire` (a hand-off inside one worker or the simulator), `ring`
    /// (between workers), `hub`, `file` (to another process), `port` (a host device), or
    /// `none` (a device or link file the simulator does not run).
    pub medium: &'static str,
    /// Its ends, in link order.
    pub ends: Vec<EndReport>,
}

impl LinkReport {
    /// Its ends' names, `a:eth0 — b:eth1` (made when asked: a report of half a million links
    /// does not keep a second copy of every end's name).
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.ends.iter().map(|e| e.name.as_str()).collect();
        names.join(" — ")
    }

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

    /// Frames in the link's rings between workers: handed out by one end, not yet taken in
    /// by the other.
    pub fn in_ring(&self) -> u64 {
        if self.medium != "ring" {
            return 0;
        }
        let out: u64 = self.ends.iter().map(|e| e.counters.out).sum();
        let taken: u64 = self.ends.iter().map(|e| e.counters.taken).sum();
        out.saturating_sub(taken)
    }
}

/// An impairment as reports show it: netem syntax, a plain constant delay as just that.
fn describe(spec: &Netem) -> String {
    if spec.is_constant_delay() {
        let d = spec.base_delay();
        match d.as_nanos() {
            n if n % 1_000_000 == 0 => format!("delay {}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("delay {}us", n / 1_000),
            n => format!("delay {n}ns"),
        }
    } else {
        spec.to_string()
    }
}

impl<E: Env> Fabric<E> {
    /// Add what this fabric's link ends counted into `links`, indexed by link id (grown as
    /// needed).
    pub fn report_links(&self, links: &mut Vec<LinkReport>) {
        // Every row sized once, before it is filled: a report of half a million links grown
        // end by end would leave as much again in the allocator's holes.
        let Some(last) = self.ends.iter().map(|e| e.link.0 as usize).max() else {
            return;
        };
        if links.len() <= last {
            links.resize_with(last + 1, LinkReport::default);
        }
        for end in &self.ends {
            let ends = &mut links[end.link.0 as usize].ends;
            ends.reserve_exact((end.index as usize + 1).saturating_sub(ends.len()));
        }
        for end in &self.ends {
            let link = &mut links[end.link.0 as usize];
            let k = end.index as usize;
            if link.ends.len() <= k {
                link.ends.resize_with(k + 1, EndReport::default);
            }
            let r = &mut link.ends[k];
            if r.name.is_empty() {
                r.name = self.end_name(end);
                r.netem = end.shaper.as_ref().map(|s| describe(&s.spec()));
                r.impaired = end
                    .shaper
                    .as_ref()
                    .is_some_and(|s| !s.spec().is_constant_delay());
                r.up = end.up;
            }
            r.counters += &end.counters;
            r.in_flight += end.line.len() as u64;
            if link.medium.is_empty() || link.medium == "wire" {
                link.medium = self.medium(end);
            }
        }
    }

    /// Free the link ends of a fabric that has stopped and been reported: what they held is
    /// in the report now, and a report of half a million links is made beside them.
    pub fn release_ends(&mut self) {
        self.ends = Vec::new();
    }

    fn end_name(&self, end: &End) -> String {
        let slot = &self.slots[end.node as usize];
        match slot.node.iface_name(end.iface) {
            Some(i) => format!("{}:{i}", slot.name),
            None => format!("{}:#{}", slot.name, end.iface.0),
        }
    }

    fn medium(&self, end: &End) -> &'static str {
        match end.path {
            Path::Peer { .. } => "wire",
            Path::Hub(_) => "hub",
            Path::Exit(x) => self.exits[x as usize].kind,
            Path::Away => "none",
        }
    }
}

/// What became of a flow's datagrams.
#[derive(Debug, Clone)]
pub struct FlowReport {
    /// The flow's id (in its stamps).
    pub id: u16,
    /// The sending host.
    pub from: String,
    /// Where it sends.
    pub to: std::net::Ipv4Addr,
    /// Datagrams made: handed to the host's router, or refused by it.
    pub made: u64,
    /// Datagrams the host's router refused to originate, and why the last one was.
    pub refused: u64,
    pub refusal: Option<String>,
    /// Datagrams the host put on its link.
    pub sent: u64,
    /// What this run's sinks received of it (nothing when its destination is elsewhere,
    /// across a link file or a device).
    pub arrived: FlowTally,
    /// Datagrams that ended on the way, by place (`node` or `node:iface`) and cause.
    pub dropped: Vec<(String, Cause, u64)>,
    /// Datagrams still on the way when counted: on links, in receive queues, waiting for a
    /// next hop.
    pub in_flight: u64,
    /// Copies made on the way (switches flooding or mirroring, hubs, netem's `duplicate`):
    /// each ends as a datagram does, received, dropped or in flight.
    pub copies: u64,
}

impl FlowReport {
    fn new(id: u16) -> FlowReport {
        FlowReport {
            id,
            from: String::new(),
            to: std::net::Ipv4Addr::UNSPECIFIED,
            made: 0,
            refused: 0,
            refusal: None,
            sent: 0,
            arrived: FlowTally::default(),
            dropped: Vec::new(),
            in_flight: 0,
            copies: 0,
        }
    }

    /// Datagrams dropped, every place and cause.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().map(|d| d.2).sum()
    }

    /// Datagrams made and not refused, and copies made of them, less those received,
    /// dropped or in flight: zero when every datagram is accounted for (meaningful when the
    /// flow's sink is in this run).
    pub fn imbalance(&self) -> i128 {
        i128::from(self.made) - i128::from(self.refused) + i128::from(self.copies)
            - i128::from(self.arrived.received)
            - i128::from(self.total_dropped())
            - i128::from(self.in_flight)
    }
}

impl<E: Env> Fabric<E> {
    /// Add what this fabric knows of every flow into `flows` (by flow id, grown as needed):
    /// the generators of its hosts, its sinks' tallies, the frames it dropped and those still
    /// in it.
    pub fn report_flows(&self, flows: &mut Vec<FlowReport>) {
        fn at(flows: &mut Vec<FlowReport>, id: u16) -> &mut FlowReport {
            let i = usize::from(id);
            while flows.len() <= i {
                flows.push(FlowReport::new(flows.len() as u16));
            }
            &mut flows[i]
        }
        for &h in &self.hosts {
            let slot = &self.slots[h as usize];
            for g in &slot.generators {
                let f = at(flows, g.id());
                f.from.clone_from(&slot.name);
                f.to = g.spec().dst;
                f.made += g.made();
                f.sent += g.sent();
                let (refused, why) = g.refused();
                f.refused += refused;
                if let Some(why) = why {
                    f.refusal = Some(why.to_string());
                }
            }
            if let Some(sink) = &slot.sink {
                for (id, tally) in sink.flows() {
                    at(flows, id).arrived.merge(tally);
                }
            }
        }
        for id in self.book.copied_flows() {
            at(flows, id).copies += self.book.copies(id);
        }
        for (id, spot, cause, n) in self.book.entries() {
            let place = match spot {
                Spot::Node(s) => self.slots[s as usize].name.clone(),
                Spot::End(e) => self.end_name(&self.ends[e as usize]),
            };
            let f = at(flows, id);
            match f.dropped.iter_mut().find(|d| d.0 == place && d.1 == cause) {
                Some(d) => d.2 += n,
                None => f.dropped.push((place, cause, n)),
            }
        }
        let lines = self.ends.iter().flat_map(|e| e.line.frames());
        let queued = self.slots.iter().flat_map(|s| s.rx.iter().flatten());
        let staged = self.exits.iter().flat_map(|x| &x.staged);
        let held = self
            .slots
            .iter()
            .filter_map(|s| s.node.router())
            .flat_map(|r| r.neighbours().held());
        for frame in lines.chain(queued).chain(staged).chain(held) {
            if let Some((id, _)) = flow_of(self.pool.data(frame)) {
                at(flows, id).in_flight += 1;
            }
        }
    }
}
