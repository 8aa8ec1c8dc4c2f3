//! TAP ports against the Linux kernel: each test makes its own namespace, enters it (the
//! TAP is created there), and talks to the kernel's own stack through the TAP. Root only.

mod common;

use std::os::fd::RawFd;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::netns::{NetNs, skip_unless_root, unique};
use etherparse::{PacketBuilder, SlicedPacket};
use shoal::frame::{Frame, Pool};
use shoal::port::PortError;
use shoal::port::tap::TapPort;

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const OUR_IP: [u8; 4] = [10, 9, 0, 2];
const KERNEL_IP: [u8; 4] = [10, 9, 0, 1];

/// A namespace, entered by this thread, with a TAP shoal created and 10.9.0.1/24 on it.
fn tap_in_netns(prefix: &str) -> (NetNs, TapPort) {
    let ns = NetNs::new(prefix).expect("namespace");
    ns.enter().expect("setns");
    // No IPv6 on the TAP from its first moment: no router solicitations or MLD reports.
    let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    let port = TapPort::open(&unique("tp"), false).expect("open TAP");
    let dev = port.name().to_string();
    ns.ip(&["addr", "add", "10.9.0.1/24", "dev", &dev])
        .expect("ip");
    (ns, port)
}

/// True when `fd` becomes readable within `ms` milliseconds.
fn readable(fd: RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n == 1 && p.revents & libc::POLLIN != 0
}

/// Receive until `want` matches a frame (others are freed) or two seconds pass, sleeping on
/// the port's wait descriptor. Returns the matching frame's bytes.
fn recv_until(port: &mut TapPort, pool: &mut Pool, want: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut frames: Vec<Frame> = Vec::new();
    while Instant::now() < deadline {
        port.poll(pool);
        readable(port.wait_fd(), 100);
        port.recv(pool, &mut frames);
        let mut found = None;
        for f in frames.drain(..) {
            if found.is_none() && want(pool.data(&f)) {
                found = Some(pool.data(&f).to_vec());
            }
            pool.free(f);
        }
        if let Some(bytes) = found {
            return bytes;
        }
    }
    panic!("no matching frame within 2 s; stats {:?}", port.stats());
}

fn is_arp_request_for(bytes: &[u8], ip: [u8; 4]) -> bool {
    bytes.len() >= 42
        && bytes[12..14] == [0x08, 0x06]
        && bytes[20..22] == [0, 1]
        && bytes[38..42] == ip
}

fn arp_reply(request: &[u8]) -> Vec<u8> {
    let their_mac = &request[6..12];
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(their_mac);
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&OUR_MAC);
    f.extend_from_slice(&OUR_IP);
    f.extend_from_slice(their_mac);
    f.extend_from_slice(&request[28..32]);
    f
}

fn ping(ns: &NetNs, args: &[&str]) -> Child {
    ns.command("ping")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ping")
}

fn send_one(port: &mut TapPort, pool: &mut Pool, bytes: &[u8]) {
    let frame = pool.alloc_from(bytes).expect("pool frame");
    port.send(pool, &mut vec![frame]);
}

fn gone(ns: &NetNs, dev: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if !ns.has_device(dev) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn kernel_arp_request_in_our_reply_and_echo_out_and_back() {
    if skip_unless_root("kernel_arp_request_in_our_reply_and_echo_out_and_back") {
        return;
    }
    let (ns, mut port) = tap_in_netns("tpa");
    let dev = port.name().to_string();
    assert!(port.created());
    assert_eq!(port.describe(), format!("{dev} tap created"));
    let mut pool = Pool::new(512).unwrap();
    port.poll(&mut pool);
    assert!(!readable(port.wait_fd(), 0), "nothing received yet");

    let mut child = ping(&ns, &["-c1", "-W1", "10.9.0.2"]);
    assert!(
        readable(port.wait_fd(), 2000),
        "wait_fd readable on arrival"
    );
    let request = recv_until(&mut port, &mut pool, |b| is_arp_request_for(b, OUR_IP));
    let _ = child.wait();

    // Our ARP reply: the kernel's neighbour entry for 10.9.0.2 learns our MAC.
    send_one(&mut port, &mut pool, &arp_reply(&request));
    port.poll(&mut pool);
    let neigh = String::from_utf8_lossy(&ns.ip(&["neigh", "show", "10.9.0.2"]).expect("ip").stdout)
        .to_string();
    assert!(
        neigh.contains("lladdr 02:00:00:00:00:02"),
        "neighbour: {neigh}"
    );

    // An echo request from us: the kernel's reply comes back through the TAP.
    let mut echo = Vec::new();
    PacketBuilder::ethernet2(OUR_MAC, request[6..12].try_into().unwrap())
        .ipv4(OUR_IP, KERNEL_IP, 64)
        .icmpv4_echo_request(0x5a5a, 7)
        .write(&mut echo, b"shoal tap")
        .unwrap();
    send_one(&mut port, &mut pool, &echo);
    let reply = recv_until(&mut port, &mut pool, |b| {
        let Ok(p) = SlicedPacket::from_ethernet(b) else {
            return false;
        };
        matches!(p.transport, Some(etherparse::TransportSlice::Icmpv4(ref i))
            if i.icmp_type() == etherparse::Icmpv4Type::EchoReply(
                etherparse::IcmpEchoHeader { id: 0x5a5a, seq: 7 }))
    });
    assert!(reply.ends_with(b"shoal tap"));
    let s = port.stats();
    assert!(s.rx >= 2 && s.tx == 2, "{s:?}");
    assert_eq!(port.errors(), Default::default());

    drop(port);
    assert_eq!(
        pool.available(),
        pool.capacity() - shoal::port::tap::RX_DEPTH,
        "a dropped port keeps (leaks) its posted read buffers; close() returns them"
    );
    assert!(
        gone(&ns, &dev),
        "a TAP shoal created goes away with its port"
    );
}

#[test]
fn close_returns_every_buffer() {
    if skip_unless_root("close_returns_every_buffer") {
        return;
    }
    let (_ns, mut port) = tap_in_netns("tpc");
    let mut pool = Pool::new(300).unwrap();
    port.poll(&mut pool);
    let frames: Vec<Frame> = (0..10)
        .map(|_| pool.alloc_from(&[0xff; 60]).unwrap())
        .collect();
    port.send(&mut pool, &mut frames.into_iter().collect());
    assert!(pool.available() < pool.capacity());
    port.close(&mut pool);
    assert_eq!(pool.available(), pool.capacity());
}

#[test]
fn attaching_to_an_existing_tap_leaves_it_in_place() {
    if skip_unless_root("attaching_to_an_existing_tap_leaves_it_in_place") {
        return;
    }
    let ns = NetNs::new("tpp").expect("namespace");
    ns.enter().expect("setns");
    let dev = unique("tp");
    ns.ip(&["tuntap", "add", "dev", &dev, "mode", "tap"])
        .expect("ip");
    let port = TapPort::open(&dev, false).expect("attach");
    assert!(!port.created());
    assert_eq!(port.describe(), format!("{dev} tap attached"));
    // A single-queue TAP takes one queue only.
    let err = TapPort::open(&dev, false).unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
    // Nor does it take multi-queue opens.
    let err = TapPort::open(&dev, true).unwrap_err();
    assert!(err.to_string().contains("not a multi-queue TAP"), "{err}");
    drop(port);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        ns.exec(&["ip", "link", "show", &dev])
            .expect("exec")
            .status
            .success()
    );
}

#[test]
fn multi_queue_opens_attach_more_queues() {
    if skip_unless_root("multi_queue_opens_attach_more_queues") {
        return;
    }
    let ns = NetNs::new("tpm").expect("namespace");
    ns.enter().expect("setns");
    let dev = unique("tp");
    let ports = TapPort::open_queues(&dev, 2).expect("two queues");
    assert!(ports[0].created() && !ports[1].created());
    assert_eq!(
        ports[1].describe(),
        format!("{dev} tap attached multi-queue")
    );
    let err = TapPort::open(&dev, false).unwrap_err();
    assert!(err.to_string().contains("not a single-queue TAP"), "{err}");
    drop(ports);
    assert!(gone(&ns, &dev));
}

#[test]
fn a_veth_of_that_name_is_a_clear_error() {
    if skip_unless_root("a_veth_of_that_name_is_a_clear_error") {
        return;
    }
    let ns = NetNs::new("tpv").expect("namespace");
    ns.enter().expect("setns");
    let dev = unique("tp");
    let peer = unique("tq");
    ns.ip(&["link", "add", &dev, "type", "veth", "peer", "name", &peer])
        .expect("ip");
    match TapPort::open(&dev, false) {
        Err(e @ PortError::Os { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&dev) && msg.contains("not a single-queue TAP"),
                "{msg}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(
        ns.exec(&["ip", "link", "show", &dev])
            .expect("exec")
            .status
            .success()
    );
}

#[test]
fn frames_larger_than_a_buffer_are_counted_drops() {
    if skip_unless_root("frames_larger_than_a_buffer_are_counted_drops") {
        return;
    }
    let (ns, mut port) = tap_in_netns("tpo");
    let dev = port.name().to_string();
    ns.ip(&["link", "set", &dev, "mtu", "4000"]).expect("ip");
    ns.ip(&[
        "neigh",
        "add",
        "10.9.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        &dev,
    ])
    .expect("ip");
    let mut pool = Pool::new(512).unwrap();
    port.poll(&mut pool);
    let _ = ping(&ns, &["-c1", "-W1", "-s", "3000", "10.9.0.2"]).wait();
    let mut child = ping(&ns, &["-c1", "-W1", "-s", "100", "10.9.0.2"]);
    let small = recv_until(&mut port, &mut pool, |b| b.len() == 14 + 20 + 8 + 100);
    let _ = child.wait();
    assert_eq!(small.len(), 142);
    assert_eq!(port.stats().rx_oversize, 1, "{:?}", port.errors());
    assert_eq!(
        port.stats().rx_drops().collect::<Vec<_>>(),
        [("oversize", 1)]
    );
    port.close(&mut pool);
}

/// Names of this process's threads that io_uring made to run blocking work.
fn io_workers() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("iou-wrk") {
            names.push(comm.trim().to_string());
        }
    }
    names
}

#[test]
fn posted_reads_wait_on_poll_not_on_kernel_threads() {
    if skip_unless_root("posted_reads_wait_on_poll_not_on_kernel_threads") {
        return;
    }
    let (_ns, mut port) = tap_in_netns("tpw");
    let mut pool = Pool::new(300).unwrap();
    port.poll(&mut pool);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(io_workers(), Vec::<String>::new());
    port.close(&mut pool);
}
