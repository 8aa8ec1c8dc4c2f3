//! Routes written as iproute2 writes them: `10.1.0.0/16 via 10.0.0.2 dev eth0 metric 10`,
//! `default via 10.0.0.1`, `blackhole 10.9.0.0/16`, `unreachable 192.0.2.0/24 table 100`.
//!
//! Grammar (a subset of `ip route add`):
//! `[unicast|local|broadcast|blackhole|unreachable|prohibit|throw] PREFIX|default
//!  [via ADDR] [dev NAME] [metric|preference N] [src ADDR] [table ID|NAME]
//!  [nexthop [via ADDR] [dev NAME] [weight 1-256]]...` — `nexthop` blocks make a multipath
//! (ECMP) route; `via`, `dev` and `weight` after a `nexthop` belong to it.
//! Errors name the offending word so a topology file can point at it.

use std::net::Ipv4Addr;

use super::words::{ParseError, TableNames, addr_and_len, err};
use super::{NextHop, Route, RouteKind, TABLE_DEFAULT, TABLE_LOCAL, TABLE_MAIN, TableId};
use crate::router::iface::{IfaceId, mask};

/// A route parsed from text, with the table it names (`main` unless told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRoute {
    /// The table.
    pub table: TableId,
    /// The route; a unicast route's device may still be unset (derived from the gateway).
    pub route: Route,
    /// The members of a multipath route, with weights; empty for a single next hop.
    pub multipath: Vec<(NextHop, u16)>,
}

/// Parse one route. `dev` resolves interface names; tables are numbers or Linux's names.
pub fn parse_route(
    text: &str,
    dev: impl Fn(&str) -> Option<IfaceId>,
) -> Result<ParsedRoute, ParseError> {
    parse_route_in(text, dev, &TableNames::default())
}

/// Parse one route, resolving table names with `tables` too.
pub fn parse_route_in(
    text: &str,
    dev: impl Fn(&str) -> Option<IfaceId>,
    tables: &TableNames,
) -> Result<ParsedRoute, ParseError> {
    let mut words = text.split_whitespace().peekable();
    let kind = match words.peek().copied() {
        Some("unicast") => Some(RouteKind::Unicast),
        Some("local") => Some(RouteKind::Local),
        Some("broadcast") => Some(RouteKind::Broadcast),
        Some("blackhole") => Some(RouteKind::Blackhole),
        Some("unreachable") => Some(RouteKind::Unreachable),
        Some("prohibit") => Some(RouteKind::Prohibit),
        Some("throw") => Some(RouteKind::Throw),
        _ => None,
    };
    if kind.is_some() {
        words.next();
    }
    let kind = kind.unwrap_or(RouteKind::Unicast);
    let target = words
        .next()
        .ok_or_else(|| err("missing destination prefix", ""))?;
    let (prefix, len) = parse_prefix(target)?;
    let mut nexthop = NextHop::of_kind(kind);
    let (mut metric, mut table) = (0, TABLE_MAIN);
    let mut multipath: Vec<(NextHop, u16)> = Vec::new();
    while let Some(key) = words.next() {
        if key == "nexthop" {
            if kind != RouteKind::Unicast {
                return Err(err("only unicast routes take next hops", key));
            }
            multipath.push((NextHop::of_kind(RouteKind::Unicast), 1));
            continue;
        }
        let value = words.next().ok_or_else(|| err("missing value", key))?;
        // After a `nexthop`, via/dev/weight describe that next hop.
        let hop = match multipath.last_mut() {
            Some((nh, _)) => nh,
            None => &mut nexthop,
        };
        match key {
            "via" => {
                hop.gateway = Some(
                    value
                        .parse()
                        .map_err(|_| err("bad gateway address", value))?,
                )
            }
            "dev" | "oif" => {
                hop.dev = Some(dev(value).ok_or_else(|| err("no such device", value))?)
            }
            "weight" => {
                let w = value
                    .parse::<u16>()
                    .ok()
                    .filter(|w| (1..=256).contains(w))
                    .ok_or_else(|| err("bad weight (1 to 256)", value))?;
                match multipath.last_mut() {
                    Some((_, weight)) => *weight = w,
                    None => return Err(err("weight belongs to a nexthop", key)),
                }
            }
            "metric" | "preference" | "priority" => {
                metric = value.parse().map_err(|_| err("bad metric", value))?
            }
            "src" => {
                nexthop.src = Some(
                    value
                        .parse()
                        .map_err(|_| err("bad source address", value))?,
                )
            }
            "table" => table = tables.resolve(value)?,
            _ => return Err(err("unknown keyword", key)),
        }
    }
    if kind != RouteKind::Unicast && nexthop.gateway.is_some() {
        return Err(err("only unicast routes take a gateway", "via"));
    }
    if !multipath.is_empty() && (nexthop.gateway.is_some() || nexthop.dev.is_some()) {
        return Err(err("give via and dev inside each nexthop", target));
    }
    if let Some((_, _)) = multipath
        .iter()
        .find(|(nh, _)| nh.gateway.is_none() && nh.dev.is_none())
    {
        return Err(err("a nexthop needs via or dev", "nexthop"));
    }
    if kind == RouteKind::Unicast
        && multipath.is_empty()
        && nexthop.gateway.is_none()
        && nexthop.dev.is_none()
    {
        return Err(err("a unicast route needs via or dev", target));
    }
    Ok(ParsedRoute {
        table,
        route: Route {
            prefix,
            len,
            metric,
            nexthop,
        },
        multipath,
    })
}

/// `10.0.0.0/8`, `10.0.0.1` (a /32) or `default` (0/0). Host bits must be zero, as iproute2
/// demands.
pub fn parse_prefix(word: &str) -> Result<(Ipv4Addr, u8), ParseError> {
    if word == "default" {
        return Ok((Ipv4Addr::UNSPECIFIED, 0));
    }
    let (addr, len) = addr_and_len(word)?;
    if u32::from(addr) & !mask(len) != 0 {
        return Err(err("prefix has host bits set", word));
    }
    Ok((addr, len))
}

/// A table id or one of Linux's names for its fixed tables.
pub fn parse_table(word: &str) -> Result<TableId, ParseError> {
    match word {
        "main" => Ok(TABLE_MAIN),
        "local" => Ok(TABLE_LOCAL),
        "default" => Ok(TABLE_DEFAULT),
        _ => word
            .parse::<TableId>()
            .ok()
            .filter(|&t| t != 0)
            .ok_or_else(|| err("bad table", word)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devs(name: &str) -> Option<IfaceId> {
        ["eth0", "eth1"]
            .iter()
            .position(|d| *d == name)
            .map(|i| IfaceId(i as u16))
    }

    #[test]
    fn parses_the_common_forms() {
        let r = parse_route("10.1.0.0/16 via 10.0.0.2 dev eth1 metric 10", devs).unwrap();
        assert_eq!(r.table, TABLE_MAIN);
        assert_eq!(
            (r.route.prefix, r.route.len, r.route.metric),
            (Ipv4Addr::new(10, 1, 0, 0), 16, 10)
        );
        assert_eq!(r.route.nexthop.gateway, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(r.route.nexthop.dev, Some(IfaceId(1)));
        let r = parse_route("default via 10.0.0.1", devs).unwrap();
        assert_eq!((r.route.prefix, r.route.len), (Ipv4Addr::UNSPECIFIED, 0));
        let r = parse_route("blackhole 10.9.0.0/16 table 100", devs).unwrap();
        assert_eq!((r.table, r.route.nexthop.kind), (100, RouteKind::Blackhole));
        let r = parse_route("192.0.2.1 dev eth0 src 192.0.2.9", devs).unwrap();
        assert_eq!(r.route.len, 32);
        assert_eq!(r.route.nexthop.src, Some(Ipv4Addr::new(192, 0, 2, 9)));
        let r = parse_route(
            "10.0.0.0/8 metric 5 nexthop via 10.0.0.2 weight 2 nexthop via 10.0.1.2 dev eth1",
            devs,
        )
        .unwrap();
        assert_eq!(r.route.metric, 5);
        let gws: Vec<_> = r
            .multipath
            .iter()
            .map(|(nh, w)| (nh.gateway, nh.dev, *w))
            .collect();
        assert_eq!(
            gws,
            [
                (Some(Ipv4Addr::new(10, 0, 0, 2)), None, 2),
                (Some(Ipv4Addr::new(10, 0, 1, 2)), Some(IfaceId(1)), 1)
            ]
        );
    }

    #[test]
    fn errors_name_the_offending_word() {
        let word = |s: &str| parse_route(s, devs).unwrap_err().word;
        assert_eq!(word("10.0.0.0/33 dev eth0"), "10.0.0.0/33");
        assert_eq!(word("10.0.0.1/8 dev eth0"), "10.0.0.1/8");
        assert_eq!(word("10.0.0.0/8 via 10.0.0.300"), "10.0.0.300");
        assert_eq!(word("10.0.0.0/8 dev eth9"), "eth9");
        assert_eq!(word("10.0.0.0/8 dev eth0 mtu 1400"), "mtu");
        assert_eq!(word("10.0.0.0/8 via"), "via");
        assert_eq!(word("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(word("blackhole 10.0.0.0/8 via 1.1.1.1"), "via");
        assert_eq!(word("unreachable 10.0.0.0/8 table 0"), "0");
        assert_eq!(word(""), "");
        assert_eq!(word("10.0.0.0/8 nexthop via 1.1.1.1 weight 0"), "0");
        assert_eq!(word("10.0.0.0/8 nexthop weight 2"), "nexthop");
        assert_eq!(word("blackhole 10.0.0.0/8 nexthop"), "nexthop");
        assert_eq!(word("10.0.0.0/8 weight 2"), "weight");
    }
}
