//! A switch's tallies: whole-switch counts by what happened to each frame, and per-port counts.
//!
//! Every frame received is forwarded to one port, flooded, or dropped with one
//! [`DropReason`]: `rx_frames = forwarded + flooded + total_drops()`. Copies (flooding,
//! mirroring) are counted in `tx_frames`, not as frames received.

use crate::router::DropReason;

/// Whole-switch counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to `process`.
    pub rx_frames: u64,
    /// Frames sent, copies included.
    pub tx_frames: u64,
    /// Frames sent to the one port their destination is behind.
    pub forwarded: u64,
    /// Frames flooded (unknown unicast, broadcast, multicast; every frame of a hub).
    pub flooded: u64,
    /// Addresses learned.
    pub learned: u64,
    /// Addresses seen on another port than their entry's.
    pub moved: u64,
    /// Addresses not learned because the FDB was full.
    pub fdb_full: u64,
    /// Copies sent to the mirror port.
    pub mirrored: u64,
    /// Copies not made because the pool was exhausted (flooding, mirroring).
    pub copy_failed: u64,
    /// Drops, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            rx_frames: 0,
            tx_frames: 0,
            forwarded: 0,
            flooded: 0,
            learned: 0,
            moved: 0,
            fdb_full: 0,
            mirrored: 0,
            copy_failed: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl Counters {
    /// The counts in a router's shape, for reports with a row per node: frames received and
    /// sent, forwarded (to one port or flooded), drops by reason.
    pub fn summary(&self) -> crate::router::Counters {
        crate::router::Counters {
            rx_frames: self.rx_frames,
            tx_frames: self.tx_frames,
            forwarded: self.forwarded + self.flooded,
            drops: self.drops,
            ..crate::router::Counters::default()
        }
    }

    /// Drops counted for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// All drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Non-zero drop counts, by reason.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.dropped(r)))
            .filter(|&(_, n)| n != 0)
    }
}

impl core::ops::AddAssign<&Counters> for Counters {
    fn add_assign(&mut self, o: &Counters) {
        self.rx_frames += o.rx_frames;
        self.tx_frames += o.tx_frames;
        self.forwarded += o.forwarded;
        self.flooded += o.flooded;
        self.learned += o.learned;
        self.moved += o.moved;
        self.fdb_full += o.fdb_full;
        self.mirrored += o.mirrored;
        self.copy_failed += o.copy_failed;
        for (d, x) in self.drops.iter_mut().zip(&o.drops) {
            *d += x;
        }
    }
}

/// Per-port counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received.
    pub rx_frames: u64,
    /// Frames sent (mirror copies included).
    pub tx_frames: u64,
    /// Frames (or flooded copies) not sent because they exceed the port's MTU.
    pub mtu_exceeded: u64,
}
