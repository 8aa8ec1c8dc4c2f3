//! Network namespaces and veth pairs, made with iproute2, for the benchmark command and the
//! tests that need the kernel: each caller makes its own, uniquely named, and the guard deletes
//! the namespace (and every device in it) on drop, also when a test fails.
//!
//! Needs root (CAP_SYS_ADMIN for namespaces, CAP_NET_ADMIN for devices).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// True when the process runs as root, which namespaces, veth and XDP need.
pub fn is_root() -> bool {
    sys::geteuid() == 0
}

/// A name unique to this process and call: `{prefix}{pid % 10000}x{n}`, cut to 15 bytes.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = format!("{prefix}{}x{n}", std::process::id() % 10_000);
    name.truncate(15);
    name
}

/// Run a command; a non-zero exit is an error carrying the command and what it printed.
pub fn run(args: &[&str]) -> io::Result<Output> {
    let (program, rest) = args
        .split_first()
        .ok_or_else(|| io::Error::other("empty command"))?;
    let out = Command::new(program)
        .args(rest)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program}: {e}")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).trim_end()
        )));
    }
    Ok(out)
}

/// A named network namespace (`ip netns add`), deleted on drop with everything in it.
#[derive(Debug)]
pub struct NetNs {
    /// Its name, for `ip -n` and `ip netns exec`.
    pub name: String,
}

impl NetNs {
    /// A new namespace named after `prefix` (see [`unique`]), with its loopback up.
    pub fn new(prefix: &str) -> io::Result<NetNs> {
        let ns = NetNs {
            name: unique(prefix),
        };
        run(&["ip", "netns", "add", &ns.name])?;
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n NAME ARGS...`
    pub fn ip(&self, args: &[&str]) -> io::Result<Output> {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `ip netns exec NAME ARGS...`, failing on a non-zero exit.
    pub fn run(&self, args: &[&str]) -> io::Result<Output> {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `ip netns exec NAME ARGS...`, returning the output whatever the exit status.
    pub fn exec(&self, args: &[&str]) -> io::Result<Output> {
        self.command(args.first().copied().unwrap_or("true"))
            .args(args.iter().skip(1))
            .output()
    }

    /// A command to run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Set a sysctl inside the namespace (`net.ipv4.ip_forward=1`).
    pub fn sysctl(&self, setting: &str) -> io::Result<()> {
        self.run(&["sysctl", "-qw", setting]).map(drop)
    }

    /// Move the calling thread into this namespace; threads it spawns afterwards inherit it.
    pub fn enter(&self) -> io::Result<()> {
        let f = File::open(format!("/run/netns/{}", self.name))?;
        sys::setns_net(f.as_fd())
    }

    /// A veth pair, `a` here and `b` in `other`, both up, IPv6 off on both (no router
    /// solicitations or duplicate-address probes in the way of a measurement or a capture).
    pub fn veth(&self, a: &str, other: &NetNs, b: &str) -> io::Result<()> {
        self.veth_queues(a, other, b, 1)
    }

    /// [`NetNs::veth`] with `queues` receive and transmit queues on each end.
    pub fn veth_queues(&self, a: &str, other: &NetNs, b: &str, queues: u32) -> io::Result<()> {
        let q = queues.max(1).to_string();
        let per_end = ["numtxqueues", &q, "numrxqueues", &q];
        let mut args = vec!["link", "add", a];
        args.extend(per_end);
        args.extend(["type", "veth", "peer", "name", b]);
        args.extend(per_end);
        args.extend(["netns", &other.name]);
        self.ip(&args)?;
        for (ns, dev) in [(self, a), (other, b)] {
            ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6=1"))?;
            ns.ip(&["link", "set", "dev", dev, "up"])?;
        }
        Ok(())
    }

    /// True if device `dev` exists here.
    pub fn has_device(&self, dev: &str) -> bool {
        self.ip(&["link", "show", dev]).is_ok()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// The system calls this module makes.
#[allow(unsafe_code)]
mod sys {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};

    pub(super) fn geteuid() -> u32 {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }

    /// Move the calling thread into the network namespace `ns` refers to.
    pub(super) fn setns_net(ns: BorrowedFd<'_>) -> io::Result<()> {
        // SAFETY: setns on a valid namespace descriptor affects only the calling thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
