//! Topology files: every validation error class names file, line and key; generators round-trip
//! through TOML; generated and hand-written topologies work in the simulator.

use core::time::Duration;
use std::net::Ipv4Addr;

use shoal::port::Mode;
use shoal::router::SendOptions;
use shoal::sim::{NodeId, PingReply, Sim};
use shoal::topo::{Topology, generate};

const GOOD: &str = r#"
[settings]
routes = "auto"

[[router]]
name = "r1"
core = 0
[[router.iface]]
name = "eth0"
addr = "10.0.1.1/24"
[[router.iface]]
name = "eth1"
addr = ["10.0.12.1/30"]
mtu = 1400
mac = "02:aa:00:00:00:01"

[[router]]
name = "r2"
routes = ["10.0.1.0/24 via 10.0.12.1", "default via 10.0.12.1 dev eth1"]
[[router.iface]]
name = "eth1"
addr = "10.0.12.2/30"
[[router.iface]]
name = "eth0"
addr = "10.0.2.1/24"

[[host]]
name = "h1"
iface = { name = "eth0", addr = "10.0.1.2/24" }
gateway = "10.0.1.1"

[[host]]
name = "h2"
iface = { name = "eth0", addr = "10.0.2.2/24" }
gateway = "10.0.2.1"

[[link]]
ends = ["r1:eth0", "h1:eth0"]
delay_us = 50

[[link]]
ends = ["r1:eth1", "r2:eth1"]

[[link]]
ends = ["r2:eth0", "h2:eth0"]
"#;

/// The error text for `GOOD` with `from` replaced by `to`.
fn error_after(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    let text = GOOD.replacen(from, to, 1);
    match Topology::parse("t.toml", &text) {
        Ok(_) => panic!("{to:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

fn ping(sim: &mut Sim, from: NodeId, to: Ipv4Addr) -> PingReply {
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

/// Every host pings every other host.
fn all_hosts_ping(t: &Topology) {
    let mut sim = t.build_sim().unwrap();
    let hosts: Vec<usize> = t.hosts().collect();
    assert!(hosts.len() >= 2);
    for &a in &hosts {
        for &b in &hosts {
            if a != b {
                let dst = t.first_addr(b).unwrap();
                let got = ping(&mut sim, NodeId(a as u32), dst);
                assert!(
                    matches!(got, PingReply::Echo { .. }),
                    "{} -> {}: {got:?}",
                    t.nodes[a].name,
                    t.nodes[b].name
                );
            }
        }
    }
}

#[test]
fn good_file_parses_and_pings() {
    let t = Topology::parse("t.toml", GOOD).unwrap();
    assert_eq!(t.nodes.len(), 4);
    assert!(t.warnings.is_empty());
    let r1 = &t.nodes[0];
    assert!(r1.auto_routes);
    assert_eq!(r1.core, Some(0));
    assert_eq!(r1.ifaces[1].mtu, 1400);
    assert_eq!(t.route_lines(0), ["10.0.2.0/24 via 10.0.12.2 dev eth1"]);
    assert_eq!(
        t.route_lines(1),
        [
            "10.0.1.0/24 via 10.0.12.1",
            "default via 10.0.12.1 dev eth1"
        ]
    );
    assert!(!t.nodes[1].auto_routes);
    assert_eq!(t.links[0].delay, Duration::from_micros(50));
    assert_eq!(
        t.links[1].delay,
        Duration::ZERO,
        "a link given no delay is perfect"
    );
    all_hosts_ping(&t);
}

#[test]
fn syntax_error_names_line() {
    let e = error_after("delay_us = 50", "delay_us = 50 50");
    assert!(e.starts_with("t.toml:39: "), "{e}");
}

#[test]
fn unknown_key() {
    let e = error_after("mtu = 1400", "mtu = 1400\ncolour = \"red\"");
    assert!(e.starts_with("t.toml:15:"), "{e}");
    assert!(e.contains("unknown field `colour`"), "{e}");
}

#[test]
fn duplicate_node_name() {
    let e = error_after("name = \"r2\"", "name = \"r1\"");
    assert!(
        e.starts_with("t.toml:18: router.name: duplicate node name \"r1\" (first at line 6)"),
        "{e}"
    );
}

#[test]
fn duplicate_iface_name() {
    let e = error_after("name = \"eth1\"\naddr = [", "name = \"eth0\"\naddr = [");
    assert_eq!(
        e,
        "t.toml:12: router.iface.name: duplicate interface \"eth0\" in r1"
    );
}

#[test]
fn iface_on_two_links() {
    let e = error_after(
        "ends = [\"r2:eth0\", \"h2:eth0\"]",
        "ends = [\"r1:eth0\", \"h2:eth0\"]",
    );
    assert!(
        e.starts_with("t.toml:45: link.ends: r1:eth0 is already on the link at line 38"),
        "{e}"
    );
}

#[test]
fn iface_on_no_link_warns() {
    let text = GOOD.replace(
        "mtu = 1400",
        "mtu = 1400\n[[router.iface]]\nname = \"stub\"\naddr = \"10.9.0.1/24\"",
    );
    let t = Topology::parse("t.toml", &text).unwrap();
    assert_eq!(t.warnings.len(), 1);
    let w = &t.warnings[0];
    assert_eq!((w.line, w.key.as_str()), (16, "router.iface.name"));
    assert_eq!(w.message, "r1:stub is on no link");
    // r1 is connected to the stub subnet, so auto routes add nothing for it.
    assert_eq!(t.route_lines(0), ["10.0.2.0/24 via 10.0.12.2 dev eth1"]);
}

#[test]
fn link_to_missing_node_or_iface() {
    let e = error_after("\"r1:eth0\", \"h1:eth0\"", "\"r9:eth0\", \"h1:eth0\"");
    assert_eq!(e, "t.toml:38: link.ends: no node named \"r9\"");
    let e = error_after("\"r1:eth0\", \"h1:eth0\"", "\"r1:eth7\", \"h1:eth0\"");
    assert_eq!(e, "t.toml:38: link.ends: r1 has no interface \"eth7\"");
    let e = error_after("\"r1:eth0\", \"h1:eth0\"", "\"r1eth0\", \"h1:eth0\"");
    assert_eq!(e, "t.toml:38: link.ends: \"r1eth0\" is not NODE:IFACE");
    let e = error_after("\"r1:eth0\", \"h1:eth0\"", "\"r1:eth0\"");
    assert_eq!(e, "t.toml:38: link.ends: a link needs at least two ends");
}

#[test]
fn ends_share_no_subnet() {
    let e = error_after("addr = \"10.0.1.1/24\"", "addr = \"10.0.3.1/24\"");
    assert_eq!(e, "t.toml:38: link.ends: r1:eth0, h1:eth0 share no subnet");
}

#[test]
fn overlapping_subnets_on_two_links() {
    let text = GOOD
        .replace("10.0.2.1/24", "10.0.2.1/16")
        .replace("10.0.2.2/24", "10.0.2.2/16");
    let e = Topology::parse("t.toml", &text).unwrap_err().to_string();
    assert_eq!(
        e,
        "t.toml:45: link.ends: subnet 10.0.0.0/16 overlaps 10.0.1.0/24 of another link (line 38)"
    );
}

#[test]
fn overlapping_subnets_on_one_link() {
    let e = error_after(
        "addr = \"10.0.2.1/24\"",
        "addr = [\"10.0.2.1/24\", \"10.0.2.129/25\"]",
    );
    assert!(
        e.contains("link.ends: subnets 10.0.2.0/24 and 10.0.2.128/25 overlap on one link"),
        "{e}"
    );
}

#[test]
fn gateway_not_connected() {
    let e = error_after("gateway = \"10.0.1.1\"", "gateway = \"10.0.7.1\"");
    assert_eq!(
        e,
        "t.toml:30: host.gateway: 10.0.7.1 is on no subnet connected to h1"
    );
    let e = error_after("gateway = \"10.0.1.1\"", "gateway = \"10.0.1\"");
    assert_eq!(
        e,
        "t.toml:30: host.gateway: \"10.0.1\" is not an IPv4 address"
    );
}

#[test]
fn bad_addresses() {
    for (bad, why) in [
        ("10.0.1.300/24", "bad IPv4 address"),
        ("10.0.1.1/33", "bad prefix length (0..=32)"),
        ("10.0.1.1", "missing prefix length (write ADDR/LEN)"),
        ("10.0.1.0/24", "that is the subnet's network address"),
        ("10.0.1.255/24", "that is the subnet's broadcast address"),
    ] {
        let e = error_after("addr = \"10.0.1.1/24\"", &format!("addr = \"{bad}\""));
        assert_eq!(e, format!("t.toml:10: router.iface.addr: \"{bad}\": {why}"));
    }
    let e = error_after("addr = \"10.0.12.2/30\"", "addr = \"10.0.1.1/24\"");
    assert_eq!(
        e,
        "t.toml:22: router.iface.addr: 10.0.1.1 is already used at line 10"
    );
    let e = error_after("mac = \"02:aa:00:00:00:01\"", "mac = \"03:aa:00:00:00:01\"");
    assert_eq!(
        e,
        "t.toml:15: router.iface.mac: \"03:aa:00:00:00:01\" is not a unicast MAC address"
    );
    let e = error_after("mtu = 1400", "mtu = 40");
    assert!(
        e.starts_with("t.toml:14: router.iface.mtu: 40 is outside 68..="),
        "{e}"
    );
}

#[test]
fn bad_routes() {
    let e = error_after(
        "\"10.0.1.0/24 via 10.0.12.1\"",
        "\"10.0.1.0/24 via 10.0.12.1 mtu 9\"",
    );
    assert_eq!(
        e,
        "t.toml:19: router.routes: \"10.0.1.0/24 via 10.0.12.1 mtu 9\": unknown keyword at \"mtu\""
    );
    let e = error_after(
        "\"10.0.1.0/24 via 10.0.12.1\"",
        "\"10.0.1.0/24 via 10.0.99.1\"",
    );
    assert_eq!(
        e,
        "t.toml:19: router.routes: \"10.0.1.0/24 via 10.0.99.1\": gateway 10.0.99.1 is on no connected subnet"
    );
    let e = error_after("routes = \"auto\"", "routes = \"manual\"");
    assert!(e.starts_with("t.toml:3: "), "{e}");
    let e = error_after(
        "gateway = \"10.0.2.1\"",
        "gateway = \"10.0.2.1\"\nroutes = \"auto\"",
    );
    assert!(
        e.starts_with("t.toml:36: host.routes: \"auto\" is for routers"),
        "{e}"
    );
}

fn round_trip(t: &Topology) {
    let text = t.to_toml().unwrap();
    let back = Topology::parse("gen.toml", &text).unwrap();
    assert_eq!(back.nodes, t.nodes);
    assert_eq!(back.links, t.links);
    assert_eq!(back.to_toml().unwrap(), text);
    // Written out, a generated topology parses back into the same model, routes included:
    // the general route computation agrees with the lattices' own, route for route.
    let expanded = t.expanded_toml().unwrap();
    let back = Topology::parse("expanded.toml", &expanded).unwrap();
    for (a, b) in back.nodes.iter().zip(&t.nodes) {
        assert_eq!(a, b, "{}", a.name);
    }
    assert_eq!(back.nodes.len(), t.nodes.len());
    assert_eq!(back.links, t.links);
    assert_eq!(back.aggregates, t.aggregates);
}

#[test]
fn generators_round_trip() {
    round_trip(&generate::chain(5).unwrap());
    round_trip(&generate::grid(3, 4).unwrap());
    round_trip(&generate::hypercube(3, 3).unwrap());
    round_trip(&generate::hypercube(2, 4).unwrap());
    round_trip(&generate::hypercube(4, 3).unwrap());
    round_trip(&generate::hypercube(5, 2).unwrap());
    round_trip(&generate::grid(7, 5).unwrap());
    round_trip(&generate::grid(1, 6).unwrap());
    round_trip(&generate::grid(1, 1).unwrap());
    round_trip(&generate::grid(9, 1).unwrap());
    round_trip(&generate::random(30, 3, 7).unwrap());
}

#[test]
fn hypercube_every_host_pings_every_host() {
    let t = generate::hypercube(3, 3).unwrap();
    assert_eq!(t.nodes.len(), 27 + 8);
    all_hosts_ping(&t);
}

#[test]
fn grid_every_host_pings_every_host() {
    all_hosts_ping(&generate::grid(4, 5).unwrap());
}

#[test]
fn chain_ping_and_traceroute() {
    let t = generate::chain(10).unwrap();
    let mut sim = t.build_sim().unwrap();
    let (h1, h2) = (sim.node("h1").unwrap(), sim.node("h2").unwrap());
    let dst = t.first_addr(h2.0 as usize).unwrap();
    match ping(&mut sim, h1, dst) {
        // Links given no delay are perfect: no time passes; TTL 64 less 10 routers.
        PingReply::Echo { rtt, ttl } => {
            assert_eq!(ttl, 54);
            assert_eq!(rtt, Duration::ZERO);
        }
        other => panic!("{other:?}"),
    }
    let hops = sim.traceroute(h1, dst, 30, Duration::from_secs(2)).unwrap();
    assert_eq!(hops.len(), 11);
    for (i, hop) in hops.iter().enumerate() {
        let owner = t.owner(hop.from.unwrap()).unwrap();
        let want = if i < 10 {
            format!("r{}", i + 1)
        } else {
            "h2".into()
        };
        assert_eq!(owner.name, want);
    }
    assert!(hops[10].reached);
}

#[test]
fn long_chain_builds() {
    let t = generate::chain(1000).unwrap();
    assert_eq!(t.nodes.len(), 1002);
    // A route per subnet would be 999; aggregated, r1 sends everything beyond its two
    // subnets one way, in a handful of prefixes.
    let routes = t.route_lines(0);
    assert!(routes.len() <= 8, "{routes:?}");
    // It builds, and a chain this long originates with TTL 255 (Linux's 64 would not cross
    // it): a ping 60 routers down the line comes back through 59 routers.
    let mut sim = t.build_sim().unwrap();
    let r60 = t.node_index("r60").unwrap();
    let dst = t.first_addr(r60).unwrap();
    let h1 = sim.node("h1").unwrap();
    assert!(matches!(
        ping(&mut sim, h1, dst),
        PingReply::Echo { ttl: 196, .. }
    ));
}

#[test]
fn bus_of_three_pings() {
    let text = r#"
[[host]]
name = "a"
iface = { name = "eth0", addr = "192.168.0.1/24" }
[[host]]
name = "b"
iface = { name = "eth0", addr = "192.168.0.2/24" }
[[host]]
name = "c"
iface = { name = "eth0", addr = "192.168.0.3/24" }
[[link]]
ends = ["a:eth0", "b:eth0", "c:eth0"]
"#;
    let t = Topology::parse("bus.toml", text).unwrap();
    all_hosts_ping(&t);
}

#[test]
fn link_files_replace_links_and_need_no_warning() {
    let text = GOOD.replace(
        "mtu = 1400",
        "mtu = 1400\n[[router.iface]]\nname = \"wan\"\naddr = \"10.9.0.1/24\"\nlink_file = \"/dev/shm/x.link\"",
    );
    let t = Topology::parse("t.toml", &text).unwrap();
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let iface = t
        .nodes
        .iter()
        .flat_map(|n| &n.ifaces)
        .find(|f| f.name == "wan")
        .unwrap();
    assert_eq!(
        iface.link_file.as_deref(),
        Some(std::path::Path::new("/dev/shm/x.link"))
    );
    // An interface cannot be both on a link file and on a link.
    let text = GOOD.replace("mtu = 1400", "mtu = 1400\nlink_file = \"/dev/shm/x.link\"");
    let e = Topology::parse("t.toml", &text).unwrap_err().to_string();
    assert!(
        e.contains("has a link_file and cannot also be on a link"),
        "{e}"
    );
}

#[test]
fn attached_interfaces_parse_and_need_no_link() {
    let wan = |attach: &str| {
        GOOD.replace(
            "mtu = 1400",
            &format!("mtu = 1400\n[[router.iface]]\nname = \"wan\"\naddr = \"10.9.0.1/24\"\nattach = {attach}"),
        )
    };
    let spec = |attach: &str| {
        let t = Topology::parse("t.toml", &wan(attach)).unwrap();
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let f = t
            .nodes
            .iter()
            .flat_map(|n| &n.ifaces)
            .find(|f| f.name == "wan");
        f.unwrap().attach.clone().unwrap()
    };
    let s = spec(r#"{ dev = "eth1" }"#);
    assert_eq!(
        (s.dev.as_deref(), s.mode, s.tap),
        (Some("eth1"), Mode::Auto, None)
    );
    let s = spec(r#"{ dev = "eth1", mode = "afxdp" }"#);
    assert_eq!(s.mode, Mode::AfXdp);
    let s = spec(r#"{ mode = "tap", tap = "tap7" }"#);
    assert_eq!(
        (s.dev, s.mode, s.tap.as_deref()),
        (None, Mode::Tap, Some("tap7"))
    );
    let s = spec(r#"{ mode = "tap" }"#);
    assert_eq!((s.dev, s.tap), (None, None));

    let err = |attach: &str| match Topology::parse("t.toml", &wan(attach)) {
        Ok(_) => panic!("{attach} was accepted"),
        Err(e) => e.to_string(),
    };
    let e = err(r#"{ dev = "eth1", mode = "dpdk" }"#);
    assert!(
        e.contains("router.iface.attach.mode") && e.contains("\"dpdk\" is not a mode"),
        "{e}"
    );
    let e = err(r#"{ dev = "a-name-far-too-long" }"#);
    assert!(
        e.contains("router.iface.attach.dev") && e.contains("1 to 15 bytes"),
        "{e}"
    );
    let e = err(r#"{ tap = "x/y", mode = "tap" }"#);
    assert!(e.contains("router.iface.attach.tap"), "{e}");
    let e = err(r#"{ mode = "afxdp" }"#);
    assert!(
        e.contains("router.iface.attach.dev") && e.contains("existing device"),
        "{e}"
    );
    let e = err(r#"{ dev = "eth1", speed = 10 }"#);
    assert!(e.contains("speed"), "{e}");
    let e = err(r#"{ dev = "eth1" }
link_file = "/dev/shm/x.link""#);
    assert!(e.contains("not both"), "{e}");
    assert!(e.starts_with("t.toml:"), "{e}");
    // A device-bound interface cannot also be on a link.
    let text = GOOD.replace("mtu = 1400", "mtu = 1400\nattach = { dev = \"eth1\" }");
    let e = Topology::parse("t.toml", &text).unwrap_err().to_string();
    assert!(
        e.contains("is attached to a device and cannot also be on a link"),
        "{e}"
    );
}

/// `workers` spreads a router whose interfaces are device-bound; anything else is refused
/// with the file, line and key.
#[test]
fn spread_routers_parse_and_refuse_links() {
    let spread = r#"
[[router]]
name = "r1"
workers = 2
iface = [
  { name = "a", addr = "10.1.0.1/24", attach = { dev = "xa", mode = "afxdp" } },
  { name = "b", addr = "10.2.0.1/24", attach = { mode = "tap" } },
  { name = "spare", addr = "10.3.0.1/24" },
]
"#;
    let t = Topology::parse("s.toml", spread).unwrap();
    assert_eq!(t.nodes[0].workers, 2);
    t.build_network().unwrap();
    let err = |text: &str| match Topology::parse("s.toml", text) {
        Ok(_) => panic!("{text} was accepted"),
        Err(e) => e.to_string(),
    };
    let e = err(&spread.replace("workers = 2", "workers = 0"));
    assert!(
        e.contains("router.workers") && e.contains("give 1 to"),
        "{e}"
    );
    let e = err(&spread.replace(
        r#"attach = { mode = "tap" }"#,
        r#"link_file = "/dev/shm/x.link""#,
    ));
    assert!(
        e.contains("router.workers") && e.contains("link_file"),
        "{e}"
    );
    let e = error_after("name = \"r1\"\ncore = 0", "name = \"r1\"\nworkers = 2");
    assert!(e.contains("r1 is spread over 2 workers"), "{e}");
    let e = error_after("name = \"h1\"", "name = \"h1\"\nworkers = 2");
    assert!(
        e.contains("host.workers") && e.contains("only a router"),
        "{e}"
    );
}

const POLICY: &str = r#"
[[router]]
name = "r1"
tables = { isp1 = 100, isp2 = 200 }
routes = [
  "10.0.0.0/8 via 10.1.0.2",
  "default via 10.2.0.2 table isp1",
  "default via 10.3.0.2 table isp2",
  "192.0.2.0/24 nexthop via 10.2.0.2 weight 1 nexthop via 10.3.0.2 weight 3",
]
rules = ["from 10.1.5.0/24 lookup isp1", "fwmark 0x2 lookup isp2 pref 100"]
marks = ["ipproto udp dport 5000-5999 mark 0x2"]
iface = [
  { name = "lan", addr = "10.1.0.1/24" },
  { name = "up1", addr = "10.2.0.1/24", group = 7 },
  { name = "up2", addr = "10.3.0.1/24" },
]
"#;

#[test]
fn rules_marks_tables_and_groups_parse_and_build() {
    let t = Topology::parse("p.toml", POLICY).unwrap();
    let r1 = &t.nodes[0];
    assert_eq!(r1.rules.len(), 2);
    assert_eq!(r1.marks.len(), 1);
    assert_eq!(r1.ifaces[1].group, 7);
    let router = &t.routers().unwrap()[0];
    let prefs: Vec<u32> = router.fib().rules().map(|r| r.priority).collect();
    assert_eq!(prefs, [0, 100, 32765, 32766, 32767]);
    assert_eq!(router.marks().entries().len(), 1);

    let err = |from: &str, to: &str| {
        assert!(POLICY.contains(from), "{from}");
        match Topology::parse("p.toml", &POLICY.replacen(from, to, 1)) {
            Ok(_) => panic!("{to:?} was accepted"),
            Err(e) => e.to_string(),
        }
    };
    let e = err("lookup isp1\"", "lookup isp9\"");
    assert!(
        e.starts_with("p.toml:11: router.rules:") && e.contains("\"isp9\""),
        "{e}"
    );
    let e = err("mark 0x2\"", "mark\"");
    assert!(e.starts_with("p.toml:12: router.marks:"), "{e}");
    let e = err("dport 5000-5999", "dport 5999-5000");
    assert!(e.contains("5999-5000"), "{e}");
    let e = err("isp2 = 200", "main = 200");
    assert!(e.starts_with("p.toml:4: router.tables:"), "{e}");
    let e = err("table isp2", "table isp3");
    assert!(e.contains("router.routes") && e.contains("isp3"), "{e}");
}
