//! Glue for tests that need the kernel: the library's namespaces (`shoal::netns`), and a skip
//! with a printed reason where the test cannot run.

#![allow(dead_code, unused_imports)]

pub use shoal::netns::{NetNs, run, unique};

/// True (and says why) when the process may not create namespaces, so the test is skipped.
/// The reason goes straight to standard error, past the test harness's capture of
/// `eprintln!`, so a skipped test shows in a plain `cargo test` run and not only in a failing
/// one.
pub fn skip_unless_root(test: &str) -> bool {
    use std::io::Write;
    if shoal::netns::is_root() {
        return false;
    }
    let line = format!("skipping {test}: needs root (network namespaces, veth, XDP)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    true
}

/// Make every frame `ns` sends on `dev` leave on transmit queue `queue` of two (XPS: all
/// CPUs map to it). On a veth, a frame sent on queue q arrives on the peer's receive queue q.
pub fn send_on_queue(ns: &NetNs, dev: &str, queue: u32) {
    let all = all_cpus_mask();
    for q in 0..2 {
        let cpus = if q == queue { all.as_str() } else { "0" };
        let path = format!("/sys/class/net/{dev}/queues/tx-{q}/xps_cpus");
        let out = ns
            .exec(&["sh", "-c", &format!("echo {cpus} > {path}")])
            .expect("sh");
        assert!(out.status.success(), "setting {path}: {out:?}");
    }
}

/// A CPU mask naming every CPU, in the kernel's bitmap format (32-bit hex words, most
/// significant first, comma-separated).
fn all_cpus_mask() -> String {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let words: Vec<String> = (0..n.div_ceil(32))
        .rev()
        .map(|w| {
            let bits = (n - w * 32).min(32);
            format!("{:08x}", (1u64 << bits) - 1)
        })
        .collect();
    words.join(",")
}

/// Start `shoal` as `cmd` says (its output piped) and wait, at most 30 s, for the line saying
/// the network runs; then keep draining its output on a thread so that it never blocks on a
/// full pipe. Panics with what it printed if it does not start.
pub fn start_shoal(mut cmd: std::process::Command) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shoal run");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>;
    for pipe in [out, Box::new(child.stderr.take().expect("stderr"))] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains("Ctrl-C stops") => break,
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("shoal did not start: {seen:#?}");
            }
        }
    }
    std::thread::spawn(move || while rx.recv().is_ok() {});
    child
}
