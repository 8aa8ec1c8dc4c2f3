//! The pool: a region of `FRAME_SIZE` buffers and a free list of their indices.

use super::sys::Region;
use super::{FRAME_SIZE, Frame};

/// Why a pool could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// More frames than a 32-bit index can name, or than the address space holds.
    #[error("a pool of {0} frames is too large")]
    TooLarge(usize),
    /// The kernel refused the mapping.
    #[error("cannot map the frame pool: {0}")]
    Map(#[from] std::io::Error),
}

/// Preallocated buffers, handed out as [`Frame`]s and taken back by [`Pool::free`].
///
/// The free list is a stack, so the most recently freed (cache-warm) buffer is reused first and
/// a pool much larger than the working set keeps most of its pages untouched.
pub struct Pool {
    region: Region,
    free: Vec<u32>,
    capacity: u32,
}

impl Pool {
    /// A pool of `count` buffers.
    pub fn new(count: usize) -> Result<Pool, PoolError> {
        let capacity = u32::try_from(count).map_err(|_| PoolError::TooLarge(count))?;
        let bytes = count
            .checked_mul(FRAME_SIZE)
            .ok_or(PoolError::TooLarge(count))?;
        let region = Region::new(bytes)?;
        let free = (0..capacity).rev().collect();
        Ok(Pool {
            region,
            free,
            capacity,
        })
    }

    /// Number of buffers in the pool.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Number of buffers free right now.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Take a free buffer: an empty frame at the default headroom, or `None` when exhausted.
    #[inline]
    pub fn alloc(&mut self) -> Option<Frame> {
        self.free.pop().map(Frame::fresh)
    }

    /// Give a buffer back.
    #[inline]
    pub fn free(&mut self, frame: Frame) {
        debug_assert!(frame.index < self.capacity, "frame from another pool");
        debug_assert!(
            self.free.len() < self.capacity as usize,
            "more frees than buffers"
        );
        self.free.push(frame.index);
    }

    /// The data bytes of a frame.
    #[inline]
    pub fn data(&self, frame: &Frame) -> &[u8] {
        let start = Self::start(frame);
        &self.region.as_slice()[start..start + frame.len()]
    }

    /// The data bytes of a frame, writable.
    #[inline]
    pub fn data_mut(&mut self, frame: &Frame) -> &mut [u8] {
        let start = Self::start(frame);
        &mut self.region.as_mut_slice()[start..start + frame.len()]
    }

    /// The whole buffer behind a frame, headroom included, writable.
    #[inline]
    pub fn buffer_mut(&mut self, frame: &Frame) -> &mut [u8] {
        let start = frame.index as usize * FRAME_SIZE;
        &mut self.region.as_mut_slice()[start..start + FRAME_SIZE]
    }

    /// Copy `bytes` into a fresh frame; `None` when the pool is exhausted or `bytes` is longer
    /// than a frame's data area.
    pub fn alloc_from(&mut self, bytes: &[u8]) -> Option<Frame> {
        let mut frame = self.alloc()?;
        if frame.set_len(bytes.len()).is_err() {
            self.free(frame);
            return None;
        }
        self.data_mut(&frame).copy_from_slice(bytes);
        Some(frame)
    }

    /// A new frame holding a copy of `frame`'s data at the same offset; `None` when the pool
    /// is exhausted. What a hub does for each listener but the last.
    pub fn duplicate(&mut self, frame: &Frame) -> Option<Frame> {
        let mut copy = self.alloc()?;
        // Same offset and length as a frame of this pool always fit a buffer.
        let _ = copy.reset_head(frame.offset());
        let _ = copy.set_len(frame.len());
        self.copy_between(frame, 0..frame.len(), &copy, 0);
        Some(copy)
    }

    /// Copy bytes `from` (a range of `src`'s data) to offset `to` of `dst`'s data. Both frames
    /// must hold the bytes named (a violation is a caller bug and panics).
    pub fn copy_between(
        &mut self,
        src: &Frame,
        from: core::ops::Range<usize>,
        dst: &Frame,
        to: usize,
    ) {
        assert!(
            from.end <= src.len() && to + from.len() <= dst.len(),
            "copy outside frame data"
        );
        let (s, d) = (Self::start(src), Self::start(dst));
        self.region
            .as_mut_slice()
            .copy_within(s + from.start..s + from.end, d + to);
    }

    /// Move bytes `from` (a range of the frame's data) to offset `to` of the same frame's data;
    /// the ranges may overlap. Both must lie inside the frame's buffer.
    pub fn copy_within(&mut self, frame: &Frame, from: core::ops::Range<usize>, to: usize) {
        let s = Self::start(frame);
        assert!(
            frame.offset() + from.end.max(to + from.len()) <= FRAME_SIZE,
            "move outside buffer"
        );
        self.region
            .as_mut_slice()
            .copy_within(s + from.start..s + from.end, s + to);
    }

    /// The whole region, as an AF_XDP UMEM would register it.
    pub fn region(&self) -> &[u8] {
        self.region.as_slice()
    }

    /// The region's start and length, for registering it as an AF_XDP UMEM. The kernel then
    /// writes received frames into buffers the port gave it and reads the ones it sends; the
    /// pool must outlive every socket registered on it.
    pub(crate) fn umem_area(&mut self) -> (*mut u8, usize) {
        let area = self.region.as_mut_slice();
        (area.as_mut_ptr(), area.len())
    }

    fn start(frame: &Frame) -> usize {
        frame.index as usize * FRAME_SIZE + frame.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{HEADROOM, MAX_DATA};

    #[test]
    fn alloc_free_reuses_the_warm_buffer() {
        let mut pool = Pool::new(4).unwrap();
        assert_eq!(pool.region().len(), 4 * FRAME_SIZE);
        let a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        assert_eq!((a.index(), b.index()), (0, 1));
        assert_eq!(pool.available(), 2);
        pool.free(b);
        assert_eq!(pool.alloc().unwrap().index(), 1);
        pool.free(a);
    }

    #[test]
    fn exhaustion_is_none_not_a_panic() {
        let mut pool = Pool::new(2).unwrap();
        let _a = pool.alloc().unwrap();
        let _b = pool.alloc().unwrap();
        assert!(pool.alloc().is_none());
        assert!(pool.alloc_from(&[1, 2, 3]).is_none());
    }

    #[test]
    fn data_views_follow_offset_and_length() {
        let mut pool = Pool::new(2).unwrap();
        let mut f = pool.alloc_from(&[1, 2, 3, 4]).unwrap();
        assert_eq!(pool.data(&f), &[1, 2, 3, 4]);
        f.push_head(2).unwrap();
        pool.data_mut(&f)[..2].copy_from_slice(&[9, 8]);
        assert_eq!(pool.data(&f), &[9, 8, 1, 2, 3, 4]);
        assert_eq!(pool.buffer_mut(&f)[HEADROOM - 2], 9);
        assert!(pool.alloc_from(&vec![0; MAX_DATA + 1]).is_none());
        assert_eq!(pool.available(), 1);
    }

    #[test]
    fn duplicates_are_independent_copies() {
        let mut pool = Pool::new(2).unwrap();
        let mut f = pool.alloc_from(&[1, 2, 3]).unwrap();
        f.pull_head(1).unwrap();
        let d = pool.duplicate(&f).unwrap();
        assert_eq!((d.offset(), pool.data(&d)), (f.offset(), &[2u8, 3][..]));
        pool.data_mut(&d)[0] = 9;
        assert_eq!(pool.data(&f), &[2, 3]);
        assert!(pool.duplicate(&f).is_none(), "exhausted");
    }

    #[test]
    fn zero_sized_pool_is_valid() {
        let mut pool = Pool::new(0).unwrap();
        assert!(pool.alloc().is_none());
    }
}
