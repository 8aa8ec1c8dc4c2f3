//! Spanning tree between shoal switches running on the engine and a Linux kernel bridge, in one
//! ring: shoal switches A (the root, priority 4096, fast timers) and B joined by an in-process
//! link, each with a port on a veth (AF_XDP) whose peer is a port of the Linux bridge L (STP
//! on, port costs 50000). A host hangs on each shoal switch, and a Linux namespace host on L.
//!
//! The tree must come out as 802.1D-2004 says — A the root for Linux too, L's port towards B
//! blocked — and carry pings between all three hosts. Then the A–B link is taken down through
//! `shoal ctl` (a carrier loss the switches see at once): B's only way to the root is through
//! Linux, which must make its blocked port designated and forward on it after listening and
//! learning, and B must take its port towards Linux as its root port. The test prints how long
//! each convergence took on the wall clock and checks that pings cross the new path. Needs root
//! (namespaces, veth, XDP); skips with a printed reason otherwise.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::netns::{NetNs, skip_unless_root};

/// The ring's topology file for shoal.
const TOPOLOGY: &str = r#"
[[switch]]
name = "A"
stp = true
priority = 4096
hello_time = 1
max_age = 6
forward_delay = 4
iface = [
  { name = "ab" },
  { name = "al", attach = { dev = "a1", mode = "afxdp" } },
  { name = "ha", edge = true },
]

[[switch]]
name = "B"
stp = true
iface = [
  { name = "ba" },
  { name = "bl", attach = { dev = "b1", mode = "afxdp" } },
  { name = "hb", edge = true },
]

[[host]]
name = "hA"
iface = { name = "eth0", addr = "10.9.0.1/24" }

[[host]]
name = "hB"
iface = { name = "eth0", addr = "10.9.0.2/24" }

[[link]]
ends = ["A:ab", "B:ba"]

[[link]]
ends = ["A:ha", "hA:eth0"]

[[link]]
ends = ["B:hb", "hB:eth0"]
"#;

/// Linux port states (`/sys/class/net/br0/brif/*/state`).
const LINUX_FORWARDING: &str = "3";
const LINUX_BLOCKING: &str = "4";

/// `shoal run` in the bridge's namespace, killed when dropped.
struct Shoal {
    child: Child,
    sock: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Shoal {
    fn start(ns: &NetNs) -> Shoal {
        let dir = std::env::temp_dir().join(format!("shoal-stp-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("directory");
        let topo = dir.join("ring.toml");
        std::fs::write(&topo, TOPOLOGY).expect("topology file");
        let sock = dir.join("ctl.sock");
        let mut cmd = ns.command(env!("CARGO_BIN_EXE_shoal"));
        cmd.args(["run", topo.to_str().expect("utf-8"), "--seconds", "300"])
            .args(["--ctl", sock.to_str().expect("utf-8")]);
        let child = common::netns::start_shoal(cmd);
        Shoal { child, sock, dir }
    }

    /// `shoal ctl ARGS…`: its standard output, or a panic with its error.
    fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(["ctl", "--ctl", self.sock.to_str().expect("utf-8")])
            .args(args)
            .output()
            .expect("shoal ctl");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The line of `SWITCH stp` about `port`.
    fn port(&self, switch: &str, port: &str) -> String {
        let stp = self.ctl(&[switch, "stp"]);
        let prefix = format!("{port}:");
        stp.lines()
            .find(|l| l.trim_start().starts_with(&prefix))
            .unwrap_or_else(|| panic!("{switch} has no {port}: {stp}"))
            .trim()
            .to_owned()
    }

    /// Whether `ping` from `node` to `dst` is answered (one echo, a second to answer).
    fn pings(&self, node: &str, dst: &str) -> bool {
        self.ctl(&["ping", node, dst, "-c", "1"])
            .contains("bytes from")
    }
}

impl Drop for Shoal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `cat` a sysfs file of br0 in `ns`.
fn linux(ns: &NetNs, file: &str) -> String {
    let out = ns
        .run(&["cat", &format!("/sys/class/net/br0/{file}")])
        .expect("read the Linux bridge's sysfs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Wait until `done` holds (checked every 100 ms), at most `limit`; how long it took, or a
/// panic naming `what` with `report()`.
fn wait_for(
    what: &str,
    limit: Duration,
    done: &dyn Fn() -> bool,
    report: &dyn Fn() -> String,
) -> Duration {
    let t0 = Instant::now();
    while !done() {
        if t0.elapsed() >= limit {
            panic!("{what}: not within {limit:?}\n{}", report());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    t0.elapsed()
}

#[test]
fn shoal_switches_on_the_engine_and_a_linux_bridge_share_one_tree() {
    if skip_unless_root("shoal_switches_on_the_engine_and_a_linux_bridge_share_one_tree") {
        return;
    }
    let ns = NetNs::new("stpe").expect("namespace");
    let host = NetNs::new("stpeh").expect("namespace");
    let ip = |args: &[&str]| ns.ip(args).expect("ip");
    for (x, y) in [("a1", "l2"), ("b1", "l1")] {
        ip(&["link", "add", x, "type", "veth", "peer", "name", y]);
    }
    ns.veth("lh", &host, "eth0")
        .expect("veth to the Linux host");
    ip(&["link", "add", "br0", "type", "bridge", "stp_state", "1"]);
    for dev in ["l1", "l2", "lh"] {
        ip(&["link", "set", dev, "master", "br0"]);
    }
    for dev in ["l1", "l2"] {
        ns.run(&["bridge", "link", "set", "dev", dev, "cost", "50000"])
            .expect("port cost");
    }
    for dev in ["a1", "b1", "l1", "l2", "lh", "br0"] {
        ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6=1"))
            .expect("sysctl");
        ip(&["link", "set", dev, "up"]);
    }
    host.sysctl("net.ipv6.conf.eth0.disable_ipv6=1")
        .expect("sysctl");
    host.ip(&["addr", "add", "10.9.0.3/24", "dev", "eth0"])
        .expect("address");
    host.ip(&["link", "set", "eth0", "up"]).expect("up");

    let t0 = Instant::now();
    let shoal = Shoal::start(&ns);
    let started = || shoal.ctl(&["A", "stp"]).starts_with("bridge ");
    wait_for(
        "A's spanning tree",
        Duration::from_secs(5),
        &started,
        &String::new,
    );
    let a_id = shoal.ctl(&["A", "stp"]);
    let a_id = a_id
        .split_whitespace()
        .nth(1)
        .expect("A's bridge identifier")
        .to_owned();
    // Linux writes the identifier as 1000.020000xxxxxx, as shoal does.
    let state = |dev: &str| linux(&ns, &format!("brif/{dev}/state"));
    let report = || {
        format!(
            "A: {}\nB: {}\nLinux: root {} l1 {} l2 {}",
            shoal.ctl(&["A", "stp"]),
            shoal.ctl(&["B", "stp"]),
            linux(&ns, "bridge/root_id"),
            state("l1"),
            state("l2")
        )
    };
    let converged = || {
        linux(&ns, "bridge/root_id") == a_id
            && state("l1") == LINUX_BLOCKING
            && state("l2") == LINUX_FORWARDING
            && shoal.port("B", "ba").starts_with("ba: Root Forwarding")
            && shoal
                .port("B", "bl")
                .starts_with("bl: Designated Forwarding")
            && shoal
                .port("A", "al")
                .starts_with("al: Designated Forwarding")
    };
    let limit = Duration::from_secs(60);
    let settle =
        |what: &str, limit: Duration, done: &dyn Fn() -> bool| wait_for(what, limit, done, &report);
    settle("the first tree", limit, &converged);
    println!(
        "ring of two shoal switches (engine) and Linux converged {:?} after start\n{}",
        t0.elapsed(),
        report()
    );
    // Linux adopted the root's timers, and shoal's ports towards it speak 802.1D.
    assert_eq!(linux(&ns, "bridge/forward_delay"), "400");
    assert_eq!(linux(&ns, "bridge/hello_time"), "100");
    for (sw, port) in [("A", "al"), ("B", "bl")] {
        let line = shoal.port(sw, port);
        // rx RST/config/TCN: the port hears Linux's configuration BPDUs.
        let rx = line.split(" rx ").nth(1).expect("rx counts");
        let config: u64 = rx
            .split('/')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("config");
        assert!(
            config > 0,
            "{sw}:{port} heard no configuration BPDU: {line}"
        );
    }
    let all_reach = || {
        shoal.pings("hA", "10.9.0.2")
            && shoal.pings("hB", "10.9.0.3")
            && shoal.pings("hA", "10.9.0.3")
    };
    settle(
        "pings around the first tree",
        Duration::from_secs(10),
        &all_reach,
    );

    // Take the A–B link down: B must reach the root through Linux.
    let cut = Instant::now();
    shoal.ctl(&["link", "A:ab", "down"]);
    let rerouted = || {
        linux(&ns, "bridge/root_id") == a_id
            && state("l1") == LINUX_FORWARDING
            && shoal.port("B", "bl").starts_with("bl: Root Forwarding")
    };
    settle("the tree through Linux", limit, &rerouted);
    let took = cut.elapsed();
    let crossing = settle(
        "hB reaches hA through Linux",
        Duration::from_secs(10),
        &|| shoal.pings("hB", "10.9.0.1"),
    );
    println!(
        "after the A–B link went down: tree through Linux in {took:?}, hB reached hA {:?} \
         later (wall clock)\n{}",
        crossing,
        report()
    );
    assert_eq!(
        linux(&ns, "bridge/root_port"),
        {
            let l2 = linux(&ns, "brif/l2/port_no");
            u16::from_str_radix(l2.trim_start_matches("0x"), 16)
                .expect("port_no")
                .to_string()
        },
        "Linux still reaches the root through l2"
    );

    // Bring it back: the first tree again, Linux blocking l1.
    let mended = Instant::now();
    shoal.ctl(&["link", "A:ab", "up"]);
    settle("the first tree again", limit, &converged);
    println!(
        "after the A–B link came back: first tree in {:?}",
        mended.elapsed()
    );
    settle(
        "pings around the first tree again",
        Duration::from_secs(10),
        &all_reach,
    );
}
