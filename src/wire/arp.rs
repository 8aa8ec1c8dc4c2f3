//! ARP packets, RFC 826.
//!
//! [`Packet`] reads any hardware/protocol address sizes, because the sizes are in the header and
//! a router must still be able to look at (and count) an ARP packet it will not answer.
//! [`Repr`] covers only what shoal speaks: Ethernet hardware addresses (`htype` 1, 6 bytes) and
//! IPv4 protocol addresses (`ptype` 0x0800, 4 bytes), the 28-byte form every Linux host sends.

use std::net::Ipv4Addr;

use super::{
    Error, Result, ethernet, read_array, read_u8, read_u16, sub, write_slice, write_u8, write_u16,
};

/// The ARP opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// 1.
    Request,
    /// 2.
    Reply,
    /// Anything else (RARP, InARP, ...), kept verbatim.
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(raw: u16) -> Operation {
        match raw {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(op: Operation) -> u16 {
        match op {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

/// `htype` for Ethernet.
pub const HARDWARE_ETHERNET: u16 = 1;
/// Hardware type IEEE 802 networks (RFC 1700), which Ethernet devices accept as Ethernet.
pub const HARDWARE_IEEE802: u16 = 6;
/// `ptype` for IPv4 (its EtherType).
pub const PROTOCOL_IPV4: u16 = 0x0800;
/// Length of the fixed part, before the addresses.
pub const FIXED_LEN: usize = 8;
/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = 28;

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
}

/// A read/write view of an ARP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking its length. Getters never panic; address slices of an
    /// unchecked, short view may come back empty.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap a buffer that holds the fixed header and all four addresses it announces.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet::new_unchecked(buffer);
        let len = p.buffer.as_ref().len();
        if len < FIXED_LEN || len < p.end() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (`htype`); 1 is Ethernet.
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (`ptype`), an EtherType; 0x0800 is IPv4.
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length in bytes (`hlen`).
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::HLEN)
    }

    /// Protocol address length in bytes (`plen`).
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::PLEN)
    }

    /// The opcode.
    #[inline]
    pub fn operation(&self) -> Operation {
        Operation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    // Offsets of the four variable-length addresses, from hlen and plen.
    fn spa_at(&self) -> usize {
        field::SHA + usize::from(self.hardware_len())
    }
    fn tha_at(&self) -> usize {
        self.spa_at() + usize::from(self.protocol_len())
    }
    fn tpa_at(&self) -> usize {
        self.tha_at() + usize::from(self.hardware_len())
    }
    fn end(&self) -> usize {
        self.tpa_at() + usize::from(self.protocol_len())
    }

    /// Sender hardware address, `hlen` bytes.
    #[inline]
    pub fn source_hardware_addr(&self) -> &[u8] {
        sub(self.buffer.as_ref(), field::SHA, self.spa_at())
    }

    /// Sender protocol address, `plen` bytes.
    #[inline]
    pub fn source_protocol_addr(&self) -> &[u8] {
        sub(self.buffer.as_ref(), self.spa_at(), self.tha_at())
    }

    /// Target hardware address, `hlen` bytes.
    #[inline]
    pub fn target_hardware_addr(&self) -> &[u8] {
        sub(self.buffer.as_ref(), self.tha_at(), self.tpa_at())
    }

    /// Target protocol address, `plen` bytes.
    #[inline]
    pub fn target_protocol_addr(&self) -> &[u8] {
        sub(self.buffer.as_ref(), self.tpa_at(), self.end())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set `htype`.
    #[inline]
    pub fn set_hardware_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, value);
    }

    /// Set `ptype`.
    #[inline]
    pub fn set_protocol_type(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::PTYPE, value);
    }

    /// Set `hlen`. Set both lengths before any address: they place the addresses.
    #[inline]
    pub fn set_hardware_len(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::HLEN, value);
    }

    /// Set `plen`. Set both lengths before any address: they place the addresses.
    #[inline]
    pub fn set_protocol_len(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::PLEN, value);
    }

    /// Set the opcode.
    #[inline]
    pub fn set_operation(&mut self, op: Operation) {
        write_u16(self.buffer.as_mut(), field::OPER, op.into());
    }

    /// Set the sender hardware address; `addr` must be `hlen` bytes long.
    #[inline]
    pub fn set_source_hardware_addr(&mut self, addr: &[u8]) {
        debug_assert_eq!(addr.len(), usize::from(self.hardware_len()));
        write_slice(self.buffer.as_mut(), field::SHA, addr);
    }

    /// Set the sender protocol address; `addr` must be `plen` bytes long.
    #[inline]
    pub fn set_source_protocol_addr(&mut self, addr: &[u8]) {
        debug_assert_eq!(addr.len(), usize::from(self.protocol_len()));
        let at = self.spa_at();
        write_slice(self.buffer.as_mut(), at, addr);
    }

    /// Set the target hardware address; `addr` must be `hlen` bytes long.
    #[inline]
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) {
        debug_assert_eq!(addr.len(), usize::from(self.hardware_len()));
        let at = self.tha_at();
        write_slice(self.buffer.as_mut(), at, addr);
    }

    /// Set the target protocol address; `addr` must be `plen` bytes long.
    #[inline]
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) {
        debug_assert_eq!(addr.len(), usize::from(self.protocol_len()));
        let at = self.tpa_at();
        write_slice(self.buffer.as_mut(), at, addr);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet/IPv4 ARP request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Request or reply.
    pub operation: Operation,
    /// Sender MAC.
    pub source_hardware_addr: ethernet::Address,
    /// Sender IPv4 address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target MAC (zero in a request).
    pub target_hardware_addr: ethernet::Address,
    /// Target IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    /// Parse an Ethernet/IPv4 request or reply. Hardware type 6 (IEEE 802) is taken as
    /// Ethernet, as Linux's Ethernet devices take it (RFC 2625). Any other hardware or
    /// protocol, address size, or opcode is [`Error::Malformed`]; a buffer too short for the
    /// addresses is [`Error::Truncated`] even on an unchecked view.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        if p.buffer.as_ref().len() < FIXED_LEN {
            return Err(Error::Truncated);
        }
        if !matches!(p.hardware_type(), HARDWARE_ETHERNET | HARDWARE_IEEE802)
            || p.protocol_type() != PROTOCOL_IPV4
            || p.hardware_len() != 6
            || p.protocol_len() != 4
        {
            return Err(Error::Malformed);
        }
        if p.buffer.as_ref().len() < ETHERNET_IPV4_LEN {
            return Err(Error::Truncated);
        }
        let operation = match p.operation() {
            op @ (Operation::Request | Operation::Reply) => op,
            Operation::Unknown(_) => return Err(Error::Malformed),
        };
        let b = p.buffer.as_ref();
        Ok(Repr {
            operation,
            source_hardware_addr: ethernet::Address(read_array(b, 8)),
            source_protocol_addr: Ipv4Addr::from(read_array::<4>(b, 14)),
            target_hardware_addr: ethernet::Address(read_array(b, 18)),
            target_protocol_addr: Ipv4Addr::from(read_array::<4>(b, 24)),
        })
    }

    /// Bytes [`Repr::emit`] writes: always [`ETHERNET_IPV4_LEN`].
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Write the packet into the first [`Repr::buffer_len`] bytes of `p`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_hardware_type(HARDWARE_ETHERNET);
        p.set_protocol_type(PROTOCOL_IPV4);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(self.operation);
        p.set_source_hardware_addr(self.source_hardware_addr.as_bytes());
        p.set_source_protocol_addr(&self.source_protocol_addr.octets());
        p.set_target_hardware_addr(self.target_hardware_addr.as_bytes());
        p.set_target_protocol_addr(&self.target_protocol_addr.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // "Who has 192.168.1.1? Tell 192.168.1.100", byte for byte as a Linux host sends it
    // (hand-assembled; Ethernet header stripped).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, op
        0x3c, 0x97, 0x0e, 0xa1, 0x2b, 0x4c, 192, 168, 1, 100, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192, 168, 1, 1, // target
    ];

    fn request_repr() -> Repr {
        Repr {
            operation: Operation::Request,
            source_hardware_addr: ethernet::Address([0x3c, 0x97, 0x0e, 0xa1, 0x2b, 0x4c]),
            source_protocol_addr: Ipv4Addr::new(192, 168, 1, 100),
            target_hardware_addr: ethernet::Address([0; 6]),
            target_protocol_addr: Ipv4Addr::new(192, 168, 1, 1),
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!(p.hardware_len(), 6);
        assert_eq!(p.protocol_len(), 4);
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(
            p.source_hardware_addr(),
            &[0x3c, 0x97, 0x0e, 0xa1, 0x2b, 0x4c]
        );
        assert_eq!(p.source_protocol_addr(), &[192, 168, 1, 100]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[192, 168, 1, 1]);
    }

    #[test]
    fn construct_with_setters() {
        let mut buf = [0u8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_hardware_type(1);
        p.set_protocol_type(0x0800);
        p.set_hardware_len(6);
        p.set_protocol_len(4);
        p.set_operation(Operation::Request);
        p.set_source_hardware_addr(&[0x3c, 0x97, 0x0e, 0xa1, 0x2b, 0x4c]);
        p.set_source_protocol_addr(&[192, 168, 1, 100]);
        p.set_target_hardware_addr(&[0; 6]);
        p.set_target_protocol_addr(&[192, 168, 1, 1]);
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn parse_and_emit() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(repr, request_repr());
        assert_eq!(repr.buffer_len(), 28);
        let mut buf = [0u8; 28];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn reply_round_trip() {
        let reply = Repr {
            operation: Operation::Reply,
            source_hardware_addr: ethernet::Address([2, 0, 0, 0, 0, 1]),
            source_protocol_addr: Ipv4Addr::new(192, 168, 1, 1),
            target_hardware_addr: ethernet::Address([0x3c, 0x97, 0x0e, 0xa1, 0x2b, 0x4c]),
            target_protocol_addr: Ipv4Addr::new(192, 168, 1, 100),
        };
        let mut buf = [0u8; 28];
        reply.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(&buf[6..8], &[0, 2]);
        assert_eq!(
            Repr::parse(&Packet::new_checked(&buf[..]).unwrap()),
            Ok(reply)
        );
    }

    #[test]
    fn operation_round_trip() {
        for raw in [0u16, 1, 2, 3, 4, 0xffff] {
            assert_eq!(u16::from(Operation::from(raw)), raw);
        }
    }

    #[test]
    fn truncated() {
        for len in 0..ETHERNET_IPV4_LEN {
            assert_eq!(
                Packet::new_checked(&REQUEST[..len]).err(),
                Some(Error::Truncated)
            );
            // Parsing an unchecked short view must not panic either.
            assert!(Repr::parse(&Packet::new_unchecked(&REQUEST[..len])).is_err());
        }
        // hlen 255 announces 8 + 2*255 + 2*4 bytes.
        let mut big = [0u8; 100];
        big[..8].copy_from_slice(&REQUEST[..8]);
        big[4] = 255;
        assert_eq!(Packet::new_checked(&big[..]).err(), Some(Error::Truncated));
        let p = Packet::new_unchecked(&big[..]);
        let _ = (p.source_hardware_addr(), p.source_protocol_addr());
        let _ = (p.target_hardware_addr(), p.target_protocol_addr());
        assert!(p.target_protocol_addr().is_empty());
        let exact = vec![0u8; 8 + 2 * 255 + 2 * 255];
        let mut exact = exact;
        exact[4] = 255;
        exact[5] = 255;
        let p = Packet::new_checked(&exact[..]).unwrap();
        assert_eq!(p.target_protocol_addr().len(), 255);
        assert_eq!(
            Packet::new_checked(&exact[..exact.len() - 1]).err(),
            Some(Error::Truncated)
        );
    }

    #[test]
    fn parse_rejects_other_formats() {
        let cases: [(usize, u8); 6] = [(1, 7), (3, 0x86), (4, 8), (5, 16), (4, 0), (7, 9)];
        for (at, value) in cases {
            let mut b = [0u8; 64];
            b[..28].copy_from_slice(&REQUEST);
            b[at] = value;
            let p = Packet::new_checked(&b[..]).unwrap();
            assert_eq!(
                Repr::parse(&p),
                Err(Error::Malformed),
                "byte {at} = {value}"
            );
        }
    }

    /// Hardware type 6 (IEEE 802) reads as Ethernet, as Linux's Ethernet devices read it.
    #[test]
    fn ieee802_hardware_type_is_ethernet() {
        let mut b = REQUEST;
        b[1] = 6;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Repr::parse(&p),
            Repr::parse(&Packet::new_checked(&REQUEST[..]).unwrap())
        );
    }

    #[test]
    fn etherparse_builds_we_read() {
        let arp = etherparse::ArpPacket::new(
            etherparse::ArpHardwareId::ETHERNET,
            etherparse::EtherType::IPV4,
            etherparse::ArpOperation::REPLY,
            &[2, 0, 0, 0, 0, 1],
            &[10, 0, 0, 1],
            &[2, 0, 0, 0, 0, 2],
            &[10, 0, 0, 2],
        )
        .unwrap();
        let builder =
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).arp(arp);
        let mut bytes = Vec::new();
        builder.write(&mut bytes).unwrap();
        let f = ethernet::Frame::new_checked(&bytes[..]).unwrap();
        assert_eq!(f.payload_ethertype(), ethernet::EtherType::Arp);
        let repr = Repr::parse(&Packet::new_checked(f.payload()).unwrap()).unwrap();
        assert_eq!(repr.operation, Operation::Reply);
        assert_eq!(
            repr.source_hardware_addr,
            ethernet::Address([2, 0, 0, 0, 0, 1])
        );
        assert_eq!(repr.source_protocol_addr, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            repr.target_hardware_addr,
            ethernet::Address([2, 0, 0, 0, 0, 2])
        );
        assert_eq!(repr.target_protocol_addr, Ipv4Addr::new(10, 0, 0, 2));
    }

    #[test]
    fn etherparse_reads_what_we_emit() {
        let mut buf = [0u8; 28];
        request_repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        let a = etherparse::ArpPacketSlice::from_slice(&buf).unwrap();
        assert_eq!(a.hw_addr_type(), etherparse::ArpHardwareId::ETHERNET);
        assert_eq!(a.proto_addr_type(), etherparse::EtherType::IPV4);
        assert_eq!(a.operation(), etherparse::ArpOperation::REQUEST);
        assert_eq!(a.sender_hw_addr(), &[0x3c, 0x97, 0x0e, 0xa1, 0x2b, 0x4c]);
        assert_eq!(a.sender_protocol_addr(), &[192, 168, 1, 100]);
        assert_eq!(a.target_hw_addr(), &[0; 6]);
        assert_eq!(a.target_protocol_addr(), &[192, 168, 1, 1]);
    }

    proptest! {
        #[test]
        fn getters_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.hardware_type(), p.protocol_type(), p.operation());
                prop_assert_eq!(p.source_hardware_addr().len(), usize::from(p.hardware_len()));
                prop_assert_eq!(p.target_hardware_addr().len(), usize::from(p.hardware_len()));
                prop_assert_eq!(p.source_protocol_addr().len(), usize::from(p.protocol_len()));
                prop_assert_eq!(p.target_protocol_addr().len(), usize::from(p.protocol_len()));
                let _ = Repr::parse(&p);
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]));
        }

        #[test]
        fn repr_round_trip(
            op in prop_oneof![Just(Operation::Request), Just(Operation::Reply)],
            sha in any::<[u8; 6]>(),
            spa in any::<u32>(),
            tha in any::<[u8; 6]>(),
            tpa in any::<u32>(),
        ) {
            let repr = Repr {
                operation: op,
                source_hardware_addr: ethernet::Address(sha),
                source_protocol_addr: Ipv4Addr::from(spa),
                target_hardware_addr: ethernet::Address(tha),
                target_protocol_addr: Ipv4Addr::from(tpa),
            };
            let mut buf = [0u8; 28];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(repr));
        }
    }
}
