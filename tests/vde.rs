//! VDE interoperability: shoal's interfaces plugged into vde2's `vde_switch`, vde2's
//! `vde_plug` plugged into shoal's, `dpipe` cables between them, and peers killed while the
//! rest runs on. Needs no root; the tests that drive vde2's tools say SKIP when they are
//! missing (scripts/deps --test installs them). Every process a test starts is killed and
//! every directory it made removed, also when it fails.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::mpsc::{Receiver, channel};

use shoal::engine::{Engine, EngineConfig, FlowSpec, Network, NodeId};
use shoal::fabric::Pace;
use shoal::probe::PingReply;
use shoal::router::{Config, IfAddr, IfaceId, Router};
use shoal::topo::Topology;
use shoal::vde::VdeSpec;
use shoal::vde::proto::{Decoder, Record, encode_record};
use shoal::wire::ethernet::Address;

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("shoal-vde-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) when dropped.
struct Proc(Child);

impl Proc {
    /// Whether it has exited, waiting up to `within`.
    fn exits_within(&mut self, within: Duration) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self.0.try_wait().ok().flatten().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `tools` are all installed; says SKIP when one is not.
fn have(test: &str, tools: &[&str]) -> bool {
    for t in tools {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()));
        if !found {
            eprintln!("SKIP {test}: {t} is not installed (scripts/deps --test installs vde2)");
            return false;
        }
    }
    true
}

/// A router with one interface `eth0`, 10.0.0.`last`/24, MAC 02:00:00:00:00:`last`.
fn router(last: u8) -> Router {
    let mut r = Router::new(Config::default());
    let id = r
        .add_iface("eth0", Address([2, 0, 0, 0, 0, last]), 1500)
        .unwrap();
    let addr = IfAddr::new([10, 0, 0, last].into(), 24).unwrap();
    r.add_addr(id, addr).unwrap();
    r
}

fn one_worker() -> EngineConfig {
    EngineConfig {
        workers: 1,
        pin: false,
        ..EngineConfig::default()
    }
}

/// Ping `dst` from `node` until `n` echo replies came back (a few tries each: the first
/// resolves ARP, a replug takes a second).
fn pings(engine: &Engine, node: NodeId, dst: Ipv4Addr, n: u16) -> u16 {
    let mut ok = 0;
    for seq in 0..n * 4 {
        if let PingReply::Echo { .. } = engine.ping(node, dst, seq, Duration::from_millis(500)) {
            ok += 1;
            if ok == n {
                break;
            }
        }
    }
    ok
}

#[test]
fn shoal_plugs_into_a_shoal_interface_on_the_engine() {
    let dir = Scratch::new("self");
    let sw = dir.join("r1.vde");
    let mut net = Network::new();
    let r1 = net.add("r1", router(1));
    let r2 = net.add("r2", router(2));
    net.attach_vde((r1, IfaceId(0)), VdeSpec::Listen { dir: sw.clone() })
        .unwrap();
    net.attach_vde(
        (r2, IfaceId(0)),
        VdeSpec::Plug {
            dir: sw.clone(),
            port: None,
        },
    )
    .unwrap();
    let engine = Engine::start(net, one_worker()).unwrap();
    assert_eq!(pings(&engine, r2, [10, 0, 0, 1].into(), 3), 3);
    let report = engine.stop().unwrap();
    let ports: Vec<String> = report.ports.iter().map(|p| p.describe.clone()).collect();
    assert!(ports[0].contains("1 client"), "{ports:?}");
    assert!(ports[1].contains("port 1"), "{ports:?}");
    for l in &report.links {
        assert_eq!(l.imbalance(), 0, "{l:?}");
    }
    assert!(
        !sw.exists(),
        "the listening interface removes its directory"
    );
}

/// `vde_switch -s DIR`, in the foreground (it runs while its standard input is open), once
/// it takes connections on its control socket (a killed switch leaves its socket behind).
fn vde_switch(dir: &Path) -> Proc {
    let child = Command::new("vde_switch")
        .arg("-s")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vde_switch starts");
    let p = Proc(child);
    let until = Instant::now() + Duration::from_secs(5);
    while std::os::unix::net::UnixStream::connect(dir.join("ctl")).is_err() {
        assert!(
            Instant::now() < until,
            "vde_switch never listened at {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    p
}

/// A host made of a `vde_plug` whose stream the test speaks: frames written to its standard
/// input go into the switch it is plugged into; what the switch sends it comes out of its
/// standard output, cut into frames by shoal's own stream decoder.
struct Plug {
    proc: Proc,
    frames: Receiver<Vec<u8>>,
}

impl Plug {
    fn new(switch: &Path) -> Plug {
        let mut child = Command::new("vde_plug")
            .arg(switch)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vde_plug starts");
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut d = Decoder::new(1792, 65536);
            loop {
                match out.read(d.spare()) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => d.filled(n),
                }
                while let Some(r) = d.record() {
                    if let Record::Frame(f) = r
                        && tx.send(f.to_vec()).is_err()
                    {
                        return;
                    }
                }
            }
        });
        Plug {
            proc: Proc(child),
            frames: rx,
        }
    }

    fn send(&mut self, frame: &[u8]) {
        let mut rec = Vec::new();
        encode_record(frame, &mut rec);
        let stdin = self.proc.0.stdin.as_mut().unwrap();
        stdin.write_all(&rec).unwrap();
        stdin.flush().unwrap();
    }

    /// The first frame within `within` that `want` accepts, skipping others.
    fn expect(&self, within: Duration, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let until = Instant::now() + within;
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            match self.frames.recv_timeout(left) {
                Ok(f) if want(&f) => return Some(f),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Ask who has `ip` (ARP, from MAC `mac` and address `from`) until someone answers:
    /// the answerer's MAC.
    fn arp(&mut self, mac: [u8; 6], from: [u8; 4], ip: [u8; 4]) -> Option<[u8; 6]> {
        for _ in 0..10 {
            self.send(&arp_request(mac, from, ip));
            let reply = self.expect(Duration::from_millis(300), |f| {
                f.len() >= 42 && f[12..14] == [8, 6] && f[21] == 2 && f[28..32] == ip
            });
            if let Some(f) = reply {
                return Some(f[22..28].try_into().unwrap());
            }
        }
        None
    }
}

fn arp_request(mac: [u8; 6], from: [u8; 4], ip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&from);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip);
    f.resize(60, 0);
    f
}

/// An ICMP echo request from `src` (MAC, address) to `dst` (MAC, address).
fn echo_request(src: ([u8; 6], [u8; 4]), dst: ([u8; 6], [u8; 4]), seq: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2(src.0, dst.0)
        .ipv4(src.1, dst.1, 64)
        .icmpv4_echo_request(0x5151, seq);
    let payload = [0xa5u8; 32];
    let mut f = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut f, &payload).unwrap();
    f
}

/// Whether `f` is an echo reply with sequence number `seq` from `from`.
fn is_echo_reply(f: &[u8], from: [u8; 4], seq: u16) -> bool {
    use etherparse::{Icmpv4Type, NetSlice, SlicedPacket, TransportSlice};
    let Ok(p) = SlicedPacket::from_ethernet(f) else {
        return false;
    };
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        return false;
    };
    if ip.header().source() != from {
        return false;
    }
    match &p.transport {
        Some(TransportSlice::Icmpv4(icmp)) => {
            matches!(icmp.icmp_type(), Icmpv4Type::EchoReply(e) if e.seq == seq)
        }
        _ => false,
    }
}

/// Ping `ip` (MAC `to`) from the plug as host (`mac`, `from`): whether `n` replies came.
fn plug_pings(plug: &mut Plug, me: ([u8; 6], [u8; 4]), to: ([u8; 6], [u8; 4]), n: u16) -> bool {
    (0..n).all(|seq| {
        plug.send(&echo_request(me, to, seq));
        plug.expect(Duration::from_secs(1), |f| is_echo_reply(f, to.1, seq))
            .is_some()
    })
}

/// A router with a LAN and an interface `wan` given `wan` as its last lines.
fn topo_with(wan: &str) -> String {
    format!(
        "[[router]]\nname = \"r1\"\n\
         [[router.iface]]\nname = \"lan\"\naddr = \"10.0.1.1/24\"\n\
         [[router.iface]]\nname = \"wan\"\naddr = \"10.0.12.1/24\"\n{wan}\n\
         [[host]]\nname = \"h1\"\ngateway = \"10.0.1.1\"\n\
         iface = {{ name = \"eth0\", addr = \"10.0.1.2/24\" }}\n\
         [[link]]\nends = [\"r1:lan\", \"h1:eth0\"]\n"
    )
}

#[test]
fn vde_keys_parse_and_mistakes_name_file_line_and_key() {
    use shoal::topo::Topology;
    let spec = |wan: &str| {
        let t = Topology::parse("t.toml", &topo_with(wan)).unwrap();
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        *t.nodes[0].ifaces[1].vde.clone().unwrap()
    };
    assert_eq!(
        spec(r#"attach = { vde = "/tmp/sw" }"#),
        VdeSpec::Plug {
            dir: "/tmp/sw".into(),
            port: None
        }
    );
    assert_eq!(
        spec(r#"attach = { vde = "/tmp/sw", port = 3 }"#),
        VdeSpec::Plug {
            dir: "/tmp/sw".into(),
            port: Some(3)
        }
    );
    assert_eq!(spec(r#"attach = { vde = "-" }"#), VdeSpec::Stdio);
    assert_eq!(
        spec(r#"vde = { listen = "/tmp/r1.vde" }"#),
        VdeSpec::Listen {
            dir: "/tmp/r1.vde".into()
        }
    );
    assert!(
        Topology::parse("t.toml", &topo_with(r#"attach = { vde = "-" }"#))
            .unwrap()
            .uses_stdio()
    );
    // The simulator runs them, sending into nothing.
    let t = Topology::parse("t.toml", &topo_with(r#"vde = { listen = "/tmp/x" }"#)).unwrap();
    t.build_sim().unwrap();

    let err = |wan: &str| match Topology::parse("t.toml", &topo_with(wan)) {
        Ok(_) => panic!("{wan} was accepted"),
        Err(e) => e.to_string(),
    };
    let cases = [
        (
            r#"attach = { vde = "/tmp/sw", dev = "eth1" }"#,
            "t.toml:9: router.iface.attach.vde: an interface plugs into VDE or binds a host \
             device",
        ),
        (
            r#"attach = { vde = "-", port = 2 }"#,
            "t.toml:9: router.iface.attach.port: the stream on standard input/output has no \
             switch port",
        ),
        (
            r#"attach = { vde = "/tmp/sw", port = 0 }"#,
            "t.toml:9: router.iface.attach.port: 0 is not a switch port",
        ),
        (
            r#"attach = { dev = "eth1", port = 2 }"#,
            "t.toml:9: router.iface.attach.port: a switch port is for plugging into VDE",
        ),
        (
            r#"attach = { vde = "" }"#,
            "t.toml:9: router.iface.attach.vde: \"\": a VDE directory is a path of 1 to 90 bytes",
        ),
        (
            "vde = { listen = \"/tmp/x\" }\nattach = { vde = \"/tmp/y\" }",
            "t.toml:9: router.iface.vde: an interface plugs into a VDE switch (attach.vde) or \
             is one (vde.listen), not both",
        ),
        (
            "vde = { listen = \"/tmp/x\" }\nlink_file = \"/dev/shm/x.link\"",
            "t.toml:9: router.iface.vde: a listening VDE interface has its clients",
        ),
        (
            r#"vde = { listen = "/tmp/x", mode = "hub" }"#,
            "unknown field `mode`",
        ),
        (
            &format!("vde = {{ listen = \"/{}\" }}", "x".repeat(100)),
            "t.toml:9: router.iface.vde.listen: ",
        ),
    ];
    for (wan, want) in cases {
        let e = err(wan);
        assert!(e.contains(want), "{wan}: {e}");
    }
    // Two interfaces cannot listen on one directory, nor both have standard input/output.
    let twice = |a: &str, b: &str| {
        topo_with(a).replace(
            "[[host]]",
            &format!("[[router.iface]]\nname = \"wan2\"\naddr = \"10.0.13.1/24\"\n{b}\n[[host]]"),
        )
    };
    let e = Topology::parse(
        "t.toml",
        &twice(
            r#"vde = { listen = "/tmp/x" }"#,
            r#"vde = { listen = "/tmp/x" }"#,
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("t.toml:13: router.iface.vde.listen: /tmp/x is already listened on at line 9"),
        "{e}"
    );
    let e = Topology::parse(
        "t.toml",
        &twice(r#"attach = { vde = "-" }"#, r#"attach = { vde = "-" }"#),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("only one interface can have standard input/output"),
        "{e}"
    );
    // A VDE interface is on no [[link]].
    let text = topo_with(r#"vde = { listen = "/tmp/x" }"#)
        .replace("ends = [\"r1:lan\"", "ends = [\"r1:wan\"")
        .replace("10.0.1.2/24", "10.0.12.2/24")
        .replace("10.0.1.1\"\n", "10.0.12.1\"\n");
    let e = Topology::parse("t.toml", &text).unwrap_err().to_string();
    assert!(
        e.contains("r1:wan is on VDE and cannot also be on a link"),
        "{e}"
    );
}

/// One side of a chain, joined to the other through VDE: `ROUTER` with a LAN to `HOST` and
/// `wan` (MAC given: two files generate the same MACs, and a switch between them must tell
/// them apart) on 10.0.12.0/24, routing the far LAN through the far router.
fn half(router: &str, host: &str, side: u8, wan: &str) -> String {
    let far = 3 - side;
    format!(
        "[[router]]\nname = \"{router}\"\nroutes = [\"10.0.{far}.0/24 via 10.0.12.{far}\"]\n\
         [[router.iface]]\nname = \"lan\"\naddr = \"10.0.{side}.1/24\"\n\
         [[router.iface]]\nname = \"wan\"\naddr = \"10.0.12.{side}/24\"\n\
         mac = \"02:00:00:00:12:0{side}\"\n{wan}\n\
         [[host]]\nname = \"{host}\"\ngateway = \"10.0.{side}.1\"\n\
         iface = {{ name = \"eth0\", addr = \"10.0.{side}.2/24\" }}\n\
         [[link]]\nends = [\"{router}:lan\", \"{host}:eth0\"]\n"
    )
}

/// Collect a child's standard error on a thread; the text once it closes.
fn collect(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    })
}

/// h1 — r1 (this process, plugged into the switch) — vde_switch — vde_plug ⇄ dpipe ⇄
/// `shoal plug` (another process: r2 — h2): pings cross, a flow arrives whole, and killing
/// the switch ends the cable and with it `shoal plug`, which reports what it received.
#[test]
fn a_chain_through_vde_switch_and_a_dpipe_cable_carries_pings_and_a_flow() {
    let test = "chain";
    if !have(test, &["vde_switch", "vde_plug", "dpipe"]) {
        return;
    }
    let dir = Scratch::new(test);
    let sw = dir.join("sw");
    let mut switch = vde_switch(&sw);
    let b = dir.join("b.toml");
    std::fs::write(&b, half("r2", "h2", 2, "")).unwrap();
    let mut cable = Command::new("dpipe")
        .arg("vde_plug")
        .arg(&sw)
        .arg("=")
        .arg(env!("CARGO_BIN_EXE_shoal"))
        .arg("plug")
        .arg(&b)
        .args([
            "r2:wan",
            "--sink",
            "h2",
            "--workers",
            "1",
            "--seconds",
            "60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpipe starts");
    let report = collect(&mut cable);
    let mut cable = Proc(cable);

    let wan = format!("attach = {{ vde = \"{}\" }}", sw.display());
    let topo = Topology::parse("a.toml", &half("r1", "h1", 1, &wan)).unwrap();
    let mut net = topo.build_network().unwrap();
    let h1 = NodeId(1);
    net.add_flow(
        h1,
        FlowSpec {
            dst: [10, 0, 2, 2].into(),
            port: 5001,
            frame_len: 64,
            pace: Pace::Rate(1000),
            sources: 1,
        },
    );
    let engine = Engine::start(
        net,
        EngineConfig {
            flows_at_start: false,
            ..one_worker()
        },
    )
    .unwrap();
    assert_eq!(
        pings(&engine, h1, [10, 0, 2, 2].into(), 3),
        3,
        "h1 pings h2"
    );
    engine.set_flows(true);
    std::thread::sleep(Duration::from_secs(2));
    engine.set_flows(false);
    std::thread::sleep(Duration::from_millis(300));
    let a = engine.stop().unwrap();
    assert!(a.sent >= 1000, "sent {}", a.sent);
    assert!(a.ports[0].describe.contains("port"), "{:?}", a.ports);

    // The switch goes: vde_plug's control socket closes, it exits, the stream ends, and
    // `shoal plug` stops and reports.
    drop(switch.0.kill());
    assert!(
        cable.exits_within(Duration::from_secs(5)),
        "the cable ends with the switch"
    );
    let text = report.join().unwrap();
    assert!(
        text.contains("the vde_plug stream on standard input/output ended"),
        "{text}"
    );
    let received: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("received ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no received line in\n{text}"));
    // Paced at 1,000 a second, nothing should be lost between two idle processes; allow a
    // little for a loaded machine (a unix socket queues 10 datagrams by default).
    assert!(
        received * 100 >= a.sent * 95,
        "sent {} received {received}\n{text}",
        a.sent
    );
}

/// vde_plug hosts on a listening shoal interface: ARP and ping answered, the hub copies one
/// host's broadcast to the other, a host killed frees its port while the others carry on,
/// a new one is taken, and stopping shoal unplugs every host (their vde_plug exits).
#[test]
fn vde_plug_hosts_share_a_listening_shoal_interface_as_a_hub() {
    let test = "hub";
    if !have(test, &["vde_plug"]) {
        return;
    }
    let dir = Scratch::new(test);
    let lan = dir.join("r1.lan");
    let mut net = Network::new();
    let r1 = net.add("r1", router(1));
    net.attach_vde((r1, IfaceId(0)), VdeSpec::Listen { dir: lan.clone() })
        .unwrap();
    let engine = Engine::start(net, one_worker()).unwrap();
    let r1_ip = [10, 0, 0, 1];
    let host = |n: u8| ([2, 0, 0, 0, 1, n], [10, 0, 0, 100 + n]);

    let mut p1 = Plug::new(&lan);
    let mut p2 = Plug::new(&lan);
    let mac = p1.arp(host(1).0, host(1).1, r1_ip).expect("r1 answers ARP");
    assert_eq!(mac, [2, 0, 0, 0, 0, 1]);
    assert!(p2.arp(host(2).0, host(2).1, r1_ip).is_some());
    // Both are plugged in now: p2 hears p1's broadcast through the hub.
    p1.send(&arp_request(host(1).0, host(1).1, [10, 0, 0, 99]));
    let heard = p2.expect(Duration::from_secs(1), |f| {
        f[12..14] == [8, 6] && f[28..32] == host(1).1 && f[38..42] == [10, 0, 0, 99]
    });
    assert!(
        heard.is_some(),
        "the hub relays one client's broadcast to the others"
    );
    assert!(plug_pings(&mut p1, host(1), (mac, r1_ip), 3));

    // Kill p2 (-9): its port is freed — its data socket (`NNN.S`) leaves the directory.
    let ports = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy()
                    .starts_with(|c: char| c.is_ascii_digit())
            })
            .count()
    };
    assert_eq!(ports(&lan), 2);
    drop(p2);
    let until = Instant::now() + Duration::from_secs(3);
    while ports(&lan) > 1 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ports(&lan), 1, "p2's port is freed");
    assert!(
        plug_pings(&mut p1, host(1), (mac, r1_ip), 2),
        "p1 carries on"
    );
    let mut p3 = Plug::new(&lan);
    assert!(
        p3.arp(host(3).0, host(3).1, r1_ip).is_some(),
        "a new client is taken"
    );

    let report = engine.stop().unwrap();
    let port = &report.ports[0];
    assert!(
        port.describe.contains("3 plugged in") && port.describe.contains("1 left"),
        "{port:?}"
    );
    assert!(
        port.describe.contains("relayed between clients"),
        "{port:?}"
    );
    assert!(port.stats.rx >= 8 && port.stats.tx >= 8, "{port:?}");
    // Shoal stopping closes the control streams: the plugs exit, the directory goes.
    assert!(p1.proc.exits_within(Duration::from_secs(3)), "p1 unplugged");
    assert!(p3.proc.exits_within(Duration::from_secs(3)), "p3 unplugged");
    assert!(!lan.exists());
}

/// Two listening shoal interfaces joined by a VDE cable (`dpipe vde_plug A = wirefilter =
/// vde_plug B`): they ping each other across it, with wirefilter's delay; when shoal stops,
/// the cable comes apart.
#[test]
fn a_vde_cable_joins_two_listening_shoal_interfaces() {
    let test = "cable";
    if !have(test, &["vde_plug", "dpipe", "wirefilter"]) {
        return;
    }
    let dir = Scratch::new(test);
    let (a, b) = (dir.join("a"), dir.join("b"));
    let mut net = Network::new();
    let r1 = net.add("r1", router(1));
    let r2 = net.add("r2", router(2));
    net.attach_vde((r1, IfaceId(0)), VdeSpec::Listen { dir: a.clone() })
        .unwrap();
    net.attach_vde((r2, IfaceId(0)), VdeSpec::Listen { dir: b.clone() })
        .unwrap();
    let engine = Engine::start(net, one_worker()).unwrap();
    let cable = Command::new("dpipe")
        .arg("vde_plug")
        .arg(&a)
        .args(["=", "wirefilter", "-d", "20", "="])
        .arg("vde_plug")
        .arg(&b)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dpipe starts");
    let mut cable = Proc(cable);
    let mut rtts = Vec::new();
    for seq in 0..20 {
        if let PingReply::Echo { rtt, .. } =
            engine.ping(r2, [10, 0, 0, 1].into(), seq, Duration::from_millis(500))
        {
            rtts.push(rtt);
            if rtts.len() == 3 {
                break;
            }
        }
    }
    assert_eq!(rtts.len(), 3, "r2 pings r1 across the cable");
    // 20 ms each way through wirefilter.
    assert!(
        rtts.iter().all(|r| *r >= Duration::from_millis(40)),
        "{rtts:?}"
    );
    let report = engine.stop().unwrap();
    for p in &report.ports {
        assert!(p.describe.contains("1 plugged in"), "{p:?}");
    }
    // Shoal gone, both plugs' control streams close: the cable comes apart by itself.
    assert!(
        cable.exits_within(Duration::from_secs(5)),
        "the cable ends with shoal"
    );
}

/// r1's wan is plugged into a vde_switch with a vde_plug host on it. Killing the switch
/// unplugs r1 (what it sends is counted, nothing stops); a new switch at the same place is
/// plugged into again within seconds, and the host on it reaches r1.
#[test]
fn a_switch_killed_and_restarted_is_plugged_into_again() {
    let test = "replug";
    if !have(test, &["vde_switch", "vde_plug"]) {
        return;
    }
    let dir = Scratch::new(test);
    let sw = dir.join("sw");
    let mut switch = vde_switch(&sw);
    let mut net = Network::new();
    let r1 = net.add("r1", router(1));
    net.attach_vde(
        (r1, IfaceId(0)),
        VdeSpec::Plug {
            dir: sw.clone(),
            port: Some(5),
        },
    )
    .unwrap();
    let engine = Engine::start(net, one_worker()).unwrap();
    let r1_ip = [10, 0, 0, 1];
    let me = ([2, 0, 0, 0, 1, 7], [10, 0, 0, 107]);
    let mut p = Plug::new(&sw);
    let mac = p
        .arp(me.0, me.1, r1_ip)
        .expect("r1 answers through the switch");
    assert!(plug_pings(&mut p, me, (mac, r1_ip), 2));

    drop(switch.0.kill());
    assert!(
        p.proc.exits_within(Duration::from_secs(3)),
        "vde_plug leaves with the switch"
    );
    // While unplugged r1 answers into nothing: a probe from it is counted and freed.
    assert!(matches!(
        engine.ping(r1, [10, 0, 0, 107].into(), 0, Duration::from_millis(300)),
        PingReply::Timeout
    ));
    let _ = switch.0.wait();
    let _again = vde_switch(&sw);
    let mut p = Plug::new(&sw);
    let until = Instant::now() + Duration::from_secs(10);
    let mut back = None;
    while back.is_none() && Instant::now() < until {
        back = p.arp(me.0, me.1, r1_ip);
    }
    assert_eq!(back, Some(mac), "r1 plugged into the new switch");
    assert!(plug_pings(&mut p, me, (mac, r1_ip), 2));
    let report = engine.stop().unwrap();
    let d = &report.ports[0].describe;
    assert!(
        d.contains("port 5") && d.contains("plugged in 2 times"),
        "{d}"
    );
    assert!(d.contains("frames sent while unplugged"), "{d}");
}

/// Two shoal processes joined by a cable, as VDE joins two switches (`dpipe shoal plug … =
/// shoal plug …`; over ssh the same): a flow from one arrives in the other, and when the
/// sender's run ends the cable ends and the receiver stops and reports.
#[test]
fn two_shoal_processes_joined_by_a_dpipe_cable() {
    let test = "cable2";
    if !have(test, &["dpipe"]) {
        return;
    }
    let dir = Scratch::new(test);
    let (a, b) = (dir.join("a.toml"), dir.join("b.toml"));
    std::fs::write(&a, half("r1", "h1", 1, "")).unwrap();
    std::fs::write(&b, half("r2", "h2", 2, "")).unwrap();
    let shoal = env!("CARGO_BIN_EXE_shoal");
    let mut cable = Command::new("dpipe")
        .arg(shoal)
        .arg("plug")
        .arg(&a)
        .args(["r1:wan", "--flow", "h1:10.0.2.2:1000", "--seconds", "2"])
        .args(["--workers", "1", "="])
        .arg(shoal)
        .arg("plug")
        .arg(&b)
        .args([
            "r2:wan",
            "--sink",
            "h2",
            "--workers",
            "1",
            "--seconds",
            "60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpipe starts");
    let report = collect(&mut cable);
    let mut cable = Proc(cable);
    assert!(
        cable.exits_within(Duration::from_secs(15)),
        "the receiver stops with the cable"
    );
    let text = report.join().unwrap();
    let number = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(prefix)?
                    .split([' ', ','])
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {prefix:?} line in\n{text}"))
    };
    let sent = number("flows: sent ");
    let received = number("received ");
    assert!(sent >= 1000, "{text}");
    assert!(
        received * 100 >= sent * 95,
        "sent {sent} received {received}\n{text}"
    );
    assert!(
        text.contains("the vde_plug stream on standard input/output ended"),
        "{text}"
    );
}

/// A switch port listening for VDE clients (`vde = { listen = … }` on a `[[switch]]` port):
/// a vde_plug host on it reaches a router on another port of the switch, its VLAN settings
/// applying like any port's (an access port in VLAN 10, the router's port untagged in 10).
#[test]
fn vde_plug_hosts_join_a_switch_port() {
    let test = "swport";
    if !have(test, &["vde_plug"]) {
        return;
    }
    let dir = Scratch::new(test);
    let lan = dir.join("sw.vde");
    let text = format!(
        r#"
[[switch]]
name = "sw"
iface = [
  {{ name = "p1", pvid = 10 }},
  {{ name = "v", pvid = 10, vde = {{ listen = "{}" }} }},
]
[[router]]
name = "r1"
iface = {{ name = "eth0", addr = "10.0.0.1/24", mac = "02:00:00:00:00:01" }}
[[link]]
ends = ["r1:eth0", "sw:p1"]
"#,
        lan.display()
    );
    let t = Topology::parse("sw.toml", &text).expect("topology");
    let engine = Engine::start(t.network().expect("network"), one_worker()).unwrap();
    let r1_ip = [10, 0, 0, 1];
    let me = ([2, 0, 0, 0, 1, 7], [10, 0, 0, 107]);
    let mut p = Plug::new(&lan);
    let mac = p
        .arp(me.0, me.1, r1_ip)
        .expect("r1 answers ARP through the switch");
    assert_eq!(mac, [2, 0, 0, 0, 0, 1]);
    assert!(plug_pings(&mut p, me, (mac, r1_ip), 3));
    let report = engine.stop().unwrap();
    for l in &report.links {
        assert_eq!(l.imbalance(), 0, "{l:?}");
    }
    assert!(p.proc.exits_within(Duration::from_secs(3)), "unplugged");
}

/// qemu's `-nic vde` (libvdeplug, as vde2's tools) plugs into a shoal switch port listening
/// as a VDE switch: the machine, with no disk, boots its NIC's iPXE, whose DHCP requests reach
/// the switch, which learns the NIC's address on that port and floods them to the host on the
/// other. Killing qemu frees the port and leaves the network running. Software emulation, so
/// no KVM needed; SKIP without qemu-system-x86_64 (scripts/deps --test installs it).
#[test]
fn qemu_plugs_into_a_shoal_switch_port() {
    let test = "qemu";
    if !have(test, &["qemu-system-x86_64"]) {
        return;
    }
    let dir = Scratch::new(test);
    let lan = dir.join("sw.vde");
    let text = format!(
        r#"
[[switch]]
name = "sw"
iface = [{{ name = "vm", vde = {{ listen = "{}" }} }}, {{ name = "p1" }}]
[[host]]
name = "h"
iface = {{ name = "eth0", addr = "10.7.0.1/24" }}
[[link]]
ends = ["sw:p1", "h:eth0"]
"#,
        lan.display()
    );
    let t = Topology::parse("qemu.toml", &text).expect("topology");
    let sw = NodeId(t.node_index("sw").expect("sw") as u32);
    let engine = Engine::start(t.network().expect("network"), one_worker()).unwrap();
    let nic = "52:54:00:12:34:56";
    let qemu = Command::new("qemu-system-x86_64")
        .args(["-nodefaults", "-display", "none", "-m", "64", "-boot", "n"])
        .arg("-nic")
        .arg(format!("vde,sock={},model=e1000,mac={nic}", lan.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu starts");
    let mut qemu = Proc(qemu);
    let mac: Address = nic.parse().expect("MAC");
    let learned = || {
        engine
            .inspect(sw, move |n| {
                let s = n.switch()?;
                Some((
                    s.fdb().lookup(shoal::time::Instant::ZERO, 1, mac),
                    s.port_counters()[0].rx_frames,
                ))
            })
            .flatten()
    };
    let t0 = Instant::now();
    let seen = loop {
        match learned() {
            Some((Some(port), rx)) if rx > 0 => break (port, rx),
            _ if t0.elapsed() > Duration::from_secs(90) => {
                let mut err = String::new();
                let _ = qemu.0.kill();
                if let Some(e) = qemu.0.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("no frame from qemu's NIC in 90 s: {err}");
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert_eq!(seen.0, 0, "learned on the VDE port");
    println!(
        "qemu's NIC learned on port vm after {:?}, {} frames in",
        t0.elapsed(),
        seen.1
    );
    drop(qemu);
    // The port is freed and the rest runs on: the switch still answers, the report balances.
    std::thread::sleep(Duration::from_millis(300));
    assert!(learned().is_some(), "the switch runs on");
    let report = engine.stop().unwrap();
    for l in &report.links {
        assert_eq!(l.imbalance(), 0, "{l:?}");
    }
    let h = report.nodes.iter().find(|n| n.name == "h").expect("h");
    assert!(h.counters.rx_frames > 0, "h heard the DHCP requests");
}
