//! Bridge and port identifiers, spanning-tree priority vectors and times (802.1D-2004 9.2, 17.6).
//!
//! A priority vector is compared component by component, lower is better: root bridge, root
//! path cost, designated bridge, designated port. Times are held in whole seconds, as the
//! state machines count them; BPDUs carry them in 1/256 s.

use core::cmp::Ordering;
use core::fmt;

/// A bridge identifier: 4 bits of priority, 12 bits of system id extension (zero here) and
/// the bridge's MAC address, compared as one 64-bit number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BridgeId(pub u64);

impl BridgeId {
    /// The identifier of a bridge with `priority` (its top 4 bits are kept) and `mac`.
    pub fn new(priority: u16, mac: [u8; 6]) -> BridgeId {
        let mut b = [0u8; 8];
        b[..2].copy_from_slice(&(priority & 0xf000).to_be_bytes());
        b[2..].copy_from_slice(&mac);
        BridgeId(u64::from_be_bytes(b))
    }

    /// The priority part (priority and system id extension).
    pub fn priority(self) -> u16 {
        (self.0 >> 48) as u16
    }

    /// The MAC address part.
    pub fn mac(self) -> [u8; 6] {
        let b = self.0.to_be_bytes();
        [b[2], b[3], b[4], b[5], b[6], b[7]]
    }
}

impl fmt::Display for BridgeId {
    /// Linux's notation: `8000.020000000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}.", self.priority())?;
        self.mac().iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A port identifier: 4 bits of priority, 12 bits of port number.
pub fn port_id(priority: u8, number: u16) -> u16 {
    (u16::from(priority & 0xf0) << 8) | (number & 0x0fff)
}

/// A spanning-tree priority vector (17.6) without its last component, the receiving port,
/// which only breaks ties in root port selection and is compared there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vector {
    /// Root bridge.
    pub root: BridgeId,
    /// Root path cost.
    pub cost: u32,
    /// Designated bridge.
    pub bridge: BridgeId,
    /// Designated port.
    pub port: u16,
}

impl Vector {
    fn key(&self) -> (u64, u32, u64, u16) {
        (self.root.0, self.cost, self.bridge.0, self.port)
    }

    /// Lexicographic comparison; `Less` is better.
    pub fn compare(&self, other: &Vector) -> Ordering {
        self.key().cmp(&other.key())
    }

    /// Better than `other`, or sent by the same designated bridge and port (17.6): such a
    /// message replaces what a port holds even when it is worse.
    pub fn superior(&self, other: &Vector) -> bool {
        self.compare(other) == Ordering::Less
            || (self.bridge.mac() == other.bridge.mac()
                && self.port & 0x0fff == other.port & 0x0fff)
    }
}

/// Timer parameters carried in BPDUs (17.19.22), whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Times {
    /// Message age: hops (seconds) from the root.
    pub message_age: u16,
    /// Max age: when received information is discarded.
    pub max_age: u16,
    /// Hello time: the interval between periodic BPDUs.
    pub hello: u16,
    /// Forward delay: time spent in each of listening/learning by an 802.1D port.
    pub forward_delay: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_ids_order_by_priority_then_mac() {
        let a = BridgeId::new(0x8000, [2, 0, 0, 0, 0, 1]);
        let b = BridgeId::new(0x7000, [2, 0, 0, 0, 0, 9]);
        assert!(b < a);
        assert_eq!(a.to_string(), "8000.020000000001");
        assert_eq!(a.mac(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(BridgeId::new(0x8123, [0; 6]).priority(), 0x8000);
    }

    #[test]
    fn same_designated_port_is_superior_even_when_worse() {
        let root = BridgeId::new(0x8000, [2, 0, 0, 0, 0, 1]);
        let d = BridgeId::new(0x8000, [2, 0, 0, 0, 0, 2]);
        let held = Vector {
            root,
            cost: 10,
            bridge: d,
            port: 0x8001,
        };
        let worse = Vector { cost: 30, ..held };
        assert!(worse.superior(&held));
        let other = Vector {
            port: 0x8002,
            ..worse
        };
        assert!(!other.superior(&held));
        assert_eq!(port_id(0x85, 0x1234), 0x8234);
    }
}
