//! Frames built byte by byte, malformed ones included: Ethernet (with 802.1Q tags), IPv4 with
//! any field and any options, ICMP, UDP, TCP and ARP. Checksums are right unless a field says
//! otherwise, so that a malformed frame is malformed in exactly one way.

use std::net::Ipv4Addr;

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];

/// RFC 1071 sum of `data` folded and complemented.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

pub fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// An Ethernet frame: `tags` are (TPID, TCI) pairs written before the EtherType.
pub fn eth(dst: Mac, src: Mac, tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet, each field settable; `bytes` fills in what is left `None`.
#[derive(Debug, Clone)]
pub struct Ip {
    pub version: u8,
    pub ihl: Option<u8>,
    pub tos: u8,
    pub total_len: Option<u16>,
    pub id: u16,
    /// The three flag bits (reserved, DF, MF) as in the header.
    pub flags: u8,
    /// Fragment offset in bytes (a multiple of 8 unless testing).
    pub frag_off: u16,
    pub ttl: u8,
    pub proto: u8,
    pub checksum: Option<u16>,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

pub const DF: u8 = 0b010;
pub const MF: u8 = 0b001;
pub const EVIL: u8 = 0b100;

impl Ip {
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: Vec<u8>) -> Ip {
        Ip {
            version: 4,
            ihl: None,
            tos: 0,
            total_len: None,
            id: 0x1234,
            flags: 0,
            frag_off: 0,
            ttl: 64,
            proto,
            checksum: None,
            src,
            dst,
            options: Vec::new(),
            payload,
        }
    }

    pub fn header(&self) -> Vec<u8> {
        let ihl = self
            .ihl
            .unwrap_or(((20 + self.options.len()).div_ceil(4)) as u8);
        let mut h = vec![0u8; 20];
        h[0] = (self.version << 4) | (ihl & 0x0f);
        h[1] = self.tos;
        let total = self
            .total_len
            .unwrap_or((20 + self.options.len() + self.payload.len()) as u16);
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&self.id.to_be_bytes());
        let fo = (u16::from(self.flags) << 13) | ((self.frag_off >> 3) & 0x1fff);
        h[6..8].copy_from_slice(&fo.to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.proto;
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        h.extend_from_slice(&self.options);
        while !h.len().is_multiple_of(4) {
            h.push(0);
        }
        let sum = self.checksum.unwrap_or_else(|| {
            let covered = (usize::from(ihl) * 4).clamp(20, h.len());
            checksum(&h[..covered])
        });
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.header();
        b.extend_from_slice(&self.payload);
        b
    }
}

/// An ICMP message: type, code, the four bytes after the checksum, data; checksum filled.
pub fn icmp(kind: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub fn echo(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&ident.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    icmp(8, 0, rest, data)
}

fn pseudo(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    sum(&p, 0)
}

/// A UDP datagram with a correct checksum (0 means none, so a sum of 0 is sent as 0xffff).
pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let c = !fold(sum(&u, pseudo(src, dst, 17, len)));
    let c = if c == 0 { 0xffff } else { c };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A TCP segment without options, checksum filled.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + data.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(5 << 4);
    t.push(flags);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(data);
    let c = !fold(sum(&t, pseudo(src, dst, 6, t.len())));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// An ARP packet; every field given.
#[derive(Debug, Clone)]
pub struct Arp {
    pub htype: u16,
    pub ptype: u16,
    pub hlen: u8,
    pub plen: u8,
    pub op: u16,
    pub sha: Mac,
    pub spa: Ipv4Addr,
    pub tha: Mac,
    pub tpa: Ipv4Addr,
}

impl Arp {
    pub fn request(sha: Mac, spa: Ipv4Addr, tpa: Ipv4Addr) -> Arp {
        Arp {
            htype: 1,
            ptype: 0x0800,
            hlen: 6,
            plen: 4,
            op: 1,
            sha,
            spa,
            tha: [0; 6],
            tpa,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut a = Vec::with_capacity(28);
        a.extend_from_slice(&self.htype.to_be_bytes());
        a.extend_from_slice(&self.ptype.to_be_bytes());
        a.push(self.hlen);
        a.push(self.plen);
        a.extend_from_slice(&self.op.to_be_bytes());
        a.extend_from_slice(&self.sha);
        a.extend_from_slice(&self.spa.octets());
        a.extend_from_slice(&self.tha);
        a.extend_from_slice(&self.tpa.octets());
        a
    }
}

/// Cut `packet` (an IP datagram built by [`Ip`]) into fragments carrying `pieces` (payload
/// byte ranges; every start but the first a multiple of 8). The first keeps all options,
/// the others only those with the copied flag.
pub fn fragments(ip: &Ip, pieces: &[(usize, usize)]) -> Vec<Ip> {
    pieces
        .iter()
        .map(|&(from, to)| {
            let mut f = ip.clone();
            f.payload = ip.payload[from.min(ip.payload.len())..to.min(ip.payload.len())].to_vec();
            f.frag_off = ip.frag_off + from as u16;
            if to < ip.payload.len() {
                f.flags |= MF;
            }
            if from != 0 {
                f.options = copied_options(&ip.options);
            }
            f.total_len = None;
            f.ihl = None;
            f
        })
        .collect()
}

fn copied_options(opts: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1).unwrap_or(&0));
                if len < 2 || i + len > opts.len() {
                    break;
                }
                if kind & 0x80 != 0 {
                    out.extend_from_slice(&opts[i..i + len]);
                }
                i += len;
            }
        }
    }
    out
}
