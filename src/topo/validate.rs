//! From the file as written ([`Doc`]) to a [`Topology`], checking everything the simulator and
//! the engine rely on. Each rule is documented in docs/topology.md; each error points at the
//! value at fault through the span TOML kept for it.

use core::time::Duration;
use std::collections::HashMap;
use std::net::Ipv4Addr;

use toml::Spanned;

use super::auto;
use super::doc::{AttachDoc, Doc, NodeDoc, Routes, VdeDoc};
use super::subnet::{Subnet, subnet, subnets_of};
use super::{
    AutoRoutes, DEFAULT_DELAY_US, DEFAULT_SEED, DEFAULT_TTL, Iface, Kind, Link, Node, Progress,
    TopoError, Topology, Warning,
};
use crate::frame::MAX_DATA;
use crate::port::{self, Mode, PortSpec};
use crate::router::fib::{
    ParsedRoute, TABLE_MAIN, TableNames, parse_mark, parse_prefix, parse_route_in, parse_rule,
};
use crate::router::{IfAddr, IfaceId, NextHop, Route, RouteKind};
use crate::shape::{Netem, NetemError};
use crate::vde::VdeSpec;
use crate::wire::ethernet;

/// Error construction with the file's name and text at hand.
pub(super) struct Cx<'a> {
    file: &'a str,
    /// Where each line after the first starts: a value's line is a binary search, so that
    /// validating a file stays linear in its size (a line counted from the top for each of a
    /// million values would not).
    newlines: Vec<usize>,
}

impl<'a> Cx<'a> {
    pub(super) fn err(
        &self,
        span: core::ops::Range<usize>,
        key: &str,
        message: String,
    ) -> TopoError {
        TopoError::Invalid {
            file: self.file.to_owned(),
            line: self.line(span),
            key: key.to_owned(),
            message,
        }
    }

    fn new(file: &'a str, text: &str) -> Cx<'a> {
        let newlines = (text.bytes().enumerate())
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Cx { file, newlines }
    }

    /// 1-based line of a byte offset.
    pub(super) fn line(&self, span: core::ops::Range<usize>) -> usize {
        self.newlines.partition_point(|&n| n < span.start) + 1
    }
}

pub(super) fn validate(
    doc: Doc,
    file: &str,
    text: &str,
    progress: &dyn Progress,
) -> Result<Topology, TopoError> {
    if doc.generate.is_some() {
        return super::generate::expand(doc, file, text, progress);
    }
    let cx = Cx::new(file, text);
    let mut nodes = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut owners: HashMap<Ipv4Addr, usize> = HashMap::new();
    let mut macs: HashMap<ethernet::Address, usize> = HashMap::new();
    let kinds = doc.routers.iter().map(|n| (n, Kind::Router));
    for (nd, kind) in kinds.chain(doc.hosts.iter().map(|n| (n, Kind::Host))) {
        let key = |k: &str| format!("{}.{k}", section(kind));
        let name = nd.name.get_ref();
        if name.is_empty() || name.contains(':') || name.contains(char::is_whitespace) {
            let msg = format!("{name:?} is not a node name (no ':' or spaces, not empty)");
            return Err(cx.err(nd.name.span(), &key("name"), msg));
        }
        if let Some(&first) = names.get(name.as_str()) {
            let msg = format!("duplicate node name {name:?} (first at line {first})");
            return Err(cx.err(nd.name.span(), &key("name"), msg));
        }
        names.insert(name, cx.line(nd.name.span()));
        let index = nodes.len();
        let ifaces = ifaces(&cx, nd, kind, index, &mut owners, &mut macs)?;
        let gateway = match &nd.gateway {
            None => None,
            Some(g) => Some(gateway(&cx, g, &ifaces, name, &key("gateway"))?),
        };
        let routes = nd.routes.as_ref().or(match kind {
            Kind::Router => doc.settings.routes.as_ref(),
            Kind::Host | Kind::Switch => None,
        });
        let tables = table_names(&cx, nd, &key("tables"))?;
        let (mut list, auto) = match routes.map(|r| (r, r.get_ref())) {
            None => (Vec::new(), false),
            Some((r, Routes::Auto)) if kind == Kind::Host => {
                let msg = "\"auto\" is for routers; a host routes through its gateway".into();
                return Err(cx.err(r.span(), &key("routes"), msg));
            }
            Some((_, Routes::Auto)) => (Vec::new(), true),
            Some((_, Routes::List(l))) => {
                (route_list(&cx, l, &ifaces, &tables, &key("routes"))?, false)
            }
        };
        let (rules, marks) = policy(&cx, nd, &ifaces, &tables, &key)?;
        let workers = spread_workers(&cx, nd, kind, &ifaces, &key("workers"))?;
        let ttl = ttl(&cx, nd.ttl.as_ref(), &key("ttl"))
            .transpose()
            .or_else(|| ttl(&cx, doc.settings.ttl.as_ref(), "settings.ttl").transpose())
            .transpose()?
            .unwrap_or(DEFAULT_TTL);
        if let Some(g) = gateway {
            list.push(ParsedRoute {
                table: TABLE_MAIN,
                route: Route {
                    prefix: Ipv4Addr::UNSPECIFIED,
                    len: 0,
                    metric: 0,
                    nexthop: NextHop {
                        gateway: Some(g),
                        ..NextHop::of_kind(RouteKind::Unicast)
                    },
                },
                multipath: Vec::new(),
            });
        }
        nodes.push(Node {
            name: name.clone(),
            kind,
            core: nd.core,
            workers,
            ifaces,
            routes: list,
            auto_routes: auto,
            auto: AutoRoutes::default(),
            tables: tables.entries().map(|(n, id)| (n.to_owned(), id)).collect(),
            rules,
            marks,
            gateway,
            ttl,
            switch: None,
        });
    }
    for sd in &doc.switches {
        let name = sd.name.get_ref();
        if name.is_empty() || name.contains(':') || name.contains(char::is_whitespace) {
            let msg = format!("{name:?} is not a node name (no ':' or spaces, not empty)");
            return Err(cx.err(sd.name.span(), "switch.name", msg));
        }
        if let Some(&first) = names.get(name.as_str()) {
            let msg = format!("duplicate node name {name:?} (first at line {first})");
            return Err(cx.err(sd.name.span(), "switch.name", msg));
        }
        names.insert(name, cx.line(sd.name.span()));
        let index = nodes.len();
        nodes.push(super::switch::node(&cx, sd, index)?);
    }
    vde_unique(&cx, &doc, &nodes)?;
    let links = links(&cx, &doc, &mut nodes)?;
    let segments = super::segment::segments(&nodes, &links);
    if segments.is_some() {
        vlans_carried(&cx, &doc, &nodes, &links)?;
    }
    let (l3_nodes, l3_links, first) = match &segments {
        Some(s) => (&s.nodes[..], &s.links[..], Some(&s.first[..])),
        None => (&nodes[..], &links[..], None),
    };
    let warnings = check_subnets(&cx, &doc, l3_nodes, l3_links, first)?;
    let aggregates = aggregates(&cx, &doc)?;
    let computed = auto::compute(l3_nodes, l3_links, &aggregates, progress);
    for (node, routes) in nodes.iter_mut().zip(computed) {
        if node.auto_routes {
            // Computed routes go in first: a gateway's default route is the fallback after them.
            node.auto = routes;
        }
    }
    Ok(Topology {
        nodes,
        links,
        warnings,
        seed: doc.settings.seed.unwrap_or(DEFAULT_SEED),
        aggregates: aggregates
            .iter()
            .map(|&(p, len)| (Ipv4Addr::from(p), len))
            .collect(),
        doc,
    })
}

/// `settings.aggregate`: prefixes (network address, no host bits), sorted, none inside another.
fn aggregates(cx: &Cx, doc: &Doc) -> Result<Vec<Subnet>, TopoError> {
    let Some(list) = &doc.settings.aggregate else {
        return Ok(Vec::new());
    };
    let fail = |m: String| cx.err(list.span(), "settings.aggregate", m);
    let mut out = Vec::new();
    for text in &list.get_ref().0 {
        let (p, len) = parse_prefix(text).map_err(|e| fail(format!("{text:?}: {e}")))?;
        out.push((u32::from(p), len));
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if overlap(w[0], w[1]) {
            return Err(fail(format!("{} and {} overlap", show(w[0]), show(w[1]))));
        }
    }
    Ok(out)
}

/// A `ttl` key, checked (1 to 255).
fn ttl(cx: &Cx, t: Option<&Spanned<u32>>, key: &str) -> Result<Option<u8>, TopoError> {
    let Some(t) = t else {
        return Ok(None);
    };
    match u8::try_from(*t.get_ref()) {
        Ok(v) if v != 0 => Ok(Some(v)),
        _ => Err(cx.err(t.span(), key, format!("{} is outside 1..=255", t.get_ref()))),
    }
}

/// A `netem` key, parsed (the error quotes the spec and names the offending word).
pub(super) fn netem(cx: &Cx, n: &Spanned<String>, key: &str) -> Result<Netem, TopoError> {
    n.get_ref()
        .parse()
        .map_err(|e: NetemError| cx.err(n.span(), key, format!("{:?}: {e}", n.get_ref())))
}

fn section(kind: Kind) -> &'static str {
    match kind {
        Kind::Router => "router",
        Kind::Host => "host",
        Kind::Switch => "switch",
    }
}

/// Whether interface `name` is a VLAN sub-interface (`PARENT.VID`) of one of `before`:
/// (parent index, VLAN id). A numeric suffix after an interface's name must be a VLAN id.
fn sub_iface(name: &str, before: &[Iface]) -> Result<Option<(usize, u16)>, String> {
    let Some((parent, vid)) = name.rsplit_once('.') else {
        return Ok(None);
    };
    let Ok(vid) = vid.parse::<u32>() else {
        return Ok(None);
    };
    let Some(p) = before.iter().position(|f| f.name == parent) else {
        return Err(format!(
            "{name:?} looks like a VLAN sub-interface, but no interface {parent:?} comes before it"
        ));
    };
    if before[p].vlan.is_some() {
        return Err(format!(
            "{name:?}: {parent:?} is a sub-interface itself (no QinQ)"
        ));
    }
    match u16::try_from(vid) {
        Ok(v) if (1..=4094).contains(&v) => Ok(Some((p, v))),
        _ => Err(format!("{name:?}: VLAN {vid} is outside 1..=4094")),
    }
}

fn ifaces(
    cx: &Cx,
    nd: &NodeDoc,
    kind: Kind,
    node: usize,
    owners: &mut HashMap<Ipv4Addr, usize>,
    macs: &mut HashMap<ethernet::Address, usize>,
) -> Result<Vec<Iface>, TopoError> {
    let key = |k: &str| format!("{}.iface.{k}", section(kind));
    let mut out: Vec<Iface> = Vec::new();
    for (i, id) in nd.iface.0.iter().enumerate() {
        let name = id.name.get_ref();
        if out.iter().any(|o| o.name == *name) {
            let msg = format!("duplicate interface {name:?} in {}", nd.name.get_ref());
            return Err(cx.err(id.name.span(), &key("name"), msg));
        }
        if name.is_empty() || name.contains(':') || name.len() > 15 {
            let msg = format!("{name:?} is not an interface name (1 to 15 bytes, no ':')");
            return Err(cx.err(id.name.span(), &key("name"), msg));
        }
        let vlan = sub_iface(name, &out).map_err(|m| cx.err(id.name.span(), &key("name"), m))?;
        if vlan.is_some() {
            let rides = [
                ("link_file", id.link_file.is_some()),
                ("attach", id.attach.is_some()),
                ("vde", id.vde.is_some()),
                ("netem", id.netem.is_some()),
            ];
            if let Some((k, _)) = rides.iter().find(|r| r.1) {
                let msg = format!("{name} is a VLAN sub-interface: give {k} on its parent");
                return Err(cx.err(id.name.span(), &key(k), msg));
            }
        }
        let addr_span = if id.addr.span().is_empty() {
            id.name.span()
        } else {
            id.addr.span()
        };
        let addr_err = |m: String| cx.err(addr_span.clone(), &key("addr"), m);
        let mut addrs = Vec::new();
        for text in &id.addr.get_ref().0 {
            let a = parse_ifaddr(text).map_err(|m| addr_err(format!("{text:?}: {m}")))?;
            if let Some(&line) = owners.get(&a.addr) {
                return Err(addr_err(format!(
                    "{} is already used at line {line}",
                    a.addr
                )));
            }
            owners.insert(a.addr, cx.line(id.addr.span()));
            addrs.push(a);
        }
        if addrs.is_empty() && vlan.is_some() {
            return Err(addr_err(
                "a VLAN sub-interface needs at least one address".into(),
            ));
        }
        let max_mtu = super::switch::MAX_MTU;
        let mtu = match &id.mtu {
            None => vlan.map_or(1500, |(p, _)| out[p].mtu),
            Some(m) if (68..=max_mtu).contains(m.get_ref()) => *m.get_ref(),
            Some(m) => {
                let msg = format!(
                    "{} is outside 68..={max_mtu} (a frame buffer holds {MAX_DATA} bytes)",
                    m.get_ref()
                );
                return Err(cx.err(m.span(), &key("mtu"), msg));
            }
        };
        let mac = match &id.mac {
            // Linux gives a VLAN device its parent's address.
            None if vlan.is_some() => vlan.map_or(ethernet::Address([0; 6]), |(p, _)| out[p].mac),
            None => {
                let [_, a, b, c] = (node as u32).to_be_bytes();
                ethernet::Address([0x02, a, b, c, i as u8, 0])
            }
            Some(m) => parse_mac(m.get_ref()).ok_or_else(|| {
                cx.err(
                    m.span(),
                    &key("mac"),
                    format!("{:?} is not a unicast MAC address", m.get_ref()),
                )
            })?,
        };
        let span = id.mac.as_ref().map_or(id.name.span(), Spanned::span);
        // A sub-interface's inherited address was checked with its parent.
        let inherited = vlan.is_some() && id.mac.is_none();
        if !inherited && let Some(&line) = macs.get(&mac) {
            return Err(cx.err(
                span,
                &key("mac"),
                format!("MAC {mac} is already used at line {line}"),
            ));
        }
        macs.insert(mac, cx.line(span));
        out.push(Iface {
            name: name.clone(),
            addrs,
            mtu,
            mac,
            link: None,
            link_file: id.link_file.as_ref().map(|f| f.get_ref().into()),
            attach: attach(cx, id.attach.as_ref(), id.link_file.is_some(), &key)?.map(Box::new),
            vde: vde(
                cx,
                id.attach.as_ref(),
                id.vde.as_ref(),
                id.link_file.is_some(),
                &key,
            )?
            .map(Box::new),
            group: id.group.unwrap_or(0),
            netem: id
                .netem
                .as_ref()
                .map(|n| netem(cx, n, &key("netem")).map(Box::new))
                .transpose()?,
            vlan,
        });
    }
    for (f, id) in out.iter().zip(&nd.iface.0) {
        let parent = |g: &Iface| g.vlan.is_some_and(|(p, _)| out[p].name == f.name);
        if f.addrs.is_empty() && !out.iter().any(parent) {
            let msg = "an interface needs at least one address (only the parent of VLAN \
                       sub-interfaces may have none)";
            return Err(cx.err(id.name.span(), &key("addr"), msg.into()));
        }
    }
    Ok(out)
}

/// An interface's `attach` table, checked: a known mode, valid device names, a device where
/// AF_XDP needs one, and no `link_file` besides.
pub(super) fn attach(
    cx: &Cx,
    table: Option<&Spanned<AttachDoc>>,
    link_file: bool,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<PortSpec>, TopoError> {
    let Some(doc) = table.filter(|a| a.get_ref().vde.is_none()) else {
        return Ok(None);
    };
    if let Some(p) = &doc.get_ref().port {
        let msg = "a switch port is for plugging into VDE (attach = { vde = PATH, port = N })";
        return Err(cx.err(p.span(), &key("attach.port"), msg.into()));
    }
    let name = |s: &Option<Spanned<String>>, k: &str| -> Result<Option<String>, TopoError> {
        s.as_ref()
            .map(|n| {
                port::valid_name(n.get_ref())
                    .map(|()| n.get_ref().clone())
                    .map_err(|m| cx.err(n.span(), &key(&format!("attach.{k}")), m))
            })
            .transpose()
    };
    let a = doc.get_ref();
    let mode = match &a.mode {
        None => Mode::Auto,
        Some(m) => m
            .get_ref()
            .parse()
            .map_err(|msg| cx.err(m.span(), &key("attach.mode"), msg))?,
    };
    let spec = PortSpec {
        dev: name(&a.dev, "dev")?,
        mode,
        tap: name(&a.tap, "tap")?,
        every_frame: false,
    };
    if spec.dev.is_none() && mode != Mode::Tap {
        let msg = "AF_XDP binds to an existing device: give its name (dev = \"eth1\")".into();
        return Err(cx.err(doc.span(), &key("attach.dev"), msg));
    }
    if link_file {
        let msg = "an interface is bound to a device or a link file, not both".into();
        return Err(cx.err(doc.span(), &key("attach"), msg));
    }
    Ok(Some(spec))
}

/// Longest VDE directory path: the unix socket names inside it (`PATH/ctl`, a client's
/// `PATH/.PID-N`, a port's `PATH/NNN.S`) must fit `sun_path`'s 107 bytes.
const VDE_PATH_MAX: usize = 90;

/// An interface's VDE: `attach = { vde = PATH | "-", port = N }` (plug into a switch, or the
/// stream on standard input and output) or `vde = { listen = PATH }` (be a switch), checked:
/// a path that leaves room for the sockets' names, a port only for a switch plugged into, no
/// device, link file or the other form besides.
/// How an interface (or a switch port) joins VDE, from its `attach` table and `vde` key;
/// `link_file`: it also names a link file.
pub(super) fn vde(
    cx: &Cx,
    attach: Option<&Spanned<AttachDoc>>,
    listen: Option<&Spanned<VdeDoc>>,
    link_file: bool,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<VdeSpec>, TopoError> {
    let path = |p: &Spanned<String>, k: &str| -> Result<std::path::PathBuf, TopoError> {
        let text = p.get_ref();
        if text.is_empty() || text.contains('\0') || text.len() > VDE_PATH_MAX {
            let msg = format!(
                "{text:?}: a VDE directory is a path of 1 to {VDE_PATH_MAX} bytes (the unix \
                 sockets inside it have names of at most 107)"
            );
            return Err(cx.err(p.span(), &key(k), msg));
        }
        Ok(text.into())
    };
    let plug = attach.and_then(|a| a.get_ref().vde.as_ref().map(|v| (a, v)));
    match (plug, listen) {
        (None, None) => Ok(None),
        (Some(_), Some(l)) => {
            let msg = "an interface plugs into a VDE switch (attach.vde) or is one (vde.listen), \
                       not both"
                .into();
            Err(cx.err(l.span(), &key("vde"), msg))
        }
        (Some((a, v)), None) => {
            let ad = a.get_ref();
            if ad.dev.is_some() || ad.mode.is_some() || ad.tap.is_some() {
                let msg = "an interface plugs into VDE or binds a host device: attach.vde \
                           leaves no room for dev, mode or tap"
                    .into();
                return Err(cx.err(a.span(), &key("attach.vde"), msg));
            }
            if link_file {
                let msg = "an interface plugs into VDE or joins a link file, not both".into();
                return Err(cx.err(a.span(), &key("attach.vde"), msg));
            }
            if v.get_ref() == "-" {
                if let Some(p) = &ad.port {
                    let msg = "the stream on standard input/output has no switch port".into();
                    return Err(cx.err(p.span(), &key("attach.port"), msg));
                }
                return Ok(Some(VdeSpec::Stdio));
            }
            let dir = path(v, "attach.vde")?;
            let port = match &ad.port {
                None => None,
                Some(p) if (1..=0x00ff_ffff).contains(p.get_ref()) => Some(*p.get_ref()),
                Some(p) => {
                    let msg = format!("{} is not a switch port (1 or more)", p.get_ref());
                    return Err(cx.err(p.span(), &key("attach.port"), msg));
                }
            };
            Ok(Some(VdeSpec::Plug { dir, port }))
        }
        (None, Some(l)) => {
            if link_file || attach.is_some() {
                let msg = "a listening VDE interface has its clients: no link_file or attach \
                           besides"
                    .into();
                return Err(cx.err(l.span(), &key("vde"), msg));
            }
            let dir = path(&l.get_ref().listen, "vde.listen")?;
            Ok(Some(VdeSpec::Listen { dir }))
        }
    }
}

/// No two interfaces listen on one VDE directory, and at most one has standard input and
/// output.
fn vde_unique(cx: &Cx, doc: &Doc, nodes: &[Node]) -> Result<(), TopoError> {
    let mut seen: HashMap<&VdeSpec, usize> = HashMap::new();
    let docs = doc.routers.iter().chain(&doc.hosts);
    for ((nd, node), kind) in docs.zip(nodes).zip(nodes.iter().map(|n| n.kind)) {
        for (id, f) in nd.iface.0.iter().zip(&node.ifaces) {
            let Some(spec) = f.vde.as_deref() else {
                continue;
            };
            let (span, k) = match spec {
                VdeSpec::Listen { .. } => match &id.vde {
                    Some(v) => (v.get_ref().listen.span(), "vde.listen"),
                    None => continue,
                },
                VdeSpec::Stdio => match id.attach.as_ref().and_then(|a| a.get_ref().vde.as_ref()) {
                    Some(v) => (v.span(), "attach.vde"),
                    None => continue,
                },
                VdeSpec::Plug { .. } => continue,
            };
            if let Some(&first) = seen.get(spec) {
                let msg = match spec {
                    VdeSpec::Listen { dir } => {
                        format!("{} is already listened on at line {first}", dir.display())
                    }
                    _ => format!(
                        "only one interface can have standard input/output (the first is at \
                         line {first})"
                    ),
                };
                let key = format!("{}.iface.{k}", section(kind));
                return Err(cx.err(span, &key, msg));
            }
            seen.insert(spec, cx.line(span));
        }
    }
    Ok(())
}

/// `10.0.0.1/24`: an address with a prefix length, not the subnet's network or broadcast address
/// (below /31, where those exist).
pub(super) fn parse_ifaddr(text: &str) -> Result<IfAddr, String> {
    let (a, l) = text
        .split_once('/')
        .ok_or("missing prefix length (write ADDR/LEN)")?;
    let addr: Ipv4Addr = a.parse().map_err(|_| "bad IPv4 address")?;
    let a = l
        .parse::<u8>()
        .ok()
        .and_then(|l| IfAddr::new(addr, l))
        .ok_or("bad prefix length (0..=32)")?;
    if a.len < 31 && a.addr == a.network() {
        return Err("that is the subnet's network address".into());
    }
    if a.len < 31 && a.broadcast() == Some(a.addr) {
        return Err("that is the subnet's broadcast address".into());
    }
    Ok(a)
}

pub(super) fn parse_mac(text: &str) -> Option<ethernet::Address> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    let mac = ethernet::Address(out);
    (parts.next().is_none() && mac.is_unicast() && out != [0; 6]).then_some(mac)
}

fn gateway(
    cx: &Cx,
    g: &Spanned<String>,
    ifaces: &[Iface],
    node: &str,
    key: &str,
) -> Result<Ipv4Addr, TopoError> {
    let addr: Ipv4Addr = g.get_ref().parse().map_err(|_| {
        cx.err(
            g.span(),
            key,
            format!("{:?} is not an IPv4 address", g.get_ref()),
        )
    })?;
    let all = || ifaces.iter().flat_map(|i| &i.addrs);
    if all().any(|a| a.addr == addr) {
        return Err(cx.err(g.span(), key, format!("{addr} is {node}'s own address")));
    }
    if !all().any(|a| a.contains(addr)) {
        let msg = format!("{addr} is on no subnet connected to {node}");
        return Err(cx.err(g.span(), key, msg));
    }
    Ok(addr)
}

/// The node's `tables` names, checked (ids 1 to 2^32-1, not renaming local/main/default).
fn table_names(cx: &Cx, nd: &NodeDoc, key: &str) -> Result<TableNames, TopoError> {
    let mut names = TableNames::default();
    if let Some(t) = &nd.tables {
        for (name, &id) in t.get_ref() {
            if id == 0 || ["local", "main", "default"].contains(&name.as_str()) {
                let msg = format!(
                    "{name} = {id}: table ids run from 1, and local, main and default are fixed"
                );
                return Err(cx.err(t.span(), key, msg));
            }
            names.add(name, id);
        }
    }
    Ok(names)
}

/// The node's rules and mark classifier entries, each parsed (errors name the file, line and
/// offending word); they are added in order when the router is built.
fn policy(
    cx: &Cx,
    nd: &NodeDoc,
    ifaces: &[Iface],
    tables: &TableNames,
    key: &dyn Fn(&str) -> String,
) -> Result<(Vec<String>, Vec<String>), TopoError> {
    let dev = |name: &str| {
        ifaces
            .iter()
            .position(|i| i.name == name)
            .map(|i| IfaceId(i as u16))
    };
    let mut rules = Vec::new();
    for text in &nd.rules {
        let fail = |m: String| {
            cx.err(
                text.span(),
                &key("rules"),
                format!("{:?}: {m}", text.get_ref()),
            )
        };
        parse_rule(text.get_ref(), dev, tables, 0).map_err(|e| fail(e.to_string()))?;
        rules.push(text.get_ref().clone());
    }
    let mut marks = Vec::new();
    for text in &nd.marks {
        let fail = |m: String| {
            cx.err(
                text.span(),
                &key("marks"),
                format!("{:?}: {m}", text.get_ref()),
            )
        };
        parse_mark(text.get_ref(), dev).map_err(|e| fail(e.to_string()))?;
        marks.push(text.get_ref().clone());
    }
    Ok((rules, marks))
}

fn route_list(
    cx: &Cx,
    list: &[Spanned<String>],
    ifaces: &[Iface],
    tables: &TableNames,
    key: &str,
) -> Result<Vec<ParsedRoute>, TopoError> {
    let dev = |name: &str| {
        ifaces
            .iter()
            .position(|i| i.name == name)
            .map(|i| IfaceId(i as u16))
    };
    let mut out = Vec::new();
    for text in list {
        let fail = |m: String| cx.err(text.span(), key, format!("{:?}: {m}", text.get_ref()));
        let r = parse_route_in(text.get_ref(), dev, tables).map_err(|e| fail(e.to_string()))?;
        let nh = r.route.nexthop;
        if let (RouteKind::Unicast, Some(gw)) = (nh.kind, nh.gateway) {
            let on = ifaces
                .iter()
                .enumerate()
                .filter(|(i, _)| nh.dev.is_none_or(|d| usize::from(d.0) == *i))
                .any(|(_, f)| f.addrs.iter().any(|a| a.contains(gw)));
            if !on {
                return Err(fail(format!("gateway {gw} is on no connected subnet")));
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Most workers a router may be spread over.
const WORKERS_MAX: u32 = 1024;

/// A node's `workers`, checked: routers only, 1 to [`WORKERS_MAX`], and (above 1) no
/// interface on a link file (links are refused in `links`).
fn spread_workers(
    cx: &Cx,
    nd: &NodeDoc,
    kind: Kind,
    ifaces: &[Iface],
    key: &str,
) -> Result<u32, TopoError> {
    let Some(w) = &nd.workers else {
        return Ok(1);
    };
    let n = *w.get_ref();
    if kind == Kind::Host {
        let msg = "only a router can be spread over workers".to_string();
        return Err(cx.err(w.span(), key, msg));
    }
    if !(1..=WORKERS_MAX).contains(&n) {
        let msg = format!("{n} workers: give 1 to {WORKERS_MAX}");
        return Err(cx.err(w.span(), key, msg));
    }
    if n > 1
        && let Some(f) = ifaces
            .iter()
            .find(|f| f.link_file.is_some() || f.vde.is_some())
    {
        let on = if f.vde.is_some() {
            "VDE"
        } else {
            "a link_file"
        };
        let msg = format!(
            "interface {} is on {on}; a router spread over workers has only interfaces \
             attached to host devices or unconnected",
            f.name
        );
        return Err(cx.err(w.span(), key, msg));
    }
    Ok(n)
}

fn links(cx: &Cx, doc: &Doc, nodes: &mut [Node]) -> Result<Vec<Link>, TopoError> {
    let default_delay = doc.settings.delay_us.unwrap_or(DEFAULT_DELAY_US);
    // Names are unique (checked with the nodes): one map makes resolving every end linear in
    // the file.
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let by_name: HashMap<&str, usize> = (names.iter().enumerate())
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut out = Vec::new();
    for (index, ld) in doc.links.iter().enumerate() {
        let mut ends = Vec::new();
        for e in &ld.ends {
            let fail = |m: String| cx.err(e.span(), "link.ends", m);
            let (n, i) = e
                .get_ref()
                .split_once(':')
                .ok_or_else(|| fail(format!("{:?} is not NODE:IFACE", e.get_ref())))?;
            let node = *by_name
                .get(n)
                .ok_or_else(|| fail(format!("no node named {n:?}")))?;
            let iface = nodes[node]
                .ifaces
                .iter()
                .position(|x| x.name == i)
                .ok_or_else(|| fail(format!("{n} has no interface {i:?}")))?;
            let f = &nodes[node].ifaces[iface];
            if let Some((parent, _)) = f.vlan {
                let msg = format!(
                    "{n}:{i} is a VLAN sub-interface: put its parent {} on the link",
                    nodes[node].ifaces[parent].name
                );
                return Err(fail(msg));
            }
            if nodes[node].workers > 1 {
                let msg = format!(
                    "{n} is spread over {} workers, so its interfaces are attached to host \
                     devices or unconnected, never on a link",
                    nodes[node].workers
                );
                return Err(fail(msg));
            }
            if f.link_file.is_some() || f.attach.is_some() || f.vde.is_some() {
                let what = if f.attach.is_some() {
                    "is attached to a device"
                } else if f.vde.is_some() {
                    "is on VDE"
                } else {
                    "has a link_file"
                };
                let msg = format!(
                    "{}:{} {what} and cannot also be on a link",
                    nodes[node].name, f.name
                );
                return Err(fail(msg));
            }
            if let Some(other) = nodes[node].ifaces[iface].link {
                let line = doc.links[other]
                    .ends
                    .first()
                    .map_or(1, |s| cx.line(s.span()));
                return Err(fail(format!(
                    "{n}:{i} is already on the link at line {line}"
                )));
            }
            nodes[node].ifaces[iface].link = Some(index);
            ends.push((node, iface));
        }
        if ends.len() < 2 {
            let span = ld.ends.first().map_or(0..0, Spanned::span);
            let msg = "a link needs at least two ends".into();
            return Err(cx.err(span, "link.ends", msg));
        }
        let link_netem = ld
            .netem
            .as_ref()
            .map(|n| netem(cx, n, "link.netem"))
            .transpose()?;
        let shaped_end = ends
            .iter()
            .find(|&&(n, i)| nodes[n].ifaces[i].netem.is_some());
        if let Some(&(n, i)) = shaped_end {
            let end = format!("{}:{}", nodes[n].name, nodes[n].ifaces[i].name);
            let clash = if ld.netem.is_some() {
                Some("the link's netem impairs every direction already")
            } else if ld.delay_us.is_some() {
                Some("give the direction's delay in its netem, not also in delay_us")
            } else {
                None
            };
            if let (Some(why), Some(first)) = (clash, ld.ends.first()) {
                let msg = format!("{end} has its own netem: {why}");
                return Err(cx.err(first.span(), "link.netem", msg));
            }
        }
        if let (Some(n), Some(_)) = (&ld.netem, ld.delay_us) {
            let msg = "give the link's delay in its netem, not also in delay_us".into();
            return Err(cx.err(n.span(), "link.netem", msg));
        }
        out.push(Link {
            ends,
            delay: Duration::from_micros(ld.delay_us.unwrap_or(default_delay)),
            netem: link_netem.map(Box::new),
        });
    }
    Ok(out)
}

fn show((net, len): Subnet) -> String {
    format!("{}/{len}", Ipv4Addr::from(net))
}

fn last((net, len): Subnet) -> u64 {
    u64::from(net) + (1u64 << (32 - len)) - 1
}

/// Ends of a link share a subnet; subnets of one link are equal or disjoint; subnets of
/// different links (and of interfaces on no link, which also earn a warning) are disjoint.
/// A VLAN sub-interface's VLAN must reach it: the switch port on its parent's link carries
/// the VLAN tagged. An untagged interface with addresses on a switch port needs a PVID there.
fn vlans_carried(cx: &Cx, doc: &Doc, nodes: &[Node], links: &[Link]) -> Result<(), TopoError> {
    for (n, nd) in doc.routers.iter().chain(&doc.hosts).enumerate() {
        let node = &nodes[n];
        for (i, f) in node.ifaces.iter().enumerate() {
            let (carrier, vid) = f.vlan.unwrap_or((i, 0));
            let Some(l) = node.ifaces[carrier].link else {
                continue;
            };
            if f.addrs.is_empty() {
                continue;
            }
            for &(m, j) in &links[l].ends {
                let Some(c) = nodes[m].switch.as_deref() else {
                    continue;
                };
                if c.hub || !c.vlan_filtering {
                    continue;
                }
                let port = &c.ports[j];
                let at = format!("{}:{}", nodes[m].name, port.name);
                let msg = if vid == 0 && port.pvid.is_none() {
                    format!(
                        "{}:{} sends untagged frames, but {at} has no PVID",
                        node.name, f.name
                    )
                } else if vid != 0 && (!port.vlans.contains(vid) || port.untagged.contains(vid)) {
                    let now = if port.vlans.contains(vid) {
                        "sends it untagged"
                    } else {
                        "does not carry it"
                    };
                    format!(
                        "{}:{} is in VLAN {vid}, tagged, but {at} {now} (vlans = \"{}\")",
                        node.name, f.name, port.vlans
                    )
                } else {
                    continue;
                };
                let key = format!("{}.iface.name", section(node.kind));
                return Err(cx.err(nd.iface.0[i].name.span(), &key, msg));
            }
        }
    }
    Ok(())
}

/// Subnets over segments: `links` are the physical links, or the segments switches and VLANs
/// make, each first met on physical link `first[s]`.
fn check_subnets(
    cx: &Cx,
    doc: &Doc,
    nodes: &[Node],
    links: &[Link],
    first: Option<&[usize]>,
) -> Result<Vec<Warning>, TopoError> {
    let mut warnings = Vec::new();
    // (subnet, owner, line, key): the owner is a link index, or links.len() + n for stubs.
    let mut all: Vec<(Subnet, usize, usize, &str)> = Vec::new();
    for (l, link) in links.iter().enumerate() {
        let phys = first.map_or(l, |f| f[l]);
        let span = doc.links[phys].ends.first().map_or(0..0, Spanned::span);
        let line = cx.line(span.clone());
        let subnets = subnets_of(&link.ends, nodes);
        let shared = subnets.iter().any(|s| {
            link.ends
                .iter()
                .all(|&(n, i)| nodes[n].ifaces[i].addrs.iter().any(|a| subnet(a) == *s))
        });
        if !shared {
            let names: Vec<String> = link
                .ends
                .iter()
                .map(|&(n, i)| format!("{}:{}", nodes[n].name, nodes[n].ifaces[i].name))
                .collect();
            let through = if first.is_some() {
                " (one segment through switches)"
            } else {
                ""
            };
            let msg = format!("{} share no subnet{through}", names.join(", "));
            return Err(cx.err(span, "link.ends", msg));
        }
        for (j, &a) in subnets.iter().enumerate() {
            if let Some(&b) = subnets[..j].iter().find(|&&b| overlap(a, b)) {
                let msg = format!("subnets {} and {} overlap on one link", show(b), show(a));
                return Err(cx.err(span, "link.ends", msg));
            }
        }
        all.extend(subnets.into_iter().map(|s| (s, l, line, "link.ends")));
    }
    let mut stub = links.len();
    for (n, nd) in doc.routers.iter().chain(&doc.hosts).enumerate() {
        for (i, f) in nodes[n].ifaces.iter().enumerate() {
            if f.link.is_some() || f.addrs.is_empty() {
                continue;
            }
            let carrier = f.vlan.map_or(f, |(parent, _)| &nodes[n].ifaces[parent]);
            let external =
                carrier.link_file.is_some() || carrier.attach.is_some() || carrier.vde.is_some();
            let span = nd.iface.0[i].name.span();
            let key = match nodes[n].kind {
                Kind::Router => "router.iface.name",
                Kind::Host | Kind::Switch => "host.iface.name",
            };
            if !external {
                warnings.push(Warning {
                    line: cx.line(span.clone()),
                    key: key.into(),
                    message: format!("{}:{} is on no link", nodes[n].name, f.name),
                });
            }
            all.extend(
                subnets_of(&[(n, i)], nodes)
                    .into_iter()
                    .map(|s| (s, stub, cx.line(span.clone()), key)),
            );
            stub += 1;
        }
    }
    // Prefixes nest or are disjoint, so sorted by start, one overlaps an earlier one exactly when
    // it starts before the furthest end seen so far.
    all.sort_by_key(|&(s, _, line, _)| (s.0, s.1, line));
    let mut reach: Option<(u64, Subnet, usize, usize)> = None;
    for &(s, owner, line, key) in &all {
        if let Some((end, prev, prev_owner, prev_line)) = reach
            && u64::from(s.0) <= end
            && prev_owner != owner
        {
            let (first, second, at) = if prev_line <= line {
                (prev, s, line)
            } else {
                (s, prev, prev_line)
            };
            let msg = format!(
                "subnet {} overlaps {} of another link (line {})",
                show(second),
                show(first),
                prev_line.min(line)
            );
            return Err(TopoError::Invalid {
                file: cx.file.to_owned(),
                line: at,
                key: key.to_owned(),
                message: msg,
            });
        }
        if reach.is_none_or(|r| last(s) > r.0) {
            reach = Some((last(s), s, owner, line));
        }
    }
    Ok(warnings)
}

fn overlap(a: Subnet, b: Subnet) -> bool {
    u64::from(a.0) <= last(b) && u64::from(b.0) <= last(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_addresses() {
        let a = parse_ifaddr("10.0.0.1/24").unwrap();
        assert_eq!((a.addr, a.len), (Ipv4Addr::new(10, 0, 0, 1), 24));
        // /31 and /32 have no network or broadcast address to refuse.
        assert!(parse_ifaddr("10.0.0.0/31").is_ok());
        assert!(parse_ifaddr("10.0.0.255/32").is_ok());
        assert!(parse_ifaddr("10.0.0.0/30").is_err());
        assert!(parse_ifaddr("10.0.0.3/30").is_err());
        assert!(parse_ifaddr("10.0.0.1/").is_err());
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(
            parse_mac("02:00:0a:ff:00:01"),
            Some(ethernet::Address([2, 0, 10, 255, 0, 1]))
        );
        for bad in [
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
            "02:00:00:00:00",
            "2:0:0:0:0:1",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn subnets_nest_or_not() {
        assert!(overlap((0x0a00_0000, 8), (0x0a01_0000, 16)));
        assert!(!overlap((0x0a00_0000, 24), (0x0a00_0100, 24)));
        assert_eq!(last((0, 0)), u64::from(u32::MAX));
    }
}
