//! Routes of a validated node, as data: the file's routes parsed once during validation, and the
//! routes `routes = "auto"` computed, in a compact form (eight bytes a route) that goes straight
//! into the router's `main` table with one rebuild of its lookup form. Text appears only when a
//! person asks for it ([`super::Topology::route_lines`]), in iproute2's syntax.

use core::fmt::Write;
use std::net::Ipv4Addr;

use crate::router::fib::{ParsedRoute, TABLE_MAIN};
use crate::router::{IfaceId, NextHop, Route, RouteKind};

use super::Node;

/// Where a computed route sends packets: out of an interface of the node, to a neighbour's
/// address on that link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hop {
    /// The node's interface (its index in [`Node::ifaces`]).
    pub iface: u16,
    /// The neighbour's address on the link.
    pub via: Ipv4Addr,
}

/// A computed route: `prefix/len` through hop `hop - 1` of its [`AutoRoutes::hops`], or, with
/// `hop == 0`, a `throw` route (the table holds no route for these addresses, as the full
/// shortest-path table would not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoRoute {
    /// Network address, host order.
    pub prefix: u32,
    /// Prefix length.
    pub len: u8,
    /// 1 + index into [`AutoRoutes::hops`]; 0 for `throw`.
    pub hop: u16,
}

/// A node's computed routes and the next hops they name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoRoutes {
    /// Routes, in no particular order (prefixes are distinct).
    pub routes: Vec<AutoRoute>,
    /// The next hops, named by [`AutoRoute::hop`].
    pub hops: Vec<Hop>,
}

impl AutoRoutes {
    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The routes as the router's `main` table takes them.
    pub fn fib_routes(&self) -> impl Iterator<Item = Route> + '_ {
        self.routes.iter().map(move |r| Route {
            prefix: Ipv4Addr::from(r.prefix),
            len: r.len,
            metric: 0,
            nexthop: match r
                .hop
                .checked_sub(1)
                .and_then(|h| self.hops.get(usize::from(h)))
            {
                Some(h) => NextHop {
                    gateway: Some(h.via),
                    dev: Some(IfaceId(h.iface)),
                    ..NextHop::of_kind(RouteKind::Unicast)
                },
                None => NextHop::of_kind(RouteKind::Throw),
            },
        })
    }

    /// Heap bytes held.
    pub fn mem_bytes(&self) -> usize {
        self.routes.capacity() * size_of::<AutoRoute>() + self.hops.capacity() * size_of::<Hop>()
    }
}

/// `10.0.0.0/24` (`default` for /0).
fn prefix(out: &mut String, prefix: Ipv4Addr, len: u8) {
    if len == 0 {
        out.push_str("default");
    } else {
        let _ = write!(out, "{prefix}/{len}");
    }
}

/// A route in iproute2's syntax, interfaces named as the node names them.
pub(super) fn text(node: &Node, table: u32, route: &Route, multipath: &[(NextHop, u16)]) -> String {
    let dev = |d: IfaceId| {
        node.ifaces
            .get(usize::from(d.0))
            .map_or_else(|| format!("#{}", d.0), |f| f.name.clone())
    };
    let nh = &route.nexthop;
    let mut out = String::new();
    if nh.kind != RouteKind::Unicast {
        out.push_str(nh.kind.keyword());
        out.push(' ');
    }
    prefix(&mut out, route.prefix, route.len);
    if let Some(gw) = nh.gateway {
        let _ = write!(out, " via {gw}");
    }
    if let Some(d) = nh.dev {
        let _ = write!(out, " dev {}", dev(d));
    }
    if route.metric != 0 {
        let _ = write!(out, " metric {}", route.metric);
    }
    if let Some(src) = nh.src {
        let _ = write!(out, " src {src}");
    }
    if table != TABLE_MAIN {
        let _ = write!(out, " table {table}");
    }
    for (hop, weight) in multipath {
        out.push_str(" nexthop");
        if let Some(gw) = hop.gateway {
            let _ = write!(out, " via {gw}");
        }
        if let Some(d) = hop.dev {
            let _ = write!(out, " dev {}", dev(d));
        }
        let _ = write!(out, " weight {weight}");
    }
    out
}

/// A parsed route in iproute2's syntax.
pub(super) fn parsed_text(node: &Node, p: &ParsedRoute) -> String {
    text(node, p.table, &p.route, &p.multipath)
}
