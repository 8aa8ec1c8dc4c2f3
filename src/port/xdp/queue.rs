//! One AF_XDP socket: bound to one receive queue of the device, with its four rings.
//!
//! The first socket of a port registers the worker's pool as its UMEM; the others bind with
//! `XDP_SHARED_UMEM` to it, each with a fill and a completion ring of its own (the kernel
//! requires one pair per device queue).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::sys;
use super::sys::ring::{Consumer, Producer};
use crate::frame::{FRAME_SIZE, Pool};

/// Entries of each ring. Deep enough to ride out a burst between two polls of the worker.
pub const RING_SIZE: u32 = 2048;

/// The step of socket set-up that failed, for the error message.
#[derive(Debug)]
pub struct SetupError {
    pub what: &'static str,
    pub source: io::Error,
}

fn step<T>(what: &'static str, r: io::Result<T>) -> Result<T, SetupError> {
    r.map_err(|source| SetupError { what, source })
}

/// A bound socket and its rings.
pub struct Queue {
    pub fill: Producer<u64>,
    pub comp: Consumer<u64>,
    pub rx: Consumer<libc::xdp_desc>,
    pub tx: Producer<libc::xdp_desc>,
    /// Buffers given to the kernel through the fill ring and not yet received back.
    pub posted: u32,
    /// Frames put on the transmit ring and not yet completed.
    pub in_flight: u32,
    /// The device queue the socket is bound to.
    pub id: u32,
    // Declared last: the rings above are unmapped before the socket closes.
    fd: OwnedFd,
}

impl Queue {
    /// A socket on queue `queue` of device `ifindex`. Without `shared` it registers `pool` as
    /// its UMEM (see [`sys::register_umem`] for what that asks of the pool); with it, it shares
    /// that socket's UMEM. `flags` is `XDP_COPY` or `XDP_ZEROCOPY`.
    pub fn open(
        ifindex: u32,
        queue: u32,
        pool: &mut Pool,
        shared: Option<BorrowedFd<'_>>,
        flags: u16,
    ) -> Result<Queue, SetupError> {
        let fd = step("creating the AF_XDP socket", sys::xsk_socket())?;
        let s = fd.as_fd();
        if shared.is_none() {
            let reg = sys::register_umem(s, pool, FRAME_SIZE as u32);
            step("registering the frame pool as UMEM", reg)?;
        }
        for ring in [
            libc::XDP_UMEM_FILL_RING,
            libc::XDP_UMEM_COMPLETION_RING,
            libc::XDP_RX_RING,
            libc::XDP_TX_RING,
        ] {
            step(
                "sizing the AF_XDP rings",
                sys::set_ring_size(s, ring, RING_SIZE),
            )?;
        }
        let off = step("reading the ring layout", sys::mmap_offsets(s))?;
        let map = "mapping the AF_XDP rings";
        let fill = step(
            map,
            Producer::map(s, &off.fr, RING_SIZE, libc::XDP_UMEM_PGOFF_FILL_RING),
        )?;
        let comp = step(
            map,
            Consumer::map(s, &off.cr, RING_SIZE, libc::XDP_UMEM_PGOFF_COMPLETION_RING),
        )?;
        let rx = step(
            map,
            Consumer::map(s, &off.rx, RING_SIZE, libc::XDP_PGOFF_RX_RING as u64),
        )?;
        let tx = step(
            map,
            Producer::map(s, &off.tx, RING_SIZE, libc::XDP_PGOFF_TX_RING as u64),
        )?;
        let flags = flags | libc::XDP_USE_NEED_WAKEUP;
        step(
            "binding the AF_XDP socket",
            sys::bind(s, ifindex, queue, flags, shared),
        )?;
        Ok(Queue {
            fill,
            comp,
            rx,
            tx,
            posted: 0,
            in_flight: 0,
            id: queue,
            fd,
        })
    }

    /// The socket.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
