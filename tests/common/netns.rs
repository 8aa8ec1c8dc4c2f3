//! Network namespaces and veth pairs for tests that need the kernel: each test makes its own,
//! named uniquely, and the guards delete them on drop, also when the test fails.
//!
//! Such tests need root (CI is root). [`skip_unless_root`] prints why a test did not run where
//! it cannot.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// True when the process may create namespaces; otherwise prints why the test is skipped.
pub fn skip_unless_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping {test}: needs root (network namespaces, veth, XDP)");
        return true;
    }
    false
}

/// A name unique to this process and call: `{prefix}{pid % 10000}x{n}`, at most 15 bytes.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}{}x{n}", std::process::id() % 10_000);
    assert!(name.len() <= 15, "device name {name} too long");
    name
}

/// Run a command, panicking with its output if it fails.
pub fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A named network namespace (`ip netns add`), deleted on drop with everything in it.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    /// A new namespace with its loopback up.
    pub fn new(prefix: &str) -> NetNs {
        let ns = NetNs {
            name: unique(prefix),
        };
        run(&["ip", "netns", "add", &ns.name]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS...`
    pub fn ip(&self, args: &[&str]) -> Output {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `ip netns exec NAME ARGS...`, returning the output whatever the exit status.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", args[0]))
    }

    /// A command to run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Move the calling thread into this namespace (threads it spawns inherit it).
    pub fn enter(&self) {
        let f = File::open(format!("/run/netns/{}", self.name)).expect("namespace file");
        // SAFETY: setns on a valid namespace fd affects only the calling thread.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    }

    /// A veth pair: `a` in this namespace, `b` in `other`, both up, IPv6 off (no router
    /// solicitations or DAD noise in captures).
    pub fn veth(&self, a: &str, other: &NetNs, b: &str) {
        self.ip(&[
            "link",
            "add",
            a,
            "type",
            "veth",
            "peer",
            "name",
            b,
            "netns",
            &other.name,
        ]);
        for (ns, dev) in [(self, a), (other, b)] {
            let _ = ns.exec(&[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
            ]);
            ns.ip(&["link", "set", dev, "up"]);
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
