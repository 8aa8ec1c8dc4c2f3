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
