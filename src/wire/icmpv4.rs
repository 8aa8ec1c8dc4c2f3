//! ICMP for IPv4, RFC 792.
//!
//! The view covers the ICMP message only (the IPv4 payload): the 8-byte header, whose last four
//! bytes mean different things per type (echo identifier and sequence number, the next-hop MTU
//! of RFC 1191 for "fragmentation needed", or unused), then the data. For an error message the
//! data is the offending datagram's IP header plus at least 8 bytes of its payload (RFC 1812
//! section 4.3.2.3 asks for as much as fits in 576 bytes); building that is the router's job.
//! The checksum covers the whole message, with no pseudo-header.

use super::{
    Error, Result, checksum, read_u8, read_u16, sub, sub_mut, write_array, write_u8, write_u16,
};

/// The ICMP message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// 0.
    EchoReply,
    /// 3.
    DstUnreachable,
    /// 4 (deprecated by RFC 6633, still parsed).
    SourceQuench,
    /// 5.
    Redirect,
    /// 8.
    EchoRequest,
    /// 11.
    TimeExceeded,
    /// 12.
    ParamProblem,
    /// 13.
    Timestamp,
    /// 14.
    TimestampReply,
    /// Anything else, kept verbatim.
    Unknown(u8),
}

impl Message {
    /// Whether this type reports an error about another datagram. RFC 1812 section 4.3.2.7
    /// forbids answering an error with an error, so the router asks this before it replies.
    pub const fn is_error(&self) -> bool {
        matches!(
            self,
            Message::DstUnreachable
                | Message::SourceQuench
                | Message::Redirect
                | Message::TimeExceeded
                | Message::ParamProblem
        )
    }
}

impl From<u8> for Message {
    fn from(raw: u8) -> Message {
        match raw {
            0 => Message::EchoReply,
            3 => Message::DstUnreachable,
            4 => Message::SourceQuench,
            5 => Message::Redirect,
            8 => Message::EchoRequest,
            11 => Message::TimeExceeded,
            12 => Message::ParamProblem,
            13 => Message::Timestamp,
            14 => Message::TimestampReply,
            other => Message::Unknown(other),
        }
    }
}

impl From<Message> for u8 {
    fn from(m: Message) -> u8 {
        match m {
            Message::EchoReply => 0,
            Message::DstUnreachable => 3,
            Message::SourceQuench => 4,
            Message::Redirect => 5,
            Message::EchoRequest => 8,
            Message::TimeExceeded => 11,
            Message::ParamProblem => 12,
            Message::Timestamp => 13,
            Message::TimestampReply => 14,
            Message::Unknown(other) => other,
        }
    }
}

/// Codes of [`Message::DstUnreachable`] (RFC 792, RFC 1812 section 5.2.7.1).
pub mod dst_unreachable {
    /// No route to the destination network.
    pub const NET: u8 = 0;
    /// The destination host does not answer ARP.
    pub const HOST: u8 = 1;
    /// The destination does not speak the protocol.
    pub const PROTOCOL: u8 = 2;
    /// No listener on the port.
    pub const PORT: u8 = 3;
    /// Fragmentation needed but DF set; the next-hop MTU goes in bytes 6..8 (RFC 1191).
    pub const FRAG_NEEDED: u8 = 4;
    /// Communication administratively prohibited (a policy drop that chooses to say so).
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// Codes of [`Message::Redirect`].
pub mod redirect {
    /// Redirect datagrams for the network.
    pub const NET: u8 = 0;
    /// Redirect datagrams for the host.
    pub const HOST: u8 = 1;
}

/// Codes of [`Message::TimeExceeded`].
pub mod time_exceeded {
    /// TTL reached zero in transit.
    pub const TTL: u8 = 0;
    /// Fragment reassembly timed out.
    pub const REASSEMBLY: u8 = 1;
}

/// Length of the ICMP header, the rest-of-header word included.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
    pub const NEXT_HOP_MTU: usize = 6;
    pub const REST: usize = 4;
}

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking its length; getters never panic (short fields read 0).
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap a buffer that holds at least the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Packet::new_unchecked(buffer))
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    #[inline]
    pub fn msg_type(&self) -> Message {
        Message::from(read_u8(self.buffer.as_ref(), field::TYPE))
    }

    /// Message code (meaning depends on the type).
    #[inline]
    pub fn msg_code(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::CODE)
    }

    /// The stored checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (bytes 4..6 of an echo request or reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (bytes 6..8 of an echo request or reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }

    /// Next-hop MTU of a "fragmentation needed" message (bytes 6..8, RFC 1191).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Everything after the 8-byte header.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        sub(buf, HEADER_LEN, buf.len())
    }

    /// Whether the checksum over the whole message is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let buf = self.buffer.as_ref();
        buf.len() >= HEADER_LEN && checksum::data(buf) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: Message) {
        write_u8(self.buffer.as_mut(), field::TYPE, value.into());
    }

    /// Set the message code.
    #[inline]
    pub fn set_msg_code(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::CODE, value);
    }

    /// Set the stored checksum.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Set the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Set the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQNO, value);
    }

    /// Set the next-hop MTU of a "fragmentation needed" message.
    #[inline]
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, value);
    }

    /// Zero bytes 4..8, the "unused" word of most error messages, which RFC 792 says must be 0.
    #[inline]
    pub fn clear_rest_of_header(&mut self) {
        write_array(self.buffer.as_mut(), field::REST, [0; 4]);
    }

    /// Everything after the 8-byte header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let buf = self.buffer.as_mut();
        let end = buf.len();
        sub_mut(buf, HEADER_LEN, end)
    }

    /// Compute and store the checksum over the whole buffer, so size the buffer to the message.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    // An echo request with its IPv4 header, hand-assembled in the form Linux `ping -s 16`
    // sends: 10.0.0.1 -> 10.0.0.2, id 0x1c46, seq 1, DF, TTL 64, ICMP checksum 0x22f8.
    const PING: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0x5e, 0x1f, 0x40, 0x00, 0x40, 0x01, 0xc8, 0xaf, 10, 0, 0, 1, 10, 0,
        0, 2, // IPv4 header
        0x08, 0x00, 0x22, 0xf8, 0x1c, 0x46, 0x00, 0x01, // ICMP header
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
        0x1f,
    ];

    #[test]
    fn deconstruct() {
        let ip = ipv4::Packet::new_checked(&PING[..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.protocol(), ipv4::Protocol::Icmp);
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(p.msg_type(), Message::EchoRequest);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.checksum(), 0x22f8);
        assert_eq!(p.echo_ident(), 0x1c46);
        assert_eq!(p.echo_seq_no(), 1);
        assert_eq!(p.next_hop_mtu(), 1);
        assert_eq!(p.data(), &PING[28..]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn construct() {
        let mut buf = [0u8; 44];
        let mut ip = ipv4::Packet::new_unchecked(&mut buf[..]);
        ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: ipv4::Protocol::Icmp,
            payload_len: 24,
            ttl: 64,
            tos: 0,
            ident: 0x5e1f,
            dont_frag: true,
        }
        .emit(&mut ip);
        let mut p = Packet::new_unchecked(ip.payload_mut());
        p.set_msg_type(Message::EchoRequest);
        p.set_msg_code(0);
        p.set_echo_ident(0x1c46);
        p.set_echo_seq_no(1);
        p.data_mut().copy_from_slice(&PING[28..]);
        p.fill_checksum();
        assert_eq!(buf, PING);
    }

    #[test]
    fn echo_reply_in_place() {
        // What the router does to answer a ping: swap addresses, flip the type, re-checksum.
        let mut buf = PING;
        let mut ip = ipv4::Packet::new_checked(&mut buf[..]).unwrap();
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        ip.set_src_addr(dst);
        ip.set_dst_addr(src);
        ip.fill_checksum();
        let mut p = Packet::new_checked(ip.payload_mut()).unwrap();
        p.set_msg_type(Message::EchoReply);
        p.fill_checksum();
        let parsed = etherparse::Ipv4Slice::from_slice(&buf).unwrap();
        let icmp = etherparse::Icmpv4Slice::from_slice(parsed.payload().payload).unwrap();
        assert_eq!(
            icmp.icmp_type(),
            etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 0x1c46, seq: 1 })
        );
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload())
        );
    }

    #[test]
    fn frag_needed_and_time_exceeded() {
        let mut buf = [0xffu8; 8 + 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Message::DstUnreachable);
        p.set_msg_code(dst_unreachable::FRAG_NEEDED);
        p.clear_rest_of_header();
        p.set_next_hop_mtu(1400);
        p.data_mut().copy_from_slice(&PING[..28]);
        p.fill_checksum();
        assert_eq!(&buf[..8], &[3, 4, buf[2], buf[3], 0, 0, 0x05, 0x78]);
        let icmp = etherparse::Icmpv4Slice::from_slice(&buf).unwrap();
        assert_eq!(
            icmp.icmp_type(),
            etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                    next_hop_mtu: 1400
                }
            )
        );
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload())
        );

        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(Message::TimeExceeded);
        p.set_msg_code(time_exceeded::TTL);
        p.clear_rest_of_header();
        p.fill_checksum();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum() && p.msg_type().is_error());
        assert_eq!((p.echo_ident(), p.next_hop_mtu()), (0, 0));
        let icmp = etherparse::Icmpv4Slice::from_slice(&buf).unwrap();
        assert_eq!(
            icmp.icmp_type(),
            etherparse::Icmpv4Type::TimeExceeded(
                etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit
            )
        );
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload())
        );
    }

    #[test]
    fn message_types() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(Message::from(raw)), raw);
        }
        let errors: Vec<u8> = (0..=255u8)
            .filter(|&t| Message::from(t).is_error())
            .collect();
        assert_eq!(errors, [3, 4, 5, 11, 12]);
        assert_eq!(Message::from(42), Message::Unknown(42));
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&PING[20..20 + len]).err(),
                Some(Error::Truncated)
            );
            let p = Packet::new_unchecked(&PING[20..20 + len]);
            let _ = (
                p.msg_type(),
                p.msg_code(),
                p.checksum(),
                p.echo_ident(),
                p.data(),
            );
            assert!(!p.verify_checksum());
        }
        let p = Packet::new_checked(&PING[20..28]).unwrap();
        assert!(p.data().is_empty());
    }

    #[test]
    fn etherparse_builds_we_read() {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .icmpv4_echo_request(0xbeef, 77);
        let mut bytes = Vec::new();
        builder.write(&mut bytes, b"abcdefghijk").unwrap();
        let ip = ipv4::Packet::new_checked(&bytes[14..]).unwrap();
        let p = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(p.msg_type(), Message::EchoRequest);
        assert_eq!((p.echo_ident(), p.echo_seq_no()), (0xbeef, 77));
        assert_eq!(p.data(), b"abcdefghijk");
        assert!(p.verify_checksum());
    }

    proptest! {
        #[test]
        fn getters_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.echo_ident());
                let _ = (p.echo_seq_no(), p.next_hop_mtu(), p.verify_checksum());
                prop_assert_eq!(p.data().len() + HEADER_LEN, bytes.len());
            }
        }

        #[test]
        fn fill_then_verify(
            mut bytes in proptest::collection::vec(any::<u8>(), 8..200),
            reply in any::<bool>(),
        ) {
            // Echo only: for other types etherparse rebuilds the rest-of-header word from the
            // typed form, dropping the random "unused" bytes we sum, and would disagree.
            bytes[0] = if reply { 0 } else { 8 };
            bytes[1] = 0;
            let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
            p.fill_checksum();
            prop_assert!(p.verify_checksum());
            let icmp = etherparse::Icmpv4Slice::from_slice(&bytes).unwrap();
            prop_assert_eq!(icmp.checksum(), icmp.icmp_type().calc_checksum(icmp.payload()));
        }
    }
}
