//! Drive the forwarding rig (`shoal::rig`) for a number of rounds, for instruction counting:
//!
//! ```text
//! cargo build --release --example forward_rounds
//! valgrind --tool=callgrind target/release/examples/forward_rounds 10000 32
//! ```
//!
//! Run it twice with different round counts and divide the difference in instructions by the
//! difference in packets to get instructions per packet without the set-up. A third argument
//! puts that many policy rules ahead of `main` (no packet matches them; see
//! `ForwardRig::with_policy`).

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let rules: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut rig = shoal::rig::ForwardRig::with_policy(10, batch, rules, false);
    let mut sent = 0;
    for _ in 0..rounds {
        sent += rig.round();
    }
    println!("{rounds} rounds of {batch}: {sent} frames forwarded");
}
