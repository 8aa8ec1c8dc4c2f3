//! What `shoal ctl` shows of a router, in iproute2's layout (`ip addr`, `ip route`, `ip rule`,
//! `ip neigh`) and as JSON. Runs on the worker holding the router, as a job: it reads, never
//! changes, and copies out only text.

use std::fmt::Write;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::router::fib::{Action, Dev, NextHop, Rule, TableId};
use crate::router::{RouteKind, Router};

/// `ip addr`.
pub fn addr(r: &Router) -> String {
    let mut out = String::new();
    for (i, f) in r.ifaces().iter().enumerate() {
        let state = if f.is_up() { "UP" } else { "DOWN" };
        let flags = if f.is_up() {
            "BROADCAST,MULTICAST,UP,LOWER_UP"
        } else {
            "BROADCAST,MULTICAST"
        };
        let _ = writeln!(
            out,
            "{}: {}: <{flags}> mtu {} state {state}",
            i + 1,
            f.name(),
            f.mtu()
        );
        let _ = writeln!(out, "    link/ether {} brd ff:ff:ff:ff:ff:ff", f.mac());
        for a in f.addrs() {
            let brd = a.broadcast().map_or(String::new(), |b| format!(" brd {b}"));
            let _ = writeln!(out, "    inet {a}{brd} scope global {}", f.name());
        }
    }
    out
}

/// `ip -j addr`.
pub fn addr_json(r: &Router) -> Value {
    let ifaces: Vec<Value> = r
        .ifaces()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let addrs: Vec<Value> = f
                .addrs()
                .iter()
                .map(|a| json!({"local": a.addr.to_string(), "prefixlen": a.len}))
                .collect();
            json!({
                "ifindex": i + 1, "ifname": f.name(), "mtu": f.mtu(),
                "operstate": if f.is_up() { "UP" } else { "DOWN" },
                "address": f.mac().to_string(), "addr_info": addrs,
                "stats": {"rx_packets": f.counters().rx_frames, "tx_packets": f.counters().tx_frames,
                          "rx_bytes": f.counters().rx_bytes, "tx_bytes": f.counters().tx_bytes},
            })
        })
        .collect();
    Value::Array(ifaces)
}

fn dev_name(r: &Router, nh: &NextHop) -> Option<String> {
    let dev = nh.dev?;
    Some(
        r.iface(dev)
            .map_or(format!("#{}", dev.0), |i| i.name().to_owned()),
    )
}

fn table_name(r: &Router, id: TableId) -> String {
    match id {
        255 => "local".into(),
        254 => "main".into(),
        253 => "default".into(),
        id => r
            .fib()
            .names()
            .name(id)
            .map_or(id.to_string(), str::to_owned),
    }
}

/// The routes of table `table` (`main` when `None`), one line each: `ip route show table T`.
pub fn routes(r: &Router, table: Option<TableId>) -> Result<String, String> {
    let id = table.unwrap_or(254);
    let t = r
        .fib()
        .table(id)
        .ok_or_else(|| format!("table {} does not exist", table_name(r, id)))?;
    let mut out = String::new();
    let mut sorted: Vec<_> = t.routes().collect();
    sorted.sort_by_key(|r| (u32::from(r.prefix), r.len, r.metric));
    for route in sorted {
        let nh = &route.nexthop;
        let mut line = String::new();
        if nh.kind != RouteKind::Unicast {
            let _ = write!(line, "{} ", nh.kind.keyword());
        }
        match (route.prefix, route.len) {
            (p, 0) if p == Ipv4Addr::UNSPECIFIED => line.push_str("default"),
            (p, 32) if nh.kind != RouteKind::Unicast => {
                let _ = write!(line, "{p}");
            }
            (p, l) => {
                let _ = write!(line, "{p}/{l}");
            }
        }
        if let Some(gw) = nh.gateway {
            let _ = write!(line, " via {gw}");
        }
        if let Some(dev) = dev_name(r, nh) {
            let _ = write!(line, " dev {dev}");
        }
        if id != 254 {
            let _ = write!(line, " table {}", table_name(r, id));
        }
        if nh.gateway.is_none() && nh.kind == RouteKind::Unicast && nh.dev.is_some() {
            line.push_str(" scope link");
        }
        if let Some(src) = nh.src {
            let _ = write!(line, " src {src}");
        }
        if route.metric != 0 {
            let _ = write!(line, " metric {}", route.metric);
        }
        let _ = writeln!(out, "{line}");
        if let Some(g) = t.group(nh) {
            for (member, weight) in g.members() {
                let via = member
                    .gateway
                    .map_or(String::new(), |g| format!(" via {g}"));
                let dev = dev_name(r, member).map_or(String::new(), |d| format!(" dev {d}"));
                let _ = writeln!(out, "\tnexthop{via}{dev} weight {weight}");
            }
        }
    }
    Ok(out)
}

fn prefix(p: Option<(Ipv4Addr, u8)>) -> String {
    match p {
        None | Some((_, 0)) => "all".into(),
        Some((a, 32)) => a.to_string(),
        Some((a, l)) => format!("{a}/{l}"),
    }
}

fn dev(r: &Router, d: Dev) -> String {
    match d {
        Dev::Lo => "lo".into(),
        Dev::Iface(i) => r
            .iface(i)
            .map_or(format!("#{}", i.0), |f| f.name().to_owned()),
    }
}

/// One rule as `ip rule` shows it.
fn rule(r: &Router, rule: &Rule) -> String {
    let s = &rule.selector;
    let mut line = format!("{}:\t", rule.priority);
    if s.invert {
        line.push_str("not ");
    }
    let _ = write!(line, "from {}", prefix(s.from));
    if s.to.is_some() {
        let _ = write!(line, " to {}", prefix(s.to));
    }
    if let Some(t) = s.tos {
        let _ = write!(line, " tos {t:#04x}");
    }
    if let Some(d) = s.dscp {
        let _ = write!(line, " dscp {d}");
    }
    if let Some((m, mask)) = s.fwmark {
        let _ = write!(line, " fwmark {m:#x}/{mask:#x}");
    }
    if let Some(i) = s.iif {
        let _ = write!(line, " iif {}", dev(r, i));
    }
    if let Some(o) = s.oif {
        let _ = write!(line, " oif {}", dev(r, o));
    }
    if let Some(p) = s.ipproto {
        let _ = write!(line, " ipproto {p}");
    }
    for (word, range) in [("sport", s.sport), ("dport", s.dport)] {
        match range {
            Some((a, b)) if a == b => {
                let _ = write!(line, " {word} {a}");
            }
            Some((a, b)) => {
                let _ = write!(line, " {word} {a}-{b}");
            }
            None => {}
        }
    }
    match rule.action {
        Action::Lookup(t) => {
            let _ = write!(line, " lookup {}", table_name(r, t));
        }
        Action::Goto(p) => {
            let _ = write!(line, " goto {p}");
        }
        Action::Nop => line.push_str(" nop"),
        Action::Blackhole => line.push_str(" blackhole"),
        Action::Unreachable => line.push_str(" unreachable"),
        Action::Prohibit => line.push_str(" prohibit"),
    }
    if let Some(l) = rule.suppress_prefixlength {
        let _ = write!(line, " suppress_prefixlength {l}");
    }
    if let Some(g) = rule.suppress_ifgroup {
        let _ = write!(line, " suppress_ifgroup {g}");
    }
    line
}

/// `ip rule`.
pub fn rules(r: &Router) -> String {
    let mut out = String::new();
    for x in r.fib().rules() {
        let _ = writeln!(out, "{}", rule(r, &x));
    }
    out
}

/// `ip neigh`.
pub fn neigh(r: &Router) -> String {
    let mut entries: Vec<_> = r.neighbours().entries().collect();
    entries.sort_by_key(|&(i, ip, _, _)| (i, ip));
    let mut out = String::new();
    for (i, ip, state, mac) in entries {
        let name = r
            .iface(i)
            .map_or(format!("#{}", i.0), |f| f.name().to_owned());
        let state = format!("{state:?}").to_uppercase();
        let lladdr = if state == "INCOMPLETE" {
            String::new()
        } else {
            format!(" lladdr {mac}")
        };
        let _ = writeln!(out, "{ip} dev {name}{lladdr} {state}");
    }
    out
}

/// The router's counters, drops by reason.
pub fn counters(r: &Router) -> String {
    let c = r.counters();
    let mut out = format!(
        "received {}\nforwarded {}\ndelivered {}\nsent {}\narp requests {}, replies {}\n\
         echo replies {}\nicmp errors {} (rate-limited {})\nfragments {}\n",
        c.rx_frames,
        c.forwarded,
        c.delivered_locally(),
        c.tx_frames,
        c.arp_requests,
        c.arp_replies,
        c.echo_replies,
        c.icmp_errors,
        c.icmp_rate_limited,
        c.fragments
    );
    out.push_str(&crate::router::drops_line(
        c.total_drops(),
        c.nonzero_drops(),
    ));
    out
}

/// `ip route get ADDR [from SRC] [iif IFACE]`: the route the rules choose, as iproute2 prints it.
pub fn route_get(
    r: &Router,
    dst: Ipv4Addr,
    src: Option<Ipv4Addr>,
    iif: Option<crate::router::IfaceId>,
) -> String {
    let key = crate::router::fib::FlowKey {
        src: src.unwrap_or(Ipv4Addr::UNSPECIFIED),
        iif,
        ..crate::router::fib::FlowKey::to(dst)
    };
    let Some(routed) = r.route(&key) else {
        return "RTNETLINK answers: Network is unreachable\n".into();
    };
    let nh = routed.nexthop;
    let mut line = String::new();
    match nh.kind {
        RouteKind::Unicast => {}
        RouteKind::Local => line.push_str("local "),
        RouteKind::Broadcast => line.push_str("broadcast "),
        other => {
            return format!("RTNETLINK answers: {} route to {dst}\n", other.keyword());
        }
    }
    let _ = write!(line, "{dst}");
    if let Some(gw) = nh.gateway {
        let _ = write!(line, " via {gw}");
    }
    if let Some(dev) = dev_name(r, nh) {
        let _ = write!(line, " dev {dev}");
    }
    if routed.table != 254 {
        let _ = write!(line, " table {}", table_name(r, routed.table));
    }
    if let Some(s) = src {
        let _ = write!(line, " from {s}");
    }
    if let Some(i) = iif.and_then(|i| r.iface(i)) {
        let _ = write!(line, " iif {}", i.name());
    }
    line + "\n"
}
