//! The XDP program of a port (bpf/shoal_xdp.bpf.c): loaded once per device with the device's
//! MAC in its read-only data, attached through a `bpf_link`, and told which socket serves each
//! receive queue through its `XSKMAP`.
//!
//! A `bpf_link` rather than the legacy netlink attachment because the kernel detaches a link's
//! program when the last descriptor of the link closes — when the port is dropped, and also
//! when the process is killed (`kill -9`), so no run leaves a program behind that would swallow
//! the device's traffic. Programs attached the legacy way by older runs are still recognised by
//! name and removed; programs of anyone else are never touched.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::sys;
use crate::port::PortError;

/// The skeleton libbpf-cargo generates: bindings, with the `unsafe` of a sys module.
#[allow(unsafe_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/shoal_xdp.skel.rs"));
}

/// The program's name as the kernel reports it; how shoal recognises its own program.
pub const NAME: &str = "shoal_xdp";

/// Capabilities to load an XDP program, as `setcap` spells them.
const LOAD_CAPS: &str = "cap_bpf,cap_net_admin";

/// Where the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// In the driver (`XDP_FLAGS_DRV_MODE`), before any socket buffer is made.
    Native,
    /// After the kernel made a socket buffer (`XDP_FLAGS_SKB_MODE`); works on any device.
    Generic,
}

impl Attach {
    fn flags(self) -> u32 {
        match self {
            Attach::Native => libbpf_sys::XDP_FLAGS_DRV_MODE,
            Attach::Generic => libbpf_sys::XDP_FLAGS_SKB_MODE,
        }
    }

    /// `native` or `generic`.
    pub fn name(self) -> &'static str {
        match self {
            Attach::Native => "native",
            Attach::Generic => "generic",
        }
    }
}

/// A loaded program of one device, attached or not.
pub struct Prog {
    // Declared first: the link goes (and the program leaves the device) before the rest.
    link: Option<OwnedFd>,
    xsks: MapHandle,
    prog: OwnedFd,
}

fn load_error(dev: &str, e: libbpf_rs::Error) -> PortError {
    if e.kind() == libbpf_rs::ErrorKind::PermissionDenied {
        return PortError::Permission {
            what: "loading the XDP program",
            dev: dev.to_string(),
            cap: LOAD_CAPS,
        };
    }
    PortError::Os {
        what: "loading the XDP program",
        dev: dev.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl Prog {
    /// Load the program for a device with MAC `mac` and `queues` receive queues; with
    /// `every_frame` it takes frames to any address (a switch port).
    pub fn load(
        dev: &str,
        mac: [u8; 6],
        every_frame: bool,
        queues: u32,
    ) -> Result<Prog, PortError> {
        let mut storage = MaybeUninit::uninit();
        let mut open = skel::ShoalXdpSkelBuilder::default()
            .open(&mut storage)
            .map_err(|e| load_error(dev, e))?;
        if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
            rodata.port_mac = mac;
            rodata.every_frame = u8::from(every_frame);
        }
        open.maps
            .xsks
            .set_max_entries(queues.max(1))
            .map_err(|e| load_error(dev, e))?;
        let skel = open.load().map_err(|e| load_error(dev, e))?;
        // The object itself is dropped on return; the program and the map live on through
        // these descriptors (and, once attached, through the link).
        let prog = skel
            .progs
            .shoal_xdp
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| PortError::Os {
                what: "loading the XDP program",
                dev: dev.to_string(),
                source,
            })?;
        let xsks = MapHandle::try_from(&skel.maps.xsks).map_err(|e| load_error(dev, e))?;
        Ok(Prog {
            link: None,
            xsks,
            prog,
        })
    }

    /// Attach to device `ifindex` in `mode` (replacing this program's earlier attachment).
    pub fn attach(&mut self, ifindex: u32, mode: Attach) -> std::io::Result<()> {
        self.link = None;
        self.link = Some(sys::xdp_link(self.prog.as_fd(), ifindex, mode.flags())?);
        Ok(())
    }

    /// Detach from the device.
    pub fn detach(&mut self) {
        self.link = None;
    }

    /// Send the frames of receive queue `queue` to socket `sock`.
    pub fn set_socket(&self, queue: u32, sock: BorrowedFd<'_>) -> libbpf_rs::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = sock.as_raw_fd() as u32;
        self.xsks
            .update(&queue.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
    }
}

/// Make sure the device carries no XDP program that would stop ours: remove a stale one of
/// ours attached the legacy way (an old run's), refuse a foreign one, and refuse a live one of
/// ours held by a link (another running shoal).
pub fn clear_stale(dev: &str, ifindex: u32) -> Result<(), PortError> {
    let os = |what, source| PortError::Os {
        what,
        dev: dev.to_string(),
        source,
    };
    let (drv, skb, hw) = sys::xdp_query(ifindex).map_err(|e| os("querying XDP programs", e))?;
    let modes = [
        (drv, libbpf_sys::XDP_FLAGS_DRV_MODE),
        (skb, libbpf_sys::XDP_FLAGS_SKB_MODE),
        (hw, libbpf_sys::XDP_FLAGS_HW_MODE),
    ];
    for (id, flags) in modes {
        if id == 0 {
            continue;
        }
        let perm = |what| PortError::Permission {
            what,
            dev: dev.to_string(),
            cap: "cap_sys_admin",
        };
        let fd = sys::prog_by_id(id).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => perm("identifying the device's XDP program"),
            _ => os("identifying the device's XDP program", e),
        })?;
        let name = sys::prog_name(fd.as_fd())
            .map_err(|e| os("identifying the device's XDP program", e))?;
        if name != NAME {
            return Err(PortError::ForeignProgram {
                dev: dev.to_string(),
                name,
                id,
            });
        }
        match sys::xdp_detach_legacy(ifindex, flags, fd.as_fd()) {
            Ok(()) => eprintln!(
                "shoal: {dev}: removed a stale shoal XDP program (id {id}) left by an earlier run"
            ),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                return Err(os(
                    "XDP program held by another running shoal (bpf_link)",
                    e,
                ));
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                return Err(PortError::Permission {
                    what: "removing a stale XDP program",
                    dev: dev.to_string(),
                    cap: "cap_net_admin",
                });
            }
            Err(e) => return Err(os("removing a stale XDP program", e)),
        }
    }
    Ok(())
}
