//! BPDU encoding and decoding (802.1D-2004 clause 9): configuration, topology change
//! notification and rapid spanning tree BPDUs, inside an 802.3 frame with an LLC header
//! (DSAP 0x42, SSAP 0x42, UI) to the bridge group address 01:80:C2:00:00:00.
//!
//! [`parse`] takes a whole Ethernet frame and never panics: what is not a valid BPDU (9.3.4)
//! comes back as a [`ParseError`]. [`Bpdu::emit`] writes a whole frame, padded to 60 bytes.

use super::priority::{BridgeId, Times, Vector};

/// The bridge group address BPDUs are sent to.
pub const GROUP: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00];

/// Bytes before the BPDU: Ethernet header (14) and LLC (3).
const HEADER: usize = 17;
/// The shortest Ethernet frame, without the FCS.
const MIN_FRAME: usize = 60;

/// Flag bits (9.3.3).
pub mod flags {
    /// Topology change.
    pub const TC: u8 = 0x01;
    /// Proposal (RST only).
    pub const PROPOSAL: u8 = 0x02;
    /// Port role, two bits (RST only).
    pub const ROLE_MASK: u8 = 0x0c;
    /// Learning (RST only).
    pub const LEARNING: u8 = 0x10;
    /// Forwarding (RST only).
    pub const FORWARDING: u8 = 0x20;
    /// Agreement (RST only).
    pub const AGREEMENT: u8 = 0x40;
    /// Topology change acknowledgment (configuration BPDUs).
    pub const TC_ACK: u8 = 0x80;
}

/// Port role as encoded in an RST BPDU's flags (9.2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BpduRole {
    /// 0: unknown; such a BPDU is handled as a configuration BPDU.
    Unknown,
    /// 1: Alternate or Backup.
    AlternateBackup,
    /// 2: Root.
    Root,
    /// 3: Designated.
    Designated,
}

impl BpduRole {
    fn bits(self) -> u8 {
        (self as u8) << 2
    }

    fn from_flags(f: u8) -> BpduRole {
        match (f & flags::ROLE_MASK) >> 2 {
            1 => BpduRole::AlternateBackup,
            2 => BpduRole::Root,
            3 => BpduRole::Designated,
            _ => BpduRole::Unknown,
        }
    }
}

/// The kind of a BPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 802.1D configuration BPDU (type 0x00, 35 bytes).
    Config,
    /// Topology change notification (type 0x80, 4 bytes).
    Tcn,
    /// Rapid spanning tree BPDU (type 0x02, version 2 or more, 36 bytes).
    Rst,
}

/// A decoded BPDU. Times are in 1/256 s, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bpdu {
    /// Its kind.
    pub kind: Kind,
    /// Protocol version identifier (0 for Config and TCN, 2 for RST as sent).
    pub version: u8,
    /// Flags (see [`flags`]).
    pub flags: u8,
    /// Root, root path cost, designated bridge and port.
    pub vector: Vector,
    /// Message age, max age, hello time, forward delay, in 1/256 s.
    pub times: [u16; 4],
}

/// Why a frame is not a BPDU we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not to the bridge group address, not 802.3 with LLC 42 42 03, or a length field
    /// beyond the frame.
    NotBpdu,
    /// Protocol identifier not zero.
    Protocol,
    /// Shorter than its type requires.
    Truncated,
    /// An unknown BPDU type.
    Type,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// Decode the BPDU in a whole Ethernet frame (9.3.4 validation, without the checks that need
/// the receiving bridge's identity).
pub fn parse(frame: &[u8]) -> Result<Bpdu, ParseError> {
    if frame.len() < HEADER + 4 || frame[..6] != GROUP {
        return Err(ParseError::NotBpdu);
    }
    let len = usize::from(be16(frame, 12));
    if !(7..=1500).contains(&len) || 14 + len > frame.len() || frame[14..17] != [0x42, 0x42, 0x03] {
        return Err(ParseError::NotBpdu);
    }
    let b = &frame[HEADER..14 + len];
    if be16(b, 0) != 0 {
        return Err(ParseError::Protocol);
    }
    let (version, kind) = (b[2], b[3]);
    let kind = match kind {
        0x80 => {
            return Ok(Bpdu {
                kind: Kind::Tcn,
                version,
                flags: 0,
                vector: Vector::default(),
                times: [0; 4],
            });
        }
        0x00 if b.len() >= 35 => Kind::Config,
        0x02 if b.len() >= 36 && version >= 2 => Kind::Rst,
        0x00 | 0x02 => return Err(ParseError::Truncated),
        _ => return Err(ParseError::Type),
    };
    let flags = b[4];
    // 9.2.9: an RST BPDU with an unknown role is handled as a configuration BPDU.
    let kind = if kind == Kind::Rst && BpduRole::from_flags(flags) == BpduRole::Unknown {
        Kind::Config
    } else {
        kind
    };
    Ok(Bpdu {
        kind,
        version,
        flags,
        vector: Vector {
            root: BridgeId(be64(b, 5)),
            cost: be32(b, 13),
            bridge: BridgeId(be64(b, 17)),
            port: be16(b, 25),
        },
        times: [be16(b, 27), be16(b, 29), be16(b, 31), be16(b, 33)],
    })
}

impl Bpdu {
    /// A configuration or RST BPDU carrying `vector` and `times` (whole seconds).
    pub fn new(kind: Kind, flags: u8, vector: Vector, times: Times) -> Bpdu {
        let t = |s: u16| s.saturating_mul(256);
        Bpdu {
            kind,
            version: if kind == Kind::Rst { 2 } else { 0 },
            flags,
            vector,
            times: [
                t(times.message_age),
                t(times.max_age),
                t(times.hello),
                t(times.forward_delay),
            ],
        }
    }

    /// A topology change notification.
    pub fn tcn() -> Bpdu {
        Bpdu {
            kind: Kind::Tcn,
            version: 0,
            flags: 0,
            vector: Vector::default(),
            times: [0; 4],
        }
    }

    /// The times, rounded to whole seconds.
    pub fn times(&self) -> Times {
        let s = |v: u16| v.saturating_add(128) / 256;
        Times {
            message_age: s(self.times[0]),
            max_age: s(self.times[1]),
            hello: s(self.times[2]),
            forward_delay: s(self.times[3]),
        }
    }

    /// The port role an RST BPDU conveys; a configuration BPDU conveys Designated.
    pub fn role(&self) -> BpduRole {
        match self.kind {
            Kind::Config => BpduRole::Designated,
            Kind::Rst => BpduRole::from_flags(self.flags),
            Kind::Tcn => BpduRole::Unknown,
        }
    }

    /// Set the role bits of an RST BPDU.
    pub fn with_role(mut self, role: BpduRole) -> Bpdu {
        self.flags = (self.flags & !flags::ROLE_MASK) | role.bits();
        self
    }

    /// Whether flag bit(s) `f` are set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Write the whole frame from `src` into `buf`; its length, or `None` if `buf` is
    /// shorter than 60 bytes.
    pub fn emit(&self, src: [u8; 6], buf: &mut [u8]) -> Option<usize> {
        let body = match self.kind {
            Kind::Tcn => 4,
            Kind::Config => 35,
            Kind::Rst => 36,
        };
        let frame = buf.get_mut(..MIN_FRAME)?;
        frame.fill(0);
        frame[..6].copy_from_slice(&GROUP);
        frame[6..12].copy_from_slice(&src);
        frame[12..14].copy_from_slice(&(3 + body as u16).to_be_bytes());
        frame[14..17].copy_from_slice(&[0x42, 0x42, 0x03]);
        let b = &mut frame[HEADER..];
        b[2] = self.version;
        b[3] = match self.kind {
            Kind::Config => 0x00,
            Kind::Rst => 0x02,
            Kind::Tcn => 0x80,
        };
        if self.kind != Kind::Tcn {
            b[4] = self.flags;
            b[5..13].copy_from_slice(&self.vector.root.0.to_be_bytes());
            b[13..17].copy_from_slice(&self.vector.cost.to_be_bytes());
            b[17..25].copy_from_slice(&self.vector.bridge.0.to_be_bytes());
            b[25..27].copy_from_slice(&self.vector.port.to_be_bytes());
            for (i, t) in self.times.iter().enumerate() {
                b[27 + 2 * i..29 + 2 * i].copy_from_slice(&t.to_be_bytes());
            }
            // b[35] (RST): Version 1 Length, zero.
        }
        Some(MIN_FRAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration BPDU as the Linux bridge sends it: root 8000.02000000000a, cost 0,
    /// port 8001, hello 2 s, max age 20 s, forward delay 4 s.
    const LINUX_CONFIG: [u8; 60] = [
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x26, 0x42,
        0x42, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a,
        0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x80, 0x01, 0x00,
        0x00, 0x14, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn decodes_a_linux_configuration_bpdu() {
        let b = parse(&LINUX_CONFIG).unwrap();
        assert_eq!(b.kind, Kind::Config);
        assert_eq!(b.vector.root.to_string(), "8000.02000000000a");
        assert_eq!(b.vector.port, 0x8001);
        let t = b.times();
        assert_eq!(
            (t.message_age, t.max_age, t.hello, t.forward_delay),
            (0, 20, 2, 4)
        );
        assert_eq!(b.role(), BpduRole::Designated);
        let mut out = [0u8; 64];
        let n = b.emit([2, 0, 0, 0, 0, 0x0a], &mut out).unwrap();
        assert_eq!(&out[..n], &LINUX_CONFIG[..]);
    }

    #[test]
    fn round_trips_every_kind() {
        let v = Vector {
            root: BridgeId::new(0x1000, [2, 0, 0, 0, 0, 1]),
            cost: 20000,
            bridge: BridgeId::new(0x8000, [2, 0, 0, 0, 0, 2]),
            port: 0x8003,
        };
        let t = Times {
            message_age: 1,
            max_age: 20,
            hello: 2,
            forward_delay: 15,
        };
        for b in [
            Bpdu::new(Kind::Config, flags::TC | flags::TC_ACK, v, t),
            Bpdu::new(Kind::Rst, flags::PROPOSAL | flags::AGREEMENT, v, t)
                .with_role(BpduRole::Designated),
            Bpdu::tcn(),
        ] {
            let mut buf = [0u8; 60];
            let n = b.emit([2, 0, 0, 0, 0, 2], &mut buf).unwrap();
            assert_eq!(n, 60);
            assert_eq!(parse(&buf[..n]), Ok(b));
            assert_eq!(
                b.times(),
                if b.kind == Kind::Tcn {
                    Times::default()
                } else {
                    t
                }
            );
        }
        assert_eq!(Bpdu::tcn().emit([0; 6], &mut [0u8; 59]), None);
    }

    #[test]
    fn refuses_what_is_not_a_bpdu() {
        let mut f = LINUX_CONFIG;
        f[0] = 0xff;
        assert_eq!(parse(&f), Err(ParseError::NotBpdu));
        let mut f = LINUX_CONFIG;
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(parse(&f), Err(ParseError::NotBpdu));
        let mut f = LINUX_CONFIG;
        f[13] = 20; // LLC + 17 bytes: a truncated configuration BPDU
        assert_eq!(parse(&f), Err(ParseError::Truncated));
        let mut f = LINUX_CONFIG;
        f[17] = 1;
        assert_eq!(parse(&f), Err(ParseError::Protocol));
        let mut f = LINUX_CONFIG;
        f[20] = 0x55;
        assert_eq!(parse(&f), Err(ParseError::Type));
        assert_eq!(parse(&LINUX_CONFIG[..20]), Err(ParseError::NotBpdu));
    }

    #[test]
    fn unknown_rst_role_reads_as_configuration() {
        let mut f = LINUX_CONFIG;
        f[13] = 0x27;
        f[19] = 2;
        f[20] = 0x02;
        assert_eq!(parse(&f).unwrap().kind, Kind::Config);
        f[21] = 0x0c;
        assert_eq!(parse(&f).unwrap().kind, Kind::Rst);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let mut f = bytes.clone();
            if f.len() >= 17 {
                f[..6].copy_from_slice(&GROUP);
                f[14..17].copy_from_slice(&[0x42, 0x42, 0x03]);
            }
            for frame in [&bytes[..], &f[..]] {
                if let Ok(b) = parse(frame) {
                    let mut buf = [0u8; 60];
                    let n = b.emit([2; 6], &mut buf).unwrap();
                    let again = parse(&buf[..n]).unwrap();
                    proptest::prop_assert_eq!(again.kind, b.kind);
                    if b.kind != Kind::Tcn {
                        proptest::prop_assert_eq!(again, b);
                    }
                }
            }
        }
    }
}
