//! pcapng captures read back by tshark: interface names, directions, nanosecond timestamps,
//! drop comments and drop counts; a capture streamed live into `tshark -r -` through a pipe; a
//! pipe whose reader exits mid-capture; and a warm `Tap::record` that allocates nothing. The
//! tshark tests skip with a message when tshark is missing (scripts/deps installs it).

use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use etherparse::PacketBuilder;
use shoal::capture::{Capture, Direction, OutputFailed, Tap};

/// 2023-11-14 22:13:20.123456789 UTC: every nanosecond digit must survive the round trip.
const T0: u64 = 1_700_000_000_123_456_789;

/// An Ethernet/IPv4/ICMP echo request (type 8) or reply (type 0), built by etherparse.
fn icmp_frame(reply: bool, seq: u16) -> Vec<u8> {
    let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let builder = if reply {
        builder.ipv4(dst, src, 64).icmpv4_echo_reply(7, seq)
    } else {
        builder.ipv4(src, dst, 64).icmpv4_echo_request(7, seq)
    };
    let payload = [0x5Au8; 32];
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder
        .write(&mut frame, &payload)
        .expect("writing to a Vec");
    frame
}

fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIP: tshark is not installed (scripts/deps --test installs it)");
    }
    found
}

/// The fields tshark 4 uses for what shoal writes (checked against tshark 4.0):
/// `frame.interface_name` (if_name); `frame.packet_flags_direction` (epb_flags bits 0-1, printed
/// in hex: 1 inbound, 2 outbound); `frame.p2p_dir` (tshark's own direction, derived from those
/// bits: 1 received, 0 sent); `frame.time_epoch` (nanosecond digits, from if_tsresol = 9);
/// `frame.comment` (opt_comment); `frame.drop_count` (epb_dropcount).
const FIELDS: &[&str] = &[
    "frame.interface_name",
    "frame.packet_flags_direction",
    "frame.p2p_dir",
    "frame.time_epoch",
    "frame.comment",
    "frame.drop_count",
    "icmp.type",
];

/// `tshark -r <input> -T fields ...`, one Vec of field values per packet.
fn tshark_fields(input: &str, stdin: Stdio, stderr: Stdio) -> io::Result<std::process::Child> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-r", input, "-l", "-T", "fields", "-E", "separator=|"]);
    for field in FIELDS {
        cmd.args(["-e", field]);
    }
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
}

/// One tshark output line as fields; the flags word is normalised from hex ("0x00000002" in
/// tshark 4.0) to its value, so the check does not depend on how wide tshark prints it.
fn split(line: &str) -> Vec<String> {
    let mut fields: Vec<String> = line.split('|').map(str::to_owned).collect();
    if let Some(flags) = fields.get_mut(1)
        && let Ok(value) = u32::from_str_radix(flags.trim_start_matches("0x"), 16)
    {
        *flags = value.to_string();
    }
    fields
}

/// Two interfaces, both directions, one frame dropped by an impairment.
fn record_sample(a: &Tap, b: &Tap) {
    assert!(a.record(T0, Direction::Outbound, &icmp_frame(false, 1), None));
    assert!(b.record(T0 + 1_000, Direction::Inbound, &icmp_frame(false, 1), None));
    assert!(b.record(T0 + 2_000, Direction::Outbound, &icmp_frame(true, 1), None));
    assert!(a.record(
        T0 + 3_000,
        Direction::Inbound,
        &icmp_frame(true, 1),
        Some("netem-loss")
    ));
}

/// What tshark must print for `record_sample`.
fn check_sample(rows: &[Vec<String>]) {
    let expected = [
        ["r1:eth0", "2", "0", "1700000000.123456789", "", "", "8"],
        ["r2:eth1", "1", "1", "1700000000.123457789", "", "", "8"],
        ["r2:eth1", "2", "0", "1700000000.123458789", "", "", "0"],
        [
            "r1:eth0",
            "1",
            "1",
            "1700000000.123459789",
            "dropped: netem-loss",
            "1",
            "0",
        ],
    ];
    assert_eq!(rows.len(), expected.len(), "packets read back: {rows:?}");
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(row, &want, "tshark row");
    }
}

#[test]
fn tshark_reads_a_capture_file() {
    if !tshark_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sample.pcapng");
    let file = std::fs::File::create(&path).expect("create capture file");
    let mut cap = Capture::new(Box::new(file), 16).expect("capture");
    let a = cap.tap("r1:eth0").expect("tap");
    let b = cap.tap("r2:eth1").expect("tap");
    record_sample(&a, &b);
    assert_eq!(cap.drain().expect("drain"), 4);
    let totals = cap.finish().expect("finish");
    assert_eq!((totals.written, totals.dropped_copies), (4, 0));

    let out = tshark_fields(
        path.to_str().expect("UTF-8 path"),
        Stdio::null(),
        Stdio::piped(),
    )
    .expect("run tshark")
    .wait_with_output()
    .expect("tshark output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<String>> = stdout.lines().map(split).collect();
    check_sample(&rows);
    check_capinfos(&path);
}

/// capinfos (shipped with tshark) sees both interfaces, their packets and one statistics block
/// each. (It does not print the statistics' values; the unit tests check their bytes.)
fn check_capinfos(path: &Path) {
    let Ok(out) = Command::new("capinfos").arg(path).output() else {
        eprintln!("capinfos not found; statistics blocks not checked");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "capinfos: {text}");
    assert!(text.contains("Capture application: shoal "), "{text}");
    assert!(text.contains("Number of packets:   4"), "{text}");
    for name in ["r1:eth0", "r2:eth1"] {
        assert!(text.contains(&format!("Name = {name}")), "{text}");
    }
    assert_eq!(
        text.matches("Number of stat entries = 1").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("Time precision = nanoseconds (9)").count(),
        2,
        "{text}"
    );
}

#[test]
fn tshark_reads_a_live_capture_from_a_pipe() {
    if !tshark_available() {
        return;
    }
    // stderr is not read while tshark runs, so it must not be a pipe that could fill.
    let mut tshark = tshark_fields("-", Stdio::piped(), Stdio::null()).expect("run tshark -r -");
    let stdin = tshark.stdin.take().expect("piped stdin");
    let stdout = tshark.stdout.take().expect("piped stdout");
    let mut cap = Capture::new(Box::new(stdin), 16).expect("capture");
    let a = cap.tap("r1:eth0").expect("tap");
    let b = cap.tap("r2:eth1").expect("tap");
    let running = cap.spawn().expect("capture thread");

    // tshark prints each packet as it reads it (-l); lines come through a channel so the test
    // can wait for them while the capture is still running.
    let (lines_tx, lines) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait = Duration::from_secs(60);

    // Live: the first packet reaches tshark while the capture runs (the idle flush), long
    // before stop would flush it.
    assert!(a.record(T0, Direction::Outbound, &icmp_frame(false, 1), None));
    let first = lines
        .recv_timeout(wait)
        .expect("tshark saw the packet live");
    assert_eq!(
        split(&first)[..4],
        ["r1:eth0", "2", "0", "1700000000.123456789"]
    );

    assert!(b.record(T0 + 1_000, Direction::Inbound, &icmp_frame(false, 1), None));
    assert!(b.record(T0 + 2_000, Direction::Outbound, &icmp_frame(true, 1), None));
    assert!(a.record(
        T0 + 3_000,
        Direction::Inbound,
        &icmp_frame(true, 1),
        Some("netem-loss")
    ));
    let totals = running.stop().expect("stop");
    assert_eq!((totals.written, totals.dropped_copies), (4, 0));
    // stop closed the pipe: tshark reads to the end and exits.
    let mut rows = vec![split(&first)];
    rows.extend(lines.iter().map(|l| split(&l)));
    reader.join().expect("reader thread");
    let status = tshark.wait().expect("tshark exit");
    assert!(status.success(), "tshark exit {status}");
    check_sample(&rows);
}

#[test]
fn a_reader_that_exits_stops_the_capture_not_the_producers() {
    // `head -c 100` reads the first 100 octets, then exits like a tshark closed by its user.
    let Ok(mut head) = Command::new("head")
        .args(["-c", "100"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
    else {
        eprintln!("SKIP: head is not available");
        return;
    };
    let stdin = head.stdin.take().expect("piped stdin");
    let mut cap = Capture::new(Box::new(stdin), 64).expect("capture");
    let tap = cap.tap("r1:eth0").expect("tap");
    let running = cap.spawn().expect("capture thread");
    let frame = icmp_frame(false, 1);
    let mut recorded = 0u64;
    // Producers go on regardless; once the capture has met the closed pipe it drops copies.
    while tap.dropped_copies() == 0 || recorded < 10_000 {
        tap.record(T0 + recorded, Direction::Inbound, &frame, None);
        recorded += 1;
        if recorded.is_multiple_of(256) {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(recorded < 10_000_000, "the closed pipe was never noticed");
    }
    head.wait().expect("head exit");
    let err = running.stop().expect_err("the closed pipe is reported");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    let failed = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<OutputFailed>())
        .expect("totals come with the error");
    assert_eq!(
        failed.totals.written + failed.totals.dropped_copies,
        recorded
    );
    // Dropped by the taps once closed, plus copies queued but discarded after the failure.
    assert!(failed.totals.dropped_copies >= tap.dropped_copies());
}

// --- allocation check ------------------------------------------------------------------------

#[path = "common/counting.rs"]
mod counting;

#[test]
fn warm_record_allocates_nothing() {
    let mut cap = Capture::new(Box::new(io::sink()), 32).expect("capture");
    let tap = cap.tap("r1:eth0").expect("tap");
    let frame = icmp_frame(false, 1);
    // Warm up: every buffer holds a frame once.
    for i in 0..32 {
        assert!(tap.record(i, Direction::Inbound, &frame, None));
    }
    cap.drain().expect("drain");
    let mut allocations = 0;
    for round in 0..100 {
        // 40 > 32: the last 8 find the queue full and are dropped, which allocates nothing too.
        let ((), n) = counting::allocations_in(|| {
            for i in 0..40 {
                tap.record(
                    round * 40 + i,
                    Direction::Outbound,
                    &frame,
                    Some("queue-full"),
                );
            }
        });
        allocations += n;
        cap.drain().expect("drain");
    }
    assert_eq!(tap.dropped_copies(), 800);
    assert_eq!(allocations, 0, "allocations in record");
}
