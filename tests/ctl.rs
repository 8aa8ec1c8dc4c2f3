//! `shoal ctl` against a running `shoal run`: shows in iproute2's layout and as JSON, changes
//! that take effect (routes, rules, interfaces, links, impairments) or are refused whole, ping,
//! traceroute and capture from the running network, `stop` — and clients that misbehave
//! (garbage, a line too long, one that never reads, too many at once) without holding up the
//! others or the network. No root needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn shoal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
}

/// A `shoal run` of a generated chain of 3 with a paced flow, its control socket in a fresh
/// directory; killed when dropped.
struct Run {
    child: Child,
    sock: PathBuf,
    dir: PathBuf,
}

impl Run {
    fn start(test: &str, seconds: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("shoal-ctl-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let topo = dir.join("c3.toml");
        let out = shoal()
            .args(["gen", "chain", "3", "-o", topo.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success());
        Run::spawn(dir, &topo, seconds)
    }

    /// The same with the topology `text`.
    fn start_with(test: &str, seconds: &str, text: &str) -> Run {
        Run::start_flowing(test, seconds, text, "h1:h2:200")
    }

    /// The same with the topology `text` and the flow `flow`.
    fn start_flowing(test: &str, seconds: &str, text: &str, flow: &str) -> Run {
        let dir = std::env::temp_dir().join(format!("shoal-ctl-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let topo = dir.join("t.toml");
        std::fs::write(&topo, text).unwrap();
        Run::spawn_flowing(dir, &topo, seconds, flow)
    }

    fn spawn(dir: PathBuf, topo: &Path, seconds: &str) -> Run {
        Run::spawn_flowing(dir, topo, seconds, "h1:h2:200")
    }

    fn spawn_flowing(dir: PathBuf, topo: &Path, seconds: &str, flow: &str) -> Run {
        let sock = dir.join("ctl.sock");
        let child = shoal()
            .args(["run", topo.to_str().unwrap(), "--seconds", seconds])
            .args(["--flow", flow, "--ctl", sock.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while UnixStream::connect(&sock).is_err() {
            assert!(t0.elapsed() < Duration::from_secs(10), "no control socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Run { child, sock, dir }
    }

    /// `shoal ctl --ctl SOCK ARGS…`: (succeeded, stdout, stderr).
    fn ctl(&self, args: &[&str]) -> (bool, String, String) {
        let out = shoal()
            .args(["ctl", "--ctl", self.sock.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.ctl(args);
        assert!(ok, "{args:?}: {err}");
        out
    }

    fn refused(&self, args: &[&str], says: &str) {
        let (ok, out, err) = self.ctl(args);
        assert!(!ok, "{args:?} was carried out: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The RTT of one ping line, ms.
fn rtt(line: &str) -> f64 {
    let at = line.find("time=").map_or(line.len(), |i| i + 5);
    line[at..]
        .split(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn shows_changes_and_actions_on_a_running_network() {
    let run = Run::start("all", "30");
    let nodes = run.ok(&["show", "nodes"]);
    assert!(nodes.contains("r1 ") && nodes.contains("host"), "{nodes}");
    let addr = run.ok(&["r1", "ip", "addr"]);
    assert!(
        addr.contains("1: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500"),
        "{addr}"
    );
    assert!(
        addr.contains("inet 10.0.0.1/30 brd 10.0.0.3 scope global eth0"),
        "{addr}"
    );
    // Auto routes compressed (ORTC): the chain beyond eth1 is one /28.
    let routes = run.ok(&["r1", "ip", "route"]);
    assert!(
        routes.contains("10.0.0.0/30 dev eth0 scope link src 10.0.0.1"),
        "{routes}"
    );
    assert!(
        routes.contains("10.0.0.0/28 via 10.0.0.6 dev eth1"),
        "{routes}"
    );
    assert!(
        run.ok(&["r1", "ip", "rule"])
            .starts_with("0:\tfrom all lookup local")
    );
    assert!(run.ok(&["r1", "ip", "neigh"]).contains("dev eth"));
    let counters = run.ok(&["r2", "counters"]);
    assert!(counters.contains("forwarded"), "{counters}");
    let get = run.ok(&["r1", "ip", "route", "get", "10.0.0.14"]);
    assert_eq!(get, "10.0.0.14 via 10.0.0.6 dev eth1\n");
    // JSON shows parse.
    for args in [
        &["show", "links"][..],
        &["show", "nodes"],
        &["stats"],
        &["r1", "ip", "addr"],
    ] {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = run.ok(&all);
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
    }

    // Routes: added, used, refused twice (exists; gateway off-link), deleted.
    run.ok(&["r1", "ip", "route", "add", "10.9.0.0/16", "via", "10.0.0.6"]);
    let get = run.ok(&["r1", "ip", "route", "get", "10.9.1.1"]);
    assert_eq!(get, "10.9.1.1 via 10.0.0.6 dev eth1\n");
    run.refused(
        &["r1", "ip", "route", "add", "10.9.0.0/16", "via", "10.0.0.6"],
        "exists",
    );
    run.refused(
        &[
            "r1",
            "ip",
            "route",
            "add",
            "10.8.0.0/16",
            "via",
            "10.99.0.1",
        ],
        "not on a connected subnet",
    );
    run.refused(
        &["r1", "ip", "route", "add", "10.8.0.0/16", "via", "nonsense"],
        "nonsense",
    );
    run.ok(&["r1", "ip", "route", "del", "10.9.0.0/16"]);
    run.refused(
        &["r1", "ip", "route", "del", "10.9.0.0/16"],
        "no such route",
    );
    // Rules.
    run.ok(&[
        "r1", "ip", "rule", "add", "from", "10.0.0.2", "lookup", "100",
    ]);
    assert!(
        run.ok(&["r1", "ip", "rule"])
            .contains("from 10.0.0.2 lookup 100")
    );
    run.ok(&[
        "r1", "ip", "rule", "del", "from", "10.0.0.2", "lookup", "100",
    ]);
    assert!(!run.ok(&["r1", "ip", "rule"]).contains("10.0.0.2"));

    // An impairment changed live shows in the round trips, and goes again.
    run.ok(&["link", "r2:eth0", "netem", "delay 20ms"]);
    let ping = run.ok(&["ping", "h1", "h2", "-c", "2"]);
    let last = ping.lines().last().unwrap_or_default();
    assert!(rtt(last) >= 20.0, "{ping}");
    assert!(run.ok(&["show", "links"]).contains("delay 20ms"));
    run.ok(&["link", "r2:eth0", "netem", "none"]);
    run.refused(&["link", "r2:eth0", "netem", "loss 120%"], "120%");
    run.refused(
        &["link", "r1:eth0,r2:eth1", "netem", "none"],
        "not two ends of one link",
    );
    // A link down carries nothing; the chain has no other way, so once the computed routes
    // reconverge r1 has none beyond it: net unreachable, unless the flow's own datagrams have
    // spent h1's ICMP error budget (Linux's per-destination limit); up again, pings get
    // through.
    run.ok(&["link", "r1:eth1", "down"]);
    assert!(run.ok(&["show", "links"]).contains("DOWN"));
    let ping = run.ok(&["ping", "h1", "h2", "-c", "1"]);
    let unreachable = ping.contains("From 10.0.0.1 icmp_seq=1 type 3 code 0");
    assert!(unreachable || ping.contains("no answer"), "{ping}");
    assert!(!ping.contains("bytes from"), "{ping}");
    run.ok(&["link", "r1:eth1", "up"]);
    let back = run.ok(&["ping", "h1", "h2", "-c", "3"]);
    assert!(back.contains("bytes from 10.0.0.14"), "{back}");
    // An interface down takes its connected route with it.
    run.ok(&["r1", "link", "set", "eth1", "down"]);
    assert!(!run.ok(&["r1", "ip", "route"]).contains("10.0.0.4/30"));
    run.ok(&["r1", "link", "set", "eth1", "up"]);
    assert!(run.ok(&["r1", "ip", "route"]).contains("10.0.0.4/30"));
    run.ok(&["r1", "ip", "neigh", "flush"]);
    let trace = run.ok(&["traceroute", "h1", "h2"]);
    assert!(trace.contains(" 4  h2 (10.0.0.14)"), "{trace}");
    run.refused(&["nonsense"], "try help");
    run.refused(&["r9", "ip", "addr"], "no node");

    // stop ends the run, which then reports.
    assert!(run.ok(&["stop"]).contains("stopping"));
    let mut run = run;
    let t0 = Instant::now();
    while run.child.try_wait().unwrap().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "stop did not stop the run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut report = String::new();
    run.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    assert!(report.contains("link end"), "{report}");
    assert!(!Path::new(&run.sock).exists(), "the socket is removed");
}

#[test]
fn capture_streams_pcapng_from_the_running_network() {
    let run = Run::start("capture", "30");
    let file = run.dir.join("cap.pcapng");
    let mut child = shoal()
        .args(["ctl", "--ctl", run.sock.to_str().unwrap()])
        .args(["capture", "r2:eth0", "-w", file.to_str().unwrap()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let _ = child.kill();
    let _ = child.wait();
    let bytes = std::fs::read(&file).unwrap();
    // A section header, then the interface, then packets of the flow (200/s).
    assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    let epbs = bytes.windows(4).filter(|w| *w == [6, 0, 0, 0]).count();
    assert!(epbs > 100, "{epbs} packet blocks in {} bytes", bytes.len());
    // The capture went with its client; the network carries on.
    let stats = run.ok(&["stats"]);
    assert!(stats.contains("received"), "{stats}");
}

/// Read one framed answer: (kind, body).
fn answer(r: &mut BufReader<UnixStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    if r.read_line(&mut head).ok()? == 0 {
        return None;
    }
    let mut parts = head.split_whitespace();
    let kind = parts.next()?.to_owned();
    let len: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((kind, body))
}

#[test]
fn misbehaving_clients_hold_up_nobody() {
    let run = Run::start("hostile", "30");
    let received = |run: &Run| -> u64 {
        let stats = run.ok(&["stats"]);
        stats
            .split("received ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let before = received(&run);
    let connect = || {
        let s = UnixStream::connect(&run.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    };
    // Garbage bytes: an error, and the client may go on.
    let mut s = connect();
    s.write_all(b"\xff\xfe\x00garbage\n").unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(answer(&mut r).map(|a| a.0), Some("error".into()));
    s.write_all(b"help\n").unwrap();
    assert_eq!(answer(&mut r).map(|a| a.0), Some("ok".into()));
    // A line too long: an error, then the connection closes.
    let mut long = connect();
    let mut lr = BufReader::new(long.try_clone().unwrap());
    let _ = long.write_all(&vec![b'x'; 200 * 1024]);
    let first = answer(&mut lr);
    assert_eq!(
        first.as_ref().map(|a| a.0.as_str()),
        Some("error"),
        "{first:?}"
    );
    assert!(answer(&mut lr).is_none(), "closed after the error");
    // A client that asks and never reads is dropped once too much waits for it; meanwhile
    // another client is answered at once.
    let mut deaf = connect();
    deaf.set_nonblocking(true).unwrap();
    let asks = b"help\n".repeat(20_000);
    let mut sent = 0;
    let t0 = Instant::now();
    while sent < asks.len() && t0.elapsed() < Duration::from_secs(5) {
        match deaf.write(&asks[sent..]) {
            Ok(n) => sent += n,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        let t = Instant::now();
        assert!(run.ok(&["stats"]).contains("frames"));
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "another client waited"
        );
    }
    // Too many at once: the extra ones are told and closed; the first ones still work.
    let crowd: Vec<UnixStream> = (0..shoal::ctl::MAX_CLIENTS + 5)
        .map(|_| connect())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let told = crowd
        .iter()
        .filter_map(|c| {
            c.set_nonblocking(true).ok()?;
            let mut buf = [0u8; 256];
            let n = (&*c).read(&mut buf).ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).contains("clients are connected already"))
        })
        .filter(|&t| t)
        .count();
    assert!(told >= 5, "{told} of the extra clients were told");
    drop(crowd);
    // The deaf client was dropped: what it finally reads ends well short of its answers.
    deaf.set_nonblocking(false).unwrap();
    deaf.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = deaf.read_to_end(&mut got);
    // 20,000 answers to help are some 14 MB; the server keeps at most 4 MiB for a client.
    assert!(got.len() < 20_000 * 600, "read {} bytes", got.len());
    // The network went on carrying its flow throughout.
    std::thread::sleep(Duration::from_millis(300));
    let after = received(&run);
    assert!(after > before + 50, "received {before} then {after}");
}

#[test]
fn the_shell_reads_commands_from_a_pipe() {
    let run = Run::start("shell", "30");
    let mut child = shoal()
        .args(["ctl", "--ctl", run.sock.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"show nodes\nr1 ip route get 10.0.0.14\nquit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("r1 ") && text.contains("via 10.0.0.6"),
        "{text}"
    );
}

/// Two runs of files with the same name, neither told where to listen: the second takes
/// `NAME-2.sock` instead of failing, and each socket answers for its own run.
#[test]
fn a_second_run_of_a_same_named_file_listens_next_door() {
    let dir = std::env::temp_dir().join(format!("shoal-ctl-twins-{}", std::process::id()));
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut children = Vec::new();
    let mut lines = Vec::new();
    for i in 0..2 {
        let sub = dir.join(format!("{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        let topo = sub.join("twin.toml");
        let made = shoal()
            .args(["gen", "chain", &format!("{}", 2 + i), "-o"])
            .arg(&topo)
            .output()
            .unwrap();
        assert!(made.status.success());
        let mut child = shoal()
            .args(["run", topo.to_str().unwrap(), "--seconds", "20"])
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let line = loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "run {i} ended early");
            if line.starts_with("control socket:") {
                break line;
            }
        };
        lines.push(line);
        children.push(child);
    }
    let first = runtime.join("shoal").join("twin.sock");
    let second = runtime.join("shoal").join("twin-2.sock");
    assert!(lines[0].contains(first.to_str().unwrap()), "{}", lines[0]);
    assert!(lines[1].contains(second.to_str().unwrap()), "{}", lines[1]);
    for (sock, routers) in [(&first, 2), (&second, 3)] {
        let out = shoal()
            .args(["ctl", "--ctl", sock.to_str().unwrap(), "show", "nodes"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = format!("r{routers}");
        assert!(text.contains(&want), "{sock:?} lists {text}");
        assert!(!text.contains(&format!("r{}", routers + 1)), "{text}");
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A ring of four routers between two hosts, routes computed.
const RING: &str = r#"
[settings]
routes = "auto"

[[router]]
name = "r1"
iface = [
  { name = "eth0", addr = "10.0.1.1/24" },
  { name = "eth1", addr = "10.1.12.1/30" },
  { name = "eth2", addr = "10.1.14.1/30" },
]
[[router]]
name = "r2"
iface = [{ name = "eth0", addr = "10.1.12.2/30" }, { name = "eth1", addr = "10.1.23.1/30" }]
[[router]]
name = "r3"
iface = [
  { name = "eth0", addr = "10.1.23.2/30" },
  { name = "eth1", addr = "10.1.34.1/30" },
  { name = "eth2", addr = "10.0.2.1/24" },
]
[[router]]
name = "r4"
iface = [{ name = "eth0", addr = "10.1.34.2/30" }, { name = "eth1", addr = "10.1.14.2/30" }]
[[host]]
name = "h1"
gateway = "10.0.1.1"
iface = { name = "eth0", addr = "10.0.1.2/24" }
[[host]]
name = "h2"
gateway = "10.0.2.1"
iface = { name = "eth0", addr = "10.0.2.2/24" }

[[link]]
ends = ["h1:eth0", "r1:eth0"]
[[link]]
ends = ["r1:eth1", "r2:eth0"]
[[link]]
ends = ["r2:eth1", "r3:eth0"]
[[link]]
ends = ["r3:eth1", "r4:eth0"]
[[link]]
ends = ["r4:eth1", "r1:eth2"]
[[link]]
ends = ["r3:eth2", "h2:eth0"]
"#;

/// A link of a ring taken down: computed routes reconverge around it, the flow keeps arriving
/// the other way, and taking it up brings the first path back; an interface set down does the
/// same; a network without computed routes just loses the link.
#[test]
fn traffic_reroutes_around_a_link_taken_down() {
    let run = Run::start_with("reroute", "30", RING);
    let path = |run: &Run| {
        let trace = run.ok(&["traceroute", "h1", "h2"]);
        assert!(trace.contains("h2 (10.0.2.2)"), "{trace}");
        trace
    };
    let first = path(&run);
    assert!(first.contains(" 2  r2 (10.1.12.2)"), "{first}");
    let said = run.ok(&["link", "r1:eth1", "down"]);
    assert!(
        said.contains("reconverged") && said.contains("router(s) changed"),
        "{said}"
    );
    let around = path(&run);
    assert!(around.contains(" 2  r4 (10.1.14.2)"), "{around}");
    assert!(
        run.ok(&["r1", "ip", "route"])
            .contains("via 10.1.14.2 dev eth2")
    );
    let ping = run.ok(&["ping", "h1", "h2", "-c", "2"]);
    assert_eq!(ping.matches("bytes from 10.0.2.2").count(), 2, "{ping}");
    // The picture of the running network: the link down, the flow's links busy.
    let picture = run.ok(&["graph", "0.5"]);
    assert!(picture.starts_with("graph shoal {"), "{picture}");
    assert_eq!(picture.matches("down").count(), 1, "{picture}");
    assert!(picture.contains(" pps"), "{picture}");
    run.refused(&["graph", "99"], "seconds from 0.1 to 10");
    run.ok(&["link", "r1:eth1", "up"]);
    let back = path(&run);
    assert!(back.contains(" 2  r2 (10.1.12.2)"), "{back}");
    // A router's interface set down: its neighbours route around it too.
    let said = run.ok(&["r2", "link", "set", "eth1", "down"]);
    assert!(said.contains("reconverged"), "{said}");
    assert!(path(&run).contains(" 2  r4 (10.1.14.2)"));
    run.ok(&["r2", "link", "set", "eth1", "up"]);
    assert!(path(&run).contains(" 2  r2 (10.1.12.2)"));
    // A route added by hand that the computation would also give is left alone.
    run.ok(&[
        "r1",
        "ip",
        "route",
        "add",
        "10.9.0.0/16",
        "via",
        "10.1.14.2",
    ]);
    run.ok(&["link", "r1:eth1", "down"]);
    run.ok(&["link", "r1:eth1", "up"]);
    assert!(
        run.ok(&["r1", "ip", "route"])
            .contains("10.9.0.0/16 via 10.1.14.2")
    );
}

/// Switches on the running network: `SWITCH stp` shows the campus's redundant trunk blocked
/// and the picture draws it so; a trunk taken down is a carrier loss the switches see at
/// once, so the blocked trunk takes over within moments (RSTP) and the flow between two
/// hosts goes on; brought back, the trunk is blocked again.
#[test]
fn a_switch_trunk_taken_down_fails_over_on_the_running_network() {
    let campus = include_str!("../examples/campus.toml");
    let run = Run::start_flowing("stp", "60", campus, "h10a:h10b:200");
    let p7 = |run: &Run| {
        let stp = run.ok(&["sw2", "stp"]);
        let line = stp.lines().find(|l| l.trim_start().starts_with("p7:"));
        line.unwrap_or_else(|| panic!("{stp}")).to_owned()
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let t0 = Instant::now();
        while !done() {
            assert!(t0.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
        t0.elapsed()
    };
    wait_for("p7 alternate", &|| p7(&run).contains("Alternate"));
    // The first ARP request may have met the trunks still discarding (spanning tree had not
    // decided yet): wait for the flow's next hop to answer.
    wait_for("h10a reaches h10b", &|| {
        let (ok, out, _) = run.ctl(&["ping", "h10a", "10.0.10.12", "-c", "1"]);
        ok && out.contains("bytes from")
    });
    let counters = run.ok(&["sw2", "counters"]);
    assert!(
        counters.contains("flooded") && counters.contains("  p7: rx "),
        "{counters}"
    );
    assert!(counters.contains("bpdu"), "{counters}");
    let picture = run.ok(&["graph", "0.2"]);
    let blocked: Vec<&str> = picture.lines().filter(|l| l.contains("blocked")).collect();
    assert_eq!(blocked.len(), 1, "{picture}");
    assert!(blocked[0].contains("p7"), "{picture}");

    run.ok(&["link", "sw1:p9", "down"]);
    let took = wait_for("p7 the root port", &|| {
        let line = p7(&run);
        line.contains("Root") && line.contains("Forwarding")
    });
    println!("sw2 failed over to p7 in {took:?} (wall clock, polled every 50 ms)");
    let ping = run.ok(&["ping", "h10a", "10.0.10.12", "-c", "2"]);
    assert_eq!(ping.matches("bytes from 10.0.10.12").count(), 2, "{ping}");
    assert!(!run.ok(&["graph", "0.2"]).contains("blocked"));

    run.ok(&["link", "sw1:p9", "up"]);
    let sw1_p9 = |run: &Run| {
        let stp = run.ok(&["sw1", "stp"]);
        stp.lines()
            .any(|l| l.trim_start().starts_with("p9: Designated Forwarding"))
    };
    let took = wait_for("p7 blocked again, p9 forwarding", &|| {
        p7(&run).contains("Alternate") && sw1_p9(&run)
    });
    println!("back on p9 in {took:?}");
    let ping = run.ok(&["ping", "h20b", "10.0.20.11", "-c", "2"]);
    assert_eq!(ping.matches("bytes from 10.0.20.11").count(), 2, "{ping}");
}
