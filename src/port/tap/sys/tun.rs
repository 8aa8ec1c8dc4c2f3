//! The TAP device itself: `/dev/net/tun`, `TUNSETIFF`, and bringing the link up.
//!
//! Whether shoal created the device is decided by the kernel, not guessed: the first
//! `TUNSETIFF` carries `IFF_TUN_EXCL`, which creates the device or fails with `EBUSY` if any
//! device of that name exists; only then does a second `TUNSETIFF` (without it) attach. The
//! device is never made persistent, so one shoal created disappears when its last queue's
//! descriptor closes, also when the process is killed.

use std::ffi::c_short;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::port::PortError;

/// An open queue of a TAP device.
pub(crate) struct Tun {
    pub(crate) fd: OwnedFd,
    /// The name the kernel reports (the requested one, or the one it chose for a pattern).
    pub(crate) name: String,
    /// True when this open created the device.
    pub(crate) created: bool,
}

/// Open one queue of the TAP `name`, creating the device if no device of that name exists.
pub(crate) fn open(name: &str, multi_queue: bool) -> Result<Tun, PortError> {
    let os = |what: &'static str, source: io::Error| PortError::Os {
        what,
        dev: name.to_string(),
        source,
    };
    if name.len() >= libc::IFNAMSIZ || name.bytes().any(|b| b == 0 || b == b'/' || b <= b' ') {
        return Err(os(
            "open TAP",
            io::Error::new(io::ErrorKind::InvalidInput, "not a valid interface name"),
        ));
    }
    // SAFETY: a NUL-terminated path literal; the result is checked before use.
    let raw = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if raw < 0 {
        return Err(os("open /dev/net/tun", io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a descriptor just opened and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if multi_queue {
        flags |= libc::IFF_MULTI_QUEUE;
    }
    let created = match set_iff(&fd, name, flags | libc::IFF_TUN_EXCL) {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            // Some device of this name exists: attach to it if it is a TAP.
            set_iff(&fd, name, flags).map_err(|e| attach_error(name, multi_queue, e))?;
            false
        }
        Err(e) => return Err(os_or_permission("create TAP (TUNSETIFF)", name, e)),
    };
    let mut ifr = ifreq(name);
    // SAFETY: TUNGETIFF writes one `ifreq` through a valid pointer on a tun descriptor.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNGETIFF, &mut ifr) } < 0 {
        return Err(os("TUNGETIFF", io::Error::last_os_error()));
    }
    let tun = Tun {
        fd,
        name: name_of(&ifr),
        created,
    };
    if created {
        // On failure `tun` drops, its descriptor closes, and the kernel removes the device.
        set_up(&tun.name).map_err(|e| os_or_permission("bring link up", &tun.name, e))?;
    }
    Ok(tun)
}

fn attach_error(name: &str, multi_queue: bool, e: io::Error) -> PortError {
    let what = match e.raw_os_error() {
        Some(libc::EINVAL) if multi_queue => {
            "attach: it exists but is not a multi-queue TAP (not a TAP, or made without \
             `multi_queue`)"
        }
        Some(libc::EINVAL) => {
            "attach: it exists but is not a single-queue TAP (not a TAP, or a multi-queue one)"
        }
        Some(libc::EBUSY) => "attach: the single-queue TAP is already open elsewhere",
        _ => "attach to TAP (TUNSETIFF)",
    };
    os_or_permission(what, name, e)
}

fn os_or_permission(what: &'static str, dev: &str, source: io::Error) -> PortError {
    if source.raw_os_error() == Some(libc::EPERM) {
        return PortError::Permission {
            what,
            dev: dev.to_string(),
            cap: "cap_net_admin",
        };
    }
    PortError::Os {
        what,
        dev: dev.to_string(),
        source,
    }
}

fn set_iff(fd: &OwnedFd, name: &str, flags: i32) -> io::Result<()> {
    let mut ifr = ifreq(name);
    ifr.ifr_ifru.ifru_flags = flags as c_short;
    // SAFETY: TUNSETIFF reads (and writes back) one `ifreq` through a valid pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set IFF_UP on `name` in the calling thread's network namespace.
fn set_up(name: &str) -> io::Result<()> {
    // SAFETY: socket() has no preconditions; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a socket just made and owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut ifr = ifreq(name);
    // SAFETY: SIOCGIFFLAGS writes one `ifreq` through a valid pointer.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just filled the flags member of the union.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as c_short;
    // SAFETY: SIOCSIFFLAGS reads one `ifreq` through a valid pointer.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An `ifreq` naming `name` (already checked to fit with its NUL), all else zero.
fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: `ifreq` is plain old data (a name array and a union of integers and
    // addresses); all-zero is a valid value of it.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &b) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = b as libc::c_char;
    }
    ifr
}

fn name_of(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
