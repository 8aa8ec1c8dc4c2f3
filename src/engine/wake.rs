//! Waking a worker: a futex word that wakers bump, and a flag that says the worker sleeps.
//!
//! The worker reads the word at the top of every loop iteration and, when it goes idle, sets
//! `sleeping`, re-checks its queues and sleeps only while the word still holds what it read. A
//! waker publishes its work first (a command sent, frames published to a ring), then bumps the
//! word, then makes the wake-up system call only if the worker said it sleeps. Either the worker
//! sees the work or the changed word, or the waker sees the flag: no wake-up is lost, and a busy
//! worker is never woken by a system call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::thread::Thread;

use super::sys;

/// One worker's wake word.
#[derive(Debug, Default)]
pub(crate) struct Waker {
    pub word: AtomicU32,
    sleeping: AtomicU32,
    /// The worker's thread, for the park/unpark fallback where io_uring is unavailable.
    pub thread: OnceLock<Thread>,
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
