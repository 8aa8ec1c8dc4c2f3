//! Cross-process throughput of a point-to-point shared-memory link: this process floods side A
//! of a link file in /dev/shm with 64-byte frames in batches of 32; a child (this program
//! re-run with `--consume`) drains side B and reports frames per second. Run with
//! `cargo run --release --example shm_flood [frames]`.

use anyhow::{Context, Result, bail};
use shoal::link::{Endpoint, LinkConfig, Side, pin_current_thread};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BATCH: usize = 32;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--consume") {
        let path = PathBuf::from(args.get(2).context("path")?);
        let total: u64 = args.get(3).context("count")?.parse()?;
        return consume(&path, total);
    }
    let total: u64 = args.get(1).map_or(Ok(100_000_000), |s| s.parse())?;
    let path = PathBuf::from(format!("/dev/shm/shoal-flood-{}", std::process::id()));
    let result = flood(&path, total);
    let _ = std::fs::remove_file(&path);
    result
}

fn flood(path: &Path, total: u64) -> Result<()> {
    // One core each: unpinned, both processes can land on one vCPU and spin in turn.
    pin_current_thread(0).context("pin producer to cpu 0")?;
    let mut tx = Endpoint::open(path, Side::A, LinkConfig::default())?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--consume")
        .arg(path)
        .arg(total.to_string())
        .spawn()?;
    let frame = [0x5au8; 64];
    let frames = [&frame[..]; BATCH];
    let mut sent = 0u64;
    let start = Instant::now();
    while sent < total {
        let want = ((total - sent) as usize).min(BATCH);
        sent += tx.send(&frames[..want]) as u64;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("consumer failed: {status}");
    }
    let secs = start.elapsed().as_secs_f64();
    println!("producer: {total} frames in {secs:.3} s (incl. consumer start)");
    Ok(())
}

fn consume(path: &Path, total: u64) -> Result<()> {
    pin_current_thread(1).context("pin consumer to cpu 1")?;
    let mut rx = Endpoint::open(path, Side::B, LinkConfig::default())?;
    // Both ends are mapped now; the name is no longer needed, and unlinking it here leaves
    // nothing behind however either process ends.
    let _ = std::fs::remove_file(path);
    let mut got = 0u64;
    let mut sum = 0u64;
    let mut start = None;
    while got < total {
        let n = rx.recv(|f| sum = sum.wrapping_add(u64::from(f[0])));
        if n == 0 {
            rx.wait(Duration::from_millis(100));
            continue;
        }
        start.get_or_insert_with(Instant::now);
        got += n as u64;
    }
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    if sum != got * 0x5a {
        bail!("payload mismatch");
    }
    println!(
        "consumer: {got} frames of 64 B in {secs:.3} s = {:.2} Mpps one way, cross-process",
        got as f64 / secs / 1e6
    );
    Ok(())
}
