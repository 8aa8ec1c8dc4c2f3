//! shoal on real devices: Linux hosts in their own network namespaces talk through shoal
//! routers bound to veth ends by AF_XDP and to TAP devices — ping both ways, traceroute,
//! iperf3 TCP, ARP — and a killed shoal leaves nothing behind that blocks the next run.
//!
//! Needs root (network namespaces); each test builds its own namespaces and removes them, also
//! on failure. The hosts' veth ends run with transmit checksum offload off: a frame that leaves
//! Linux through AF_XDP carries whatever its checksum field held, and a veth lets Linux skip
//! the checksum (docs/ports.md).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::netns::{NetNs, send_on_queue, skip_unless_root};

/// One test with traffic at a time: the machine has two cores, and iperf3 wants one.
static TRAFFIC: Mutex<()> = Mutex::new(());

/// A running `shoal run` inside a namespace; killed (SIGKILL) on drop if still running.
struct Shoal {
    child: Child,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Shoal {
    /// Start `shoal run` on `topo` in `ns` and wait until its engine runs.
    fn start(ns: &NetNs, topo: &str, workers: usize) -> Shoal {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("topo.toml");
        std::fs::write(&path, topo).expect("write topology");
        let mut child = ns
            .command(env!("CARGO_BIN_EXE_shoal"))
            .args(["run", path.to_str().expect("utf-8 path")])
            .args(["--workers", &workers.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shoal");
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("  shoal| {line}");
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut shoal = Shoal {
            child,
            lines,
            _dir: dir,
        };
        shoal.wait_for("Ctrl-C stops", Duration::from_secs(30));
        shoal
    }

    /// Wait until shoal prints a line containing `text`; panic after `timeout` or if it exits.
    fn wait_for(&mut self, text: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().expect("wait for shoal");
                    panic!("shoal exited ({status}) before printing {text:?}: {seen:#?}");
                }
            }
        }
        panic!("shoal did not print {text:?} within {timeout:?}: {seen:#?}");
    }

    /// Stop with SIGTERM and return everything it printed afterwards; it must exit cleanly.
    fn terminate(mut self) -> Vec<String> {
        // SAFETY: kill on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait for shoal");
        // Its readers still hold what was left in the pipes: take lines until they end.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rest = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(_) => break,
            }
        }
        assert!(status.success(), "shoal exited with {status}: {rest:#?}");
        rest
    }

    /// Stop with SIGKILL, as a crash would.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Shoal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Give a host namespace an address on `dev`, a default route, and no checksum offload.
fn host(ns: &NetNs, dev: &str, addr: &str, gateway: &str) {
    ns.ip(&["addr", "add", addr, "dev", dev]).expect("ip");
    ns.ip(&["link", "set", dev, "up"]).expect("ip");
    ns.ip(&["route", "add", "default", "via", gateway])
        .expect("ip");
    ns.run(&["ethtool", "-K", dev, "tx", "off"])
        .expect("ethtool");
}

/// The MAC of `dev` in `ns`.
fn mac_of(ns: &NetNs, dev: &str) -> String {
    let out = ns
        .run(&["cat", &format!("/sys/class/net/{dev}/address")])
        .expect("MAC");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `ip link show DEV` in `ns`, which names an attached XDP program (`prog/xdp id N`).
fn link_show(ns: &NetNs, dev: &str) -> String {
    let out = ns.ip(&["link", "show", dev]).expect("ip link show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ping `dst` from `ns`: every reply must arrive with TTL `ttl` (64 less one per router).
fn ping(ns: &NetNs, dst: &str, ttl: u8) {
    let out = ns
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", dst])
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ping {dst} from {}: {text}", ns.name);
    let replies: Vec<&str> = text.lines().filter(|l| l.contains("bytes from")).collect();
    assert_eq!(replies.len(), 3, "{text}");
    for r in replies {
        assert!(
            r.contains(&format!("ttl={ttl} ")),
            "expected ttl={ttl}: {r}"
        );
    }
}

/// Traceroute from `ns` to `dst`: the hops must be exactly `hops` (numeric, one probe each).
fn traceroute(ns: &NetNs, dst: &str, hops: &[&str]) {
    let out = ns
        .exec(&["traceroute", "-n", "-q", "1", "-w", "2", "-m", "8", dst])
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "traceroute: {text}");
    let seen: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(seen, hops, "{text}");
}

/// iperf3 TCP from `client` to `server_addr` (served in `server`) for five seconds: it must
/// finish without an error and move data.
fn iperf(client: &NetNs, server: &NetNs, server_addr: &str) {
    let mut srv = server
        .command("iperf3")
        .args(["-s", "-1", "-B", server_addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(300));
    let out = client
        .exec(&["iperf3", "-c", server_addr, "-t", "5", "-J"])
        .expect("run");
    let _ = srv.kill();
    let _ = srv.wait();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "iperf3 failed: {json}");
    assert!(
        !json.contains("\"error\""),
        "iperf3 reported an error: {json}"
    );
    let received = json
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|s| s.split("\"bytes\":").nth(1))
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .expect("iperf3 JSON has end.sum_received.bytes");
    assert!(received > 1_000_000, "only {received} bytes in 5 s");
    eprintln!(
        "  iperf3 {} -> {server_addr}: {:.1} Mbit/s",
        client.name,
        received as f64 * 8.0 / 5e6
    );
}

/// Linux's ARP entry for `gateway` in `ns` must name `mac`.
fn arp_resolves(ns: &NetNs, gateway: &str, mac: &str) {
    let out = ns.ip(&["neigh", "show", gateway]).expect("ip neigh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("lladdr {mac}")),
        "ARP for {gateway}: {text}"
    );
}

/// Everything the hosts check through shoal: ping both ways with the TTL the hop count gives,
/// traceroute both ways listing exactly these hops, and five seconds of iperf3 TCP.
fn check_path(h1: &NetNs, h2: &NetNs, hops_to_h2: &[&str], hops_to_h1: &[&str]) {
    let ttl = 64 - (hops_to_h2.len() - 1) as u8;
    ping(h1, "10.2.0.2", ttl);
    ping(h2, "10.1.0.2", ttl);
    traceroute(h1, "10.2.0.2", hops_to_h2);
    traceroute(h2, "10.1.0.2", hops_to_h1);
    iperf(h1, h2, "10.2.0.2");
}

/// Namespaces for host 1, shoal and host 2, named after `prefix`.
fn three_namespaces(prefix: &str) -> (NetNs, NetNs, NetNs) {
    let ns = |suffix| NetNs::new(&format!("{prefix}{suffix}")).expect("namespace");
    (ns("1"), ns("s"), ns("2"))
}

/// Router r1 on `workers` workers between 10.1.0.0/24 (interface a, attached as `a`) and
/// 10.2.0.0/24 (b).
fn one_router(workers: usize, a: &str, b: &str) -> String {
    format!(
        r#"[[router]]
name = "r1"
workers = {workers}
iface = [
  {{ name = "a", addr = "10.1.0.1/24", mac = "02:5a:00:00:00:01", attach = {a} }},
  {{ name = "b", addr = "10.2.0.1/24", mac = "02:5a:00:00:00:02", attach = {b} }},
]
routes = "auto"
"#
    )
}

/// h1 ─ veth ─ [shoal r1, AF_XDP] ─ veth ─ h2
#[test]
fn hosts_talk_through_a_router_on_afxdp() {
    if skip_unless_root("hosts_talk_through_a_router_on_afxdp") {
        return;
    }
    let _one = TRAFFIC.lock().unwrap_or_else(|e| e.into_inner());
    let (h1, sh, h2) = three_namespaces("pa");
    h1.veth("eth0", &sh, "xa").expect("veth");
    h2.veth("eth0", &sh, "xb").expect("veth");
    host(&h1, "eth0", "10.1.0.2/24", "10.1.0.1");
    host(&h2, "eth0", "10.2.0.2/24", "10.2.0.1");
    let topo = one_router(
        1,
        r#"{ dev = "xa", mode = "afxdp" }"#,
        r#"{ dev = "xb", mode = "afxdp" }"#,
    );
    let shoal = Shoal::start(&sh, &topo, 1);
    assert!(
        link_show(&sh, "xa").contains("xdp"),
        "{}",
        link_show(&sh, "xa")
    );
    check_path(
        &h1,
        &h2,
        &["10.1.0.1", "10.2.0.2"],
        &["10.2.0.1", "10.1.0.2"],
    );
    // Bound to a device, the interface takes the device's MAC (a NIC filters the rest).
    arp_resolves(&h1, "10.1.0.1", &mac_of(&sh, "xa"));
    arp_resolves(&h2, "10.2.0.1", &mac_of(&sh, "xb"));
    let report = shoal.terminate().join("\n");
    assert!(report.contains("afxdp"), "{report}");
    for dev in ["xa", "xb"] {
        assert!(
            !link_show(&sh, dev).contains("xdp"),
            "{dev} keeps XDP after SIGTERM"
        );
    }
}

/// The rows of shoal's port table for `iface`: (worker, rx, tx, bound to) — the receive drops
/// by reason that may follow are left out.
fn port_rows(report: &str, iface: &str) -> Vec<(usize, u64, u64, String)> {
    report
        .lines()
        .skip_while(|l| !l.starts_with("port "))
        .filter(|l| l.starts_with(&format!("r1:{iface} ")))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| f[i].parse::<u64>().expect("a number");
            // What the port is bound to, without the receive drops after it.
            let bound = f[6..].join(" ");
            let bound = bound.split("; ").next().unwrap_or_default().to_owned();
            (num(1) as usize, num(2), num(3), bound)
        })
        .collect()
}

/// h1 ─ veth, 2 queues ─ [r1 on 2 workers, AF_XDP] ─ veth, 2 queues ─ h2. Each worker runs a
/// replica of r1 on one queue of each device. h1 sends only on queue 0 and h2 only on queue
/// 1, so one replica forwards h1 → h2 and the other h2 → h1, and each replica's ARP request
/// is answered on the other's queue: the path works only because replicas share ARP.
#[test]
fn a_router_spread_over_two_workers_serves_a_queue_each() {
    if skip_unless_root("a_router_spread_over_two_workers_serves_a_queue_each") {
        return;
    }
    let _one = TRAFFIC.lock().unwrap_or_else(|e| e.into_inner());
    let (h1, sh, h2) = three_namespaces("pq");
    sh.veth_queues("xa", &h1, "eth0", 2).expect("veth");
    sh.veth_queues("xb", &h2, "eth0", 2).expect("veth");
    host(&h1, "eth0", "10.1.0.2/24", "10.1.0.1");
    host(&h2, "eth0", "10.2.0.2/24", "10.2.0.1");
    send_on_queue(&h1, "eth0", 0);
    send_on_queue(&h2, "eth0", 1);
    let topo = one_router(
        2,
        r#"{ dev = "xa", mode = "afxdp" }"#,
        r#"{ dev = "xb", mode = "afxdp" }"#,
    );
    let shoal = Shoal::start(&sh, &topo, 2);
    check_path(
        &h1,
        &h2,
        &["10.1.0.1", "10.2.0.2"],
        &["10.2.0.1", "10.1.0.2"],
    );
    let report = shoal.terminate().join("\n");
    let (a, b) = (port_rows(&report, "a"), port_rows(&report, "b"));
    assert_eq!((a.len(), b.len()), (2, 2), "{report}");
    for (worker, rows) in [(0, [&a[0], &b[0]]), (1, [&a[1], &b[1]])] {
        for row in rows {
            assert_eq!(row.0, worker, "{report}");
            assert!(row.3.ends_with(&format!("queue {worker} of 2")), "{report}");
        }
    }
    // Worker 0 took h1's traffic in on a and sent it out of b; worker 1 the other way.
    assert!(a[0].1 > 1000 && b[0].2 > 1000, "{report}");
    assert!(b[1].1 > 1000 && a[1].2 > 1000, "{report}");
    assert_eq!(a[1].1 + b[0].1, 0, "{report}");
    for dev in ["xa", "xb"] {
        assert!(
            !link_show(&sh, dev).contains("xdp"),
            "{dev} keeps XDP after SIGTERM"
        );
    }
}

/// h1 ─ TAP ─ [shoal r1 on `workers` workers] ─ TAP ─ h2: shoal creates the TAPs (multi-queue,
/// a queue per worker, when several), the test moves each into its host's namespace (the open
/// descriptor stays shoal's). Checks the path and that the TAPs go with shoal; returns what
/// shoal printed when it stopped.
fn hosts_through_taps(prefix: &str, workers: usize) -> String {
    let _one = TRAFFIC.lock().unwrap_or_else(|e| e.into_inner());
    let (h1, sh, h2) = three_namespaces(prefix);
    let topo = one_router(
        workers,
        r#"{ mode = "tap", tap = "ta" }"#,
        r#"{ mode = "tap", tap = "tb" }"#,
    );
    let shoal = Shoal::start(&sh, &topo, workers);
    for (dev, ns) in [("ta", &h1), ("tb", &h2)] {
        sh.ip(&["link", "set", dev, "netns", &ns.name]).expect("ip");
    }
    host(&h1, "ta", "10.1.0.2/24", "10.1.0.1");
    host(&h2, "tb", "10.2.0.2/24", "10.2.0.1");
    check_path(
        &h1,
        &h2,
        &["10.1.0.1", "10.2.0.2"],
        &["10.2.0.1", "10.1.0.2"],
    );
    arp_resolves(&h1, "10.1.0.1", "02:5a:00:00:00:01");
    arp_resolves(&h2, "10.2.0.1", "02:5a:00:00:00:02");
    let report = shoal.terminate().join("\n");
    assert!(report.contains("tap"), "{report}");
    // shoal created the TAPs, so they went with it, wherever they had been moved.
    assert!(
        !h1.has_device("ta") && !h2.has_device("tb"),
        "TAPs left behind"
    );
    report
}

#[test]
fn hosts_talk_through_a_router_on_tap() {
    if skip_unless_root("hosts_talk_through_a_router_on_tap") {
        return;
    }
    hosts_through_taps("pt", 1);
}

/// A router spread over two workers in TAP mode: each worker serves one queue of a
/// multi-queue TAP per interface.
#[test]
fn a_router_spread_over_two_workers_on_multi_queue_taps() {
    if skip_unless_root("a_router_spread_over_two_workers_on_multi_queue_taps") {
        return;
    }
    let report = hosts_through_taps("pu", 2);
    for iface in ["a", "b"] {
        let rows = port_rows(&report, iface);
        let workers: Vec<usize> = rows.iter().map(|r| r.0).collect();
        assert_eq!(workers, [0, 1], "{report}");
        assert!(rows.iter().all(|r| r.3.contains("multi-queue")), "{report}");
    }
}

/// The row of shoal's instance table for `name`: received, forwarded, delivered, dropped,
/// held, sent.
fn instance_row(report: &str, name: &str) -> [u64; 6] {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row for {name}: {report}"));
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(6)
        .map(|n| n.parse().expect("a number"))
        .collect();
    f.try_into().expect("six numbers")
}

/// What a TAP port loses on receive shows in the report with its reason, and the instance
/// table balances: received = forwarded + delivered + dropped + held. h1's side of the TAP
/// takes a 9,000-byte MTU, so its large pings outgrow shoal's buffers (oversize); its small
/// pings to the router are delivered locally; its TTL-1 pings through are dropped (and
/// answered with time exceeded).
#[test]
fn a_taps_receive_drops_and_local_deliveries_show_in_the_report() {
    if skip_unless_root("a_taps_receive_drops_and_local_deliveries_show_in_the_report") {
        return;
    }
    let _one = TRAFFIC.lock().unwrap_or_else(|e| e.into_inner());
    let (h1, sh, h2) = three_namespaces("pr");
    let topo = one_router(
        1,
        r#"{ mode = "tap", tap = "ta" }"#,
        r#"{ mode = "tap", tap = "tb" }"#,
    );
    let shoal = Shoal::start(&sh, &topo, 1);
    for (dev, ns) in [("ta", &h1), ("tb", &h2)] {
        sh.ip(&["link", "set", dev, "netns", &ns.name]).expect("ip");
    }
    host(&h1, "ta", "10.1.0.2/24", "10.1.0.1");
    host(&h2, "tb", "10.2.0.2/24", "10.2.0.1");
    h1.ip(&["link", "set", "ta", "mtu", "9000"]).expect("ip");
    ping(&h1, "10.1.0.1", 64);
    let big = h1
        .exec(&[
            "ping", "-c", "2", "-i", "0.2", "-W", "1", "-M", "do", "-s", "8000", "10.1.0.1",
        ])
        .expect("run");
    let text = String::from_utf8_lossy(&big.stdout);
    assert!(text.contains("2 packets transmitted, 0 received"), "{text}");
    let expired = h1
        .exec(&[
            "ping", "-c", "2", "-i", "0.2", "-W", "1", "-t", "1", "10.2.0.2",
        ])
        .expect("run");
    let text = String::from_utf8_lossy(&expired.stdout);
    assert!(text.contains("Time to live exceeded"), "{text}");
    let report = shoal.terminate().join("\n");

    let [received, forwarded, delivered, dropped, held, sent] = instance_row(&report, "r1");
    assert_eq!(received, forwarded + delivered + dropped + held, "{report}");
    // Three echo requests (and the ARP that preceded them) were taken in; two TTL-1 pings
    // dropped; nothing went through.
    assert!(delivered >= 3, "{report}");
    assert!(dropped >= 2, "{report}");
    assert_eq!(forwarded, 0, "{report}");
    assert!(sent >= 5, "{report}");
    let a = report
        .lines()
        .skip_while(|l| !l.starts_with("port "))
        .find(|l| l.starts_with("r1:a "))
        .unwrap_or_else(|| panic!("no port row for r1:a: {report}"));
    // rx lost 2, by reason: oversize.
    assert_eq!(a.split_whitespace().nth(5), Some("2"), "{report}");
    assert!(a.ends_with("; oversize 2"), "{report}");
}

/// h1 ─ veth ─ [A, AF_XDP] ═ shared-memory ring ═ [B] ─ TAP ─ h2, A and B on two workers.
#[test]
fn chain_of_afxdp_shared_memory_and_tap() {
    if skip_unless_root("chain_of_afxdp_shared_memory_and_tap") {
        return;
    }
    let _one = TRAFFIC.lock().unwrap_or_else(|e| e.into_inner());
    let (h1, sh, h2) = three_namespaces("pc");
    h1.veth("eth0", &sh, "xa").expect("veth");
    host(&h1, "eth0", "10.1.0.2/24", "10.1.0.1");
    let topo = r#"
[[router]]
name = "A"
core = 0
iface = [
  { name = "a", addr = "10.1.0.1/24", attach = { dev = "xa", mode = "afxdp" } },
  { name = "ab", addr = "10.12.0.1/30" },
]
routes = "auto"

[[router]]
name = "B"
core = 1
iface = [
  { name = "ab", addr = "10.12.0.2/30" },
  { name = "b", addr = "10.2.0.1/24", attach = { mode = "tap", tap = "tb" } },
]
routes = "auto"

[[link]]
ends = ["A:ab", "B:ab"]
"#;
    let shoal = Shoal::start(&sh, topo, 2);
    sh.ip(&["link", "set", "tb", "netns", &h2.name])
        .expect("ip");
    host(&h2, "tb", "10.2.0.2/24", "10.2.0.1");
    check_path(
        &h1,
        &h2,
        &["10.1.0.1", "10.12.0.2", "10.2.0.2"],
        &["10.2.0.1", "10.12.0.1", "10.1.0.2"],
    );
    shoal.terminate();
    assert!(!link_show(&sh, "xa").contains("xdp"));
    assert!(!h2.has_device("tb"));
}

/// kill -9 leaves nothing that blocks the next run (the XDP program is held by a link that
/// dies with the process, the TAP by a descriptor); SIGTERM leaves nothing at all.
#[test]
fn a_killed_shoal_blocks_no_later_run() {
    if skip_unless_root("a_killed_shoal_blocks_no_later_run") {
        return;
    }
    let (h1, sh) = (
        NetNs::new("pk1").expect("namespace"),
        NetNs::new("pks").expect("namespace"),
    );
    h1.veth("eth0", &sh, "xa").expect("veth");
    host(&h1, "eth0", "10.1.0.2/24", "10.1.0.1");
    let topo = r#"
[[router]]
name = "r1"
iface = [
  { name = "a", addr = "10.1.0.1/24", attach = { dev = "xa", mode = "afxdp" } },
  { name = "t", addr = "10.3.0.1/24", attach = { mode = "tap", tap = "tk" } },
]
"#;
    let first = Shoal::start(&sh, topo, 1);
    assert!(link_show(&sh, "xa").contains("xdp") && sh.has_device("tk"));
    first.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while (link_show(&sh, "xa").contains("xdp") || sh.has_device("tk")) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !link_show(&sh, "xa").contains("xdp"),
        "{}",
        link_show(&sh, "xa")
    );
    assert!(!sh.has_device("tk"), "TAP survived kill -9");
    let second = Shoal::start(&sh, topo, 1);
    ping(&h1, "10.1.0.1", 64);
    second.terminate();
    assert!(!link_show(&sh, "xa").contains("xdp") && !sh.has_device("tk"));
}

/// A topology naming a missing device fails with one clear line naming it, and exits non-zero.
#[test]
fn a_missing_device_is_a_clear_error() {
    if skip_unless_root("a_missing_device_is_a_clear_error") {
        return;
    }
    let sh = NetNs::new("pm").expect("namespace");
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("t.toml");
    std::fs::write(
        &path,
        one_router(
            1,
            r#"{ dev = "nosuch0", mode = "afxdp" }"#,
            r#"{ dev = "nosuch1", mode = "afxdp" }"#,
        ),
    )
    .expect("write");
    let out = sh
        .command(env!("CARGO_BIN_EXE_shoal"))
        .args(["run", path.to_str().expect("utf-8")])
        .output()
        .expect("run shoal");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nosuch0"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Received-frame count of `dev` in `ns`.
fn rx_packets(ns: &NetNs, dev: &str) -> u64 {
    let out = ns
        .run(&[
            "cat",
            &format!("/sys/class/net/{dev}/statistics/rx_packets"),
        ])
        .expect("counter");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

/// Policy routing with Linux hosts around it: h1 has two addresses behind shoal; two uplinks
/// both reach 198.51.100.1. Traffic from h1's second address goes out the second uplink (a
/// source rule), UDP to port 7000 too (the classifier marks it, a fwmark rule routes it), the
/// rest takes the main table's default through the first uplink.
#[test]
fn hosts_routed_by_source_and_by_mark() {
    if skip_unless_root("hosts_routed_by_source_and_by_mark") {
        return;
    }
    let _one = TRAFFIC.lock().unwrap_or_else(|e| e.into_inner());
    let ns = |p| NetNs::new(p).expect("namespace");
    let (h1, sh, u1, u2) = (ns("pp1"), ns("pps"), ns("ppu"), ns("ppv"));
    h1.veth("eth0", &sh, "xl").expect("veth");
    u1.veth("eth0", &sh, "x1").expect("veth");
    u2.veth("eth0", &sh, "x2").expect("veth");
    host(&h1, "eth0", "10.1.0.2/24", "10.1.0.1");
    h1.ip(&["addr", "add", "10.1.0.3/24", "dev", "eth0"])
        .expect("ip");
    for (u, addr, gw) in [
        (&u1, "10.2.0.2/24", "10.2.0.1"),
        (&u2, "10.3.0.2/24", "10.3.0.1"),
    ] {
        host(u, "eth0", addr, gw);
        u.ip(&["addr", "add", "198.51.100.1/32", "dev", "lo"])
            .expect("ip");
    }
    let topo = r#"
[[router]]
name = "r1"
tables = { isp1 = 100, isp2 = 200 }
routes = [
  "default via 10.2.0.2",
  "default via 10.2.0.2 table isp1",
  "default via 10.3.0.2 table isp2",
]
rules = ["from 10.1.0.3 lookup isp2", "fwmark 0x2 lookup isp2"]
marks = ["ipproto udp dport 7000 mark 0x2"]
iface = [
  { name = "lan", addr = "10.1.0.1/24", attach = { dev = "xl", mode = "afxdp" } },
  { name = "up1", addr = "10.2.0.1/24", attach = { dev = "x1", mode = "afxdp" } },
  { name = "up2", addr = "10.3.0.1/24", attach = { dev = "x2", mode = "afxdp" } },
]
"#;
    let shoal = Shoal::start(&sh, topo, 1);
    // Which uplink carried `send`: at least 20 frames there, hardly any (ARP) on the other.
    let through = |send: &dyn Fn()| {
        let before = (rx_packets(&u1, "eth0"), rx_packets(&u2, "eth0"));
        send();
        let after = (rx_packets(&u1, "eth0"), rx_packets(&u2, "eth0"));
        match (after.0 - before.0, after.1 - before.1) {
            (a, b) if a >= 20 && b <= 5 => 1,
            (a, b) if b >= 20 && a <= 5 => 2,
            other => panic!("no clear uplink: {other:?} frames on (up1, up2)"),
        }
    };
    let h1 = &h1;
    let ping_from = |src: &'static str| {
        move || {
            let out = h1
                .exec(&[
                    "ping",
                    "-c",
                    "20",
                    "-i",
                    "0.02",
                    "-W",
                    "2",
                    "-I",
                    src,
                    "198.51.100.1",
                ])
                .expect("ping");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(" 0% packet loss"), "{text}");
        }
    };
    assert_eq!(through(&ping_from("10.1.0.2")), 1, "main table's default");
    assert_eq!(through(&ping_from("10.1.0.3")), 2, "source rule");
    let udp = || {
        let script = "for i in $(seq 25); do echo x > /dev/udp/198.51.100.1/7000; done";
        h1.run(&["bash", "-c", script]).expect("UDP");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        through(&udp),
        2,
        "marked by the classifier, routed by fwmark"
    );
    let other_port = || {
        let script = "for i in $(seq 25); do echo x > /dev/udp/198.51.100.1/7001; done";
        h1.run(&["bash", "-c", script]).expect("UDP");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(through(&other_port), 1, "unmarked UDP keeps the main route");
    shoal.terminate();
}
