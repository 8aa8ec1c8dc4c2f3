//! The bounded, non-blocking hand-off of captured copies from forwarding threads to the one
//! thread that writes them.
//!
//! A [`Tap`] (cloneable, `Send + Sync`, one per captured link end) copies a frame into a buffer
//! taken from a shared free list and queues it on a bounded channel; the consumer (`Queue`,
//! owned by a `Capture`) writes the copy and puts the buffer back. There are exactly `capacity`
//! buffers, so an empty free list *is* a full queue: the copy is dropped and counted against
//! its interface, and the network frame is never touched.
//!
//! Guarantees, for the producer side (`Tap::record`):
//! - it never blocks: the channel is only ever `try_send`-ed, and the free list is taken with
//!   `try_lock` a bounded number of times (a copy that still finds it contended is dropped and
//!   counted like one that finds the queue full). The one lock a producer can wait on is inside
//!   std's channel, taken only to wake a consumer asleep in `recv` (one futex wake; while
//!   copies keep coming the consumer polls instead of sleeping there, so a steady stream pays
//!   none); nothing holds it across a copy or a write;
//! - it allocates nothing once each buffer has held a frame of the largest size seen (buffers
//!   start empty and are sized on first use to at least [`FRAME_SIZE`]);
//! - no lock is held while copying or writing: the free list's lock covers one `pop` or one
//!   `push`/`append` of buffer handles;
//! - copies from one `Tap` (and its clones on one thread) reach the consumer in the order they
//!   were recorded: the channel is FIFO.
//!
//! Every `record` call counts as *offered* on its interface; a capture that ends reports
//! offered − written as the copies it lost (full queue, contention, a failed output, or copies
//! still in flight when it stopped), so nothing goes unaccounted.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, mpsc};
use std::time::Duration;

use super::pcapng::Direction;
use crate::frame::FRAME_SIZE;

/// How many times a producer tries the free list's lock before giving the copy up. Its holders
/// only move buffer handles, so a second or third try almost always succeeds; the bound is what
/// keeps a producer from waiting on a holder the scheduler has put to sleep.
const FREE_LIST_TRIES: u32 = 16;

/// Buffers the consumer collects before putting them back under one lock.
const RETURN_BATCH: usize = 64;

/// A captured copy on its way to the writer.
pub(super) struct Copied {
    pub iface: u32,
    pub ts_ns: u64,
    pub dir: Direction,
    pub dropped: Option<&'static str>,
    /// The frame's bytes; goes back to the free list through [`Queue::recycle`].
    pub buf: Vec<u8>,
}

/// What travels on the channel.
pub(super) enum Msg {
    Copy(Copied),
    /// Sent once by a `CaptureThread` being stopped. The channel has one slot more than there
    /// are buffers, so this always finds room.
    Stop,
}

/// Per-interface counters, shared by all clones of one interface's `Tap` and the consumer.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// `record` calls.
    offered: AtomicU64,
    /// `record` calls that returned false.
    dropped: AtomicU64,
}

impl Counters {
    pub(super) fn offered(&self) -> u64 {
        self.offered.load(Ordering::Relaxed)
    }
}

/// State shared by the producers and the consumer.
struct Shared {
    /// Buffers not in flight. Allocated with room for all of them, so returning never grows it.
    free: Mutex<Vec<Vec<u8>>>,
    /// Set when the capture stops or its output fails: producers then drop copies up front
    /// rather than copying into a queue nobody will write out.
    closed: AtomicBool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The buffers' bytes are of no interest; how many are free is.
        let free = self.free.try_lock().map(|free| free.len()).ok();
        f.debug_struct("Shared")
            .field("free", &free)
            .field("closed", &self.closed)
            .finish()
    }
}

impl Shared {
    /// A free buffer, or None when all are in flight (the queue is full) or the lock stayed
    /// contended.
    fn take(&self) -> Option<Vec<u8>> {
        for _ in 0..FREE_LIST_TRIES {
            match self.free.try_lock() {
                Ok(mut free) => return free.pop(),
                Err(TryLockError::Poisoned(p)) => return p.into_inner().pop(),
                Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
        None
    }

    /// Puts back a buffer a producer took but could not queue. Never blocks: on a contended
    /// lock the buffer is freed, and the pool is one buffer smaller from then on.
    fn put(&self, buf: Vec<u8>) {
        for _ in 0..FREE_LIST_TRIES {
            match self.free.try_lock() {
                Ok(mut free) => return free.push(buf),
                Err(TryLockError::Poisoned(p)) => return p.into_inner().push(buf),
                Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
    }

    /// The free list for the consumer, which may wait for it.
    fn lock(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        // A panic elsewhere cannot leave a Vec of buffers half-changed; keep using it.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Producer handle for one captured interface: clone it for each thread that forwards frames
/// over that link end. `Send + Sync`; every method returns promptly.
#[derive(Debug, Clone)]
pub struct Tap {
    iface: u32,
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
}

impl Tap {
    /// Copies `data` into a recycled buffer and queues it for the writer, with its timestamp
    /// (ns since the Unix epoch), direction and, for a frame the link dropped, the reason.
    /// Never blocks and, once warm, never allocates. When the queue is full, or the capture has
    /// stopped or failed, the copy is dropped and counted against this interface — never the
    /// network frame. Returns whether the copy was queued.
    pub fn record(
        &self,
        ts_ns: u64,
        dir: Direction,
        data: &[u8],
        dropped: Option<&'static str>,
    ) -> bool {
        self.counters.offered.fetch_add(1, Ordering::Relaxed);
        if !self.shared.closed.load(Ordering::Relaxed)
            && let Some(mut buf) = self.shared.take()
        {
            buf.clear();
            if buf.capacity() < data.len() {
                // First use of this buffer, or a frame larger than any it held before.
                buf.reserve(data.len().max(FRAME_SIZE));
            }
            buf.extend_from_slice(data);
            let copy = Copied {
                iface: self.iface,
                ts_ns,
                dir,
                dropped,
                buf,
            };
            match self.tx.try_send(Msg::Copy(copy)) {
                Ok(()) => return true,
                // Full cannot happen (one slot per buffer, plus one for Stop); Disconnected means
                // the capture is gone. Either way the buffer goes back and the copy is counted.
                Err(TrySendError::Full(msg) | TrySendError::Disconnected(msg)) => {
                    if let Msg::Copy(copy) = msg {
                        self.shared.put(copy.buf);
                    }
                }
            }
        }
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// The interface id of this tap inside its capture (its Interface Description Block).
    pub fn iface(&self) -> u32 {
        self.iface
    }

    /// Copies of this interface that `record` dropped so far (all clones together).
    pub fn dropped_copies(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

/// The consumer end: receives copies and recycles their buffers.
pub(super) struct Queue {
    rx: Receiver<Msg>,
    /// Cloned into each Tap and into the stopper; keeping one here means the channel never
    /// reports disconnection to the consumer.
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    /// Buffers written out and waiting to go back to the free list.
    returned: Vec<Vec<u8>>,
    capacity: usize,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("capacity", &self.capacity)
            .field("shared", &self.shared)
            .field("returned", &self.returned.len())
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// A queue of `capacity` buffers (at least 1).
    pub(super) fn new(capacity: usize) -> Queue {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::sync_channel(capacity + 1);
        let free = (0..capacity).map(|_| Vec::new()).collect();
        Queue {
            rx,
            tx,
            shared: Arc::new(Shared {
                free: Mutex::new(free),
                closed: AtomicBool::new(false),
            }),
            returned: Vec::with_capacity(RETURN_BATCH),
            capacity,
        }
    }

    /// Copies this queue holds at most.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// A producer handle for interface `iface`, and its counters for the consumer.
    pub(super) fn tap(&self, iface: u32) -> (Tap, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let tap = Tap {
            iface,
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
            counters: Arc::clone(&counters),
        };
        (tap, counters)
    }

    /// A sender for [`Msg::Stop`], usable from another thread.
    pub(super) fn stopper(&self) -> SyncSender<Msg> {
        self.tx.clone()
    }

    /// The next message if one is queued.
    pub(super) fn try_recv(&mut self) -> Option<Msg> {
        self.rx.try_recv().ok()
    }

    /// The next message, waiting at most `wait` (forever when None).
    pub(super) fn recv(&mut self, wait: Option<Duration>) -> Option<Msg> {
        match wait {
            None => self.rx.recv().ok(),
            // Disconnection cannot happen: this queue holds a sender.
            Some(wait) => self.rx.recv_timeout(wait).ok(),
        }
    }

    /// Takes back the buffer of a copy that has been written (or discarded).
    pub(super) fn recycle(&mut self, buf: Vec<u8>) {
        self.returned.push(buf);
        if self.returned.len() >= RETURN_BATCH {
            self.give_back();
        }
    }

    /// Puts recycled buffers back on the free list; call when the channel runs dry.
    pub(super) fn give_back(&mut self) {
        if !self.returned.is_empty() {
            self.shared.lock().append(&mut self.returned);
        }
    }

    /// From now on producers drop their copies up front.
    pub(super) fn close(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
    }

    /// Addresses of the free buffers' storage, to check in tests that they are reused.
    #[cfg(test)]
    fn free_storage(&self) -> Vec<usize> {
        let mut ptrs: Vec<usize> = self
            .shared
            .lock()
            .iter()
            .map(|b| b.as_ptr() as usize)
            .collect();
        ptrs.sort_unstable();
        ptrs
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Taps may outlive the capture; they should stop copying at once.
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// Receives everything queued, recycling buffers; returns (iface, ts, first byte) triples.
    fn drain(q: &mut Queue) -> Vec<(u32, u64, u8)> {
        let mut out = Vec::new();
        while let Some(msg) = q.try_recv() {
            if let Msg::Copy(c) = msg {
                out.push((c.iface, c.ts_ns, c.buf.first().copied().unwrap_or(0)));
                q.recycle(c.buf);
            }
        }
        q.give_back();
        out
    }

    #[test]
    fn full_queue_drops_and_counts_copies() {
        let mut q = Queue::new(4);
        let (tap, counters) = q.tap(0);
        let queued: Vec<bool> = (0..10)
            .map(|i| tap.record(i, Direction::Inbound, &[i as u8; 60], None))
            .collect();
        assert_eq!(
            queued,
            [
                true, true, true, true, false, false, false, false, false, false
            ]
        );
        assert_eq!(tap.dropped_copies(), 6);
        assert_eq!(counters.offered(), 10);
        let got = drain(&mut q);
        assert_eq!(got, [(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 3, 3)]);
        // Room again once the consumer has given the buffers back.
        assert!(tap.record(10, Direction::Outbound, &[10], Some("netem-loss")));
        assert_eq!(tap.dropped_copies(), 6);
    }

    #[test]
    fn taps_are_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Tap>();
    }

    #[test]
    fn record_never_waits_for_a_held_free_list() {
        let mut q = Queue::new(4);
        let (tap, _) = q.tap(0);
        let held = q.shared.lock();
        // The consumer (here: this test) holds the lock; record gives the copy up instead of
        // waiting for it. Were it to block, this test would never finish.
        assert!(!tap.record(0, Direction::Inbound, &[1], None));
        drop(held);
        assert!(tap.record(1, Direction::Inbound, &[2], None));
        assert_eq!(tap.dropped_copies(), 1);
        assert_eq!(drain(&mut q), [(0, 1, 2)]);
    }

    #[test]
    fn drops_are_counted_per_interface() {
        let mut q = Queue::new(1);
        let (a, _) = q.tap(0);
        let (b, _) = q.tap(1);
        let a2 = a.clone();
        assert!(a.record(0, Direction::Inbound, &[1], None));
        assert!(!b.record(1, Direction::Inbound, &[2], None));
        assert!(!a2.record(2, Direction::Inbound, &[3], None));
        assert_eq!((a.dropped_copies(), b.dropped_copies()), (1, 1));
        assert_eq!(drain(&mut q), [(0, 0, 1)]);
    }

    #[test]
    fn closed_or_dropped_queue_drops_copies() {
        let q = Queue::new(4);
        let (tap, _) = q.tap(0);
        q.close();
        assert!(!tap.record(0, Direction::Inbound, &[1], None));
        drop(q);
        assert!(!tap.record(1, Direction::Inbound, &[1], None));
        assert_eq!(tap.dropped_copies(), 2);
    }

    #[test]
    fn buffers_are_recycled() {
        let mut q = Queue::new(3);
        let (tap, _) = q.tap(0);
        // Warm up: each of the 3 buffers holds a frame once.
        for i in 0..3 {
            assert!(tap.record(i, Direction::Inbound, &[0xAB; 1500], None));
        }
        drain(&mut q);
        let storage = q.free_storage();
        assert_eq!(storage.len(), 3);
        for round in 0..20 {
            let n = 1 + round % 3;
            for i in 0..n {
                let len = 64 + 97 * usize::from(i as u8);
                assert!(tap.record(i, Direction::Outbound, &vec![0xCD; len], None));
            }
            assert_eq!(drain(&mut q).len(), n as usize);
        }
        assert_eq!(q.free_storage(), storage, "same allocations, nothing new");
    }

    #[test]
    fn several_producers_keep_their_order() {
        const PER_THREAD: u64 = 2_000;
        let mut q = Queue::new(64);
        let taps: Vec<Tap> = (0..3).map(|i| q.tap(i).0).collect();
        let producers: Vec<_> = taps
            .iter()
            .cloned()
            .map(|tap| {
                thread::spawn(move || {
                    let mut queued = Vec::new();
                    for seq in 0..PER_THREAD {
                        if tap.record(seq, Direction::Inbound, &seq.to_le_bytes(), None) {
                            queued.push(seq);
                        }
                    }
                    queued
                })
            })
            .collect();
        let mut got: Vec<Vec<u64>> = vec![Vec::new(); 3];
        // Consume while the producers run; the pass after they are all done gets the rest.
        loop {
            let done = producers.iter().all(|p| p.is_finished());
            for (iface, ts, _) in drain(&mut q) {
                got[iface as usize].push(ts);
            }
            if done {
                break;
            }
            thread::yield_now();
        }
        let queued: Vec<Vec<u64>> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        for (iface, tap) in taps.iter().enumerate() {
            assert_eq!(
                got[iface], queued[iface],
                "interface {iface}: all queued, in order"
            );
            assert_eq!(
                queued[iface].len() as u64 + tap.dropped_copies(),
                PER_THREAD,
                "every copy either queued or counted"
            );
        }
    }

    #[test]
    fn stop_always_finds_room() {
        let mut q = Queue::new(2);
        let (tap, _) = q.tap(0);
        while tap.record(0, Direction::Inbound, &[1], None) {}
        q.stopper().try_send(Msg::Stop).unwrap();
        let mut stops = 0;
        while let Some(msg) = q.try_recv() {
            stops += usize::from(matches!(msg, Msg::Stop));
        }
        assert_eq!(stops, 1);
    }
}
