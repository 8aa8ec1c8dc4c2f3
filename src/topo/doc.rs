//! The topology file as written: serde structures that mirror the TOML one to one.
//!
//! Nothing here is validated beyond TOML's own types; validation (`validate.rs`) turns a [`Doc`]
//! into a [`super::Topology`]. Every table denies unknown keys, so a typo is an error with a line
//! number rather than a silently ignored setting. Fields that validation complains about are
//! [`Spanned`], which keeps their byte range in the file for the error's line. The same
//! structures serialize, which is how generators write files.

use core::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

/// A whole topology file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Doc {
    /// A generated topology in place of routers, hosts and links (`[generate]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Spanned<GenerateDoc>>,
    /// Defaults for every node.
    #[serde(default, skip_serializing_if = "Settings::is_default")]
    pub settings: Settings,
    /// `[[router]]` tables.
    #[serde(default, rename = "router", skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<NodeDoc>,
    /// `[[host]]` tables.
    #[serde(default, rename = "host", skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<NodeDoc>,
    /// `[[switch]]` tables.
    #[serde(default, rename = "switch", skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<SwitchDoc>,
    /// `[[link]]` tables.
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkDoc>,
}

/// A `[[switch]]` table: an Ethernet switch (or hub) whose interfaces are its ports.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchDoc {
    /// Unique among all nodes.
    pub name: Spanned<String>,
    /// Worker core to pin the switch to (kept for the engine; the simulator ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<u32>,
    /// A hub: flood everything, learn nothing, ignore VLANs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<bool>,
    /// Seconds a learned address lives (300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ageing_s: Option<Spanned<u64>>,
    /// Most FDB entries (8192).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fdb_max: Option<Spanned<u64>>,
    /// Linux's `vlan_filtering` (on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_filtering: Option<bool>,
    /// `{ from = ["p1"], to = "p9", dir = "both" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Spanned<MirrorDoc>>,
    /// Static FDB entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fdb: Vec<Spanned<FdbDoc>>,
    /// Run spanning tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stp: Option<bool>,
    /// Spanning-tree bridge priority (32768; a multiple of 4096 up to 61440).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Spanned<u32>>,
    /// Spanning-tree hello time, seconds (2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hello_time: Option<Spanned<u64>>,
    /// Spanning-tree max age, seconds (20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Spanned<u64>>,
    /// Spanning-tree forward delay, seconds (15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_delay: Option<Spanned<u64>>,
    /// Ports: an array of tables, or one inline table.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub iface: OneOrMany<PortDoc>,
}

/// A switch port.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortDoc {
    /// Unique within its switch.
    pub name: Spanned<String>,
    /// Largest payload, 1500 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Spanned<u16>>,
    /// VLAN of untagged frames (1; 0 for none), an untagged member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvid: Option<Spanned<u16>>,
    /// Tagged memberships, `"10,20-30"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlans: Option<Spanned<String>>,
    /// Untagged memberships (the PVID when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged: Option<Spanned<String>>,
    /// A host device to bind to (instead of a `[[link]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Spanned<AttachDoc>>,
    /// Be a VDE switch of this port's own: libvdeplug clients at `listen` share the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vde: Option<Spanned<VdeDoc>>,
    /// Impairment of the frames leaving the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netem: Option<Spanned<String>>,
    /// Spanning-tree path cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Spanned<u32>>,
    /// Spanning-tree port priority (128; a multiple of 16 up to 240).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_priority: Option<Spanned<u32>>,
    /// A spanning-tree edge port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<bool>,
}

/// `mirror = { from = [...], to = ..., dir = ... }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorDoc {
    /// Ports whose traffic is copied.
    pub from: Vec<String>,
    /// The port the copies leave by.
    pub to: String,
    /// "rx", "tx" or "both" (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

/// A static FDB entry: `{ mac = "02:…", port = "p1", vlan = 10 }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FdbDoc {
    /// The address.
    pub mac: String,
    /// Its port.
    pub port: String,
    /// Its VLAN (1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
}

/// `[generate]`: a topology made by a generator, as `shoal gen` makes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateDoc {
    /// `"grid 316x316"`, `"hypercube 10 5"`, `"chain 254"`, `"random 10000 4 [SEED]"`.
    pub shape: Spanned<String>,
}

/// `[settings]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Routes of routers that give none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Spanned<Routes>>,
    /// One-way delay of links that give none, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<u64>,
    /// Seed of every link's random generator (impairments), so a run can be replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// TTL of the packets nodes that give none originate (Linux's `ip_default_ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Spanned<u32>>,
    /// Address blocks the subnets are numbered from: computed routes send an address of one
    /// that no subnet holds where they send the subnet below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Spanned<OneOrMany<String>>>,
}

impl Settings {
    fn is_default(&self) -> bool {
        *self == Settings::default()
    }
}

/// A `[[router]]` or `[[host]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDoc {
    /// Unique among all nodes.
    pub name: Spanned<String>,
    /// Worker core to pin the node to (kept for the engine; the simulator ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<u32>,
    /// Workers serving the router's host devices, one replica of the router per share of
    /// their receive queues (routers only; the simulator ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<Spanned<u32>>,
    /// Default route via this address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Spanned<String>>,
    /// TTL of the packets the node originates (Linux's `ip_default_ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Spanned<u32>>,
    /// Routes in iproute2 syntax, or "auto" (routers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Spanned<Routes>>,
    /// Names of routing tables: `{ isp1 = 100 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Spanned<std::collections::BTreeMap<String, u32>>>,
    /// Policy rules in `ip rule` syntax, added in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Spanned<String>>,
    /// The mark classifier: selectors and `mark N`, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<Spanned<String>>,
    /// Interfaces: an array of tables, or one inline table.
    #[serde(default, skip_serializing_if = "OneOrMany::is_empty")]
    pub iface: OneOrMany<IfaceDoc>,
}

/// An interface table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IfaceDoc {
    /// Unique within its node.
    pub name: Spanned<String>,
    /// One address ("10.0.0.1/24") or several. The span covers the whole value: TOML hands a
    /// lone string over without one. Only the parent of VLAN sub-interfaces may have none.
    #[serde(default = "no_addr", skip_serializing_if = "no_addrs")]
    pub addr: Spanned<OneOrMany<String>>,
    /// IP MTU, 1500 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<Spanned<u16>>,
    /// MAC address, generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Spanned<String>>,
    /// A shared-memory link file shared with another shoal process (instead of a `[[link]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_file: Option<Spanned<String>>,
    /// A host device to bind to, or a VDE switch to plug into (instead of a `[[link]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Spanned<AttachDoc>>,
    /// `vde = { listen = PATH }`: the interface is a VDE switch of its own (instead of a
    /// `[[link]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vde: Option<Spanned<VdeDoc>>,
    /// Interface group, for `suppress_ifgroup` rules (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// Impairment of the frames leaving the interface, in `tc qdisc … netem` syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netem: Option<Spanned<String>>,
}

fn no_addr() -> Spanned<OneOrMany<String>> {
    Spanned::new(0..0, OneOrMany::default())
}

fn no_addrs(a: &Spanned<OneOrMany<String>>) -> bool {
    a.get_ref().is_empty()
}

/// `attach = { dev = "eth1", mode = "auto" }`: an interface bound to a host device; or
/// `attach = { vde = "/tmp/sw", port = 3 }`: plugged into a VDE switch (`vde = "-"`: the
/// `vde_plug` stream on standard input and output).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttachDoc {
    /// The device (AF_XDP), or the TAP's name in TAP mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<Spanned<String>>,
    /// "auto" (the default), "afxdp" or "tap".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Spanned<String>>,
    /// The TAP's name in TAP mode or for the fallback of "auto".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<Spanned<String>>,
    /// A VDE switch's control directory to plug into, or "-" for standard input and output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vde: Option<Spanned<String>>,
    /// The VDE switch port to ask for (any free one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Spanned<u32>>,
}

/// `vde = { listen = "/tmp/r1.vde" }`: an interface that is a VDE switch, its clients sharing
/// it as a hub.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VdeDoc {
    /// The control directory to make (`vde_plug PATH` plugs into it).
    pub listen: Spanned<String>,
}

/// A `[[link]]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDoc {
    /// "node:iface" for each end; two ends make a point-to-point link, more a bus.
    pub ends: Vec<Spanned<String>>,
    /// One-way delay in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<u64>,
    /// Impairment of the frames crossing the link in every direction, in `tc qdisc … netem`
    /// syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netem: Option<Spanned<String>>,
}

/// `routes = "auto"` or a list of routes.
#[derive(Debug, Clone, PartialEq)]
pub enum Routes {
    /// Computed shortest-path routes.
    Auto,
    /// These routes, in iproute2 syntax.
    List(Vec<Spanned<String>>),
}

impl Serialize for Routes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Routes::Auto => s.serialize_str("auto"),
            Routes::List(l) => l.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Routes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Routes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#""auto" or a list of routes"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Routes, E> {
                match v {
                    "auto" => Ok(Routes::Auto),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Routes, A::Error> {
                let mut routes = Vec::new();
                while let Some(r) = seq.next_element()? {
                    routes.push(r);
                }
                Ok(Routes::List(routes))
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or an array of them: `addr = "10.0.0.1/24"` and `addr = ["10.0.0.1/24"]` both
/// work, and so do `iface = { … }` and `[[host.iface]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(core::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or an array of values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(v) = seq.next_element()? {
                    all.push(v);
                }
                Ok(OneOrMany(all))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany(vec![one]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let d: de::value::StrDeserializer<'_, E> =
                    de::IntoDeserializer::into_deserializer(v);
                Ok(OneOrMany(vec![T::deserialize(d)?]))
            }
        }
        d.deserialize_any(V(core::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_many() {
        let inline: Doc = toml::from_str(
            "[[host]]\nname = \"h\"\niface = { name = \"eth0\", addr = \"10.0.0.1/24\" }\n",
        )
        .unwrap();
        let array: Doc = toml::from_str(
            "[[host]]\nname = \"h\"\n[[host.iface]]\nname = \"eth0\"\naddr = [\"10.0.0.1/24\"]\n",
        )
        .unwrap();
        assert_eq!(inline, array);
        // Unknown keys are refused inside an inline table too.
        let e = toml::from_str::<Doc>(
            "[[host]]\nname = \"h\"\niface = { name = \"eth0\", addr = \"10.0.0.1/24\", x = 1 }\n",
        )
        .unwrap_err();
        assert!(e.message().contains("unknown field `x`"), "{e}");
    }
}
