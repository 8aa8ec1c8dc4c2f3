//! The system calls of the VDE media: an epoll set over their sockets, batches of datagrams in
//! and out of pool buffers (`recvmmsg`, `sendmmsg`), a control stream connected without
//! blocking, writes that never raise SIGPIPE, and the descriptor juggling that hands standard
//! input and output to the stream form.
//!
//! Everything else (binding, accepting, reading a control stream) is the standard library's.

#![allow(unsafe_code)]

use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::frame::{BATCH_MAX, FRAME_SIZE, Frame, Pool};

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// What an epoll event says of its descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    /// The token the descriptor was added with.
    pub token: u64,
    /// Readable, or hung up, or in error: reading says which.
    pub read: bool,
    /// Writable (only asked for while output waits).
    pub write: bool,
}

/// An epoll set: readable when any member is ready, so an idle worker sleeps on this one
/// descriptor for every socket of a medium.
pub(crate) struct Poller {
    fd: OwnedFd,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: plain epoll_create1(2); the result is checked and owned once.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just created and nothing else owns it.
        Ok(Poller {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, write: bool) -> io::Result<()> {
        let mut events = libc::EPOLLIN | libc::EPOLLRDHUP;
        if write {
            events |= libc::EPOLLOUT;
        }
        let mut ev = libc::epoll_event {
            events: events as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid event; `fd` is an open descriptor of the caller (for DEL the
        // kernel ignores the event).
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    /// Watch `fd` for input (and output when `write`), reported with `token`.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, write: bool) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), token, write)
    }

    /// Stop watching `fd` (closing it does too, when no duplicate is open).
    pub fn remove(&self, fd: BorrowedFd<'_>) {
        // A descriptor that was never added is no error worth reporting.
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, false);
    }

    /// What is ready now, without waiting, appended to `out` (at most a batch).
    pub fn ready(&self, out: &mut Vec<Ready>) -> io::Result<()> {
        // SAFETY: epoll_event is plain data, valid when zeroed.
        let mut evs: [libc::epoll_event; BATCH_MAX] = unsafe { zeroed() };
        // SAFETY: `evs` is writable for BATCH_MAX events; a zero timeout never blocks.
        let n = check(unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                evs.as_mut_ptr(),
                BATCH_MAX as libc::c_int,
                0,
            )
        });
        let n = match n {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        for ev in &evs[..n] {
            let bits = ev.events as libc::c_int;
            out.push(Ready {
                token: ev.u64,
                read: bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR)
                    != 0,
                write: bits & libc::EPOLLOUT != 0,
            });
        }
        Ok(())
    }

    /// The set's descriptor, for a worker to sleep on.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// One datagram received into a frame: its length as received, and whether the kernel cut it
/// to the buffer (it was longer than a frame holds).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Datagram {
    pub len: usize,
    pub truncated: bool,
}

/// Receive up to `frames.len()` datagrams from `fd`, one into each frame's buffer from its
/// offset on (the frames' lengths are not changed: `got[i]` says what arrived in frame `i`).
/// Returns how many arrived; none (not an error) when nothing waits.
pub(crate) fn recv_frames(
    fd: BorrowedFd<'_>,
    pool: &mut Pool,
    frames: &[Frame],
    got: &mut [Datagram; BATCH_MAX],
) -> io::Result<usize> {
    let n = frames.len().min(BATCH_MAX);
    if n == 0 {
        return Ok(0);
    }
    let (base, size) = pool.umem_area();
    // SAFETY: iovec and mmsghdr are plain data, valid when zeroed (null pointers, no name).
    let mut iov: [libc::iovec; BATCH_MAX] = unsafe { zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; BATCH_MAX] = unsafe { zeroed() };
    for (k, frame) in frames[..n].iter().enumerate() {
        let start = frame.index() as usize * FRAME_SIZE + frame.offset();
        let room = FRAME_SIZE - frame.offset();
        assert!(
            start + room <= size,
            "a frame of this pool lies inside its region"
        );
        // SAFETY: `start + room` lies inside the region (checked above); each frame is an
        // owned handle to a distinct buffer, so the ranges do not overlap.
        iov[k].iov_base = unsafe { base.add(start) }.cast();
        iov[k].iov_len = room;
        msgs[k].msg_hdr.msg_iov = &mut iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every message points at one iovec describing a writable buffer of the pool,
    // owned by the caller's frames, which the pool does not touch during the call; a null
    // timeout and MSG_DONTWAIT make the call return at once.
    let rc = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            core::ptr::null_mut(),
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(e),
        };
    }
    let rc = rc as usize;
    for (g, m) in got.iter_mut().zip(&msgs[..rc]) {
        *g = Datagram {
            len: m.msg_len as usize,
            truncated: m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        };
    }
    Ok(rc)
}

/// Send each of `datagrams` (at most a batch) as one datagram on the connected socket `fd`.
/// Returns how many went, a prefix: fewer when the peer's queue filled (`Ok`), an error when
/// the first could not go for another reason (the peer is gone: `ECONNREFUSED`).
pub(crate) fn send_datagrams(fd: BorrowedFd<'_>, datagrams: &[&[u8]]) -> io::Result<usize> {
    let n = datagrams.len().min(BATCH_MAX);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec and mmsghdr are plain data, valid when zeroed.
    let mut iov: [libc::iovec; BATCH_MAX] = unsafe { zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; BATCH_MAX] = unsafe { zeroed() };
    for (k, d) in datagrams[..n].iter().enumerate() {
        iov[k].iov_base = d.as_ptr() as *mut libc::c_void;
        iov[k].iov_len = d.len();
        msgs[k].msg_hdr.msg_iov = &mut iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every message points at one iovec over a slice borrowed for the call, which the
    // kernel only reads; MSG_DONTWAIT makes the call return at once.
    let rc = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(e),
        };
    }
    Ok(rc as usize)
}

/// Write what fits of `bytes` to the stream `fd` without blocking and without SIGPIPE (a
/// peer that went away is `EPIPE`). Returns how much went; 0 when nothing fits now.
pub(crate) fn send_stream(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is readable for its length for the duration of the call.
    let rc = unsafe {
        libc::send(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(e),
        };
    }
    Ok(rc as usize)
}

/// A unix stream socket to `path`, connected without blocking: a switch whose backlog is full
/// answers `WouldBlock` instead of stalling the worker. Non-blocking and close-on-exec.
pub(crate) fn connect_stream(path: &Path) -> io::Result<UnixStream> {
    let addr = sockaddr(path)?;
    // SAFETY: plain socket(2); the result is checked and owned once.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just created and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `addr` is a valid sockaddr_un for the length given.
    check(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    })?;
    Ok(UnixStream::from(fd))
}

fn sockaddr(path: &Path) -> io::Result<libc::sockaddr_un> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data, valid when zeroed.
    let mut addr: libc::sockaddr_un = unsafe { zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() || bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a unix socket path", path.display()),
        ));
    }
    for (d, &s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = s as libc::c_char;
    }
    Ok(addr)
}

/// Set or clear `O_NONBLOCK` on `fd`'s open file description; returns whether it was set.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<bool> {
    // SAFETY: F_GETFL on an open descriptor reads its flags.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    let was = flags & libc::O_NONBLOCK != 0;
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL with flags read from the same descriptor.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) })?;
    Ok(was)
}

/// A new descriptor for what `fd` refers to (close-on-exec).
pub(crate) fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor; the result is checked and owned once.
    let new = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: `new` was just made and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Make descriptor `to` refer to what `from` refers to (closing what `to` was).
pub(crate) fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2(2) on descriptors of this process; `to` is a standard descriptor that the
    // caller means to replace, owned by no Rust value.
    check(unsafe { libc::dup2(from, to) }).map(drop)
}

/// Let a write to a pipe whose reader is gone fail with `EPIPE` rather than end the process:
/// the stream form writes frames to standard output, and a reader going away is its end, not
/// the process's.
pub(crate) fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
