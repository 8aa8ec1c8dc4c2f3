//! Forwarding information: routing tables and the rules that choose among them.
//!
//! Like Linux, an instance holds several tables identified by a 32-bit id (`local` 255, `main`
//! 254 and `default` 253 always exist) and walks a list of rules in priority order; each rule
//! names a table, and a lookup that finds nothing (or a `throw` route) falls through to the next
//! rule. Rule selectors beyond the table (from, to, tos, iif, fwmark, ...) arrive with policy
//! routing; the walk is already shaped for them.
//!
//! A [`Table`] keeps every route (several per prefix, ordered by metric) and compiles the best
//! per prefix into an [`lpm::Lpm`] whose values index a deduplicated next-hop array, so the
//! per-packet lookup touches the LPM and one small array.

pub mod lpm;
mod syntax;
mod table;

pub use syntax::{ParseError, ParsedRoute, parse_prefix, parse_route, parse_table};
pub use table::{Route, RouteError, Table};

use std::net::Ipv4Addr;

use super::iface::IfaceId;

/// Routing table id.
pub type TableId = u32;

/// Linux's `local` table: addresses of this instance and their broadcasts.
pub const TABLE_LOCAL: TableId = 255;
/// Linux's `main` table: connected and configured routes.
pub const TABLE_MAIN: TableId = 254;
/// Linux's `default` table, empty unless configured.
pub const TABLE_DEFAULT: TableId = 253;

/// What a route does with a matching packet (iproute2's route type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// Forward to a gateway or a directly connected destination.
    Unicast,
    /// Deliver locally: one of this instance's addresses.
    Local,
    /// A directed broadcast address of one of our subnets: deliver locally.
    Broadcast,
    /// Drop silently.
    Blackhole,
    /// Drop and answer ICMP host unreachable.
    Unreachable,
    /// Drop and answer ICMP communication administratively prohibited.
    Prohibit,
    /// Continue with the next rule, as if this table had no route.
    Throw,
}

impl RouteKind {
    /// iproute2's keyword for the kind.
    pub fn keyword(self) -> &'static str {
        match self {
            RouteKind::Unicast => "unicast",
            RouteKind::Local => "local",
            RouteKind::Broadcast => "broadcast",
            RouteKind::Blackhole => "blackhole",
            RouteKind::Unreachable => "unreachable",
            RouteKind::Prohibit => "prohibit",
            RouteKind::Throw => "throw",
        }
    }
}

/// Where a route sends a packet. Routes share next hops, so a table of a million prefixes
/// pointing at a handful of gateways stores a handful of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// The route's kind.
    pub kind: RouteKind,
    /// Gateway, or `None` when the destination is on the link.
    pub gateway: Option<Ipv4Addr>,
    /// Egress interface (always set for unicast, local and broadcast routes).
    pub dev: Option<IfaceId>,
    /// Preferred source address for locally originated packets.
    pub src: Option<Ipv4Addr>,
}

impl NextHop {
    /// A next hop of a kind that carries no gateway or device.
    pub const fn of_kind(kind: RouteKind) -> NextHop {
        NextHop {
            kind,
            gateway: None,
            dev: None,
            src: None,
        }
    }
}

/// A rule: at this priority, look in this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Lower runs first.
    pub priority: u32,
    /// Table to consult.
    pub table: TableId,
}

/// The tables of one instance and the rules over them.
#[derive(Debug)]
pub struct Fib {
    tables: Vec<(TableId, Table)>,
    /// Rules with the index of their table in `tables` (None until that table exists).
    rules: Vec<(Rule, Option<usize>)>,
    /// The `local` table as a short list of host routes, while that gives the rule walk's
    /// answer: the rules are Linux's three defaults and `local` holds only a few /32s (what
    /// addresses put there). Then a lookup is a scan of this list plus one `main` lookup, as
    /// Linux gets by merging its local and main tries.
    fast_local: Option<FastLocal>,
}

/// `local`'s host routes, addresses apart from next hops so the per-packet scan reads one
/// contiguous run of `u32`s.
#[derive(Debug)]
struct FastLocal {
    /// One bit per address (see [`bloom_bit`]): a destination whose bit is clear is not local,
    /// which is what nearly every forwarded packet learns here, in a few instructions.
    bloom: u64,
    addrs: Vec<u32>,
    nexthops: Vec<NextHop>,
}

/// The Bloom-mask bit of an address: the top six bits of a multiplicative hash.
#[inline]
pub(crate) fn bloom_bit(addr: u32) -> u64 {
    1 << (addr.wrapping_mul(0x9e37_79b1) >> 26)
}

/// Most host routes the fast local list holds before lookups take the full rule walk.
const FAST_LOCAL_MAX: usize = 16;

/// Linux's initial rules.
const DEFAULT_RULES: [(u32, TableId); 3] = [
    (0, TABLE_LOCAL),
    (32766, TABLE_MAIN),
    (32767, TABLE_DEFAULT),
];

impl Default for Fib {
    fn default() -> Fib {
        Fib::new()
    }
}

impl Fib {
    /// The Linux start state: tables local and main, rules 0 local, 32766 main, 32767 default.
    pub fn new() -> Fib {
        let mut fib = Fib {
            tables: Vec::with_capacity(2),
            rules: Vec::with_capacity(3),
            fast_local: None,
        };
        fib.table_mut(TABLE_LOCAL);
        fib.table_mut(TABLE_MAIN);
        for (priority, table) in DEFAULT_RULES {
            fib.add_rule(Rule { priority, table });
        }
        fib
    }

    /// A table, if it exists.
    pub fn table(&self, id: TableId) -> Option<&Table> {
        self.tables
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, table)| table)
    }

    /// Add a route to a table (created if missing); see [`Table::insert`].
    pub fn insert(&mut self, table: TableId, route: Route) -> Result<(), RouteError> {
        let result = self.table_mut(table).insert(route);
        self.refresh(table);
        result
    }

    /// Remove a route from a table; see [`Table::remove`].
    pub fn remove(
        &mut self,
        table: TableId,
        prefix: Ipv4Addr,
        len: u8,
        metric: Option<u32>,
    ) -> Option<Route> {
        let gone = self.table_mut(table).remove(prefix, len, metric);
        self.refresh(table);
        gone
    }

    /// Remove every route of a table whose next hop matches `pred`.
    pub fn remove_where(&mut self, table: TableId, pred: impl Fn(&NextHop) -> bool) -> usize {
        let n = self.table_mut(table).remove_where(pred);
        self.refresh(table);
        n
    }

    /// Recompute the fast local list after `table` or the rules changed.
    fn refresh(&mut self, table: TableId) {
        if table != TABLE_LOCAL && table != TABLE_DEFAULT {
            return;
        }
        let default_rules = self.rules.len() == DEFAULT_RULES.len()
            && self
                .rules
                .iter()
                .zip(DEFAULT_RULES)
                .all(|((r, _), (p, t))| r.priority == p && r.table == t);
        let local = self.table(TABLE_LOCAL);
        self.fast_local = match local {
            Some(t)
                if default_rules
                    && t.len() <= FAST_LOCAL_MAX
                    && t.routes().all(|r| r.len == 32) =>
            {
                let (addrs, nexthops): (Vec<u32>, Vec<NextHop>) =
                    t.routes().map(|r| (u32::from(r.prefix), r.nexthop)).unzip();
                let bloom = addrs.iter().fold(0, |m, &a| m | bloom_bit(a));
                Some(FastLocal {
                    bloom,
                    addrs,
                    nexthops,
                })
            }
            _ => None,
        };
    }

    /// A table, created empty if missing.
    fn table_mut(&mut self, id: TableId) -> &mut Table {
        let index = match self.tables.iter().position(|(t, _)| *t == id) {
            Some(i) => i,
            None => {
                self.tables.push((id, Table::new()));
                let i = self.tables.len() - 1;
                for (rule, slot) in &mut self.rules {
                    if rule.table == id {
                        *slot = Some(i);
                    }
                }
                i
            }
        };
        &mut self.tables[index].1
    }

    /// Add a rule; rules of equal priority keep insertion order, like `ip rule add`.
    pub fn add_rule(&mut self, rule: Rule) {
        let slot = self.tables.iter().position(|(t, _)| *t == rule.table);
        let at = self
            .rules
            .partition_point(|(r, _)| r.priority <= rule.priority);
        self.rules.insert(at, (rule, slot));
    }

    /// The rules, in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = Rule> + '_ {
        self.rules.iter().map(|(r, _)| *r)
    }

    /// Every table with its id.
    pub fn tables(&self) -> impl Iterator<Item = (TableId, &Table)> {
        self.tables.iter().map(|(id, t)| (*id, t))
    }

    /// Route `dst` through the rules: the first table with a non-throw route answers.
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&NextHop> {
        let dst = u32::from(dst);
        if let Some(local) = &self.fast_local {
            if local.bloom & bloom_bit(dst) != 0
                && let Some(i) = local.addrs.iter().position(|&a| a == dst)
            {
                return local.nexthops.get(i);
            }
            // Rules 32766 (main) and 32767 (default), whose tables sit at fixed places.
            let main = self.tables[1]
                .1
                .lookup(dst)
                .filter(|nh| nh.kind != RouteKind::Throw);
            return main.or_else(|| {
                let default = self.rules[2].1?;
                self.tables[default]
                    .1
                    .lookup(dst)
                    .filter(|nh| nh.kind != RouteKind::Throw)
            });
        }
        for (_, slot) in &self.rules {
            let Some(index) = *slot else { continue };
            match self.tables[index].1.lookup(dst) {
                Some(nh) if nh.kind != RouteKind::Throw => return Some(nh),
                _ => continue,
            }
        }
        None
    }

    /// The fast path's lookup: while the rules are Linux's defaults and `local` is the short
    /// host list, a destination that is not local gets `main`'s answer here — a `throw` or
    /// other non-unicast kind included, which the caller must not treat as final. `None` means
    /// "ask [`Fib::lookup`]": the rules differ, the destination is local, or `main` has no route
    /// (the `default` table may). So a unicast answer is always what `lookup` would give.
    #[inline(always)]
    pub(crate) fn lookup_main(&self, dst: u32) -> Option<&NextHop> {
        let local = self.fast_local.as_ref()?;
        if local.bloom & bloom_bit(dst) != 0 && local.addrs.contains(&dst) {
            return None;
        }
        self.tables.get(1)?.1.lookup(dst)
    }

    /// Heap bytes of every table and the rule list.
    pub fn mem_bytes(&self) -> usize {
        self.tables.capacity() * size_of::<(TableId, Table)>()
            + self.rules.capacity() * size_of::<(Rule, Option<usize>)>()
            + self
                .tables
                .iter()
                .map(|(_, t)| t.mem_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: [u8; 4], len: u8, kind: RouteKind, dev: u16) -> Route {
        Route {
            prefix: Ipv4Addr::from(prefix),
            len,
            metric: 0,
            nexthop: NextHop {
                kind,
                gateway: None,
                dev: Some(IfaceId(dev)),
                src: None,
            },
        }
    }

    #[test]
    fn throw_falls_through_to_the_next_rule() {
        let mut fib = Fib::new();
        fib.table_mut(TABLE_MAIN)
            .insert(route([10, 0, 0, 0], 8, RouteKind::Throw, 0))
            .unwrap();
        fib.table_mut(TABLE_DEFAULT)
            .insert(route([0, 0, 0, 0], 0, RouteKind::Unicast, 1))
            .unwrap();
        let nh = fib.lookup(Ipv4Addr::new(10, 1, 1, 1)).unwrap();
        assert_eq!(nh.dev, Some(IfaceId(1)));
    }

    #[test]
    fn local_table_wins_over_main() {
        let mut fib = Fib::new();
        fib.table_mut(TABLE_MAIN)
            .insert(route([10, 0, 0, 0], 24, RouteKind::Unicast, 0))
            .unwrap();
        fib.table_mut(TABLE_LOCAL)
            .insert(route([10, 0, 0, 1], 32, RouteKind::Local, 0))
            .unwrap();
        assert_eq!(
            fib.lookup(Ipv4Addr::new(10, 0, 0, 1)).unwrap().kind,
            RouteKind::Local
        );
        assert_eq!(
            fib.lookup(Ipv4Addr::new(10, 0, 0, 2)).unwrap().kind,
            RouteKind::Unicast
        );
        assert!(fib.lookup(Ipv4Addr::new(11, 0, 0, 2)).is_none());
    }

    #[test]
    fn rules_sort_by_priority_and_bind_late_tables() {
        let mut fib = Fib::new();
        fib.add_rule(Rule {
            priority: 100,
            table: 7,
        });
        let order: Vec<u32> = fib.rules().map(|r| r.priority).collect();
        assert_eq!(order, [0, 100, 32766, 32767]);
        fib.table_mut(7)
            .insert(route([0, 0, 0, 0], 0, RouteKind::Prohibit, 0))
            .unwrap();
        assert_eq!(
            fib.lookup(Ipv4Addr::new(1, 2, 3, 4)).unwrap().kind,
            RouteKind::Prohibit
        );
    }
}
