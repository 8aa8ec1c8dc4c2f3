//! IPv4 options a forwarding router writes into: Record Route and Timestamp (RFC 791 §3.1,
//! RFC 1812 §5.3.13), as Linux's ip_forward_options does.
//!
//! Record Route gets the address of the interface the datagram leaves by, while there is room.
//! Timestamp (flags 0, 1 and 3) gets a time and, for flags 1 and 3, that address; the instance
//! has no wall clock, so it writes milliseconds of its own clock with the high-order bit set,
//! which RFC 791 allows for a time not relative to midnight UT. A full timestamp option counts
//! the hop in its overflow field. Source-route options never get here: they are refused on
//! input.

use std::net::Ipv4Addr;

const END: u8 = 0;
const NOP: u8 = 1;
const RECORD_ROUTE: u8 = 7;
const TIMESTAMP: u8 = 68;

/// Update the options in `opts` for a datagram leaving from `addr` at `now_ms`. Returns true
/// when anything changed (the header checksum must then be recomputed). Malformed options are
/// left alone.
pub(crate) fn stamp(opts: &mut [u8], addr: Ipv4Addr, now_ms: u64) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            END => break,
            NOP => i += 1,
            kind => {
                let Some(&len) = opts.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > opts.len() {
                    break;
                }
                let opt = &mut opts[i..i + len];
                changed |= match kind {
                    RECORD_ROUTE => record_route(opt, addr),
                    TIMESTAMP => timestamp(opt, addr, now_ms),
                    _ => false,
                };
                i += len;
            }
        }
    }
    changed
}

/// `opt` is the whole option: type, length, pointer, data.
fn record_route(opt: &mut [u8], addr: Ipv4Addr) -> bool {
    let Some(&ptr) = opt.get(2) else { return false };
    let at = usize::from(ptr);
    if at < 4 || at + 3 > opt.len() {
        return false;
    }
    opt[at - 1..at + 3].copy_from_slice(&addr.octets());
    opt[2] = ptr + 4;
    true
}

fn timestamp(opt: &mut [u8], addr: Ipv4Addr, now_ms: u64) -> bool {
    let (Some(&ptr), Some(&oflw_flags)) = (opt.get(2), opt.get(3)) else {
        return false;
    };
    let at = usize::from(ptr);
    let flags = oflw_flags & 0x0f;
    let entry = match flags {
        0 => 4,
        1 | 3 => 8,
        _ => return false,
    };
    if at < 5 {
        return false;
    }
    let time = ((now_ms % (1 << 31)) as u32 | 0x8000_0000).to_be_bytes();
    if at + entry - 1 > opt.len() {
        // Full: count the hop in the overflow nibble, unless that would wrap.
        let overflow = oflw_flags >> 4;
        if overflow == 15 {
            return false;
        }
        opt[3] = ((overflow + 1) << 4) | flags;
        return true;
    }
    match flags {
        0 => opt[at - 1..at + 3].copy_from_slice(&time),
        1 => {
            opt[at - 1..at + 3].copy_from_slice(&addr.octets());
            opt[at + 3..at + 7].copy_from_slice(&time);
        }
        // Prespecified: only the named hop stamps.
        _ => {
            if opt[at - 1..at + 3] != addr.octets() {
                return false;
            }
            opt[at + 3..at + 7].copy_from_slice(&time);
        }
    }
    opt[2] = ptr + entry as u8;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    #[test]
    fn record_route_fills_slots_then_stops() {
        // NOP, then RR with room for two addresses.
        let mut opts = [NOP, RECORD_ROUTE, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(stamp(&mut opts, A, 0));
        assert_eq!(&opts[1..8], &[7, 11, 8, 10, 0, 0, 1]);
        assert!(stamp(&mut opts, Ipv4Addr::new(10, 0, 0, 2), 0));
        assert_eq!(&opts[3..], &[12, 10, 0, 0, 1, 10, 0, 0, 2]);
        assert!(!stamp(&mut opts, A, 0), "full");
    }

    #[test]
    fn timestamps_of_each_flavour() {
        let mut only = [TIMESTAMP, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(stamp(&mut only, A, 1000));
        assert_eq!(only[2], 9);
        assert_eq!(&only[4..8], &(1000u32 | 0x8000_0000).to_be_bytes());
        let mut with_addr = [TIMESTAMP, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(stamp(&mut with_addr, A, 7));
        assert_eq!(&with_addr[4..8], &A.octets());
        assert_eq!(with_addr[2], 13);
        assert!(stamp(&mut with_addr, A, 7), "full: overflow counted");
        assert_eq!(with_addr[3], 0x11);
        let mut prespecified = [TIMESTAMP, 12, 5, 3, 10, 0, 0, 9, 0, 0, 0, 0];
        assert!(!stamp(&mut prespecified, A, 7), "not our turn");
        prespecified[4..8].copy_from_slice(&A.octets());
        assert!(stamp(&mut prespecified, A, 7));
    }

    #[test]
    fn malformed_options_are_left_alone() {
        for opts in [
            [RECORD_ROUTE, 1, 4, 0],
            [RECORD_ROUTE, 9, 4, 0],
            [RECORD_ROUTE, 4, 2, 0],
            [TIMESTAMP, 4, 5, 2],
        ] {
            let mut o = opts;
            assert!(!stamp(&mut o, A, 0));
            assert_eq!(o, opts);
        }
    }
}
