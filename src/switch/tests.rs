//! Unit tests of the switch: learning, flooding, VLANs, hub mode, mirroring, MTU, link-local.

use super::*;
use crate::router::{Action, DropReason};
use core::time::Duration;

const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const BCAST: [u8; 6] = [0xff; 6];

struct T {
    sw: Switch,
    pool: Pool,
    out: Vec<Action>,
}

fn frame(dst: [u8; 6], src: [u8; 6], tci: Option<u16>, payload: usize) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(t) = tci {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&t.to_be_bytes());
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend(core::iter::repeat_n(0x5a, payload));
    f
}

impl T {
    fn new(config: Config) -> T {
        T {
            sw: Switch::new(config).unwrap(),
            pool: Pool::new(64).unwrap(),
            out: Vec::new(),
        }
    }

    fn ports(n: usize) -> T {
        let ports = (0..n).map(|i| PortConfig::new(&format!("p{i}"))).collect();
        T::new(Config {
            ports,
            ..Config::default()
        })
    }

    /// Send `bytes` in on `port`: (port, bytes) sent, drop reasons.
    fn rx(&mut self, port: u16, bytes: &[u8]) -> (Vec<(u16, Vec<u8>)>, Vec<DropReason>) {
        self.rx_at(Instant::ZERO, port, bytes)
    }

    /// [`T::rx`] at `now`.
    fn rx_at(
        &mut self,
        now: Instant,
        port: u16,
        bytes: &[u8],
    ) -> (Vec<(u16, Vec<u8>)>, Vec<DropReason>) {
        let f = self.pool.alloc_from(bytes).unwrap();
        self.sw
            .process_frame(now, IfaceId(port), f, &mut self.pool, &mut self.out);
        let (mut sent, mut dropped) = (Vec::new(), Vec::new());
        for a in self.out.drain(..) {
            match a {
                Action::Transmit { iface, frame } => {
                    sent.push((iface.0, self.pool.data(&frame).to_vec()));
                    self.pool.free(frame);
                }
                Action::Drop { frame, reason } => {
                    dropped.push(reason);
                    self.pool.free(frame);
                }
                Action::Deliver { .. } => panic!("a switch delivers nothing"),
            }
        }
        sent.sort();
        (sent, dropped)
    }

    fn ports_out(&mut self, port: u16, bytes: &[u8]) -> Vec<u16> {
        self.rx(port, bytes).0.into_iter().map(|(p, _)| p).collect()
    }
}

#[test]
fn floods_unknown_then_forwards_learned_and_never_back() {
    let mut t = T::ports(4);
    assert_eq!(t.ports_out(0, &frame(B, A, None, 50)), [1, 2, 3]);
    assert_eq!(
        t.ports_out(1, &frame(A, B, None, 50)),
        [0],
        "A was learned on 0"
    );
    assert_eq!(
        t.ports_out(2, &frame(B, A, None, 50)),
        [1],
        "A moved to 2; B on 1"
    );
    assert_eq!(t.sw.counters().moved, 1);
    let (sent, dropped) = t.rx(1, &frame(B, [2, 0, 0, 0, 0, 0xc], None, 50));
    assert!(sent.is_empty());
    assert_eq!(dropped, [DropReason::SamePort]);
    assert_eq!(t.ports_out(3, &frame(BCAST, B, None, 50)), [0, 1, 2]);
    let c = t.sw.counters();
    assert_eq!(c.rx_frames, c.forwarded + c.flooded + c.total_drops());
    assert_eq!(
        t.pool.available(),
        t.pool.capacity(),
        "every frame back in the pool"
    );
}

#[test]
fn drops_bad_sources_and_link_local_but_floods_bpdus_without_stp() {
    let mut t = T::ports(3);
    assert_eq!(
        t.rx(0, &frame(B, BCAST, None, 50)).1,
        [DropReason::BadSourceMac]
    );
    assert_eq!(
        t.rx(0, &frame(B, [0; 6], None, 50)).1,
        [DropReason::BadSourceMac]
    );
    let lldp = [0x01, 0x80, 0xc2, 0, 0, 0x0e];
    assert_eq!(
        t.rx(0, &frame(lldp, A, None, 50)).1,
        [DropReason::LinkLocal]
    );
    let stp = [0x01, 0x80, 0xc2, 0, 0, 0];
    assert_eq!(t.ports_out(0, &frame(stp, A, None, 50)), [1, 2]);
    let mut c = Config {
        stp: StpConfig {
            enabled: true,
            ..StpConfig::default()
        },
        ..Config::default()
    };
    c.ports = vec![PortConfig::new("a"), PortConfig::new("b")];
    let mut t = T::new(c);
    assert_eq!(t.rx(0, &frame(stp, A, None, 50)).1, [DropReason::Bpdu]);
    assert_eq!(t.rx(0, &[0; 10]).1, [DropReason::EthernetTruncated]);
}

fn vlan_switch() -> T {
    // p0: access 10; p1: access 20; p2: trunk 10,20; p3: pvid 10 untagged + tagged 20.
    let mut p3 = PortConfig::access("p3", 10);
    p3.vlans.insert(20);
    let ports = vec![
        PortConfig::access("p0", 10),
        PortConfig::access("p1", 20),
        PortConfig::trunk("p2", VlanSet::parse("10,20").unwrap()),
        p3,
    ];
    T::new(Config {
        ports,
        ..Config::default()
    })
}

#[test]
fn vlans_isolate_and_tag_on_trunks() {
    let mut t = vlan_switch();
    let (sent, _) = t.rx(0, &frame(BCAST, A, None, 50));
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        sent[0].1,
        frame(BCAST, A, Some(10), 50),
        "tagged on the trunk"
    );
    assert_eq!(
        sent[1].1,
        frame(BCAST, A, None, 50),
        "untagged on p3's PVID"
    );
    // VLAN 20 from the trunk reaches p1 untagged and p3 tagged, never p0.
    let (sent, _) = t.rx(2, &frame(BCAST, B, Some(0x2014), 50));
    assert_eq!(
        sent,
        [
            (1, frame(BCAST, B, None, 50)),
            (3, frame(BCAST, B, Some(0x2014), 50))
        ]
    );
    // Non-member VID and untagged on a trunk (no PVID) are filtered.
    assert_eq!(
        t.rx(2, &frame(BCAST, B, Some(30), 50)).1,
        [DropReason::VlanFiltered]
    );
    assert_eq!(
        t.rx(2, &frame(BCAST, B, None, 50)).1,
        [DropReason::VlanFiltered]
    );
    assert_eq!(
        t.rx(0, &frame(BCAST, A, Some(20), 50)).1,
        [DropReason::VlanFiltered]
    );
    // Priority-tagged on an access port: its PVID, priority kept on the trunk.
    let (sent, _) = t.rx(0, &frame(BCAST, A, Some(0xa000), 50));
    assert_eq!(
        sent,
        [
            (2, frame(BCAST, A, Some(0xa00a), 50)),
            (3, frame(BCAST, A, None, 50))
        ]
    );
    // The same MAC is learned per VLAN: B is known in 20 only.
    assert_eq!(t.ports_out(0, &frame(B, A, None, 50)), [2, 3]);
    assert_eq!(t.ports_out(3, &frame(B, A, Some(20), 50)), [2]);
}

#[test]
fn without_filtering_tags_pass_unchanged() {
    let mut t = vlan_switch();
    t.sw = Switch::new(Config {
        vlan_filtering: false,
        ..t.sw.config().clone()
    })
    .unwrap();
    let (sent, _) = t.rx(0, &frame(BCAST, A, Some(30), 50));
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|s| s.1 == frame(BCAST, A, Some(30), 50)));
}

#[test]
fn hub_floods_everything_and_learns_nothing() {
    let mut t = T::ports(3);
    t.sw = Switch::new(Config {
        hub: true,
        ..t.sw.config().clone()
    })
    .unwrap();
    assert_eq!(t.ports_out(0, &frame(B, A, None, 50)), [1, 2]);
    assert_eq!(t.ports_out(1, &frame(A, B, None, 50)), [0, 2]);
    assert!(t.sw.fdb().is_empty());
}

#[test]
fn mtu_is_per_port_and_jumbo_passes_where_allowed() {
    let mut t = T::ports(3);
    let mut c = t.sw.config().clone();
    c.ports[1].mtu = 9000;
    c.ports[0].mtu = 9000;
    t.sw = Switch::new(c).unwrap();
    let big = frame(BCAST, A, None, 1700);
    let (sent, dropped) = t.rx(0, &big);
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), [1]);
    assert!(dropped.is_empty());
    assert_eq!(t.sw.port_counters()[2].mtu_exceeded, 1);
    t.rx(2, &frame(BCAST, B, None, 50));
    assert_eq!(
        t.rx(0, &frame(B, A, None, 1700)).1,
        [DropReason::MtuExceeded]
    );
    // 1500 bytes of payload exactly fit, tagged or not.
    assert_eq!(t.ports_out(0, &frame(B, A, None, 1500)), [2]);
}

#[test]
fn mirror_copies_rx_and_tx_of_sources() {
    let mut t = T::ports(4);
    let mut c = t.sw.config().clone();
    c.mirror = Some(Mirror {
        from: vec![0],
        to: 3,
        rx: true,
        tx: true,
    });
    t.sw = Switch::new(c).unwrap();
    assert_eq!(
        t.ports_out(0, &frame(BCAST, A, None, 50)),
        [1, 2, 3],
        "flood skips 3; rx copy"
    );
    assert_eq!(t.ports_out(1, &frame(A, B, None, 50)), [0, 3], "tx copy");
    assert_eq!(
        t.ports_out(2, &frame(B, [2, 0, 0, 0, 0, 0xc], None, 50)),
        [1]
    );
    assert_eq!(
        t.rx(3, &frame(BCAST, B, None, 50)).1,
        [DropReason::MirrorPort]
    );
    assert_eq!(t.sw.counters().mirrored, 2);
}

#[test]
fn full_fdb_refuses_and_counts_and_blocked_ports_neither_learn_nor_forward() {
    let mut t = T::ports(3);
    t.sw = Switch::new(Config {
        fdb_max: 1,
        ..t.sw.config().clone()
    })
    .unwrap();
    t.rx(0, &frame(BCAST, A, None, 50));
    t.rx(1, &frame(BCAST, B, None, 50));
    assert_eq!(t.sw.counters().fdb_full, 1);
    assert_eq!(
        t.ports_out(0, &frame(B, A, None, 50)),
        [1, 2],
        "B unknown: flooded"
    );
    t.sw.set_port_state(2, PortState::Discarding);
    assert_eq!(t.ports_out(0, &frame(B, A, None, 50)), [1]);
    assert_eq!(
        t.rx(2, &frame(BCAST, B, None, 50)).1,
        [DropReason::PortBlocked]
    );
    t.sw.set_port_state(1, PortState::Learning);
    assert_eq!(
        t.rx(0, &frame(BCAST, A, None, 50)).1,
        [DropReason::NoEgress]
    );
    assert_eq!(t.sw.flush(Some(0), None), 1);
}

#[test]
fn static_entries_forward_without_learning() {
    let mut t = T::ports(3);
    let mut c = t.sw.config().clone();
    c.fdb = vec![Static {
        mac: Address(B),
        port: 2,
        vlan: 1,
    }];
    t.sw = Switch::new(c).unwrap();
    assert_eq!(t.ports_out(0, &frame(B, A, None, 50)), [2]);
    assert_eq!(t.ports_out(1, &frame(BCAST, B, None, 50)), [0, 2]);
    assert_eq!(
        t.ports_out(0, &frame(B, A, None, 50)),
        [2],
        "static entries do not move"
    );
    let bad = Config {
        fdb: vec![Static {
            mac: Address(B),
            port: 9,
            vlan: 1,
        }],
        ..c_ports(2)
    };
    assert_eq!(Switch::new(bad).unwrap_err(), ConfigError::NoSuchPort(9));
}

fn c_ports(n: usize) -> Config {
    Config {
        ports: (0..n).map(|i| PortConfig::new(&format!("p{i}"))).collect(),
        ..Config::default()
    }
}

#[test]
fn ageing_forgets_and_timer_sweeps() {
    let mut t = T::ports(3);
    t.rx(1, &frame(BCAST, B, None, 50));
    let at = t.sw.poll_timeout().unwrap();
    assert_eq!(at, Instant::ZERO + DEFAULT_AGEING);
    t.sw.handle_timeout(at, &mut t.pool, &mut t.out);
    assert!(t.sw.fdb().is_empty() && t.sw.poll_timeout().is_none());
}

/// What the switch remembers from one frame to the next (the source just learned, the
/// destination just looked up) never outlives a change of the table: a destination that moves,
/// ages out, comes back after ageing, or is flushed is looked up afresh.
#[test]
fn remembered_answers_follow_every_change_of_the_table() {
    let mut t = T::ports(3);
    let ms = |m: u64| Instant::from_millis(m);
    let ports_out = |t: &mut T, at: Instant, port: u16, bytes: &[u8]| -> Vec<u16> {
        t.rx_at(at, port, bytes)
            .0
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    };
    let a_to_b = frame(B, A, None, 50);
    let b_to_a = frame(A, B, None, 50);
    assert_eq!(
        ports_out(&mut t, ms(0), 1, &b_to_a),
        [0, 2],
        "B learned on 1"
    );
    assert_eq!(ports_out(&mut t, ms(1), 0, &a_to_b), [1]);
    assert_eq!(ports_out(&mut t, ms(2), 0, &a_to_b), [1], "remembered");
    // B moves to port 2.
    assert_eq!(ports_out(&mut t, ms(3), 2, &b_to_a), [0]);
    assert_eq!(ports_out(&mut t, ms(4), 0, &a_to_b), [2], "moved");
    // B falls silent and ages out (300 s), though A keeps sending to it.
    let aged = ms(3 + 300_000);
    assert_eq!(ports_out(&mut t, ms(299_000), 0, &a_to_b), [2]);
    assert_eq!(ports_out(&mut t, aged, 0, &a_to_b), [1, 2], "aged: flooded");
    // B speaks again before the sweep freed its entry: known again at once.
    assert_eq!(t.sw.fdb().len(), 2, "not swept yet");
    assert_eq!(
        ports_out(&mut t, aged + Duration::from_millis(1), 2, &b_to_a),
        [0]
    );
    let later = aged + Duration::from_millis(2);
    assert_eq!(ports_out(&mut t, later, 0, &a_to_b), [2], "relearned");
    // A flush forgets it.
    assert_eq!(t.sw.flush(Some(2), None), 1);
    assert_eq!(
        ports_out(&mut t, later, 0, &a_to_b),
        [1, 2],
        "flushed: flooded"
    );
}

/// A source's entry time is rewritten at least every millisecond (`REWRITE`) while its frames
/// keep coming, so it ages at most that much before its last frame's age.
#[test]
fn a_source_ages_from_within_a_millisecond_of_its_last_frame() {
    let mut t = T::ports(3);
    let a_to_b = frame(B, A, None, 50);
    let b_to_a = frame(A, B, None, 50);
    // A frame from A every 0.4 ms for 10 ms.
    for k in 0..=25u64 {
        t.rx_at(Instant::from_nanos(400_000 * k), 0, &a_to_b);
    }
    let last = Instant::from_millis(10);
    let ageing = Duration::from_secs(300);
    let mut ports = |at| -> Vec<u16> { t.rx_at(at, 1, &b_to_a).0.iter().map(|s| s.0).collect() };
    assert_eq!(ports(last + (ageing - REWRITE)), [0], "still known");
    assert_eq!(ports(last + ageing), [0, 2], "aged: flooded");
}
