//! The compressed tables forward exactly as the full ones, for every address: random
//! topologies (point-to-point links, buses, hosts, stubs, gateways, several address blocks,
//! gaps in the plan, disconnected parts), each router built twice — with its compressed table
//! and with a route per subnet — and asked for every address where either table changes its
//! answer (the start of every range their prefixes cut the address space into, so every one of
//! the 2^32 addresses is covered), plus random ones.

use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::router::fib::FlowKey;
use crate::router::{RouteKind, Router};
use crate::topo::Topology;

/// A small xorshift generator: the test is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Disjoint subnets from a few blocks, with random lengths and gaps, handed out in random order.
struct Plan {
    subnets: Vec<(u32, u8)>,
}

impl Plan {
    fn new(rng: &mut Rng, count: usize) -> Plan {
        let bases = [0x0a00_0000u32, 0x0a01_0000, 0xac10_0000, 0xc0a8_0000];
        let mut cursor = bases[0];
        let mut subnets = Vec::new();
        while subnets.len() < count {
            if rng.below(8) == 0 {
                cursor = cursor.max(bases[rng.below(bases.len())]);
            }
            let len = [24u8, 26, 28, 29, 29, 30, 30, 30][rng.below(8)];
            let size = 1u32 << (32 - len);
            cursor = cursor.div_ceil(size) * size;
            if rng.below(4) == 0 {
                cursor += size * (rng.below(3) as u32 + 1);
            }
            subnets.push((cursor, len));
            cursor += size;
        }
        for i in (1..subnets.len()).rev() {
            subnets.swap(i, rng.below(i + 1));
        }
        Plan { subnets }
    }

    /// The next subnet's `k`-th address (1-based) with its length.
    fn addr(&self, s: usize, k: u32) -> String {
        let (p, len) = self.subnets[s];
        format!("{}/{len}", Ipv4Addr::from(p + k))
    }
}

/// A random topology as TOML: routers with auto routes, links of two or three routers, hosts on
/// some routers, stubs, a host-only link, perhaps routers with a gateway.
fn random_topology(rng: &mut Rng) -> String {
    let routers = 2 + rng.below(24);
    let hosts = rng.below(5);
    let mut ifaces: Vec<Vec<(String, String)>> = vec![Vec::new(); routers + hosts];
    let mut links: Vec<Vec<String>> = Vec::new();
    let mut gateways: Vec<Option<String>> = vec![None; routers + hosts];
    let mut plan = Plan::new(rng, 4 * routers + 2 * hosts + 8);
    let mut next = 0;
    let mut add_link = |members: &[usize], ifaces: &mut Vec<Vec<(String, String)>>| {
        let s = next;
        next += 1;
        // A bus needs room for three hosts' addresses.
        if members.len() > 2
            && let Some(k) = (s..plan.subnets.len()).find(|&k| plan.subnets[k].1 <= 29)
        {
            plan.subnets.swap(s, k);
        }
        let mut ends = Vec::new();
        for (k, &m) in members.iter().enumerate() {
            let name = format!("e{}", ifaces[m].len());
            ifaces[m].push((name.clone(), plan.addr(s, k as u32 + 1)));
            ends.push(format!("n{m}:{name}"));
        }
        (plan.subnets[s].0, ends)
    };
    // A spanning tree over most routers (some may stay apart), extra links, a bus or two.
    for r in 1..routers {
        if rng.below(10) != 0 {
            let (_, ends) = add_link(&[rng.below(r), r], &mut ifaces);
            links.push(ends);
        }
    }
    for _ in 0..rng.below(routers) {
        let (a, b) = (rng.below(routers), rng.below(routers));
        if a != b {
            let (_, ends) = add_link(&[a, b], &mut ifaces);
            links.push(ends);
        }
    }
    if routers >= 3 && rng.below(2) == 0 {
        let (a, b, c) = (rng.below(routers), rng.below(routers), rng.below(routers));
        if a != b && b != c && a != c {
            let (_, ends) = add_link(&[a, b, c], &mut ifaces);
            links.push(ends);
        }
    }
    for h in routers..routers + hosts {
        let r = rng.below(routers);
        let (net, ends) = add_link(&[r, h], &mut ifaces);
        links.push(ends);
        gateways[h] = Some(format!("{}", Ipv4Addr::from(net + 1)));
        // A router may take the host as its gateway: the fallback the compression must keep.
        if rng.below(3) == 0 {
            gateways[r] = Some(format!("{}", Ipv4Addr::from(net + 2)));
        }
    }
    if hosts >= 2 && rng.below(2) == 0 {
        let (_, ends) = add_link(&[routers, routers + 1], &mut ifaces);
        links.push(ends);
    }
    let stubs = next..next + rng.below(3);
    for s in stubs {
        let r = rng.below(routers);
        let name = format!("e{}", ifaces[r].len());
        ifaces[r].push((name, plan.addr(s, 1)));
    }
    let mut text = String::from("[settings]\nroutes = \"auto\"\n");
    // Sometimes blocks whose unassigned addresses go where the subnet below them goes.
    let blocks = [
        ["10.0.0.0/8", "172.16.0.0/12"],
        ["10.0.0.0/16", "192.168.0.0/16"],
        ["10.1.0.0/16", "10.0.0.0/20"],
        ["10.0.0.0/22", "172.16.0.0/16"],
    ];
    match rng.below(3) {
        0 => {}
        _ => {
            let pick = blocks[rng.below(blocks.len())];
            let _ = writeln!(text, "aggregate = [\"{}\", \"{}\"]", pick[0], pick[1]);
        }
    }
    for (n, list) in ifaces.iter().enumerate() {
        let kind = if n < routers { "router" } else { "host" };
        let _ = writeln!(text, "[[{kind}]]\nname = \"n{n}\"");
        if let Some(g) = &gateways[n] {
            let _ = writeln!(text, "gateway = \"{g}\"");
        }
        if kind == "host" {
            let _ = writeln!(text, "routes = []");
        }
        for (name, addr) in list {
            let _ = writeln!(
                text,
                "[[{kind}.iface]]\nname = \"{name}\"\naddr = \"{addr}\""
            );
        }
    }
    for ends in &links {
        let quoted: Vec<String> = ends.iter().map(|e| format!("\"{e}\"")).collect();
        let _ = writeln!(text, "[[link]]\nends = [{}]", quoted.join(", "));
    }
    text
}

/// What a router does with a packet to `dst`: the route kind, gateway and device, or `None`
/// for no route.
fn answer(r: &Router, dst: u32) -> Option<(RouteKind, Option<Ipv4Addr>, Option<u16>)> {
    let routed = r.fib().route(&FlowKey::to(Ipv4Addr::from(dst)))?;
    let nh = routed.nexthop;
    Some((nh.kind, nh.gateway, nh.dev.map(|d| d.0)))
}

/// Every address where one of the two routers' tables may change its answer.
fn boundaries(a: &Router, b: &Router) -> Vec<u32> {
    let mut out = vec![0];
    for r in [a, b] {
        for (_, table) in r.fib().tables() {
            for route in table.routes() {
                let p = u32::from(route.prefix);
                let last = p | !crate::router::mask(route.len);
                out.push(p);
                out.extend(last.checked_add(1));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn aggregates(t: &Topology) -> Vec<(u32, u8)> {
    t.aggregates
        .iter()
        .map(|&(p, l)| (u32::from(p), l))
        .collect()
}

/// Check every router of `t`; returns (routes in the full tables, in the compressed ones).
fn check(t: &Topology, rng: &mut Rng, context: &str) -> (usize, usize) {
    let compressed = t.routers().expect("the topology builds");
    let mut full = t.clone();
    for (node, routes) in full
        .nodes
        .iter_mut()
        .zip(super::full(&t.nodes, &t.links, &aggregates(t)))
    {
        node.auto = routes;
    }
    let uncompressed = full.routers().expect("the full tables build");
    let owner: std::collections::HashMap<Ipv4Addr, usize> = (t.nodes.iter().enumerate())
        .flat_map(|(n, node)| {
            node.ifaces
                .iter()
                .flat_map(move |f| f.addrs.iter().map(move |a| (a.addr, n)))
        })
        .collect();
    let mut sizes = (0, 0);
    for (n, (a, b)) in compressed.iter().zip(&uncompressed).enumerate() {
        sizes.0 += full.nodes[n].auto.len();
        sizes.1 += t.nodes[n].auto.len();
        let mut probes = boundaries(a, b);
        probes.extend((0..64).map(|_| rng.next() as u32));
        for dst in probes {
            // Followed from router to router, a packet ends somewhere: no loops, unassigned
            // addresses included.
            let (mut at, mut hops) = (n, 0);
            while let Some((RouteKind::Unicast, Some(gw), _)) = answer(&compressed[at], dst) {
                at = owner[&gw];
                if t.nodes[at].kind == crate::topo::Kind::Host {
                    break; // hosts do not forward
                }
                hops += 1;
                assert!(
                    hops <= t.nodes.len(),
                    "{context}: a loop to {}",
                    Ipv4Addr::from(dst)
                );
            }
            assert_eq!(
                answer(a, dst),
                answer(b, dst),
                "{context}: {} to {}:\ncompressed {:?}\nfull {:?}",
                t.nodes[n].name,
                Ipv4Addr::from(dst),
                t.route_lines(n),
                full.route_lines(n)
            );
        }
    }
    sizes
}

#[test]
fn compressed_tables_forward_as_full_ones_on_random_topologies() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut total = (0, 0);
    for round in 0..300 {
        let text = random_topology(&mut rng);
        let t = Topology::parse("random.toml", &text)
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"));
        let (f, c) = check(&t, &mut rng, &format!("round {round}\n{text}"));
        total.0 += f;
        total.1 += c;
    }
    assert!(total.1 < total.0, "compression saves: {total:?}");
}

#[test]
fn generated_topologies_compress_exactly() {
    let mut rng = Rng(7);
    for t in [
        crate::topo::generate::chain(40).unwrap(),
        crate::topo::generate::grid(5, 7).unwrap(),
        crate::topo::generate::hypercube(3, 3).unwrap(),
    ] {
        check(&t, &mut rng, "generated");
    }
}

/// A router on a bus with more neighbours than labels keeps its full table, which is exact
/// by definition; the others still compress.
#[test]
fn wide_routers_keep_full_tables() {
    let mut text = String::from("[settings]\nroutes = \"auto\"\n");
    let mut ends = Vec::new();
    for r in 0..70 {
        let _ = writeln!(
            text,
            "[[router]]\nname = \"r{r}\"\n[[router.iface]]\nname = \"bus\"\naddr = \"10.1.0.{}/24\"\n\
             [[router.iface]]\nname = \"lan\"\naddr = \"10.2.{r}.1/24\"",
            r + 1
        );
        ends.push(format!("\"r{r}:bus\""));
    }
    let _ = writeln!(text, "[[link]]\nends = [{}]", ends.join(", "));
    let t = Topology::parse("bus.toml", &text).unwrap();
    assert_eq!(t.nodes[0].auto.len(), 69, "a route per other router's LAN");
    check(&t, &mut Rng(3), "bus");
}
