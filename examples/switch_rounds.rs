//! Drive the switch rig (`shoal::rig_switch`) for a number of rounds, for instruction counting
//! against `forward_rounds` (the router):
//!
//! ```text
//! cargo build --release --example switch_rounds
//! valgrind --tool=callgrind target/release/examples/switch_rounds 10000 32
//! ```
//!
//! Run it twice with different round counts and divide the difference in instructions by the
//! difference in frames.

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let mut rig = shoal::rig_switch::SwitchRig::new(batch);
    let mut sent = 0;
    for _ in 0..rounds {
        sent += rig.round();
    }
    println!("{rounds} rounds of {batch}: {sent} frames forwarded");
}
