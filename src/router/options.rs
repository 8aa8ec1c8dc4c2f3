//! IPv4 options (RFC 791 §3.1, RFC 1812 §4.2.2.1, §5.2.4), handled as Linux's ip_options.c
//! handles them, so that hosts see the same bytes.
//!
//! - [`compile`] checks a received header's options after its route is known, as
//!   `ip_options_compile` does, and fills them in on the way: Record Route gets the address the
//!   router would answer the source from (later replaced by the egress address when the packet
//!   is forwarded), Timestamp gets a time (and that address, or only for a prespecified address
//!   of the router's), a full Timestamp counts the hop in its overflow nibble, everything after
//!   End of Option List is zeroed. A malformed option — a length below 2 or past the options, a
//!   pointer below its minimum or inside a slot, two Record Routes, Timestamps or source routes,
//!   an overflow that would wrap, a Router Alert shorter than 4, any CIPSO option (no CIPSO
//!   domain is configured) — fails with the offset Linux's Parameter Problem points at.
//! - [`echo`] is `ip_options_echo`: the options an answer to the packet carries (ICMP errors,
//!   echo and timestamp replies, TCP resets): Record Route and Timestamp copied with room taken
//!   for one more entry, a recorded source route reversed, CIPSO copied. [`build`] fills that
//!   room in the answer's header.
//! - [`forward`] writes the egress address into Record Route (`ip_forward_options`);
//!   [`fragment`] turns the options that are not copied into fragments into No Operation in
//!   every fragment after the first, keeping the header length (`ip_options_fragment`).
//!
//! Timestamps carry the instance's clock in milliseconds with the high-order bit set, which
//! RFC 791 allows for a time that is not milliseconds since midnight UT: the instance has no
//! wall clock. Linux writes milliseconds since midnight UT.

use std::net::Ipv4Addr;

use crate::time::Instant;

const END: u8 = 0;
const NOP: u8 = 1;
const RR: u8 = 7;
const TS: u8 = 68;
const LSRR: u8 = 131;
const SSRR: u8 = 137;
const RA: u8 = 148;
const CIPSO: u8 = 134;
const TS_ONLY: u8 = 0;
const TS_AND_ADDR: u8 = 1;
const TS_PRESPEC: u8 = 3;
/// Bytes of options a header can hold.
pub(crate) const MAX_LEN: usize = 40;

/// What compiling found: offsets from the start of the IPv4 header (0: absent), as Linux's
/// `struct ip_options` keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Compiled {
    /// Bytes of options (IHL × 4 − 20).
    pub optlen: u8,
    pub srr: u8,
    pub rr: u8,
    pub ts: u8,
    pub cipso: u8,
    pub router_alert: u8,
    pub is_strictroute: bool,
    pub rr_needaddr: bool,
    pub ts_needaddr: bool,
    pub ts_needtime: bool,
    /// The header was changed; its checksum is stale.
    pub changed: bool,
    /// For an echoed source route: the first hop.
    pub faddr: [u8; 4],
}

/// What compiling needs to know about the router.
pub(crate) trait Context {
    /// The address the router answers this packet's source from (`fib_compute_spec_dst`).
    fn spec_dst(&mut self) -> Ipv4Addr;
    /// Whether `a` is not a plain unicast address to the router (`inet_addr_type` other than
    /// RTN_UNICAST: one of its addresses, a broadcast or multicast address).
    fn not_unicast(&self, a: Ipv4Addr) -> bool;
    /// The time to stamp.
    fn now(&self) -> Instant;
}

/// The time a Timestamp option gets: milliseconds of the instance's clock, high bit set.
pub(crate) fn timestamp(now: Instant) -> [u8; 4] {
    (((now.as_nanos() / 1_000_000) % (1 << 31)) as u32 | 0x8000_0000).to_be_bytes()
}

fn addr_at(h: &[u8], at: usize) -> Ipv4Addr {
    h.get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from)
}

fn put(h: &mut [u8], at: usize, bytes: [u8; 4]) {
    if let Some(d) = h.get_mut(at..at + 4) {
        d.copy_from_slice(&bytes);
    }
}

/// Check and fill in the options of the received header `h` (the whole header, options
/// included). On a malformed option: the offset (from the header's start) a Parameter Problem
/// points at, and what was compiled before it (which an answer still echoes).
pub(crate) fn compile(h: &mut [u8], ctx: &mut impl Context) -> Result<Compiled, (u8, Compiled)> {
    let end = h.len();
    let mut opt = Compiled {
        optlen: end.saturating_sub(20) as u8,
        ..Compiled::default()
    };
    let mut spec: Option<Ipv4Addr> = None;
    let mut spec_dst = |ctx: &mut dyn FnMut() -> Ipv4Addr| *spec.get_or_insert_with(ctx);
    let mut i = 20;
    while i < end {
        let l = end - i;
        match h[i] {
            END => {
                for b in &mut h[i + 1..] {
                    if *b != END {
                        *b = END;
                        opt.changed = true;
                    }
                }
                return Ok(opt);
            }
            NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let at = |off: usize| (i + off) as u8;
        if l < 2 {
            return Err((at(0), opt));
        }
        let optlen = usize::from(h[i + 1]);
        if optlen < 2 || optlen > l {
            return Err((at(0), opt));
        }
        match h[i] {
            LSRR | SSRR => {
                if optlen < 3 {
                    return Err((at(1), opt));
                }
                if h[i + 2] < 4 {
                    return Err((at(2), opt));
                }
                if opt.srr != 0 {
                    return Err((at(0), opt));
                }
                opt.is_strictroute = h[i] == SSRR;
                opt.srr = at(0);
            }
            RR => {
                if opt.rr != 0 {
                    return Err((at(0), opt));
                }
                if optlen < 3 {
                    return Err((at(1), opt));
                }
                let ptr = usize::from(h[i + 2]);
                if ptr < 4 {
                    return Err((at(2), opt));
                }
                if ptr <= optlen {
                    if ptr + 3 > optlen {
                        return Err((at(2), opt));
                    }
                    let a = spec_dst(&mut || ctx.spec_dst());
                    put(h, i + ptr - 1, a.octets());
                    opt.changed = true;
                    h[i + 2] += 4;
                    opt.rr_needaddr = true;
                }
                opt.rr = at(0);
            }
            TS => {
                if opt.ts != 0 {
                    return Err((at(0), opt));
                }
                if optlen < 4 {
                    return Err((at(1), opt));
                }
                let ptr = usize::from(h[i + 2]);
                if ptr < 5 {
                    return Err((at(2), opt));
                }
                let flags = h[i + 3] & 0x0f;
                if ptr <= optlen {
                    if ptr + 3 > optlen {
                        return Err((at(2), opt));
                    }
                    let mut time_at = None;
                    match flags {
                        TS_ONLY => {
                            time_at = Some(i + ptr - 1);
                            opt.ts_needtime = true;
                            h[i + 2] += 4;
                        }
                        TS_AND_ADDR => {
                            if ptr + 7 > optlen {
                                return Err((at(2), opt));
                            }
                            let a = spec_dst(&mut || ctx.spec_dst());
                            put(h, i + ptr - 1, a.octets());
                            time_at = Some(i + ptr + 3);
                            opt.ts_needaddr = true;
                            opt.ts_needtime = true;
                            h[i + 2] += 8;
                        }
                        TS_PRESPEC => {
                            if ptr + 7 > optlen {
                                return Err((at(2), opt));
                            }
                            if ctx.not_unicast(addr_at(h, i + ptr - 1)) {
                                time_at = Some(i + ptr + 3);
                                opt.ts_needtime = true;
                                h[i + 2] += 8;
                            }
                        }
                        // Received with another flag value: left alone.
                        _ => {}
                    }
                    if let Some(t) = time_at {
                        put(h, t, timestamp(ctx.now()));
                        opt.changed = true;
                    }
                } else if flags != TS_PRESPEC {
                    let overflow = h[i + 3] >> 4;
                    if overflow == 15 {
                        return Err((at(3), opt));
                    }
                    h[i + 3] = flags | ((overflow + 1) << 4);
                    opt.changed = true;
                }
                opt.ts = at(0);
            }
            RA => {
                if optlen < 4 {
                    return Err((at(1), opt));
                }
                if h[i + 2] == 0 && h[i + 3] == 0 {
                    opt.router_alert = at(0);
                }
            }
            CIPSO => {
                if opt.cipso != 0 {
                    return Err((at(0), opt));
                }
                opt.cipso = at(0);
                // cipso_v4_validate with no domain of interpretation configured.
                return Err((at(if optlen < 8 { 1 } else { 2 }), opt));
            }
            // Security, stream identifier and unknown options are ignored on receipt.
            _ => {}
        }
        i += optlen;
    }
    Ok(opt)
}

/// The options an answer to the packet with header `h` (compiled as `sopt`) carries, and where
/// they need filling in; `Err` when there is no room to answer (Linux then sends nothing).
/// `daddr` is the address the router answers from, `not_unicast` as in [`Context`].
pub(crate) fn echo(
    h: &[u8],
    sopt: &Compiled,
    daddr: Ipv4Addr,
    not_unicast: impl Fn(Ipv4Addr) -> bool,
) -> Result<([u8; MAX_LEN], Compiled), ()> {
    let mut out = [0u8; MAX_LEN];
    let mut dopt = Compiled::default();
    let mut n = 0usize;
    let get = |at: u8, k: usize| usize::from(*h.get(usize::from(at) + k).unwrap_or(&0));
    let copy = |out: &mut [u8; MAX_LEN], n: usize, at: u8, len: usize| {
        let from = usize::from(at);
        if let (Some(src), Some(dst)) = (h.get(from..from + len), out.get_mut(n..n + len)) {
            dst.copy_from_slice(src);
        }
    };
    if sopt.rr != 0 {
        let (optlen, soffset) = (get(sopt.rr, 1), get(sopt.rr, 2));
        dopt.rr = (n + 20) as u8;
        copy(&mut out, n, sopt.rr, optlen);
        if sopt.rr_needaddr && soffset <= optlen {
            if soffset + 3 > optlen {
                return Err(());
            }
            out[n + 2] = (soffset + 4) as u8;
            dopt.rr_needaddr = true;
        }
        n += optlen;
    }
    if sopt.ts != 0 {
        let (optlen, mut soffset) = (get(sopt.ts, 1), get(sopt.ts, 2));
        dopt.ts = (n + 20) as u8;
        copy(&mut out, n, sopt.ts, optlen);
        if soffset <= optlen {
            if sopt.ts_needaddr {
                if soffset + 3 > optlen {
                    return Err(());
                }
                dopt.ts_needaddr = true;
                soffset += 4;
            }
            if sopt.ts_needtime {
                if soffset + 3 > optlen {
                    return Err(());
                }
                if out[n + 3] & 0x0f != TS_PRESPEC {
                    dopt.ts_needtime = true;
                    soffset += 4;
                } else if soffset + 7 <= optlen && not_unicast(addr_at(&out[n..], soffset - 1)) {
                    dopt.ts_needtime = true;
                    soffset += 8;
                }
            }
            out[n + 2] = soffset as u8;
        }
        n += optlen;
    }
    if sopt.srr != 0 {
        let start = usize::from(sopt.srr);
        let optlen = get(sopt.srr, 1);
        let mut soffset = get(sopt.srr, 2);
        let mut doffset = 0usize;
        if soffset > optlen {
            soffset = optlen + 1;
        }
        soffset = soffset.saturating_sub(4);
        if soffset > 3 {
            dopt.faddr = addr_at(h, start + soffset - 1).octets();
            soffset -= 4;
            doffset = 4;
            while soffset > 3 {
                let a = addr_at(h, start + soffset - 1).octets();
                if let Some(d) = out.get_mut(n + doffset - 1..n + doffset + 3) {
                    d.copy_from_slice(&a);
                }
                soffset -= 4;
                doffset += 4;
            }
            // RFC 1812 asks to repair a route that names the source itself.
            if h.get(12..16) == h.get(start + soffset + 3..start + soffset + 7) {
                doffset -= 4;
            }
        }
        if doffset > 3 && n + doffset + 3 <= MAX_LEN {
            out[n] = h[start];
            out[n + 1] = (doffset + 3) as u8;
            out[n + 2] = 4;
            dopt.srr = (n + 20) as u8;
            dopt.is_strictroute = sopt.is_strictroute;
            n += doffset + 3;
        }
    }
    if sopt.cipso != 0 {
        let optlen = get(sopt.cipso, 1);
        dopt.cipso = (n + 20) as u8;
        copy(&mut out, n, sopt.cipso, optlen);
        n += optlen;
    }
    let _ = daddr;
    let n = n.min(MAX_LEN);
    dopt.optlen = n.next_multiple_of(4).min(MAX_LEN) as u8;
    Ok((out, dopt))
}

/// Fill in an answer's header `h` (options as [`echo`] made them): the answer's source into
/// Record Route and Timestamp, the time, and `daddr` at the end of a reversed source route.
pub(crate) fn build(h: &mut [u8], dopt: &Compiled, saddr: Ipv4Addr, daddr: Ipv4Addr, now: Instant) {
    let at = |o: u8, k: usize| usize::from(o) + k;
    if dopt.srr != 0 {
        let len = usize::from(*h.get(at(dopt.srr, 1)).unwrap_or(&0));
        put(h, at(dopt.srr, len).wrapping_sub(4), daddr.octets());
    }
    if dopt.rr_needaddr {
        let ptr = usize::from(*h.get(at(dopt.rr, 2)).unwrap_or(&0));
        put(h, at(dopt.rr, ptr).wrapping_sub(5), saddr.octets());
    }
    let ptr = usize::from(*h.get(at(dopt.ts, 2)).unwrap_or(&0));
    if dopt.ts_needaddr {
        put(h, at(dopt.ts, ptr).wrapping_sub(9), saddr.octets());
    }
    if dopt.ts_needtime {
        put(h, at(dopt.ts, ptr).wrapping_sub(5), timestamp(now));
    }
}

/// A forwarded packet's Record Route gets the address it leaves from (`ip_forward_options`).
/// Returns whether the header changed (compiling may have changed it already).
pub(crate) fn forward(h: &mut [u8], opt: &Compiled, egress_addr: Ipv4Addr) -> bool {
    if opt.rr_needaddr {
        let ptr = usize::from(*h.get(usize::from(opt.rr) + 2).unwrap_or(&0));
        put(
            h,
            (usize::from(opt.rr) + ptr).wrapping_sub(5),
            egress_addr.octets(),
        );
        return true;
    }
    opt.changed
}

/// In a fragment after the first, options that are not copied become No Operation
/// (`ip_options_fragment`); `opts` is the options area.
pub(crate) fn fragment(opts: &mut [u8]) {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            END => return,
            NOP => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1).unwrap_or(&0));
                if len < 2 || len > opts.len() - i {
                    return;
                }
                if kind & 0x80 == 0 {
                    opts[i..i + len].fill(NOP);
                }
                i += len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const FAR: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);

    struct Ctx;
    impl Context for Ctx {
        fn spec_dst(&mut self) -> Ipv4Addr {
            US
        }
        fn not_unicast(&self, a: Ipv4Addr) -> bool {
            a == US || a == FAR
        }
        fn now(&self) -> Instant {
            Instant::from_millis(1000)
        }
    }

    fn header(opts: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[0] = 0x40 | ((20 + opts.len()) / 4) as u8;
        h[12..16].copy_from_slice(&[10, 100, 0, 1]);
        h.extend_from_slice(opts);
        h
    }

    fn pointer(opts: &[u8]) -> Option<u8> {
        compile(&mut header(opts), &mut Ctx).err().map(|(p, _)| p)
    }

    /// The pointers Linux 6.18's Parameter Problems carried for these options (the parity
    /// harness's option classes).
    #[test]
    fn malformed_options_point_where_linux_points() {
        assert_eq!(pointer(&[7, 2, 0, 0]), Some(21), "RR length 2");
        assert_eq!(pointer(&[7, 1, 0, 0]), Some(20), "length below 2");
        assert_eq!(pointer(&[7, 0, 0, 0]), Some(20));
        assert_eq!(
            pointer(&[7, 12, 4, 0, 0, 0, 0, 0]),
            Some(20),
            "past the options"
        );
        assert_eq!(pointer(&[7, 7, 3, 0, 0, 0, 0, 0]), Some(22), "pointer 3");
        assert_eq!(
            pointer(&[7, 9, 8, 1, 2, 3, 4, 0, 0, 0, 0, 0]),
            Some(22),
            "inside a slot"
        );
        let twice = [7, 7, 4, 0, 0, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0, 0];
        assert_eq!(pointer(&twice), Some(27));
        assert_eq!(pointer(&[68, 3, 5, 0]), Some(21), "TS length 3");
        assert_eq!(
            pointer(&[68, 8, 4, 0, 0, 0, 0, 0]),
            Some(22),
            "TS pointer 4"
        );
        assert_eq!(
            pointer(&[68, 8, 5, 1, 0, 0, 0, 0]),
            Some(22),
            "no room for address"
        );
        assert_eq!(
            pointer(&[68, 8, 9, 0xf0, 0, 0, 0, 0]),
            Some(23),
            "overflow wraps"
        );
        assert_eq!(pointer(&[131, 2, 0, 0]), Some(21));
        assert_eq!(pointer(&[137, 7, 0, 0, 0, 0, 0, 0]), Some(22));
        assert_eq!(pointer(&[148, 3, 0, 0]), Some(21), "router alert length 3");
        assert_eq!(
            pointer(&[134, 10, 0, 0, 0, 1, 1, 4, 0, 0, 0, 0]),
            Some(22),
            "CIPSO"
        );
        assert_eq!(pointer(&[134, 2, 0, 0]), Some(21));
        assert_eq!(pointer(&[1, 1, 1, 7]), Some(23), "a kind on the last byte");
        // Well formed, or ignored on receipt.
        for ok in [
            &[1u8, 1, 1, 0][..],
            &[130, 4, 0, 0],
            &[25, 4, 0, 0],
            &[148, 4, 0, 0],
            &[68, 12, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0],
            &[68, 8, 9, 0, 0, 0, 0, 0],
            &[7, 7, 40, 0, 0, 0, 0, 0],
            &[7, 11, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(pointer(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn compiling_fills_record_route_and_timestamps_and_clears_after_end() {
        let mut h = header(&[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let c = compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(&h[20..28], &[7, 11, 8, 10, 0, 0, 1, 0]);
        assert!(c.rr_needaddr && c.changed && c.rr == 20);
        // Forwarding replaces the recorded address with the egress one.
        assert!(forward(&mut h, &c, FAR));
        assert_eq!(&h[23..27], &FAR.octets());

        let mut h = header(&[0, 0x55, 0x66, 0x77]);
        let c = compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(&h[20..], &[0, 0, 0, 0]);
        assert!(c.changed);

        let mut h = header(&[68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(&h[24..28], &US.octets());
        assert_eq!(&h[28..32], &timestamp(Instant::from_millis(1000)));
        assert_eq!(h[22], 13);

        // Prespecified: only an address of ours (not a plain unicast) is stamped.
        let mut h = header(&[68, 12, 5, 3, 10, 2, 0, 2, 0, 0, 0, 0]);
        compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(h[22], 5);
        let mut h = header(&[68, 12, 5, 3, 10, 9, 0, 1, 0, 0, 0, 0]);
        compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(h[22], 13);

        // Full: the overflow nibble counts the hop; a full prespecified list does not.
        let mut h = header(&[68, 8, 9, 0x20, 0, 0, 0, 0]);
        compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(h[23], 0x30);
        let mut h = header(&[68, 12, 13, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
        compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(h[23], 3);
    }

    /// Linux 6.18's port unreachable for a datagram with `7 11 4` (two empty slots) carried
    /// `07 0b 0c 0a010001 0a010001 00`: the slot compiling filled, and one more for the answer.
    #[test]
    fn answers_echo_record_route_with_room_for_themselves() {
        let mut h = header(&[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let c = compile(&mut h, &mut Ctx).unwrap();
        let (opts, dopt) = echo(&h, &c, US, |a| a == US).unwrap();
        assert_eq!(dopt.optlen, 12);
        let mut reply = header(&opts[..12]);
        build(
            &mut reply,
            &dopt,
            US,
            Ipv4Addr::new(10, 100, 0, 1),
            Instant::ZERO,
        );
        assert_eq!(&reply[20..], &[7, 11, 12, 10, 0, 0, 1, 10, 0, 0, 1, 0]);

        // A full Record Route is echoed as it is; options after End are not.
        let mut h = header(&[7, 7, 8, 1, 2, 3, 4, 0]);
        let c = compile(&mut h, &mut Ctx).unwrap();
        let (opts, dopt) = echo(&h, &c, US, |_| false).unwrap();
        assert_eq!(
            (&opts[..8], dopt.optlen),
            (&[7, 7, 8, 1, 2, 3, 4, 0][..], 8)
        );

        // Security options are not echoed.
        let mut h = header(&[130, 4, 0, 0]);
        let c = compile(&mut h, &mut Ctx).unwrap();
        assert_eq!(echo(&h, &c, US, |_| false).unwrap().1.optlen, 0);
    }

    #[test]
    fn later_fragments_get_no_operation_for_options_not_copied() {
        let mut opts = [130, 4, 0, 0, 7, 7, 8, 1, 2, 3, 4, 0, 0, 0, 0, 0];
        fragment(&mut opts);
        assert_eq!(opts, [130, 4, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    }
}
