//! The system calls of the AF_XDP port: the socket and its options, ring mappings, wake-ups, an
//! epoll set over several sockets, and the few libbpf calls libbpf-rs does not wrap (an XDP
//! `bpf_link` with a mode flag, program query and legacy detach). All `unsafe` of the port lives
//! here and in `ring.rs`; the functions here are safe to call and return `io::Error`s carrying
//! the kernel's errno.

#![allow(unsafe_code)]

pub(super) mod ring;

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;

use libbpf_sys as bpf;

use crate::frame::Pool;

/// `-1` → the errno as an `io::Error`.
fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// libbpf's convention: a negative return is `-errno`.
fn check_bpf(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::from_raw_os_error(-rc))
    } else {
        Ok(rc)
    }
}

/// The index of a network device (`ENODEV` when there is none).
pub fn ifindex(dev: &str) -> io::Result<u32> {
    let name = CString::new(dev).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

/// `struct ifreq` with the two members used here.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    ifru: IfRu,
}

#[repr(C)]
union IfRu {
    hwaddr: libc::sockaddr,
    data: *mut libc::c_void,
    _size: [u64; 3],
}

/// `struct ethtool_channels`.
#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// Run a device ioctl (`SIOCGIFHWADDR`, `SIOCETHTOOL`) on a throwaway socket of the calling
/// thread's network namespace.
fn dev_ioctl(dev: &str, request: libc::c_ulong, ifru: IfRu) -> io::Result<IfReq> {
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        ifru,
    };
    if dev.len() >= libc::IFNAMSIZ || dev.as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    for (d, &b) in req.name.iter_mut().zip(dev.as_bytes()) {
        *d = b as libc::c_char;
    }
    // SAFETY: plain socket(2); the result is checked and owned once.
    let sock =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `sock` was just returned by socket(2) and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: `req` is a valid ifreq for both requests; for SIOCETHTOOL its data pointer points
    // to a live ethtool struct of the caller.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), request, &mut req) })?;
    Ok(req)
}

/// The device's hardware address.
pub fn hw_addr(dev: &str) -> io::Result<[u8; 6]> {
    let req = dev_ioctl(dev, libc::SIOCGIFHWADDR, IfRu { _size: [0; 3] })?;
    // SAFETY: SIOCGIFHWADDR filled the `hwaddr` member.
    let sa = unsafe { req.ifru.hwaddr };
    let mut mac = [0u8; 6];
    for (m, &b) in mac.iter_mut().zip(&sa.sa_data) {
        *m = b as u8;
    }
    Ok(mac)
}

/// The number of receive queues the device uses (ethtool's rx plus combined channels).
pub fn rx_queue_count(dev: &str) -> io::Result<u32> {
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..Default::default()
    };
    let data = (&mut ch as *mut EthtoolChannels).cast();
    dev_ioctl(dev, libc::SIOCETHTOOL, IfRu { data })?;
    Ok(ch.rx_count + ch.combined_count)
}

/// A new AF_XDP socket.
pub fn xsk_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked and owned once.
    let fd = check(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt<T>(fd: BorrowedFd<'_>, opt: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the size passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            opt,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn getsockopt<T>(fd: BorrowedFd<'_>, opt: libc::c_int) -> io::Result<T> {
    // SAFETY: the option structs read here are plain integers, valid when zeroed.
    let mut value: T = unsafe { zeroed() };
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes; the kernel writes at most `len`.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            opt,
            (&mut value as *mut T).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// Set the size (a power of two) of one of the socket's rings (`XDP_RX_RING`, `XDP_TX_RING`,
/// `XDP_UMEM_FILL_RING`, `XDP_UMEM_COMPLETION_RING`).
pub fn set_ring_size(fd: BorrowedFd<'_>, ring: libc::c_int, size: u32) -> io::Result<()> {
    setsockopt(fd, ring, &size)
}

/// Register the worker's pool as the socket's UMEM: `chunk`-byte chunks, no headroom beyond
/// the kernel's own `XDP_PACKET_HEADROOM` (which is the pool's [`crate::frame::HEADROOM`]).
///
/// From then on the kernel writes received frames into the buffers it is given through the fill
/// ring and reads the ones put on the transmit ring, until the socket and every socket sharing
/// its UMEM are closed. The pool must outlive them: [`super::XdpPort`] documents it as its
/// caller's duty (the engine drops ports before pools).
pub fn register_umem(fd: BorrowedFd<'_>, pool: &mut Pool, chunk: u32) -> io::Result<()> {
    let (addr, len) = pool.umem_area();
    let reg = libc::xdp_umem_reg {
        addr: addr as u64,
        len: len as u64,
        chunk_size: chunk,
        headroom: 0,
        flags: 0,
        tx_metadata_len: 0,
    };
    // The kernel pins the pages and accesses only buffers the port handed it, which the pool
    // does not hand out again until the kernel returns them.
    setsockopt(fd, libc::XDP_UMEM_REG, &reg)
}

/// Where producer, consumer, flags and descriptors sit in each ring's mapping.
pub fn mmap_offsets(fd: BorrowedFd<'_>) -> io::Result<libc::xdp_mmap_offsets> {
    getsockopt(fd, libc::XDP_MMAP_OFFSETS)
}

/// The kernel's drop counters of the socket.
pub fn statistics(fd: BorrowedFd<'_>) -> io::Result<libc::xdp_statistics> {
    getsockopt(fd, libc::XDP_STATISTICS)
}

/// Bind the socket to a queue of a device; `shared` names the socket whose UMEM it shares, and
/// then `flags` are ignored: the kernel takes them from that socket and refuses any given.
pub fn bind(
    fd: BorrowedFd<'_>,
    ifindex: u32,
    queue: u32,
    flags: u16,
    shared: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let addr = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: if shared.is_some() {
            libc::XDP_SHARED_UMEM
        } else {
            flags
        },
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: shared.map_or(0, |s| s.as_raw_fd() as u32),
    };
    // SAFETY: `addr` is a valid sockaddr_xdp of the size passed.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_xdp).cast(),
            size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Ask the kernel to process the transmit ring (`sendto` with no data, never blocking).
pub fn kick_tx(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a zero-length send from a null buffer to no address; nothing is read.
    check(unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null(),
            0,
        ) as libc::c_int
    })
    .map(drop)
}

/// Tell the kernel the fill ring has buffers again (`recvfrom` with no buffer, never blocking).
pub fn wake_rx(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: a zero-length receive into a null buffer; nothing is written.
    check(unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        ) as libc::c_int
    })
    .map(drop)
}

/// A shared mapping of one of a socket's rings, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Map `len` bytes of the ring that `pgoff` (`XDP_PGOFF_RX_RING`, ...) names.
    pub fn ring(fd: BorrowedFd<'_>, len: usize, pgoff: u64) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of the socket at a kernel-defined offset; the result
        // is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                pgoff as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Mapping { ptr, len })
    }

    /// Start of the mapping.
    pub fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping made by `ring` and not unmapped since.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

// SAFETY: the mapping is memory owned by this value; the ring that uses it is not shared
// between threads (it is moved with its port).
unsafe impl Send for Mapping {}

/// An epoll set, readable when any of its members is.
pub fn epoll_of(fds: &[RawFd]) -> io::Result<OwnedFd> {
    // SAFETY: plain epoll_create1(2); the result is checked and owned once.
    let ep = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: `ep` was just created and nothing else owns it.
    let ep = unsafe { OwnedFd::from_raw_fd(ep) };
    for &fd in fds {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid event; `fd` is an open descriptor of the caller.
        check(unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
    }
    Ok(ep)
}

/// Attach the program `prog` to device `ifindex` through a `bpf_link` in the mode `flags`
/// (`XDP_FLAGS_DRV_MODE` or `XDP_FLAGS_SKB_MODE`). Closing the returned descriptor (also by
/// the process dying) detaches the program.
pub fn xdp_link(prog: BorrowedFd<'_>, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    // SAFETY: the options struct is plain data (integers, null pointers, a union of such),
    // valid when zeroed, which is what libbpf's LIBBPF_OPTS does.
    let mut opts: bpf::bpf_link_create_opts = unsafe { zeroed() };
    opts.sz = size_of::<bpf::bpf_link_create_opts>() as _;
    opts.flags = flags;
    // SAFETY: `prog` is an open program descriptor and `opts` a valid options struct.
    let fd = check_bpf(unsafe {
        bpf::bpf_link_create(prog.as_raw_fd(), ifindex as i32, bpf::BPF_XDP, &opts)
    })?;
    // SAFETY: `fd` is a new link descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The ids of the XDP programs on a device, per mode: (native, generic, offloaded).
pub fn xdp_query(ifindex: u32) -> io::Result<(u32, u32, u32)> {
    let mut opts = bpf::bpf_xdp_query_opts {
        sz: size_of::<bpf::bpf_xdp_query_opts>() as _,
        ..Default::default()
    };
    // SAFETY: `opts` is a valid, sized options struct the call fills in.
    check_bpf(unsafe { bpf::bpf_xdp_query(ifindex as i32, 0, &mut opts) })?;
    Ok((opts.drv_prog_id, opts.skb_prog_id, opts.hw_prog_id))
}

/// A descriptor of the loaded program with id `id`.
pub fn prog_by_id(id: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain bpf(BPF_PROG_GET_FD_BY_ID); the result is checked and owned once.
    let fd = check_bpf(unsafe { bpf::bpf_prog_get_fd_by_id(id) })?;
    // SAFETY: `fd` is a new program descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The name of a loaded program (the kernel keeps its first 15 bytes).
pub fn prog_name(prog: BorrowedFd<'_>) -> io::Result<String> {
    let mut info = bpf::bpf_prog_info::default();
    let mut len = size_of::<bpf::bpf_prog_info>() as u32;
    // SAFETY: `info` is writable for `len` bytes; the kernel writes at most that.
    check_bpf(unsafe { bpf::bpf_prog_get_info_by_fd(prog.as_raw_fd(), &mut info, &mut len) })?;
    let bytes: Vec<u8> = info
        .name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Detach `prog` from device `ifindex` if it was attached the legacy (netlink) way in mode
/// `flags`. Fails with `EBUSY` if the device's program is held by a `bpf_link`, and leaves the
/// device alone if its program is no longer `prog`.
pub fn xdp_detach_legacy(ifindex: u32, flags: u32, prog: BorrowedFd<'_>) -> io::Result<()> {
    let opts = bpf::bpf_xdp_attach_opts {
        sz: size_of::<bpf::bpf_xdp_attach_opts>() as _,
        old_prog_fd: prog.as_raw_fd(),
        ..Default::default()
    };
    // libbpf adds XDP_FLAGS_REPLACE itself when `old_prog_fd` is set.
    // SAFETY: `opts` is a valid, sized options struct naming an open program descriptor.
    check_bpf(unsafe { bpf::bpf_xdp_detach(ifindex as i32, flags, &opts) }).map(drop)
}
