//! The memory region behind a pool: one anonymous, page-aligned mapping.
//!
//! A mapping rather than a heap allocation because an AF_XDP UMEM must be page-aligned and
//! because untouched pages cost no resident memory: a large pool of which a few frames are in use
//! stays small in RSS. All `unsafe` of the frame pool lives here.

#![allow(unsafe_code)]

use std::io;
use std::ptr::NonNull;

/// An owned, zero-filled, read-write anonymous mapping.
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain memory owned by this value; access goes through &self/&mut self.
unsafe impl Send for Region {}
// SAFETY: shared access only hands out `&[u8]`.
unsafe impl Sync for Region {}

impl Region {
    /// Map `len` bytes (rounded up by the kernel to whole pages).
    pub fn new(len: usize) -> io::Result<Region> {
        if len == 0 {
            return Ok(Region {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        // SAFETY: an anonymous private mapping with no address hint has no preconditions; the
        // result is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Region { ptr, len })
    }

    /// The whole region.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for len bytes for the lifetime of self (or dangling with len 0),
        // and the memory is initialised (zero-filled by the kernel).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The whole region, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and &mut self guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: ptr/len describe a mapping made by `new` and not unmapped since.
            unsafe {
                libc::munmap(self.ptr.as_ptr().cast(), self.len);
            }
        }
    }
}
