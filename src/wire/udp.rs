//! UDP datagrams, RFC 768.
//!
//! The router only originates and inspects UDP (traceroute probes, an ICMP port-unreachable
//! answer, control traffic), so this is the header view and the checksum. The length field is
//! authoritative: [`Packet::payload`] ends where it says, and a length that runs past the
//! buffer is rejected. The checksum covers the IPv4 pseudo-header; a stored 0 means the sender
//! computed none, so a computed 0 is sent as `0xffff` (the same value in ones' complement).

use std::net::Ipv4Addr;

use super::{Error, Result, checksum, read_u16, sub, sub_mut, write_u16};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// IP protocol number of UDP, for the pseudo-header.
const PROTOCOL: u8 = 17;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; getters never panic (short fields read 0, the payload
    /// may be empty).
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap a buffer that holds the header ([`Error::Truncated`]) and whose length field is at
    /// least 8 and no more than the buffer ([`Error::Malformed`]).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet::new_unchecked(buffer);
        let len = p.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let field = usize::from(p.len());
        if field < HEADER_LEN || field > len {
            return Err(Error::Malformed);
        }
        Ok(p)
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header plus payload, in bytes.
    #[inline]
    #[allow(clippy::len_without_is_empty)] // a datagram is never empty; this is a header field
    pub fn len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The stored checksum (0: none was computed).
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The payload, bytes 8..length.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        sub(self.buffer.as_ref(), HEADER_LEN, usize::from(self.len()))
    }

    /// Whether the checksum is right for a datagram from `src` to `dst`. A stored 0 means the
    /// sender did not compute one, which RFC 768 allows over IPv4, so it verifies.
    #[inline]
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = self.len();
        let Some(datagram) = self.buffer.as_ref().get(..usize::from(len)) else {
            return false;
        };
        let pseudo = checksum::pseudo_header(src, dst, PROTOCOL, len);
        checksum::combine(&[pseudo, checksum::data(datagram)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Set the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Set the length field (header plus payload).
    #[inline]
    pub fn set_len(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Set the stored checksum.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// The payload (bytes 8..length), mutable; set the length first.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        sub_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Compute and store the checksum over the pseudo-header and the first `len()` bytes.
    #[inline]
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let pseudo = checksum::pseudo_header(src, dst, PROTOCOL, len);
        let data = checksum::data(sub(self.buffer.as_ref(), 0, usize::from(len)));
        let sum = !checksum::combine(&[pseudo, data]);
        // 0 on the wire means "no checksum"; 0xffff is the other ones'-complement zero.
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
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
    use proptest::prelude::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    // A hand-assembled datagram 10.0.0.1:33434 -> 10.0.0.2:53 carrying "shoal!\n" (odd length,
    // so the checksum pads), checksum 0x1013.
    const DATAGRAM: [u8; 15] = [
        0x82, 0x9a, 0x00, 0x35, 0x00, 0x0f, 0x10, 0x13, b's', b'h', b'o', b'a', b'l', b'!', b'\n',
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 33434);
        assert_eq!(p.dst_port(), 53);
        assert_eq!(p.len(), 15);
        assert_eq!(p.checksum(), 0x1013);
        assert_eq!(p.payload(), b"shoal!\n");
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, Ipv4Addr::new(10, 0, 0, 3)));
    }

    #[test]
    fn construct() {
        let mut buf = [0u8; 15];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(33434);
        p.set_dst_port(53);
        p.set_len(15);
        p.payload_mut().copy_from_slice(b"shoal!\n");
        p.fill_checksum(SRC, DST);
        assert_eq!(buf, DATAGRAM);
    }

    #[test]
    fn zero_checksum() {
        let mut buf = DATAGRAM;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_checksum(0);
        assert!(p.verify_checksum(SRC, DST)); // "no checksum"
        // Find a payload whose checksum computes to 0 and check it goes out as 0xffff: the
        // stored value is !sum, so choose the last two bytes to make the sum 0xffff.
        let mut buf = [0u8; 12];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_len(12);
        let partial = checksum::combine(&[
            checksum::pseudo_header(SRC, DST, 17, 12),
            checksum::data(p.as_ref()),
        ]);
        let fill = !partial; // partial + fill = 0xffff
        p.payload_mut()[2..4].copy_from_slice(&fill.to_be_bytes());
        p.fill_checksum(SRC, DST);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(SRC, DST));
        let h = etherparse::UdpHeaderSlice::from_slice(&buf)
            .unwrap()
            .to_header();
        assert_eq!(
            h.calc_checksum_ipv4_raw(SRC.octets(), DST.octets(), &buf[8..])
                .unwrap(),
            0xffff
        );
    }

    #[test]
    fn errors() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&DATAGRAM[..len]).err(),
                Some(Error::Truncated)
            );
            let p = Packet::new_unchecked(&DATAGRAM[..len]);
            let _ = (
                p.src_port(),
                p.dst_port(),
                p.len(),
                p.checksum(),
                p.payload(),
            );
            assert!(!p.verify_checksum(SRC, DST) || p.checksum() == 0);
        }
        // Length field past the buffer, and below the header.
        assert_eq!(
            Packet::new_checked(&DATAGRAM[..14]).err(),
            Some(Error::Malformed)
        );
        for bad in [0u8, 7, 16, 0xff] {
            let mut b = DATAGRAM;
            b[5] = bad;
            assert_eq!(
                Packet::new_checked(&b[..]).err(),
                Some(Error::Malformed),
                "{bad}"
            );
        }
        // A length field of exactly 8: valid, empty payload; trailing bytes are not payload.
        let mut b = DATAGRAM;
        b[5] = 8;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.payload().is_empty());
    }

    #[test]
    fn etherparse_builds_we_read() {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(SRC.octets(), DST.octets(), 64)
            .udp(5353, 53);
        let mut bytes = Vec::new();
        builder.write(&mut bytes, b"odd").unwrap();
        let p = Packet::new_checked(&bytes[14 + 20..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (5353, 53, 11));
        assert_eq!(p.payload(), b"odd");
        assert_ne!(p.checksum(), 0);
        assert!(p.verify_checksum(SRC, DST));
    }

    #[test]
    fn etherparse_reads_what_we_emit() {
        let mut buf = [0u8; 8 + 100];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(1);
        p.set_dst_port(65535);
        p.set_len(108);
        p.payload_mut().fill(0xa5);
        p.fill_checksum(SRC, DST);
        let h = etherparse::UdpHeaderSlice::from_slice(&buf).unwrap();
        assert_eq!(
            (h.source_port(), h.destination_port(), h.length()),
            (1, 65535, 108)
        );
        let expected = h
            .to_header()
            .calc_checksum_ipv4_raw(SRC.octets(), DST.octets(), &buf[8..])
            .unwrap();
        assert_eq!(h.checksum(), expected);
    }

    proptest! {
        #[test]
        fn getters_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.src_port(), p.dst_port(), p.checksum(), p.verify_checksum(SRC, DST));
                prop_assert_eq!(p.payload().len() + HEADER_LEN, usize::from(p.len()));
            }
        }

        #[test]
        fn fill_agrees_with_etherparse(
            src in any::<u32>(), dst in any::<u32>(), sport in any::<u16>(), dport in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            let mut buf = vec![0u8; HEADER_LEN + payload.len()];
            let mut p = Packet::new_unchecked(&mut buf[..]);
            p.set_src_port(sport);
            p.set_dst_port(dport);
            p.set_len(buf_len(&payload));
            p.payload_mut().copy_from_slice(&payload);
            p.fill_checksum(src, dst);
            prop_assert!(p.verify_checksum(src, dst));
            let h = etherparse::UdpHeaderSlice::from_slice(&buf).unwrap();
            let expected = h
                .to_header()
                .calc_checksum_ipv4_raw(src.octets(), dst.octets(), &buf[8..])
                .unwrap();
            prop_assert_eq!(h.checksum(), expected);
        }
    }

    fn buf_len(payload: &[u8]) -> u16 {
        u16::try_from(HEADER_LEN + payload.len()).unwrap()
    }
}
