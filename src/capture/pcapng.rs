//! A streaming pcapng writer: Section Header, Interface Description, Enhanced Packet and
//! Interface Statistics blocks over any [`io::Write`].
//!
//! The format is draft-ietf-opsawg-pcapng ("PCAP Now Generic"); the sections to read are
//! "General Block Structure", "Options" and the four blocks written here. Every file this writer
//! produces is one little-endian section of unspecified length (so it can be streamed into a
//! pipe), Ethernet interfaces with nanosecond timestamps (`if_tsresol` = 9), and packets that
//! carry their direction in `epb_flags`.
//!
//! Guarantees: each block is assembled in a reusable buffer and reaches the output in one
//! `write_all`, so writing a packet allocates nothing once that buffer has grown to the largest
//! block; every length, padding octet and option list follows the draft (options end with
//! `opt_endofopt`, padding is zeros, no option is longer than its 16-bit length field allows —
//! over-long strings are cut at a character boundary); packets and statistics may only name
//! interfaces already declared, as the draft requires. After an I/O error the output may hold
//! a partial block: stop writing to it.

use std::fmt;
use std::io::{self, Write};

/// Block type of the Section Header Block; palindromic, so it reads the same in either order.
const SHB: u32 = 0x0A0D_0D0A;
/// Block type of the Interface Description Block.
const IDB: u32 = 1;
/// Block type of the Interface Statistics Block.
const ISB: u32 = 5;
/// Block type of the Enhanced Packet Block.
const EPB: u32 = 6;
/// Written in the writer's byte order; a reader learns the section's endianness from it.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// LINKTYPE_ETHERNET: every shoal link carries Ethernet II frames.
const LINKTYPE_ETHERNET: u16 = 1;
/// `if_tsresol` value: timestamps count 10^-9 s, the resolution of shoal's clocks.
const TSRESOL_NANOS: u8 = 9;

// Option codes (draft sections "Options", "Section Header Block", ...).
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;
const EPB_DROPCOUNT: u16 = 4;
const ISB_OSDROP: u16 = 7;

/// Prefix of the packet comment of a frame that died on its link.
const DROPPED_PREFIX: &str = "dropped: ";

/// Which way a frame crossed the captured interface: the `epb_flags` bits 0-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received by the interface (flags bits 0-1 = 01).
    Inbound,
    /// Sent by the interface (flags bits 0-1 = 10).
    Outbound,
}

impl Direction {
    /// The `epb_flags` word carrying this direction and nothing else.
    pub const fn flags(self) -> u32 {
        match self {
            Direction::Inbound => 0b01,
            Direction::Outbound => 0b10,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        })
    }
}

/// A packet as captured: one Enhanced Packet Block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Interface id returned by [`Writer::add_interface`].
    pub iface: u32,
    /// Nanoseconds since the Unix epoch (shoal's engine: wall clock; its simulator: virtual
    /// time).
    pub ts_ns: u64,
    /// The whole Ethernet frame; written untruncated (caplen = origlen = `data.len()`).
    pub data: &'a [u8],
    /// Which way the frame crossed the interface.
    pub dir: Direction,
    /// `Some(reason)` when the frame was dropped on the link (an impairment or a full queue):
    /// written as `epb_dropcount` = 1 and a packet comment `"dropped: <reason>"` (e.g.
    /// "dropped: netem-loss"), so a Wireshark user sees where a frame died. This is shoal's
    /// convention: the draft's `epb_dropcount` counts packets the capture lost before this one,
    /// while here it marks this very frame as lost to the network, which the comment spells out.
    pub dropped: Option<&'a str>,
}

/// A streaming pcapng writer over any [`io::Write`]: one section, then interfaces, packets and
/// statistics in the order they are written.
pub struct Writer<W: Write> {
    out: W,
    /// The block being assembled; kept between blocks so that writing allocates nothing warm.
    block: Vec<u8>,
    /// Interfaces declared so far; ids are `0..interfaces`.
    interfaces: u32,
}

impl<W: Write> fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("interfaces", &self.interfaces)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Writer<W> {
    /// Writes the Section Header Block (little-endian, version 1.0, section length unspecified
    /// so the file can be streamed, `shb_userappl` `"shoal <version>"`).
    pub fn new(out: W) -> io::Result<Self> {
        let mut writer = Writer {
            out,
            block: Vec::with_capacity(4096),
            interfaces: 0,
        };
        let mut b = Block::start(&mut writer.block, SHB);
        b.u32(BYTE_ORDER_MAGIC);
        b.u16(1); // major version
        b.u16(0); // minor version
        b.u64(u64::MAX); // section length -1: not known while streaming
        b.option_str(SHB_USERAPPL, concat!("shoal ", env!("CARGO_PKG_VERSION")));
        b.end_options();
        b.finish()?;
        writer.emit()?;
        Ok(writer)
    }

    /// One Interface Description Block: LINKTYPE_ETHERNET, no snap length, `if_name` = `name`
    /// (shoal passes "node:iface"), `if_tsresol` = 9 (nanoseconds). Returns the interface id
    /// (0, 1, ...), which [`Record::iface`] and [`Writer::write_stats`] refer to.
    pub fn add_interface(&mut self, name: &str) -> io::Result<u32> {
        self.add_interface_described(name, None)
    }

    /// [`Writer::add_interface`] with an `if_description` too (e.g. what the link connects).
    pub fn add_interface_described(
        &mut self,
        name: &str,
        description: Option<&str>,
    ) -> io::Result<u32> {
        let id = self.interfaces;
        let next = id
            .checked_add(1)
            .ok_or_else(|| invalid("a pcapng section holds at most 2^32 - 1 interfaces"))?;
        let mut b = Block::start(&mut self.block, IDB);
        b.u16(LINKTYPE_ETHERNET);
        b.u16(0); // reserved
        b.u32(0); // snap length: none, frames are written whole
        b.option_str(IF_NAME, name);
        if let Some(description) = description {
            b.option_str(IF_DESCRIPTION, description);
        }
        b.option(IF_TSRESOL, &[&[TSRESOL_NANOS]]);
        b.end_options();
        b.finish()?;
        self.emit()?;
        self.interfaces = next;
        Ok(id)
    }

    /// One Enhanced Packet Block (see [`Record`]): the frame, its timestamp split into the upper
    /// and lower 32 bits, `epb_flags` with the direction, and for a dropped frame the comment
    /// and `epb_dropcount`. Fails with `InvalidInput`, writing nothing, for an undeclared
    /// interface or a frame too long for a block.
    pub fn write(&mut self, rec: &Record<'_>) -> io::Result<()> {
        self.check_interface(rec.iface)?;
        let len = u32::try_from(rec.data.len()).map_err(|_| invalid("frame over 4 GiB"))?;
        let mut b = Block::start(&mut self.block, EPB);
        b.u32(rec.iface);
        b.timestamp(rec.ts_ns);
        b.u32(len); // captured length
        b.u32(len); // original length: nothing is truncated
        b.padded(&[rec.data]);
        if let Some(reason) = rec.dropped {
            let reason = cut_utf8(reason, usize::from(u16::MAX) - DROPPED_PREFIX.len());
            b.option(OPT_COMMENT, &[DROPPED_PREFIX.as_bytes(), reason.as_bytes()]);
            b.option(EPB_DROPCOUNT, &[&1u64.to_le_bytes()]);
        }
        b.option(EPB_FLAGS, &[&rec.dir.flags().to_le_bytes()]);
        b.end_options();
        b.finish()?;
        self.emit()
    }

    /// An Interface Statistics Block for `iface` at `ts_ns`: `isb_osdrop` = `dropped_copies`,
    /// the captured copies that were lost because the writer could not keep up. Written at the
    /// end of a capture; fails with `InvalidInput` for an undeclared interface.
    pub fn write_stats(&mut self, iface: u32, ts_ns: u64, dropped_copies: u64) -> io::Result<()> {
        self.check_interface(iface)?;
        let mut b = Block::start(&mut self.block, ISB);
        b.u32(iface);
        b.timestamp(ts_ns);
        b.option(ISB_OSDROP, &[&dropped_copies.to_le_bytes()]);
        b.end_options();
        b.finish()?;
        self.emit()
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Interfaces declared so far.
    pub fn interfaces(&self) -> u32 {
        self.interfaces
    }

    /// The output, without flushing it.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn check_interface(&self, iface: u32) -> io::Result<()> {
        if iface < self.interfaces {
            Ok(())
        } else {
            Err(invalid(
                "no Interface Description Block for this interface id",
            ))
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        self.out.write_all(&self.block)
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// Zero octets that bring `len` to a multiple of 4.
const fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// The longest prefix of `s` of at most `max` octets that ends on a character boundary: the
/// draft requires valid UTF-8 and option values fit a 16-bit length.
fn cut_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// One block being assembled: type, a length patched in by `finish`, body, trailing length.
struct Block<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Block<'a> {
    fn start(buf: &'a mut Vec<u8>, block_type: u32) -> Self {
        buf.clear();
        buf.extend_from_slice(&block_type.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Block { buf }
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Two 32-bit words, upper half first, each in the section's byte order (not one u64).
    fn timestamp(&mut self, ts: u64) {
        self.u32((ts >> 32) as u32);
        self.u32(ts as u32);
    }

    /// The concatenation of `parts`, then zeros up to a 32-bit boundary.
    fn padded(&mut self, parts: &[&[u8]]) {
        let mut len = 0;
        for part in parts {
            self.buf.extend_from_slice(part);
            len += part.len();
        }
        self.buf.resize(self.buf.len() + padding(len), 0);
    }

    /// One option whose value is the concatenation of `parts` (at most 65,535 octets: callers
    /// cut strings with `cut_utf8`, the other values are fixed-size).
    fn option(&mut self, code: u16, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        debug_assert!(
            len <= usize::from(u16::MAX),
            "option value over 65,535 octets"
        );
        self.u16(code);
        self.u16(u16::try_from(len).unwrap_or(u16::MAX));
        self.padded(parts);
    }

    fn option_str(&mut self, code: u16, s: &str) {
        self.option(code, &[cut_utf8(s, usize::from(u16::MAX)).as_bytes()]);
    }

    fn end_options(&mut self) {
        self.u16(OPT_ENDOFOPT);
        self.u16(0);
    }

    /// Appends the trailing length and patches the leading one.
    fn finish(self) -> io::Result<()> {
        let total =
            u32::try_from(self.buf.len() + 4).map_err(|_| invalid("block longer than 4 GiB"))?;
        self.buf[4..8].copy_from_slice(&total.to_le_bytes());
        self.buf.extend_from_slice(&total.to_le_bytes());
        Ok(())
    }
}

/// A minimal pcapng reader for tests across the capture module: blocks and their options.
#[cfg(test)]
pub(super) mod parse {
    /// One block: its type and body (between the two length fields).
    #[derive(Debug)]
    pub struct Block {
        pub kind: u32,
        pub body: Vec<u8>,
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Splits a little-endian file into blocks, checking both length fields of each.
    pub fn blocks(file: &[u8]) -> Vec<Block> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < file.len() {
            let kind = u32_at(file, at);
            let len = u32_at(file, at + 4) as usize;
            assert_eq!(len % 4, 0, "block length not a multiple of 4");
            assert_eq!(u32_at(file, at + len - 4) as usize, len, "trailing length");
            out.push(Block {
                kind,
                body: file[at + 8..at + len - 4].to_vec(),
            });
            at += len;
        }
        out
    }

    /// The options (code, value) starting at `at` in `body`, up to `opt_endofopt`.
    pub fn options(body: &[u8], mut at: usize) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let code = u16::from_le_bytes([body[at], body[at + 1]]);
            let len = usize::from(u16::from_le_bytes([body[at + 2], body[at + 3]]));
            if code == 0 {
                assert_eq!(len, 0);
                assert_eq!(at + 4, body.len(), "data after opt_endofopt");
                return out;
            }
            out.push((code, body[at + 4..at + 4 + len].to_vec()));
            at += 4 + len + super::padding(len);
        }
    }

    /// A packet read back from an Enhanced Packet Block.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Packet {
        pub iface: u32,
        pub ts_ns: u64,
        pub data: Vec<u8>,
        pub flags: u32,
        pub comment: Option<String>,
    }

    /// The Enhanced Packet Blocks of a file, in order.
    pub fn packets(file: &[u8]) -> Vec<Packet> {
        blocks(file)
            .into_iter()
            .filter(|b| b.kind == super::EPB)
            .map(|b| {
                let len = u32_at(&b.body, 12) as usize;
                let opts = options(&b.body, 20 + len + super::padding(len));
                let opt = |code| opts.iter().find(|(c, _)| *c == code).map(|(_, v)| v);
                Packet {
                    iface: u32_at(&b.body, 0),
                    ts_ns: u64::from(u32_at(&b.body, 4)) << 32 | u64::from(u32_at(&b.body, 8)),
                    data: b.body[20..20 + len].to_vec(),
                    flags: opt(super::EPB_FLAGS).map_or(0, |v| u32_at(v, 0)),
                    comment: opt(super::OPT_COMMENT)
                        .map(|v| String::from_utf8(v.clone()).expect("comment is UTF-8")),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `v` to `out` as little-endian octets.
    fn le(out: &mut Vec<u8>, v: &[u32]) {
        for w in v {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }

    fn shb_bytes() -> Vec<u8> {
        let appl = format!("shoal {}", env!("CARGO_PKG_VERSION"));
        let pad = padding(appl.len());
        let total = (24 + 4 + appl.len() + pad + 4 + 4) as u32;
        let mut b = Vec::new();
        le(&mut b, &[0x0A0D0D0A, total, 0x1A2B3C4D]);
        b.extend_from_slice(&[1, 0, 0, 0]); // version 1.0
        b.extend_from_slice(&[0xFF; 8]); // section length -1
        b.extend_from_slice(&[4, 0, appl.len() as u8, 0]);
        b.extend_from_slice(appl.as_bytes());
        b.extend(std::iter::repeat_n(0, pad));
        b.extend_from_slice(&[0, 0, 0, 0]);
        le(&mut b, &[total]);
        b
    }

    #[test]
    fn section_header_block_layout() {
        let w = Writer::new(Vec::new()).unwrap();
        let out = w.into_inner();
        assert_eq!(out, shb_bytes());
        // The magic reads 4D 3C 2B 1A: the section is little-endian.
        assert_eq!(out[8..12], [0x4D, 0x3C, 0x2B, 0x1A]);
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn interface_description_block_layout() {
        let mut w = Writer::new(Vec::new()).unwrap();
        assert_eq!(w.add_interface("r1:eth0").unwrap(), 0);
        assert_eq!(w.add_interface("r2:eth1").unwrap(), 1);
        let out = w.into_inner();
        let idb = &out[shb_bytes().len()..];
        #[rustfmt::skip]
        let expected: &[u8] = &[
            1, 0, 0, 0,          // block type 1
            44, 0, 0, 0,         // total length
            1, 0, 0, 0,          // LINKTYPE_ETHERNET, reserved
            0, 0, 0, 0,          // snap length: none
            2, 0, 7, 0, b'r', b'1', b':', b'e', b't', b'h', b'0', 0, // if_name + 1 pad
            9, 0, 1, 0, 9, 0, 0, 0, // if_tsresol = 9 + 3 pad
            0, 0, 0, 0,          // opt_endofopt
            44, 0, 0, 0,         // trailing length
        ];
        assert_eq!(&idb[..44], expected);
        assert_eq!(idb[44..52], [1, 0, 0, 0, 44, 0, 0, 0]);
        assert_eq!(&idb[64..71], b"r2:eth1");
        assert_eq!(idb.len(), 88);
    }

    #[test]
    fn interface_description_option() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface_described("r1:eth0", Some("to r2")).unwrap();
        let out = w.into_inner();
        let blocks = parse::blocks(&out);
        let opts = parse::options(&blocks[1].body, 8);
        assert_eq!(
            opts,
            vec![
                (2, b"r1:eth0".to_vec()),
                (3, b"to r2".to_vec()),
                (9, vec![9])
            ]
        );
    }

    #[test]
    fn enhanced_packet_block_layout() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface("r1:eth0").unwrap();
        let start = w.out.len();
        w.write(&Record {
            iface: 0,
            ts_ns: 1_700_000_000_123_456_789,
            data: &[0xA1, 0xA2, 0xA3, 0xA4, 0xA5],
            dir: Direction::Inbound,
            dropped: None,
        })
        .unwrap();
        let out = w.into_inner();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            6, 0, 0, 0,                 // block type 6
            52, 0, 0, 0,                // total length
            0, 0, 0, 0,                 // interface 0
            0xFE, 0x9C, 0x97, 0x17,     // timestamp upper 32 bits: 0x17979CFE
            0x15, 0xCD, 0x85, 0x3D,     // timestamp lower 32 bits: 0x3D85CD15
            5, 0, 0, 0,                 // captured length
            5, 0, 0, 0,                 // original length
            0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0, 0, 0, // data + 3 pad
            2, 0, 4, 0, 1, 0, 0, 0,     // epb_flags: inbound
            0, 0, 0, 0,                 // opt_endofopt
            52, 0, 0, 0,                // trailing length
        ];
        assert_eq!(&out[start..], expected);
    }

    #[test]
    fn timestamp_splits_into_high_and_low_words() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface("a:b").unwrap();
        for ts in [0, 1, u64::from(u32::MAX), 1 << 32, u64::MAX] {
            w.write(&Record {
                iface: 0,
                ts_ns: ts,
                data: &[],
                dir: Direction::Outbound,
                dropped: None,
            })
            .unwrap();
        }
        let ts: Vec<u64> = parse::packets(&w.into_inner())
            .iter()
            .map(|p| p.ts_ns)
            .collect();
        assert_eq!(ts, [0, 1, u64::from(u32::MAX), 1 << 32, u64::MAX]);
    }

    #[test]
    fn direction_flags() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface("a:b").unwrap();
        for dir in [Direction::Inbound, Direction::Outbound] {
            w.write(&Record {
                iface: 0,
                ts_ns: 7,
                data: &[1, 2, 3, 4],
                dir,
                dropped: None,
            })
            .unwrap();
        }
        let flags: Vec<u32> = parse::packets(&w.into_inner())
            .iter()
            .map(|p| p.flags)
            .collect();
        assert_eq!(flags, [0b01, 0b10]);
    }

    #[test]
    fn dropped_frame_has_comment_and_dropcount() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface("r1:eth0").unwrap();
        let start = w.out.len();
        w.write(&Record {
            iface: 0,
            ts_ns: 3,
            data: &[0xEE; 4],
            dir: Direction::Outbound,
            dropped: Some("netem-loss"),
        })
        .unwrap();
        let out = w.into_inner();
        let mut expected = Vec::new();
        le(&mut expected, &[6, 84, 0, 0, 3, 4, 4]);
        expected.extend_from_slice(&[0xEE; 4]);
        expected.extend_from_slice(&[1, 0, 19, 0]); // opt_comment, 19 octets
        expected.extend_from_slice(b"dropped: netem-loss\0"); // + 1 pad
        expected.extend_from_slice(&[4, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0]); // epb_dropcount 1
        expected.extend_from_slice(&[2, 0, 4, 0, 2, 0, 0, 0]); // epb_flags: outbound
        le(&mut expected, &[0, 84]);
        assert_eq!(&out[start..], expected);
    }

    #[test]
    fn interface_statistics_block_layout() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface("r1:eth0").unwrap();
        let start = w.out.len();
        w.write_stats(0, (5 << 32) | 6, 42).unwrap();
        let out = w.into_inner();
        let mut expected = Vec::new();
        le(&mut expected, &[5, 40, 0, 5, 6]);
        expected.extend_from_slice(&[7, 0, 8, 0, 42, 0, 0, 0, 0, 0, 0, 0]); // isb_osdrop
        le(&mut expected, &[0, 40]);
        assert_eq!(&out[start..], expected);
    }

    #[test]
    fn padding_for_every_residue() {
        let mut w = Writer::new(Vec::new()).unwrap();
        w.add_interface("a:b").unwrap();
        for len in 0..9 {
            let data = vec![0xFF; len];
            let reason = "x".repeat(len);
            w.write(&Record {
                iface: 0,
                ts_ns: 0,
                data: &data,
                dir: Direction::Inbound,
                dropped: (len % 2 == 0).then_some(reason.as_str()),
            })
            .unwrap();
        }
        let out = w.into_inner();
        // parse::blocks checks both lengths of every block; the packets read back whole.
        let packets = parse::packets(&out);
        for (len, p) in packets.iter().enumerate() {
            assert_eq!(p.data, vec![0xFF; len]);
            let want = (len % 2 == 0).then(|| format!("dropped: {}", "x".repeat(len)));
            assert_eq!(p.comment, want);
        }
        assert_eq!(packets.len(), 9);
    }

    #[test]
    fn unknown_interface_is_refused() {
        let mut w = Writer::new(Vec::new()).unwrap();
        let rec = Record {
            iface: 0,
            ts_ns: 0,
            data: &[],
            dir: Direction::Inbound,
            dropped: None,
        };
        let err = w.write(&rec).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            w.write_stats(0, 0, 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            w.into_inner(),
            shb_bytes(),
            "nothing written for refused blocks"
        );
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let mut w = Writer::new(Vec::new()).unwrap();
        let name = "é".repeat(40_000); // 80,000 octets
        w.add_interface(&name).unwrap();
        let out = w.into_inner();
        let blocks = parse::blocks(&out);
        let opts = parse::options(&blocks[1].body, 8);
        assert_eq!(opts[0].1.len(), 65_534);
        assert!(std::str::from_utf8(&opts[0].1).is_ok());
        assert_eq!(cut_utf8("abc", 2), "ab");
        assert_eq!(cut_utf8("aé", 2), "a");
    }
}
