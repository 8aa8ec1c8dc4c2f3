//! Differential test of a shoal switch against the Linux bridge with `vlan_filtering 1`: the
//! same four ports with the same VLANs on both — an access port in VLAN 10, one in VLAN 20, a
//! trunk carrying 10 and 20 tagged (no PVID), and a hybrid port (10 untagged and PVID, 20
//! tagged) — and the same crafted frames sent into both: untagged, tagged with member and
//! non-member VIDs, priority-tagged, broadcast, multicast, unknown and learned unicast,
//! link-local groups, a multicast source. What leaves every port, tags included, must match.
//!
//! Each side is a namespace of four veth ends the test sends and listens on (AF_PACKET, with
//! the tag the kernel takes off put back from PACKET_AUXDATA), joined to four veth ends in a
//! second namespace: enslaved to `br0` there, or bound by a `shoal run` switch over AF_XDP.
//! Needs root (skipped otherwise). The same frames also go through both with VLAN filtering
//! off (tags pass unchanged, one FDB); the filtering test skips, saying so, on a kernel built
//! without `CONFIG_BRIDGE_VLAN_FILTERING`.

mod common;

use std::process::Child;
use std::time::Duration;

use common::netns::{NetNs, skip_unless_root};
use common::raw::RawSocket;

type Mac = [u8; 6];

const fn mac(last: u8) -> Mac {
    [0x02, 0, 0, 0, 0, last]
}

const A: Mac = mac(0xa);
const B: Mac = mac(0xb);
const C: Mac = mac(0xc);
const D: Mac = mac(0xd);
const E: Mac = mac(0xe);
const BCAST: Mac = [0xff; 6];

fn frame(dst: Mac, src: Mac, tci: Option<u16>, marker: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(t) = tci {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&t.to_be_bytes());
    }
    // A local experimental EtherType, then a marker naming the case.
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.extend(std::iter::repeat_n(marker, 64));
    f
}

/// (port sent on, frame): each case in order (learning carries from one to the next).
fn cases() -> Vec<(usize, Vec<u8>)> {
    let lldp = [0x01, 0x80, 0xc2, 0, 0, 0x0e];
    let stp = [0x01, 0x80, 0xc2, 0, 0, 0];
    let mcast = [0x01, 0x00, 0x5e, 0, 0, 0xfb];
    vec![
        (0, frame(BCAST, A, None, 1)),
        (1, frame(BCAST, B, None, 2)),
        (2, frame(BCAST, C, Some(10), 3)),
        (2, frame(BCAST, C, Some(30), 4)),
        (2, frame(BCAST, C, None, 5)),
        (0, frame(BCAST, A, Some(0xa000), 6)),
        (0, frame(BCAST, A, Some(20), 7)),
        (3, frame(E, D, Some(20), 8)),
        (2, frame(A, C, Some(10), 9)),
        (0, frame(C, A, None, 10)),
        (0, frame(D, A, None, 11)),
        (0, frame(mcast, A, None, 12)),
        (0, frame(lldp, A, None, 13)),
        (0, frame(stp, A, None, 14)),
        (1, frame(BCAST, mcast, None, 15)),
        (1, frame(B, mac(0xf), None, 16)),
        (3, frame(BCAST, D, Some(0x6000), 17)),
        (3, frame(B, D, Some(20), 18)),
        (1, frame(D, B, None, 19)),
    ]
}

/// One side: the tester's namespace and sockets, the switch's namespace, and shoal if it runs.
struct Side {
    name: &'static str,
    socks: Vec<RawSocket>,
    shoal: Option<Child>,
    _t: NetNs,
    _b: NetNs,
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(c) = &mut self.shoal {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn namespaces(prefix: &str) -> (NetNs, NetNs) {
    let t = NetNs::new(&format!("{prefix}t")).expect("namespace");
    let b = NetNs::new(&format!("{prefix}b")).expect("namespace");
    for i in 0..4 {
        t.veth(&format!("t{i}"), &b, &format!("p{i}"))
            .expect("veth");
    }
    (t, b)
}

fn sockets(t: &NetNs) -> Vec<RawSocket> {
    (0..4)
        .map(|i| {
            let s = RawSocket::open(t, &format!("t{i}")).expect("raw socket");
            s.keep_tags().expect("PACKET_AUXDATA");
            s
        })
        .collect()
}

/// The Linux side, or why it cannot be built (a kernel without VLAN filtering).
fn linux(filtering: bool) -> Result<Side, String> {
    let (t, b) = namespaces("brl");
    let ip = |args: &[&str]| b.ip(args).expect("ip");
    let mut add = vec!["link", "add", "br0", "type", "bridge", "stp_state", "0"];
    if filtering {
        add.extend(["vlan_filtering", "1"]);
    }
    b.ip(&add).map_err(|e| e.to_string())?;
    b.sysctl("net.ipv6.conf.br0.disable_ipv6=1")
        .expect("sysctl");
    for i in 0..4 {
        ip(&["link", "set", &format!("p{i}"), "master", "br0"]);
    }
    let bridge = |args: &str| {
        let mut all = vec!["bridge"];
        all.extend(args.split(' '));
        b.run(&all).expect("bridge vlan");
    };
    if filtering {
        for i in 0..4 {
            bridge(&format!("vlan del vid 1 dev p{i}"));
        }
        bridge("vlan add vid 10 dev p0 pvid untagged");
        bridge("vlan add vid 20 dev p1 pvid untagged");
        bridge("vlan add vid 10 dev p2");
        bridge("vlan add vid 20 dev p2");
        bridge("vlan add vid 10 dev p3 pvid untagged");
        bridge("vlan add vid 20 dev p3");
    }
    ip(&["link", "set", "br0", "up"]);
    let socks = sockets(&t);
    Ok(Side {
        name: "linux",
        socks,
        shoal: None,
        _t: t,
        _b: b,
    })
}

fn shoal(dir: &std::path::Path, filtering: bool) -> Side {
    let (t, b) = namespaces("brs");
    let attach = |i: usize| format!("attach = {{ dev = \"p{i}\", mode = \"afxdp\" }}");
    let vlans = if filtering {
        [
            r#"pvid = 10, "#,
            r#"pvid = 20, "#,
            r#"pvid = 0, vlans = "10,20", "#,
            r#"pvid = 10, vlans = "20", "#,
        ]
    } else {
        [""; 4]
    };
    let topo = format!(
        r#"[[switch]]
name = "sw"
vlan_filtering = {filtering}
iface = [
  {{ name = "p0", {}{} }},
  {{ name = "p1", {}{} }},
  {{ name = "p2", {}{} }},
  {{ name = "p3", {}{} }},
]
"#,
        vlans[0],
        attach(0),
        vlans[1],
        attach(1),
        vlans[2],
        attach(2),
        vlans[3],
        attach(3)
    );
    let path = dir.join("switch.toml");
    std::fs::write(&path, topo).expect("topology file");
    let mut cmd = b.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(["run", path.to_str().expect("utf-8"), "--workers", "1"]);
    let child = common::netns::start_shoal(cmd);
    let socks = sockets(&t);
    Side {
        name: "shoal",
        socks,
        shoal: Some(child),
        _t: t,
        _b: b,
    }
}

/// Whether a frame is one of the cases' (their sources are 02:00:00:00:00:xx, or bad ones),
/// not something the kernel sent of its own (an IGMP report the Linux bridge floods when it
/// comes up, say).
fn crafted(frame: &[u8]) -> bool {
    match frame.get(6..12) {
        Some(src) => src[..5] == [2, 0, 0, 0, 0] || src[0] & 1 == 1 || src == [0; 6],
        None => true,
    }
}

/// What left each port after one case: (port, frame), sorted.
fn collect(side: &Side) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for (p, s) in side.socks.iter().enumerate() {
        while let Some(r) = s.recv_tagged().expect("recv") {
            if r.incoming && crafted(&r.bytes) {
                out.push((p, r.bytes));
            }
        }
    }
    out.sort();
    out
}

fn show(frames: &[(usize, Vec<u8>)]) -> String {
    let one = |(p, f): &(usize, Vec<u8>)| {
        let tag = if f.get(12..14) == Some(&[0x81, 0x00][..]) {
            format!(" tag {:04x}", u16::from_be_bytes([f[14], f[15]]))
        } else {
            String::new()
        };
        format!("p{p}: {} bytes{tag}", f.len())
    };
    let all: Vec<_> = frames.iter().map(one).collect();
    format!("[{}]", all.join(", "))
}

#[test]
fn with_vlan_filtering_shoal_sends_what_linux_sends() {
    if skip_unless_root("with_vlan_filtering_shoal_sends_what_linux_sends") {
        return;
    }
    differential(true);
}

#[test]
fn without_vlan_filtering_shoal_sends_what_linux_sends() {
    if skip_unless_root("without_vlan_filtering_shoal_sends_what_linux_sends") {
        return;
    }
    differential(false);
}

/// One test at a time: the two share nothing but the machine's two cores.
static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn differential(filtering: bool) {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let linux = match linux(filtering) {
        Ok(side) => side,
        Err(e) => {
            use std::io::Write;
            let line = format!(
                "skipping the differential (vlan_filtering {filtering}): this kernel's bridge \
                 cannot ({e})\n"
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sides = [linux, shoal(dir.path(), filtering)];
    std::thread::sleep(Duration::from_millis(300));
    for s in &sides {
        collect(s);
    }
    let mut differ = Vec::new();
    for (k, (port, bytes)) in cases().iter().enumerate() {
        for s in &sides {
            s.socks[*port].send(bytes).expect("send");
        }
        std::thread::sleep(Duration::from_millis(150));
        let got: Vec<_> = sides.iter().map(collect).collect();
        println!("case {}: p{port} in; linux {}", k + 1, show(&got[0]));
        if got[0] != got[1] {
            differ.push(format!(
                "case {} (in on p{port}): {} {}, {} {}",
                k + 1,
                sides[0].name,
                show(&got[0]),
                sides[1].name,
                show(&got[1])
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "shoal differs from Linux:\n{}",
        differ.join("\n")
    );
}
