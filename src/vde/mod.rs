//! VDE, Virtual Distributed Ethernet: shoal's interfaces join VDE's switches, plugs and cables
//! (vde2's `vde_switch`, `vde_plug`, `dpipe`, `wirefilter`, qemu's `-nic vde`), as a client, as
//! a switch, and as one end of a `vde_plug` stream.
//!
//! - [`Client`] (`attach = { vde = PATH }`) plugs an interface into a running `vde_switch` the
//!   way libvdeplug does: a request on the switch's control socket `PATH/ctl`, then one
//!   datagram per frame between two connected unix datagram sockets. If the switch goes away
//!   the interface is unplugged and plugs in again, once a second, when a switch is back.
//! - [`Server`] (`vde = { listen = PATH }`) makes a VDE control directory at PATH and accepts
//!   libvdeplug clients, each as a port of the interface. The interface is then a hub: a frame
//!   from one client goes to the node and to every other client, a frame from the node to every
//!   client. A client is unplugged when its control stream closes; one that sends garbage, or
//!   nothing, or whose socket is gone, is dropped with a counted reason.
//! - [`Stream`] (`attach = { vde = "-" }`, `shoal plug`) speaks `vde_plug`'s stream form on
//!   standard input and output: `dpipe vde_plug SWITCH = shoal plug TOPO NODE:IFACE`.
//!
//! The wire formats are in [`proto`]; they are vde2's protocol version 3. All three media move
//! batches between their sockets and the pool of the worker that runs them, never block, and
//! offer the worker one descriptor to sleep on (an epoll set of their sockets). The system calls
//! are in `sys.rs`. docs/ports.md ("VDE") says how to use them.

mod client;
pub mod proto;
mod server;
mod stream;
mod sys;

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::PathBuf;

pub use client::Client;
pub use server::Server;
pub use stream::{Stream, stdio_closed};

use crate::frame::{BATCH_MAX, Frame, Pool};
use crate::port::PortStats;

/// How an interface joins VDE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VdeSpec {
    /// Plug into the switch whose control directory is `dir` (what `vde_plug DIR` names), on
    /// switch port `port` if given, any free port otherwise.
    Plug { dir: PathBuf, port: Option<u32> },
    /// Be a switch: make a control directory at `dir` and take libvdeplug clients as ports.
    Listen { dir: PathBuf },
    /// The `vde_plug` stream form on standard input and output.
    Stdio,
}

impl std::fmt::Display for VdeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VdeSpec::Plug { dir, port: None } => write!(f, "vde {}", dir.display()),
            VdeSpec::Plug { dir, port: Some(p) } => write!(f, "vde {} port {p}", dir.display()),
            VdeSpec::Listen { dir } => write!(f, "vde listen {}", dir.display()),
            VdeSpec::Stdio => f.write_str("vde stdio"),
        }
    }
}

/// Why a VDE medium could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum VdeError {
    /// A system call failed on a path.
    #[error("{what} {}: {error}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        path: PathBuf,
        /// Why (in the message, not a separate source, so that it is said once).
        error: io::Error,
    },
    /// Another switch serves the control directory.
    #[error("{}: another VDE switch is listening there", .0.display())]
    InUse(PathBuf),
    /// Standard input and output cannot carry the stream.
    #[error("standard input/output: {0}")]
    Stdio(String),
}

impl VdeError {
    fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> VdeError {
        let path = path.into();
        move |error| VdeError::Io { what, path, error }
    }
}

crate::reasons::reasons! {
    /// Why a client of a listening interface lost its port.
    pub enum Unplug {
        /// Its control stream closed: it unplugged itself (or died).
        Left => "left",
        /// It sent something that is not a request, or anything after its request.
        Garbage => "garbage",
        /// It sent no request within two seconds of connecting.
        Silent => "silent",
        /// Its data socket could not be reached.
        Unreachable => "unreachable",
        /// Its data socket went away while it held a port.
        Gone => "gone",
        /// Every port was taken (the interface takes at most 64 clients).
        Full => "full",
    }
}

/// What a VDE medium counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VdeStats {
    /// Frames received and handed to the interface.
    pub rx: u64,
    /// Frames the interface sent that went out (to at least one client of a listening one).
    pub tx: u64,
    /// Frames refused because every peer's socket was full (`socket-full` on the link).
    pub tx_full: u64,
    /// Frames sent while nothing was plugged in (no switch, no client, the stream closed):
    /// freed here, as a NIC without carrier does.
    pub unplugged: u64,
    /// Frames too long for the stream form (1521 bytes), not sent.
    pub tx_oversize: u64,
    /// Datagrams longer than a frame buffer, dropped.
    pub rx_oversize: u64,
    /// Datagrams or records shorter than an Ethernet header, dropped.
    pub rx_runt: u64,
    /// Stream records with an impossible length (the bytes buffered with them are lost).
    pub rx_garbage: u64,
    /// Frames a listening interface passed from one client to the others (hub).
    pub relayed: u64,
    /// Copies for one client its full socket had no room for, while others took the frame.
    pub missed: u64,
    /// Times a port was given (a listening interface) or taken (a client, first plug included).
    pub plugged: u64,
    /// Clients unplugged, by reason (a listening interface), or times a client's switch went
    /// away (`gone`).
    pub unplugged_by: [u64; Unplug::COUNT],
}

impl VdeStats {
    /// As a port's totals, for the run report's port table.
    pub fn port_stats(&self) -> PortStats {
        PortStats {
            rx: self.rx,
            tx: self.tx,
            tx_full: self.tx_full,
            rx_oversize: self.rx_oversize,
            rx_malformed: self.rx_runt + self.rx_garbage,
            ..PortStats::default()
        }
    }

    /// Clients unplugged, by reason, the nonzero ones.
    pub fn unplugs(&self) -> impl Iterator<Item = (Unplug, u64)> + '_ {
        Unplug::ALL
            .iter()
            .map(|&u| (u, self.unplugged_by[u as usize]))
            .filter(|&(_, n)| n != 0)
    }
}

/// An open VDE medium.
pub enum Vde {
    /// Plugged into a switch.
    Plug(Client),
    /// A switch of its own.
    Listen(Server),
    /// The stream on standard input and output.
    Stdio(Stream),
}

impl Vde {
    /// Open what `spec` names; `name` (`node:iface`) describes the interface to the switch.
    pub fn open(spec: &VdeSpec, name: &str) -> Result<Vde, VdeError> {
        Ok(match spec {
            VdeSpec::Plug { dir, port } => Vde::Plug(Client::open(dir, *port, name)?),
            VdeSpec::Listen { dir } => Vde::Listen(Server::open(dir)?),
            VdeSpec::Stdio => Vde::Stdio(Stream::open()?),
        })
    }

    /// Hand `frames` (of `pool`) to the medium, draining the vector: what went out, or had
    /// nowhere to go, returns to the pool; what the peers had no room for goes to `refused`.
    /// Never blocks.
    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>, refused: &mut Vec<Frame>) {
        match self {
            Vde::Plug(c) => c.send(pool, frames, refused),
            Vde::Listen(s) => s.send(pool, frames, refused),
            Vde::Stdio(s) => s.send(pool, frames, refused),
        }
    }

    /// Take in what arrived, about a batch at most, into frames of `pool` appended to `out`,
    /// and do what the medium's sockets ask (accept a client, plug in again). Returns frames
    /// lost for want of a buffer. Never blocks.
    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        match self {
            Vde::Plug(c) => c.recv(pool, out),
            Vde::Listen(s) => s.recv(pool, out),
            Vde::Stdio(s) => s.recv(pool, out),
        }
    }

    /// A descriptor readable when the medium has work, for an idle worker to sleep on.
    pub fn wait_fd(&self) -> RawFd {
        match self {
            Vde::Plug(c) => c.wait_fd(),
            Vde::Listen(s) => s.wait_fd(),
            Vde::Stdio(s) => s.wait_fd(),
        }
    }

    /// Whether work is waiting that the descriptor will not announce (records already read
    /// from the stream): the worker must not sleep.
    pub fn pending(&self) -> bool {
        match self {
            Vde::Stdio(s) => s.pending(),
            Vde::Plug(_) | Vde::Listen(_) => false,
        }
    }

    /// Running totals.
    pub fn stats(&self) -> VdeStats {
        match self {
            Vde::Plug(c) => c.stats(),
            Vde::Listen(s) => s.stats(),
            Vde::Stdio(s) => s.stats(),
        }
    }

    /// What the medium is and what became of it, for the report's port table.
    pub fn describe(&self) -> String {
        match self {
            Vde::Plug(c) => c.describe(),
            Vde::Listen(s) => s.describe(),
            Vde::Stdio(s) => s.describe(),
        }
    }
}

/// Send `frames` as datagrams on the connected socket `fd`, a batch per system call. Returns
/// how many went, a prefix (the rest found the peer's queue full), or an error when the peer
/// is gone.
fn send_frames(fd: BorrowedFd<'_>, pool: &Pool, frames: &[Frame]) -> io::Result<usize> {
    let mut sent = 0;
    for chunk in frames.chunks(BATCH_MAX) {
        let mut slices: [&[u8]; BATCH_MAX] = [&[]; BATCH_MAX];
        for (s, f) in slices.iter_mut().zip(chunk) {
            *s = pool.data(f);
        }
        match sys::send_datagrams(fd, &slices[..chunk.len()]) {
            Ok(n) => {
                sent += n;
                if n < chunk.len() {
                    break;
                }
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent)
}

/// Receive up to `budget` datagrams from `fd` into fresh frames of `pool`, appended to `out`;
/// runts and oversize datagrams are counted in `stats` and dropped. Returns how many datagrams
/// arrived (kept or not), and the error that ended the reading, if one did.
fn recv_frames(
    fd: BorrowedFd<'_>,
    pool: &mut Pool,
    budget: usize,
    out: &mut Vec<Frame>,
    stats: &mut VdeStats,
) -> (usize, Option<io::Error>) {
    let mut fresh: Vec<Frame> = Vec::with_capacity(budget.min(BATCH_MAX));
    while fresh.len() < budget.min(BATCH_MAX) {
        match pool.alloc() {
            Some(f) => fresh.push(f),
            None => break,
        }
    }
    let mut got = [sys::Datagram::default(); BATCH_MAX];
    let (n, err) = match sys::recv_frames(fd, pool, &fresh, &mut got) {
        Ok(n) => (n, None),
        Err(e) => (0, Some(e)),
    };
    for (k, mut frame) in fresh.into_iter().enumerate() {
        if k >= n {
            pool.free(frame);
            continue;
        }
        let d = got[k];
        if d.truncated {
            stats.rx_oversize += 1;
            pool.free(frame);
        } else if d.len < proto::ETH_HEADER {
            // A zero-length datagram is libvdeplug's goodbye, not a runt.
            if d.len != 0 {
                stats.rx_runt += 1;
            }
            pool.free(frame);
        } else if frame.set_len(d.len).is_ok() {
            stats.rx += 1;
            out.push(frame);
        } else {
            stats.rx_oversize += 1;
            pool.free(frame);
        }
    }
    (n, err)
}

/// Whether an error of a connected datagram socket means its peer is gone.
fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::ENOTCONN | libc::EPIPE | libc::ECONNRESET | libc::ENOENT)
    )
}

#[cfg(test)]
mod tests;
