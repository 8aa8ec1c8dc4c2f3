//! A burst of frames, as ports receive and send them.

use super::{BATCH_MAX, Frame};

/// Up to [`BATCH_MAX`] frames. Its storage is allocated once and reused, so filling and draining
/// a batch on the fast path allocates nothing.
#[derive(Debug)]
pub struct Batch {
    frames: Vec<Frame>,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

impl Batch {
    /// An empty batch with room for [`BATCH_MAX`] frames.
    pub fn new() -> Batch {
        Batch {
            frames: Vec::with_capacity(BATCH_MAX),
        }
    }

    /// Append a frame; gives it back when the batch is full.
    #[inline]
    pub fn push(&mut self, frame: Frame) -> Result<(), Frame> {
        if self.frames.len() == BATCH_MAX {
            return Err(frame);
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no frame is held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// True when no more frames fit.
    pub fn is_full(&self) -> bool {
        self.frames.len() == BATCH_MAX
    }

    /// The frames held, in order.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Fill this empty batch with up to [`BATCH_MAX`] frames from the front of `queue`. A queue
    /// that fits is swapped in whole — its storage for the batch's — so handing a burst from one
    /// instance to the next costs no work per frame. Storage moves between queues and batches
    /// this way, so capacities settle after warm-up rather than at construction.
    pub fn take_from(&mut self, queue: &mut Vec<Frame>) -> usize {
        if self.frames.is_empty() && queue.len() <= BATCH_MAX {
            core::mem::swap(&mut self.frames, queue);
            return self.frames.len();
        }
        let n = queue.len().min(BATCH_MAX - self.frames.len());
        self.frames.extend(queue.drain(..n));
        n
    }

    /// Take every frame out, in order, leaving the batch empty with its storage kept.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Frame> {
        self.frames.drain(..)
    }
}
