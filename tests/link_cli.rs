//! Impaired and captured links through the `shoal` binary, read back by tshark: a ping across
//! an impaired link in the simulator shows its echo requests and replies with their
//! directions, their times shifted by the link's delay, and the frames the link dropped with
//! their reason; `shoal run ... -w - | tshark -r -` streams from the engine. Bad options exit
//! with status 2. Without tshark the capture tests say SKIP (scripts/deps --test installs it).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn shoal(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .output()
        .unwrap()
}

fn tshark_available(test: &str) -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP {test}: tshark is not installed (scripts/deps --test installs it)");
    }
    ok
}

/// A fresh directory for one test, and a generated chain of 2 in it.
fn chain2(test: &str) -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("shoal-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chain.toml");
    let file_s = file.to_str().unwrap().to_owned();
    assert!(
        shoal(&["gen", "chain", "2", "-o", &file_s])
            .status
            .success()
    );
    (dir, file_s)
}

/// One captured packet: interface, direction (tshark's p2p_dir: 1 received, 0 sent), time in
/// ns, ICMP type and sequence number, comment.
#[derive(Debug, Clone)]
struct Packet {
    iface: String,
    inbound: bool,
    ns: u64,
    icmp: Option<(u8, u16)>,
    comment: String,
}

fn read(file: &str) -> Vec<Packet> {
    let out = Command::new("tshark")
        .args(["-r", file, "-T", "fields", "-E", "separator=|"])
        .args(["-e", "frame.interface_name", "-e", "frame.p2p_dir"])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "icmp.type",
            "-e",
            "icmp.seq",
        ])
        .args(["-e", "frame.comment"])
        .stderr(Stdio::null())
        .output()
        .expect("tshark runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let (secs, frac) = f[2].split_once('.').unwrap_or((f[2], "0"));
            let ns = secs.parse::<u64>().unwrap() * 1_000_000_000
                + format!("{frac:0<9}")[..9].parse::<u64>().unwrap();
            // An ICMP error quotes another header: the first type and sequence are the outer.
            let first = |s: &str| s.split(',').next().unwrap_or("").to_owned();
            let icmp = first(f[3]).parse().ok().zip(first(f[4]).parse().ok());
            Packet {
                iface: f[0].to_owned(),
                inbound: f[1] == "1",
                ns,
                icmp,
                comment: f.get(5).copied().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

#[test]
fn a_capture_of_a_ping_across_an_impaired_link_shows_directions_delays_and_drops() {
    if !tshark_available("link_cli capture") {
        return;
    }
    let (dir, topo) = chain2("capture-ping");
    let pcap = dir.join("ping.pcapng");
    let pcap = pcap.to_str().unwrap();
    let out = shoal(&[
        "ping",
        &topo,
        "h1",
        "h2",
        "-c",
        "40",
        "--netem",
        "r1:eth1=delay 10ms loss 30%",
        "--capture",
        "r1:eth1",
        "--capture",
        "r2:eth0",
        "-w",
        pcap,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("capture:"), "{text}");
    let packets = read(pcap);
    let at = |iface: &str, inbound: bool, kind: u8| -> HashMap<u16, &Packet> {
        packets
            .iter()
            .filter(|p| p.iface == iface && p.inbound == inbound && p.comment.is_empty())
            .filter_map(|p| p.icmp.filter(|&(t, _)| t == kind).map(|(_, s)| (s, p)))
            .collect()
    };
    // Echo requests leave r1 on eth1 and reach r2's eth0 10 ms later, to the nanosecond.
    let sent = at("r1:eth1", false, 8);
    let arrived = at("r2:eth0", true, 8);
    assert!(sent.len() == 40 && !arrived.is_empty(), "{packets:#?}");
    for (seq, p) in &arrived {
        assert_eq!(p.ns - sent[seq].ns, 10_000_000, "request {seq}");
    }
    // The requests the link lost are in the capture, outbound, marked with the reason.
    let lost: Vec<&Packet> = packets
        .iter()
        .filter(|p| p.comment.contains("netem-loss") && p.icmp.is_some_and(|(t, _)| t == 8))
        .collect();
    assert_eq!(lost.len(), 40 - arrived.len(), "{packets:#?}");
    assert!(lost.iter().all(|p| p.iface == "r1:eth1" && !p.inbound));
    // Replies come back the other way: sent by r2 on eth0, received by r1 on eth1.
    let replies_out = at("r2:eth0", false, 0);
    let replies_in = at("r1:eth1", true, 0);
    assert_eq!(replies_out.len(), arrived.len());
    assert_eq!(replies_in.len(), arrived.len());
    // ping counts only the replies within its wait (one may come late, after an ARP retry).
    let said = (arrived.len().saturating_sub(1)..=arrived.len())
        .any(|n| text.contains(&format!("40 packets transmitted, {n} received")));
    assert!(said, "{} arrived: {text}", arrived.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shoal_run_streams_a_capture_into_tshark() {
    if !tshark_available("link_cli stream") {
        return;
    }
    let (dir, topo) = chain2("capture-run");
    let mut run = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["run", &topo, "--flow", "h1:h2:200", "--seconds", "1.5"])
        .args([
            "--netem",
            "r1:eth1=delay 5ms",
            "--capture",
            "r2:eth0",
            "-w",
            "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tshark = Command::new("tshark")
        .args([
            "-r",
            "-",
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "udp.dstport",
        ])
        .stdin(run.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let report = run.wait_with_output().unwrap();
    let got = tshark.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&report.stderr);
    assert!(report.status.success(), "{err}");
    // The run's own output went to stderr; stdout carried only the capture.
    assert!(err.contains("capture:") && err.contains("r1:eth1"), "{err}");
    let text = String::from_utf8_lossy(&got.stdout);
    let flow = text.lines().filter(|l| *l == "r2:eth0\t5001").count();
    assert!(flow > 100, "{flow} flow datagrams captured:\n{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_link_options_are_refused_with_status_2() {
    let (dir, topo) = chain2("link-options");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--netem", "r1:eth1=delay 10xs"],
            "--netem r1:eth1=delay 10xs",
        ),
        (&["--netem", "r1:eth1"], "expected LINK=SPEC"),
        (&["--netem", "r9:eth1=delay 1ms"], "no node named \"r9\""),
        (
            &["--netem", "r1:eth0,r2:eth1=delay 1ms"],
            "not two ends of one link",
        ),
        (&["--capture", "r1:eth1"], "--capture needs -w"),
        (&["-w", "/dev/null"], "say what to capture"),
        (
            &["--capture", "r1:eth9", "-w", "/dev/null"],
            "has no interface \"eth9\"",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["ping", &topo, "h1", "h2", "-c", "1"];
        all.extend_from_slice(args);
        let out = shoal(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // In a file, a bad spec names the file, the line and the key.
    let mut text = std::fs::read_to_string(&topo).unwrap();
    text = text.replacen(
        "ends = [\"r1:eth1\", \"r2:eth0\"]",
        "ends = [\"r1:eth1\", \"r2:eth0\"]\nnetem = \"loss 120%\"",
        1,
    );
    let bad = dir.join("bad.toml");
    std::fs::File::create(&bad)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = shoal(&["ping", bad.to_str().unwrap(), "h1", "h2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml:") && err.contains("link.netem"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
