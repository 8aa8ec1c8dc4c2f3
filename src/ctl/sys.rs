//! What the control socket needs of libc: waiting on several descriptors at once, and the
//! user id.

#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::time::Duration;

/// Readiness of one descriptor after [`poll`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Ready {
    pub read: bool,
    /// Hung up or in error.
    pub gone: bool,
}

/// Wait until one of `fds` (each wanting to read, and to write when its flag says so) is
/// ready, or `timeout` passes; fills `ready` (same order). Interrupted waits count as none.
pub fn poll(fds: &[(RawFd, bool)], ready: &mut Vec<Ready>, timeout: Duration) {
    let mut set: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, write)| libc::pollfd {
            fd,
            events: libc::POLLIN | if write { libc::POLLOUT } else { 0 },
            revents: 0,
        })
        .collect();
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `set` is a live array of `set.len()` pollfd structs; poll writes only their
    // revents fields.
    let n = unsafe { libc::poll(set.as_mut_ptr(), set.len() as libc::nfds_t, ms) };
    ready.clear();
    ready.extend(set.iter().map(|p| {
        let r = p.revents;
        Ready {
            read: n > 0 && r & libc::POLLIN != 0,
            gone: n > 0 && r & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0,
        }
    }));
}

/// This process's real user id.
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
