//! Ethernet II frames (IEEE 802.3 clause 3.2.6 framing) with at most one IEEE 802.1Q VLAN tag.
//!
//! The view starts at the destination address and ends wherever the buffer ends; there is no
//! frame check sequence (NICs, TAP and AF_XDP all strip it). A tagged frame carries the TPID
//! `0x8100` where the EtherType would be, then a 2-byte tag control field (priority, drop
//! eligibility, VLAN id) and the real EtherType. Stacked tags (802.1ad) show up as an outer
//! [`EtherType::Vlan`] whose inner type is `Unknown(0x88a8)` or `Vlan`; they are not unwrapped.

use core::fmt;
use core::str::FromStr;

use super::{Error, Result, read_array, read_u16, sub, sub_mut, write_array, write_u16};

/// A 48-bit IEEE 802 MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: Address = Address([0xff; 6]);

    /// Whether this is the all-ones broadcast address.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    /// Whether the I/G bit (least significant bit of the first octet) is set. Broadcast is a
    /// multicast address by this definition.
    pub const fn is_multicast(&self) -> bool {
        let [first, ..] = self.0;
        first & 0x01 != 0
    }

    /// Whether this names a single station (I/G bit clear).
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// The six octets in transmission order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Address {
    type Err = Error;

    /// Parses six colon-separated pairs of hex digits, either case: `02:00:00:00:00:01`.
    fn from_str(s: &str) -> Result<Address> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or(Error::Malformed)?;
            // from_str_radix alone would accept "+f" and single digits.
            if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Malformed);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| Error::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(Address(out))
    }
}

/// The EtherType field: what the payload of a frame (or of a VLAN tag) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtherType {
    /// `0x0800`, RFC 894.
    Ipv4,
    /// `0x0806`, RFC 826.
    Arp,
    /// `0x8100`, an IEEE 802.1Q tag follows.
    Vlan,
    /// `0x86dd`, RFC 2464.
    Ipv6,
    /// Anything else, kept verbatim.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(raw: u16) -> EtherType {
        match raw {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(other) => other,
        }
    }
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Extra length an 802.1Q tag adds.
pub const VLAN_TAG_LEN: usize = 4;

/// The tag control information of an 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    /// Priority code point, 3 bits (IEEE 802.1p).
    pub pcp: u8,
    /// Drop eligible indicator (formerly CFI).
    pub dei: bool,
    /// VLAN identifier, 12 bits.
    pub vid: u16,
}

impl VlanTag {
    /// Decode a tag control field.
    pub const fn from_tci(tci: u16) -> VlanTag {
        VlanTag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    /// Encode as a tag control field; out-of-range `pcp` and `vid` bits are dropped.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

mod field {
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const ETHERTYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_ETHERTYPE: usize = 16;
}

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap a buffer without checking its length. Getters still never panic (short fields read
    /// as zero), but only [`Frame::new_checked`] makes their values meaningful.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wrap a buffer that holds at least a full header: 14 bytes, or 18 when tagged.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Frame::new_unchecked(buffer);
        let len = frame.buffer.as_ref().len();
        if len < HEADER_LEN || len < frame.header_len() {
            return Err(Error::Truncated);
        }
        Ok(frame)
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> Address {
        Address(read_array(self.buffer.as_ref(), field::DST))
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> Address {
        Address(read_array(self.buffer.as_ref(), field::SRC))
    }

    /// The EtherType field at bytes 12..14, which is [`EtherType::Vlan`] on a tagged frame.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// The 802.1Q tag, when the frame has one.
    #[inline]
    pub fn vlan(&self) -> Option<VlanTag> {
        match self.ethertype() {
            EtherType::Vlan => Some(VlanTag::from_tci(read_u16(
                self.buffer.as_ref(),
                field::TCI,
            ))),
            _ => None,
        }
    }

    /// The type of the payload: the inner EtherType of a tagged frame, else [`Frame::ethertype`].
    #[inline]
    pub fn payload_ethertype(&self) -> EtherType {
        match self.ethertype() {
            EtherType::Vlan => {
                EtherType::from(read_u16(self.buffer.as_ref(), field::INNER_ETHERTYPE))
            }
            other => other,
        }
    }

    /// Header length including any tag: 14 or 18.
    #[inline]
    pub fn header_len(&self) -> usize {
        match self.ethertype() {
            EtherType::Vlan => HEADER_LEN + VLAN_TAG_LEN,
            _ => HEADER_LEN,
        }
    }

    /// Everything after the header (and tag), to the end of the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        sub(buf, self.header_len(), buf.len())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Set the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, a: Address) {
        write_array(self.buffer.as_mut(), field::DST, a.0);
    }

    /// Set the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, a: Address) {
        write_array(self.buffer.as_mut(), field::SRC, a.0);
    }

    /// Set the EtherType field at bytes 12..14 (use [`EtherType::Vlan`] to start a tag).
    #[inline]
    pub fn set_ethertype(&mut self, t: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, t.into());
    }

    /// Write the tag control field at bytes 14..16. The outer EtherType must already be
    /// [`EtherType::Vlan`]; the inner type is set with [`Frame::set_payload_ethertype`].
    #[inline]
    pub fn set_vlan(&mut self, tag: VlanTag) {
        write_u16(self.buffer.as_mut(), field::TCI, tag.tci());
    }

    /// Set the payload's type: the inner EtherType on a tagged frame, else bytes 12..14.
    #[inline]
    pub fn set_payload_ethertype(&mut self, t: EtherType) {
        let at = match self.ethertype() {
            EtherType::Vlan => field::INNER_ETHERTYPE,
            _ => field::ETHERTYPE,
        };
        write_u16(self.buffer.as_mut(), at, t.into());
    }

    /// Everything after the header (and tag), mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let buf = self.buffer.as_mut();
        let end = buf.len();
        sub_mut(buf, start, end)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A hand-assembled 802.1Q-tagged ARP request of the kind a Linux VLAN sub-interface sends:
    // broadcast, from 52:54:00:12:34:56, PCP 5, DEI 0, VID 100, inner type ARP, 28-byte body.
    const TAGGED: [u8; 46] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // src
        0x81, 0x00, // TPID
        0xa0, 0x64, // PCP 5, DEI 0, VID 100
        0x08, 0x06, // ARP
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, op
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 192, 168, 100, 1, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 100, 2, // target
    ];

    #[test]
    fn deconstruct_tagged() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(f.dst_addr(), Address::BROADCAST);
        assert_eq!(f.src_addr(), Address([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]));
        assert_eq!(f.ethertype(), EtherType::Vlan);
        assert_eq!(
            f.vlan(),
            Some(VlanTag {
                pcp: 5,
                dei: false,
                vid: 100
            })
        );
        assert_eq!(f.payload_ethertype(), EtherType::Arp);
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.payload(), &TAGGED[18..]);
        assert_eq!(f.payload().len(), 28);
    }

    #[test]
    fn construct_tagged() {
        let mut buf = [0u8; 46];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr(Address::BROADCAST);
        f.set_src_addr("52:54:00:12:34:56".parse().unwrap());
        f.set_ethertype(EtherType::Vlan);
        f.set_vlan(VlanTag {
            pcp: 5,
            dei: false,
            vid: 100,
        });
        f.set_payload_ethertype(EtherType::Arp);
        f.payload_mut().copy_from_slice(&TAGGED[18..]);
        assert_eq!(buf, TAGGED);
    }

    #[test]
    fn untagged_round_trip() {
        let mut buf = [0u8; 20];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr(Address([0x02, 0, 0, 0, 0, 2]));
        f.set_src_addr(Address([0x02, 0, 0, 0, 0, 1]));
        f.set_payload_ethertype(EtherType::Ipv4);
        f.payload_mut().copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        let f = Frame::new_checked(&buf[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Ipv4);
        assert_eq!(f.payload_ethertype(), EtherType::Ipv4);
        assert_eq!(f.vlan(), None);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            &buf[..14],
            &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        );
    }

    #[test]
    fn vlan_tci_bits() {
        let t = VlanTag {
            pcp: 7,
            dei: true,
            vid: 0xfff,
        };
        assert_eq!(t.tci(), 0xffff);
        assert_eq!(VlanTag::from_tci(0xffff), t);
        assert_eq!(
            VlanTag::from_tci(0x1001),
            VlanTag {
                pcp: 0,
                dei: true,
                vid: 1
            }
        );
    }

    #[test]
    fn ethertype_round_trip() {
        for raw in [0x0800, 0x0806, 0x8100, 0x86dd, 0x88a8, 0x0000, 0xffff] {
            assert_eq!(u16::from(EtherType::from(raw)), raw);
        }
        assert_eq!(EtherType::from(0x88a8), EtherType::Unknown(0x88a8));
    }

    #[test]
    fn address_predicates_and_text() {
        let b = Address::BROADCAST;
        assert!(b.is_broadcast() && b.is_multicast() && !b.is_unicast());
        let m = Address([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(!m.is_broadcast() && m.is_multicast() && !m.is_unicast());
        let u = Address([0x02, 0, 0, 0, 0, 1]);
        assert!(!u.is_broadcast() && !u.is_multicast() && u.is_unicast());
        assert_eq!(u.to_string(), "02:00:00:00:00:01");
        assert_eq!("02:00:00:00:00:01".parse::<Address>(), Ok(u));
        assert_eq!(
            "AA:bb:CC:dd:EE:ff".parse::<Address>().unwrap().0,
            [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]
        );
        assert_eq!(u.as_bytes(), &[0x02, 0, 0, 0, 0, 1]);
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:01:02",
            "2:00:00:00:00:01",
            "02:00:00:00:00:1",
            "02-00-00-00-00-01",
            "0g:00:00:00:00:01",
            "+2:00:00:00:00:01",
            "02:00:00:00:00:01:",
        ] {
            assert_eq!(bad.parse::<Address>(), Err(Error::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Frame::new_checked(&TAGGED[..len]).err(),
                Some(Error::Truncated)
            );
        }
        // A tagged frame needs the tag and inner type too.
        for len in HEADER_LEN..HEADER_LEN + VLAN_TAG_LEN {
            assert_eq!(
                Frame::new_checked(&TAGGED[..len]).err(),
                Some(Error::Truncated)
            );
        }
        assert!(Frame::new_checked(&TAGGED[..18]).is_ok());
        // Untagged: exactly 14 is a valid, empty-payload frame.
        let mut untagged = TAGGED;
        untagged[12] = 0x08;
        untagged[13] = 0x00;
        assert!(
            Frame::new_checked(&untagged[..14])
                .unwrap()
                .payload()
                .is_empty()
        );
    }

    #[test]
    fn unchecked_short_getters_do_not_panic() {
        for len in 0..20 {
            let f = Frame::new_unchecked(&TAGGED[..len]);
            let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.vlan());
            let _ = (f.payload_ethertype(), f.header_len(), f.payload());
        }
    }

    #[test]
    fn etherparse_builds_we_read() {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .single_vlan(etherparse::VlanId::try_new(42).unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, 2000);
        let mut bytes = Vec::new();
        builder.write(&mut bytes, b"hello").unwrap();
        let f = Frame::new_checked(&bytes[..]).unwrap();
        assert_eq!(f.src_addr(), Address([2, 0, 0, 0, 0, 1]));
        assert_eq!(f.dst_addr(), Address([2, 0, 0, 0, 0, 2]));
        assert_eq!(
            f.vlan(),
            Some(VlanTag {
                pcp: 0,
                dei: false,
                vid: 42
            })
        );
        assert_eq!(f.payload_ethertype(), EtherType::Ipv4);
        assert_eq!(f.payload().len(), 20 + 8 + 5);
    }

    #[test]
    fn etherparse_reads_what_we_build() {
        let mut buf = TAGGED;
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_vlan(VlanTag {
            pcp: 3,
            dei: true,
            vid: 4000,
        });
        let p = etherparse::SlicedPacket::from_ethernet(&buf).unwrap();
        let Some(etherparse::LinkSlice::Ethernet2(eth)) = p.link else {
            panic!("no ethernet")
        };
        assert_eq!(eth.destination(), [0xff; 6]);
        assert_eq!(eth.source(), [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(eth.ether_type(), etherparse::EtherType::VLAN_TAGGED_FRAME);
        let Some(etherparse::LinkExtSlice::Vlan(v)) = p.link_exts.first() else {
            panic!("no vlan")
        };
        assert_eq!(v.priority_code_point().value(), 3);
        assert!(v.drop_eligible_indicator());
        assert_eq!(v.vlan_identifier().value(), 4000);
        assert_eq!(v.ether_type(), etherparse::EtherType::ARP);
        assert!(p.net.is_some_and(|n| n.is_arp()));
    }

    proptest! {
        #[test]
        fn getters_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(f) = Frame::new_checked(&bytes[..]) {
                let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.vlan());
                prop_assert_eq!(f.header_len() + f.payload().len(), bytes.len());
                let _ = f.payload_ethertype();
            }
        }

        #[test]
        fn address_text_round_trip(a in any::<[u8; 6]>()) {
            let a = Address(a);
            prop_assert_eq!(a.to_string().parse::<Address>(), Ok(a));
        }
    }
}
