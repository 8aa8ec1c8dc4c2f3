//! The four single-producer/single-consumer rings an AF_XDP socket shares with the kernel.
//!
//! Each ring is a power-of-two array of descriptors in a mapping of the socket, with a producer
//! and a consumer index (free-running `u32`s, the slot is `index & mask`) and a flags word.
//! Whoever produces writes descriptors, then publishes them with a release store of the
//! producer index; whoever consumes reads the producer index with an acquire load, reads the
//! descriptors, then hands the slots back with a release store of the consumer index.
//!
//! - fill (we produce, `u64` UMEM addresses): empty buffers the kernel may receive into;
//! - rx (the kernel produces, `xdp_desc`): received frames, address and length;
//! - tx (we produce, `xdp_desc`): frames to send;
//! - completion (the kernel produces, `u64`): addresses of frames it has sent.
//!
//! With `XDP_USE_NEED_WAKEUP` the kernel sets `XDP_RING_NEED_WAKEUP` in the fill and tx rings'
//! flags when it wants a syscall (`recvfrom`/`sendto`) to look at them again.
//!
//! This is, with `sys.rs`, the only `unsafe` code of the port: the raw accesses to the mapping.
//! The indices are kept locally and published in batches, so a burst costs one atomic store.

use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, Ordering};

use super::Mapping;

/// A ring mapped from a socket; `T` is `u64` (fill, completion) or `libc::xdp_desc`.
struct Ring<T> {
    // Held so the pointers below stay valid; unmapped on drop.
    _map: Mapping,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    descs: *mut T,
    mask: u32,
    _t: PhantomData<T>,
}

// SAFETY: the ring's pointers point into its own mapping, which moves with it; a ring has one
// user-space owner at a time (its port, used from one thread).
unsafe impl<T: Send> Send for Ring<T> {}

impl<T: Copy> Ring<T> {
    /// Map the ring of `size` entries (a power of two) described by `off` at `pgoff`.
    fn map(
        fd: BorrowedFd<'_>,
        off: &libc::xdp_ring_offset,
        size: u32,
        pgoff: u64,
    ) -> io::Result<Ring<T>> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected AF_XDP ring layout");
        if !size.is_power_of_two() {
            return Err(bad());
        }
        let len = off.desc as usize + size as usize * size_of::<T>();
        let word_ok = |o: u64| o.is_multiple_of(4) && o as usize + 4 <= len;
        let layout_ok = word_ok(off.producer)
            && word_ok(off.consumer)
            && word_ok(off.flags)
            && (off.desc as usize).is_multiple_of(align_of::<T>());
        if !layout_ok {
            return Err(bad());
        }
        let map = Mapping::ring(fd, len, pgoff)?;
        let base = map.ptr().as_ptr();
        debug_assert_eq!(map.len(), len);
        // SAFETY: every offset was checked above to lie inside the mapping (with room for the
        // word or the descriptor array) and to be aligned for what is read there.
        let (producer, consumer, flags, descs) = unsafe {
            (
                base.add(off.producer as usize).cast::<AtomicU32>(),
                base.add(off.consumer as usize).cast::<AtomicU32>(),
                base.add(off.flags as usize).cast::<AtomicU32>(),
                base.add(off.desc as usize).cast::<T>(),
            )
        };
        Ok(Ring {
            _map: map,
            producer,
            consumer,
            flags,
            descs,
            mask: size - 1,
            _t: PhantomData,
        })
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: points into `self.map`, alive as long as `self`, aligned (checked in `map`).
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as for `producer`.
        unsafe { &*self.consumer }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as for `producer`.
        let flags = unsafe { &*self.flags };
        flags.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    fn read(&self, index: u32) -> T {
        // SAFETY: `index & mask` < size, so the slot is inside the descriptor array; the caller
        // only reads slots the kernel published (acquire on the producer index).
        unsafe { self.descs.add((index & self.mask) as usize).read_volatile() }
    }

    fn write(&mut self, index: u32, value: T) {
        // SAFETY: `index & mask` < size; the caller only writes slots the kernel gave back
        // (acquire on the consumer index) and not yet published.
        unsafe {
            self.descs
                .add((index & self.mask) as usize)
                .write_volatile(value)
        }
    }
}

/// A ring user space produces into (fill, tx).
pub struct Producer<T> {
    ring: Ring<T>,
    /// Next slot to write; published to the kernel by [`Producer::publish`].
    head: u32,
    /// Consumer index as last read.
    tail: u32,
}

impl<T: Copy> Producer<T> {
    /// Map a producer ring.
    pub fn map(
        fd: BorrowedFd<'_>,
        off: &libc::xdp_ring_offset,
        size: u32,
        pgoff: u64,
    ) -> io::Result<Producer<T>> {
        let ring = Ring::map(fd, off, size, pgoff)?;
        let head = ring.producer().load(Ordering::Relaxed);
        let tail = ring.consumer().load(Ordering::Acquire);
        Ok(Producer { ring, head, tail })
    }

    /// Free slots, refreshing the kernel's consumer index.
    pub fn room(&mut self) -> u32 {
        self.tail = self.ring.consumer().load(Ordering::Acquire);
        self.ring.mask + 1 - self.head.wrapping_sub(self.tail)
    }

    /// Write one entry, unpublished; gives it back if the ring is full.
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.head.wrapping_sub(self.tail) > self.ring.mask && self.room() == 0 {
            return Err(value);
        }
        self.ring.write(self.head, value);
        self.head = self.head.wrapping_add(1);
        Ok(())
    }

    /// Make the entries pushed so far visible to the kernel.
    pub fn publish(&mut self) {
        self.ring.producer().store(self.head, Ordering::Release);
    }

    /// Entries published and not yet taken by the kernel.
    pub fn pending(&mut self) -> u32 {
        self.ring.mask + 1 - self.room()
    }

    /// The kernel asked for a syscall to look at this ring.
    pub fn needs_wakeup(&self) -> bool {
        self.ring.needs_wakeup()
    }
}

/// A ring the kernel produces into (rx, completion).
pub struct Consumer<T> {
    ring: Ring<T>,
    /// Next slot to read; released to the kernel by [`Consumer::release`].
    tail: u32,
    /// Producer index as last read.
    head: u32,
}

impl<T: Copy> Consumer<T> {
    /// Map a consumer ring.
    pub fn map(
        fd: BorrowedFd<'_>,
        off: &libc::xdp_ring_offset,
        size: u32,
        pgoff: u64,
    ) -> io::Result<Consumer<T>> {
        let ring = Ring::map(fd, off, size, pgoff)?;
        let tail = ring.consumer().load(Ordering::Relaxed);
        let head = ring.producer().load(Ordering::Acquire);
        Ok(Consumer { ring, tail, head })
    }

    /// The next entry, if the kernel produced one.
    pub fn pop(&mut self) -> Option<T> {
        if self.tail == self.head {
            self.head = self.ring.producer().load(Ordering::Acquire);
            if self.tail == self.head {
                return None;
            }
        }
        let value = self.ring.read(self.tail);
        self.tail = self.tail.wrapping_add(1);
        Some(value)
    }

    /// Hand the slots read so far back to the kernel.
    pub fn release(&mut self) {
        self.ring.consumer().store(self.tail, Ordering::Release);
    }
}
