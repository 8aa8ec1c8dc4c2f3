//! The engine's clock: CLOCK_MONOTONIC, shared by every process on the host, so a datagram
//! stamped in one shoal process and received in another (across a link file) measures its
//! latency exactly.

use crate::time::Instant;

/// Now, on the host's monotonic clock.
pub(crate) fn monotonic() -> Instant {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer; CLOCK_MONOTONIC always
    // exists on Linux, so it cannot fail.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    Instant::from_nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}
