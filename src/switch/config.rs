//! A switch's configuration: bridge-wide settings, ports, mirroring, static FDB entries and
//! the spanning-tree settings kept for `stp` (plain data; the switch does not read them).

use core::time::Duration;

use super::vlan::VlanSet;
use crate::wire::ethernet::Address;

/// Linux's default `ageing_time`.
pub const DEFAULT_AGEING: Duration = Duration::from_secs(300);

/// Default bound of the forwarding database.
pub const DEFAULT_FDB_MAX: usize = 8192;

/// A whole switch.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Flood every frame to every other port, learn nothing, ignore VLANs (a repeater hub).
    pub hub: bool,
    /// How long a learned address lives.
    pub ageing: Duration,
    /// At most this many FDB entries, static ones included.
    pub fdb_max: usize,
    /// Linux's `vlan_filtering`: on, ports classify, filter and tag by VLAN; off, tags pass
    /// through unchanged and one FDB serves every VLAN.
    pub vlan_filtering: bool,
    /// Ports, in order: port `i` is interface `i` of the node.
    pub ports: Vec<PortConfig>,
    /// Port mirroring, if configured.
    pub mirror: Option<Mirror>,
    /// Static FDB entries.
    pub fdb: Vec<Static>,
    /// Spanning tree, as the topology gives it.
    pub stp: StpConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hub: false,
            ageing: DEFAULT_AGEING,
            fdb_max: DEFAULT_FDB_MAX,
            vlan_filtering: true,
            ports: Vec::new(),
            mirror: None,
            fdb: Vec::new(),
            stp: StpConfig::default(),
        }
    }
}

/// One port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortConfig {
    /// Name (the node's interface name).
    pub name: String,
    /// Largest payload (the frame less its Ethernet header and one 802.1Q tag), like a Linux
    /// device's MTU.
    pub mtu: u16,
    /// VLAN of untagged and priority-tagged frames received; `None` drops them.
    pub pvid: Option<u16>,
    /// VLANs the port is a member of (the PVID's included).
    pub vlans: VlanSet,
    /// Member VLANs whose frames leave untagged.
    pub untagged: VlanSet,
}

impl PortConfig {
    /// A port as Linux makes one: VLAN 1, PVID and untagged, MTU 1500.
    pub fn new(name: &str) -> PortConfig {
        PortConfig {
            name: name.to_owned(),
            mtu: 1500,
            pvid: Some(1),
            vlans: VlanSet::of(1),
            untagged: VlanSet::of(1),
        }
    }

    /// An access port: untagged member of `vid` only, which is its PVID.
    pub fn access(name: &str, vid: u16) -> PortConfig {
        PortConfig {
            pvid: Some(vid),
            vlans: VlanSet::of(vid),
            untagged: VlanSet::of(vid),
            ..PortConfig::new(name)
        }
    }

    /// A trunk: tagged member of `vlans`, no PVID.
    pub fn trunk(name: &str, vlans: VlanSet) -> PortConfig {
        PortConfig {
            pvid: None,
            vlans,
            untagged: VlanSet::default(),
            ..PortConfig::new(name)
        }
    }
}

/// `mirror = { from = [...], to = ... }`: copies of what the `from` ports receive and send go
/// out of `to`, which does nothing else (a SPAN destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Source ports.
    pub from: Vec<u16>,
    /// Destination port.
    pub to: u16,
    /// Copy what the sources receive.
    pub rx: bool,
    /// Copy what the sources send.
    pub tx: bool,
}

/// A static FDB entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Static {
    /// The address.
    pub mac: Address,
    /// Its port.
    pub port: u16,
    /// Its VLAN (0 when VLAN filtering is off).
    pub vlan: u16,
}

/// Spanning-tree settings of a switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StpConfig {
    /// Run spanning tree.
    pub enabled: bool,
    /// Bridge priority (32768 by default; a multiple of 4096).
    pub priority: u16,
    /// The bridge address (the bridge identifier's low part, the source of its BPDUs): the
    /// lowest of its ports' addresses, as Linux picks.
    pub mac: Address,
    /// Per port, in port order.
    pub ports: Vec<StpPortConfig>,
    /// Hello time, max age and forward delay this bridge advertises when it is the root
    /// (every bridge runs on the root's).
    pub timers: StpTimers,
}

impl Default for StpConfig {
    /// Off; priority 32768 and 802.1D's timers when turned on.
    fn default() -> StpConfig {
        StpConfig {
            enabled: false,
            priority: 32768,
            mac: Address::default(),
            ports: Vec::new(),
            timers: StpTimers::default(),
        }
    }
}

/// Spanning tree's timers, whole seconds as BPDUs carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StpTimers {
    /// Between BPDUs a designated port sends (2 s).
    pub hello: Duration,
    /// How long information received lives without being refreshed (20 s).
    pub max_age: Duration,
    /// Time in each of 802.1D's listening and learning states (15 s).
    pub forward_delay: Duration,
}

impl Default for StpTimers {
    /// 802.1D's, as the spanning-tree entity takes them by default.
    fn default() -> StpTimers {
        let b = super::stp::BridgeConfig::new([0; 6]);
        StpTimers {
            hello: b.hello,
            max_age: b.max_age,
            forward_delay: b.forward_delay,
        }
    }
}

impl StpTimers {
    /// Timers as 802.1D-2004 (17.14) bounds them — hello 1 to 2 s (Linux allows up to 10),
    /// max age 6 to 40 s, forward delay 4 to 30 s, and 2 × (forward delay − 1) ≥ max age ≥
    /// 2 × (hello + 1) — or why not.
    pub fn new(hello: u64, max_age: u64, forward_delay: u64) -> Result<StpTimers, String> {
        if !(1..=10).contains(&hello) {
            return Err(format!("hello time {hello} s is outside 1..=10"));
        }
        if !(6..=40).contains(&max_age) {
            return Err(format!("max age {max_age} s is outside 6..=40"));
        }
        if !(4..=30).contains(&forward_delay) {
            return Err(format!("forward delay {forward_delay} s is outside 4..=30"));
        }
        if max_age > 2 * (forward_delay - 1) || max_age < 2 * (hello + 1) {
            return Err(format!(
                "max age {max_age} s must lie between 2 × (hello + 1) = {} s and \
                 2 × (forward delay - 1) = {} s",
                2 * (hello + 1),
                2 * (forward_delay - 1)
            ));
        }
        let s = Duration::from_secs;
        Ok(StpTimers {
            hello: s(hello),
            max_age: s(max_age),
            forward_delay: s(forward_delay),
        })
    }
}

/// Spanning-tree settings of a port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StpPortConfig {
    /// Path cost (`None`: from the link speed, as 802.1D-2004 §17.14 tabulates).
    pub cost: Option<u32>,
    /// Port priority (128 by default; a multiple of 16).
    pub priority: u8,
    /// An edge port (a host behind it, never a bridge): forwards at once.
    pub edge: bool,
}

/// Spanning tree's state of a port, which gates learning and forwarding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PortState {
    /// Administratively or physically down.
    Disabled,
    /// Neither learns nor forwards (802.1D blocking and listening).
    Discarding,
    /// Learns addresses, does not forward.
    Learning,
    /// Learns and forwards (the state of every port when spanning tree is off).
    #[default]
    Forwarding,
}

impl PortState {
    /// Frames received may teach the FDB.
    pub fn learns(self) -> bool {
        matches!(self, PortState::Learning | PortState::Forwarding)
    }

    /// Frames may be received and sent.
    pub fn forwards(self) -> bool {
        self == PortState::Forwarding
    }
}

/// Why a switch configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Two ports share a name.
    #[error("port {0} already exists")]
    DuplicatePort(String),
    /// More than 65535 ports.
    #[error("too many ports")]
    TooManyPorts,
    /// A port number (mirror, static entry) names no port.
    #[error("no port {0}")]
    NoSuchPort(u16),
    /// More static entries than the FDB holds.
    #[error("more static FDB entries than fdb_max")]
    FdbFull,
}
