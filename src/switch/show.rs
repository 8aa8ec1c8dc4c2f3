//! A switch's tables as iproute2's `bridge` prints them: `bridge fdb show` and `bridge vlan
//! show`, for `shoal ctl SWITCH fdb` and `SWITCH vlan`; its counters and spanning tree's view
//! for `SWITCH counters` and `SWITCH stp`.

use core::fmt::Write;

use super::Switch;

/// `bridge fdb show`: one line per entry, `MAC dev PORT [vlan VID] [static]`, sorted by
/// VLAN then MAC (entries past their age until the next sweep included, as Linux shows them).
pub fn fdb(sw: &Switch) -> String {
    let mut out = String::new();
    for (vid, mac, e) in sw.fdb().entries() {
        let port = sw
            .config()
            .ports
            .get(usize::from(e.port))
            .map_or("?", |p| &p.name);
        let _ = write!(out, "{mac} dev {port}");
        if vid != 0 {
            let _ = write!(out, " vlan {vid}");
        }
        out.push_str(if e.fixed { " static\n" } else { "\n" });
    }
    out
}

/// `bridge vlan show`: each port's VLANs, `PVID` and `Egress Untagged` marked.
pub fn vlans(sw: &Switch) -> String {
    let mut out = String::from("port              vlan-id\n");
    for p in &sw.config().ports {
        let mut first = true;
        for v in p.vlans.iter() {
            let name = if first { p.name.as_str() } else { "" };
            first = false;
            let _ = write!(out, "{name:<17} {v}");
            if p.pvid == Some(v) {
                out.push_str(" PVID");
            }
            if p.untagged.contains(v) {
                out.push_str(" Egress Untagged");
            }
            out.push('\n');
        }
    }
    out
}

/// `SWITCH counters`: the switch's counts, its drops by reason, then each port's frames in
/// and out (and those too big for it).
pub fn counters(sw: &Switch) -> String {
    let c = sw.counters();
    let mut out = format!(
        "received {}\nsent {}\nforwarded {}\nflooded {}\nlearned {} (moved {}, refused \
         fdb-full {})\nmirrored {}\ncopies failed {}\n",
        c.rx_frames,
        c.tx_frames,
        c.forwarded,
        c.flooded,
        c.learned,
        c.moved,
        c.fdb_full,
        c.mirrored,
        c.copy_failed
    );
    out.push_str(&crate::router::drops_line(
        c.total_drops(),
        c.nonzero_drops(),
    ));
    for (p, pc) in sw.config().ports.iter().zip(sw.port_counters()) {
        let _ = write!(out, "  {}: rx {} tx {}", p.name, pc.rx_frames, pc.tx_frames);
        if pc.mtu_exceeded > 0 {
            let _ = write!(out, " mtu-exceeded {}", pc.mtu_exceeded);
        }
        out.push('\n');
    }
    out
}

/// `SWITCH stp`: spanning tree's view, as `mstpctl showbridge` and `showport` would give it in
/// a line per port (role, state, BPDUs in and out as RST/config/TCN), ports by name.
pub fn stp(sw: &Switch) -> String {
    let Some(stp) = sw.stp() else {
        return match sw.config().stp.enabled {
            true => "spanning tree starting\n".into(),
            false => "spanning tree is off (stp = true turns it on)\n".into(),
        };
    };
    let mut out = String::new();
    for (i, line) in stp.status().to_string().lines().enumerate() {
        let named = line.strip_prefix("  port ").and_then(|rest| {
            let (n, tail) = rest.split_once(':')?;
            let name = sw.port_name(crate::router::IfaceId(n.parse().ok()?))?;
            Some(format!("  {name}:{tail}"))
        });
        match (i, named) {
            (0, _) | (_, None) => out.push_str(line),
            (_, Some(l)) => out.push_str(&l),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::{Config, PortConfig, Static, VlanSet};
    use crate::wire::ethernet::Address;

    #[test]
    fn shows_like_bridge() {
        let config = Config {
            ports: vec![
                PortConfig::access("p0", 10),
                PortConfig::trunk("p1", VlanSet::parse("10,20").unwrap()),
            ],
            fdb: vec![Static {
                mac: Address([2, 0, 0, 0, 0, 1]),
                port: 1,
                vlan: 20,
            }],
            ..Config::default()
        };
        let sw = Switch::new(config).unwrap();
        assert_eq!(fdb(&sw), "02:00:00:00:00:01 dev p1 vlan 20 static\n");
        assert_eq!(
            vlans(&sw),
            "port              vlan-id\np0                10 PVID Egress Untagged\n\
             p1                10\n                  20\n"
        );
    }
}
