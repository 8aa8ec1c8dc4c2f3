//! Fuzz `Router::process`: arbitrary frames, on either interface, at arbitrary times.
//!
//! One router with two interfaces (the topology below, nothing pre-warmed: the ARP cache starts
//! empty) receives the frames the input encodes, in batches, while a virtual clock advances and
//! its timers run. Every frame the router hands back in an action returns to the pool at once.
//! The router must never panic, and no frame may be lost: once the input is spent and the timers
//! have run long enough for every ARP resolution to fail or age out, every buffer is back in the
//! pool. Frames it transmits must also fit the egress MTU and, when IPv4, carry a valid header
//! checksum.
//!
//! ```text
//! eth0 02:00:00:00:00:01 10.0.1.1/24 mtu 1500    192.168.0.0/16 via 10.0.1.254
//! eth1 02:00:00:00:00:02 10.0.2.1/24 mtu 576     default via 10.0.2.254
//! ```
//!
//! Input: a sequence of records, each
//!
//! ```text
//! len: u16 little-endian | ctl: u8 | dt: u8 | len bytes of Ethernet frame
//! ```
//!
//! - `ctl` bit 0: ingress interface (0 = eth0, 1 = eth1).
//! - `ctl` bit 1: before injecting, fix the IPv4 header checksum and, for an unfragmented
//!   ICMP or UDP packet, the transport checksum, so mutations get past validation.
//! - `ctl` bit 2: end the batch after this frame (batches also end when full or when the
//!   clock moves).
//! - `dt`: advance the clock before this frame: `dt` ms below 128, else `(dt - 127) * 100` ms,
//!   so one record can cross several ARP retransmit intervals.
//!
//! A record whose length runs past the input takes what is left; frames longer than a buffer's
//! data area are cut to fit. `fuzz/seeds.py` writes real frames in this format.

#![no_main]

use std::net::Ipv4Addr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shoal::frame::{Batch, MAX_DATA, Pool};
use shoal::router::{Action, Config, IfAddr, IfaceId, Router};
use shoal::time::Instant;
use shoal::wire::{ethernet, icmpv4, ipv4, udp};

/// Buffers in the pool: more than one input can hold in flight (queues are bounded per
/// neighbour, but every distinct next hop gets one).
const POOL_FRAMES: usize = 1024;
/// Interface MTUs; eth1's is small so forwarding to the default route fragments.
const MTUS: [u16; 2] = [1500, 576];
/// Bound on timer rounds in the final drain. Aging needs a few dozen; more means a timer that
/// re-arms forever, which the pool assertion then reports as held frames.
const DRAIN_ROUNDS: usize = 10_000;

const CTL_IFACE: u8 = 0x01;
const CTL_FIX_CHECKSUMS: u8 = 0x02;
const CTL_END_BATCH: u8 = 0x04;

fuzz_target!(|data: &[u8]| {
    let mut pool = Pool::new(POOL_FRAMES).expect("frame pool");
    let mut router = router();
    let mut fuzz = Driver {
        now: Instant::ZERO,
        batch: Batch::new(),
        batch_iface: IfaceId(0),
        out: Vec::new(),
    };

    let mut rest = data;
    while let [lo, hi, ctl, dt, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;

        let advance = advance_ms(*dt);
        if advance > 0 {
            fuzz.flush(&mut router, &mut pool);
            fuzz.now = fuzz.now + Duration::from_millis(advance);
            fuzz.run_due(&mut router, &mut pool);
        }

        let iface = IfaceId(u16::from(ctl & CTL_IFACE));
        if iface != fuzz.batch_iface {
            fuzz.flush(&mut router, &mut pool);
            fuzz.batch_iface = iface;
        }
        let mut frame = bytes[..bytes.len().min(MAX_DATA)].to_vec();
        if ctl & CTL_FIX_CHECKSUMS != 0 {
            fix_checksums(&mut frame);
        }
        let Some(f) = pool.alloc_from(&frame) else {
            // The router holds every buffer (long ARP queues); that is not a loss.
            continue;
        };
        let pushed = fuzz.batch.push(f);
        assert!(
            pushed.is_ok(),
            "a full batch is processed as soon as it fills"
        );
        if ctl & CTL_END_BATCH != 0 || fuzz.batch.is_full() {
            fuzz.flush(&mut router, &mut pool);
        }
    }
    fuzz.flush(&mut router, &mut pool);

    // Long enough for every incomplete entry to fail (and its frames to be answered with host
    // unreachable, which may start new resolutions) and every learned entry to age out.
    fuzz.drain(&mut router, &mut pool);
    assert_eq!(
        pool.available(),
        pool.capacity(),
        "frames lost: {} of {} buffers not returned; timer still armed: {:?}",
        pool.capacity() - pool.available(),
        pool.capacity(),
        router.poll_timeout(),
    );
});

/// The state threaded through one input.
struct Driver {
    now: Instant,
    batch: Batch,
    batch_iface: IfaceId,
    out: Vec<Action>,
}

impl Driver {
    /// Process the pending batch, if any, and settle its actions.
    fn flush(&mut self, router: &mut Router, pool: &mut Pool) {
        if self.batch.is_empty() {
            return;
        }
        let before = self.batch.len();
        router.process(
            self.now,
            self.batch_iface,
            &mut self.batch,
            pool,
            &mut self.out,
        );
        assert!(
            self.batch.is_empty(),
            "process left {before} frames in the batch"
        );
        self.settle(router, pool);
    }

    /// Run the timers due by now, as an engine does whenever `poll_timeout` has passed.
    fn run_due(&mut self, router: &mut Router, pool: &mut Pool) {
        // A timer re-armed at or before now would spin; the bound keeps a bug like that from
        // hanging the fuzzer (the drain then reports it as held frames).
        for _ in 0..DRAIN_ROUNDS {
            if router.poll_timeout().is_none_or(|at| at > self.now) {
                return;
            }
            router.handle_timeout(self.now, pool, &mut self.out);
            self.settle(router, pool);
        }
    }

    /// Jump the clock from timer to timer until none is armed or the rounds run out.
    fn drain(&mut self, router: &mut Router, pool: &mut Pool) {
        for _ in 0..DRAIN_ROUNDS {
            let Some(at) = router.poll_timeout() else {
                return;
            };
            self.now = self.now.max(at);
            router.handle_timeout(self.now, pool, &mut self.out);
            self.settle(router, pool);
        }
    }

    /// Check and free every frame the router handed back.
    fn settle(&mut self, router: &Router, pool: &mut Pool) {
        for action in self.out.drain(..) {
            let frame = match action {
                Action::Transmit { iface, frame } => {
                    check_transmit(router, iface, pool.data(&frame));
                    frame
                }
                Action::Deliver { iface, frame } => {
                    assert!(
                        usize::from(iface.0) < MTUS.len(),
                        "delivered from {iface:?}"
                    );
                    frame
                }
                Action::Drop { frame, .. } => frame,
            };
            pool.free(frame);
        }
    }
}

/// What a transmitted frame must satisfy whatever came in.
fn check_transmit(router: &Router, iface: IfaceId, bytes: &[u8]) {
    let Some(mtu) = router.iface(iface).map(|i| usize::from(i.mtu())) else {
        panic!("transmit on unknown interface {iface:?}");
    };
    assert!(
        bytes.len() <= ethernet::HEADER_LEN + mtu,
        "{}-byte frame on {iface:?} with MTU {mtu}",
        bytes.len()
    );
    let eth = ethernet::Frame::new_unchecked(bytes);
    assert!(
        bytes.len() >= ethernet::HEADER_LEN,
        "short frame transmitted: {bytes:02x?}"
    );
    if eth.ethertype() == ethernet::EtherType::Ipv4 {
        let ip = ipv4::Packet::new_checked(eth.payload());
        assert!(
            ip.as_ref().is_ok_and(|ip| ip.verify_checksum()),
            "invalid IPv4 transmitted on {iface:?}: {ip:?}"
        );
    }
}

fn advance_ms(dt: u8) -> u64 {
    match dt {
        0..128 => u64::from(dt),
        _ => u64::from(dt - 127) * 100,
    }
}

/// Recompute the IPv4 header checksum and, for an unfragmented ICMP or UDP packet, the
/// transport checksum. Leaves anything it cannot parse alone.
fn fix_checksums(frame: &mut [u8]) {
    if ethernet::Frame::new_unchecked(&*frame).ethertype() != ethernet::EtherType::Ipv4 {
        return;
    }
    let Some(Ok(mut ip)) = frame
        .get_mut(ethernet::HEADER_LEN..)
        .map(ipv4::Packet::new_checked)
    else {
        return;
    };
    ip.fill_checksum();
    if ip.is_fragment() {
        return;
    }
    let (src, dst, protocol) = (ip.src_addr(), ip.dst_addr(), ip.protocol());
    let body = ip.payload_mut();
    match protocol {
        ipv4::Protocol::Icmp => {
            if let Ok(mut icmp) = icmpv4::Packet::new_checked(body) {
                icmp.fill_checksum();
            }
        }
        ipv4::Protocol::Udp => {
            if let Ok(mut u) = udp::Packet::new_checked(body) {
                u.fill_checksum(src, dst);
            }
        }
        _ => {}
    }
}

fn router() -> Router {
    let mut r = Router::new(Config::default());
    let ifaces = [("eth0", 1, [10, 0, 1, 1]), ("eth1", 2, [10, 0, 2, 1])];
    for ((name, mac, addr), mtu) in ifaces.into_iter().zip(MTUS) {
        let id = r
            .add_iface(name, ethernet::Address([2, 0, 0, 0, 0, mac]), mtu)
            .expect("interface");
        let addr = IfAddr::new(Ipv4Addr::from(addr), 24).expect("prefix length");
        r.add_addr(id, addr).expect("address");
    }
    for route in [
        "default via 10.0.2.254",
        "192.168.0.0/16 via 10.0.1.254",
        "blackhole 198.51.100.0/24",
        "unreachable 203.0.113.0/24",
        "prohibit 203.0.113.128/25",
    ] {
        r.add_route_str(route).expect("route");
    }
    // Echo port: datagrams to it are delivered rather than answered with port unreachable.
    r.listen_udp(7);
    r
}
