//! Zero-copy views over frame bytes: Ethernet (with one 802.1Q tag), ARP, IPv4, ICMPv4 and UDP,
//! plus the Internet checksum.
//!
//! Each protocol module follows the smoltcp pattern. A `Packet` (or `Frame`) wraps any
//! `T: AsRef<[u8]>` and reads fields straight out of the bytes; setters need `AsMut<[u8]>` and
//! write in place, which is how the forwarding path rewrites TTL, checksum and MAC addresses
//! without copying. `new_checked` proves once that the buffer is long enough for every fixed
//! field and that the length fields agree with the buffer; after it succeeds no accessor panics.
//! Even on a view made with `new_unchecked`, getters never panic: a field that lies beyond the
//! buffer reads as zero and a variable-length region as empty, so packet bytes cannot crash the
//! process however a caller builds the view. A `Repr` is the parsed, owned, high-level form of a
//! header, for control-plane code that builds or answers packets.
//!
//! Protocol numbers are enums with an `Unknown(raw)` variant so that every value round-trips.
//! The RFC each module implements is named in its own documentation. There is no `unsafe` here.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod ipv4;
pub mod udp;

/// Why a buffer could not be viewed or parsed as a given protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header (or than what its length fields promise).
    #[error("buffer too short")]
    Truncated,
    /// The IP version nibble is not the one this view understands.
    #[error("unsupported IP version")]
    BadVersion,
    /// The IPv4 header length (IHL) is below the minimum or runs past the buffer.
    #[error("header length field out of range")]
    BadHeaderLen,
    /// The IPv4 total length is shorter than the header or longer than the buffer.
    #[error("total length field inconsistent with buffer")]
    BadTotalLen,
    /// A header checksum that does not verify.
    #[error("bad checksum")]
    BadChecksum,
    /// Any other inconsistency: a length field, an address size, an unknown operation.
    #[error("malformed")]
    Malformed,
}

/// The result type of every fallible wire operation.
pub type Result<T> = core::result::Result<T, Error>;

// Field access shared by the views. Reads out of range return zero rather than panic, so a view
// whose length was never checked still cannot be crashed by packet bytes; `new_checked` makes the
// out-of-range branch unreachable, and the bounds check it costs is the one indexing would do.
// Writes out of range are a caller bug (the buffer was not sized by `buffer_len` or checked), so
// debug builds assert and release builds leave the buffer untouched.

#[inline]
pub(crate) fn read_u8(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

#[inline]
pub(crate) fn read_u16(buf: &[u8], at: usize) -> u16 {
    match buf.get(at..).and_then(<[u8]>::first_chunk::<2>) {
        Some(b) => u16::from_be_bytes(*b),
        None => 0,
    }
}

#[inline]
pub(crate) fn read_array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    match buf.get(at..).and_then(<[u8]>::first_chunk::<N>) {
        Some(b) => *b,
        None => [0; N],
    }
}

#[inline]
pub(crate) fn write_u8(buf: &mut [u8], at: usize, value: u8) {
    debug_assert!(at < buf.len(), "wire write past the end of the buffer");
    if let Some(b) = buf.get_mut(at) {
        *b = value;
    }
}

#[inline]
pub(crate) fn write_u16(buf: &mut [u8], at: usize, value: u16) {
    write_array(buf, at, value.to_be_bytes());
}

#[inline]
pub(crate) fn write_array<const N: usize>(buf: &mut [u8], at: usize, value: [u8; N]) {
    debug_assert!(
        at.checked_add(N).is_some_and(|end| end <= buf.len()),
        "wire write past the end of the buffer"
    );
    if let Some(b) = buf.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<N>) {
        *b = value;
    }
}

/// Copy `src` into `buf[at..at + src.len()]`; same out-of-range policy as the other writers.
#[inline]
pub(crate) fn write_slice(buf: &mut [u8], at: usize, src: &[u8]) {
    let dst = at
        .checked_add(src.len())
        .and_then(|end| buf.get_mut(at..end));
    debug_assert!(dst.is_some(), "wire write past the end of the buffer");
    if let Some(dst) = dst {
        dst.copy_from_slice(src);
    }
}

/// `buf[start..end]`, or empty when that range does not fit (only after a field was corrupted
/// through a setter or on an unchecked view).
#[inline]
pub(crate) fn sub(buf: &[u8], start: usize, end: usize) -> &[u8] {
    buf.get(start..end).unwrap_or(&[])
}

/// Mutable counterpart of [`sub`].
#[inline]
pub(crate) fn sub_mut(buf: &mut [u8], start: usize, end: usize) -> &mut [u8] {
    match buf.get_mut(start..end) {
        Some(s) => s,
        None => &mut [],
    }
}
