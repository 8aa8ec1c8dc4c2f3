//! What links counted, as reports show it: each link by end, with its drops by reason, what
//! was still in flight, its impairment — and the check that every frame is accounted for.
//! Both drivers build these from their fabrics' link ends; the engine adds up the ends of a
//! link split between workers (and a spread router's replicas of one end) by link id and end.

use super::end::{End, EndCounters, Path};
use super::runtime::{Env, Fabric};
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
}

/// A link's totals.
#[derive(Debug, Clone, Default)]
pub struct LinkReport {
    /// Its ends, `a:eth0 — b:eth1`.
    pub name: String,
    /// What carried it: `wire` (a hand-off inside one worker or the simulator), `ring`
    /// (between workers), `hub`, `file` (to another process), `port` (a host device), or
    /// `none` (a device or link file the simulator does not run).
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
        for end in &self.ends {
            let l = end.link.0 as usize;
            if links.len() <= l {
                links.resize_with(l + 1, LinkReport::default);
            }
            let link = &mut links[l];
            let k = end.index as usize;
            if link.ends.len() <= k {
                link.ends.resize_with(k + 1, EndReport::default);
            }
            let r = &mut link.ends[k];
            if r.name.is_empty() {
                r.name = self.end_name(end);
                r.netem = end.shaper.as_ref().map(|s| describe(s.spec()));
                r.impaired = end
                    .shaper
                    .as_ref()
                    .is_some_and(|s| !s.spec().is_constant_delay());
            }
            r.counters += &end.counters;
            r.in_flight += end.line.len() as u64;
            if link.medium.is_empty() || link.medium == "wire" {
                link.medium = self.medium(end).to_owned();
            }
            link.name = link
                .ends
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(" — ");
        }
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
