//! The system calls of `shoal bench` beyond what std offers: signalling a child process. All
//! `unsafe` of the bench lives here.

#![allow(unsafe_code)]

use std::process::Child;

/// Ask `child` to stop with SIGTERM (it prints its report and exits).
pub fn terminate(child: &Child) {
    // SAFETY: kill on our own child's pid has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}
