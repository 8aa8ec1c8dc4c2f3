//! AF_XDP port against the kernel: a veth pair between two namespaces the test makes, the port
//! on one end, a raw AF_PACKET socket on the other. Needs root; skips with a reason otherwise.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::netns::{NetNs, send_on_queue, skip_unless_root};
use shoal::frame::{Frame, Pool};
use shoal::port::PortError;
use shoal::port::xdp::XdpPort;

const ETHERTYPE: u16 = 0x88b5; // IEEE local experimental

/// A raw socket on one device of the calling thread's namespace, seeing only `ETHERTYPE`.
struct Raw {
    fd: OwnedFd,
}

impl Raw {
    fn open(dev: &str) -> Raw {
        let proto = ETHERTYPE.to_be() as i32;
        // SAFETY: plain socket(2), checked below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto) };
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fd is new and owned here only.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = std::ffi::CString::new(dev).unwrap();
        // SAFETY: valid C string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(ifindex > 0, "no {dev}");
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETHERTYPE.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: tv is a valid timeval of the size passed.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        Raw { fd }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: frame is valid for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The next frame within `timeout`.
    fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + timeout;
        let mut buf = vec![0u8; 2048];
        while Instant::now() < end {
            // SAFETY: buf is writable for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                buf.truncate(n as usize);
                return Some(buf);
            }
        }
        None
    }
}

fn frame(dst: [u8; 6], src: [u8; 6], tag: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend((0..100u8).map(|i| i ^ tag));
    f
}

fn mac_of(ns: &NetNs, dev: &str) -> [u8; 6] {
    let out = ns
        .run(&["cat", &format!("/sys/class/net/{dev}/address")])
        .expect("MAC");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u8> = text
        .trim()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

/// Receive on the port until `want` frames came or a second passed.
fn recv_some(port: &mut XdpPort, pool: &mut Pool, want: usize) -> Vec<Frame> {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(1);
    while got.len() < want && Instant::now() < end {
        port.poll(pool);
        if port.recv(pool, &mut got) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    got
}

fn xdp_attached(ns: &NetNs, dev: &str) -> bool {
    let out = ns.ip(&["link", "show", "dev", dev]).expect("ip link show");
    String::from_utf8_lossy(&out.stdout).contains("xdp")
}

/// Two namespaces joined by a veth pair: `a` (the port's side, entered by the calling thread
/// after a raw socket was opened on `b` in the peer namespace).
struct Pair {
    a_ns: NetNs,
    b_ns: NetNs,
    a: String,
    b: String,
}

fn pair(extra: &[&str]) -> Pair {
    let a_ns = NetNs::new("xa").expect("namespace");
    let b_ns = NetNs::new("xb").expect("namespace");
    let a = shoal::netns::unique("xpa");
    let b = shoal::netns::unique("xpb");
    let mut args = vec!["link", "add", a.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "type",
        "veth",
        "peer",
        "name",
        b.as_str(),
        "netns",
        &b_ns.name,
    ]);
    a_ns.ip(&args).expect("veth");
    for (ns, dev) in [(&a_ns, &a), (&b_ns, &b)] {
        ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6=1"))
            .expect("sysctl");
        ns.ip(&["link", "set", dev, "up"]).expect("link up");
    }
    Pair { a_ns, b_ns, a, b }
}

#[test]
fn frames_cross_the_port_intact_both_ways() {
    if skip_unless_root("frames_cross_the_port_intact_both_ways") {
        return;
    }
    let p = pair(&[]);
    p.b_ns.enter().expect("setns");
    let peer = Raw::open(&p.b);
    p.a_ns.enter().expect("setns");
    let mut pool = Pool::new(4096).unwrap();
    let mut port = XdpPort::open(&p.a, &mut pool).expect("open port");
    eprintln!("{}", port.describe());
    assert!(port.describe().starts_with(&format!("{} afxdp ", p.a)));
    assert_eq!(port.mac().0, mac_of(&p.a_ns, &p.a));
    assert!(xdp_attached(&p.a_ns, &p.a));
    let peer_mac = mac_of(&p.b_ns, &p.b);

    // Unicast to the port and broadcast reach it; unicast to another MAC goes to the kernel.
    let to_port = frame(port.mac().0, peer_mac, 1);
    let bcast = frame([0xff; 6], peer_mac, 2);
    let other = frame([0x02, 0, 0, 0, 0, 9], peer_mac, 3);
    peer.send(&to_port);
    peer.send(&other);
    peer.send(&bcast);
    let got = recv_some(&mut port, &mut pool, 3);
    let bytes: Vec<Vec<u8>> = got.iter().map(|f| pool.data(f).to_vec()).collect();
    assert_eq!(
        bytes,
        vec![to_port, bcast],
        "port saw exactly its frames, intact"
    );
    assert_eq!(got[0].offset(), shoal::frame::HEADROOM);
    for f in got {
        pool.free(f);
    }

    // And the other way: 200 frames (several copy-mode kicks of 32), all arrive in order.
    let mut out = Vec::new();
    for i in 0..200u32 {
        let f = frame(peer_mac, port.mac().0, i as u8);
        out.push(pool.alloc_from(&f).unwrap());
    }
    let before = pool.available();
    port.send(&mut pool, &mut out);
    assert!(out.is_empty());
    for i in 0..200u32 {
        let got = peer.recv(Duration::from_secs(1)).expect("peer receives");
        assert_eq!(got, frame(peer_mac, port.mac().0, i as u8), "frame {i}");
    }
    port.poll(&mut pool);
    assert_eq!(pool.available(), before + 200, "sent buffers came back");
    let s = port.stats();
    assert_eq!((s.rx, s.tx, s.tx_full, s.rx_dropped), (2, 200, 0, 0));

    drop(port);
    assert!(!xdp_attached(&p.a_ns, &p.a), "dropping the port detaches");
}

#[test]
fn every_queue_is_served() {
    if skip_unless_root("every_queue_is_served") {
        return;
    }
    let p = pair(&["numrxqueues", "2", "numtxqueues", "2"]);
    p.a_ns.enter().expect("setns");
    let mut pool = Pool::new(1024).unwrap();
    let mut port = XdpPort::open(&p.a, &mut pool).expect("open port");
    assert!(port.describe().ends_with("2 queues"), "{}", port.describe());
    assert!(port.wait_fd() >= 0);
    // The peer sends with several source MACs, so veth spreads them over both queues.
    p.b_ns.enter().expect("setns");
    let peer = Raw::open(&p.b);
    for i in 0..32u8 {
        peer.send(&frame(port.mac().0, [0x02, 0, 0, 0, 1, i], i));
    }
    let got = recv_some(&mut port, &mut pool, 32);
    assert_eq!(got.len(), 32);
    for f in got {
        pool.free(f);
    }
}

/// Two ports on one device, one per pool (as two workers would hold them), split its queues
/// and share one program, which leaves with the last of them. More pools than queues is an
/// error naming both counts.
#[test]
fn shards_split_the_queues_and_share_one_program() {
    if skip_unless_root("shards_split_the_queues_and_share_one_program") {
        return;
    }
    let p = pair(&["numrxqueues", "2", "numtxqueues", "2"]);
    p.a_ns.enter().expect("setns");
    let (mut p0, mut p1, mut p2) = (
        Pool::new(1024).unwrap(),
        Pool::new(1024).unwrap(),
        Pool::new(1024).unwrap(),
    );
    match XdpPort::open_shards(&p.a, &mut [&mut p0, &mut p1, &mut p2], false) {
        Err(e @ PortError::TooFewQueues { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("2 receive queue(s), fewer than the 3 workers"),
                "{text}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("three shards on two queues"),
    }
    let mut ports =
        XdpPort::open_shards(&p.a, &mut [&mut p0, &mut p1], false).expect("open shards");
    assert_eq!(ports.len(), 2);
    for (q, port) in ports.iter().enumerate() {
        let want = format!("queue {q} of 2");
        assert!(port.describe().ends_with(&want), "{}", port.describe());
    }
    p.b_ns.enter().expect("setns");
    let peer = Raw::open(&p.b);
    let mac = ports[0].mac().0;
    for i in 0..64u8 {
        if i % 32 == 0 {
            send_on_queue(&p.b_ns, &p.b, u32::from(i / 32));
        }
        peer.send(&frame(mac, [0x02, 0, 0, 0, 1, i], i));
    }
    let (mut second, rest) = (ports.pop().expect("two"), ports);
    let mut first = rest.into_iter().next().expect("two");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut got = [Vec::new(), Vec::new()];
    while got[0].len() + got[1].len() < 64 && Instant::now() < deadline {
        first.recv(&mut p0, &mut got[0]);
        second.recv(&mut p1, &mut got[1]);
    }
    // The peer sent half on each queue; each shard got its queue's half.
    assert_eq!((got[0].len(), got[1].len()), (32, 32));
    let [a, b] = got;
    for (frames, pool) in [(a, &mut p0), (b, &mut p1)] {
        for f in frames {
            pool.free(f);
        }
    }
    drop(first);
    assert!(
        xdp_attached(&p.a_ns, &p.a),
        "the other shard still serves the device"
    );
    drop(second);
    assert!(!xdp_attached(&p.a_ns, &p.a), "the last shard detaches");

    // More queues than shards: each shard takes every other queue.
    let p = pair(&["numrxqueues", "4", "numtxqueues", "4"]);
    p.a_ns.enter().expect("setns");
    let ports = XdpPort::open_shards(&p.a, &mut [&mut p0, &mut p1], false).expect("open shards");
    let described: Vec<String> = ports.iter().map(XdpPort::describe).collect();
    assert!(described[0].ends_with("queues 0,2 of 4"), "{described:?}");
    assert!(described[1].ends_with("queues 1,3 of 4"), "{described:?}");
}

/// Load a two-instruction XDP_PASS program named `name` and attach it the legacy (netlink)
/// way in generic mode, as `ip link set dev D xdpgeneric obj ...` would.
fn attach_legacy(dev: &str, name: &str) {
    use libbpf_sys as bpf;
    let insns = [
        // r0 = XDP_PASS
        bpf::bpf_insn {
            code: (bpf::BPF_ALU64 | bpf::BPF_MOV | bpf::BPF_K) as u8,
            _bitfield_align_1: [],
            _bitfield_1: bpf::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: bpf::XDP_PASS as i32,
        },
        // exit
        bpf::bpf_insn {
            code: (bpf::BPF_JMP | bpf::BPF_EXIT) as u8,
            _bitfield_align_1: [],
            _bitfield_1: bpf::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: 0,
        },
    ];
    let name = std::ffi::CString::new(name).unwrap();
    let ifname = std::ffi::CString::new(dev).unwrap();
    // SAFETY: valid C strings and instruction array; null options.
    unsafe {
        let fd = bpf::bpf_prog_load(
            bpf::BPF_PROG_TYPE_XDP,
            name.as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            std::ptr::null_mut(),
        );
        assert!(fd >= 0, "prog load: {fd}");
        let ifindex = libc::if_nametoindex(ifname.as_ptr());
        let rc = bpf::bpf_xdp_attach(
            ifindex as i32,
            fd,
            bpf::XDP_FLAGS_SKB_MODE,
            std::ptr::null(),
        );
        assert_eq!(rc, 0, "legacy attach");
        libc::close(fd);
    }
}

#[test]
fn foreign_programs_are_refused_and_left_alone() {
    if skip_unless_root("foreign_programs_are_refused_and_left_alone") {
        return;
    }
    let p = pair(&[]);
    p.a_ns.enter().expect("setns");
    attach_legacy(&p.a, "not_shoal");
    let mut pool = Pool::new(256).unwrap();
    match XdpPort::open(&p.a, &mut pool) {
        Err(PortError::ForeignProgram { name, id, .. }) => {
            assert_eq!(name, "not_shoal");
            assert!(id > 0);
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened over a foreign program"),
    }
    assert!(xdp_attached(&p.a_ns, &p.a), "the foreign program stays");
}

#[test]
fn stale_programs_are_replaced_and_live_ones_refused() {
    if skip_unless_root("stale_programs_are_replaced_and_live_ones_refused") {
        return;
    }
    let p = pair(&[]);
    p.a_ns.enter().expect("setns");
    attach_legacy(&p.a, shoal::port::xdp::PROGRAM_NAME);
    let mut pool = Pool::new(256).unwrap();
    let port = XdpPort::open(&p.a, &mut pool).expect("stale program replaced");
    let mut pool2 = Pool::new(256).unwrap();
    match XdpPort::open(&p.a, &mut pool2) {
        Err(PortError::Os { what, .. }) => assert!(what.contains("another running shoal")),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("two ports on one device"),
    }
    drop(port);
    assert!(!xdp_attached(&p.a_ns, &p.a));
}

#[test]
fn missing_devices_are_named() {
    if skip_unless_root("missing_devices_are_named") {
        return;
    }
    let ns = NetNs::new("xn").expect("namespace");
    ns.enter().expect("setns");
    let mut pool = Pool::new(16).unwrap();
    assert!(matches!(
        XdpPort::open("nosuchdev0", &mut pool),
        Err(PortError::NoDevice(d)) if d == "nosuchdev0"
    ));
}

#[test]
fn a_killed_process_leaves_no_program() {
    // The child half: open a port in the given namespace and wait to be killed.
    if let Ok(spec) = std::env::var("SHOAL_XDP_TEST_HOLD") {
        let (ns, dev) = spec.split_once(':').unwrap();
        let ns = NetNs {
            name: ns.to_string(),
        };
        ns.enter().expect("setns");
        let mut pool = Pool::new(64).unwrap();
        let _port = XdpPort::open(dev, &mut pool).expect("child opens port");
        std::mem::forget(ns); // the parent owns the namespace
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    if skip_unless_root("a_killed_process_leaves_no_program") {
        return;
    }
    let p = pair(&[]);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_process_leaves_no_program",
            "--test-threads=1",
        ])
        .env("SHOAL_XDP_TEST_HOLD", format!("{}:{}", p.a_ns.name, p.a))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while !xdp_attached(&p.a_ns, &p.a) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(xdp_attached(&p.a_ns, &p.a), "child attached");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let end = Instant::now() + Duration::from_secs(2);
    while xdp_attached(&p.a_ns, &p.a) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!xdp_attached(&p.a_ns, &p.a), "the kernel detached the link");
}

#[test]
fn missing_capabilities_are_named() {
    // The child half: enter the namespace, become `nobody` (no capabilities), try to open.
    if let Ok(spec) = std::env::var("SHOAL_XDP_TEST_NOCAPS") {
        let (ns, dev) = spec.split_once(':').unwrap();
        let ns = NetNs {
            name: ns.to_string(),
        };
        ns.enter().expect("setns");
        std::mem::forget(ns);
        // SAFETY: setgid/setuid have no memory preconditions; glibc applies them to all threads.
        assert_eq!(unsafe { libc::setgid(65534) + libc::setuid(65534) }, 0);
        let mut pool = Pool::new(64).unwrap();
        match XdpPort::open(dev, &mut pool) {
            Err(e @ PortError::Permission { .. }) => println!("RESULT {e}"),
            Err(e) => println!("RESULT other error: {e}"),
            Ok(_) => println!("RESULT opened"),
        }
        return;
    }
    if skip_unless_root("missing_capabilities_are_named") {
        return;
    }
    let p = pair(&[]);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "missing_capabilities_are_named", "--nocapture"])
        .env("SHOAL_XDP_TEST_NOCAPS", format!("{}:{}", p.a_ns.name, p.a))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let result = text.lines().find(|l| l.starts_with("RESULT")).unwrap_or("");
    eprintln!("child: {result}");
    assert!(
        result.contains("loading the XDP program") && result.contains("needs cap_bpf"),
        "{result}"
    );
    assert!(!xdp_attached(&p.a_ns, &p.a));
}
