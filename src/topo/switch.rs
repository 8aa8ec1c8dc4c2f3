//! Validating a `[[switch]]` table into a [`Node`] of kind [`Kind::Switch`] with its
//! [`crate::switch::Config`]: ports (interfaces without addresses) with their MTU, PVID and
//! VLAN memberships, mirroring, static FDB entries, and spanning-tree settings.

use core::time::Duration;

use toml::Spanned;

use super::doc::{PortDoc, SwitchDoc};
use super::validate::{Cx, attach, netem, parse_mac, vde};
use super::{AutoRoutes, DEFAULT_TTL, Iface, Kind, Node, TopoError};
use crate::frame::MAX_DATA;
use crate::port::PortSpec;
use crate::switch::{
    Config, DEFAULT_AGEING, DEFAULT_FDB_MAX, Mirror, PortConfig, Static, StpConfig, StpPortConfig,
    StpTimers, VlanSet,
};
use crate::wire::ethernet;

/// Largest MTU a port (or interface) may have: what a frame buffer holds past the header.
pub(super) const MAX_MTU: u16 = (MAX_DATA - ethernet::HEADER_LEN) as u16;

/// The switch `sd`, node `index` of the topology.
pub(super) fn node(cx: &Cx, sd: &SwitchDoc, index: usize) -> Result<Node, TopoError> {
    let name = sd.name.get_ref();
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut ports = Vec::new();
    let mut stp_ports = Vec::new();
    for (i, pd) in sd.iface.0.iter().enumerate() {
        let pname = pd.name.get_ref();
        if ifaces.iter().any(|f| f.name == *pname) {
            let msg = format!("duplicate port {pname:?} in {name}");
            return Err(cx.err(pd.name.span(), "switch.iface.name", msg));
        }
        if pname.is_empty() || pname.contains(':') || pname.len() > 15 {
            let msg = format!("{pname:?} is not a port name (1 to 15 bytes, no ':')");
            return Err(cx.err(pd.name.span(), "switch.iface.name", msg));
        }
        let key = |k: &str| format!("switch.iface.{k}");
        let port = port(cx, pd)?;
        let [_, a, b, c] = (index as u32).to_be_bytes();
        ifaces.push(Iface {
            name: pname.clone(),
            addrs: Vec::new(),
            mtu: port.mtu,
            mac: ethernet::Address([0x02, a, b, c, i as u8, 0]),
            link: None,
            link_file: None,
            attach: attach(cx, pd.attach.as_ref(), false, &key)?.map(|spec| {
                Box::new(PortSpec {
                    every_frame: true,
                    ..spec
                })
            }),
            vde: vde(cx, pd.attach.as_ref(), pd.vde.as_ref(), false, &key)?.map(Box::new),
            group: 0,
            netem: (pd.netem.as_ref())
                .map(|n| netem(cx, n, &key("netem")).map(Box::new))
                .transpose()?,
            vlan: None,
        });
        ports.push(port);
        stp_ports.push(stp_port(cx, pd)?);
    }
    let port_index = |p: &str, span: core::ops::Range<usize>, k: &str| {
        ifaces
            .iter()
            .position(|f| f.name == p)
            .map(|i| i as u16)
            .ok_or_else(|| cx.err(span, k, format!("{name} has no port {p:?}")))
    };
    let vlan_filtering = sd.vlan_filtering.unwrap_or(true);
    let mirror = match &sd.mirror {
        None => None,
        Some(m) => {
            let (span, md) = (m.span(), m.get_ref());
            let k = "switch.mirror";
            let to = port_index(&md.to, span.clone(), k)?;
            let mut from = Vec::new();
            for f in &md.from {
                let p = port_index(f, span.clone(), k)?;
                if p == to {
                    let msg = format!("{f} cannot mirror to itself");
                    return Err(cx.err(span, k, msg));
                }
                from.push(p);
            }
            let (rx, tx) = match md.dir.as_deref() {
                None | Some("both") => (true, true),
                Some("rx") => (true, false),
                Some("tx") => (false, true),
                Some(d) => {
                    let msg = format!("dir {d:?}: give \"rx\", \"tx\" or \"both\"");
                    return Err(cx.err(span, k, msg));
                }
            };
            Some(Mirror { from, to, rx, tx })
        }
    };
    let mut fdb = Vec::new();
    for e in &sd.fdb {
        let (span, ed) = (e.span(), e.get_ref());
        let k = "switch.fdb";
        let mac = parse_mac(&ed.mac).ok_or_else(|| {
            cx.err(
                span.clone(),
                k,
                format!("{:?} is not a unicast MAC address", ed.mac),
            )
        })?;
        let port = port_index(&ed.port, span.clone(), k)?;
        let vlan = match (vlan_filtering, ed.vlan) {
            (false, None) => 0,
            (false, Some(_)) => {
                let msg = "without vlan_filtering the FDB has no VLANs: give no vlan".into();
                return Err(cx.err(span, k, msg));
            }
            (true, None) => 1,
            (true, Some(v)) if (1..=4094).contains(&v) => v,
            (true, Some(v)) => {
                return Err(cx.err(span, k, format!("VLAN {v} is outside 1..=4094")));
            }
        };
        fdb.push(Static { mac, port, vlan });
    }
    let ageing = match &sd.ageing_s {
        None => DEFAULT_AGEING,
        Some(a) if (1..=1_000_000).contains(a.get_ref()) => Duration::from_secs(*a.get_ref()),
        Some(a) => {
            let msg = format!("{} s is outside 1..=1000000", a.get_ref());
            return Err(cx.err(a.span(), "switch.ageing_s", msg));
        }
    };
    let fdb_max = match &sd.fdb_max {
        None => DEFAULT_FDB_MAX,
        Some(m) if (1..=1_000_000).contains(m.get_ref()) && *m.get_ref() as usize >= fdb.len() => {
            *m.get_ref() as usize
        }
        Some(m) => {
            let msg = format!(
                "{} is outside {}..=1000000 (static entries count)",
                m.get_ref(),
                fdb.len().max(1)
            );
            return Err(cx.err(m.span(), "switch.fdb_max", msg));
        }
    };
    let priority = match &sd.priority {
        None => 32768,
        Some(p) if *p.get_ref() <= 61440 && p.get_ref() % 4096 == 0 => *p.get_ref() as u16,
        Some(p) => {
            let msg = format!("{} is not a multiple of 4096 up to 61440", p.get_ref());
            return Err(cx.err(p.span(), "switch.priority", msg));
        }
    };
    let stp = StpConfig {
        enabled: sd.stp.unwrap_or(false),
        priority,
        mac: ifaces.iter().map(|f| f.mac).min().unwrap_or_default(),
        ports: stp_ports,
        timers: stp_timers(cx, sd)?,
    };
    let config = Config {
        hub: sd.hub.unwrap_or(false),
        ageing,
        fdb_max,
        vlan_filtering,
        ports,
        mirror,
        fdb,
        stp,
    };
    Ok(Node {
        name: name.clone(),
        kind: Kind::Switch,
        core: sd.core,
        workers: 1,
        ifaces,
        routes: Vec::new(),
        auto_routes: false,
        auto: AutoRoutes::default(),
        tables: Vec::new(),
        rules: Vec::new(),
        marks: Vec::new(),
        gateway: None,
        ttl: DEFAULT_TTL,
        switch: Some(Box::new(config)),
    })
}

/// A port's MTU and VLANs. Linux's defaults: PVID 1, untagged. `pvid = 0`: none (untagged
/// frames are dropped); `untagged` defaults to the PVID; every VLAN named is a membership.
fn port(cx: &Cx, pd: &PortDoc) -> Result<PortConfig, TopoError> {
    let mtu = match &pd.mtu {
        None => 1500,
        Some(m) if (68..=MAX_MTU).contains(m.get_ref()) => *m.get_ref(),
        Some(m) => {
            let msg = format!(
                "{} is outside 68..={MAX_MTU} (a frame buffer holds {MAX_DATA} bytes)",
                m.get_ref()
            );
            return Err(cx.err(m.span(), "switch.iface.mtu", msg));
        }
    };
    let pvid = match &pd.pvid {
        None => Some(1),
        Some(p) if *p.get_ref() == 0 => None,
        Some(p) if *p.get_ref() <= 4094 => Some(*p.get_ref()),
        Some(p) => {
            let msg = format!("{} is outside 0..=4094 (0: no PVID)", p.get_ref());
            return Err(cx.err(p.span(), "switch.iface.pvid", msg));
        }
    };
    let set = |s: &Option<Spanned<String>>, k: &str| -> Result<Option<VlanSet>, TopoError> {
        s.as_ref()
            .map(|t| VlanSet::parse(t.get_ref()).map_err(|m| cx.err(t.span(), k, m)))
            .transpose()
    };
    let tagged = set(&pd.vlans, "switch.iface.vlans")?.unwrap_or_default();
    let untagged = match set(&pd.untagged, "switch.iface.untagged")? {
        Some(u) => u,
        None => pvid.map(VlanSet::of).unwrap_or_default(),
    };
    let mut vlans = tagged;
    vlans.extend(&untagged);
    if let Some(p) = pvid {
        vlans.insert(p);
    }
    Ok(PortConfig {
        name: pd.name.get_ref().clone(),
        mtu,
        pvid,
        vlans,
        untagged,
    })
}

/// A port's spanning-tree keys.
/// `hello_time`, `max_age`, `forward_delay`: each defaults to 802.1D's, and together they
/// must be consistent; an error points at the first one given.
fn stp_timers(cx: &Cx, sd: &SwitchDoc) -> Result<StpTimers, TopoError> {
    let d = StpTimers::default();
    let given = [
        ("switch.hello_time", &sd.hello_time, d.hello),
        ("switch.max_age", &sd.max_age, d.max_age),
        ("switch.forward_delay", &sd.forward_delay, d.forward_delay),
    ];
    let [hello, max_age, forward_delay] =
        given.map(|(_, v, default)| v.as_ref().map_or(default.as_secs(), |v| *v.get_ref()));
    StpTimers::new(hello, max_age, forward_delay).map_err(|msg| {
        let (key, span) = given
            .iter()
            .find_map(|(k, v, _)| v.as_ref().map(|v| (*k, v.span())))
            .unwrap_or(("switch", sd.name.span()));
        cx.err(span, key, msg)
    })
}

fn stp_port(cx: &Cx, pd: &PortDoc) -> Result<StpPortConfig, TopoError> {
    let cost = match &pd.cost {
        None => None,
        Some(c) if (1..=200_000_000).contains(c.get_ref()) => Some(*c.get_ref()),
        Some(c) => {
            let msg = format!("{} is outside 1..=200000000", c.get_ref());
            return Err(cx.err(c.span(), "switch.iface.cost", msg));
        }
    };
    let priority = match &pd.port_priority {
        None => 128,
        Some(p) if *p.get_ref() <= 240 && p.get_ref() % 16 == 0 => *p.get_ref() as u8,
        Some(p) => {
            let msg = format!("{} is not a multiple of 16 up to 240", p.get_ref());
            return Err(cx.err(p.span(), "switch.iface.port_priority", msg));
        }
    };
    Ok(StpPortConfig {
        cost,
        priority,
        edge: pd.edge.unwrap_or(false),
    })
}
