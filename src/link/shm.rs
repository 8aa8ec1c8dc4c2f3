//! One side of a point-to-point shared-memory link.
//!
//! Side A writes ring 0 and reads ring 1; side B the reverse. Each ring is single-producer,
//! single-consumer: the producer copies frame bytes and the length into free slots, then
//! publishes the new tail with one Release store per batch; the consumer loads the tail with
//! Acquire, hands each frame to its callback in place (zero-copy), then publishes its head with
//! one Release store, which returns the slots to the producer. Both cache the other's index and
//! reload it only when the ring looks full (producer) or empty (consumer).

use super::layout::{KIND_P2P, Layout, LinkConfig, Shared, Side};
use super::{LinkError, RECV_BATCH, sys};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::time::Duration;

/// Spins of `wait` before it sleeps: a cross-CPU futex round trip costs tens of microseconds
/// in a VM, a few hundred polls of the tail cost far less.
const SPINS: u32 = 2000;

/// Counters of one endpoint, kept locally (not in the shared file).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub sent: u64,
    pub received: u64,
    /// Frames given to `send` longer than a slot: dropped.
    pub oversize: u64,
    /// Descriptors or indices from the peer that broke the protocol: ignored.
    pub bad: u64,
}

/// The futex word a receiver sleeps on, and the flag that tells producers to ring it.
pub struct Doorbell<'a> {
    seq: &'a AtomicU32,
    sleeping: &'a AtomicU32,
}

impl<'a> Doorbell<'a> {
    pub(super) fn new(seq: &'a AtomicU32, sleeping: &'a AtomicU32) -> Doorbell<'a> {
        Doorbell { seq, sleeping }
    }

    /// Announce that the receiver is about to sleep; returns the value to wait on. The caller
    /// must look at its rings once more after arming and only sleep if they are still empty.
    pub fn arm(&self) -> u32 {
        let v = self.seq.load(Ordering::Acquire);
        self.sleeping.store(1, Ordering::Relaxed);
        // Pairs with the producer's fence between publishing its tail and reading `sleeping`:
        // either the receiver's re-check sees the tail, or the producer sees the flag.
        fence(Ordering::SeqCst);
        v
    }

    /// Sleep until rung (or `timeout`, or spuriously) if the word still holds `armed`.
    pub fn wait(&self, armed: u32, timeout: Duration) {
        sys::futex_wait(self.seq, armed, timeout);
    }

    /// The receiver is awake again.
    pub fn disarm(&self) {
        self.sleeping.store(0, Ordering::Relaxed);
    }

    /// The 32-bit futex word itself (shared, not private), e.g. for an io_uring FutexWait.
    pub fn word(&self) -> &AtomicU32 {
        self.seq
    }

    /// Producer side: wake the receiver if it announced sleep. Call after publishing.
    pub(super) fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            sys::futex_wake(self.seq);
        }
    }
}

/// One side of a point-to-point link.
///
/// Aligned to 128 bytes so that the indices it updates on every batch never share a cache line
/// with data another thread reads (measured: unaligned, the consumer's endpoint could land beside
/// the shared `Arc` and cost the two-thread case a factor of 3-10).
#[repr(align(128))]
pub struct Endpoint {
    shared: Arc<Shared>,
    me: u32,
    peer: u32,
    /// Next slot index this side writes (ring `me`), and the peer's head as last seen.
    tail: u32,
    head_seen: u32,
    /// Next slot index this side reads (ring `peer`), and the peer's tail as last seen.
    head: u32,
    tail_seen: u32,
    mask: u32,
    slots: u32,
    frame_size: usize,
    generation: u32,
    stats: Stats,
}

impl Endpoint {
    /// Open (creating if absent, mode 0600) the link file at `path` and claim a side.
    pub fn open(path: &Path, side: Side, cfg: LinkConfig) -> Result<Endpoint, LinkError> {
        let shared = Arc::new(Shared::open(path, Layout::new(KIND_P2P, 2, cfg)?)?);
        let tries: &[u32] = match side {
            Side::A => &[0],
            Side::B => &[1],
            Side::Any => &[0, 1],
        };
        let mut busy = None;
        for &m in tries {
            match shared.claim(m) {
                Ok(generation) => return Ok(Endpoint::attach(shared, m, generation)),
                Err(pid) => busy = Some((m, pid)),
            }
        }
        match (side, busy) {
            (Side::Any, _) | (_, None) => Err(LinkError::Full {
                path: path.to_path_buf(),
            }),
            (_, Some((side, pid))) => Err(LinkError::SideBusy {
                path: path.to_path_buf(),
                side,
                pid,
            }),
        }
    }

    /// Both ends of a fresh link in an anonymous memfd, e.g. for two threads.
    pub fn pair_in_memory(cfg: LinkConfig) -> Result<(Endpoint, Endpoint), LinkError> {
        let shared = Arc::new(Shared::memfd(Layout::new(KIND_P2P, 2, cfg)?)?);
        let claim = |m| {
            shared.claim(m).map_err(|pid| LinkError::SideBusy {
                path: shared.path.clone(),
                side: m,
                pid,
            })
        };
        let (ga, gb) = (claim(0)?, claim(1)?);
        Ok((
            Endpoint::attach(shared.clone(), 0, ga),
            Endpoint::attach(shared, 1, gb),
        ))
    }

    fn attach(shared: Arc<Shared>, me: u32, generation: u32) -> Endpoint {
        let peer = 1 - me;
        // Continue exactly where the previous owner of this side last published: its
        // unpublished writes are invisible and get overwritten; frames it read but had not yet
        // acknowledged are delivered again (at-least-once across a crash).
        let tail = shared.tail(me).load(Ordering::Acquire);
        let head_seen = shared.head(me).load(Ordering::Acquire);
        let head = shared.head(peer).load(Ordering::Acquire);
        let cfg = shared.layout.cfg;
        Endpoint {
            me,
            peer,
            tail,
            head_seen,
            head,
            tail_seen: head,
            mask: cfg.slots - 1,
            slots: cfg.slots,
            frame_size: cfg.frame_size as usize,
            generation,
            stats: Stats::default(),
            shared,
        }
    }

    /// Copy frames into the peer-bound ring; returns how many of `frames` were taken (a prefix).
    /// Never blocks. Frames longer than a slot are taken and dropped (counted as oversize).
    pub fn send(&mut self, frames: &[&[u8]]) -> usize {
        let sh = &*self.shared;
        let mut t = self.tail;
        let mut taken = 0;
        for f in frames {
            if f.len() > self.frame_size {
                self.stats.oversize += 1;
                taken += 1;
                continue;
            }
            if t.wrapping_sub(self.head_seen) >= self.slots {
                self.head_seen = sh.head(self.me).load(Ordering::Acquire);
                // A head that is not within one ring of the tail is a peer breaking the
                // protocol; treat the ring as full rather than overwrite unread frames.
                if t.wrapping_sub(self.head_seen) >= self.slots {
                    break;
                }
            }
            let slot = t & self.mask;
            sh.map.write(sh.layout.frame_off(self.me, slot), f);
            sh.desc_len(self.me, slot)
                .store(f.len() as u32, Ordering::Relaxed);
            t = t.wrapping_add(1);
            taken += 1;
        }
        if t != self.tail {
            self.stats.sent += u64::from(t.wrapping_sub(self.tail));
            self.tail = t;
            sh.tail(self.me).store(t, Ordering::Release);
            self.peer_bell().ring();
        }
        taken
    }

    /// Hand up to one batch ([`RECV_BATCH`]) of received frames to `f`, in place; returns how
    /// many were consumed. The slots go back to the producer when this returns.
    pub fn recv(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let sh = &*self.shared;
        let mut avail = self.tail_seen.wrapping_sub(self.head);
        if avail == 0 {
            self.tail_seen = sh.tail(self.peer).load(Ordering::Acquire);
            avail = self.tail_seen.wrapping_sub(self.head);
            if avail == 0 {
                return 0;
            }
        }
        if avail > self.slots {
            self.stats.bad += 1;
            return 0;
        }
        let n = avail.min(RECV_BATCH as u32);
        for i in 0..n {
            let slot = self.head.wrapping_add(i) & self.mask;
            let len = sh.desc_len(self.peer, slot).load(Ordering::Relaxed) as usize;
            if len > self.frame_size {
                self.stats.bad += 1;
                continue;
            }
            f(sh.map.bytes(sh.layout.frame_off(self.peer, slot), len));
        }
        self.head = self.head.wrapping_add(n);
        sh.head(self.peer).store(self.head, Ordering::Release);
        self.stats.received += u64::from(n);
        n as usize
    }

    /// Show every frame waiting to be received to `f`, in order, without receiving it (what a
    /// stopped run still had in flight on the link).
    pub fn peek(&self, mut f: impl FnMut(&[u8])) {
        let sh = &*self.shared;
        let tail = sh.tail(self.peer).load(Ordering::Acquire);
        let avail = tail.wrapping_sub(self.head);
        if avail > self.slots {
            return;
        }
        for i in 0..avail {
            let slot = self.head.wrapping_add(i) & self.mask;
            let len = sh.desc_len(self.peer, slot).load(Ordering::Relaxed) as usize;
            if len <= self.frame_size {
                f(sh.map.bytes(sh.layout.frame_off(self.peer, slot), len));
            }
        }
    }

    /// Whether a frame is waiting to be received.
    pub fn pending(&mut self) -> bool {
        if self.tail_seen != self.head {
            return true;
        }
        self.tail_seen = self.shared.tail(self.peer).load(Ordering::Acquire);
        self.tail_seen != self.head
    }

    /// Wait until a frame is pending or `timeout` passes: spin briefly, then sleep on the
    /// doorbell. Returns whether a frame is pending.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        for _ in 0..SPINS {
            if self.pending() {
                return true;
            }
            std::hint::spin_loop();
        }
        let armed = self.doorbell().arm();
        if !self.pending() {
            self.doorbell().wait(armed, timeout);
        }
        self.doorbell().disarm();
        self.pending()
    }

    /// The doorbell this side sleeps on when its receive ring is empty.
    pub fn doorbell(&self) -> Doorbell<'_> {
        Doorbell::new(
            self.shared.bell_seq(self.me),
            self.shared.bell_sleeping(self.me),
        )
    }

    fn peer_bell(&self) -> Doorbell<'_> {
        Doorbell::new(
            self.shared.bell_seq(self.peer),
            self.shared.bell_sleeping(self.peer),
        )
    }

    /// Which side this is (`Side::A` or `Side::B`).
    pub fn side(&self) -> Side {
        if self.me == 0 { Side::A } else { Side::B }
    }

    /// This side's generation: bumped by every attach, so a takeover is visible to the peer.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The peer side's current generation (0 if nobody ever attached it).
    pub fn peer_generation(&self) -> u32 {
        self.shared.generation(self.peer).load(Ordering::Acquire)
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shared.release(self.me);
    }
}
