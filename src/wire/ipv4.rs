//! IPv4 headers, RFC 791 (header format, options, fragmentation fields).
//!
//! [`Packet::new_checked`] checks the lengths, the version and nothing else: it does not verify
//! the checksum, reject fragments or look at options, because RFC 1812 says what a router does
//! about each of those and the router, not this view, counts the drops. [`Packet::payload`] ends
//! at the total length, so Ethernet padding after a short datagram is never mistaken for data.
//! [`Packet::decrement_ttl`] patches the checksum incrementally (RFC 1624) rather than summing
//! the header again, and [`copy_fragment_options`] picks the options a fragment must repeat.

use std::net::Ipv4Addr;

use super::{
    Error, Result, checksum, read_array, read_u8, read_u16, sub, sub_mut, write_array, write_u8,
    write_u16,
};

/// The protocol carried in the payload (an IANA "Assigned Internet Protocol Number").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// 1, RFC 792.
    Icmp,
    /// 6, RFC 9293.
    Tcp,
    /// 17, RFC 768.
    Udp,
    /// Anything else, kept verbatim.
    Unknown(u8),
}

impl From<u8> for Protocol {
    fn from(raw: u8) -> Protocol {
        match raw {
            1 => Protocol::Icmp,
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            other => Protocol::Unknown(other),
        }
    }
}

impl From<Protocol> for u8 {
    fn from(p: Protocol) -> u8 {
        match p {
            Protocol::Icmp => 1,
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Unknown(other) => other,
        }
    }
}

/// Length of a header without options (the minimum).
pub const HEADER_LEN: usize = 20;
/// Length of a header with the most options IHL can describe (15 words).
pub const MAX_HEADER_LEN: usize = 60;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;

    pub const FLAG_DF: u16 = 0x4000;
    pub const FLAG_MF: u16 = 0x2000;
    pub const OFFSET_MASK: u16 = 0x1fff;
}

/// A read/write view of an IPv4 packet (header, options and payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it. Getters never panic; on an unchecked view fields past
    /// the end read as zero and `options`/`payload` may be empty.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap a buffer after checking, in this order: at least 20 bytes ([`Error::Truncated`]),
    /// version 4 ([`Error::BadVersion`]), `20 <= IHL*4 <= len` ([`Error::BadHeaderLen`]),
    /// `IHL*4 <= total length <= len` ([`Error::BadTotalLen`]). The checksum is not verified.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet::new_unchecked(buffer);
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::BadVersion);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN || header_len > len {
            return Err(Error::BadHeaderLen);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len || total_len > len {
            return Err(Error::BadTotalLen);
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version nibble (4 on any checked view).
    #[inline]
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// Header length in bytes, options included (IHL * 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(read_u8(self.buffer.as_ref(), field::VER_IHL) & 0x0f) * 4
    }

    /// Differentiated Services code point, the top 6 bits of the TOS byte (RFC 2474).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.tos() >> 2
    }

    /// Explicit Congestion Notification, the low 2 bits of the TOS byte (RFC 3168).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos() & 0x03
    }

    /// The whole TOS / traffic class byte.
    #[inline]
    pub fn tos(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TOS)
    }

    /// Total length of the datagram in bytes, header included.
    #[inline]
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification, shared by the fragments of one datagram.
    #[inline]
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & field::FLAG_DF != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & field::FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLG_OFF) & field::OFFSET_MASK) << 3
    }

    /// Whether this is a fragment: MF set or a non-zero offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & (field::FLAG_MF | field::OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TTL)
    }

    /// Payload protocol.
    #[inline]
    pub fn protocol(&self) -> Protocol {
        Protocol::from(read_u8(self.buffer.as_ref(), field::PROTOCOL))
    }

    /// The stored header checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buffer.as_ref(), field::SRC))
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buffer.as_ref(), field::DST))
    }

    /// The options, bytes 20..header_len (empty without options).
    #[inline]
    pub fn options(&self) -> &[u8] {
        sub(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    /// The payload, header_len..total_len; bytes past the total length (link padding) excluded.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        sub(
            self.buffer.as_ref(),
            self.header_len(),
            usize::from(self.total_len()),
        )
    }

    /// Whether the header checksum is correct: the sum over the header, checksum included,
    /// is `0xffff`.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        match self.buffer.as_ref().get(..self.header_len()) {
            Some(header) if header.len() >= HEADER_LEN => checksum::data(header) == 0xffff,
            _ => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the version nibble, keeping IHL.
    #[inline]
    pub fn set_version(&mut self, value: u8) {
        let b = read_u8(self.buffer.as_ref(), field::VER_IHL);
        write_u8(
            self.buffer.as_mut(),
            field::VER_IHL,
            (b & 0x0f) | (value << 4),
        );
    }

    /// Set the header length in bytes (a multiple of 4, 20..=60), keeping the version.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        debug_assert!(len.is_multiple_of(4) && (HEADER_LEN..=MAX_HEADER_LEN).contains(&len));
        let b = read_u8(self.buffer.as_ref(), field::VER_IHL);
        let ihl = ((len / 4) & 0x0f) as u8;
        write_u8(self.buffer.as_mut(), field::VER_IHL, (b & 0xf0) | ihl);
    }

    /// Set the whole TOS byte.
    #[inline]
    pub fn set_tos(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::TOS, value);
    }

    /// Set the DSCP (6 bits), keeping ECN.
    #[inline]
    pub fn set_dscp(&mut self, value: u8) {
        let ecn = self.ecn();
        self.set_tos((value << 2) | ecn);
    }

    /// Set ECN (2 bits), keeping DSCP.
    #[inline]
    pub fn set_ecn(&mut self, value: u8) {
        let tos = self.tos();
        self.set_tos((tos & 0xfc) | (value & 0x03));
    }

    /// Set the total length.
    #[inline]
    pub fn set_total_len(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Set the identification.
    #[inline]
    pub fn set_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, value);
    }

    fn set_flag(&mut self, flag: u16, on: bool) {
        let word = read_u16(self.buffer.as_ref(), field::FLG_OFF);
        let word = if on { word | flag } else { word & !flag };
        write_u16(self.buffer.as_mut(), field::FLG_OFF, word);
    }

    /// Set or clear Don't Fragment.
    #[inline]
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flag(field::FLAG_DF, value);
    }

    /// Set or clear More Fragments.
    #[inline]
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flag(field::FLAG_MF, value);
    }

    /// Set the fragment offset in bytes; it must be a multiple of 8 (the low bits are dropped).
    #[inline]
    pub fn set_frag_offset(&mut self, bytes: u16) {
        debug_assert!(
            bytes.is_multiple_of(8),
            "fragment offset {bytes} is not a multiple of 8"
        );
        let word = read_u16(self.buffer.as_ref(), field::FLG_OFF);
        let word = (word & !field::OFFSET_MASK) | (bytes >> 3);
        write_u16(self.buffer.as_mut(), field::FLG_OFF, word);
    }

    /// Set the TTL (the checksum is not touched; see [`Packet::decrement_ttl`]).
    #[inline]
    pub fn set_ttl(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), field::TTL, value);
    }

    /// Set the payload protocol.
    #[inline]
    pub fn set_protocol(&mut self, value: Protocol) {
        write_u8(self.buffer.as_mut(), field::PROTOCOL, value.into());
    }

    /// Set the stored header checksum.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Set the source address.
    #[inline]
    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        write_array(self.buffer.as_mut(), field::SRC, value.octets());
    }

    /// Set the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        write_array(self.buffer.as_mut(), field::DST, value.octets());
    }

    /// Compute and store the header checksum over `header_len` bytes.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let len = self.header_len();
        let sum = checksum::data(sub(self.buffer.as_ref(), 0, len));
        self.set_checksum(!sum);
    }

    /// The options, mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        sub_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// The payload (header_len..total_len), mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len());
        sub_mut(self.buffer.as_mut(), start, end)
    }

    /// Decrement the TTL and patch the checksum for the changed TTL/protocol word with RFC 1624
    /// equation 3, so a correct checksum stays correct (and a wrong one stays wrong, which is
    /// what RFC 1812 section 5.3.1 asks for). Returns the new TTL. The caller has already
    /// checked that the TTL is at least 1; a TTL of 0 is left alone and 0 returned.
    #[inline]
    pub fn decrement_ttl(&mut self) -> u8 {
        let ttl = self.ttl();
        if ttl == 0 {
            return 0;
        }
        let proto = read_u8(self.buffer.as_ref(), field::PROTOCOL);
        let new_ttl = ttl - 1;
        let old = u16::from_be_bytes([ttl, proto]);
        let new = u16::from_be_bytes([new_ttl, proto]);
        self.set_ttl(new_ttl);
        let sum = checksum::update(self.checksum(), old, new);
        self.set_checksum(sum);
        new_ttl
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The fields of a checked IPv4 header: the one place a received header is decoded (the
/// router's pipeline, its fast path and the probes all read headers through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// Header length in bytes, options included.
    pub header_len: usize,
    pub total_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub protocol: Protocol,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// In bytes.
    pub frag_offset: u16,
}

impl Header {
    /// Check the IPv4 packet at the start of `b` in the order RFC 1812 §5.2.2 and Linux's
    /// ip_rcv give — length, version, header length, total length, checksum — and read its
    /// fields. Nearly every packet has a 20-byte header, checked as one fixed array; anything
    /// else takes the general path, which names what is wrong.
    #[inline(always)]
    pub fn decode(b: &[u8]) -> Result<Header> {
        if let Some(h) = b.first_chunk::<HEADER_LEN>()
            && let Some(header) = Header::decode_fixed(h, b.len())
        {
            return header;
        }
        Header::decode_general(b)
    }

    /// The common case: version 4, IHL 5 and a total length within `len`; `None` for anything
    /// else (the general path decides).
    #[inline(always)]
    pub fn decode_fixed(h: &[u8; HEADER_LEN], len: usize) -> Option<Result<Header>> {
        let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if h[0] != 0x45 || !(HEADER_LEN..=len).contains(&total_len) {
            return None;
        }
        if checksum::data_fixed(h) != 0xffff {
            return Some(Err(Error::BadChecksum));
        }
        Some(Ok(Header::fields(h, HEADER_LEN, total_len)))
    }

    #[inline(always)]
    fn fields(h: &[u8; HEADER_LEN], header_len: usize, total_len: usize) -> Header {
        let flags = u16::from_be_bytes([h[6], h[7]]);
        Header {
            src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
            dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
            header_len,
            total_len,
            ttl: h[8],
            tos: h[1],
            protocol: Protocol::from(h[9]),
            ident: u16::from_be_bytes([h[4], h[5]]),
            dont_frag: flags & field::FLAG_DF != 0,
            more_frags: flags & field::FLAG_MF != 0,
            frag_offset: (flags & field::OFFSET_MASK) << 3,
        }
    }

    #[cold]
    fn decode_general(b: &[u8]) -> Result<Header> {
        let p = Packet::new_checked(b)?;
        if !p.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let h = b.first_chunk::<HEADER_LEN>().ok_or(Error::Truncated)?;
        Ok(Header::fields(
            h,
            p.header_len(),
            usize::from(p.total_len()),
        ))
    }
}

/// Option types with no length byte (RFC 791 "Case 1").
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
/// The "copied" flag: the option must be repeated in every fragment.
const OPT_COPIED: u8 = 0x80;

/// Copy the options that must appear in every fragment into `dst` and return the length
/// written, padded with End of Option List bytes to a multiple of 4.
///
/// RFC 791 section 3.1: an option whose type has the copied flag (0x80) goes into every
/// fragment; others (record route, timestamp) only into the first. End of Option List ends the
/// scan; No Operation has the flag clear and is not copied, since it only aligned options that
/// may no longer be there. If `options` is malformed (a length byte below 2 or running past
/// the end) or `dst` is too small, nothing is copied and 0 returned, so a caller never emits a
/// fragment with half an option.
pub fn copy_fragment_options(options: &[u8], dst: &mut [u8]) -> usize {
    // Validate and measure first, so that on failure `dst` is untouched.
    let Some(copied) = walk_options(options, |_| {}) else {
        return 0;
    };
    let padded = copied.next_multiple_of(4);
    let Some(out) = dst.get_mut(..padded) else {
        return 0;
    };
    let mut at = 0;
    walk_options(options, |opt| {
        if let Some(d) = out.get_mut(at..at + opt.len()) {
            d.copy_from_slice(opt);
        }
        at += opt.len();
    });
    if let Some(pad) = out.get_mut(at..) {
        pad.fill(OPT_EOL);
    }
    padded
}

/// Walk RFC 791 options, calling `copy` with each option that has the copied flag; returns the
/// total length of those options, or `None` if the list is malformed.
fn walk_options(options: &[u8], mut copy: impl FnMut(&[u8])) -> Option<usize> {
    let mut rest = options;
    let mut total = 0;
    while let Some((&kind, after)) = rest.split_first() {
        match kind {
            OPT_EOL => break,
            OPT_NOP => rest = after,
            _ => {
                let len = usize::from(*after.first()?);
                if len < 2 {
                    return None;
                }
                let opt = rest.get(..len)?;
                if kind & OPT_COPIED != 0 {
                    copy(opt);
                    total += len;
                }
                rest = rest.get(len..)?;
            }
        }
    }
    Some(total)
}

/// A parsed IPv4 header without options: what the control plane needs to build or answer a
/// datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub protocol: Protocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// The whole TOS byte (DSCP and ECN).
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
}

impl Repr {
    /// Read the header fields. Checks the same lengths as [`Packet::new_checked`], so an
    /// unchecked view works too; like it, does not verify the checksum or reject fragments and
    /// options (the router decides those; options are skipped, not kept).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        p.check()?;
        Ok(Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: usize::from(p.total_len()).saturating_sub(p.header_len()),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        })
    }

    /// Length of the header [`Repr::emit`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write a 20-byte header without options, not a fragment, with the checksum filled in.
    /// The total length is `20 + payload_len`, which must fit in 16 bits (it saturates).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let total = u16::try_from(HEADER_LEN + self.payload_len).unwrap_or(u16::MAX);
        p.set_version(4);
        p.set_header_len(HEADER_LEN);
        p.set_tos(self.tos);
        p.set_total_len(total);
        p.set_ident(self.ident);
        // Clear reserved bit, MF and offset in one write, then DF.
        write_u16(p.buffer.as_mut(), field::FLG_OFF, 0);
        p.set_dont_frag(self.dont_frag);
        p.set_ttl(self.ttl);
        p.set_protocol(self.protocol);
        p.set_src_addr(self.src_addr);
        p.set_dst_addr(self.dst_addr);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A hand-assembled ICMP echo request shaped like what `ping -R` sends, with the options area
    // trimmed to 12 bytes: IHL 8, a record-route option (type 7, length 11, pointer 4, two empty
    // slots) and an EOL. 192.168.1.100 -> 8.8.8.8, ident 0xabcd, DF, TTL 64.
    const WITH_RR: [u8; 56] = [
        0x48, 0x00, 0x00, 0x38, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01, 0xae, 0xd0, // header
        0xc0, 0xa8, 0x01, 0x64, 0x08, 0x08, 0x08, 0x08, // addresses
        0x07, 0x0b, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // options
        0x08, 0x00, 0x22, 0xf8, 0x1c, 0x46, 0x00, 0x01, // ICMP echo request header
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
        0x1f,
    ];

    fn header(bytes: &[u8]) -> Vec<u8> {
        let mut v = bytes.to_vec();
        v.resize(HEADER_LEN.max(bytes.len()), 0);
        v
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&WITH_RR[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 32);
        assert_eq!(p.tos(), 0);
        assert_eq!(p.dscp(), 0);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 56);
        assert_eq!(p.ident(), 0xabcd);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), Protocol::Icmp);
        assert_eq!(p.checksum(), 0xaed0);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 1, 100));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(8, 8, 8, 8));
        assert_eq!(p.options(), &WITH_RR[20..32]);
        assert_eq!(p.payload(), &WITH_RR[32..]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn construct_with_setters() {
        let mut buf = [0u8; 56];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(32);
        p.set_dscp(0);
        p.set_ecn(0);
        p.set_total_len(56);
        p.set_ident(0xabcd);
        p.set_dont_frag(true);
        p.set_more_frags(false);
        p.set_frag_offset(0);
        p.set_ttl(64);
        p.set_protocol(Protocol::Icmp);
        p.set_src_addr(Ipv4Addr::new(192, 168, 1, 100));
        p.set_dst_addr(Ipv4Addr::new(8, 8, 8, 8));
        p.options_mut().copy_from_slice(&WITH_RR[20..32]);
        p.payload_mut().copy_from_slice(&WITH_RR[32..]);
        p.fill_checksum();
        assert_eq!(buf, WITH_RR);
    }

    #[test]
    fn field_bits() {
        let mut buf = header(&WITH_RR[..20]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_header_len(20);
        p.set_total_len(20);
        p.set_dscp(46); // EF
        p.set_ecn(3);
        assert_eq!((p.tos(), p.dscp(), p.ecn()), (0xbb, 46, 3));
        p.set_ecn(1);
        assert_eq!((p.dscp(), p.ecn()), (46, 1));
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_frag_offset(65528);
        assert!(!p.dont_frag() && p.more_frags() && p.is_fragment());
        assert_eq!(p.frag_offset(), 65528);
        assert_eq!(&buf[6..8], &[0x3f, 0xff]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_more_frags(false);
        assert!(p.is_fragment()); // offset alone makes a fragment (the last one)
        p.set_frag_offset(0);
        assert!(!p.is_fragment());
        p.set_more_frags(true);
        assert!(p.is_fragment()); // MF alone: the first fragment
        p.set_version(6);
        assert_eq!((p.version(), p.header_len()), (6, 20));
    }

    #[test]
    fn parse_and_emit() {
        let p = Packet::new_checked(&WITH_RR[..]).unwrap();
        let repr = Repr::parse(&p).unwrap();
        let expected = Repr {
            src_addr: Ipv4Addr::new(192, 168, 1, 100),
            dst_addr: Ipv4Addr::new(8, 8, 8, 8),
            protocol: Protocol::Icmp,
            payload_len: 24,
            ttl: 64,
            tos: 0,
            ident: 0xabcd,
            dont_frag: true,
        };
        assert_eq!(repr, expected);
        assert_eq!(repr.buffer_len(), 20);
        // Emitting drops the options; the header is otherwise the same.
        let mut buf = [0xeeu8; 20];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let want = [
            0x45, 0x00, 0x00, 0x2c, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0xc0, 0xa8,
            0x01, 0x64, 0x08, 0x08, 0x08, 0x08,
        ];
        assert_eq!(&buf[..10], &want[..10]);
        assert_eq!(&buf[12..], &want[12..]);
        let mut full = [0u8; 44];
        full[..20].copy_from_slice(&buf);
        let p = Packet::new_checked(&full[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p), Ok(expected));
    }

    #[test]
    fn payload_excludes_link_padding() {
        // A 28-byte datagram in a 46-byte minimum Ethernet payload.
        let mut buf = [0u8; 46];
        let repr = Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            protocol: Protocol::Udp,
            payload_len: 8,
            ttl: 1,
            tos: 0,
            ident: 1,
            dont_frag: false,
        };
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.payload().len(), 8);
        assert_eq!(Repr::parse(&p).unwrap().payload_len, 8);
    }

    #[test]
    fn errors() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&WITH_RR[..len]).err(),
                Some(Error::Truncated)
            );
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&WITH_RR[..len])),
                Err(Error::Truncated)
            );
        }
        let with = |at: usize, value: u8| {
            let mut b = WITH_RR;
            b[at] = value;
            b
        };
        let cases = [
            (with(0, 0x68), Error::BadVersion),   // version 6
            (with(0, 0x08), Error::BadVersion),   // version 0
            (with(0, 0x44), Error::BadHeaderLen), // IHL 4
            (with(0, 0x40), Error::BadHeaderLen), // IHL 0
            (with(3, 31), Error::BadTotalLen),    // total length below IHL*4 (32)
            (with(3, 57), Error::BadTotalLen),    // total length past the buffer
            (with(2, 0x01), Error::BadTotalLen),  // 0x0138
        ];
        for (bytes, err) in cases {
            assert_eq!(
                Packet::new_checked(&bytes[..]).err(),
                Some(err),
                "{:02x?}",
                &bytes[..4]
            );
            assert_eq!(Repr::parse(&Packet::new_unchecked(&bytes[..])), Err(err));
        }
        // IHL 15 (60 bytes) is fine in a 60-byte buffer and past the end of a 56-byte one.
        let b = with(0, 0x4f);
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::BadHeaderLen));
        assert_eq!(
            Packet::new_checked(&b[..40]).err(),
            Some(Error::BadHeaderLen)
        );
        // The order is the documented one: version before IHL, IHL before total length.
        let mut b = with(0, 0x54);
        b[3] = 0xff;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::BadVersion));
        let mut b = with(0, 0x43);
        b[3] = 0xff;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error::BadHeaderLen));
        // A bad checksum is not a parse error.
        let b = with(11, 0);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(!p.verify_checksum());
        assert!(Repr::parse(&p).is_ok());
    }

    #[test]
    fn decrement_ttl_keeps_checksum() {
        let mut buf = WITH_RR;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.decrement_ttl(), 63);
        assert_eq!(p.ttl(), 63);
        assert!(p.verify_checksum());
        let incremental = p.checksum();
        p.fill_checksum();
        assert_eq!(p.checksum(), incremental);
        p.set_ttl(1);
        p.fill_checksum();
        assert_eq!(p.decrement_ttl(), 0);
        assert!(p.verify_checksum());
        let before = p.checksum();
        assert_eq!(p.decrement_ttl(), 0); // TTL 0 is left alone
        assert_eq!((p.ttl(), p.checksum()), (0, before));
    }

    #[test]
    fn fragment_options() {
        let mut dst = [0xaau8; 40];
        // Record route (not copied): nothing to copy.
        assert_eq!(copy_fragment_options(&WITH_RR[20..32], &mut dst), 0);
        assert_eq!(copy_fragment_options(&[], &mut dst), 0);
        // NOP, loose source route (0x83, copied), record route, security (0x82, copied), EOL.
        let opts = [
            0x01, 0x83, 0x07, 0x04, 10, 0, 0, 1, // NOP + LSRR with one hop
            0x07, 0x07, 0x04, 0, 0, 0, 0, // RR
            0x82, 0x04, 0xab, 0xcd, // a 4-byte copied option
            0x00, 0x99, 0x99, 0x99, 0x99, // EOL, then junk that must be ignored
        ];
        let n = copy_fragment_options(&opts, &mut dst);
        assert_eq!(n, 12);
        assert_eq!(
            &dst[..12],
            &[0x83, 0x07, 0x04, 10, 0, 0, 1, 0x82, 0x04, 0xab, 0xcd, 0x00]
        );
        assert_eq!(dst[12], 0xaa);
        // An exact multiple of 4 needs no padding.
        assert_eq!(copy_fragment_options(&[0x82, 0x04, 1, 2], &mut dst), 4);
        // Too small a destination: nothing written.
        let mut small = [0xaau8; 8];
        assert_eq!(copy_fragment_options(&opts, &mut small), 0);
        assert_eq!(small, [0xaa; 8]);
        // Malformed: length 0, 1, past the end, missing length byte.
        for bad in [
            &[0x83, 0x00][..],
            &[0x83, 0x01],
            &[0x83, 0x09, 0, 0],
            &[0x01, 0x83],
        ] {
            let mut d = [0xaau8; 40];
            assert_eq!(copy_fragment_options(bad, &mut d), 0, "{bad:02x?}");
            assert_eq!(d, [0xaa; 40]);
        }
    }

    #[test]
    fn protocol_round_trip() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(Protocol::from(raw)), raw);
        }
        assert_eq!(Protocol::from(17), Protocol::Udp);
    }

    #[test]
    fn etherparse_builds_we_read() {
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([172, 16, 0, 1], [172, 16, 9, 9], 17)
            .udp(4000, 5000);
        let mut bytes = Vec::new();
        builder.write(&mut bytes, &[7; 33]).unwrap();
        let p = Packet::new_checked(&bytes[14..]).unwrap();
        assert!(p.verify_checksum());
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(repr.src_addr, Ipv4Addr::new(172, 16, 0, 1));
        assert_eq!(repr.dst_addr, Ipv4Addr::new(172, 16, 9, 9));
        assert_eq!(repr.protocol, Protocol::Udp);
        assert_eq!(repr.ttl, 17);
        assert_eq!(repr.payload_len, 8 + 33);
        // And the same for a header with options built by etherparse.
        let mut h =
            etherparse::Ipv4Header::new(4, 9, etherparse::IpNumber::TCP, [1; 4], [2; 4]).unwrap();
        h.options =
            etherparse::Ipv4Options::try_from(&[0x82, 0x04, 0xab, 0xcd, 1, 1, 1, 0][..]).unwrap();
        h.set_payload_len(4).unwrap(); // total length moves with the options
        h.header_checksum = h.calc_header_checksum();
        let mut bytes = h.to_bytes().to_vec();
        bytes.extend_from_slice(&[0; 4]);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.header_len(), 28);
        assert_eq!(
            p.options(),
            &[0x82, 0x04, 0xab, 0xcd, 0x01, 0x01, 0x01, 0x00]
        );
        assert_eq!(p.protocol(), Protocol::Tcp);
        assert_eq!(p.payload().len(), 4);
    }

    #[test]
    fn etherparse_reads_what_we_emit() {
        let repr = Repr {
            src_addr: Ipv4Addr::new(10, 1, 2, 3),
            dst_addr: Ipv4Addr::new(10, 3, 2, 1),
            protocol: Protocol::Unknown(253),
            payload_len: 100,
            ttl: 200,
            tos: 0xb9,
            ident: 0x1234,
            dont_frag: true,
        };
        let mut buf = [0u8; 120];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let h = etherparse::Ipv4HeaderSlice::from_slice(&buf).unwrap();
        assert_eq!(h.ihl(), 5);
        assert_eq!(h.total_len(), 120);
        assert_eq!(h.identification(), 0x1234);
        assert!(h.dont_fragment() && !h.more_fragments());
        assert_eq!(h.fragments_offset().value(), 0);
        assert_eq!(h.ttl(), 200);
        assert_eq!(h.protocol(), etherparse::IpNumber(253));
        assert_eq!(h.dcp().value(), 0xb9 >> 2);
        assert_eq!(h.ecn().value(), 1);
        assert_eq!(h.source_addr(), repr.src_addr);
        assert_eq!(h.destination_addr(), repr.dst_addr);
        assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
        // A decremented TTL still carries the checksum etherparse would compute.
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.decrement_ttl();
        let h = etherparse::Ipv4HeaderSlice::from_slice(&buf).unwrap();
        assert_eq!(h.ttl(), 199);
        assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
    }

    fn arb_header() -> impl Strategy<Value = Vec<u8>> {
        // A valid version/IHL, a consistent total length, random everything else.
        (5usize..=15, any::<[u8; 60]>(), 0usize..64).prop_map(|(ihl, bytes, extra)| {
            let hl = ihl * 4;
            let mut v = bytes[..hl].to_vec();
            v.resize(hl + extra, 0x5a);
            v[0] = 0x40 | ihl as u8;
            let total = (hl + extra) as u16;
            v[2..4].copy_from_slice(&total.to_be_bytes());
            let mut p = Packet::new_unchecked(&mut v[..]);
            p.fill_checksum();
            v
        })
    }

    proptest! {
        #[test]
        fn getters_never_panic(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..100),
            plausible in any::<bool>(),
        ) {
            // Half the inputs get version 4 and an in-range total length, so that new_checked
            // succeeds often enough to exercise the getters.
            if plausible && bytes.len() >= 4 {
                bytes[0] = 0x40 | (bytes[0] & 0x0f);
                let total = u16::from_be_bytes([bytes[2], bytes[3]]) % (bytes.len() as u16 + 1);
                bytes[2..4].copy_from_slice(&total.to_be_bytes());
            }
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let _ = (p.version(), p.dscp(), p.ecn(), p.tos(), p.ident(), p.dont_frag());
                let _ = (p.more_frags(), p.frag_offset(), p.is_fragment(), p.ttl(), p.protocol());
                let _ = (p.checksum(), p.src_addr(), p.dst_addr(), p.verify_checksum());
                prop_assert_eq!(p.options().len() + HEADER_LEN, p.header_len());
                prop_assert_eq!(p.payload().len() + p.header_len(), usize::from(p.total_len()));
                let mut d = [0u8; MAX_HEADER_LEN];
                prop_assert!(copy_fragment_options(p.options(), &mut d) <= p.options().len() + 3);
                prop_assert!(Repr::parse(&p).is_ok());
            }
            let _ = Repr::parse(&Packet::new_unchecked(&bytes[..]));
        }

        #[test]
        fn decrement_ttl_matches_recompute(mut v in arb_header(), ttl in 1u8..=255) {
            let mut p = Packet::new_checked(&mut v[..]).unwrap();
            p.set_ttl(ttl);
            p.fill_checksum();
            prop_assert_eq!(p.decrement_ttl(), ttl - 1);
            prop_assert!(p.verify_checksum());
            let incremental = p.checksum();
            p.fill_checksum();
            prop_assert_eq!(incremental, p.checksum());
        }

        #[test]
        fn address_update_matches_recompute(mut v in arb_header(), new in any::<u32>()) {
            let mut p = Packet::new_checked(&mut v[..]).unwrap();
            let old = p.dst_addr();
            let patched = checksum::update32(p.checksum(), old.to_bits(), new);
            p.set_dst_addr(Ipv4Addr::from(new));
            p.set_checksum(patched);
            prop_assert!(p.verify_checksum());
            p.fill_checksum();
            prop_assert_eq!(patched, p.checksum());
        }

        #[test]
        fn word_update_matches_recompute(mut v in arb_header(), new in any::<u16>()) {
            // The identification word stands for any 16-bit field.
            let mut p = Packet::new_checked(&mut v[..]).unwrap();
            let patched = checksum::update(p.checksum(), p.ident(), new);
            p.set_ident(new);
            p.set_checksum(patched);
            prop_assert!(p.verify_checksum());
            p.fill_checksum();
            prop_assert_eq!(patched, p.checksum());
        }

        #[test]
        fn repr_round_trip(
            src in any::<u32>(), dst in any::<u32>(), proto in any::<u8>(),
            payload_len in 0usize..1500, ttl in any::<u8>(), tos in any::<u8>(),
            ident in any::<u16>(), dont_frag in any::<bool>(),
        ) {
            let repr = Repr {
                src_addr: Ipv4Addr::from(src), dst_addr: Ipv4Addr::from(dst),
                protocol: Protocol::from(proto), payload_len, ttl, tos, ident, dont_frag,
            };
            let mut buf = vec![0u8; HEADER_LEN + payload_len];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(p.verify_checksum());
            prop_assert_eq!(Repr::parse(&p), Ok(repr));
            let h = etherparse::Ipv4HeaderSlice::from_slice(&buf).unwrap();
            prop_assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
        }
    }
}
