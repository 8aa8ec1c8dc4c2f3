//! One routing table: every route, and the compiled best route per prefix.

use std::net::Ipv4Addr;

use rustc_hash::FxHashMap;

use super::lpm::Lpm;
use super::multipath::Group;
use super::rule::FlowKey;
use super::sorted::SortedMap;
use super::{NextHop, RouteKind};
use crate::router::iface::mask;

/// A route as configured: prefix, metric and next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix (host bits are ignored).
    pub prefix: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub len: u8,
    /// Lower is preferred among routes to the same prefix.
    pub metric: u32,
    /// Where matching packets go.
    pub nexthop: NextHop,
}

/// Why a route was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Prefix length above 32.
    #[error("prefix length {0} is longer than 32")]
    BadPrefixLen(u8),
    /// A unicast route needs a device or a gateway.
    #[error("a unicast route needs a gateway or a device")]
    NoNextHop,
    /// The gateway is not on any connected subnet (of the named device, if one is named).
    #[error("gateway {0} is not on a connected subnet")]
    GatewayNotConnected(Ipv4Addr),
    /// The named device does not exist.
    #[error("no such device")]
    NoSuchDevice,
    /// The table already holds a route to this prefix with this metric (`ip route add`
    /// refuses it: "File exists"; [`Table::insert`] replaces it).
    #[error("a route to this prefix with this metric exists")]
    Exists,
    /// No route matches what was asked to be deleted (`ip route del`: "No such process").
    #[error("no such route")]
    NotFound,
    /// More distinct next hops than the compiled table can index.
    #[error("table already holds the maximum of 65536 distinct next hops")]
    TooManyNextHops,
}

/// `(metric, next-hop id)` pairs for one prefix, best (lowest metric) first. Nearly every prefix
/// has one route, kept inline so a table costs no allocation per prefix; the rare list is boxed
/// so that a slot, and a table's map entry, stays small (16 and 24 bytes).
#[derive(Debug, Clone)]
enum Slot {
    One((u32, u16)),
    #[allow(clippy::box_collection)]
    Many(Box<Vec<(u32, u16)>>),
}

impl Slot {
    fn as_slice(&self) -> &[(u32, u16)] {
        match self {
            Slot::One(pair) => core::slice::from_ref(pair),
            Slot::Many(v) => v,
        }
    }

    fn best(&self) -> (u32, u16) {
        match self {
            Slot::One(pair) => *pair,
            // Many always holds at least two entries (see `remove_metric`).
            Slot::Many(v) => v.first().copied().unwrap_or((0, 0)),
        }
    }

    /// Insert or replace the route with this metric; returns the replaced next-hop id.
    fn upsert(&mut self, metric: u32, nh: u16) -> Option<u16> {
        match self {
            Slot::One((m, old)) if *m == metric => Some(core::mem::replace(old, nh)),
            Slot::One(pair) => {
                let mut v = vec![*pair, (metric, nh)];
                v.sort_by_key(|&(m, _)| m);
                *self = Slot::Many(Box::new(v));
                None
            }
            Slot::Many(v) => match v.binary_search_by_key(&metric, |&(m, _)| m) {
                Ok(i) => Some(core::mem::replace(&mut v[i].1, nh)),
                Err(i) => {
                    v.insert(i, (metric, nh));
                    None
                }
            },
        }
    }

    /// Remove the route with this metric (the best if `None`); returns its id and whether the
    /// slot is now empty.
    fn remove_metric(&mut self, metric: Option<u32>) -> Option<(u32, u16, bool)> {
        match self {
            Slot::One((m, nh)) => {
                (metric.is_none() || metric == Some(*m)).then_some((*m, *nh, true))
            }
            Slot::Many(v) => {
                let i = match metric {
                    None => 0,
                    Some(metric) => v.binary_search_by_key(&metric, |&(m, _)| m).ok()?,
                };
                let (m, nh) = v.remove(i);
                if let [only] = v.as_slice() {
                    *self = Slot::One(*only);
                }
                Some((m, nh, false))
            }
        }
    }
}

/// Most next hops a table finds by scanning its list (see `Table::nexthop_ids`).
const SCAN_MAX: usize = 32;

/// A routing table.
#[derive(Clone, Default)]
pub struct Table {
    lpm: Lpm,
    /// Routes by prefix and length, in order (a sorted array: small tables stay small).
    routes: SortedMap<(u32, u8), Slot>,
    /// Distinct next hops with their reference counts; a count of 0 marks a free id.
    nexthops: Vec<(NextHop, u32)>,
    /// Next hop to id, kept only once there are more than [`SCAN_MAX`] next hops: below, a
    /// scan of `nexthops` finds one as fast and a router's small tables stay small.
    nexthop_ids: FxHashMap<NextHop, u16>,
    free_ids: Vec<u16>,
    /// Multipath groups, named by `NextHop::group`. Equal groups are shared; a group outlives
    /// its routes (a table holds as many as distinct groups were ever configured).
    groups: Vec<Group>,
}

/// A table's lookup form and next hops, borrowed (see [`Table::view`]).
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    lpm: super::lpm::View<'a>,
    nexthops: &'a [(NextHop, u32)],
}

impl<'a> View<'a> {
    /// As [`Table::lookup`].
    #[inline(always)]
    pub(crate) fn lookup(self, dst: u32) -> Option<&'a NextHop> {
        self.nexthop(self.nexthop_id(dst)?)
    }

    /// The id of the preferred next hop for `dst`: the same while the table is unchanged.
    #[inline(always)]
    pub(crate) fn nexthop_id(self, dst: u32) -> Option<u16> {
        self.lpm.lookup(dst)
    }

    /// The next hop with this id.
    #[inline(always)]
    pub(crate) fn nexthop(self, id: u16) -> Option<&'a NextHop> {
        self.nexthops.get(usize::from(id)).map(|(nh, _)| nh)
    }
}

impl core::fmt::Debug for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Table")
            .field("routes", &self.len())
            .field("nexthops", &self.live_nexthops())
            .finish()
    }
}

impl Table {
    /// An empty table; allocates nothing.
    pub fn new() -> Table {
        Table::default()
    }

    /// Number of routes, all metrics counted.
    pub fn len(&self) -> usize {
        self.routes.values().map(|s| s.as_slice().len()).sum()
    }

    /// True when the table holds no route.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Add a route, replacing one with the same prefix, length and metric.
    pub fn insert(&mut self, route: Route) -> Result<(), RouteError> {
        if route.len > 32 {
            return Err(RouteError::BadPrefixLen(route.len));
        }
        let key = (u32::from(route.prefix) & mask(route.len), route.len);
        let id = self.intern(route.nexthop)?;
        let replaced = match self.routes.get_mut(&key) {
            Some(slot) => slot.upsert(route.metric, id),
            None => {
                self.routes.insert(key, Slot::One((route.metric, id)));
                None
            }
        };
        if let Some(old) = replaced {
            self.release(old);
        }
        self.recompile(key);
        Ok(())
    }

    /// Add many routes with one rebuild of the lookup form at the end, as repeated
    /// [`Table::insert`] would leave the table (a later route replaces an earlier one with the
    /// same prefix, length and metric). Stops at the first route refused, leaving those before
    /// it in.
    pub fn extend(&mut self, routes: impl IntoIterator<Item = Route>) -> Result<(), RouteError> {
        let routes = routes.into_iter();
        let mut touched: Vec<(u32, u8)> = Vec::with_capacity(routes.size_hint().0);
        // Prefixes the table does not hold yet, in the order given: merged in one pass at the
        // end, so that thousands of routes cost a sort, not a shift of the array each.
        let mut fresh: Vec<((u32, u8), Slot)> = Vec::new();
        let mut result = Ok(());
        for route in routes {
            if route.len > 32 {
                result = Err(RouteError::BadPrefixLen(route.len));
                break;
            }
            let key = (u32::from(route.prefix) & mask(route.len), route.len);
            let id = match self.intern(route.nexthop) {
                Ok(id) => id,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let replaced = match self.routes.get_mut(&key) {
                Some(slot) => slot.upsert(route.metric, id),
                None => {
                    fresh.push((key, Slot::One((route.metric, id))));
                    None
                }
            };
            if let Some(old) = replaced {
                self.release(old);
            }
            touched.push(key);
        }
        // A prefix given twice: the later routes go into the first one's slot, in order, as
        // repeated inserts would put them.
        fresh.sort_by_key(|(key, _)| *key);
        let mut merged: Vec<((u32, u8), Slot)> = Vec::with_capacity(fresh.len());
        for (key, slot) in fresh {
            match merged.last_mut() {
                Some((last, first)) if *last == key => {
                    let (metric, id) = slot.best();
                    if let Some(old) = first.upsert(metric, id) {
                        self.release(old);
                    }
                }
                _ => merged.push((key, slot)),
            }
        }
        self.routes.merge(merged);
        // Every touched prefix still has a route (nothing was removed): one rebuild.
        let best = touched
            .iter()
            .filter_map(|key| Some((key.0, key.1, self.routes.get(key)?.best().1)));
        self.lpm.extend(best.collect::<Vec<_>>());
        result
    }

    /// Add a multipath route: `route` gives prefix, length, metric and source; `members` the
    /// next hops (each with a device) and their weights. Replaces as [`Table::insert`] does.
    pub fn insert_multipath(
        &mut self,
        mut route: Route,
        members: &[(NextHop, u16)],
    ) -> Result<(), RouteError> {
        if members.is_empty()
            || members
                .iter()
                .any(|(nh, _)| nh.dev.is_none() || nh.group.is_some())
        {
            return Err(RouteError::NoNextHop);
        }
        let group = Group::new(members);
        let id = match self.groups.iter().position(|g| *g == group) {
            Some(i) => i,
            None => {
                self.groups.push(group);
                self.groups.len() - 1
            }
        };
        route.nexthop = NextHop {
            kind: RouteKind::Unicast,
            gateway: None,
            dev: None,
            src: route.nexthop.src,
            group: Some(u16::try_from(id).map_err(|_| RouteError::TooManyNextHops)?),
        };
        self.insert(route)
    }

    /// The multipath group a next hop names.
    pub fn group(&self, nh: &NextHop) -> Option<&Group> {
        self.groups.get(usize::from(nh.group?))
    }

    /// The next hop a flow takes: `nh` itself, or its group's member for this flow.
    #[inline]
    pub fn member<'a>(&'a self, nh: &'a NextHop, key: &FlowKey) -> Option<&'a NextHop> {
        match nh.group {
            None => Some(nh),
            Some(_) => self.group(nh)?.pick(key),
        }
    }

    /// A multipath next hop's first member.
    pub fn first_member(&self, nh: &NextHop) -> Option<&NextHop> {
        self.group(nh)?.members().first().map(|(m, _)| m)
    }

    /// Remove the route to `prefix/len` with `metric` (the preferred one if `None`).
    pub fn remove(&mut self, prefix: Ipv4Addr, len: u8, metric: Option<u32>) -> Option<Route> {
        let key = (u32::from(prefix) & mask(len), len);
        let slot = self.routes.get_mut(&key)?;
        let (metric, id, empty) = slot.remove_metric(metric)?;
        if empty {
            self.routes.remove(&key);
        }
        let nexthop = self.nexthops[usize::from(id)].0;
        self.release(id);
        self.recompile(key);
        Some(Route {
            prefix: Ipv4Addr::from(key.0),
            len,
            metric,
            nexthop,
        })
    }

    /// Remove every route whose next hop matches `pred`; returns how many went.
    pub fn remove_where(&mut self, pred: impl Fn(&NextHop) -> bool) -> usize {
        let doomed: Vec<Route> = self.routes().filter(|r| pred(&r.nexthop)).collect();
        for r in &doomed {
            self.remove(r.prefix, r.len, Some(r.metric));
        }
        doomed.len()
    }

    /// The preferred next hop for `dst` (host order), by longest prefix.
    #[inline(always)]
    pub fn lookup(&self, dst: u32) -> Option<&NextHop> {
        self.view().lookup(dst)
    }

    /// What a lookup reads, borrowed once for many lookups in a row.
    #[inline(always)]
    pub(crate) fn view(&self) -> View<'_> {
        View {
            lpm: self.lpm.view(),
            nexthops: &self.nexthops,
        }
    }

    /// Is there a route to `prefix/len` (host bits ignored) with this metric?
    pub fn contains(&self, prefix: Ipv4Addr, len: u8, metric: u32) -> bool {
        self.routes
            .get(&(u32::from(prefix) & mask(len), len))
            .is_some_and(|slot| slot.as_slice().iter().any(|&(m, _)| m == metric))
    }

    /// Length of the longest prefix holding `dst` (what `suppress_prefixlength` compares):
    /// up to 33 probes of the route map, so only rules that suppress pay for it.
    pub fn matched_len(&self, dst: u32) -> Option<u8> {
        (0..=32u8)
            .rev()
            .find(|&len| self.routes.contains_key(&(dst & mask(len), len)))
    }

    /// Every route, preferred first within a prefix; prefixes in order of address, then
    /// length.
    pub fn routes(&self) -> impl Iterator<Item = Route> + '_ {
        self.routes.iter().flat_map(move |(&(prefix, len), slot)| {
            slot.as_slice().iter().map(move |&(metric, id)| Route {
                prefix: Ipv4Addr::from(prefix),
                len,
                metric,
                nexthop: self.nexthops[usize::from(id)].0,
            })
        })
    }

    /// Heap bytes held by the table, the compiled LPM included.
    pub fn mem_bytes(&self) -> usize {
        let map = |cap: usize, entry: usize| if cap == 0 { 0 } else { cap * (entry + 1) + 16 };
        let many: usize = self
            .routes
            .values()
            .map(|s| match s {
                Slot::Many(v) => {
                    size_of::<Vec<(u32, u16)>>() + v.capacity() * size_of::<(u32, u16)>()
                }
                Slot::One(_) => 0,
            })
            .sum();
        self.lpm.mem_bytes()
            + self.routes.capacity() * size_of::<((u32, u8), Slot)>()
            + many
            + self.nexthops.capacity() * size_of::<(NextHop, u32)>()
            + map(self.nexthop_ids.capacity(), size_of::<(NextHop, u16)>())
            + self.free_ids.capacity() * size_of::<u16>()
            + self.groups.capacity() * size_of::<Group>()
            + self.groups.iter().map(Group::mem_bytes).sum::<usize>()
    }

    /// Make the LPM agree with the preferred route for `key`.
    fn recompile(&mut self, key: (u32, u8)) {
        match self.routes.get(&key) {
            Some(slot) => {
                self.lpm.insert(key.0, key.1, slot.best().1);
            }
            None => {
                self.lpm.remove(key.0, key.1);
            }
        }
    }

    /// Distinct next hops in use.
    fn live_nexthops(&self) -> usize {
        self.nexthops.iter().filter(|(_, refs)| *refs > 0).count()
    }

    /// The id of a next hop in use.
    fn find(&self, nh: &NextHop) -> Option<u16> {
        if self.nexthops.len() > SCAN_MAX {
            return self.nexthop_ids.get(nh).copied();
        }
        (self.nexthops.iter())
            .position(|(n, refs)| *refs > 0 && n == nh)
            .map(|i| i as u16)
    }

    fn intern(&mut self, nh: NextHop) -> Result<u16, RouteError> {
        if let Some(id) = self.find(&nh) {
            self.nexthops[usize::from(id)].1 += 1;
            return Ok(id);
        }
        let id = match self.free_ids.pop() {
            Some(id) => {
                self.nexthops[usize::from(id)] = (nh, 1);
                id
            }
            None => {
                let id =
                    u16::try_from(self.nexthops.len()).map_err(|_| RouteError::TooManyNextHops)?;
                self.nexthops.push((nh, 1));
                id
            }
        };
        if self.nexthops.len() > SCAN_MAX {
            if self.nexthop_ids.is_empty() {
                // Past the scan's reach: index every next hop in use from now on.
                for (i, (n, refs)) in self.nexthops.iter().enumerate() {
                    if *refs > 0 {
                        self.nexthop_ids.insert(*n, i as u16);
                    }
                }
            }
            self.nexthop_ids.insert(nh, id);
        }
        Ok(id)
    }

    fn release(&mut self, id: u16) {
        let entry = &mut self.nexthops[usize::from(id)];
        entry.1 -= 1;
        if entry.1 == 0 {
            if !self.nexthop_ids.is_empty() {
                self.nexthop_ids.remove(&entry.0);
            }
            self.free_ids.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::RouteKind;
    use super::*;
    use crate::router::iface::IfaceId;

    fn via(gw: [u8; 4]) -> NextHop {
        NextHop {
            kind: RouteKind::Unicast,
            gateway: Some(Ipv4Addr::from(gw)),
            dev: Some(IfaceId(0)),
            src: None,
            group: None,
        }
    }

    fn route(prefix: [u8; 4], len: u8, metric: u32, nexthop: NextHop) -> Route {
        Route {
            prefix: Ipv4Addr::from(prefix),
            len,
            metric,
            nexthop,
        }
    }

    #[test]
    fn contains_knows_prefix_and_metric() {
        let mut t = Table::new();
        t.insert(route([10, 0, 0, 0], 8, 20, via([1, 1, 1, 1])))
            .unwrap();
        assert!(t.contains(Ipv4Addr::new(10, 0, 0, 0), 8, 20));
        assert!(t.contains(Ipv4Addr::new(10, 1, 0, 0), 8, 20));
        assert!(!t.contains(Ipv4Addr::new(10, 0, 0, 0), 8, 0));
        assert!(!t.contains(Ipv4Addr::new(10, 0, 0, 0), 16, 20));
    }

    #[test]
    fn lowest_metric_wins_and_removal_restores_the_next() {
        let mut t = Table::new();
        t.insert(route([10, 0, 0, 0], 8, 20, via([1, 1, 1, 1])))
            .unwrap();
        t.insert(route([10, 0, 0, 0], 8, 10, via([2, 2, 2, 2])))
            .unwrap();
        let dst = u32::from(Ipv4Addr::new(10, 9, 9, 9));
        assert_eq!(
            t.lookup(dst).unwrap().gateway,
            Some(Ipv4Addr::new(2, 2, 2, 2))
        );
        assert_eq!(t.len(), 2);
        let gone = t.remove(Ipv4Addr::new(10, 0, 0, 0), 8, None).unwrap();
        assert_eq!(gone.metric, 10);
        assert_eq!(
            t.lookup(dst).unwrap().gateway,
            Some(Ipv4Addr::new(1, 1, 1, 1))
        );
        t.remove(Ipv4Addr::new(10, 0, 0, 0), 8, Some(20)).unwrap();
        assert!(t.lookup(dst).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn same_metric_replaces_and_next_hops_are_shared_and_recycled() {
        let mut t = Table::new();
        for i in 0..100u8 {
            t.insert(route([10, i, 0, 0], 16, 0, via([1, 1, 1, 1])))
                .unwrap();
        }
        assert_eq!(t.nexthops.len(), 1);
        t.insert(route([10, 5, 0, 0], 16, 0, via([3, 3, 3, 3])))
            .unwrap();
        assert_eq!(t.len(), 100);
        assert_eq!(t.live_nexthops(), 2);
        t.remove(Ipv4Addr::new(10, 5, 0, 0), 16, None).unwrap();
        assert_eq!(t.live_nexthops(), 1);
        assert_eq!(t.free_ids, [1]);
        t.insert(route([10, 5, 0, 0], 16, 0, via([4, 4, 4, 4])))
            .unwrap();
        assert_eq!(t.nexthops.len(), 2);
    }

    #[test]
    fn host_bits_are_ignored_and_bad_lengths_refused() {
        let mut t = Table::new();
        t.insert(route([10, 1, 2, 3], 8, 0, via([1, 1, 1, 1])))
            .unwrap();
        assert_eq!(
            t.routes().next().unwrap().prefix,
            Ipv4Addr::new(10, 0, 0, 0)
        );
        assert_eq!(
            t.insert(route([10, 0, 0, 0], 33, 0, via([1, 1, 1, 1]))),
            Err(RouteError::BadPrefixLen(33))
        );
        assert_eq!(t.remove_where(|nh| nh.gateway.is_some()), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn ten_route_table_is_small() {
        let mut t = Table::new();
        assert_eq!(t.mem_bytes(), 0);
        for i in 0..10u8 {
            t.insert(route([10, i, 0, 0], 16, 0, via([1, 1, 1, i % 3])))
                .unwrap();
        }
        assert!(
            t.mem_bytes() <= 2048,
            "10-route table costs {} bytes",
            t.mem_bytes()
        );
    }
}
