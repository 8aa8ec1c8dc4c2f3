//! The AF_XDP port: one AF_XDP socket on every receive queue of a device, all sharing the
//! worker's [`Pool`] as their UMEM, fed by the XDP program of `bpf/` (see `prog.rs`).
//!
//! The pool's buffer `i` is UMEM chunk `i` (2048 bytes); the kernel writes received data at
//! `XDP_PACKET_HEADROOM` (256) into a chunk, which is the pool's [`crate::frame::HEADROOM`], so a
//! received descriptor is a [`Frame`] as it stands. Buffers travel as follows (ring protocol in
//! `ring.rs`):
//!
//! - receive: [`XdpPort::poll`] and [`XdpPort::recv`] keep each queue's fill ring holding up to
//!   a quarter of the pool (split between queues, at most one ring's worth) of empty buffers
//!   taken from the pool; `recv` turns rx descriptors back into frames;
//! - transmit: [`XdpPort::send`] puts frames on queue 0's tx ring (one ring keeps the order of a
//!   flow and is all a copy-mode device or a single worker can use) and kicks the kernel;
//!   `poll` reaps the completion rings and frees the sent buffers back to the pool.
//!
//! A frame handed to the kernel is simply forgotten (a [`Frame`] has no destructor) and rebuilt
//! from its address when the kernel gives it back. Buffers the kernel holds when the port is
//! dropped are not returned to the pool: the pool shrinks by at most what the fill and tx rings
//! held.
//!
//! Attachment falls back from native XDP with a zero-copy socket, to native with copy, to
//! generic with copy, logging each fallback once to stderr; docs/ports.md says what each costs.

mod prog;
mod queue;
mod sys;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use prog::Prog;
pub use prog::{Attach, NAME as PROGRAM_NAME};
use queue::{Queue, RING_SIZE, SetupError};

use super::{PortError, PortStats};
use crate::frame::{BATCH_MAX, FRAME_SIZE, Frame, Pool};
use crate::wire::ethernet::Address as Mac;

/// A device served through AF_XDP sockets.
///
/// The pool given to [`XdpPort::open`] must outlive the port: the kernel reads and writes its
/// buffers until the port's sockets are closed (the engine drops ports before pools). Every
/// frame passed to or returned by the port belongs to that pool.
pub struct XdpPort {
    // Held for its drop, declared first: dropping the last port of a device detaches the
    // program before its sockets close. (A shard's sockets closing earlier leave their
    // XSKMAP slots empty: the program then passes those queues' frames to the kernel.)
    _prog: Arc<Prog>,
    queues: Vec<Queue>,
    /// All sockets, when there are several, for one descriptor to sleep on.
    epoll: Option<OwnedFd>,
    dev: String,
    /// Receive queues of the device (this port may serve only some of them).
    device_queues: u32,
    mac: Mac,
    attach: Attach,
    zero_copy: bool,
    /// Buffers each queue's fill ring is kept at.
    fill_target: u32,
    next_rx: usize,
    stats: PortStats,
}

/// What a failed step of socket set-up means to the caller.
fn setup_error(dev: &str, e: SetupError) -> PortError {
    match e.source.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => PortError::Permission {
            what: e.what,
            dev: dev.to_string(),
            cap: "cap_net_raw",
        },
        Some(libc::ENODEV) => PortError::NoDevice(dev.to_string()),
        _ => PortError::Os {
            what: e.what,
            dev: dev.to_string(),
            source: e.source,
        },
    }
}

fn attach_error(dev: &str, e: io::Error) -> PortError {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => PortError::Permission {
            what: "attaching the XDP program",
            dev: dev.to_string(),
            cap: "cap_net_admin",
        },
        Some(libc::ENODEV) => PortError::NoDevice(dev.to_string()),
        _ => PortError::Os {
            what: "attaching the XDP program",
            dev: dev.to_string(),
            source: e,
        },
    }
}

/// The number of receive queues the device uses: ethtool's channel count, else the
/// `rx-*` entries in sysfs (right only in the namespace sysfs was mounted in), else 1.
fn rx_queues(dev: &str) -> u32 {
    if let Ok(n @ 1..) = sys::rx_queue_count(dev) {
        return n;
    }
    let Ok(dir) = std::fs::read_dir(format!("/sys/class/net/{dev}/queues")) else {
        return 1;
    };
    let n = dir
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    (n as u32).max(1)
}

/// One socket per queue in `ids`, the first registering the pool, the others sharing its UMEM.
fn open_queues(
    ifindex: u32,
    ids: impl Iterator<Item = u32>,
    pool: &mut Pool,
    flags: u16,
) -> Result<Vec<Queue>, SetupError> {
    let mut queues: Vec<Queue> = Vec::new();
    for q in ids {
        let queue = Queue::open(ifindex, q, pool, queues.first().map(Queue::fd), flags)?;
        queues.push(queue);
    }
    Ok(queues)
}

/// The sockets of every shard: shard `s` of `n` binds queues `s, s + n, s + 2n, …` of the
/// device's `count` queues, on its own pool (which becomes that shard's UMEM).
fn open_shards(
    ifindex: u32,
    count: u32,
    pools: &mut [&mut Pool],
    flags: u16,
) -> Result<Vec<Vec<Queue>>, SetupError> {
    let n = pools.len() as u32;
    (0..n)
        .zip(pools.iter_mut())
        .map(|(s, pool)| open_queues(ifindex, (s..count).step_by(n as usize), pool, flags))
        .collect()
}

impl XdpPort {
    /// Serve device `dev` through AF_XDP with frames of `pool` (which must outlive the port):
    /// load and attach the XDP program, open one socket per receive queue, post receive
    /// buffers. [`XdpPort::open_shards`] with one pool.
    pub fn open(dev: &str, pool: &mut Pool) -> Result<XdpPort, PortError> {
        let mut ports = XdpPort::open_shards(dev, &mut [pool], false)?;
        // One pool makes exactly one port; the error is never taken.
        ports.pop().ok_or(PortError::NoDevice(dev.to_string()))
    }

    /// Serve device `dev` through AF_XDP with one port per pool in `pools` — one per worker —
    /// each port on its share of the receive queues: port `s` of `n` binds queues `s, s + n,
    /// …`, registers pool `s` (which must outlive it) as its UMEM and transmits on its first
    /// queue. One XDP program serves them all; it leaves the device when the last port is
    /// dropped. The device needs at least as many queues as there are pools. With
    /// `every_frame` the program takes frames to any address, not only the device's own and
    /// groups (a switch port).
    ///
    /// Fails with [`PortError::ForeignProgram`] if another XDP program is on the device, with
    /// [`PortError::Permission`] naming the missing capability, [`PortError::NoDevice`] if there
    /// is no such device, [`PortError::TooFewQueues`] if it has fewer queues than pools. A
    /// stale shoal program attached the legacy way is removed (and said so on stderr); one held
    /// by another running shoal is an error.
    pub fn open_shards(
        dev: &str,
        pools: &mut [&mut Pool],
        every_frame: bool,
    ) -> Result<Vec<XdpPort>, PortError> {
        let ifindex = sys::ifindex(dev).map_err(|_| PortError::NoDevice(dev.to_string()))?;
        let mac = Mac(sys::hw_addr(dev).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => PortError::NoDevice(dev.to_string()),
            _ => PortError::Os {
                what: "reading the MAC address",
                dev: dev.to_string(),
                source: e,
            },
        })?);
        let count = rx_queues(dev);
        if (count as usize) < pools.len() {
            return Err(PortError::TooFewQueues {
                dev: dev.to_string(),
                queues: count,
                workers: pools.len(),
            });
        }
        prog::clear_stale(dev, ifindex)?;
        let mut prog = Prog::load(dev, mac.0, every_frame, count)?;
        let log = |fallback: &str, why: String| eprintln!("shoal: {dev}: {fallback} ({why})");

        let mut chosen = None;
        match prog.attach(ifindex, Attach::Native) {
            Ok(()) => match open_shards(ifindex, count, pools, libc::XDP_ZEROCOPY) {
                Ok(q) => chosen = Some((Attach::Native, true, q)),
                Err(e) => {
                    log(
                        "native copy mode",
                        format!("zero-copy: {}: {}", e.what, e.source),
                    );
                    match open_shards(ifindex, count, pools, libc::XDP_COPY) {
                        Ok(q) => chosen = Some((Attach::Native, false, q)),
                        Err(e) => {
                            log(
                                "generic mode",
                                format!("native copy: {}: {}", e.what, e.source),
                            );
                            prog.detach();
                        }
                    }
                }
            },
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                return Err(attach_error(dev, e));
            }
            Err(e) => log("generic mode", format!("native attach: {e}")),
        }
        let (attach, zero_copy, shards) = match chosen {
            Some(c) => c,
            None => {
                prog.attach(ifindex, Attach::Generic)
                    .map_err(|e| attach_error(dev, e))?;
                let q = open_shards(ifindex, count, pools, libc::XDP_COPY)
                    .map_err(|e| setup_error(dev, e))?;
                (Attach::Generic, false, q)
            }
        };

        for q in shards.iter().flatten() {
            prog.set_socket(q.id, q.fd()).map_err(|e| PortError::Os {
                what: "registering the sockets in the XSKMAP",
                dev: dev.to_string(),
                source: io::Error::other(e.to_string()),
            })?;
        }
        let prog = Arc::new(prog);
        let mut ports = Vec::with_capacity(shards.len());
        for (queues, pool) in shards.into_iter().zip(pools.iter_mut()) {
            let epoll = if queues.len() > 1 {
                let fds: Vec<RawFd> = queues.iter().map(|q| q.fd().as_raw_fd()).collect();
                Some(sys::epoll_of(&fds).map_err(|source| PortError::Os {
                    what: "creating the epoll set of the sockets",
                    dev: dev.to_string(),
                    source,
                })?)
            } else {
                None
            };
            let per_queue = pool.capacity() / (4 * queues.len());
            let mut port = XdpPort {
                _prog: prog.clone(),
                fill_target: (per_queue as u32).clamp(1, RING_SIZE),
                queues,
                epoll,
                dev: dev.to_string(),
                device_queues: count,
                mac,
                attach,
                zero_copy,
                next_rx: 0,
                stats: PortStats::default(),
            };
            port.refill(pool);
            ports.push(port);
        }
        Ok(ports)
    }

    /// Take in what the device received: at most [`BATCH_MAX`] frames, appended to `out`, taken
    /// from the queues in turn. Never blocks.
    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        let count = self.queues.len();
        let mut n = 0;
        for k in 0..count {
            let q = &mut self.queues[(self.next_rx + k) % count];
            while n < BATCH_MAX {
                let Some(desc) = q.rx.pop() else { break };
                q.posted = q.posted.saturating_sub(1);
                // The kernel only hands back addresses inside the UMEM it was given.
                if let Some(frame) = Frame::from_umem(desc.addr, desc.len as usize) {
                    out.push(frame);
                    n += 1;
                }
            }
            q.rx.release();
        }
        self.next_rx = (self.next_rx + 1) % count;
        self.stats.rx += n as u64;
        if n > 0 {
            self.refill(pool);
        }
        n
    }

    /// Put `frames` on the transmit ring of the port's first queue and kick the kernel,
    /// draining the vector.
    /// Frames the ring has no room for are freed and counted in [`PortStats::tx_full`].
    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>) {
        if frames.is_empty() {
            return;
        }
        self.reap(pool);
        let q = &mut self.queues[0];
        for frame in frames.drain(..) {
            let desc = libc::xdp_desc {
                addr: frame.addr(),
                len: frame.len() as u32,
                options: 0,
            };
            if q.tx.push(desc).is_ok() {
                q.in_flight += 1;
                self.stats.tx += 1;
            } else {
                pool.free(frame);
                self.stats.tx_full += 1;
            }
        }
        q.tx.publish();
        self.kick();
    }

    /// Reap finished transmissions into `pool`, top up the fill rings, kick pending sends.
    pub fn poll(&mut self, pool: &mut Pool) {
        self.reap(pool);
        self.refill(pool);
        self.kick();
    }

    /// A descriptor readable when a frame arrived: the socket of a single-queue device, an
    /// epoll set of all the sockets otherwise.
    pub fn wait_fd(&self) -> RawFd {
        match &self.epoll {
            Some(ep) => ep.as_raw_fd(),
            None => self.queues[0].fd().as_raw_fd(),
        }
    }

    /// The device's MAC address, which the router interface must use.
    pub fn mac(&self) -> Mac {
        self.mac
    }

    /// Running totals; `rx_dropped` is the kernel's count (no buffer, or rx ring full).
    pub fn stats(&self) -> PortStats {
        let mut stats = self.stats;
        for q in &self.queues {
            if let Ok(s) = sys::statistics(q.fd()) {
                stats.rx_dropped += s.rx_dropped + s.rx_ring_full;
            }
        }
        stats
    }

    /// E.g. `veth1 afxdp native copy 1 queue`, or for one shard of a device,
    /// `veth1 afxdp native copy queues 1,3 of 4`.
    pub fn describe(&self) -> String {
        let n = self.queues.len();
        let mode = format!(
            "{} afxdp {} {}",
            self.dev,
            self.attach.name(),
            if self.zero_copy { "zero-copy" } else { "copy" },
        );
        if n as u32 == self.device_queues {
            return format!("{mode} {n} queue{}", if n == 1 { "" } else { "s" });
        }
        let ids: Vec<String> = self.queues.iter().map(|q| q.id.to_string()).collect();
        let word = if n == 1 { "queue" } else { "queues" };
        format!("{mode} {word} {} of {}", ids.join(","), self.device_queues)
    }

    /// True when the sockets are bound zero-copy (the NIC DMAs into the pool).
    pub fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Completed transmissions go back to the pool.
    fn reap(&mut self, pool: &mut Pool) {
        for q in &mut self.queues {
            let mut any = false;
            while let Some(addr) = q.comp.pop() {
                any = true;
                q.in_flight = q.in_flight.saturating_sub(1);
                if let Some(frame) = Frame::from_umem(addr, 0) {
                    pool.free(frame);
                }
            }
            if any {
                q.comp.release();
            }
        }
    }

    /// Post empty buffers until each fill ring holds its share, and wake the kernel if it asked.
    fn refill(&mut self, pool: &mut Pool) {
        for q in &mut self.queues {
            let mut pushed = false;
            while q.posted < self.fill_target {
                let Some(frame) = pool.alloc() else { break };
                let chunk = u64::from(frame.index()) * FRAME_SIZE as u64;
                if q.fill.push(chunk).is_err() {
                    pool.free(frame);
                    break;
                }
                q.posted += 1;
                pushed = true;
            }
            if pushed {
                q.fill.publish();
            }
            if q.fill.needs_wakeup() {
                let _ = sys::wake_rx(q.fd());
            }
        }
    }

    /// Have the kernel send what is on the tx rings. Copy mode sends at most 32 frames per
    /// `sendto`, so kick while the ring drains, a bounded number of times; what is left is
    /// kicked again by the next `poll`.
    fn kick(&mut self) {
        for q in &mut self.queues {
            let mut pending = q.tx.pending();
            let mut budget = pending / 32 + 2;
            while pending > 0 && budget > 0 && q.tx.needs_wakeup() {
                budget -= 1;
                if let Err(e) = sys::kick_tx(q.fd()) {
                    // EAGAIN: a batch done, more to go; EBUSY/ENOBUFS: retry at next poll.
                    if e.raw_os_error() != Some(libc::EAGAIN) {
                        break;
                    }
                }
                let left = q.tx.pending();
                if left >= pending {
                    break;
                }
                pending = left;
            }
        }
    }
}
