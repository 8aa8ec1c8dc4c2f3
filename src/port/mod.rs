//! Ports: a router interface bound to a device of the host — a NIC or veth through AF_XDP, or a
//! TAP device — so shoal's instances talk to Linux hosts and real links.
//!
//! A port moves frames between a device and the pool of the worker that serves it, in batches:
//! [`Port::recv`] fills frames of that pool with what the device received, [`Port::send`] hands
//! frames of that pool to the device. With AF_XDP the pool *is* the socket's UMEM, so with a
//! zero-copy driver no byte is copied between the NIC and the router; in copy mode (veth) and
//! with TAP the kernel copies once each way.
//!
//! The modes, what they need and what each fallback costs are in docs/ports.md.

pub mod tap;
pub mod xdp;

use std::os::fd::RawFd;

use crate::frame::{Frame, Pool};
use crate::wire::ethernet::Address as Mac;

/// How an interface binds to its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// AF_XDP if the device and privileges allow it, otherwise a TAP (the reason is logged).
    #[default]
    Auto,
    /// AF_XDP sockets on every receive queue of an existing device.
    AfXdp,
    /// A TAP device: attached if it exists, otherwise created (and removed on exit).
    Tap,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "auto" => Ok(Mode::Auto),
            "afxdp" => Ok(Mode::AfXdp),
            "tap" => Ok(Mode::Tap),
            _ => Err(format!("{s:?} is not a mode (auto, afxdp or tap)")),
        }
    }
}

/// What a port binds to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSpec {
    /// The host device for AF_XDP; in TAP mode, the TAP's name when `tap` is not given.
    pub dev: Option<String>,
    pub mode: Mode,
    /// Name of the TAP in TAP mode or for the fallback of `Auto`.
    pub tap: Option<String>,
    /// Take every frame the device receives, whatever its destination (a switch's port);
    /// otherwise AF_XDP takes only the device's own address, broadcast and multicast.
    pub every_frame: bool,
}

/// Longest name a network device may have (IFNAMSIZ less the terminating NUL).
pub const NAME_MAX: usize = 15;

/// Check a device name as the kernel would (`dev_valid_name`), so a bad name in a topology file
/// is reported there rather than by an ioctl.
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(format!("{name:?}: a device name has 1 to {NAME_MAX} bytes"));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err(format!("{name:?} is not a valid device name"));
    }
    Ok(())
}

/// The TAP name used for interface `iface` of instance `node` when none is given:
/// `node-iface`, cut to [`NAME_MAX`] bytes.
pub fn tap_name(node: &str, iface: &str) -> String {
    let mut name = format!("{node}-{iface}");
    while name.len() > NAME_MAX {
        name.pop();
    }
    name
}

/// Why a port could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The process lacks a capability the operation needs.
    #[error("{what} on {dev} needs {cap} (run as root or grant it: setcap {cap}+ep)")]
    Permission {
        /// What was attempted.
        what: &'static str,
        dev: String,
        /// The capability, as `setcap` spells it (e.g. `cap_net_admin`).
        cap: &'static str,
    },
    /// AF_XDP (and `auto`) bind to an existing device, and none was named.
    #[error("AF_XDP needs a device to bind to (dev)")]
    MissingDevice,
    /// No such device.
    #[error("no network device {0}")]
    NoDevice(String),
    /// More workers were asked to serve the device than it has receive queues.
    #[error(
        "{dev} has {queues} receive queue(s), fewer than the {workers} workers asked to serve \
         it (give it more with `ethtool -L {dev} combined {workers}`, or use fewer workers)"
    )]
    TooFewQueues {
        dev: String,
        queues: u32,
        workers: usize,
    },
    /// The device carries an XDP program shoal did not attach; shoal never replaces it.
    #[error(
        "{dev} already has a foreign XDP program ({name}, id {id}); detach it with \
         `ip link set dev {dev} xdp off` if it is not needed"
    )]
    ForeignProgram { dev: String, name: String, id: u32 },
    /// Anything else the kernel refused, with what was being done.
    #[error("{what} on {dev}: {source}")]
    Os {
        what: &'static str,
        dev: String,
        source: std::io::Error,
    },
}

/// Running totals of a port. Every frame the device hands over is counted in `rx` and then
/// goes on to its link end, where one that finds the instance's receive queue full is dropped
/// and counted (`rx-queue-full` in the run report's link table); what is lost before that is
/// counted here with its reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received from the device.
    pub rx: u64,
    /// Frames handed to the device.
    pub tx: u64,
    /// Frames the device had no room for (full transmit ring), freed and counted here.
    pub tx_full: u64,
    /// Frames the kernel dropped before shoal saw them, where the kernel reports them
    /// (AF_XDP: its receive ring full, or no fill buffer). A TAP's kernel side counts what it
    /// drops when shoal's reads fall behind as the device's transmit drops (`ip -s link`).
    pub rx_dropped: u64,
    /// Received frames larger than a frame buffer (a TAP read that filled its buffer may have
    /// been cut short), dropped.
    pub rx_oversize: u64,
    /// Times a read could not be posted because the pool had no free buffer (TAP).
    pub rx_no_buffer: u64,
    /// Received frames that were not frames: shorter than an Ethernet header, or a stream
    /// record with an impossible length (VDE).
    pub rx_malformed: u64,
}

impl PortStats {
    /// Receive drops by reason, the nonzero ones: `ring-full`, `oversize`, `no-buffer`,
    /// `malformed`.
    pub fn rx_drops(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("ring-full", self.rx_dropped),
            ("oversize", self.rx_oversize),
            ("no-buffer", self.rx_no_buffer),
            ("malformed", self.rx_malformed),
        ]
        .into_iter()
        .filter(|&(_, n)| n != 0)
    }
}

/// An open port.
pub enum Port {
    /// AF_XDP sockets on the device's queues.
    Xdp(xdp::XdpPort),
    /// A TAP device.
    Tap(tap::TapPort),
}

impl Port {
    /// Open what `spec` names on `pool`, the pool of the worker that will serve the port (it
    /// must outlive the port). `default_tap` names the TAP when the spec names none: in TAP
    /// mode without `dev`, and as the fallback of [`Mode::Auto`], which is logged with its
    /// reason.
    pub fn open(spec: &PortSpec, default_tap: &str, pool: &mut Pool) -> Result<Port, PortError> {
        let mut ports = Port::open_shards(spec, default_tap, &mut [pool])?;
        // One pool makes exactly one port; the error is never taken.
        ports.pop().ok_or(PortError::MissingDevice)
    }

    /// Open what `spec` names as one port per pool in `pools`, one per worker serving the
    /// device: AF_XDP ports on disjoint shares of the device's receive queues
    /// ([`xdp::XdpPort::open_shards`]), or the queues of a multi-queue TAP (one queue, not
    /// multi-queue, for a single pool). Otherwise as [`Port::open`].
    pub fn open_shards(
        spec: &PortSpec,
        default_tap: &str,
        pools: &mut [&mut Pool],
    ) -> Result<Vec<Port>, PortError> {
        let tap = spec.tap.as_deref();
        let workers = pools.len();
        let taps = |name: &str| {
            let ports = tap::TapPort::open_queues(name, workers)?;
            Ok(ports.into_iter().map(Port::Tap).collect())
        };
        let xdp = |dev: &str, pools: &mut [&mut Pool]| {
            let ports = xdp::XdpPort::open_shards(dev, pools, spec.every_frame)?;
            Ok::<_, PortError>(ports.into_iter().map(Port::Xdp).collect())
        };
        match (spec.mode, spec.dev.as_deref()) {
            (Mode::Tap, dev) => taps(tap.or(dev).unwrap_or(default_tap)),
            (_, None) => Err(PortError::MissingDevice),
            (Mode::AfXdp, Some(dev)) => xdp(dev, pools),
            (Mode::Auto, Some(dev)) => match xdp(dev, pools) {
                Ok(ports) => Ok(ports),
                Err(e) => {
                    let name = tap.unwrap_or(default_tap);
                    eprintln!("shoal: {dev}: AF_XDP unavailable ({e}); using TAP {name} instead");
                    taps(name)
                }
            },
        }
    }

    /// Take in what the device received: at most [`crate::frame::BATCH_MAX`] frames, appended
    /// to `out`, each a frame of `pool`. Never blocks.
    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        match self {
            Port::Xdp(p) => p.recv(pool, out),
            Port::Tap(p) => p.recv(pool, out),
        }
    }

    /// Hand `frames` (of `pool`) to the device, draining the vector. What the device has no
    /// room for is freed and counted in [`PortStats::tx_full`]. Never blocks.
    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>) {
        match self {
            Port::Xdp(p) => p.send(pool, frames),
            Port::Tap(p) => p.send(pool, frames),
        }
    }

    /// Work the port has in flight: reap finished transmissions (their buffers go back to
    /// `pool`), keep receive buffers posted, kick the kernel. Called once per worker loop.
    pub fn poll(&mut self, pool: &mut Pool) {
        match self {
            Port::Xdp(p) => p.poll(pool),
            Port::Tap(p) => p.poll(pool),
        }
    }

    /// A descriptor that becomes readable when the port has work (a frame received, a
    /// transmission finished), for an idle worker to sleep on.
    pub fn wait_fd(&self) -> RawFd {
        match self {
            Port::Xdp(p) => p.wait_fd(),
            Port::Tap(p) => p.wait_fd(),
        }
    }

    /// The MAC address the router interface should use on this port: the device's own for
    /// AF_XDP (a NIC filters other unicast addresses), `None` for a TAP (the router is the far
    /// end of the TAP's wire and keeps its own).
    pub fn mac(&self) -> Option<Mac> {
        match self {
            Port::Xdp(p) => Some(p.mac()),
            Port::Tap(_) => None,
        }
    }

    /// Running totals.
    pub fn stats(&self) -> PortStats {
        match self {
            Port::Xdp(p) => p.stats(),
            Port::Tap(p) => p.stats(),
        }
    }

    /// Human-readable description: device, mode, queues (e.g. `veth1 afxdp native copy q0-1`).
    pub fn describe(&self) -> String {
        match self {
            Port::Xdp(p) => p.describe(),
            Port::Tap(p) => p.describe(),
        }
    }
}
