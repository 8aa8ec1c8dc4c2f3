//! Generated switched topologies: a star (one switch, N hosts, a router to the outside) and a
//! two-tier leaf–spine fabric whose redundant links need spanning tree.
//!
//! Both number one LAN, 10.0.0.0 with the shortest prefix that holds every host and the
//! router (`.1`, the hosts' gateway), and put the outside — a host `ext` — behind the router
//! on 198.18.0.0/30 (RFC 2544's benchmarking block). The leaf–spine joins every leaf to every
//! spine, so it has loops as soon as it has two spines and two leaves: its switches run
//! spanning tree (`stp = true`), spines with the best bridge priority, and host ports are
//! edge ports.

use std::net::Ipv4Addr;

use toml::Spanned;

use super::doc::{Doc, IfaceDoc, LinkDoc, NodeDoc, OneOrMany, PortDoc, Routes, SwitchDoc};
use super::generate::Flood;
use super::{TopoError, Topology};
use crate::fabric::{NodeId, Pace};

/// Most hosts a generated LAN holds (a /16 less the router and the network's ends).
pub const MAX_HOSTS: usize = 65_000;

fn spanned<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

fn too_big(what: &str) -> TopoError {
    TopoError::Invalid {
        file: "<generated>".into(),
        line: 1,
        key: "generate".into(),
        message: what.into(),
    }
}

/// The LAN's prefix length for `n` addresses.
fn lan_len(n: usize) -> u8 {
    (1..=30u8)
        .rev()
        .find(|&l| (1usize << (32 - l)) - 2 >= n)
        .unwrap_or(16)
}

fn iface(name: &str, addr: Option<String>) -> IfaceDoc {
    IfaceDoc {
        name: spanned(name.into()),
        addr: spanned(OneOrMany(addr.into_iter().collect())),
        mtu: None,
        mac: None,
        link_file: None,
        attach: None,
        vde: None,
        group: None,
        netem: None,
    }
}

fn node(name: &str, ifaces: Vec<IfaceDoc>, gateway: Option<&str>) -> NodeDoc {
    NodeDoc {
        name: spanned(name.into()),
        core: None,
        workers: None,
        gateway: gateway.map(|g| spanned(g.into())),
        ttl: None,
        routes: None,
        tables: None,
        rules: Vec::new(),
        marks: Vec::new(),
        iface: OneOrMany(ifaces),
    }
}

fn port(name: String, edge: bool) -> PortDoc {
    PortDoc {
        name: spanned(name),
        mtu: None,
        pvid: None,
        vlans: None,
        untagged: None,
        attach: None,
        vde: None,
        netem: None,
        cost: None,
        port_priority: None,
        edge: edge.then_some(true),
    }
}

fn switch(name: &str, ports: Vec<PortDoc>, stp: Option<u32>) -> SwitchDoc {
    SwitchDoc {
        name: spanned(name.into()),
        core: None,
        hub: None,
        ageing_s: None,
        fdb_max: None,
        vlan_filtering: None,
        mirror: None,
        fdb: Vec::new(),
        stp: stp.map(|_| true),
        priority: stp.map(spanned),
        hello_time: None,
        max_age: None,
        forward_delay: None,
        iface: OneOrMany(ports),
    }
}

fn link(a: &str, b: &str) -> LinkDoc {
    LinkDoc {
        ends: vec![spanned(a.into()), spanned(b.into())],
        ..LinkDoc::default()
    }
}

/// The router `gw` (LAN side on `lan_end`) and the outside host `ext`, into `doc`.
fn outside(doc: &mut Doc, len: u8, lan_end: &str) {
    let gw = node(
        "gw",
        vec![
            iface("lan", Some(format!("10.0.0.1/{len}"))),
            iface("wan", Some("198.18.0.1/30".into())),
        ],
        None,
    );
    doc.routers.push(NodeDoc {
        routes: Some(spanned(Routes::Auto)),
        ..gw
    });
    let ext = node(
        "ext",
        vec![iface("eth0", Some("198.18.0.2/30".into()))],
        Some("198.18.0.1"),
    );
    doc.hosts.push(ext);
    doc.links.push(link("gw:lan", lan_end));
    doc.links.push(link("gw:wan", "ext:eth0"));
}

/// Host `k` (1-based) of the LAN, on `end`.
fn host(doc: &mut Doc, k: usize, len: u8, end: &str) {
    let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 1)) + k as u32);
    let h = node(
        &format!("h{k}"),
        vec![iface("eth0", Some(format!("{a}/{len}")))],
        Some("10.0.0.1"),
    );
    doc.hosts.push(h);
    doc.links.push(link(&format!("h{k}:eth0"), end));
}

/// One switch `sw`: port `up` to the router `gw`, ports `p1`…`pN` to hosts `h1`…`hN`.
pub fn star(hosts: usize) -> Result<Topology, TopoError> {
    Topology::from_doc(star_doc(hosts)?)
}

/// [`star`] as a document.
pub(super) fn star_doc(hosts: usize) -> Result<Doc, TopoError> {
    if hosts == 0 || hosts > MAX_HOSTS {
        return Err(too_big(&format!("{hosts} hosts: give 1 to {MAX_HOSTS}")));
    }
    let len = lan_len(hosts + 1);
    let mut doc = Doc::default();
    let mut ports = vec![port("up".into(), false)];
    ports.extend((1..=hosts).map(|k| port(format!("p{k}"), false)));
    doc.switches.push(switch("sw", ports, None));
    outside(&mut doc, len, "sw:up");
    for k in 1..=hosts {
        host(&mut doc, k, len, &format!("sw:p{k}"));
    }
    Ok(doc)
}

/// `spines` spine switches, `leaves` leaf switches each joined to every spine, `hosts` hosts
/// on each leaf, and the router `gw` on leaf 1. Every switch runs spanning tree.
pub fn leafspine(leaves: usize, spines: usize, hosts: usize) -> Result<Topology, TopoError> {
    Topology::from_doc(leafspine_doc(leaves, spines, hosts)?)
}

/// [`leafspine`] as a document.
pub(super) fn leafspine_doc(leaves: usize, spines: usize, hosts: usize) -> Result<Doc, TopoError> {
    let total = leaves.saturating_mul(hosts);
    if leaves == 0 || spines == 0 || total > MAX_HOSTS || leaves + spines > 4096 {
        return Err(too_big(&format!(
            "{leaves} leaves, {spines} spines, {hosts} hosts each: give at least one of each \
             switch, at most 4096 switches and {MAX_HOSTS} hosts"
        )));
    }
    let len = lan_len(total + 1);
    let mut doc = Doc::default();
    for s in 1..=spines {
        let ports = (1..=leaves).map(|l| port(format!("l{l}"), false)).collect();
        doc.switches
            .push(switch(&format!("spine{s}"), ports, Some(4096)));
    }
    for l in 1..=leaves {
        let mut ports: Vec<_> = (1..=spines).map(|s| port(format!("s{s}"), false)).collect();
        ports.extend((1..=hosts).map(|k| port(format!("p{k}"), true)));
        if l == 1 {
            ports.push(port("gw".into(), true));
        }
        doc.switches
            .push(switch(&format!("leaf{l}"), ports, Some(32768)));
        for s in 1..=spines {
            doc.links
                .push(link(&format!("leaf{l}:s{s}"), &format!("spine{s}:l{l}")));
        }
    }
    outside(&mut doc, len, "leaf1:gw");
    for l in 1..=leaves {
        for k in 1..=hosts {
            host(&mut doc, (l - 1) * hosts + k, len, &format!("leaf{l}:p{k}"));
        }
    }
    Ok(doc)
}

/// `switches` switches in a line (ports `a` towards `h1`, `b` towards `h2`) between hosts `h1`
/// (10.0.0.1/24) and `h2` (10.0.0.2/24), links without delay, a flow of `frame_len`-byte UDP
/// datagrams from `h1` to `h2` at `pace`, sunk at `h2`: the chain bench's switch rows.
pub fn chain_flood(switches: usize, frame_len: usize, pace: Pace) -> Result<Flood, TopoError> {
    if switches == 0 || switches > 4096 {
        return Err(too_big(&format!("{switches} switches: give 1 to 4096")));
    }
    let mut doc = Doc::default();
    for (k, a) in [(1, "10.0.0.1/24"), (2, "10.0.0.2/24")] {
        doc.hosts.push(node(
            &format!("h{k}"),
            vec![iface("eth0", Some(a.into()))],
            None,
        ));
    }
    let mut prev = "h1:eth0".to_owned();
    for k in 1..=switches {
        let ports = vec![port("a".into(), false), port("b".into(), false)];
        doc.switches.push(switch(&format!("s{k}"), ports, None));
        doc.links.push(link(&prev, &format!("s{k}:a")));
        prev = format!("s{k}:b");
    }
    doc.links.push(link(&prev, "h2:eth0"));
    let t = Topology::from_doc(doc)?;
    // No routers: the hosts are the first nodes of the model, h1 then h2.
    let h2_addr = Ipv4Addr::new(10, 0, 0, 2);
    Flood::of(&t, NodeId(0), NodeId(1), h2_addr, frame_len, pace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::PingReply;

    #[test]
    fn star_pings_out_and_round_trips() {
        let t = star(5).unwrap();
        let mut sim = t.build_sim().unwrap();
        let h = sim.node("h5").unwrap();
        let opts = crate::router::SendOptions::default();
        let got = sim.ping(
            h,
            Ipv4Addr::new(198, 18, 0, 2),
            1,
            56,
            opts,
            core::time::Duration::from_secs(2),
        );
        assert!(
            matches!(got, Ok(PingReply::Echo { ttl: 63, .. })),
            "{got:?}"
        );
        let again = Topology::parse("star.toml", &t.to_toml().unwrap()).unwrap();
        assert_eq!(again.nodes, t.nodes);
        assert!(star(0).is_err());
    }

    #[test]
    fn leafspine_has_every_redundant_link_and_runs_stp() {
        let t = leafspine(4, 2, 3).unwrap();
        assert_eq!(t.nodes.len(), 6 + 2 + 12);
        assert_eq!(t.links.len(), 8 + 2 + 12);
        let sw = t.nodes.iter().filter_map(|n| n.switch.as_deref());
        assert!(sw.clone().all(|c| c.stp.enabled));
        assert_eq!(sw.filter(|c| c.stp.priority == 4096).count(), 2);
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }
}
