//! One router instance: interfaces, addresses, ARP cache, routing tables, and the batch
//! pipeline that turns received frames into actions.
//!
//! The instance is sans-IO. It never makes a syscall and never reads a clock: the caller hands
//! in `now`, a [`Batch`] of frames received on one interface and the [`Pool`] they live in, and
//! gets back [`Action`]s — transmit this frame on that interface, deliver it to the local
//! application, or drop it for a [`DropReason`]. Timers (ARP retries, probes, aging) surface as
//! [`Router::poll_timeout`] / [`Router::handle_timeout`]. The same instance therefore runs on real
//! ports, in tests and in a virtual-time simulation.
//!
//! Forwarding follows RFC 1812 (read sections 4.2.2 and 5.2–5.3) and, where RFC leaves room,
//! Linux's defaults, so that a Linux host cannot tell a shoal router from a Linux one:
//! validation and martian filtering, TTL expiry answered from the ingress interface's address,
//! ICMP errors quoting up to 576 bytes and never about ICMP errors, broadcasts, multicasts or
//! non-first fragments, Linux's ICMP rate limits, fragmentation when DF is clear.
//!
//! Frames are rewritten in place: TTL and checksum (RFC 1624), MAC addresses, and even ICMP
//! errors, which are built in the headroom in front of the packet they quote.

mod adjacency;
mod arp;
mod counters;
mod fast;
pub mod fib;
mod flow_cache;
mod forward;
mod icmp;
mod iface;
mod input;
mod local;
pub mod mark;
mod meta;
pub mod neigh;
mod options;
mod originate;
mod output;
mod ratelimit;
mod reasm;

pub use counters::{Counters, DropReason, drops_line};
pub use fib::{Fib, NextHop, Route, RouteError, RouteKind, TableId};
pub use iface::{IfAddr, Iface, IfaceCounters, IfaceId, mask};
pub use neigh::NeighConfig;
pub use originate::{SendError, SendOptions};
pub use ratelimit::IcmpConfig;
pub use reasm::ReasmConfig;

use std::net::Ipv4Addr;

use crate::frame::{Batch, Frame, Pool};
use crate::time::Instant;
use crate::wire::ethernet;
use fast::Tally;
use neigh::{Event, NeighCache};
use ratelimit::RateLimiter;
use reasm::Reassembler;

/// What the router asks its caller to do with a frame.
#[derive(Debug)]
pub enum Action {
    /// Send the frame out of this interface.
    Transmit {
        /// Egress interface.
        iface: IfaceId,
        /// A complete Ethernet frame.
        frame: Frame,
    },
    /// Hand the frame to the local application (echo replies, ICMP errors, UDP to a port it
    /// listens on). The frame starts with its Ethernet header.
    Deliver {
        /// Interface it arrived on.
        iface: IfaceId,
        /// The received frame.
        frame: Frame,
    },
    /// The frame goes no further; return it to the pool.
    Drop {
        /// The frame.
        frame: Frame,
        /// Why (already counted in [`Counters::drops`]).
        reason: DropReason,
    },
}

/// Behaviour switches and timings of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Forward packets not addressed to us (`net.ipv4.ip_forward`); off makes a host.
    pub forwarding: bool,
    /// TTL of packets this instance originates (`net.ipv4.ip_default_ttl`).
    pub default_ttl: u8,
    /// Send ICMP host redirects to a sender on the link a packet leaves by again
    /// (`net.ipv4.conf.*.send_redirects`).
    pub send_redirects: bool,
    /// ARP timings.
    pub neigh: NeighConfig,
    /// ICMP error rate limits.
    pub icmp: IcmpConfig,
    /// Reassembly limits.
    pub reasm: ReasmConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            forwarding: true,
            default_ttl: 64,
            send_redirects: true,
            neigh: NeighConfig::default(),
            icmp: IcmpConfig::default(),
            reasm: ReasmConfig::default(),
        }
    }
}

impl Config {
    /// A host: the defaults with forwarding off.
    pub fn host() -> Config {
        Config {
            forwarding: false,
            ..Config::default()
        }
    }
}

/// Why a configuration change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Another interface has this name.
    #[error("interface {0} already exists")]
    DuplicateIface(String),
    /// No interface has this id or name.
    #[error("no such interface {0}")]
    NoSuchIface(String),
    /// A router has at most 65535 interfaces.
    #[error("too many interfaces")]
    TooManyIfaces,
    /// MTU below the IPv4 minimum of 68 or above what a frame buffer holds.
    #[error("MTU {0} is outside 68..={max}", max = crate::frame::MAX_DATA - ethernet::HEADER_LEN)]
    BadMtu(u16),
    /// A VLAN id outside 1..=4094, or a sub-interface of a sub-interface.
    #[error("VLAN {0} is outside 1..=4094 or its parent is a VLAN sub-interface")]
    BadVlan(u16),
    /// Interface MAC must be unicast.
    #[error("interface address {0} is not unicast")]
    BadMac(ethernet::Address),
    /// The address is already configured on this instance.
    #[error("address {0} is already configured")]
    DuplicateAddr(IfAddr),
    /// A route was refused.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A route's text did not parse.
    #[error(transparent)]
    Syntax(#[from] fib::ParseError),
    /// A rule was refused.
    #[error(transparent)]
    Rule(#[from] fib::RuleError),
}

/// One isolated IPv4 router (or, with forwarding off, host).
#[derive(Debug)]
pub struct Router {
    config: Config,
    ifaces: Vec<Iface>,
    /// Every local address, for the per-packet martian-source check.
    local_addrs: Vec<Ipv4Addr>,
    /// Bloom mask of `local_addrs` ([`fib::bloom_bit`]): a source whose bit is clear is not
    /// local, which the fast path learns without scanning.
    local_bloom: u64,
    fib: Fib,
    /// Gives received packets their firewall mark before routing.
    marks: mark::Classifier,
    /// Decisions of the classifier and the rule walk per flow, under policy rules.
    flow_cache: flow_cache::FlowCache,
    neigh: NeighCache,
    /// The fast path's cache per next hop of `main` (see [`adjacency`]).
    adjacencies: adjacency::Adjacencies,
    /// Bumped by every change to an interface's state, MTU or MAC: the interfaces' part of an
    /// adjacency's epoch.
    ifaces_generation: u64,
    limiter: RateLimiter,
    /// Fragments addressed to the instance, waiting for the rest of their datagram.
    reasm: Reassembler,
    counters: Counters,
    udp_ports: Vec<u16>,
    next_ident: u16,
    events: Vec<Event>,
    /// Whether `process` may take the fast path (off only to test it against the general one).
    fast_path: bool,
    /// Some interface is a VLAN sub-interface: the fast path, which does not tag, stays off.
    has_vlans: bool,
}

/// The pool and the action list, passed down the pipeline together.
pub(crate) struct Io<'a> {
    pub(crate) pool: &'a mut Pool,
    pub(crate) out: &'a mut Vec<Action>,
}

impl Router {
    /// An instance with no interfaces and Linux's initial tables and rules.
    pub fn new(config: Config) -> Router {
        Router {
            config,
            ifaces: Vec::new(),
            local_addrs: Vec::new(),
            local_bloom: 0,
            fib: Fib::new(),
            marks: mark::Classifier::default(),
            flow_cache: flow_cache::FlowCache::default(),
            neigh: NeighCache::default(),
            adjacencies: adjacency::Adjacencies::default(),
            ifaces_generation: 0,
            limiter: RateLimiter::default(),
            reasm: Reassembler::default(),
            counters: Counters::default(),
            udp_ports: Vec::new(),
            next_ident: 0,
            events: Vec::new(),
            fast_path: true,
            has_vlans: false,
        }
    }

    /// An instance with this one's configuration — interfaces, addresses, tables, rules,
    /// marks, listened ports — and fresh state: an empty ARP cache, zero counters, a full ICMP
    /// rate limiter. The engine runs one replica per receive queue when a router is spread over
    /// several workers; replicas share what they learn from ARP through
    /// [`Router::absorb_arp`].
    pub fn replica(&self) -> Router {
        let mut ifaces = self.ifaces.clone();
        for iface in &mut ifaces {
            iface.counters = Default::default();
        }
        // The configuration is copied; everything else is what a new instance starts with.
        Router {
            ifaces,
            local_addrs: self.local_addrs.clone(),
            local_bloom: self.local_bloom,
            fib: self.fib.clone(),
            marks: self.marks.clone(),
            ifaces_generation: self.ifaces_generation,
            udp_ports: self.udp_ports.clone(),
            next_ident: self.next_ident,
            fast_path: self.fast_path,
            has_vlans: self.has_vlans,
            ..Router::new(self.config)
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Add an interface (administratively up, no addresses).
    pub fn add_iface(
        &mut self,
        name: &str,
        mac: ethernet::Address,
        mtu: u16,
    ) -> Result<IfaceId, ConfigError> {
        if self.iface_by_name(name).is_some() {
            return Err(ConfigError::DuplicateIface(name.to_owned()));
        }
        if !(68..=(crate::frame::MAX_DATA - ethernet::HEADER_LEN) as u16).contains(&mtu) {
            return Err(ConfigError::BadMtu(mtu));
        }
        if !mac.is_unicast() {
            return Err(ConfigError::BadMac(mac));
        }
        let id = u16::try_from(self.ifaces.len()).map_err(|_| ConfigError::TooManyIfaces)?;
        self.ifaces.push(Iface::new(name, mac, mtu));
        Ok(IfaceId(id))
    }

    /// Make `iface` a VLAN sub-interface of `parent` for VLAN `vid` (1 to 4094): it receives
    /// `parent`'s frames tagged `vid`, untagged, and sends through `parent`, tagged.
    pub fn set_vlan(
        &mut self,
        iface: IfaceId,
        parent: IfaceId,
        vid: u16,
    ) -> Result<(), ConfigError> {
        let n = self.ifaces.len();
        let bad = |i: IfaceId| usize::from(i.0) >= n;
        if bad(iface) || bad(parent) || iface == parent {
            return Err(ConfigError::NoSuchIface(format!("{}", iface.0)));
        }
        if !(1..=4094).contains(&vid) || self.ifaces[usize::from(parent.0)].vlan.is_some() {
            return Err(ConfigError::BadVlan(vid));
        }
        self.ifaces[usize::from(iface.0)].vlan = Some((parent, vid));
        self.has_vlans = true;
        self.ifaces_generation += 1;
        Ok(())
    }

    /// An interface by id.
    pub fn iface(&self, id: IfaceId) -> Option<&Iface> {
        self.ifaces.get(usize::from(id.0))
    }

    /// Every interface; an interface's position is its id.
    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// The id of the interface with this name.
    pub fn iface_by_name(&self, name: &str) -> Option<IfaceId> {
        self.ifaces
            .iter()
            .position(|i| i.name == name)
            .map(|i| IfaceId(i as u16))
    }

    /// Add an address, with the routes Linux adds for it: the connected subnet in `main`, and
    /// the address itself and its subnet broadcast in `local`.
    pub fn add_addr(&mut self, id: IfaceId, addr: IfAddr) -> Result<(), ConfigError> {
        let iface = self
            .ifaces
            .get(usize::from(id.0))
            .ok_or_else(|| ConfigError::NoSuchIface(format!("{}", id.0)))?;
        if self.local_addrs.contains(&addr.addr) {
            return Err(ConfigError::DuplicateAddr(addr));
        }
        let up = iface.up;
        self.ifaces[usize::from(id.0)].addrs.push(addr);
        self.local_addrs.push(addr.addr);
        self.local_bloom |= fib::bloom_bit(u32::from(addr.addr));
        if up {
            self.install_addr_routes(id, addr)?;
        }
        Ok(())
    }

    /// Set an interface administratively up or down. Down removes its connected and local
    /// routes and forgets its neighbours (their waiting frames are dropped); up restores the
    /// connected and local routes. Configured routes through the interface stay, and packets
    /// they match are dropped as [`DropReason::EgressDown`] while it is down.
    pub fn set_iface_up(
        &mut self,
        id: IfaceId,
        up: bool,
        pool: &mut Pool,
    ) -> Result<(), ConfigError> {
        let iface = self
            .ifaces
            .get_mut(usize::from(id.0))
            .ok_or_else(|| ConfigError::NoSuchIface(format!("{}", id.0)))?;
        if iface.up == up {
            return Ok(());
        }
        iface.up = up;
        self.ifaces_generation += 1;
        let addrs = iface.addrs.clone();
        if up {
            for a in addrs {
                self.install_addr_routes(id, a)?;
            }
        } else {
            let owned = |nh: &NextHop| {
                nh.dev == Some(id) && matches!(nh.kind, RouteKind::Local | RouteKind::Broadcast)
            };
            self.fib.remove_where(fib::TABLE_LOCAL, owned);
            let connected = |nh: &NextHop| {
                nh.dev == Some(id) && nh.gateway.is_none() && nh.kind == RouteKind::Unicast
            };
            self.fib.remove_where(fib::TABLE_MAIN, connected);
            for q in self.neigh.flush_iface(id) {
                self.counters.drops[DropReason::EgressDown as usize] += 1;
                pool.free(q.frame);
            }
        }
        Ok(())
    }

    fn install_addr_routes(&mut self, id: IfaceId, a: IfAddr) -> Result<(), ConfigError> {
        let (mut local, mut main) = (Vec::new(), Vec::new());
        self.addr_routes(id, a, &mut local, &mut main);
        for r in local {
            self.fib.insert(fib::TABLE_LOCAL, r)?;
        }
        for r in main {
            self.fib.insert(fib::TABLE_MAIN, r)?;
        }
        Ok(())
    }

    /// The routes Linux adds for address `a` on `id`: the address and its subnet broadcast for
    /// `local`, the connected subnet for `main` unless `main` (or `main_so_far`) has it.
    fn addr_routes(&self, id: IfaceId, a: IfAddr, local: &mut Vec<Route>, main: &mut Vec<Route>) {
        let on = |kind, src| NextHop {
            dev: Some(id),
            src,
            ..NextHop::of_kind(kind)
        };
        let host = |prefix, kind| Route {
            prefix,
            len: 32,
            metric: 0,
            nexthop: on(kind, Some(a.addr)),
        };
        local.push(host(a.addr, RouteKind::Local));
        // An address that is its subnet's broadcast stays local: Linux appends the broadcast
        // route behind the local one, and a lookup takes the first.
        if let Some(b) = a.broadcast().filter(|&b| b != a.addr) {
            local.push(host(b, RouteKind::Broadcast));
        }
        let connected = Route {
            prefix: a.network(),
            len: a.len,
            metric: 0,
            nexthop: on(RouteKind::Unicast, Some(a.addr)),
        };
        // A second address on the same subnet keeps the first one's connected route, as Linux.
        let table = self.fib.table(fib::TABLE_MAIN);
        let known = table.is_some_and(|t| t.contains(connected.prefix, connected.len, 0))
            || (main.iter()).any(|r| r.prefix == connected.prefix && r.len == connected.len);
        if !known {
            main.push(connected);
        }
    }

    /// Add addresses as [`Router::add_addr`] adds each, in order, with one rebuild of `local`
    /// and `main` for all (a router with many interfaces configures in a fraction of the time).
    /// Stops at the first address refused, keeping those before it.
    pub fn add_addrs(&mut self, addrs: &[(IfaceId, IfAddr)]) -> Result<(), ConfigError> {
        let (mut local, mut main) = (Vec::new(), Vec::new());
        let mut result = Ok(());
        for &(id, addr) in addrs {
            let Some(iface) = self.ifaces.get(usize::from(id.0)) else {
                result = Err(ConfigError::NoSuchIface(format!("{}", id.0)));
                break;
            };
            if self.local_addrs.contains(&addr.addr) {
                result = Err(ConfigError::DuplicateAddr(addr));
                break;
            }
            let up = iface.up;
            self.ifaces[usize::from(id.0)].addrs.push(addr);
            self.local_addrs.push(addr.addr);
            self.local_bloom |= fib::bloom_bit(u32::from(addr.addr));
            if up {
                self.addr_routes(id, addr, &mut local, &mut main);
            }
        }
        self.fib.extend(fib::TABLE_LOCAL, local)?;
        self.fib.extend(fib::TABLE_MAIN, main)?;
        result
    }

    /// Add a route to a table. A unicast route's gateway must be on a connected subnet (of its
    /// device, if one is named); the device is filled in from that subnet when omitted.
    pub fn add_route(&mut self, table: TableId, mut route: Route) -> Result<(), RouteError> {
        if route.nexthop.kind == RouteKind::Unicast {
            self.resolve_dev(&mut route.nexthop)?;
        }
        self.fib.insert(table, route)
    }

    /// Add a multipath (ECMP) route: `route` gives prefix, length, metric and source,
    /// `members` the next hops (checked as [`Router::add_route`] checks one) with weights.
    pub fn add_multipath(
        &mut self,
        table: TableId,
        route: Route,
        mut members: Vec<(NextHop, u16)>,
    ) -> Result<(), RouteError> {
        for (nh, _) in &mut members {
            self.resolve_dev(nh)?;
        }
        self.fib.insert_multipath(table, route, &members)
    }

    /// Check a unicast next hop's device and gateway, deriving the device from the gateway's
    /// connected subnet when it is not named.
    fn resolve_dev(&self, nh: &mut NextHop) -> Result<(), RouteError> {
        if let Some(dev) = nh.dev {
            self.ifaces
                .get(usize::from(dev.0))
                .ok_or(RouteError::NoSuchDevice)?;
        }
        match (nh.gateway, nh.dev) {
            (None, None) => Err(RouteError::NoNextHop),
            (Some(gw), dev) => {
                let index = self
                    .ifaces
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| dev.is_none_or(|d| usize::from(d.0) == *i))
                    .find(|(_, iface)| iface.addrs.iter().any(|a| a.contains(gw)))
                    .map(|(i, _)| i)
                    .ok_or(RouteError::GatewayNotConnected(gw))?;
                nh.dev = Some(IfaceId(index as u16));
                Ok(())
            }
            (None, Some(_)) => Ok(()),
        }
    }

    /// Add a route written in iproute2 syntax (see [`fib::parse_route`]), as `ip route add`
    /// does: a route to the same prefix with the same metric in that table (of any kind, the
    /// connected route of an address included) is refused with [`RouteError::Exists`].
    pub fn add_route_str(&mut self, text: &str) -> Result<(), ConfigError> {
        let parsed = fib::parse_route_in(text, |name| self.iface_by_name(name), self.fib.names())?;
        Ok(self.add_parsed(&parsed)?)
    }

    /// Add a route parsed once (by a topology's validation, say) as [`Router::add_route_str`]
    /// adds its text: a route to the same prefix with the same metric is refused.
    pub fn add_parsed(&mut self, parsed: &fib::ParsedRoute) -> Result<(), RouteError> {
        let r = &parsed.route;
        if (self.fib.table(parsed.table)).is_some_and(|t| t.contains(r.prefix, r.len, r.metric)) {
            return Err(RouteError::Exists);
        }
        if parsed.multipath.is_empty() {
            self.add_route(parsed.table, parsed.route)
        } else {
            self.add_multipath(parsed.table, parsed.route, parsed.multipath.clone())
        }
    }

    /// Add many single-next-hop routes to a table with one rebuild of its lookup form, each
    /// checked as [`Router::add_route`] checks it; a later route replaces an earlier one with
    /// the same prefix and metric. Nothing is added when one is refused.
    pub fn add_routes(
        &mut self,
        table: TableId,
        routes: impl IntoIterator<Item = Route>,
    ) -> Result<(), RouteError> {
        let mut checked = Vec::new();
        for mut route in routes {
            if route.nexthop.kind == RouteKind::Unicast {
                self.resolve_dev(&mut route.nexthop)?;
            }
            if route.len > 32 {
                return Err(RouteError::BadPrefixLen(route.len));
            }
            checked.push(route);
        }
        self.fib.extend(table, checked)
    }

    /// Swap a set of routes a routing process installed for its next answer (`routes =
    /// "auto"` reconverging): each route of `old` that is still in the table as it was goes,
    /// then each route of `new` comes in unless the table already has a route with its prefix
    /// and metric (one somebody else added since, which stays). Returns how many routes went and
    /// came. Nothing changes when a new route is refused.
    pub fn replace_routes(
        &mut self,
        table: TableId,
        old: &[Route],
        new: &[Route],
    ) -> Result<(usize, usize), RouteError> {
        let mut checked = Vec::with_capacity(new.len());
        for route in new.iter().filter(|r| !old.contains(r)) {
            let mut route = *route;
            if route.nexthop.kind == RouteKind::Unicast {
                self.resolve_dev(&mut route.nexthop)?;
            }
            checked.push(route);
        }
        let mut gone = 0;
        for r in old.iter().filter(|r| !new.contains(r)) {
            match self.fib.remove(table, r.prefix, r.len, Some(r.metric)) {
                Some(was) if was == *r => gone += 1,
                // Somebody else's route with that prefix and metric: it stays.
                Some(was) => self.fib.insert(table, was)?,
                None => {}
            }
        }
        let free = |t: Option<&fib::Table>, r: &Route| {
            t.is_none_or(|t| !t.contains(r.prefix, r.len, r.metric))
        };
        checked.retain(|r| free(self.fib.table(table), r));
        let came = checked.len();
        self.fib.extend(table, checked)?;
        Ok((gone, came))
    }

    /// Set an interface's IP MTU.
    pub fn set_mtu(&mut self, id: IfaceId, mtu: u16) -> Result<(), ConfigError> {
        if !(68..=(crate::frame::MAX_DATA - ethernet::HEADER_LEN) as u16).contains(&mtu) {
            return Err(ConfigError::BadMtu(mtu));
        }
        let iface = self
            .ifaces
            .get_mut(usize::from(id.0))
            .ok_or_else(|| ConfigError::NoSuchIface(format!("{}", id.0)))?;
        iface.mtu = mtu;
        self.ifaces_generation += 1;
        Ok(())
    }

    /// Set an interface's MAC address (e.g. to the NIC's own when the interface is bound to
    /// one). Multicast addresses are refused.
    pub fn set_mac(&mut self, id: IfaceId, mac: ethernet::Address) -> Result<(), ConfigError> {
        if mac.0[0] & 1 != 0 {
            return Err(ConfigError::BadMac(mac));
        }
        let iface = self
            .ifaces
            .get_mut(usize::from(id.0))
            .ok_or_else(|| ConfigError::NoSuchIface(format!("{}", id.0)))?;
        iface.mac = mac;
        self.ifaces_generation += 1;
        Ok(())
    }

    /// Remove a route (the preferred one for the prefix if `metric` is `None`).
    pub fn remove_route(
        &mut self,
        table: TableId,
        prefix: Ipv4Addr,
        len: u8,
        metric: Option<u32>,
    ) -> Option<Route> {
        self.fib.remove(table, prefix, len, metric)
    }

    /// The tables and rules.
    pub fn fib(&self) -> &Fib {
        &self.fib
    }

    /// Add a policy rule.
    pub fn add_rule(&mut self, rule: fib::Rule) -> Result<(), ConfigError> {
        Ok(self.fib.add_rule(rule)?)
    }

    /// Add a rule written in iproute2 syntax (see [`fib::parse_rule`]).
    pub fn add_rule_str(&mut self, text: &str) -> Result<(), ConfigError> {
        let pref = self.fib.default_rule_priority();
        let rule = fib::parse_rule(text, |n| self.iface_by_name(n), self.fib.names(), pref)?;
        self.add_rule(rule)
    }

    /// Delete a route given in iproute2 syntax (`ip route del PREFIX [table T] [metric M]`,
    /// the rest of a route ignored as `ip route del` ignores it): the route to the prefix in
    /// its table, with that metric if one is named, else the preferred one.
    pub fn remove_route_str(&mut self, text: &str) -> Result<Route, ConfigError> {
        let mut words = text.split_whitespace().peekable();
        if words.peek().is_some_and(|w| {
            matches!(
                *w,
                "unicast"
                    | "local"
                    | "broadcast"
                    | "blackhole"
                    | "unreachable"
                    | "prohibit"
                    | "throw"
            )
        }) {
            words.next();
        }
        let first = words.next().unwrap_or("");
        let (prefix, len) = match first {
            "default" => (Ipv4Addr::UNSPECIFIED, 0),
            word => fib::parse_prefix(word)?,
        };
        let (mut table, mut metric) = (fib::TABLE_MAIN, None);
        while let Some(w) = words.next() {
            let value = words.peek().copied().unwrap_or("");
            match w {
                "table" => {
                    table = self.fib.names().resolve(value)?;
                    words.next();
                }
                "metric" | "preference" | "priority" => {
                    let m = value.parse().map_err(|_| fib::ParseError {
                        message: "bad metric",
                        word: value.to_owned(),
                    })?;
                    metric = Some(m);
                    words.next();
                }
                _ => {}
            }
        }
        self.remove_route(table, prefix, len, metric)
            .ok_or_else(|| RouteError::NotFound.into())
    }

    /// Delete a rule given in `ip rule` syntax (`ip rule del …`): without a priority, the
    /// first rule that matches the rest, as `ip rule del` does.
    pub fn remove_rule_str(&mut self, text: &str) -> Result<(), ConfigError> {
        let pref = self.fib.default_rule_priority();
        let mut rule = fib::parse_rule(text, |n| self.iface_by_name(n), self.fib.names(), pref)?;
        let prioritised = text
            .split_whitespace()
            .any(|w| matches!(w, "priority" | "pref" | "preference" | "order"));
        if !prioritised
            && let Some(found) = self.fib.rules().find(|r| {
                fib::Rule {
                    priority: r.priority,
                    protocol: r.protocol,
                    ..rule
                } == *r
            })
        {
            rule.priority = found.priority;
        }
        if self.fib.remove_rule(&rule) {
            Ok(())
        } else {
            Err(fib::RuleError::NotFound.into())
        }
    }

    /// Forget every neighbour (`ip neigh flush all`); frames waiting for one go back to `pool`.
    pub fn flush_neighbours(&mut self, pool: &mut Pool) {
        for i in 0..self.ifaces.len() {
            for q in self.neigh.flush_iface(IfaceId(i as u16)) {
                pool.free(q.frame);
            }
        }
    }

    /// Append an entry to the mark classifier, in iproute2-like syntax (see
    /// [`fib::parse_mark`]): `ipproto udp dport 5000-5999 mark 0x10`.
    pub fn add_mark_str(&mut self, text: &str) -> Result<(), ConfigError> {
        let (selector, mark) = fib::parse_mark(text, |n| self.iface_by_name(n))?;
        self.marks.push(selector, mark);
        // Cached decisions include the classifier's.
        self.fib.touch();
        Ok(())
    }

    /// The mark classifier.
    pub fn marks(&self) -> &mark::Classifier {
        &self.marks
    }

    /// Name a table, for routes and rules written with names (`lookup isp1`).
    pub fn name_table(&mut self, name: &str, id: TableId) {
        self.fib.name_table(name, id);
    }

    /// Put an interface in a group (`ip link set DEV group G`), which `suppress_ifgroup`
    /// rules test.
    pub fn set_group(&mut self, id: IfaceId, group: u32) -> Result<(), ConfigError> {
        if usize::from(id.0) >= self.ifaces.len() {
            return Err(ConfigError::NoSuchIface(format!("{}", id.0)));
        }
        self.fib.set_group(id, group);
        Ok(())
    }

    /// Where a packet to `dst` would go.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&NextHop> {
        self.fib.lookup(dst)
    }

    /// Where a packet with this key would go, and by which table (`ip route get`); `None` is
    /// "network unreachable".
    pub fn route(&self, key: &fib::FlowKey) -> Option<fib::Routed<'_>> {
        self.fib.route(key)
    }

    /// The ARP cache.
    pub fn neighbours(&self) -> &NeighCache {
        &self.neigh
    }

    /// The tallies.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Deliver UDP datagrams for `port` to the application instead of answering port
    /// unreachable.
    pub fn listen_udp(&mut self, port: u16) {
        if !self.udp_ports.contains(&port) {
            self.udp_ports.push(port);
        }
    }

    /// Heap bytes held by the instance (capacity-based), for the memory budget.
    pub fn mem_bytes(&self) -> usize {
        size_of::<Router>()
            + self.ifaces.capacity() * size_of::<Iface>()
            + self
                .ifaces
                .iter()
                .map(|i| i.name.capacity() + i.addrs.capacity() * size_of::<IfAddr>())
                .sum::<usize>()
            + self.local_addrs.capacity() * size_of::<Ipv4Addr>()
            + self.fib.mem_bytes()
            + self.flow_cache.mem_bytes()
            + self.adjacencies.mem_bytes()
            + self.udp_ports.capacity() * 2
            + self.events.capacity() * size_of::<Event>()
            + self.limiter.mem_bytes()
            + self.reasm.mem_bytes()
    }

    /// Process a burst of frames received on `iface`, emptying `batch` and appending one or more
    /// actions per frame to `out` (a frame waiting for ARP produces its action later).
    pub fn process(
        &mut self,
        now: Instant,
        iface: IfaceId,
        batch: &mut Batch,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        let mut io = Io { pool, out };
        let mut frames = batch.drain();
        let Some(mac) = self.fast_path_mac(iface) else {
            for frame in frames {
                self.input(now, iface, frame, &mut io);
            }
            return;
        };
        let mut tally = Tally::default();
        // The fast path takes frames until one needs the general pipeline, then a new fast
        // path starts after it (see `FastPath`).
        while let Some(frame) = self
            .fast_path(now, iface, mac, &mut tally)
            .forward_run(&mut frames, &mut io)
        {
            self.input(now, iface, frame, &mut io);
        }
        self.settle(iface, tally);
    }

    /// Process one received frame; see [`Router::process`].
    pub fn process_frame(
        &mut self,
        now: Instant,
        iface: IfaceId,
        frame: Frame,
        pool: &mut Pool,
        out: &mut Vec<Action>,
    ) {
        let mut io = Io { pool, out };
        let frame = match self.fast_path_mac(iface) {
            Some(mac) => {
                let mut tally = Tally::default();
                let rest = self
                    .fast_path(now, iface, mac, &mut tally)
                    .forward(frame, &mut io);
                self.settle(iface, tally);
                rest
            }
            None => Some(frame),
        };
        if let Some(frame) = frame {
            self.input(now, iface, frame, &mut io);
        }
    }

    /// When the instance next needs [`Router::handle_timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.neigh.poll_timeout(), self.reasm.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run the timers due at `now`: ARP retries and probes, failed resolutions (answered with
    /// ICMP host unreachable), cache aging, reassembly time-outs (answered with ICMP time
    /// exceeded).
    pub fn handle_timeout(&mut self, now: Instant, pool: &mut Pool, out: &mut Vec<Action>) {
        let mut io = Io { pool, out };
        self.expire_fragments(now, &mut io);
        let mut events = core::mem::take(&mut self.events);
        self.neigh
            .handle_timeout(now, &self.config.neigh, &mut events);
        for event in events.drain(..) {
            match event {
                Event::Request { iface, ip, unicast } => {
                    self.send_arp_request(iface, ip, unicast, &mut io)
                }
                Event::Failed { frames, .. } => {
                    for q in frames {
                        self.resolution_failed(now, q, &mut io);
                    }
                }
            }
        }
        self.events = events;
    }

    /// Count a drop and hand the frame back.
    #[inline]
    pub(crate) fn drop_frame(&mut self, io: &mut Io<'_>, frame: Frame, reason: DropReason) {
        self.counters.drops[reason as usize] += 1;
        io.out.push(Action::Drop { frame, reason });
    }

    pub(crate) fn ident(&mut self) -> u16 {
        self.next_ident = self.next_ident.wrapping_add(1);
        self.next_ident
    }
}

#[cfg(test)]
mod linux_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses added at once make the tables they make one by one: same subnet twice, /31,
    /// /32, an address that is another subnet's broadcast, an interface down, a duplicate.
    #[test]
    fn add_addrs_is_add_addr_in_order() {
        let a = |s: &str, l| IfAddr::new(s.parse().unwrap(), l).unwrap();
        let list = [
            (0, a("10.0.0.1", 24)),
            (1, a("10.0.1.1", 24)),
            (0, a("10.0.0.2", 24)),
            (1, a("10.0.2.0", 31)),
            (2, a("10.9.9.9", 32)),
            (2, a("10.0.1.255", 25)),
            (3, a("10.7.0.1", 16)),
            (1, a("10.0.0.1", 24)),
        ];
        let build = |bulk: bool| {
            let mut r = Router::new(Config::default());
            for k in 0..4u8 {
                let mac = ethernet::Address([2, 0, 0, 0, k, 1]);
                r.add_iface(&format!("e{k}"), mac, 1500).unwrap();
            }
            let mut pool = Pool::new(64).unwrap();
            r.set_iface_up(IfaceId(3), false, &mut pool).unwrap();
            let list: Vec<_> = list.iter().map(|&(i, x)| (IfaceId(i), x)).collect();
            let result = if bulk {
                r.add_addrs(&list)
            } else {
                list.iter().try_for_each(|&(i, x)| r.add_addr(i, x))
            };
            let mut routes: Vec<String> = (r.fib().tables())
                .flat_map(|(id, t)| t.routes().map(move |x| format!("{id} {x:?}")))
                .collect();
            routes.sort();
            (format!("{result:?}"), routes, r.local_addrs.clone())
        };
        assert_eq!(build(true), build(false));
        assert!(build(true).0.contains("DuplicateAddr"));
    }

    #[test]
    fn add_route_str_refuses_what_ip_route_add_refuses() {
        let mut r = Router::new(Config::default());
        let eth0 = r
            .add_iface("eth0", ethernet::Address([2, 0, 0, 0, 0, 1]), 1500)
            .unwrap();
        r.add_addr(eth0, IfAddr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap())
            .unwrap();
        // Linux: "File exists" for the same table, prefix and metric, whatever the kind; the
        // connected route of an address counts.
        r.add_route_str("blackhole 20.0.0.0/8 table 100").unwrap();
        let exists = |r: &mut Router, text| {
            matches!(
                r.add_route_str(text),
                Err(ConfigError::Route(RouteError::Exists))
            )
        };
        assert!(exists(&mut r, "20.0.0.0/8 via 10.0.0.2 table 100"));
        assert!(exists(&mut r, "10.0.0.0/24 dev eth0"));
        r.add_route_str("20.0.0.0/8 via 10.0.0.2 metric 5 table 100")
            .unwrap();
        r.add_route_str("20.0.0.0/8 via 10.0.0.2").unwrap();
    }

    #[test]
    fn an_address_on_its_subnet_broadcast_stays_local() {
        let mut r = Router::new(Config::default());
        let eth0 = r
            .add_iface("eth0", ethernet::Address([2, 0, 0, 0, 0, 1]), 1500)
            .unwrap();
        let addr = Ipv4Addr::new(10, 2, 0, 15);
        r.add_addr(eth0, IfAddr::new(addr, 28).unwrap()).unwrap();
        // Linux 6.18: `ip route get 10.2.0.15 ... iif eth0` answers `local ... table local`.
        assert_eq!(r.lookup(addr).map(|nh| nh.kind), Some(RouteKind::Local));
    }
}
