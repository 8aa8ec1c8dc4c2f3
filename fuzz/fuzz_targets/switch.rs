//! Fuzz `Switch::process`: arbitrary frames on any of four ports, at arbitrary times.
//!
//! One switch with VLAN filtering, a small FDB (so that it fills), a static entry, an access
//! port, a trunk, a hybrid port and a mirror port receives the frames the input encodes, in
//! batches, while a virtual clock advances and its ageing timer runs. Every frame it hands back
//! returns to the pool at once. The switch must never panic or lose a frame (every buffer back
//! in the pool at the end); every frame it counts received is forwarded, flooded or dropped;
//! every frame it sends leaves a port other than the one it came in on (mirror copies aside),
//! tagged only where the port carries the VLAN tagged.
//!
//! Input: a sequence of records, each `len: u16 LE | ctl: u8 | dt: u8 | len frame bytes`;
//! `ctl` bits 0–1 the ingress port, bit 2 ends the batch; `dt` advances the clock by `dt`
//! seconds (ageing is 30 s).

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shoal::frame::{Batch, MAX_DATA, Pool};
use shoal::router::{Action, IfaceId};
use shoal::switch::{Config, Mirror, PortConfig, Static, Switch, VlanSet};
use shoal::time::Instant;
use shoal::wire::ethernet::Address;

const POOL_FRAMES: usize = 1024;

fn switch() -> Switch {
    let mut hybrid = PortConfig::access("p2", 10);
    hybrid.vlans.insert(20);
    let ports = vec![
        PortConfig::access("p0", 10),
        PortConfig::trunk("p1", VlanSet::parse("10,20,4094").expect("VLANs")),
        hybrid,
        PortConfig::new("p3"),
    ];
    let config = Config {
        ageing: Duration::from_secs(30),
        fdb_max: 16,
        ports,
        mirror: Some(Mirror { from: vec![0], to: 3, rx: true, tx: true }),
        fdb: vec![Static { mac: Address([2, 0, 0, 0, 0, 1]), port: 1, vlan: 10 }],
        ..Config::default()
    };
    Switch::new(config).expect("a valid switch")
}

fuzz_target!(|data: &[u8]| {
    let mut pool = Pool::new(POOL_FRAMES).expect("frame pool");
    let mut sw = switch();
    let mut now = Instant::ZERO;
    let mut batch = Batch::new();
    let mut out = Vec::new();
    let mut ingress = 0u16;
    let mut rest = data;
    let check = |sw: &Switch, out: &mut Vec<Action>, pool: &mut Pool, from: u16| {
        for a in out.drain(..) {
            match a {
                Action::Transmit { iface, frame } => {
                    let d = pool.data(&frame);
                    assert!(d.len() >= 14, "a runt left the switch");
                    assert!(iface.0 != from || iface.0 == 3, "sent back out of its port");
                    if iface.0 != 3 && d[12..14] == [0x81, 0] {
                        let vid = u16::from_be_bytes([d[14], d[15]]) & 0xfff;
                        let p = &sw.config().ports[usize::from(iface.0)];
                        assert!(p.vlans.contains(vid) && !p.untagged.contains(vid));
                    }
                    pool.free(frame);
                }
                Action::Drop { frame, .. } | Action::Deliver { frame, .. } => pool.free(frame),
            }
        }
    };
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let (ctl, dt) = (rest[2], rest[3]);
        let body = &rest[4..];
        let take = len.min(body.len()).min(MAX_DATA);
        let bytes = &body[..take];
        rest = &body[len.min(body.len())..];
        let port = u16::from(ctl & 3);
        if dt != 0 || port != ingress {
            sw.process(now, IfaceId(ingress), &mut batch, &mut pool, &mut out);
            check(&sw, &mut out, &mut pool, ingress);
            now = now + Duration::from_secs(u64::from(dt));
            if sw.poll_timeout().is_some_and(|t| t <= now) {
                sw.handle_timeout(now, &mut pool, &mut out);
                check(&sw, &mut out, &mut pool, ingress);
            }
            ingress = port;
        }
        let Some(frame) = pool.alloc_from(bytes) else { break };
        if let Err(f) = batch.push(frame) {
            pool.free(f);
        }
        if ctl & 4 != 0 || batch.is_full() {
            sw.process(now, IfaceId(ingress), &mut batch, &mut pool, &mut out);
            check(&sw, &mut out, &mut pool, ingress);
        }
    }
    sw.process(now, IfaceId(ingress), &mut batch, &mut pool, &mut out);
    check(&sw, &mut out, &mut pool, ingress);
    let c = sw.counters();
    assert_eq!(c.rx_frames, c.forwarded + c.flooded + c.total_drops());
    assert!(sw.fdb().len() <= 16);
    assert_eq!(pool.available(), pool.capacity(), "a frame was lost");
});
