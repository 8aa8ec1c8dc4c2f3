//! The engine's system interface: its clock, and sleeping on several futexes at once through
//! io_uring.
//!
//! The clock is CLOCK_MONOTONIC, shared by every process on the host, so a datagram stamped in
//! one shoal process and received in another (across a link file) measures its latency exactly.
//! An idle worker sleeps in one io_uring FUTEX_WAITV (Linux 6.7+) on its own wake word and on the
//! doorbell of every link file it reads, linked to a timeout for its next timer: whatever comes
//! first — a command, a frame from another worker or another process, a timer — wakes it.

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use io_uring::{IoUring, opcode, squeue, types};

use crate::time::Instant;

/// futex2 flags: 32-bit word; private to this process.
const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
/// Most futexes one FUTEX_WAITV takes (the kernel's FUTEX_WAITV_MAX).
pub(crate) const WAIT_MAX: usize = 128;

/// Now, on the host's monotonic clock.
pub(crate) fn monotonic() -> Instant {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer; CLOCK_MONOTONIC always
    // exists on Linux, so it cannot fail.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    Instant::from_nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Wake one thread of this process waiting on `word`.
pub(crate) fn futex_wake_private(word: &AtomicU32) {
    // SAFETY: the word is a live, aligned u32 owned by the caller; FUTEX_WAKE only uses its
    // address. The result (how many woke) is not needed.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// One futex to wait on: the word, the value it must still hold for the wait to sleep, and
/// whether another process shares it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitOn {
    addr: u64,
    expected: u32,
    shared: bool,
}

impl WaitOn {
    /// Wait while `word` holds `expected`. The word must outlive the wait it is passed to.
    pub(crate) fn new(word: &AtomicU32, expected: u32, shared: bool) -> WaitOn {
        WaitOn {
            addr: word.as_ptr() as u64,
            expected,
            shared,
        }
    }
}

/// An io_uring kept for sleeping.
pub(crate) struct Sleeper {
    ring: IoUring,
}

impl Sleeper {
    /// A ring of four entries; fails where io_uring is unavailable or disabled.
    pub(crate) fn new() -> io::Result<Sleeper> {
        Ok(Sleeper {
            ring: IoUring::new(4)?,
        })
    }

    /// Sleep until one of `on` is woken while no longer holding its expected value (at once if
    /// one already differs), or `timeout` passes. May return early; callers re-check.
    pub(crate) fn wait(&mut self, on: &[WaitOn], timeout: Duration) -> io::Result<()> {
        let n = on.len().min(WAIT_MAX);
        let mut v = [types::FutexWaitV::new(); WAIT_MAX];
        for (slot, w) in v.iter_mut().zip(&on[..n]) {
            let private = if w.shared { 0 } else { FUTEX2_PRIVATE };
            *slot = types::FutexWaitV::new()
                .val(u64::from(w.expected))
                .uaddr(w.addr)
                .flags(FUTEX2_SIZE_U32 | private);
        }
        let ts = types::Timespec::from(timeout);
        let wait = opcode::FutexWaitV::new(v.as_ptr(), n as u32)
            .build()
            .flags(squeue::Flags::IO_LINK)
            .user_data(1);
        let expire = opcode::LinkTimeout::new(&ts).build().user_data(2);
        // SAFETY: both entries point at `v` and `ts`, which live until this function returns,
        // and it returns only after both requests completed (the loop below reaps two
        // completions; the kernel also copies both at submission).
        unsafe {
            let mut sq = self.ring.submission();
            if sq.push(&wait).is_err() || sq.push(&expire).is_err() {
                return Err(io::Error::other("io_uring submission queue full"));
            }
        }
        let mut reaped = 0;
        while reaped < 2 {
            match self.ring.submit_and_wait(2 - reaped) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            reaped += self.ring.completion().count();
        }
        Ok(())
    }
}
