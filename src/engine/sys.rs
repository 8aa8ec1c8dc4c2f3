//! The engine's system interface: its clock, and sleeping on several futexes at once through
//! io_uring.
//!
//! The clock is CLOCK_MONOTONIC, shared by every process on the host, so a datagram stamped in
//! one shoal process and received in another (across a link file) measures its latency exactly.
//! An idle worker sleeps in one io_uring FUTEX_WAITV (Linux 6.7+) on its own wake word and on the
//! doorbell of every link file it reads, linked to a timeout for its next timer: whatever comes
//! first — a command, a frame from another worker or another process, a timer — wakes it. A
//! worker with ports also polls their descriptors in the same sleep.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use io_uring::{IoUring, opcode, squeue, types};

use crate::time::Instant;

/// Give the whole pages of memory freed so far back to the kernel. glibc keeps freed blocks in
/// its heap, resident, until the heap's top is free or it is told; after a build that freed
/// as much as it kept (a network's description of its links, a topology model), telling it
/// returns a few KiB per router.
pub(crate) fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes no pointers; it only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Ask the kernel to end this thread's timed sleeps when asked rather than up to 50 µs later
/// (the default timer slack of a normal thread, which lets it batch wake-ups): a worker's
/// sleeps end where a frame falls due. Best effort: an error leaves the default.
pub(crate) fn tight_timers() {
    // SAFETY: PR_SET_TIMERSLACK takes a value, no pointers; it only changes this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// futex2 flags: 32-bit word; private to this process.
const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
/// Most futexes one FUTEX_WAITV takes (the kernel's FUTEX_WAITV_MAX).
pub(crate) const WAIT_MAX: usize = 128;

/// Most descriptors one sleep polls (the rest of a worker's ports are seen on the next wake-up,
/// at most a second later).
pub(crate) const POLL_MAX: usize = 32;
const RING_ENTRIES: u32 = 64;
const POLL: u64 = 3;
const CANCEL: u64 = 4;

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

/// Unix time less monotonic time, nanoseconds: added to a monotonic instant, it gives wall-clock
/// time (captures are stamped so), without reading the wall clock per frame.
pub(crate) fn wall_offset() -> i128 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    unix - i128::from(monotonic().as_nanos())
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
    /// A ring with room for the futex wait, its timeout, [`POLL_MAX`] descriptor polls and
    /// the cancellation of them all; fails where io_uring is unavailable or disabled.
    pub(crate) fn new() -> io::Result<Sleeper> {
        Ok(Sleeper {
            ring: IoUring::new(RING_ENTRIES)?,
        })
    }

    /// Sleep until one of `on` is woken while no longer holding its expected value (at once if
    /// one already differs), one of `fds` becomes readable, or `timeout` passes. May return
    /// early; callers re-check.
    pub(crate) fn wait(
        &mut self,
        on: &[WaitOn],
        fds: &[RawFd],
        timeout: Duration,
    ) -> io::Result<()> {
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
        let fds = &fds[..fds.len().min(POLL_MAX)];
        // SAFETY: the wait and the timeout point at `v` and `ts`, which live until this
        // function returns, and it returns only after every request completed (the loop below
        // reaps one completion per request; the kernel also copies both at submission). The
        // polls refer to descriptors only.
        unsafe {
            let mut sq = self.ring.submission();
            if sq.push(&wait).is_err() || sq.push(&expire).is_err() {
                return Err(io::Error::other("io_uring submission queue full"));
            }
            for &fd in fds {
                let poll = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32).build();
                if sq.push(&poll.user_data(POLL)).is_err() {
                    return Err(io::Error::other("io_uring submission queue full"));
                }
            }
        }
        let mut outstanding = 2 + fds.len();
        let mut cancelled = false;
        while outstanding > 0 {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            outstanding -= self.ring.completion().count();
            if !cancelled && outstanding > 0 {
                // One of them fired: call the others off, then reap them all, so nothing the
                // kernel holds outlives this call.
                cancelled = true;
                outstanding += 1;
                let all = opcode::AsyncCancel2::new(types::CancelBuilder::any()).build();
                // SAFETY: a cancellation refers to no memory.
                if unsafe { self.ring.submission().push(&all.user_data(CANCEL)) }.is_err() {
                    return Err(io::Error::other("io_uring submission queue full"));
                }
            }
        }
        Ok(())
    }
}
