//! Switches in the simulator: learning and flooding across a switched LAN, VLAN isolation,
//! a router on a stick between VLANs, and topology errors about switches and VLANs.

use core::time::Duration;
use std::net::Ipv4Addr;

use shoal::router::{DropReason, SendOptions};
use shoal::sim::{NodeId, PingReply, Sim};
use shoal::topo::Topology;

const CAMPUS: &str = include_str!("../examples/campus.toml");

fn ping(sim: &mut Sim, from: &str, to: Ipv4Addr) -> PingReply {
    let from = sim.node(from).unwrap();
    sim.ping(
        from,
        to,
        1,
        56,
        SendOptions::default(),
        Duration::from_secs(2),
    )
    .unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// The index of switch `sw`'s port `name`.
fn port_index(sim: &Sim, sw: NodeId, name: &str) -> u16 {
    let s = sim.switch(sw);
    (0..s.port_count() as u16)
        .find(|&i| s.port_name(shoal::router::IfaceId(i)) == Some(name))
        .unwrap()
}

/// The campus's hosts reach each other across the trunks in both VLANs (`how` names the case).
fn campus_hosts_ping_across(sim: &mut Sim, how: &str) {
    for (from, to) in [("h10a", "10.0.10.12"), ("h20b", "10.0.20.11")] {
        assert!(
            matches!(ping(sim, from, ip(to)), PingReply::Echo { .. }),
            "{from} -> {to}{how}"
        );
    }
}

#[test]
fn campus_hosts_reach_each_other_across_vlans_and_the_server() {
    let t = Topology::parse("campus.toml", CAMPUS).unwrap();
    let mut sim = t.build_sim().unwrap();
    for (from, to, ttl) in [
        ("h10a", "10.0.10.12", 64),
        ("h10a", "10.0.20.12", 63),
        ("h20b", "10.0.10.11", 63),
        ("h10b", "192.0.2.10", 62),
    ] {
        match ping(&mut sim, from, ip(to)) {
            PingReply::Echo { ttl: got, .. } => assert_eq!(got, ttl, "{from} -> {to}"),
            other => panic!("{from} -> {to}: {other:?}"),
        }
    }
    let h = sim.node("h10a").unwrap();
    let hops = sim
        .traceroute(h, ip("192.0.2.10"), 10, Duration::from_secs(2))
        .unwrap();
    let from: Vec<_> = hops.iter().map(|h| h.from.unwrap()).collect();
    assert_eq!(from, [ip("10.0.10.1"), ip("10.0.0.2"), ip("192.0.2.10")]);
    let sw1 = sim.switch(sim.node("sw1").unwrap());
    let c = sw1.counters();
    assert!(c.forwarded > 0 && c.flooded > 0 && c.learned >= 4, "{c:?}");
    assert_eq!(c.rx_frames, c.forwarded + c.flooded + c.total_drops());
}

#[test]
fn vlans_isolate_hosts_with_no_router_between() {
    // h10a and h20a share a /16 but sit in different VLANs: ARP never crosses.
    let text = r#"
[[switch]]
name = "sw"
iface = [{ name = "p1", pvid = 10 }, { name = "p2", pvid = 20 }, { name = "p3", pvid = 10 }]
[[host]]
name = "a"
iface = { name = "eth0", addr = "10.1.0.1/16" }
[[host]]
name = "b"
iface = { name = "eth0", addr = "10.1.0.2/16" }
[[host]]
name = "c"
iface = { name = "eth0", addr = "10.2.0.3/16" }
[[link]]
ends = ["a:eth0", "sw:p1"]
[[link]]
ends = ["b:eth0", "sw:p2"]
[[link]]
ends = ["c:eth0", "sw:p3"]
"#;
    // b is alone in VLAN 20; a and c share VLAN 10 but not a subnet: refused.
    let e = Topology::parse("v.toml", text).unwrap_err().to_string();
    assert!(
        e.contains("share no subnet (one segment through switches)"),
        "{e}"
    );
    // One subnet in two VLANs is two segments with one subnet: refused.
    let text = text.replace("10.2.0.3/16", "10.1.0.3/16");
    let e = Topology::parse("v.toml", &text).unwrap_err().to_string();
    assert!(e.contains("overlaps 10.1.0.0/16 of another link"), "{e}");
    let text = text.replace("10.1.0.2/16", "10.2.0.2/16");
    let t = Topology::parse("v.toml", &text).unwrap();
    let mut sim = t.build_sim().unwrap();
    for _ in 0..3 {
        assert!(matches!(
            ping(&mut sim, "a", ip("10.1.0.3")),
            PingReply::Echo { .. }
        ));
    }
    let sw = sim.switch(NodeId(t.node_index("sw").unwrap() as u32));
    // a's ARP broadcast floods to p3 only: nothing of VLAN 10 leaves p2.
    assert_eq!(sw.port_counters()[1].tx_frames, 0);
    assert_eq!(sw.counters().dropped(DropReason::VlanFiltered), 0);
}

#[test]
fn topology_errors_name_switch_keys() {
    let bad = |from: &str, to: &str| {
        assert!(CAMPUS.contains(from), "{from}");
        match Topology::parse("campus.toml", &CAMPUS.replacen(from, to, 1)) {
            Ok(_) => panic!("{to:?} was accepted"),
            Err(e) => e.to_string(),
        }
    };
    let e = bad(
        r#"{ name = "p8", pvid = 0, vlans = "10,20", edge = true }"#,
        r#"{ name = "p8", pvid = 0, vlans = "10", edge = true }"#,
    );
    assert!(
        e.contains("gw:eth0.20 is in VLAN 20, tagged, but sw1:p8 does not carry it"),
        "{e}"
    );
    assert!(e.starts_with("campus.toml:"), "{e}");
    let e = bad(
        r#"vlans = "10,20", edge = true },
    { name = "p9""#,
        r#"vlans = "10,5000", edge = true },
    { name = "p9""#,
    );
    assert!(
        e.contains("switch.iface.vlans") && e.contains("4094"),
        "{e}"
    );
    let e = bad(
        r#"{ name = "p1", pvid = 10, edge = true },"#,
        r#"{ name = "p1", pvid = 10, edge = true, mtu = 9000 },"#,
    );
    assert!(
        e.contains("switch.iface.mtu: 9000 is outside 68..=1778"),
        "{e}"
    );
    let e = bad(r#"{ name = "eth0" },"#, r#"{ name = "eth1" },"#);
    assert!(e.contains("no interface \"eth0\" comes before it"), "{e}");
    let e = bad(
        r#"ends = ["gw:eth0", "sw1:p8"]"#,
        r#"ends = ["gw:eth0.10", "sw1:p8"]"#,
    );
    assert!(
        e.contains("is a VLAN sub-interface: put its parent eth0 on the link"),
        "{e}"
    );
    let e = bad("10.0.20.12/24", "10.0.10.11/24");
    assert!(e.contains("already used"), "{e}");
    let e = bad(
        "priority = 4096
",
        "priority = 4096
forward_delay = 4
",
    );
    assert!(
        e.contains("switch.forward_delay: max age 20 s must lie between"),
        "{e}"
    );
    assert!(e.starts_with("campus.toml:26:"), "{e}");
    let e = bad(
        "priority = 4096
",
        "priority = 4096
hello_time = 0
",
    );
    assert!(e.contains("hello time 0 s is outside 1..=10"), "{e}");
    let fast = "priority = 4096
hello_time = 1
max_age = 6
forward_delay = 4
";
    let t = Topology::parse(
        "campus.toml",
        &CAMPUS.replacen(
            "priority = 4096
",
            fast,
            1,
        ),
    );
    let sw1 = t
        .unwrap()
        .nodes
        .into_iter()
        .find(|n| n.name == "sw1")
        .unwrap();
    let timers = sw1.switch.unwrap().stp.timers;
    assert_eq!(timers.forward_delay, Duration::from_secs(4));
    assert_eq!(timers.hello, Duration::from_secs(1));
}

#[test]
fn switch_keys_build_a_mirror_static_entries_and_a_hub() {
    let text = r#"
[[switch]]
name = "sw"
ageing_s = 60
fdb_max = 100
fdb = [{ mac = "02:00:00:00:00:09", port = "p2", vlan = 1 }]
mirror = { from = ["p1"], to = "p3", dir = "rx" }
iface = [{ name = "p1" }, { name = "p2", mtu = 1778 }, { name = "p3" }]
[[switch]]
name = "hub"
hub = true
iface = [{ name = "a" }, { name = "b" }]
[[host]]
name = "a"
iface = { name = "eth0", addr = "10.1.0.1/24" }
[[host]]
name = "b"
iface = { name = "eth0", addr = "10.1.0.2/24" }
[[host]]
name = "tap"
iface = { name = "eth0", addr = "10.1.0.3/24" }
[[link]]
ends = ["a:eth0", "sw:p1"]
[[link]]
ends = ["sw:p2", "hub:a"]
[[link]]
ends = ["hub:b", "b:eth0"]
[[link]]
ends = ["sw:p3", "tap:eth0"]
"#;
    let t = Topology::parse("keys.toml", text).unwrap();
    let c = t.nodes[t.node_index("sw").unwrap()]
        .switch
        .as_deref()
        .unwrap();
    assert_eq!(c.ageing, Duration::from_secs(60));
    assert_eq!((c.fdb_max, c.fdb.len(), c.ports[1].mtu), (100, 1, 1778));
    let mut sim = t.build_sim().unwrap();
    assert!(matches!(
        ping(&mut sim, "a", ip("10.1.0.2")),
        PingReply::Echo { .. }
    ));
    let sw = sim.switch(sim.node("sw").unwrap());
    // Everything a sent (ARP request, echo request) was copied to p3; nothing p2 received was.
    assert_eq!(sw.counters().mirrored, sw.port_counters()[0].rx_frames);
    assert!(sw.counters().mirrored >= 2);
    assert_eq!(
        sw.fdb().len(),
        3,
        "the static entry and a's and b's addresses"
    );
    let hub = sim.switch(sim.node("hub").unwrap());
    assert!(hub.fdb().is_empty() && hub.counters().flooded > 0);
    let e = Topology::parse("keys.toml", &text.replace(r#"to = "p3""#, r#"to = "p1""#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("switch.mirror: p1 cannot mirror to itself"),
        "{e}"
    );
    let e = Topology::parse("keys.toml", &text.replace("fdb_max = 100", "fdb_max = 0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("keys.toml:5: switch.fdb_max"), "{e}");
}

/// Spanning tree on the campus's two trunks: sw1 (priority 4096) is the root, sw2's second
/// trunk p7 is its alternate and discards, the other ports forward, hosts still reach each
/// other, and nothing storms: over ten seconds the switches see only BPDUs and the pings.
#[test]
fn spanning_tree_blocks_the_campus_redundant_trunk() {
    let t = Topology::parse("campus.toml", CAMPUS).unwrap();
    let mut sim = t.build_sim().unwrap();
    sim.run_for(Duration::from_secs(5));
    let (sw1, sw2) = (sim.node("sw1").unwrap(), sim.node("sw2").unwrap());
    let port = |sim: &Sim, sw: NodeId, name: &str| {
        sim.switch(sw)
            .port_state(port_index(sim, sw, name))
            .unwrap()
    };
    use shoal::switch::PortState::{Discarding, Forwarding};
    assert_eq!(port(&sim, sw2, "p7"), Discarding);
    for (sw, p) in [
        (sw1, "p7"),
        (sw1, "p9"),
        (sw2, "p9"),
        (sw2, "p1"),
        (sw1, "p8"),
    ] {
        assert_eq!(port(&sim, sw, p), Forwarding, "{p}");
    }
    let status = sim.switch(sw2).stp().unwrap().status().to_string();
    assert!(status.contains("root 1000."), "{status}");
    campus_hosts_ping_across(&mut sim, "");
    sim.run_for(Duration::from_secs(10));
    for sw in [sw1, sw2] {
        let c = sim.switch(sw).counters();
        assert!(c.rx_frames < 200, "a storm: {c:?}");
        assert!(c.dropped(DropReason::Bpdu) > 5, "{c:?}");
    }
}

/// Taking the campus's forwarding trunk down is a carrier loss both switches see at once:
/// RSTP makes the blocked trunk sw2's root port without waiting for anything to age out, sw2
/// forgets what it learned on the dead port, and pings cross the other trunk within
/// milliseconds of virtual time. Bringing it back blocks p7 again.
#[test]
fn a_trunk_taken_down_fails_over_to_the_blocked_one_at_once() {
    let t = Topology::parse("campus.toml", CAMPUS).unwrap();
    let mut sim = t.build_sim().unwrap();
    sim.run_for(Duration::from_secs(5));
    assert!(matches!(
        ping(&mut sim, "h10a", ip("10.0.10.12")),
        PingReply::Echo { .. }
    ));
    let (sw1, sw2) = (sim.node("sw1").unwrap(), sim.node("sw2").unwrap());
    let (p9, p7) = (port_index(&sim, sw1, "p9"), port_index(&sim, sw2, "p7"));
    let learned_on = |sim: &Sim, sw: NodeId, p: u16| {
        let fdb = sim.switch(sw).fdb();
        fdb.entries().iter().filter(|(_, _, e)| e.port == p).count()
    };
    let sw2_p9 = port_index(&sim, sw2, "p9");
    assert!(learned_on(&sim, sw2, sw2_p9) > 0);
    use shoal::switch::PortState::{Discarding, Forwarding};
    assert!(sim.set_link_up((sw1, shoal::router::IfaceId(p9)), false));
    assert_eq!(learned_on(&sim, sw2, sw2_p9), 0, "flushed with the carrier");
    sim.run_for(Duration::from_millis(50));
    assert_eq!(sim.switch(sw2).port_state(p7), Some(Forwarding));
    let status = sim.switch(sw2).stp().unwrap().status().to_string();
    assert!(status.contains("root 1000."), "{status}");
    campus_hosts_ping_across(&mut sim, " over p7");
    assert!(sim.set_link_up((sw1, shoal::router::IfaceId(p9)), true));
    sim.run_for(Duration::from_millis(50));
    assert_eq!(sim.switch(sw2).port_state(p7), Some(Discarding));
    let stp = |sw| sim.switch(sw).stp().unwrap().status().to_string();
    assert_eq!(
        sim.switch(sw1).port_state(p9),
        Some(Forwarding),
        "{}\n{}",
        stp(sw1),
        stp(sw2)
    );
    assert!(matches!(
        ping(&mut sim, "h10a", ip("10.0.10.12")),
        PingReply::Echo { .. }
    ));
}

/// A generated leaf-spine (every leaf on every spine: loops) converges and carries pings.
#[test]
fn a_leaf_spine_converges_and_carries_pings() {
    let t = shoal::topo::switched::leafspine(3, 2, 2).unwrap();
    let mut sim = t.build_sim().unwrap();
    sim.run_for(Duration::from_secs(5));
    let hosts: Vec<_> = t.hosts().collect();
    let far = t.first_addr(*hosts.last().unwrap()).unwrap();
    let from = t.nodes[hosts[0]].name.clone();
    assert!(matches!(ping(&mut sim, &from, far), PingReply::Echo { .. }));
    let blocked: usize = (0..t.nodes.len())
        .filter(|&n| t.nodes[n].kind == shoal::topo::Kind::Switch)
        .map(|n| {
            let s = sim.switch(NodeId(n as u32));
            (0..s.port_count() as u16)
                .filter(|&p| s.port_state(p) == Some(shoal::switch::PortState::Discarding))
                .count()
        })
        .sum();
    // Three leaves on two spines: six links among five switches, so two are blocked.
    assert_eq!(blocked, 2);
}

/// The same on the engine: no storm, and the flow balances although switches flood copies
/// of its datagrams (copies are counted with the flow, so every one ends somewhere).
#[test]
fn a_leaf_spine_runs_on_the_engine_and_its_flow_balances() {
    let dir = std::env::temp_dir().join(format!("shoal-leafspine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ls.toml");
    let shoal = env!("CARGO_BIN_EXE_shoal");
    let made = std::process::Command::new(shoal)
        .args(["gen", "leafspine", "2", "2", "1", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(made.status.success());
    let run = std::process::Command::new(shoal)
        .arg("run")
        .arg(&file)
        .args(["--flow", "h1:h2:500", "--seconds", "3", "--ctl"])
        .arg(dir.join("ctl.sock"))
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(run.status.success(), "{err}");
    assert!(!err.contains("BUG") && !out.contains("BUG"), "{out}{err}");
    let flows = out.lines().find(|l| l.starts_with("flows: sent")).unwrap();
    let received: u64 = flows
        .split(", received ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(received > 500, "{out}");
    assert!(out.contains("bpdu"), "{out}");
}
