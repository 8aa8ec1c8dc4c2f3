//! An io_uring that reads into, or writes from, frames of a pool, and owns each frame until the
//! kernel is done with it.
//!
//! The one invariant the `unsafe` here rests on: a frame whose buffer an operation names sits in
//! a slot of the ring from the moment the entry is pushed until its completion is reaped, and
//! nothing else can reach it meanwhile (the caller gave the `Frame` up). Dropping a `Ring`
//! cancels what is in flight and waits for it, so once the ring is gone the kernel no longer
//! touches pool memory. What the ring cannot enforce is that the *pool* lives that long: the
//! owner must drop (or [`Ring::cancel`]) the ring before dropping the pool, exactly as an
//! AF_XDP socket must go before its UMEM.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::types::{CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, opcode};

use crate::frame::{FRAME_SIZE, Frame, Pool};

/// Which operation a ring issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Read a frame from the device into the buffer's room after the frame's offset.
    Read,
    /// Write the frame's data to the device.
    Write,
}

/// An io_uring with at most `depth` operations of one kind in flight on one descriptor.
pub(crate) struct Ring {
    ring: IoUring,
    op: Op,
    fd: RawFd,
    /// The frame each in-flight operation uses, by slot (the entry's user data).
    slots: Vec<Option<Frame>>,
    free: Vec<u32>,
    /// Start of the pool region the in-flight operations point into (0: none yet).
    area: usize,
}

impl Ring {
    /// A ring issuing `op` on `fd` (which must stay open as long as the ring), with room for
    /// `depth` operations in flight.
    pub(crate) fn new(op: Op, fd: RawFd, depth: u32) -> io::Result<Ring> {
        // The completion queue (twice the submission queue) can never overflow: at most
        // `depth` operations are in flight.
        let ring = IoUring::builder().dontfork().build(depth)?;
        Ok(Ring {
            ring,
            op,
            fd,
            slots: (0..depth).map(|_| None).collect(),
            free: (0..depth).rev().collect(),
            area: 0,
        })
    }

    /// The ring's descriptor: readable while completions wait to be reaped.
    pub(crate) fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Operations in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Queue the ring's operation on `frame` (submitted by the next [`Ring::submit`]). Gives
    /// the frame back when the ring is at capacity, the frame does not lie in `pool`, or
    /// operations into another pool are still in flight.
    pub(crate) fn post(&mut self, pool: &mut Pool, frame: Frame) -> Result<(), Frame> {
        let (base, size) = pool.umem_area();
        let len = match self.op {
            Op::Read => FRAME_SIZE - frame.offset(),
            Op::Write => frame.len(),
        };
        let start = frame.index() as usize * FRAME_SIZE + frame.offset();
        if start + len > size || (self.area != 0 && self.area != base as usize) {
            return Err(frame);
        }
        let Some(slot) = self.free.pop() else {
            return Err(frame);
        };
        // `start + len` lies inside the region, checked above.
        let ptr = base.wrapping_add(start);
        let fd = Fd(self.fd);
        let entry = match self.op {
            Op::Read => opcode::Read::new(fd, ptr, len as u32).build(),
            Op::Write => opcode::Write::new(fd, ptr, len as u32).build(),
        }
        .user_data(u64::from(slot));
        // SAFETY: the entry names `len` bytes of the pool region at `ptr`, all inside the
        // region (checked above) and inside `frame`'s buffer. The frame moves into its slot
        // below and leaves it only when the completion is reaped (or never, if the operation
        // outlives a cancel), so no one else reads or writes those bytes while the kernel may.
        // The region outlives the operation: `Drop` cancels and waits, and the owner drops the
        // ring before the pool (the contract in the module docs).
        let pushed = unsafe { self.ring.submission().push(&entry).is_ok() };
        if !pushed {
            self.free.push(slot);
            return Err(frame);
        }
        self.slots[slot as usize] = Some(frame);
        self.area = base as usize;
        Ok(())
    }

    /// Hand queued entries to the kernel. `EBUSY`/`EAGAIN`/`EINTR` leave them queued for the
    /// next call.
    pub(crate) fn submit(&mut self) -> io::Result<()> {
        if self.ring.submission().is_empty() {
            return Ok(());
        }
        match self.ring.submit() {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Take every finished operation: `done(frame, result)` with the kernel's result (bytes
    /// moved, or a negated errno).
    pub(crate) fn reap(&mut self, mut done: impl FnMut(Frame, i32)) {
        let Ring {
            ring, slots, free, ..
        } = self;
        for cqe in ring.completion() {
            let Some(slot) = slots.get_mut(cqe.user_data() as usize) else {
                continue;
            };
            if let Some(frame) = slot.take() {
                free.push(cqe.user_data() as u32);
                done(frame, cqe.result());
            }
        }
        if self.free.len() == self.slots.len() {
            self.area = 0;
        }
    }

    /// Cancel everything in flight and wait up to `wait` for it to end; returns the frames of
    /// the operations that ended. Frames of any operation still running after that stay in
    /// their slots (and are lost to the pool), so the kernel never writes to a buffer that
    /// was handed out again.
    pub(crate) fn cancel(&mut self, wait: Duration) -> Vec<Frame> {
        let mut back = Vec::new();
        let _ = self.submit();
        self.reap(|f, _| back.push(f));
        if self.in_flight() == 0 {
            return back;
        }
        let ts = Timespec::from(wait);
        let _ = self
            .ring
            .submitter()
            .register_sync_cancel(Some(ts), CancelBuilder::any());
        let deadline = Instant::now() + wait;
        loop {
            self.reap(|f, _| back.push(f));
            let now = Instant::now();
            if self.in_flight() == 0 || now >= deadline {
                break;
            }
            let ts = Timespec::from((deadline - now).min(Duration::from_millis(10)));
            let args = SubmitArgs::new().timespec(&ts);
            let _ = self.ring.submitter().submit_with_args(1, &args);
        }
        back
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Frames returned here are dropped without going back to a pool (there is none to
        // hand them to); what matters is that no operation still points into pool memory.
        drop(self.cancel(Duration::from_secs(1)));
    }
}
