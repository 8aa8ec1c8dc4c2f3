//! The frame pool: preallocated fixed-size buffers and the owned handles that name them.
//!
//! Bytes live in one [`Pool`] per worker and never move; what moves is a [`Frame`], an index
//! into the pool plus the offset and length of the data inside that buffer. The pool is laid out
//! like an AF_XDP UMEM (buffer `i` starts at byte `i * FRAME_SIZE` of one page-aligned region) so
//! that an AF_XDP socket can later share it and a frame's UMEM address is simply
//! [`Frame::addr`]. Every buffer keeps [`HEADROOM`] bytes in front of the data so headers can be
//! prepended in place (an ICMP error is built in front of the packet it quotes).
//!
//! A `Frame` is deliberately neither `Clone` nor `Copy`: whoever holds it owns the buffer, and
//! [`Pool::free`] consumes it, so a double free does not compile.

mod batch;
mod pool;
mod sys;

pub use batch::Batch;
pub use pool::{Pool, PoolError};

/// Size of one buffer, as in an AF_XDP UMEM with the default chunk size.
pub const FRAME_SIZE: usize = 2048;

/// Bytes kept free in front of received data (XDP_PACKET_HEADROOM in the kernel).
pub const HEADROOM: usize = 256;

/// The most data a frame can hold when it starts at the default headroom.
pub const MAX_DATA: usize = FRAME_SIZE - HEADROOM;

/// Most frames in one burst, as a port receives or sends them.
pub const BATCH_MAX: usize = 64;

/// An owned reference to one buffer of a [`Pool`]: index, data offset, data length.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    index: u32,
    offset: u16,
    len: u16,
}

/// The frame had no room for the requested change of its head or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame has no room for that")]
pub struct NoRoom;

impl Frame {
    /// A frame at the default headroom with no data yet.
    const fn fresh(index: u32) -> Frame {
        Frame {
            index,
            offset: HEADROOM as u16,
            len: 0,
        }
    }

    /// Rebuild the handle of a buffer a device held, from its UMEM address and data length
    /// (an AF_XDP receive descriptor). `None` if the data would leave the buffer. The caller
    /// asserts the buffer is its own: it gave it to the device and the device gave it back.
    pub(crate) fn from_umem(addr: u64, len: usize) -> Option<Frame> {
        let index = u32::try_from(addr / FRAME_SIZE as u64).ok()?;
        let offset = (addr % FRAME_SIZE as u64) as usize;
        if offset + len > FRAME_SIZE {
            return None;
        }
        Some(Frame {
            index,
            offset: offset as u16,
            len: len as u16,
        })
    }

    /// Index of the buffer in its pool.
    pub const fn index(&self) -> u32 {
        self.index
    }

    /// Offset of the first data byte inside the buffer.
    pub const fn offset(&self) -> usize {
        self.offset as usize
    }

    /// Number of data bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the frame holds no data.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The UMEM address of the first data byte.
    pub const fn addr(&self) -> u64 {
        self.index as u64 * FRAME_SIZE as u64 + self.offset as u64
    }

    /// Set the data length, keeping the start. Fails if the data would leave the buffer.
    pub fn set_len(&mut self, len: usize) -> Result<(), NoRoom> {
        if self.offset() + len > FRAME_SIZE {
            return Err(NoRoom);
        }
        self.len = len as u16;
        Ok(())
    }

    /// Shorten the data to at most `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.len = len as u16;
        }
    }

    /// Grow the data at the front by `n` bytes taken from the headroom.
    pub fn push_head(&mut self, n: usize) -> Result<(), NoRoom> {
        if n > self.offset() {
            return Err(NoRoom);
        }
        self.offset -= n as u16;
        self.len += n as u16;
        Ok(())
    }

    /// Drop `n` bytes from the front of the data, giving them to the headroom.
    pub fn pull_head(&mut self, n: usize) -> Result<(), NoRoom> {
        if n > self.len() {
            return Err(NoRoom);
        }
        self.offset += n as u16;
        self.len -= n as u16;
        Ok(())
    }

    /// Move the data start to `offset` (data bytes are not moved), keeping the length if it
    /// still fits.
    pub fn reset_head(&mut self, offset: usize) -> Result<(), NoRoom> {
        if offset + self.len() > FRAME_SIZE {
            return Err(NoRoom);
        }
        self.offset = offset as u16;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_length_moves_stay_inside_the_buffer() {
        let mut f = Frame::fresh(3);
        assert_eq!(f.addr(), 3 * 2048 + 256);
        f.set_len(100).unwrap();
        f.push_head(28).unwrap();
        assert_eq!((f.offset(), f.len()), (228, 128));
        f.pull_head(28).unwrap();
        assert_eq!((f.offset(), f.len()), (256, 100));
        assert_eq!(f.push_head(257), Err(NoRoom));
        assert_eq!(f.pull_head(101), Err(NoRoom));
        assert_eq!(f.set_len(FRAME_SIZE), Err(NoRoom));
        f.set_len(MAX_DATA).unwrap();
        f.truncate(60);
        assert_eq!(f.len(), 60);
        f.truncate(70);
        assert_eq!(f.len(), 60);
        assert_eq!(f.reset_head(FRAME_SIZE - 59), Err(NoRoom));
    }
}
