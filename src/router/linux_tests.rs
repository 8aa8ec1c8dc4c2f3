//! What a host sees of one instance, frame in and frames out, where issue 16 found shoal unlike
//! a Linux 6.18 router: TCP to a router's address, probes to its far-side address, priority-
//! tagged frames, malformed options, fragments addressed to it. The expected bytes are what
//! the parity harness (tests/parity.rs) saw Linux send for the same frames.

use core::time::Duration;
use std::net::Ipv4Addr;

use super::*;
use crate::wire::checksum;

const R_MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const R_MAC1: [u8; 6] = [2, 0, 0, 0, 0, 2];
const H1_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const R0: [u8; 4] = [10, 0, 1, 1];
const R1: [u8; 4] = [10, 0, 2, 1];
const H1: [u8; 4] = [10, 0, 1, 2];

/// A router with eth0 10.0.1.1/24 (h1 10.0.1.2 behind it, resolved) and eth1 10.0.2.1/24.
struct One {
    r: Router,
    pool: Pool,
    out: Vec<Action>,
    now: Instant,
}

impl One {
    fn new() -> One {
        let mut r = Router::new(Config::default());
        let eth0 = r
            .add_iface("eth0", ethernet::Address(R_MAC0), 1500)
            .unwrap();
        let eth1 = r
            .add_iface("eth1", ethernet::Address(R_MAC1), 1500)
            .unwrap();
        r.add_addr(eth0, IfAddr::new(Ipv4Addr::from(R0), 24).unwrap())
            .unwrap();
        r.add_addr(eth1, IfAddr::new(Ipv4Addr::from(R1), 24).unwrap())
            .unwrap();
        let mut one = One {
            r,
            pool: Pool::new(64).unwrap(),
            out: Vec::new(),
            now: Instant::from_millis(1_000),
        };
        // h1 asks for 10.0.1.1: the answer, and h1 is a neighbour.
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&H1_MAC);
        arp.extend_from_slice(&H1);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&R0);
        let replies = one.send(&eth([0xff; 6], &[], 0x0806, &arp));
        assert_eq!(replies.len(), 1);
        one
    }

    /// Hand `frame` to eth0 and return the frames the instance transmits, as (interface,
    /// bytes); every buffer goes back to the pool.
    fn send(&mut self, frame: &[u8]) -> Vec<(IfaceId, Vec<u8>)> {
        let f = self.pool.alloc_from(frame).unwrap();
        self.r
            .process_frame(self.now, IfaceId(0), f, &mut self.pool, &mut self.out);
        self.drain()
    }

    /// Let `d` pass and run the timers.
    fn wait(&mut self, d: Duration) -> Vec<(IfaceId, Vec<u8>)> {
        self.now = self.now + d;
        self.r
            .handle_timeout(self.now, &mut self.pool, &mut self.out);
        self.drain()
    }

    fn drain(&mut self) -> Vec<(IfaceId, Vec<u8>)> {
        let mut sent = Vec::new();
        for action in self.out.drain(..) {
            match action {
                Action::Transmit { iface, frame } => {
                    sent.push((iface, self.pool.data(&frame).to_vec()));
                    self.pool.free(frame);
                }
                Action::Deliver { frame, .. } | Action::Drop { frame, .. } => self.pool.free(frame),
            }
        }
        assert_eq!(self.pool.available(), self.pool.capacity());
        sent
    }
}

fn eth(dst: [u8; 6], tag: &[u8], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&H1_MAC);
    f.extend_from_slice(tag);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet from h1 with `opts` (padded by the caller), fragment field `frag` (flags and
/// offset in 8-byte units), and a correct header checksum.
fn ip(dst: [u8; 4], proto: u8, opts: &[u8], frag: u16, payload: &[u8]) -> Vec<u8> {
    let hl = 20 + opts.len();
    let mut p = vec![0x40 | (hl / 4) as u8, 0];
    p.extend_from_slice(&((hl + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34]);
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&H1);
    p.extend_from_slice(&dst);
    p.extend_from_slice(opts);
    let sum = !checksum::data(&p[..hl]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn to_router(packet: &[u8]) -> Vec<u8> {
    eth(R_MAC0, &[], 0x0800, packet)
}

fn echo_request(data: &[u8]) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0, 0x42, 0x42, 0, 1];
    m.extend_from_slice(data);
    let sum = !checksum::data(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// The one frame sent, to h1 out of eth0: its IP packet.
fn only_to_h1(sent: &[(IfaceId, Vec<u8>)]) -> &[u8] {
    assert_eq!(sent.len(), 1, "{sent:02x?}");
    let (iface, f) = &sent[0];
    assert_eq!(*iface, IfaceId(0));
    assert_eq!(
        (&f[..6], &f[6..12], &f[12..14]),
        (&H1_MAC[..], &R_MAC0[..], &[8, 0][..])
    );
    &f[14..]
}

fn src(p: &[u8]) -> [u8; 4] {
    p[12..16].try_into().unwrap()
}

fn payload(p: &[u8]) -> &[u8] {
    &p[usize::from(p[0] & 15) * 4..]
}

#[test]
fn tcp_to_a_router_address_is_reset() {
    let mut one = One::new();
    // SYN from 40000 to port 22, sequence 1000.
    let mut syn = vec![
        0x9c, 0x40, 0, 22, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
    ];
    syn.extend_from_slice(&[0, 0, 0, 0]);
    let mut pseudo = H1.to_vec();
    pseudo.extend_from_slice(&R0);
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    pseudo.extend_from_slice(&syn);
    let sum = !checksum::data(&pseudo);
    syn[16..18].copy_from_slice(&sum.to_be_bytes());
    let sent = one.send(&to_router(&ip(R0, 6, &[], 0, &syn)));
    let p = only_to_h1(&sent);
    assert_eq!((p[9], src(p)), (6, R0));
    let tcp = payload(p);
    // Linux's tcp_v4_send_reset to a SYN: RST|ACK, sequence 0, acknowledging the SYN, window 0.
    assert_eq!(&tcp[..4], &[0, 22, 0x9c, 0x40]);
    assert_eq!(&tcp[4..12], &[0, 0, 0, 0, 0, 0, 0x03, 0xe9]);
    assert_eq!(&tcp[12..16], &[0x50, 0x14, 0, 0]);
    let mut pseudo = R0.to_vec();
    pseudo.extend_from_slice(&H1);
    pseudo.extend_from_slice(&[0, 6, 0, tcp.len() as u8]);
    pseudo.extend_from_slice(tcp);
    assert_eq!(checksum::data(&pseudo), 0xffff, "TCP checksum");

    // A reset is never answered.
    let mut rst = syn.clone();
    rst[13] = 0x04;
    rst[16..18].copy_from_slice(&[0, 0]);
    let mut pseudo = H1.to_vec();
    pseudo.extend_from_slice(&R0);
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    pseudo.extend_from_slice(&rst);
    let sum = !checksum::data(&pseudo);
    rst[16..18].copy_from_slice(&sum.to_be_bytes());
    assert!(one.send(&to_router(&ip(R0, 6, &[], 0, &rst))).is_empty());
}

#[test]
fn a_probe_to_the_far_side_address_is_answered_from_it() {
    let mut one = One::new();
    let udp = [0x9c, 0x40, 0x82, 0x9a, 0, 8, 0, 0];
    let sent = one.send(&to_router(&ip(R1, 17, &[], 0, &udp)));
    let p = only_to_h1(&sent);
    assert_eq!(src(p), R1, "port unreachable from the probed address");
    assert_eq!(&payload(p)[..2], &[3, 3]);
    let sent = one.send(&to_router(&ip(R1, 1, &[], 0, &echo_request(b"far"))));
    let p = only_to_h1(&sent);
    assert_eq!(
        (src(p), payload(p)[0]),
        (R1, 0),
        "echo reply from the probed address"
    );
}

#[test]
fn priority_tagged_frames_are_taken_as_untagged() {
    let mut one = One::new();
    // 802.1Q, priority 5, VLAN ID 0.
    let tagged = eth(
        R_MAC0,
        &[0x81, 0x00, 0xa0, 0x00],
        0x0800,
        &ip(R0, 1, &[], 0, &echo_request(b"prio")),
    );
    let sent = one.send(&tagged);
    let p = only_to_h1(&sent);
    assert_eq!(&payload(p)[..2], &[0, 0], "echo reply, untagged");
    assert_eq!(&payload(p)[8..], b"prio");
    // VLAN 7 is another link's: dropped.
    let other = eth(
        R_MAC0,
        &[0x81, 0x00, 0x00, 0x07],
        0x0800,
        &ip(R0, 1, &[], 0, &echo_request(b"x")),
    );
    assert!(one.send(&other).is_empty());
    assert_eq!(one.r.counters().dropped(DropReason::VlanTagged), 1);
}

#[test]
fn malformed_options_get_parameter_problem_at_the_bad_byte() {
    let mut one = One::new();
    // Record Route with length 2, through the router and to it: Linux drops both and points
    // at the length byte (offset 21).
    for dst in [[10, 0, 2, 2], R0] {
        let packet = ip(dst, 1, &[7, 2, 0, 0], 0, &echo_request(b"opt"));
        let sent = one.send(&to_router(&packet));
        let p = only_to_h1(&sent);
        assert_eq!(src(p), R0);
        let icmp = payload(p);
        assert_eq!(&icmp[..2], &[12, 0], "parameter problem");
        assert_eq!(icmp[4], 21, "pointer");
        // The quote is the datagram as received, options included.
        assert_eq!(&icmp[8..8 + 24], &packet[..24]);
    }
    assert_eq!(one.r.counters().forwarded, 0);
}

#[test]
fn fragments_to_a_router_are_reassembled_and_answered() {
    let mut one = One::new();
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let msg = echo_request(&data);
    // Last fragment first, then the first (1480 bytes, MF).
    one.send(&to_router(&ip(R0, 1, &[], 1480 / 8, &msg[1480..])));
    assert_eq!(one.r.counters().held, 1);
    let sent = one.send(&to_router(&ip(R0, 1, &[], 0x2000, &msg[..1480])));
    assert_eq!(one.r.counters().held, 0);
    // The 2,028-byte reply leaves in two fragments of eth0's MTU.
    assert_eq!(sent.len(), 2, "{sent:02x?}");
    let mut reply = vec![0; 8 + data.len()];
    for (_, f) in &sent {
        let p = &f[14..];
        assert!(p.len() <= 1500);
        assert_eq!(src(p), R0);
        let field = u16::from_be_bytes([p[6], p[7]]);
        let at = usize::from(field & 0x1fff) * 8;
        let part = payload(p);
        reply[at..at + part.len()].copy_from_slice(part);
    }
    assert_eq!(&reply[..2], &[0, 0], "echo reply");
    assert_eq!(&reply[8..], &data[..]);
    assert_eq!(checksum::data(&reply), 0xffff, "ICMP checksum");
}

#[test]
fn an_incomplete_datagram_gets_time_exceeded_only_with_its_first_fragment() {
    let mut one = One::new();
    let msg = echo_request(&[0x55; 100]);
    let first = ip(R0, 1, &[], 0x2000, &msg[..64]);
    one.send(&to_router(&first));
    // Nothing before the 30 s are up.
    assert!(one.wait(Duration::from_secs(29)).is_empty());
    let sent = one.wait(Duration::from_secs(1));
    let p = only_to_h1(&sent);
    let icmp = payload(p);
    assert_eq!(&icmp[..2], &[11, 1], "fragment reassembly time exceeded");
    assert_eq!(&icmp[8..8 + 28], &first[..28], "quotes the first fragment");
    assert_eq!(one.r.counters().dropped(DropReason::ReasmTimeout), 1);

    // Without its first fragment, the datagram times out silently.
    one.send(&to_router(&ip(R0, 1, &[], 0x2000 | 8, &msg[64..])));
    // (h1's entry, used for the time exceeded, is probed by unicast ARP meanwhile.)
    let sent = one.wait(Duration::from_secs(30));
    assert!(sent.iter().all(|(_, f)| f[12..14] == [8, 6]), "{sent:02x?}");
    assert_eq!(one.r.counters().dropped(DropReason::ReasmTimeout), 2);
    assert_eq!(one.r.counters().held, 0);
}
