//! Router interfaces: name, MAC, MTU, administrative state and IPv4 addresses.

use std::net::Ipv4Addr;

use crate::wire::ethernet;

/// Index of an interface inside its router; also the port the engine wires it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfaceId(pub u16);

/// An IPv4 address with its prefix length, as `ip addr add 10.0.0.1/24` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfAddr {
    /// The address.
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub len: u8,
}

impl IfAddr {
    /// An address and prefix length; `None` if the length exceeds 32.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<IfAddr> {
        (len <= 32).then_some(IfAddr { addr, len })
    }

    /// The network mask as a host-order integer.
    pub fn mask(&self) -> u32 {
        mask(self.len)
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The directed broadcast address, or `None` for /31 and /32 (RFC 3021).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        (self.len < 31).then(|| Ipv4Addr::from(u32::from(self.addr) | !self.mask()))
    }

    /// True when `ip` is on this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) ^ u32::from(self.addr)) & self.mask() == 0
    }
}

impl core::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Host-order netmask for a prefix length (lengths above 32 act as 32).
pub const fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - if len > 32 { 32 } else { len })
    }
}

/// Per-interface tallies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfaceCounters {
    /// Frames received.
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// One interface of a router.
#[derive(Debug, Clone)]
pub struct Iface {
    pub(crate) name: String,
    pub(crate) mac: ethernet::Address,
    pub(crate) mtu: u16,
    pub(crate) up: bool,
    pub(crate) addrs: Vec<IfAddr>,
    pub(crate) counters: IfaceCounters,
    /// A VLAN sub-interface: its parent and VLAN id. It sends and receives through the parent,
    /// tagged.
    pub(crate) vlan: Option<(IfaceId, u16)>,
}

impl Iface {
    pub(crate) fn new(name: &str, mac: ethernet::Address, mtu: u16) -> Iface {
        Iface {
            name: name.to_owned(),
            mac,
            mtu,
            up: true,
            addrs: Vec::new(),
            counters: IfaceCounters::default(),
            vlan: None,
        }
    }

    /// Interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hardware address.
    pub fn mac(&self) -> ethernet::Address {
        self.mac
    }

    /// Administratively up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// IP MTU in bytes.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Addresses, primary first.
    pub fn addrs(&self) -> &[IfAddr] {
        &self.addrs
    }

    /// The parent and VLAN id of a VLAN sub-interface.
    pub fn vlan(&self) -> Option<(IfaceId, u16)> {
        self.vlan
    }

    /// Tallies.
    pub fn counters(&self) -> &IfaceCounters {
        &self.counters
    }

    /// The address to speak from towards `peer`: the first address on the peer's subnet, else
    /// the primary address (what Linux's inet_select_addr does for link-scope peers).
    pub fn select_addr(&self, peer: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .find(|a| a.contains(peer))
            .or(self.addrs.first())
            .map(|a| a.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_arithmetic() {
        let a = IfAddr::new(Ipv4Addr::new(10, 1, 2, 3), 24).unwrap();
        assert_eq!(a.network(), Ipv4Addr::new(10, 1, 2, 0));
        assert_eq!(a.broadcast(), Some(Ipv4Addr::new(10, 1, 2, 255)));
        assert!(a.contains(Ipv4Addr::new(10, 1, 2, 200)));
        assert!(!a.contains(Ipv4Addr::new(10, 1, 3, 1)));
        assert_eq!(IfAddr::new(a.addr, 31).unwrap().broadcast(), None);
        assert!(
            IfAddr::new(a.addr, 0)
                .unwrap()
                .contains(Ipv4Addr::new(1, 1, 1, 1))
        );
        assert!(IfAddr::new(a.addr, 33).is_none());
        assert_eq!(mask(0), 0);
        assert_eq!(mask(8), 0xff00_0000);
        assert_eq!(mask(32), u32::MAX);
    }
}
