//! One-way throughput of a point-to-point shared-memory link between two threads: 64-byte
//! frames sent in batches of 32 on one core, received in place (one byte read per frame, so
//! the consumer really touches the data) on the other. The cross-process figure comes from
//! `examples/shm_flood.rs`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shoal::link::{Endpoint, LinkConfig, pin_current_thread};

const BATCH: usize = 32;

/// The consumer's progress counter on a line of its own, away from anything the producer reads.
#[repr(align(128))]
struct Padded(AtomicU64);

fn one_way(c: &mut Criterion) {
    let mut group = c.benchmark_group("shm");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("p2p_64B_batch32_two_threads", |b| {
        let (mut tx, mut rx) = Endpoint::pair_in_memory(LinkConfig::default()).expect("memfd link");
        let received = Arc::new(Padded(AtomicU64::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let (received, stop) = (received.clone(), stop.clone());
            thread::spawn(move || {
                // One core each: unpinned, both threads can land on one vCPU and spin in turn.
                let _ = pin_current_thread(1);
                let mut sum = 0u64;
                let mut total = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = rx.recv(|f| sum = sum.wrapping_add(u64::from(f[0])));
                    if n > 0 {
                        total += n as u64;
                        received.0.store(total, Ordering::Release);
                    } else {
                        // The idle path a port would take: spin (with pause) before sleeping.
                        rx.wait(Duration::from_millis(1));
                    }
                }
                black_box(sum);
            })
        };
        let _ = pin_current_thread(0);
        let frame = [0x5au8; 64];
        let frames = [&frame[..]; BATCH];
        let mut sent = 0u64;
        b.iter_custom(|iters| {
            let start = Instant::now();
            let target = sent + iters * BATCH as u64;
            while sent < target {
                let want = ((target - sent) as usize).min(BATCH);
                sent += tx.send(&frames[..want]) as u64;
            }
            while received.0.load(Ordering::Acquire) < target {
                std::hint::spin_loop();
            }
            start.elapsed()
        });
        stop.store(true, Ordering::Relaxed);
        consumer.join().expect("consumer thread");
    });
    group.finish();
}

criterion_group!(benches, one_way);
criterion_main!(benches);
