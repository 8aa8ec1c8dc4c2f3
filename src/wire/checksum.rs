//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Everything here works on the ones'-complement sum of big-endian 16-bit words. [`data`],
//! [`combine`] and [`pseudo_header`] return that sum folded to 16 bits and *not* complemented, so
//! partial sums over a pseudo-header and a payload can be added with [`combine`] before the final
//! `!` that turns a sum into the value stored in a header. A header verifies when the sum over
//! it, checksum field included, is `0xffff`. [`update`] and [`update32`] patch a stored checksum
//! after one field changed, which is what lets the forwarding path decrement a TTL without
//! reading the whole header again.

use std::net::Ipv4Addr;

/// Fold a wide ones'-complement accumulator to 16 bits with end-around carries.
#[inline]
const fn fold(sum: u64) -> u16 {
    // Adding a word to itself rotated by half its width leaves, in the upper half, the
    // ones'-complement sum of the two halves: the carry out of the lower half is the end-around
    // carry. Once for 64 -> 32 bits, once for 32 -> 16. (2^32 and 2^16 are both 1 modulo
    // 2^16 - 1, so the sum modulo 0xffff is kept; the result is 0 only for an all-zero input.)
    let sum = (sum.wrapping_add(sum.rotate_left(32)) >> 32) as u32;
    (sum.wrapping_add(sum.rotate_left(16)) >> 16) as u16
}

/// Ones'-complement sum of `bytes` as big-endian 16-bit words, folded to 16 bits and not
/// complemented. An odd trailing byte is summed as if followed by a zero byte.
///
/// RFC 1071 section 2 notes that the sum is independent of byte order up to a final swap, and
/// that wider words can be summed and folded afterwards. So this adds native-endian 32-bit words
/// into a 64-bit accumulator (a loop the compiler vectorises, with no per-word carry handling)
/// and swaps once at the end.
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    // A 64-bit accumulator takes 2^32 32-bit words before it can overflow; folding per 1 GiB
    // block keeps even absurd inputs exact.
    const BLOCK: usize = 1 << 30;
    let mut total: u64 = 0;
    for block in bytes.chunks(BLOCK) {
        let words = block.chunks_exact(4);
        let mut rest = words.remainder();
        let mut acc: u64 = 0;
        for w in words {
            // `chunks_exact` makes this always `Some`; the compiler drops the check.
            if let Some(w) = w.first_chunk::<4>() {
                acc += u64::from(u32::from_ne_bytes(*w));
            }
        }
        // At most three bytes remain: a 16-bit word and/or a final odd byte padded with zero,
        // both read in native order to match the words above.
        if let Some((pair, tail)) = rest.split_first_chunk::<2>() {
            acc += u64::from(u16::from_ne_bytes(*pair));
            rest = tail;
        }
        if let Some(&last) = rest.first() {
            acc += u64::from(u16::from_ne_bytes([last, 0]));
        }
        total += u64::from(fold(acc));
    }
    // The sum was taken over native-endian words; make it a big-endian-word sum.
    u16::from_be(fold(total))
}

/// The checksum field's two bytes after the TTL (the high byte of the TTL/protocol word)
/// drops by one: RFC 1624 eqn. 3 with `m' = m - 0x0100`, where `~m + m'` is the constant
/// `0xfeff`. The sum is taken in native byte order with the constant's bytes in the same order
/// (RFC 1071: a ones'-complement sum commutes with swapping bytes), so no swap is needed.
#[inline(always)]
pub fn ttl_decremented(checksum: [u8; 2]) -> [u8; 2] {
    const NOT_M_PLUS_M2: u16 = u16::from_ne_bytes(0xfeff_u16.to_be_bytes());
    let sum = u32::from(!u16::from_ne_bytes(checksum)) + u32::from(NOT_M_PLUS_M2);
    (!(((sum & 0xffff) + (sum >> 16)) as u16)).to_ne_bytes()
}

/// [`data`] over a fixed-size array whose length is a multiple of four, unrolled by the
/// compiler: the per-packet check of a 20-byte IPv4 header is two 64-bit and one 32-bit
/// addition (with carry) and a fold.
#[inline(always)]
pub fn data_fixed<const N: usize>(bytes: &[u8; N]) -> u16 {
    const { assert!(N.is_multiple_of(4), "data_fixed takes whole 32-bit words") };
    let mut acc: u128 = 0;
    let mut rest: &[u8] = bytes;
    while let Some((w, tail)) = rest.split_first_chunk::<8>() {
        acc += u128::from(u64::from_ne_bytes(*w));
        rest = tail;
    }
    if let Some(w) = rest.first_chunk::<4>() {
        acc += u128::from(u32::from_ne_bytes(*w));
    }
    // The high half counts carries (far below 2^64 for any array that fits in memory); adding it
    // back with its own end-around carry cannot carry again.
    let (sum, carry) = (acc as u64).overflowing_add((acc >> 64) as u64);
    u16::from_be(fold(sum + u64::from(carry)))
}

/// Ones'-complement sum of partial sums (each as returned by [`data`] or [`pseudo_header`]).
///
/// Partial sums combine directly only when each covers an even number of bytes, except the last.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// Sum of the IPv4 pseudo-header that UDP and TCP checksums cover (RFC 768): source,
/// destination, zero-padded protocol and the transport length. Not complemented.
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let s = src.to_bits();
    let d = dst.to_bits();
    fold(
        u64::from(s >> 16)
            + u64::from(s & 0xffff)
            + u64::from(d >> 16)
            + u64::from(d & 0xffff)
            + u64::from(protocol)
            + u64::from(length),
    )
}

/// The stored checksum after one 16-bit word of the covered data changed from `old` to `new`.
///
/// RFC 1624 equation 3, `HC' = ~(~HC + ~m + m')`. Equation 2 (`~(~HC + m' - m)`, as RFC 1141
/// had it) can yield `0x0000` where a full recomputation yields `0xffff`; equation 3 cannot.
#[inline]
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

/// [`update`] for a 32-bit field such as an IPv4 address: both of its 16-bit words at once.
#[inline]
pub fn update32(checksum: u16, old: u32, new: u32) -> u16 {
    let old_hi = (old >> 16) as u16;
    let old_lo = old as u16;
    let new_hi = (new >> 16) as u16;
    let new_lo = new as u16;
    !fold(
        u64::from(!checksum)
            + u64::from(!old_hi)
            + u64::from(!old_lo)
            + u64::from(new_hi)
            + u64::from(new_lo),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 taken literally: big-endian 16-bit words, end-around carry after every add.
    fn naive(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]);
            let lo = u32::from(pair.get(1).copied().unwrap_or(0));
            sum += (hi << 8) | lo;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// The stored checksum over `words` with the checksum word (index `at`) zeroed.
    fn full(words: &[u16], at: usize) -> u16 {
        let mut bytes = Vec::with_capacity(words.len() * 2);
        for (i, w) in words.iter().enumerate() {
            let w = if i == at { 0 } else { *w };
            bytes.extend_from_slice(&w.to_be_bytes());
        }
        !data(&bytes)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn known_ipv4_header() {
        // A header from the Wikipedia IPv4 checksum example; stored checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(data(&h), 0xffff);
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(!data(&z), 0xb861);
    }

    #[test]
    fn edges() {
        assert_eq!(data(&[]), 0);
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(data(&[0xff, 0xff, 0xff, 0xff]), 0xffff);
        assert_eq!(combine(&[]), 0);
        assert_eq!(combine(&[0xffff, 0x0001]), 0x0001);
        let p = pseudo_header(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            17,
            0x0010,
        );
        assert_eq!(p, naive(&[10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0x00, 0x10]));
    }

    #[test]
    fn ttl_decrement_shortcut_matches_the_general_update() {
        for checksum in 0..=u16::MAX {
            for ttl in [1u8, 2, 64, 255] {
                let old = u16::from_be_bytes([ttl, 17]);
                let new = u16::from_be_bytes([ttl - 1, 17]);
                assert_eq!(
                    ttl_decremented(checksum.to_be_bytes()),
                    update(checksum, old, new).to_be_bytes(),
                    "{checksum:#x} ttl {ttl}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn data_matches_naive(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
            prop_assert_eq!(data(&bytes), naive(&bytes));
        }

        #[test]
        fn data_matches_naive_any_alignment(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            skip in 0usize..8,
        ) {
            let s = bytes.get(skip..).unwrap_or(&[]);
            prop_assert_eq!(data(s), naive(s));
        }

        #[test]
        fn data_fixed_matches_naive(h in any::<[u8; 20]>(), w in any::<[u8; 24]>()) {
            prop_assert_eq!(data_fixed(&h), naive(&h));
            prop_assert_eq!(data_fixed(&w), naive(&w));
            prop_assert_eq!(data_fixed(&[0xff; 20]), naive(&[0xff; 20]));
        }

        #[test]
        fn fold_matches_stepwise_folding(sum in any::<u64>()) {
            let (mut s, mut steps) = (sum, 0);
            while s > 0xffff && steps < 8 {
                s = (s & 0xffff) + (s >> 16);
                steps += 1;
            }
            prop_assert_eq!(fold(sum), s as u16);
        }

        #[test]
        fn combine_matches_concatenation(
            a in proptest::collection::vec(any::<u16>(), 0..64),
            b in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let a: Vec<u8> = a.iter().flat_map(|w| w.to_be_bytes()).collect();
            let mut all = a.clone();
            all.extend_from_slice(&b);
            prop_assert_eq!(combine(&[data(&a), data(&b)]), naive(&all));
        }

        #[test]
        fn update_matches_recompute(
            mut words in proptest::collection::vec(any::<u16>(), 2..40),
            at in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            // Word 0 holds the checksum; one other word changes.
            words[0] = 0;
            prop_assume!(words.iter().any(|&w| w != 0));
            let i = 1 + at.index(words.len() - 1);
            let before = full(&words, 0);
            let old = words[i];
            words[i] = new;
            prop_assume!(words.iter().any(|&w| w != 0));
            prop_assert_eq!(update(before, old, new), full(&words, 0));
        }

        #[test]
        fn update32_matches_recompute(
            mut words in proptest::collection::vec(any::<u16>(), 3..40),
            at in any::<prop::sample::Index>(),
            new in any::<u32>(),
        ) {
            words[0] = 0;
            prop_assume!(words.iter().any(|&w| w != 0));
            let i = 1 + at.index(words.len() - 2);
            let before = full(&words, 0);
            let old = (u32::from(words[i]) << 16) | u32::from(words[i + 1]);
            words[i] = (new >> 16) as u16;
            words[i + 1] = new as u16;
            prop_assume!(words.iter().any(|&w| w != 0));
            prop_assert_eq!(update32(before, old, new), full(&words, 0));
        }
    }
}
