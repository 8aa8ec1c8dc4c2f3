//! Throughput of TAP ports: 1514-byte frames (1500-byte IPv4 packets) written into TAP `a`, routed
//! by the kernel (in a namespace of the bench's own, ip_forward on, a static neighbour) out of
//! TAP `b`, and read back from `b` — both TAPs driven by one thread pinned to one core, as one
//! worker would drive a router's two TAP ports. Delivered frames are counted at `b`; the figure
//! includes the kernel's forwarding. Needs root; prints why it skips otherwise.
//! `harness = false`; `cargo bench --bench tap`.

#[path = "../tests/common/netns.rs"]
mod netns;

use std::time::{Duration, Instant};

use etherparse::PacketBuilder;
use shoal::frame::{BATCH_MAX, Frame, Pool};
use shoal::port::tap::TapPort;

#[path = "common/procfs.rs"]
mod procfs;

const FRAME: usize = 1514;
const A_KERNEL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x01];
const A_OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x02];

fn main() {
    // `cargo bench` passes --bench; under `cargo test` this is a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    if netns::skip_unless_root("bench tap") {
        return;
    }
    let secs = if full { 3.0 } else { 0.2 };
    let ns = netns::NetNs::new("tb").expect("namespace");
    ns.enter().expect("setns");
    let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    let _ = ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let mut a = TapPort::open(&netns::unique("tba"), false).expect("TAP a");
    let mut b = TapPort::open(&netns::unique("tbb"), false).expect("TAP b");
    let (an, bn) = (a.name().to_string(), b.name().to_string());
    ns.ip(&["link", "set", &an, "address", "02:00:00:00:0a:01"])
        .expect("ip");
    ns.ip(&["addr", "add", "10.71.0.1/24", "dev", &an])
        .expect("ip");
    ns.ip(&["addr", "add", "10.72.0.1/24", "dev", &bn])
        .expect("ip");
    ns.ip(&[
        "neigh",
        "add",
        "10.72.0.2",
        "lladdr",
        "02:00:00:00:0b:02",
        "dev",
        &bn,
    ])
    .expect("ip");
    let _ = shoal::link::pin_current_thread(0);

    let mut template = Vec::with_capacity(FRAME);
    PacketBuilder::ethernet2(A_OUR_MAC, A_KERNEL_MAC)
        .ipv4([10, 71, 0, 2], [10, 72, 0, 2], 64)
        .udp(4000, 5000)
        .write(&mut template, &[0x5a; FRAME - 42])
        .expect("template frame");
    assert_eq!(template.len(), FRAME);

    println!("tap: {FRAME}-byte frames into TAP a, kernel-forwarded out of TAP b, one thread");
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "batch", "Mpps", "Gbit/s", "tx_full", "lost %", "CPU %"
    );
    let mut pool = Pool::new(4096).expect("pool");
    let batches: &[usize] = if full { &[64, 32, 8] } else { &[64] };
    for &batch in batches {
        let (sent, got, tx_full, cpu, elapsed) =
            run(&mut a, &mut b, &mut pool, &template, batch, secs);
        let gbit = got as f64 * FRAME as f64 * 8.0 / elapsed / 1e9;
        println!(
            "{batch:>10} {:>10.3} {gbit:>10.2} {tx_full:>10} {:>12.2} {:>10.0}",
            got as f64 / elapsed / 1e6,
            100.0 * sent.saturating_sub(got) as f64 / sent.max(1) as f64,
            cpu,
        );
    }
    baseline(&ns, &template, secs);
    println!(
        "a: {} {:?} {:?}; b: {} {:?} {:?}",
        a.describe(),
        a.stats(),
        a.errors(),
        b.describe(),
        b.stats(),
        b.errors()
    );
    a.close(&mut pool);
    b.close(&mut pool);
}

/// The same flood with one read(2)/write(2) per frame on plain non-blocking TAP descriptors, in
/// batches of 64: the kernel-side cost without io_uring, for the ratio.
fn baseline(ns: &netns::NetNs, template: &[u8], secs: f64) {
    let (cn, dn) = (netns::unique("tbc"), netns::unique("tbd"));
    let (c, d) = (raw_tap(&cn), raw_tap(&dn));
    ns.ip(&["link", "set", &cn, "address", "02:00:00:00:0a:01", "up"])
        .expect("ip");
    ns.ip(&["link", "set", &dn, "up"]).expect("ip");
    ns.ip(&["addr", "add", "10.73.0.1/24", "dev", &cn])
        .expect("ip");
    ns.ip(&["addr", "add", "10.74.0.1/24", "dev", &dn])
        .expect("ip");
    ns.ip(&[
        "neigh",
        "add",
        "10.74.0.2",
        "lladdr",
        "02:00:00:00:0b:02",
        "dev",
        &dn,
    ])
    .expect("ip");
    let mut frame = template.to_vec();
    // Re-address 10.71.0.2 -> 10.72.0.2 to 10.73.0.2 -> 10.74.0.2 and redo the checksum.
    frame[14 + 13] = 73;
    frame[14 + 17] = 74;
    frame[24..26].copy_from_slice(&[0, 0]);
    let sum = (0..10).fold(0u32, |s, i| {
        s + u32::from(u16::from_be_bytes([frame[14 + 2 * i], frame[15 + 2 * i]]))
    });
    let sum = (sum & 0xffff) + (sum >> 16);
    frame[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut buf = vec![0u8; 2048];
    let (mut sent, mut got) = (0u64, 0u64);
    let cpu0 = procfs::cpu_ticks();
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(secs);
    while Instant::now() < stop {
        for _ in 0..BATCH_MAX {
            // SAFETY: writes `frame.len()` bytes from a live buffer to an open descriptor.
            if unsafe { libc::write(c, frame.as_ptr().cast(), frame.len()) } > 0 {
                sent += 1;
            }
        }
        for _ in 0..BATCH_MAX {
            // SAFETY: reads at most `buf.len()` bytes into a live buffer.
            if unsafe { libc::read(d, buf.as_mut_ptr().cast(), buf.len()) } <= 0 {
                break;
            }
            got += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (procfs::cpu_ticks() - cpu0) as f64 / 100.0 / elapsed * 100.0;
    println!(
        "{:>10} {:>10.3} {:>10.2} {:>10} {:>12.2} {:>10.0}   <- read(2)/write(2) per frame",
        BATCH_MAX,
        got as f64 / elapsed / 1e6,
        got as f64 * FRAME as f64 * 8.0 / elapsed / 1e9,
        0,
        100.0 * sent.saturating_sub(got) as f64 / sent.max(1) as f64,
        cpu
    );
    // SAFETY: both descriptors were opened above and are not used after this.
    unsafe {
        libc::close(c);
        libc::close(d);
    }
}

/// A new non-blocking TAP, by plain syscalls.
fn raw_tap(name: &str) -> i32 {
    // SAFETY: a NUL-terminated path; checked below.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK) };
    assert!(fd >= 0, "open /dev/net/tun");
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, &b) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *d = b as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF on a tun descriptor with a valid ifreq.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETIFF, &mut ifr) };
    assert!(rc == 0, "TUNSETIFF {name}");
    fd
}

/// Flood for `secs`: returns (frames sent, frames received at b, tx_full, CPU %, seconds).
fn run(
    a: &mut TapPort,
    b: &mut TapPort,
    pool: &mut Pool,
    template: &[u8],
    batch: usize,
    secs: f64,
) -> (u64, u64, u64, f64, f64) {
    let (a0, b0) = (a.stats(), b.stats());
    let mut out: Vec<Frame> = Vec::with_capacity(BATCH_MAX);
    let mut rx: Vec<Frame> = Vec::with_capacity(BATCH_MAX);
    let cpu0 = procfs::cpu_ticks();
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(secs);
    while Instant::now() < stop {
        for _ in 0..batch {
            match pool.alloc_from(template) {
                Some(f) => out.push(f),
                None => break,
            }
        }
        a.send(pool, &mut out);
        a.poll(pool);
        b.poll(pool);
        b.recv(pool, &mut rx);
        for f in rx.drain(..) {
            pool.free(f);
        }
    }
    // Collect what is still on its way.
    let settle = Instant::now() + Duration::from_millis(50);
    while Instant::now() < settle {
        a.poll(pool);
        b.recv(pool, &mut rx);
        for f in rx.drain(..) {
            pool.free(f);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (procfs::cpu_ticks() - cpu0) as f64 / 100.0 / elapsed * 100.0;
    let (a1, b1) = (a.stats(), b.stats());
    (
        a1.tx - a0.tx,
        b1.rx - b0.rx,
        a1.tx_full - a0.tx_full,
        cpu,
        elapsed,
    )
}
