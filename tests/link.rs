//! Shared-memory links: round trips, file validation, permissions, side claims, wakeups, crash
//! recovery with real processes killed by SIGKILL, and the bus's hub semantics.

use shoal::link::{Endpoint, LinkConfig, LinkError, Member, Side};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const SMALL: LinkConfig = LinkConfig {
    slots: 64,
    frame_size: 2048,
};

/// Env var naming the link file a re-run of this binary should flood (see `child_producer`).
const CHILD_ENV: &str = "SHOAL_LINK_TEST_CHILD";
/// Env var: how many frames the child sends before exiting cleanly (absent: forever).
const CHILD_COUNT_ENV: &str = "SHOAL_LINK_TEST_COUNT";
/// Env var naming the bus file a re-run of this binary should join (see `child_bus_member`).
const CHILD_BUS_ENV: &str = "SHOAL_LINK_TEST_BUS";

fn fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x01000193)
    })
}

/// A test frame: stream id, sequence number, a payload whose length and bytes follow from
/// both, and an FNV-1a checksum of everything before it.
fn make_frame(stream: u32, seq: u32, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let len = 16 + (seq.wrapping_mul(2654435761) >> 22) as usize; // 16 ..= 1039
    out.extend((0..len).map(|i| (i as u32 ^ seq ^ stream) as u8));
    let sum = fnv(out);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// (stream, seq) of a complete, intact frame; None for anything torn or corrupt.
fn check_frame(f: &[u8]) -> Option<(u32, u32)> {
    if f.len() < 12 {
        return None;
    }
    let (body, sum) = f.split_at(f.len() - 4);
    if fnv(body).to_le_bytes() != sum {
        return None;
    }
    let stream = u32::from_le_bytes(body[0..4].try_into().ok()?);
    let seq = u32::from_le_bytes(body[4..8].try_into().ok()?);
    let mut again = Vec::new();
    make_frame(stream, seq, &mut again);
    (again == f).then_some((stream, seq))
}

#[test]
fn in_memory_pair_carries_frames_both_ways_in_order() {
    let (mut a, mut b) = Endpoint::pair_in_memory(SMALL).unwrap();
    let mut buf = Vec::new();
    let mut next = 0u32;
    let mut got = 0u32;
    // Far more frames than slots, so the rings wrap many times.
    while got < 10_000 {
        let mut frames = Vec::new();
        for s in next..next + 50 {
            make_frame(7, s, &mut buf);
            frames.push(buf.clone());
        }
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        next += a.send(&refs) as u32;
        while b.recv(|f| {
            assert_eq!(check_frame(f), Some((7, got)));
            got += 1;
        }) > 0
        {}
    }
    assert_eq!(b.send(&[b"pong"]), 1);
    let mut back = Vec::new();
    a.recv(|f| back.push(f.to_vec()));
    assert_eq!(back, vec![b"pong".to_vec()]);
}

#[test]
fn send_never_blocks_and_reports_what_fit() {
    let (mut a, mut b) = Endpoint::pair_in_memory(SMALL).unwrap();
    let frames = vec![&[0u8; 60][..]; 100];
    assert_eq!(a.send(&frames), 64);
    assert_eq!(a.send(&frames), 0);
    assert_eq!(b.recv(|_| {}), 64);
    assert_eq!(a.send(&frames[..10]), 10);
    let big = vec![0u8; 2049];
    assert_eq!(a.send(&[&big]), 1, "an oversize frame is taken and dropped");
    assert_eq!(a.stats().oversize, 1);
    assert_eq!(b.recv(|f| assert_eq!(f.len(), 60)), 10);
}

#[test]
fn file_link_between_two_opens_and_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l0");
    let mut a = Endpoint::open(&path, Side::A, SMALL).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut b = Endpoint::open(&path, Side::Any, SMALL).unwrap();
    assert_eq!(b.side(), Side::B);
    assert_eq!(a.send(&[b"hello"]), 1);
    let mut got = Vec::new();
    b.recv(|f| got.push(f.to_vec()));
    assert_eq!(got, vec![b"hello".to_vec()]);
    assert!(matches!(
        Endpoint::open(&path, Side::A, SMALL),
        Err(LinkError::SideBusy { side: 0, .. })
    ));
    assert!(matches!(
        Endpoint::open(&path, Side::Any, SMALL),
        Err(LinkError::Full { .. })
    ));
    drop(a);
    let again = Endpoint::open(&path, Side::A, SMALL).unwrap();
    assert_eq!(again.generation(), 2, "a re-attach bumps the generation");
}

fn refused(path: &Path, cfg: LinkConfig, needle: &str) {
    let err = Endpoint::open(path, Side::Any, cfg)
        .err()
        .expect("open must fail");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(needle), "{msg} should mention {needle}");
}

#[test]
fn wrong_files_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, vec![0xa5u8; 100_000]).unwrap();
    refused(&garbage, SMALL, "bad magic");

    let short = dir.path().join("short");
    std::fs::write(&short, b"SHOAL").unwrap();
    refused(&short, SMALL, "truncated");

    let good = dir.path().join("good");
    drop(Endpoint::open(&good, Side::A, SMALL).unwrap());
    let cut = dir.path().join("cut");
    std::fs::copy(&good, &cut).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&cut).unwrap();
    f.set_len(20_000).unwrap();
    refused(&cut, SMALL, "truncated");

    refused(
        &good,
        LinkConfig {
            slots: 128,
            frame_size: 2048,
        },
        "128 slots",
    );
    assert!(matches!(
        Member::open(&good, 3, SMALL),
        Err(LinkError::Mismatch { .. })
    ));

    let mut bytes = std::fs::read(&good).unwrap();
    bytes[8] = 99; // version
    let newer = dir.path().join("newer");
    std::fs::write(&newer, &bytes).unwrap();
    refused(&newer, SMALL, "version 99");
}

#[test]
fn sleeping_consumer_wakes_when_a_frame_arrives() {
    let (mut a, mut b) = Endpoint::pair_in_memory(SMALL).unwrap();
    let asleep = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let flag = asleep.clone();
    let consumer = thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        flag.store(true, Ordering::SeqCst);
        while Instant::now() < deadline {
            // A long timeout: only the doorbell can end this wait in time.
            if b.wait(Duration::from_secs(5)) {
                let mut n = 0;
                b.recv(|_| n += 1);
                tx.send(n).unwrap();
                return;
            }
        }
    });
    while !asleep.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(50)); // well past the spin phase: on the futex now
    assert_eq!(a.send(&[b"wake up"]), 1);
    let got = rx.recv_timeout(Duration::from_secs(4));
    assert_eq!(got, Ok(1), "consumer did not wake on the doorbell");
    consumer.join().unwrap();
}

/// Not a test on its own: when re-run with `CHILD_ENV` set, floods side A of that link.
#[test]
fn child_producer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let count: Option<u32> = std::env::var(CHILD_COUNT_ENV)
        .ok()
        .and_then(|c| c.parse().ok());
    let mut ep = Endpoint::open(Path::new(&path), Side::A, SMALL).unwrap();
    let stream = ep.generation();
    let mut frames: Vec<Vec<u8>> = (0..16).map(|_| Vec::new()).collect();
    let mut seq = 0u32;
    while count.is_none_or(|c| seq < c) {
        let n = count.map_or(16, |c| (c - seq).min(16));
        for (i, f) in frames.iter_mut().enumerate().take(n as usize) {
            make_frame(stream, seq + i as u32, f);
        }
        let refs: Vec<&[u8]> = frames[..n as usize].iter().map(|f| f.as_slice()).collect();
        seq += ep.send(&refs) as u32;
    }
}

fn spawn_producer(path: &Path, count: Option<u32>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_producer", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(c) = count {
        cmd.env(CHILD_COUNT_ENV, c.to_string());
    }
    cmd.spawn().unwrap()
}

/// Not a test on its own: when re-run with `CHILD_BUS_ENV` set, joins that bus, says hello and
/// keeps its member block until killed.
#[test]
fn child_bus_member() {
    let Ok(path) = std::env::var(CHILD_BUS_ENV) else {
        return;
    };
    let mut m = Member::open(Path::new(&path), 4, SMALL).unwrap();
    m.send(&[b"hello from the child"]);
    loop {
        thread::sleep(Duration::from_secs(1));
    }
}

/// Kills the child on drop, so a failing assertion does not leave a flooding process behind.
struct Reap(Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the consumer of the crash test has seen.
#[derive(Default)]
struct Seen {
    /// Per stream (one per producer generation): the next sequence number expected.
    expect: std::collections::HashMap<u32, u32>,
    frames: u64,
    torn: u64,
}

fn drain(rx: &mut Endpoint, seen: &mut Seen, until: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !until(seen) && Instant::now() < deadline {
        let n = rx.recv(|f| match check_frame(f) {
            Some((stream, seq)) => {
                seen.frames += 1;
                let e = seen.expect.entry(stream).or_insert(0);
                // Frames read but not acknowledged before a crash may repeat; nothing may be
                // skipped, torn or reordered.
                assert!(seq <= *e, "stream {stream}: got {seq}, expected {e}");
                if seq == *e {
                    *e += 1;
                }
            }
            None => seen.torn += 1,
        });
        if n == 0 {
            rx.wait(Duration::from_millis(10));
        }
    }
}

#[test]
fn producer_killed_mid_write_never_wedges_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash");
    let mut rx = Endpoint::open(&path, Side::B, SMALL).unwrap();
    let mut seen = Seen::default();
    let seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    for round in 0..3u64 {
        let mut child = Reap(spawn_producer(&path, None));
        let started = Instant::now();
        let run_for = Duration::from_millis(20 + (seed.wrapping_mul(round + 7) >> 7) % 60);
        let before = seen.frames;
        drain(&mut rx, &mut seen, |s| {
            started.elapsed() >= run_for && s.frames > before + 1000
        });
        assert!(
            seen.frames > before,
            "round {round}: the producer sent nothing"
        );
        child.0.kill().unwrap(); // SIGKILL, wherever the producer was (usually mid-copy)
        child.0.wait().unwrap(); // reap it: a zombie still answers kill(pid, 0)
    }
    let final_stream = rx.peer_generation() + 1;
    let last = Reap(spawn_producer(&path, Some(20_000)));
    drain(&mut rx, &mut seen, |s| {
        s.expect.get(&final_stream) == Some(&20_000)
    });
    drop(last);
    assert_eq!(seen.torn, 0, "a torn or corrupt frame became visible");
    assert_eq!(
        seen.expect.get(&final_stream),
        Some(&20_000),
        "traffic did not resume after the takeovers: {:?}",
        seen.expect
    );
    assert_eq!(seen.expect.len(), 4, "streams seen: {:?}", seen.expect);
}

#[test]
fn bus_delivers_each_frame_to_every_other_member() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus");
    let mut m: Vec<Member> = (0..3)
        .map(|_| Member::open(&path, 4, SMALL).unwrap())
        .collect();
    assert_eq!(
        m.iter().map(Member::index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    for round in 0..5u8 {
        for (i, member) in m.iter_mut().enumerate() {
            let a = [i as u8, round, 1];
            let b = [i as u8, round, 2];
            assert_eq!(member.send(&[&a, &b]), 2);
        }
        for (i, member) in m.iter_mut().enumerate() {
            let mut got = Vec::new();
            while member.recv(|from, f| got.push((from, f.to_vec()))) > 0 {}
            got.sort();
            let want: Vec<(u32, Vec<u8>)> = (0..3u8)
                .filter(|&j| j as usize != i)
                .flat_map(|j| [(j as u32, vec![j, round, 1]), (j as u32, vec![j, round, 2])])
                .collect();
            assert_eq!(got, want, "member {i} round {round}");
        }
    }
    // A member that leaves frees its block for the next one to join.
    drop(m.remove(1));
    assert_eq!(Member::open(&path, 4, SMALL).unwrap().index(), 1);
}

#[test]
fn bus_reader_that_falls_behind_loses_oldest_frames_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lap");
    let mut a = Member::open(&path, 2, SMALL).unwrap();
    let mut b = Member::open(&path, 2, SMALL).unwrap();
    for i in 0..200u32 {
        a.send(&[&i.to_le_bytes()]);
    }
    let mut got = Vec::new();
    while b.recv(|_, f| got.push(u32::from_le_bytes(f.try_into().unwrap()))) > 0 {}
    assert_eq!(got, (136..200).collect::<Vec<_>>());
    assert_eq!(b.stats().lost, 136);
}

#[test]
fn bus_member_killed_is_reclaimed_by_the_next_joiner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dead");
    let mut me = Member::open(&path, 4, SMALL).unwrap();
    let mut child = Reap(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_bus_member", "--test-threads=1"])
            .env(CHILD_BUS_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut from = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while from.is_none() && Instant::now() < deadline {
        if me.recv(|m, f| {
            assert_eq!(f, b"hello from the child");
            from = Some(m);
        }) == 0
        {
            me.wait(Duration::from_millis(10));
        }
    }
    assert_eq!(from, Some(1), "the child joined as member 1 and said hello");
    // While the child lives, its block is busy: the next joiner gets member 2.
    assert_eq!(Member::open(&path, 4, SMALL).unwrap().index(), 2);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let mut heir = Member::open(&path, 4, SMALL).unwrap();
    assert_eq!(heir.index(), 1, "the dead member's block is taken over");
    assert_eq!(heir.generation(), 2);
    heir.send(&[b"heir"]);
    let mut got = Vec::new();
    me.recv(|m, f| got.push((m, f.to_vec())));
    assert_eq!(got, vec![(1, b"heir".to_vec())]);
}
