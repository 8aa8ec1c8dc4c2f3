//! TAP ports: a router interface that is the far end of a Linux TAP device's wire.
//!
//! What the kernel transmits on the TAP, shoal receives, and what shoal sends, the kernel
//! receives on it — as if the TAP were a NIC cabled to the router. Frames move by io_uring
//! straight between the device and pool buffers: [`RX_DEPTH`] reads are kept posted, each into
//! a fresh buffer at the default headroom with room for the rest of the buffer; a finished read
//! of `n` bytes becomes a frame of length `n` (a read that fills the room may have been
//! truncated by the TAP and is dropped, counted in `rx_oversize`). Writes are posted in batches (one `io_uring_enter`
//! per [`TapPort::send`]); a frame's buffer stays with the port until its write finished and
//! goes back to the pool in the next [`TapPort::poll`] or [`TapPort::send`]. Reads and writes
//! use two rings, so that reaping finished writes never takes received frames the caller has
//! not asked for yet: the receive ring's descriptor ([`TapPort::wait_fd`]) stays readable as
//! long as received frames wait.
//!
//! A TAP shoal creates is not persistent: the kernel removes it when the last descriptor of it
//! closes, also if the process is killed. A TAP that already existed is attached to and left in
//! place. See docs/ports-tap-notes.md for what the mode costs.
//!
//! **Contract:** the pool passed to a port must be the same on every call and must outlive the
//! port, because the kernel writes received frames into it. Drop (or [`TapPort::close`]) the
//! port before its pool; dropping cancels and waits for every operation in flight.

mod sys;

use std::os::fd::RawFd;
use std::time::Duration;

use self::sys::ring::{Op, Ring};
use self::sys::tun::{self, Tun};
use super::{PortError, PortStats};
use crate::frame::{BATCH_MAX, FRAME_SIZE, Frame, Pool};

/// Reads kept posted. At most this many frames are received per [`TapPort::recv`], so it must
/// not exceed a batch: every finished read is handed out by the next call.
pub const RX_DEPTH: usize = BATCH_MAX;

/// Writes in flight at most; a [`TapPort::send`] beyond that counts `tx_full`.
pub const TX_DEPTH: usize = 256;

const _: () = assert!(RX_DEPTH <= BATCH_MAX);

/// How long closing waits for cancelled operations to end.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Failures a TAP port counts beyond [`PortStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TapErrors {
    /// Reads that failed for another reason than an oversized frame; the buffer is reused.
    pub rx_errors: u64,
    /// Writes that failed or wrote less than the whole frame.
    pub tx_errors: u64,
}

/// One queue of a TAP device, moving frames by io_uring.
pub struct TapPort {
    // Field order is drop order: both rings (which cancel and wait for their operations)
    // before the device descriptor they use. Boxed: an `IoUring` is large, and `Port` holds
    // a `TapPort` by value.
    rx: Box<Ring>,
    tx: Box<Ring>,
    tun: Tun,
    multi_queue: bool,
    /// The device went away (`EBADFD`): nothing more is posted.
    gone: bool,
    stats: PortStats,
    errors: TapErrors,
}

impl TapPort {
    /// Open one queue of the TAP `name`. If no device of that name exists it is created (not
    /// persistent: it disappears when its last queue closes) and brought up; if a TAP of that
    /// name exists, this attaches to it and leaves it in place on close. With `multi_queue`,
    /// opening the same name again attaches another queue (one per worker); the device's
    /// queue mode is fixed by whoever created it, and a mismatch is an error.
    ///
    /// No read is posted until the first [`TapPort::recv`] or [`TapPort::poll`], so the
    /// port may be opened on one thread and driven from another (io_uring completes work on
    /// the thread that submitted it).
    pub fn open(name: &str, multi_queue: bool) -> Result<TapPort, PortError> {
        let tun = tun::open(name, multi_queue)?;
        let ring = |op, depth: usize, what| {
            Ring::new(op, std::os::fd::AsRawFd::as_raw_fd(&tun.fd), depth as u32)
                .map(Box::new)
                .map_err(|source| PortError::Os {
                    what,
                    dev: tun.name.clone(),
                    source,
                })
        };
        let rx = ring(Op::Read, RX_DEPTH, "io_uring for receiving")?;
        let tx = ring(Op::Write, TX_DEPTH, "io_uring for sending")?;
        Ok(TapPort {
            rx,
            tx,
            tun,
            multi_queue,
            gone: false,
            stats: PortStats::default(),
            errors: TapErrors::default(),
        })
    }

    /// Open `queues` queues of the TAP `name` (multi-queue when more than one), one per worker.
    pub fn open_queues(name: &str, queues: usize) -> Result<Vec<TapPort>, PortError> {
        let multi = queues > 1;
        (0..queues.max(1))
            .map(|_| TapPort::open(name, multi))
            .collect()
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.tun.name
    }

    /// True when this queue's open created the device (it goes away when its last queue
    /// closes); false when it attached to an existing one.
    pub fn created(&self) -> bool {
        self.tun.created
    }

    /// Take in what the device received: at most [`BATCH_MAX`] frames, appended to `out`,
    /// each a frame of `pool`. Never blocks. Re-posts reads with fresh buffers.
    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        let before = out.len();
        let (stats, errors, gone) = (&mut self.stats, &mut self.errors, &mut self.gone);
        self.rx.reap(|mut frame, res| {
            // A TAP read truncates a frame longer than the buffer to the buffer's size, so a
            // read that fills the room after the headroom is taken for a truncated one.
            let room = FRAME_SIZE - frame.offset();
            if res > 0 && (res as usize) < room && frame.set_len(res as usize).is_ok() {
                stats.rx += 1;
                out.push(frame);
                return;
            }
            pool.free(frame);
            match -res {
                _ if res > 0 => stats.rx_oversize += 1,
                libc::EAGAIN | libc::ECANCELED | libc::EINTR => {}
                libc::EBADFD => {
                    *gone = true;
                    errors.rx_errors += 1;
                }
                _ => errors.rx_errors += 1,
            }
        });
        self.refill(pool);
        out.len() - before
    }

    /// Hand `frames` (of `pool`) to the device, draining the vector, with one submission.
    /// What does not fit in flight is freed and counted in `tx_full`. Never blocks.
    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>) {
        self.reap_tx(pool);
        for frame in frames.drain(..) {
            if self.gone {
                self.errors.tx_errors += 1;
                pool.free(frame);
            } else if let Err(frame) = self.tx.post(pool, frame) {
                self.stats.tx_full += 1;
                pool.free(frame);
            }
        }
        if self.tx.submit().is_err() {
            self.errors.tx_errors += 1;
        }
    }

    /// Reap finished writes (their buffers go back to `pool`) and keep reads posted.
    pub fn poll(&mut self, pool: &mut Pool) {
        self.reap_tx(pool);
        self.refill(pool);
    }

    /// The receive ring's descriptor: readable (`POLLIN`) while finished reads wait for
    /// [`TapPort::recv`]. Writes to a TAP finish during [`TapPort::send`] itself, so they need
    /// no wake-up; their buffers return at the next [`TapPort::poll`]. Reads are posted by
    /// `recv`/`poll`, so call `poll` once before sleeping on this descriptor.
    pub fn wait_fd(&self) -> RawFd {
        self.rx.fd()
    }

    /// Running totals. `rx_oversize` counts frames too large for a buffer: the largest frame
    /// received is [`MAX_DATA`](crate::frame::MAX_DATA)` - 1` bytes (a read that fills the
    /// buffer may have been truncated by the TAP), far above a 1500-byte MTU's 1518.
    pub fn stats(&self) -> PortStats {
        self.stats
    }

    /// Failures beyond [`PortStats`].
    pub fn errors(&self) -> TapErrors {
        self.errors
    }

    /// E.g. `tap0 tap created`, `tap1 tap attached multi-queue`, `... gone`.
    pub fn describe(&self) -> String {
        let how = if self.tun.created {
            "created"
        } else {
            "attached"
        };
        let mq = if self.multi_queue { " multi-queue" } else { "" };
        let gone = if self.gone { " gone" } else { "" };
        format!("{} tap {how}{mq}{gone}", self.tun.name)
    }

    /// Cancel every operation in flight, wait for them, give every buffer the port holds back
    /// to `pool`, and close the queue.
    pub fn close(mut self, pool: &mut Pool) {
        for frame in self.rx.cancel(CLOSE_WAIT) {
            pool.free(frame);
        }
        for frame in self.tx.cancel(CLOSE_WAIT) {
            pool.free(frame);
        }
    }

    fn reap_tx(&mut self, pool: &mut Pool) {
        let (stats, errors, gone) = (&mut self.stats, &mut self.errors, &mut self.gone);
        self.tx.reap(|frame, res| {
            if res >= 0 && res as usize == frame.len() {
                stats.tx += 1;
            } else {
                errors.tx_errors += 1;
                *gone |= res == -libc::EBADFD;
            }
            pool.free(frame);
        });
    }

    /// Post reads until [`RX_DEPTH`] are in flight, and submit them.
    fn refill(&mut self, pool: &mut Pool) {
        if self.gone {
            return;
        }
        while self.rx.in_flight() < RX_DEPTH {
            let Some(frame) = pool.alloc() else {
                self.stats.rx_no_buffer += 1;
                break;
            };
            if let Err(frame) = self.rx.post(pool, frame) {
                pool.free(frame);
                break;
            }
        }
        if self.rx.submit().is_err() {
            self.errors.rx_errors += 1;
        }
    }
}

impl std::fmt::Debug for TapPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_errors_not_panics() {
        for name in ["a/b", "sixteen_chars_xx", "with space"] {
            assert!(matches!(
                TapPort::open(name, false),
                Err(PortError::Os { .. })
            ));
        }
    }
}
