//! A bus: up to 64 members on one file, hub semantics (shmif's successor).
//!
//! Each member writes only its own ring and every other member reads it, keeping its read
//! position locally. The writer never waits for readers: like a hub (and like shmif), a reader
//! that falls a whole ring behind loses the oldest frames, and a dead or stalled member can never
//! hold the others up — which is what makes a bus of independent processes safe. Because a slot
//! can be overwritten while a reader looks at it, each descriptor carries a sequence word used as
//! a seqlock: the writer marks the slot odd (busy), writes, then stores `2 i + 2` for ring index
//! `i`; a reader copies the frame out and keeps it only if the word read `2 i + 2` both before and
//! after the copy. Reads therefore copy once; point-to-point links ([`super::Endpoint`]) stay
//! zero-copy because their producer does wait for their single consumer.

use super::layout::{KIND_BUS, Layout, LinkConfig, Shared};
use super::shm::Doorbell;
use super::{LinkError, RECV_BATCH};
use std::path::Path;
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

const SPINS: u32 = 2000;

/// Counters of one bus member.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BusStats {
    pub sent: u64,
    pub received: u64,
    /// Frames this member missed because it fell a ring behind their sender.
    pub lost: u64,
    pub oversize: u64,
}

/// One member of a bus (aligned like [`super::Endpoint`], for the same reason).
#[repr(align(128))]
pub struct Member {
    shared: Shared,
    me: u32,
    tail: u32,
    heads: Vec<u32>,
    buf: Vec<u8>,
    next: u32,
    generation: u32,
    stats: BusStats,
}

impl Member {
    /// Open (creating if absent, mode 0600) a bus of `members` members and claim the first free
    /// member block, or one whose owner is dead.
    pub fn open(path: &Path, members: u32, cfg: LinkConfig) -> Result<Member, LinkError> {
        let shared = Shared::open(path, Layout::new(KIND_BUS, members, cfg)?)?;
        for m in 0..members {
            if let Ok(generation) = shared.claim(m) {
                // Start at every sender's current tail: a bus has no history to replay.
                let heads = (0..members)
                    .map(|r| shared.tail(r).load(Ordering::Acquire))
                    .collect();
                return Ok(Member {
                    tail: shared.tail(m).load(Ordering::Acquire),
                    heads,
                    buf: vec![0; cfg.frame_size as usize],
                    next: 0,
                    me: m,
                    generation,
                    stats: BusStats::default(),
                    shared,
                });
            }
        }
        Err(LinkError::Full {
            path: path.to_path_buf(),
        })
    }

    /// This member's index on the bus.
    pub fn index(&self) -> u32 {
        self.me
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn stats(&self) -> BusStats {
        self.stats
    }

    /// Put frames on the bus for every other member. Never blocks and always takes them all
    /// (frames longer than a slot are dropped and counted).
    pub fn send(&mut self, frames: &[&[u8]]) -> usize {
        let sh = &self.shared;
        let fs = sh.layout.cfg.frame_size as usize;
        let mask = sh.layout.cfg.slots - 1;
        let mut t = self.tail;
        for f in frames {
            if f.len() > fs {
                self.stats.oversize += 1;
                continue;
            }
            let slot = t & mask;
            let seq = sh.desc_seq(self.me, slot);
            seq.store(t.wrapping_mul(2).wrapping_add(1), Ordering::Relaxed);
            fence(Ordering::Release);
            sh.map.write(sh.layout.frame_off(self.me, slot), f);
            sh.desc_len(self.me, slot)
                .store(f.len() as u32, Ordering::Relaxed);
            seq.store(t.wrapping_mul(2).wrapping_add(2), Ordering::Release);
            t = t.wrapping_add(1);
        }
        if t != self.tail {
            self.stats.sent += u64::from(t.wrapping_sub(self.tail));
            self.tail = t;
            sh.tail(self.me).store(t, Ordering::Release);
            for m in (0..sh.layout.members).filter(|&m| m != self.me) {
                if sh.owner(m).load(Ordering::Relaxed) != 0 {
                    bell(sh, m).ring();
                }
            }
        }
        frames.len()
    }

    /// Hand up to one batch of frames from the other members to `f(sender, bytes)`; returns
    /// how many were delivered. Senders are visited round-robin so none can starve the rest.
    pub fn recv(&mut self, mut f: impl FnMut(u32, &[u8])) -> usize {
        let Member {
            shared: sh,
            me,
            heads,
            buf,
            next,
            stats,
            ..
        } = self;
        let members = sh.layout.members;
        let slots = sh.layout.cfg.slots;
        let fs = sh.layout.cfg.frame_size as usize;
        let mut delivered = 0;
        for k in 0..members {
            let r = (*next + k) % members;
            if r == *me {
                continue;
            }
            let t = sh.tail(r).load(Ordering::Acquire);
            let mut h = heads[r as usize];
            let behind = t.wrapping_sub(h);
            if behind > slots {
                // Lapped (or an index the sender never wrote): skip to the oldest live slot.
                stats.lost += u64::from(behind.min(u32::MAX / 2) - slots);
                h = t.wrapping_sub(slots);
            }
            while h != t && delivered < RECV_BATCH {
                let slot = h & (slots - 1);
                let expect = h.wrapping_mul(2).wrapping_add(2);
                let seq = sh.desc_seq(r, slot);
                h = h.wrapping_add(1);
                if seq.load(Ordering::Acquire) != expect {
                    stats.lost += 1;
                    continue;
                }
                let len = sh.desc_len(r, slot).load(Ordering::Relaxed) as usize;
                if len > fs {
                    stats.lost += 1;
                    continue;
                }
                sh.map
                    .copy_racy(sh.layout.frame_off(r, slot), &mut buf[..len]);
                fence(Ordering::Acquire);
                if seq.load(Ordering::Relaxed) != expect {
                    stats.lost += 1;
                    continue;
                }
                f(r, &buf[..len]);
                delivered += 1;
            }
            heads[r as usize] = h;
            if delivered == RECV_BATCH {
                *next = (r + 1) % members;
                break;
            }
        }
        stats.received += delivered as u64;
        delivered
    }

    /// Whether any other member has published a frame this member has not read.
    pub fn pending(&self) -> bool {
        let sh = &self.shared;
        (0..sh.layout.members)
            .filter(|&r| r != self.me)
            .any(|r| sh.tail(r).load(Ordering::Acquire) != self.heads[r as usize])
    }

    /// Spin briefly, then sleep on this member's doorbell until a frame is pending or `timeout`.
    pub fn wait(&self, timeout: Duration) -> bool {
        for _ in 0..SPINS {
            if self.pending() {
                return true;
            }
            std::hint::spin_loop();
        }
        let bell = self.doorbell();
        let armed = bell.arm();
        if !self.pending() {
            bell.wait(armed, timeout);
        }
        bell.disarm();
        self.pending()
    }

    /// The doorbell this member sleeps on; every other member rings it after sending.
    pub fn doorbell(&self) -> Doorbell<'_> {
        bell(&self.shared, self.me)
    }
}

fn bell(sh: &Shared, m: u32) -> Doorbell<'_> {
    Doorbell::new(sh.bell_seq(m), sh.bell_sleeping(m))
}

impl Drop for Member {
    fn drop(&mut self) {
        self.shared.release(self.me);
    }
}
