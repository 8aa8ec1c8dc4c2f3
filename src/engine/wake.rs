//! Waking a worker: a futex word that wakers bump, and a flag that says the worker sleeps.
//!
//! The worker reads the word at the top of every loop iteration and, when it goes idle, sets
//! `sleeping`, re-checks its queues and sleeps only while the word still holds what it read. A
//! waker publishes its work first (a command sent, frames published to a ring), then bumps the
//! word, then makes the wake-up system call only if the worker said it sleeps. Either the worker
//! sees the work or the changed word, or the waker sees the flag: no wake-up is lost, and a busy
//! worker is never woken by a system call.
//!
//! The word also carries a doorbell per ring from another worker: a bitmap, one bit per exit
//! of the worker, that a sender sets after publishing to the ring and before bumping the word.
//! The worker swaps the bitmap's words to zero and receives from the rings whose bits were set
//! — a worker with 10,000 rings to other workers looks at those with frames, not at all of
//! them, on every loop and before every sleep.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::thread::Thread;

use super::sys;

/// One worker's wake word.
#[derive(Debug, Default)]
pub(crate) struct Waker {
    pub word: AtomicU32,
    sleeping: AtomicU32,
    /// The worker's thread, for the park/unpark fallback where io_uring is unavailable.
    pub thread: OnceLock<Thread>,
    /// The doorbells of the worker's rings, a bit per exit, sized once its exits are known.
    rung: OnceLock<Box<[AtomicU64]>>,
}

impl Waker {
    /// After publishing work for the worker: make sure it sees it.
    pub fn wake(&self) {
        self.word.fetch_add(1, Ordering::Release);
        // Pairs with the fence in `arm`: either we see the flag or the worker sees the word.
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) != 0 {
            sys::futex_wake_private(&self.word);
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }

    /// Make room for the doorbells of `exits` exits; once, before the worker starts.
    pub fn size_bells(&self, exits: usize) {
        let words = (0..exits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
        // Set once per engine start, before any sender rings.
        let _ = self.rung.set(words);
    }

    /// Mark the ring at exit `x` of the worker as holding frames, without waking it: after a
    /// publish to the ring (then [`Waker::wake`]), or by the worker itself when it left frames
    /// in the ring for its next loop.
    pub fn ring(&self, x: u32) {
        if let Some(word) = self.rung.get().and_then(|w| w.get(x as usize / 64)) {
            // Release: whoever swaps the bit out sees the frames published before it.
            word.fetch_or(1 << (x % 64), Ordering::Release);
        }
    }

    /// Take every rung doorbell, clearing them, and call `f` with each exit's index.
    pub fn take_rung(&self, mut f: impl FnMut(u32)) {
        let Some(words) = self.rung.get() else {
            return;
        };
        for (k, word) in words.iter().enumerate() {
            // Read before swapping: an idle ring's word costs no write to a shared line.
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::Acquire);
            while bits != 0 {
                f(k as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }

    /// Whether any ring's doorbell is rung.
    pub fn any_rung(&self) -> bool {
        let words = self.rung.get().map_or(&[][..], |w| &w[..]);
        words.iter().any(|w| w.load(Ordering::Acquire) != 0)
    }

    /// The worker is about to re-check its queues and sleep.
    pub fn arm(&self) {
        self.sleeping.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// The worker is awake again.
    pub fn disarm(&self) {
        self.sleeping.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doorbells rung any number of times are taken once each, in exit order, and cleared.
    #[test]
    fn rung_doorbells_are_taken_once_in_order() {
        let w = Waker::default();
        w.size_bells(130);
        assert!(!w.any_rung());
        for x in [129, 3, 64, 3] {
            w.ring(x);
        }
        assert!(w.any_rung());
        let mut got = Vec::new();
        w.take_rung(|x| got.push(x));
        assert_eq!(got, [3, 64, 129]);
        assert!(!w.any_rung());
        w.take_rung(|x| panic!("exit {x} was taken twice"));
    }
}
