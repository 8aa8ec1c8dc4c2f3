//! 802.1Q on switch ports: sets of VLAN ids, the `"10,20-30"` syntax topology files use for
//! them, and moving a tag into or out of a frame in place.
//!
//! A tag is inserted by growing the frame into its headroom and moving the two MAC addresses
//! to the front; it is removed by moving them back over it (IEEE 802.1Q-2018 §9; Linux's
//! `skb_vlan_push` / `skb_vlan_pop` do the same).

use core::fmt;

use crate::frame::{Frame, Pool};
use crate::wire::ethernet::{HEADER_LEN, VLAN_TAG_LEN};

/// The 802.1Q tag protocol identifier (C-tag).
pub const TPID: u16 = 0x8100;

/// Highest usable VLAN id (4095 is reserved, 0 means "priority tag only").
pub const VID_MAX: u16 = 4094;

/// A set of VLAN ids 1..=4094, as a bitmap (512 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct VlanSet(Box<[u64; 64]>);

impl Default for VlanSet {
    fn default() -> VlanSet {
        VlanSet(Box::new([0; 64]))
    }
}

impl VlanSet {
    /// The set holding only `vid`.
    pub fn of(vid: u16) -> VlanSet {
        let mut s = VlanSet::default();
        s.insert(vid);
        s
    }

    /// Add `vid` (ids outside 1..=4094 are ignored).
    pub fn insert(&mut self, vid: u16) {
        if (1..=VID_MAX).contains(&vid) {
            self.0[usize::from(vid / 64)] |= 1 << (vid % 64);
        }
    }

    /// Whether `vid` is in the set.
    #[inline]
    pub fn contains(&self, vid: u16) -> bool {
        vid <= VID_MAX && self.0[usize::from(vid / 64)] & (1 << (vid % 64)) != 0
    }

    /// Add every id of `other`.
    pub fn extend(&mut self, other: &VlanSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    /// The ids, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (1..=VID_MAX).filter(|&v| self.contains(v))
    }

    /// True when no id is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// Parse `"10,20-30"`: ids and inclusive ranges, each within 1..=4094.
    pub fn parse(text: &str) -> Result<VlanSet, String> {
        let mut set = VlanSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = |s: &str| -> Result<u16, String> {
                match s.trim().parse::<u16>() {
                    Ok(v) if (1..=VID_MAX).contains(&v) => Ok(v),
                    _ => Err(format!("{s:?} is not a VLAN id (1..=4094)")),
                }
            };
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (id(a)?, id(b)?),
                None => (id(part)?, id(part)?),
            };
            if lo > hi {
                return Err(format!("range {part:?} runs backwards"));
            }
            for v in lo..=hi {
                set.insert(v);
            }
        }
        Ok(set)
    }
}

impl fmt::Display for VlanSet {
    /// Ranges as `parse` reads them: `10,20-30`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut ids = self.iter().peekable();
        while let Some(lo) = ids.next() {
            let mut hi = lo;
            while ids.peek() == Some(&(hi + 1)) {
                hi += 1;
                ids.next();
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VlanSet({self})")
    }
}

/// The tag control information of a frame that carries an 802.1Q tag, if it does.
#[inline]
pub fn tci(data: &[u8]) -> Option<u16> {
    if data.len() >= HEADER_LEN + VLAN_TAG_LEN && data[12..14] == TPID.to_be_bytes() {
        Some(u16::from_be_bytes([data[14], data[15]]))
    } else {
        None
    }
}

/// Insert a tag with control information `tci` after the MAC addresses. `false` when the
/// headroom is used up (never for a frame the pool or a port handed over).
pub fn push(pool: &mut Pool, frame: &mut Frame, tci: u16) -> bool {
    if frame.push_head(VLAN_TAG_LEN).is_err() {
        return false;
    }
    pool.copy_within(frame, VLAN_TAG_LEN..VLAN_TAG_LEN + 12, 0);
    let d = pool.data_mut(frame);
    d[12..14].copy_from_slice(&TPID.to_be_bytes());
    d[14..16].copy_from_slice(&tci.to_be_bytes());
    true
}

/// Remove the tag of a tagged frame (the caller checked [`tci`]).
pub fn pop(pool: &mut Pool, frame: &mut Frame) {
    pool.copy_within(frame, 0..12, VLAN_TAG_LEN);
    // The frame holds a tag, so it is longer than the four bytes given back.
    let _ = frame.pull_head(VLAN_TAG_LEN);
}

/// Rewrite the VLAN id of a tagged frame's tag, keeping its priority and DEI bits.
pub fn set_vid(pool: &mut Pool, frame: &Frame, vid: u16) {
    let d = pool.data_mut(frame);
    let tci = (u16::from_be_bytes([d[14], d[15]]) & 0xf000) | vid;
    d[14..16].copy_from_slice(&tci.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_show() {
        let s = VlanSet::parse("10, 20-23,4094").unwrap();
        assert!(s.contains(10) && s.contains(22) && s.contains(4094) && !s.contains(11));
        assert_eq!(s.to_string(), "10,20-23,4094");
        assert!(VlanSet::parse("0").is_err());
        assert!(VlanSet::parse("4095").is_err());
        assert!(VlanSet::parse("30-20").is_err());
        assert!(VlanSet::parse("x").is_err());
        assert!(VlanSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn push_then_pop_restores_the_frame() {
        let mut pool = Pool::new(4).unwrap();
        let bytes: Vec<u8> = (0..60).collect();
        let mut f = pool.alloc_from(&bytes).unwrap();
        assert!(push(&mut pool, &mut f, 0xa00a));
        let d = pool.data(&f);
        assert_eq!(d.len(), 64);
        assert_eq!(&d[..12], &bytes[..12]);
        assert_eq!(tci(d), Some(0xa00a));
        assert_eq!(&d[16..], &bytes[12..]);
        set_vid(&mut pool, &f, 20);
        assert_eq!(tci(pool.data(&f)), Some(0xa014));
        pop(&mut pool, &mut f);
        assert_eq!(pool.data(&f), &bytes[..]);
    }
}
