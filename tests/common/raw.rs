//! Raw Ethernet frames in and out of a device in a network namespace (an `AF_PACKET` socket),
//! for the tests that put exact bytes — malformed ones included — on a wire and look at
//! everything that comes back. The tests' only `unsafe`, kept here as in a sys module.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::netns::NetNs;

/// An `AF_PACKET`/`SOCK_RAW` socket bound to one device, all protocols.
#[derive(Debug)]
pub struct RawSocket {
    fd: OwnedFd,
    ifindex: i32,
}

/// A received frame: its bytes and whether it came in (false: the device sent it).
#[derive(Debug, Clone)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub incoming: bool,
}

const ETH_P_ALL: u16 = 0x0003;

impl RawSocket {
    /// Open a socket on `dev` inside `ns`. The socket belongs to the namespace it was created
    /// in, so a short-lived thread enters `ns` and makes it there.
    pub fn open(ns: &NetNs, dev: &str) -> io::Result<RawSocket> {
        let name = ns.name.clone();
        let dev = dev.to_owned();
        std::thread::spawn(move || {
            // A guard for `enter` only: forgotten, so that it never deletes the namespace.
            let guard = NetNs { name };
            let socket = guard.enter().and_then(|()| RawSocket::open_here(&dev));
            std::mem::forget(guard);
            socket
        })
        .join()
        .map_err(|_| io::Error::other("socket thread panicked"))?
    }

    fn open_here(dev: &str) -> io::Result<RawSocket> {
        let cname = std::ffi::CString::new(dev).map_err(io::Error::other)?;
        // SAFETY: if_nametoindex reads a NUL-terminated string that outlives the call.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket has no memory-safety preconditions.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a descriptor we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ALL.to_be();
        addr.sll_ifindex = ifindex;
        // SAFETY: addr is a valid sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let buf: libc::c_int = 8 << 20;
        // SAFETY: the option value is a c_int that outlives the call.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const buf).cast(),
                size_of::<libc::c_int>() as u32,
            )
        };
        Ok(RawSocket { fd, ifindex })
    }

    /// Put `frame` (Ethernet header first) on the wire as it is.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        if let Some(dst) = frame.get(..6) {
            addr.sll_addr[..6].copy_from_slice(dst);
        }
        // SAFETY: frame and addr are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The next frame, waiting at most `timeout`; `None` when nothing came.
    pub fn recv(&self, timeout: Duration) -> io::Result<Option<Received>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: pfd is one valid pollfd.
        let ready = unsafe { libc::poll(&raw mut pfd, 1, ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(None)
            } else {
                Err(e)
            };
        }
        if ready == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; 65536];
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: buf and addr are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                (&raw mut addr).cast(),
                &raw mut len,
            )
        };
        let Some(n) = received(n)? else {
            return Ok(None);
        };
        buf.truncate(n);
        Ok(Some(Received {
            bytes: buf,
            incoming: addr.sll_pkttype != libc::PACKET_OUTGOING,
        }))
    }

    /// Have the kernel say which VLAN tag it took off each received frame (it strips 802.1Q
    /// tags before packet sockets see the frame), for [`RawSocket::recv_tagged`].
    pub fn keep_tags(&self) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: the option value is a c_int that outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_AUXDATA,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as u32,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Like [`RawSocket::recv`] (without waiting), with the VLAN tag the kernel took off put
    /// back where it was on the wire. Needs [`RawSocket::keep_tags`].
    pub fn recv_tagged(&self) -> io::Result<Option<Received>> {
        let mut buf = vec![0u8; 65536];
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: an all-zero msghdr is valid; its pointers are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&raw mut addr).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control);
        // SAFETY: msg points at buffers valid for the lengths it gives.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &raw mut msg, libc::MSG_DONTWAIT) };
        let Some(n) = received(n)? else {
            return Ok(None);
        };
        buf.truncate(n);
        // SAFETY: the control buffer was filled by recvmsg; CMSG_* walk it within its length.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
        while !cmsg.is_null() {
            // SAFETY: cmsg points at a header inside the control buffer.
            let h = unsafe { &*cmsg };
            if h.cmsg_level == libc::SOL_PACKET && h.cmsg_type == PACKET_AUXDATA {
                // SAFETY: a PACKET_AUXDATA message carries a tpacket_auxdata.
                let aux: Auxdata =
                    unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
                if aux.status & TP_STATUS_VLAN_VALID != 0 && buf.len() >= 12 {
                    let tpid = if aux.status & TP_STATUS_VLAN_TPID_VALID != 0 {
                        aux.vlan_tpid
                    } else {
                        0x8100
                    };
                    let mut tag = tpid.to_be_bytes().to_vec();
                    tag.extend_from_slice(&aux.vlan_tci.to_be_bytes());
                    buf.splice(12..12, tag);
                }
            }
            // SAFETY: as above.
            cmsg = unsafe { libc::CMSG_NXTHDR(&raw const msg, cmsg) };
        }
        Ok(Some(Received {
            bytes: buf,
            incoming: addr.sll_pkttype != libc::PACKET_OUTGOING,
        }))
    }
}

const PACKET_AUXDATA: libc::c_int = 8;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct tpacket_auxdata`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Auxdata {
    status: u32,
    len: u32,
    snaplen: u32,
    mac: u16,
    net: u16,
    vlan_tci: u16,
    vlan_tpid: u16,
}

/// A non-blocking receive's return value: its length, `None` when nothing was waiting, or the
/// error.
fn received(n: isize) -> io::Result<Option<usize>> {
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::WouldBlock => Ok(None),
        _ => Err(e),
    }
}
