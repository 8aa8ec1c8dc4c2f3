//! Every `unsafe` block and libc call of the shared-memory links: the shared mapping, memfd,
//! futex wait/wake and the liveness probe of a recorded owner.
//!
//! The mapping is memory that another process may write at any time. Everything the link code
//! needs from it goes through the safe methods here, whose `// SAFETY:` comments state the ring
//! protocol that makes each access sound: a byte range is only viewed or written while the
//! protocol gives this side exclusive use of it (the producer owns the free slots, the consumer
//! the published ones), and every word that both sides touch is accessed as an atomic.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// A read-write `MAP_SHARED` mapping of a whole link file (or memfd).
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all cross-thread access goes through atomics or
// through byte ranges the ring protocol hands to exactly one side at a time.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Map the first `len` bytes of `file` shared and read-write.
    pub fn new(file: &File, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty mapping"));
        }
        // SAFETY: no address hint; the fd is valid for the call; the result is checked against
        // MAP_FAILED before use. The caller has checked that the file is at least `len` long
        // (a shorter file would fault on access, not here).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Mapping { ptr, len })
    }

    #[inline(always)]
    fn check(&self, off: usize, len: usize, align: usize) {
        // The link code computes every offset from a validated layout; a failure here is a bug
        // in that code, not something a file or a peer can cause.
        assert!(
            off.checked_add(len).is_some_and(|end| end <= self.len) && off.is_multiple_of(align),
            "link layout bug: access {off}+{len} outside mapping of {} bytes",
            self.len
        );
    }

    /// The 32-bit word at `off` (4-aligned), as an atomic shared with the peer.
    #[inline(always)]
    pub fn u32_at(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4, 4);
        // SAFETY: in bounds and aligned (checked above); the mapping lives as long as &self;
        // AtomicU32 has the layout of u32 and every access to shared words goes through atomics.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast::<u32>()) }
    }

    /// Read-only view of `len` bytes at `off`.
    ///
    /// Used by the point-to-point consumer for slots between its head and the published tail:
    /// the protocol forbids the producer to write them until the consumer publishes its head,
    /// which it does only after the view is gone (the view cannot outlive the `recv` callback).
    #[inline(always)]
    pub fn bytes(&self, off: usize, len: usize) -> &[u8] {
        self.check(off, len, 1);
        // SAFETY: in bounds; the memory is initialised (file pages read as zero when never
        // written); the ring protocol keeps writers off these bytes while the view lives. A
        // peer breaking the protocol can only change the values read, not their validity as u8.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(off), len) }
    }

    /// Copy `src` to `off`. Used by producers for slots the protocol gives them (free slots).
    #[inline(always)]
    pub fn write(&self, off: usize, src: &[u8]) {
        self.check(off, src.len(), 1);
        // SAFETY: in bounds; `src` is a Rust slice and cannot overlap the shared mapping's slot
        // while this side owns the slot; no reader in this process holds a view of a free slot.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(off), src.len());
        }
    }

    /// Copy `dst.len()` bytes from `off` into `dst`, tolerating a concurrent writer: the bytes
    /// may be torn, and the bus reader validates them with the slot's sequence word afterwards.
    #[inline(always)]
    pub fn copy_racy(&self, off: usize, dst: &mut [u8]) {
        self.check(off, dst.len(), 1);
        // SAFETY: in bounds; volatile reads never let the compiler assume the bytes are stable,
        // and torn values are rejected by the caller's seqlock check before anyone sees them.
        unsafe {
            let src = self.ptr.as_ptr().add(off);
            for (i, d) in dst.iter_mut().enumerate() {
                *d = std::ptr::read_volatile(src.add(i));
            }
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping made by `new` and not unmapped since; every borrow
        // into it is tied to &self and so has ended.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// An anonymous memory file (memfd) of `len` bytes, for links inside one process.
pub fn memfd(name: &str, len: u64) -> io::Result<File> {
    let cname = std::ffi::CString::new(name).map_err(io::Error::other)?;
    // SAFETY: cname is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(len)?;
    Ok(file)
}

/// Whether process `pid` exists (a zombie counts as existing until its parent reaps it).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only probes for existence and permission; it sends nothing.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Sleep while `word` holds `expected`, at most `timeout`. Shared (not FUTEX_PRIVATE) so that
/// a wake from another process mapping the same file reaches us. Spurious returns are allowed.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the word is a live, aligned u32 in a shared mapping; ts outlives the call. Errors
    // (EAGAIN: value changed, ETIMEDOUT, EINTR) all mean "go and look again".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wake every waiter sleeping on `word` (in any process).
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: the word is a live, aligned u32; FUTEX_WAKE only reads its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Pin the calling thread to one CPU (benches and tools; the engine will own pinning later).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cpu out of range",
        ));
    }
    // SAFETY: cpu_set_t is plain bits, valid when zeroed; CPU_SET is given an index below
    // CPU_SETSIZE (checked above); pid 0 means the calling thread; the set outlives the call.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
