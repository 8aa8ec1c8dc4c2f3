//! Reading back the Enhanced Packet Blocks of a little-endian pcapng capture that shoal wrote:
//! interface, timestamp, direction and data of each packet. Enough for benches that measure
//! links from their captures; anything unexpected ends the walk.

/// A packet as captured.
pub struct Packet {
    /// Interface id (the order the capture declared them).
    pub iface: u32,
    /// Nanoseconds (shoal writes if_tsresol 9).
    pub ts_ns: u64,
    /// Captured leaving the interface (else arriving).
    pub outbound: bool,
    /// Carries a comment (shoal comments the frames a link dropped).
    pub dropped: bool,
    pub data: Vec<u8>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The packets of a capture, in file order.
pub fn packets(file: &[u8]) -> Vec<Packet> {
    const EPB: u32 = 6;
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(kind), Some(len)) = (u32_at(file, at), u32_at(file, at + 4)) {
        let len = len as usize;
        let Some(body) = file.get(at + 8..at + len.saturating_sub(4)) else {
            break;
        };
        if kind == EPB
            && let Some(p) = packet(body)
        {
            out.push(p);
        }
        if len < 12 {
            break;
        }
        at += len;
    }
    out
}

fn packet(body: &[u8]) -> Option<Packet> {
    let caplen = u32_at(body, 12)? as usize;
    let data = body.get(20..20 + caplen)?.to_vec();
    let mut opt = 20 + caplen.next_multiple_of(4);
    let (mut flags, mut dropped) = (0, false);
    while let (Some(code), Some(olen)) = (body.get(opt..opt + 2), body.get(opt + 2..opt + 4)) {
        let code = u16::from_le_bytes([code[0], code[1]]);
        let olen = usize::from(u16::from_le_bytes([olen[0], olen[1]]));
        match code {
            0 => break,
            1 => dropped = true,
            2 => flags = u32_at(body, opt + 4)?,
            _ => {}
        }
        opt += 4 + olen.next_multiple_of(4);
    }
    Some(Packet {
        iface: u32_at(body, 0)?,
        ts_ns: u64::from(u32_at(body, 4)?) << 32 | u64::from(u32_at(body, 8)?),
        outbound: flags & 3 == 2,
        dropped,
        data,
    })
}
