//! Forwarding information: routing tables and the rules that choose among them.
//!
//! Like Linux, an instance holds several tables identified by a 32-bit id (`local` 255, `main`
//! 254 and `default` 253 always exist) and walks a list of rules in priority order; each rule
//! names a table, and a lookup that finds nothing (or a `throw` route) falls through to the next
//! rule. Rules select packets by source, destination, TOS, interfaces, firewall mark, protocol
//! and ports, and may jump, do nothing or refuse (see [`rule`]); [`Fib::route`] walks them
//! exactly as Linux's `fib_rules_lookup` does.
//!
//! A [`Table`] keeps every route (several per prefix, ordered by metric) and compiles the best
//! per prefix into an [`lpm::Lpm`] whose values index a deduplicated next-hop array, so the
//! per-packet lookup touches the LPM and one small array.

pub mod lpm;
mod multipath;
pub mod rule;
mod rule_syntax;
mod sorted;
mod syntax;
mod table;
mod words;

pub use multipath::{Group, flow_hash};
pub use rule::{Action, Dev, FlowKey, PROTO_KERNEL, Rule, Selector};
pub use rule_syntax::{parse_mark, parse_rule};
pub use syntax::{ParsedRoute, parse_prefix, parse_route, parse_route_in, parse_table};
pub use table::{Route, RouteError, Table};
pub use words::{ParseError, TableNames};

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
    /// A multipath route's group of next hops in its table (gateway and device are then
    /// unset): [`Fib::route`] answers with the member the flow hashes to.
    pub group: Option<u16>,
}

impl NextHop {
    /// A next hop of a kind that carries no gateway or device.
    pub const fn of_kind(kind: RouteKind) -> NextHop {
        NextHop {
            kind,
            gateway: None,
            dev: None,
            src: None,
            group: None,
        }
    }
}

/// What a rule action that refuses a packet stands for, as a next hop of that kind.
static BLACKHOLE: NextHop = NextHop::of_kind(RouteKind::Blackhole);
static PROHIBIT: NextHop = NextHop::of_kind(RouteKind::Prohibit);

/// The answer of the rule walk: the next hop and the table it came from (0 when a rule's own
/// action answered: blackhole or prohibit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed<'a> {
    pub nexthop: &'a NextHop,
    pub table: TableId,
    /// The multipath route's group, when `nexthop` is the member this flow hashed to.
    pub group: Option<&'a Group>,
}

/// Why a rule was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// `goto` must jump forward.
    #[error("goto {target} from priority {priority}: the target must come later")]
    GotoBackwards {
        /// The rule's priority.
        priority: u32,
        /// Its target.
        target: u32,
    },
    /// The same rule exists (Linux: "File exists").
    #[error("the rule already exists")]
    Exists,
    /// No rule matches what was asked to be deleted (`ip rule del`: "No such file or
    /// directory").
    #[error("no such rule")]
    NotFound,
}

/// The tables of one instance and the rules over them.
#[derive(Debug, Clone)]
pub struct Fib {
    tables: Vec<(TableId, Table)>,
    /// Rules with the index of their table in `tables` (None until that table exists).
    rules: Vec<(Rule, Option<usize>)>,
    /// Each rule's selector compiled, in the same order.
    matchers: Vec<rule::Matcher>,
    /// The rules are Linux's three defaults.
    default_rules: bool,
    /// The `local` table as a short list of host routes, while it holds only a few /32s (what
    /// addresses put there): a rule that looks in `local` scans it. With the default rules a
    /// lookup is then this scan plus one `main` lookup, as Linux gets by merging its local and
    /// main tries.
    local_list: Option<FastLocal>,
    /// Interface groups, by interface index, for `suppress_ifgroup`.
    groups: Vec<u32>,
    /// Bumped by every change that can change an answer (never 0).
    generation: u64,
    names: TableNames,
}

/// `local`'s host routes, addresses apart from next hops so the per-packet scan reads one
/// contiguous run of `u32`s.
#[derive(Debug, Clone, Default)]
struct FastLocal {
    /// One bit per address (see [`bloom_bit`]): a destination whose bit is clear is not local,
    /// which is what nearly every forwarded packet learns here, in a few instructions.
    bloom: u64,
    addrs: Vec<u32>,
    nexthops: Vec<NextHop>,
}

impl FastLocal {
    /// The host route for `dst`, if `local` has one.
    #[inline]
    fn lookup(&self, dst: u32) -> Option<&NextHop> {
        if self.bloom & bloom_bit(dst) == 0 {
            return None;
        }
        let i = self.addrs.iter().position(|&a| a == dst)?;
        self.nexthops.get(i)
    }
}

/// `main` as the fast path asks it, with the short `local` list in front (see
/// [`Fib::main_view`]).
#[derive(Clone, Copy)]
pub(crate) struct MainView<'a> {
    local_bloom: u64,
    local_addrs: &'a [u32],
    main: table::View<'a>,
}

impl<'a> MainView<'a> {
    /// A destination that is not local gets the id of `main`'s answer here (see
    /// [`MainView::nexthop`]) — a `throw` or other non-unicast kind included, which the caller
    /// must not treat as final. `None` means "ask [`Fib::lookup`]": the destination is local,
    /// or `main` has no route (the `default` table may). So a unicast answer is always what
    /// `lookup` would give. An id names the same next hop until [`Fib::generation`] changes.
    #[inline(always)]
    pub(crate) fn nexthop_id(&self, dst: u32) -> Option<u16> {
        if self.local_bloom & bloom_bit(dst) != 0 && self.local_addrs.contains(&dst) {
            return None;
        }
        self.main.nexthop_id(dst)
    }

    /// The next hop of `main` with this id.
    #[inline(always)]
    pub(crate) fn nexthop(&self, id: u16) -> Option<&'a NextHop> {
        self.main.nexthop(id)
    }
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
            matchers: Vec::with_capacity(3),
            default_rules: false,
            local_list: None,
            groups: Vec::new(),
            generation: 1,
            names: TableNames::default(),
        };
        fib.table_mut(TABLE_LOCAL);
        fib.table_mut(TABLE_MAIN);
        for (priority, table) in DEFAULT_RULES {
            fib.insert_rule(Rule {
                protocol: PROTO_KERNEL,
                ..Rule::lookup(priority, table)
            });
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

    /// Add a multipath route to a table (created if missing); see [`Table::insert_multipath`].
    pub fn insert_multipath(
        &mut self,
        table: TableId,
        route: Route,
        members: &[(NextHop, u16)],
    ) -> Result<(), RouteError> {
        let result = self.table_mut(table).insert_multipath(route, members);
        self.refresh(table);
        result
    }

    /// Add a route to a table (created if missing); see [`Table::insert`].
    pub fn insert(&mut self, table: TableId, route: Route) -> Result<(), RouteError> {
        let result = self.table_mut(table).insert(route);
        self.refresh(table);
        result
    }

    /// Add many routes to a table (created if missing) at once; see [`Table::extend`].
    pub fn extend(
        &mut self,
        table: TableId,
        routes: impl IntoIterator<Item = Route>,
    ) -> Result<(), RouteError> {
        let result = self.table_mut(table).extend(routes);
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

    /// Recompute the short local list after `table` changed.
    fn refresh(&mut self, table: TableId) {
        self.touch();
        if table != TABLE_LOCAL {
            return;
        }
        // Refilled in place: an instance's addresses are added one by one.
        let mut list = self.local_list.take().unwrap_or_default();
        self.local_list = match self.table(TABLE_LOCAL) {
            Some(t) if t.len() <= FAST_LOCAL_MAX && t.routes().all(|r| r.len == 32) => {
                list.addrs.clear();
                list.nexthops.clear();
                for r in t.routes() {
                    list.addrs.push(u32::from(r.prefix));
                    list.nexthops.push(r.nexthop);
                }
                list.bloom = list.addrs.iter().fold(0, |m, &a| m | bloom_bit(a));
                Some(list)
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
                    if rule.table() == Some(id) {
                        *slot = Some(i);
                    }
                }
                i
            }
        };
        &mut self.tables[index].1
    }

    /// Note that answers may have changed (see [`Fib::generation`]).
    pub(crate) fn touch(&mut self) {
        self.generation += 1;
    }

    /// A number that changes whenever an answer of [`Fib::route`] may have: routes, rules or
    /// interface groups changed (or the owner called `touch` for its own reasons).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Note whether the rules are Linux's three defaults, after they changed.
    fn rules_changed(&mut self) {
        self.touch();
        self.default_rules = self.rules.len() == DEFAULT_RULES.len()
            && self
                .rules
                .iter()
                .zip(DEFAULT_RULES)
                .all(|((r, _), (p, t))| r.priority == p && r.is_plain() && r.table() == Some(t));
    }

    /// The short local list, when the default rules let it answer for the whole walk.
    #[inline]
    fn fast_local(&self) -> Option<&FastLocal> {
        self.local_list.as_ref().filter(|_| self.default_rules)
    }

    /// Add a rule; rules of equal priority keep insertion order, like `ip rule add`. A `goto`
    /// must jump forward, and a rule Linux would take for an existing one (see
    /// [`Rule::duplicates`]) is refused, as Linux refuses both.
    pub fn add_rule(&mut self, rule: Rule) -> Result<(), RuleError> {
        if let Action::Goto(target) = rule.action
            && target <= rule.priority
        {
            return Err(RuleError::GotoBackwards {
                priority: rule.priority,
                target,
            });
        }
        if self.rules.iter().any(|(r, _)| rule.duplicates(r)) {
            return Err(RuleError::Exists);
        }
        self.insert_rule(rule);
        Ok(())
    }

    /// Remove the first rule equal to `rule`, whoever made it (its protocol is not compared);
    /// returns whether there was one.
    pub fn remove_rule(&mut self, rule: &Rule) -> bool {
        let same = |r: &Rule| {
            *r == Rule {
                protocol: r.protocol,
                ..*rule
            }
        };
        let Some(i) = self.rules.iter().position(|(r, _)| same(r)) else {
            return false;
        };
        self.rules.remove(i);
        self.matchers.remove(i);
        self.rules_changed();
        true
    }

    fn insert_rule(&mut self, rule: Rule) {
        let slot = rule
            .table()
            .and_then(|id| self.tables.iter().position(|(t, _)| *t == id));
        let at = self
            .rules
            .partition_point(|(r, _)| r.priority <= rule.priority);
        self.rules.insert(at, (rule, slot));
        self.matchers.insert(at, rule::Matcher::new(&rule.selector));
        self.rules_changed();
    }

    /// The priority `ip rule add` gives a rule that names none: one below the second rule's
    /// (32765 with Linux's defaults), or 0.
    pub fn default_rule_priority(&self) -> u32 {
        match self.rules.get(1) {
            Some((r, _)) if r.priority > 0 => r.priority - 1,
            _ => 0,
        }
    }

    /// Set the group of an interface (`ip link set DEV group G`), for `suppress_ifgroup`.
    pub fn set_group(&mut self, iface: IfaceId, group: u32) {
        let i = usize::from(iface.0);
        if self.groups.len() <= i {
            self.groups.resize(i + 1, 0);
        }
        self.groups[i] = group;
        self.touch();
    }

    /// Name a table (`lookup isp1`).
    pub fn name_table(&mut self, name: &str, id: TableId) {
        self.names.add(name, id);
    }

    /// The table names.
    pub fn names(&self) -> &TableNames {
        &self.names
    }

    fn group(&self, iface: IfaceId) -> u32 {
        self.groups.get(usize::from(iface.0)).copied().unwrap_or(0)
    }

    /// The rules, in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = Rule> + '_ {
        self.rules.iter().map(|(r, _)| *r)
    }

    /// Every table with its id.
    pub fn tables(&self) -> impl Iterator<Item = (TableId, &Table)> {
        self.tables.iter().map(|(id, t)| (*id, t))
    }

    /// Route `dst` through the rules for a packet that carries nothing else a rule could
    /// select on (see [`Fib::route`] for the whole key).
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&NextHop> {
        self.route(&FlowKey::to(dst)).map(|r| r.nexthop)
    }

    /// Route a packet through the rules, as Linux's `fib_lookup` does: the first rule that
    /// matches and answers decides; a table with no route for the destination, or a `throw`
    /// route, or an answer the rule suppresses, lets the walk go on. `None` is "network
    /// unreachable": no rule answered, or an `unreachable` rule did.
    pub fn route(&self, key: &FlowKey) -> Option<Routed<'_>> {
        if let Some(local) = self.fast_local() {
            // Only Linux's default rules, none of which selects: the plain walk is exact.
            return self.lookup_plain(local, key);
        }
        let dst = u32::from(key.dst);
        let packed = rule::PackedKey::new(key);
        let mut i = 0;
        while let Some((rule, slot)) = self.rules.get(i) {
            i += 1;
            if !self.matchers[i - 1].matches(&packed) {
                continue;
            }
            match rule.action {
                Action::Goto(target) => {
                    // The first rule of that priority is evaluated next; none: carry on.
                    if let Some(j) = self.rules.iter().position(|(r, _)| r.priority == target) {
                        i = j;
                    }
                }
                Action::Nop => {}
                Action::Blackhole => {
                    return Some(Routed {
                        nexthop: &BLACKHOLE,
                        table: 0,
                        group: None,
                    });
                }
                Action::Prohibit => {
                    return Some(Routed {
                        nexthop: &PROHIBIT,
                        table: 0,
                        group: None,
                    });
                }
                Action::Unreachable => return None,
                Action::Lookup(id) => {
                    let Some(table) = slot.map(|s| &self.tables[s].1) else {
                        continue;
                    };
                    let found = match &self.local_list {
                        Some(list) if id == TABLE_LOCAL => list.lookup(dst),
                        _ => table.lookup(dst),
                    };
                    let Some(nexthop) = found else {
                        continue;
                    };
                    let answered = matches!(
                        nexthop.kind,
                        RouteKind::Unicast | RouteKind::Local | RouteKind::Broadcast
                    );
                    if nexthop.kind == RouteKind::Throw
                        || (answered && self.suppressed(rule, table, dst, nexthop))
                    {
                        continue;
                    }
                    let group = table.group(nexthop);
                    let nexthop = table.member(nexthop, key)?;
                    return Some(Routed {
                        nexthop,
                        table: id,
                        group,
                    });
                }
            }
        }
        None
    }

    /// Does `rule` ignore this answer of `table`?
    fn suppressed(&self, rule: &Rule, table: &Table, dst: u32, nexthop: &NextHop) -> bool {
        let too_general = rule
            .suppress_prefixlength
            .is_some_and(|max| table.matched_len(dst).is_some_and(|len| len <= max));
        // Linux looks at the first next hop's device, multipath or not.
        let dev = match nexthop.group {
            Some(_) => table.first_member(nexthop).and_then(|nh| nh.dev),
            None => nexthop.dev,
        };
        let group = rule
            .suppress_ifgroup
            .is_some_and(|g| dev.is_some_and(|d| self.group(d) == g));
        too_general || group
    }

    /// The walk over Linux's default rules with `local` as the short host list.
    #[inline]
    fn lookup_plain<'a>(&'a self, local: &'a FastLocal, key: &FlowKey) -> Option<Routed<'a>> {
        let dst = u32::from(key.dst);
        if let Some(nexthop) = local.lookup(dst) {
            return Some(Routed {
                nexthop,
                table: TABLE_LOCAL,
                group: None,
            });
        }
        // Rules 32766 (main) and 32767 (default), whose tables sit at fixed places.
        let answer = |index: usize, table| {
            let t = &self.tables[index].1;
            let nexthop = t.lookup(dst).filter(|nh| nh.kind != RouteKind::Throw)?;
            Some(Routed {
                nexthop: t.member(nexthop, key)?,
                table,
                group: t.group(nexthop),
            })
        };
        answer(1, TABLE_MAIN).or_else(|| answer(self.rules[2].1?, TABLE_DEFAULT))
    }

    /// True when a lookup walks the rules one by one (they are not Linux's defaults, or
    /// `local` is too large for the short list): then only [`Fib::route`] with the packet's
    /// whole key answers.
    #[inline]
    pub fn walks_rules(&self) -> bool {
        self.fast_local().is_none()
    }

    /// The fast path's view of `main`, taken once for a run of frames: `None` while the rules
    /// are not Linux's defaults or `local` is not the short host list (then only
    /// [`Fib::route`] answers; see [`Fib::walks_rules`]).
    #[inline(always)]
    pub(crate) fn main_view(&self) -> Option<MainView<'_>> {
        let local = self.fast_local()?;
        Some(MainView {
            local_bloom: local.bloom,
            local_addrs: &local.addrs,
            main: self.tables.get(1)?.1.view(),
        })
    }

    /// Heap bytes of every table and the rule list.
    pub fn mem_bytes(&self) -> usize {
        self.tables.capacity() * size_of::<(TableId, Table)>()
            + self.rules.capacity() * size_of::<(Rule, Option<usize>)>()
            + self.matchers.capacity() * size_of::<rule::Matcher>()
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
                group: None,
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
        fib.add_rule(Rule::lookup(100, 7)).unwrap();
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

    fn rule(text: &str) -> Rule {
        let dev = |n: &str| {
            n.strip_prefix("eth")
                .and_then(|i| i.parse().ok())
                .map(IfaceId)
        };
        parse_rule(text, dev, &TableNames::default(), 100).unwrap()
    }

    fn key(src: [u8; 4], dst: [u8; 4]) -> FlowKey {
        FlowKey {
            src: Ipv4Addr::from(src),
            iif: Some(IfaceId(0)),
            ..FlowKey::to(Ipv4Addr::from(dst))
        }
    }

    #[test]
    fn the_walk_follows_linux() {
        let mut fib = Fib::new();
        fib.insert(TABLE_MAIN, route([0, 0, 0, 0], 0, RouteKind::Unicast, 0))
            .unwrap();
        fib.insert(10, route([10, 0, 0, 0], 8, RouteKind::Unicast, 1))
            .unwrap();
        fib.insert(10, route([10, 9, 0, 0], 16, RouteKind::Throw, 1))
            .unwrap();
        fib.insert(20, route([10, 8, 0, 0], 16, RouteKind::Unreachable, 0))
            .unwrap();
        for r in [
            "from 192.168.0.0/16 pref 10 lookup 10",
            "from 192.168.8.0/24 pref 5 goto 10",
            "fwmark 0x1/0x1 pref 20 lookup 20",
            "from 172.16.0.0/12 pref 30 prohibit",
            "not iif eth0 pref 40 blackhole",
            "to 10.7.0.0/16 pref 50 lookup 10 suppress_prefixlength 8",
        ] {
            fib.add_rule(rule(r)).unwrap();
        }
        let dev = |k: &FlowKey| {
            fib.route(k)
                .map(|r| (r.nexthop.kind, r.nexthop.dev, r.table))
        };
        let uni = |d, t| Some((RouteKind::Unicast, Some(IfaceId(d)), t));
        // Rule 10 answers from table 10; a throw there falls through to main.
        assert_eq!(dev(&key([192, 168, 1, 1], [10, 1, 1, 1])), uni(1, 10));
        assert_eq!(
            dev(&key([192, 168, 1, 1], [10, 9, 1, 1])),
            uni(0, TABLE_MAIN)
        );
        // goto 10 jumps into rule 10, which matches too.
        assert_eq!(dev(&key([192, 168, 8, 1], [10, 1, 1, 1])), uni(1, 10));
        // The mark rule finds an unreachable route: final.
        let mut k = key([1, 1, 1, 1], [10, 8, 0, 1]);
        k.mark = 3;
        assert_eq!(
            fib.route(&k).map(|r| r.nexthop.kind),
            Some(RouteKind::Unreachable)
        );
        k.mark = 2;
        assert_eq!(dev(&k), uni(0, TABLE_MAIN));
        assert_eq!(
            dev(&key([172, 16, 0, 1], [8, 8, 8, 8])).map(|d| d.0),
            Some(RouteKind::Prohibit)
        );
        let mut k = key([1, 1, 1, 1], [8, 8, 8, 8]);
        k.iif = Some(IfaceId(1));
        assert_eq!(dev(&k).map(|d| d.0), Some(RouteKind::Blackhole));
        // A /8 answer is suppressed by suppress_prefixlength 8: main answers instead.
        assert_eq!(dev(&key([1, 1, 1, 1], [10, 7, 0, 1])), uni(0, TABLE_MAIN));
        // An unreachable rule is "network unreachable", like no route at all.
        fib.add_rule(rule("to 9.9.9.9 pref 1 unreachable")).unwrap();
        assert_eq!(fib.route(&key([1, 1, 1, 1], [9, 9, 9, 9])), None);
    }

    #[test]
    fn rules_are_checked_as_linux_checks_them() {
        let mut fib = Fib::new();
        assert_eq!(fib.default_rule_priority(), 32765);
        assert!(matches!(
            fib.add_rule(rule("pref 100 goto 50")),
            Err(RuleError::GotoBackwards { .. })
        ));
        fib.add_rule(rule("from 10.0.0.0/8 lookup 7")).unwrap();
        assert_eq!(
            fib.add_rule(rule("from 10.0.0.0/8 lookup 7")),
            Err(RuleError::Exists)
        );
        assert_eq!(fib.default_rule_priority(), 99);
        // The initial rules are the kernel's: the same rule added once more is not a duplicate
        // (Linux 6.18 accepts `ip rule add pref 32766 table main` once, then "File exists").
        fib.add_rule(Rule::lookup(32766, TABLE_MAIN)).unwrap();
        assert_eq!(
            fib.add_rule(Rule::lookup(32766, TABLE_MAIN)),
            Err(RuleError::Exists)
        );
        assert!(fib.remove_rule(&rule("from 10.0.0.0/8 lookup 7")));
    }

    #[test]
    fn suppress_ifgroup_looks_at_the_egress_group() {
        let mut fib = Fib::new();
        fib.insert(TABLE_MAIN, route([0, 0, 0, 0], 0, RouteKind::Unicast, 1))
            .unwrap();
        fib.insert(TABLE_DEFAULT, route([0, 0, 0, 0], 0, RouteKind::Unicast, 0))
            .unwrap();
        fib.add_rule(rule("pref 10 lookup main suppress_ifgroup 5"))
            .unwrap();
        let k = key([1, 1, 1, 1], [8, 8, 8, 8]);
        assert_eq!(fib.route(&k).unwrap().table, TABLE_MAIN);
        fib.set_group(IfaceId(1), 5);
        // Rule 10 is suppressed; rule 32766 (main, no suppression) answers the same route.
        assert_eq!(fib.route(&k).unwrap().table, TABLE_MAIN);
        fib.remove_rule(&Rule::lookup(32766, TABLE_MAIN));
        assert_eq!(fib.route(&k).unwrap().table, TABLE_DEFAULT);
    }
}
