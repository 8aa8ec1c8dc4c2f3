//! Impaired links in the simulator: exact timings (delay, rate, the departure formula),
//! replayable random choices, drops counted by reason on the link, links that balance, and
//! the statistics of loss and delay against their models — all on the virtual clock, with
//! fixed seeds, so every run is the same.

use core::time::Duration;
use std::net::Ipv4Addr;

use shoal::fabric::LinkDrop;
use shoal::router::{IfaceId, SendOptions};
use shoal::shape::Netem;
use shoal::sim::{NodeId, PingReply, Sim};
use shoal::time::Instant;
use shoal::topo::Topology;

/// h1 ─ r1 ─ r2 ─ h2, the middle link given `middle` (TOML keys of a `[[link]]`), `settings`
/// added to `[settings]`.
fn chain2(settings: &str, middle: &str) -> Topology {
    let text = format!(
        r#"
[settings]
routes = "auto"
{settings}

[[router]]
name = "r1"
iface = [{{ name = "eth0", addr = "10.0.1.1/24" }}, {{ name = "eth1", addr = "10.0.12.1/30" }}]
[[router]]
name = "r2"
iface = [{{ name = "eth0", addr = "10.0.12.2/30" }}, {{ name = "eth1", addr = "10.0.2.1/24" }}]
[[host]]
name = "h1"
iface = {{ name = "eth0", addr = "10.0.1.2/24" }}
gateway = "10.0.1.1"
[[host]]
name = "h2"
iface = {{ name = "eth0", addr = "10.0.2.2/24" }}
gateway = "10.0.2.1"

[[link]]
ends = ["h1:eth0", "r1:eth0"]
[[link]]
ends = ["r1:eth1", "r2:eth0"]
{middle}
[[link]]
ends = ["r2:eth1", "h2:eth0"]
"#
    );
    Topology::parse("chain2.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

const H2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

fn ping(sim: &mut Sim, from: NodeId, seq: u16) -> PingReply {
    let opts = SendOptions::default();
    sim.ping(from, H2, seq, 56, opts, Duration::from_secs(1))
        .unwrap()
}

#[test]
fn a_ping_across_a_delayed_link_takes_twice_its_delay_plus_the_other_links() {
    let t = chain2("delay_us = 100", r#"netem = "delay 10ms""#);
    let mut sim = t.build_sim().unwrap();
    let h1 = sim.node("h1").unwrap();
    // The first ping waits for ARP on every link; the rest see only the links' delays:
    // 2 × (10 ms + 2 × 100 µs).
    let _ = ping(&mut sim, h1, 1);
    for seq in 2..=5 {
        match ping(&mut sim, h1, seq) {
            PingReply::Echo { rtt, .. } => assert_eq!(rtt, Duration::from_micros(20_400)),
            other => panic!("seq {seq}: {other:?}"),
        }
    }
}

/// a ─ b with `netem` on a's side and no delay back: what b's application receives, and when.
fn pair(netem: &str) -> (Sim, NodeId, NodeId) {
    let text = format!(
        r#"
[settings]
delay_us = 0
seed = 7
[[host]]
name = "a"
iface = {{ name = "eth0", addr = "10.9.0.1/24", netem = "{netem}" }}
[[host]]
name = "b"
iface = {{ name = "eth0", addr = "10.9.0.2/24" }}
[[link]]
ends = ["a:eth0", "b:eth0"]
"#
    );
    let t = Topology::parse("pair.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = t.build_sim().unwrap();
    let (a, b) = (sim.node("a").unwrap(), sim.node("b").unwrap());
    sim.router_mut(b).listen_udp(9);
    // Resolve ARP first, then let the link drain.
    let b_addr = "10.9.0.2".parse().unwrap();
    let _ = sim.ping(
        a,
        b_addr,
        1,
        8,
        SendOptions::default(),
        Duration::from_secs(5),
    );
    sim.run_for(Duration::from_secs(2));
    let _ = sim.take_inbox(a);
    let _ = sim.take_inbox(b);
    (sim, a, b)
}

/// Send a datagram carrying `seq` from a to b's port 9 with `payload` bytes at the current time.
fn send(sim: &mut Sim, a: NodeId, seq: u32, payload: usize) {
    let mut data = vec![0u8; payload.max(4)];
    data[..4].copy_from_slice(&seq.to_be_bytes());
    let dst = "10.9.0.2".parse().unwrap();
    sim.send_udp(a, dst, (9, 9), &data, SendOptions::default())
        .unwrap();
}

/// The sequence numbers b received and when, in arrival order.
fn arrivals(sim: &mut Sim, b: NodeId) -> Vec<(u32, Instant, usize)> {
    const HEADERS: usize = 14 + 20 + 8;
    sim.take_inbox(b)
        .into_iter()
        .filter_map(|d| {
            let p = d.bytes.get(HEADERS..HEADERS + 4)?;
            Some((
                u32::from_be_bytes([p[0], p[1], p[2], p[3]]),
                d.at,
                d.bytes.len(),
            ))
        })
        .collect()
}

#[test]
fn rate_and_delay_follow_the_departure_formula_to_the_nanosecond() {
    let (mut sim, a, b) = pair("rate 1mbit delay 5ms");
    // Bursts and gaps: frames sent at once queue behind each other; a gap longer than the
    // queue lets the link go idle.
    let sizes = [18, 100, 1400, 60, 500, 18, 1000, 300];
    let mut sent = Vec::new();
    let mut seq = 0u32;
    for (round, gap) in [0u64, 3_000_000, 40_000_000, 250_000].iter().enumerate() {
        sim.run_for(Duration::from_nanos(*gap));
        for &size in &sizes[round * 2..round * 2 + 2] {
            seq += 1;
            sent.push((seq, sim.now(), size));
            send(&mut sim, a, seq, size);
        }
    }
    sim.run_for(Duration::from_secs(1));
    let got = arrivals(&mut sim, b);
    assert_eq!(got.len(), sent.len());
    // 1 Mbit/s: 8000 ns per byte of the Ethernet frame (no FCS), then 5 ms on the wire.
    let delay = 5_000_000;
    let mut prev_departure = 0u64;
    for ((seq, at, len), (want_seq, sent_at, _)) in got.into_iter().zip(sent) {
        assert_eq!(seq, want_seq, "frames stay in order on a rated link");
        let serialization = len as u64 * 8_000;
        let departure = sent_at.as_nanos().max(prev_departure) + serialization;
        assert_eq!(
            at.as_nanos(),
            departure + delay,
            "frame {seq} of {len} bytes"
        );
        prev_departure = departure;
    }
}

/// Which of `n` pings from h1 to h2 were answered, over a middle link of `netem`.
fn answered(seed: u64, netem: &str, n: u16) -> (Vec<bool>, Sim) {
    let t = chain2(&format!("seed = {seed}"), &format!(r#"netem = "{netem}""#));
    let mut sim = t.build_sim().unwrap();
    let h1 = sim.node("h1").unwrap();
    // Resolve ARP across a perfect link first.
    let end = (sim.node("r1").unwrap(), IfaceId(1));
    let wanted: Netem = netem.parse().unwrap();
    let (r2, back) = (sim.node("r2").unwrap(), IfaceId(0));
    sim.impair(end, &Netem::delay(Duration::from_micros(100)));
    sim.impair((r2, back), &Netem::delay(Duration::from_micros(100)));
    let _ = ping(&mut sim, h1, 0);
    sim.impair(end, &wanted);
    sim.impair((r2, back), &wanted);
    let replies = (1..=n)
        .map(|seq| matches!(ping(&mut sim, h1, seq), PingReply::Echo { .. }))
        .collect();
    (replies, sim)
}

#[test]
fn the_same_seed_loses_the_same_frames_and_another_seed_others() {
    let (a, _) = answered(7, "loss 30%", 200);
    let (b, _) = answered(7, "loss 30%", 200);
    let (c, _) = answered(8, "loss 30%", 200);
    assert_eq!(a, b, "a run replays with its seed");
    assert_ne!(a, c, "another seed makes other choices");
    let lost = a.iter().filter(|&&x| !x).count();
    assert!(
        (50..=140).contains(&lost),
        "lost {lost} of 200 at 30% each way"
    );
}

#[test]
fn impairment_drops_are_counted_by_reason_and_every_link_balances() {
    let (replies, sim) = answered(3, "loss 25% duplicate 10% corrupt 5%", 400);
    let lost = replies.iter().filter(|&&x| !x).count() as u64;
    let links = sim.links();
    assert_eq!(links.len(), 3);
    for l in &links {
        assert_eq!(l.imbalance(), 0, "{} does not balance: {l:#?}", l.name());
    }
    let middle = &links[1];
    assert_eq!(middle.name(), "r1:eth1 — r2:eth0");
    let dropped: u64 = middle
        .ends
        .iter()
        .map(|e| e.counters.dropped(LinkDrop::NetemLoss))
        .sum();
    let made: u64 = middle.ends.iter().map(|e| e.counters.made).sum();
    let corrupted: u64 = middle.ends.iter().map(|e| e.counters.corrupted).sum();
    assert!(dropped > 0 && made > 0 && corrupted > 0, "{middle:#?}");
    // A ping is lost when its request or its reply is (duplicates can save one, a corrupted
    // frame fails its checksum at the router): every lost ping has a counted cause.
    assert!(
        dropped + corrupted >= lost,
        "{lost} lost, {dropped} dropped: {middle:#?}"
    );
    let netem = middle.ends[0].netem.as_deref().unwrap_or_default();
    assert!(netem.contains("loss") && middle.ends[0].impaired, "{netem}");
}

/// Send `n` datagrams a → b, one every `every`, and return, per datagram, whether it arrived
/// and its one-way delay.
fn one_way(netem: &str, n: u32, every: Duration) -> Vec<Option<Duration>> {
    let (mut sim, a, b) = pair(netem);
    let mut sent = Vec::with_capacity(n as usize);
    for seq in 0..n {
        sent.push(sim.now());
        send(&mut sim, a, seq, 18);
        sim.run_for(every);
    }
    sim.run_for(Duration::from_secs(2));
    let mut delays = vec![None; n as usize];
    for (seq, at, _) in arrivals(&mut sim, b) {
        delays[seq as usize] = Some(at - sent[seq as usize]);
    }
    delays
}

#[test]
fn random_loss_in_the_simulator_is_within_three_sigma_of_its_rate() {
    let n = 20_000;
    let got = one_way("loss 10%", n, Duration::from_micros(100));
    let lost = got.iter().filter(|d| d.is_none()).count() as f64;
    let (p, nf) = (0.1, f64::from(n));
    let sigma = (nf * p * (1.0 - p)).sqrt();
    assert!(
        (lost - nf * p).abs() <= 3.0 * sigma,
        "lost {lost}, expected {} ± {}",
        nf * p,
        3.0 * sigma
    );
}

#[test]
fn gilbert_elliott_losses_come_in_bursts_of_the_model_s_mean_length() {
    // p = 1% into the bad state, r = 20% out of it, all lost while bad: bursts average 1/r.
    let n = 50_000;
    let got = one_way("loss gemodel 1% 20% 100% 0%", n, Duration::from_micros(50));
    let mut bursts = Vec::new();
    let mut run = 0;
    for d in &got {
        match d {
            None => run += 1,
            Some(_) if run > 0 => {
                bursts.push(run);
                run = 0;
            }
            Some(_) => {}
        }
    }
    let mean = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;
    // Burst lengths are geometric with mean 5 and standard deviation sqrt(20)·... : with a few
    // hundred bursts the mean is within 10% of 1/r.
    assert!(bursts.len() > 200, "{} bursts", bursts.len());
    assert!((mean - 5.0).abs() < 0.5, "mean burst {mean}");
    // Stationary loss: p / (p + r) = 1/21.
    let lost = got.iter().filter(|d| d.is_none()).count() as f64 / f64::from(n);
    assert!((lost - 1.0 / 21.0).abs() < 0.01, "lost {lost}");
}

#[test]
fn delays_in_the_simulator_follow_the_configured_distribution() {
    for spec in ["delay 10ms 2ms", "delay 10ms 2ms distribution normal"] {
        let netem: Netem = spec.parse().unwrap();
        let n = 5_000;
        let mut delays: Vec<Duration> = one_way(spec, n, Duration::from_millis(1))
            .into_iter()
            .map(|d| d.expect("no loss configured"))
            .collect();
        delays.sort();
        // Kolmogorov–Smirnov against the spec's CDF; the 1% critical value is 1.63/sqrt(n).
        let nf = f64::from(n);
        let d = delays
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = netem.delay.cdf(x);
                (f - i as f64 / nf)
                    .abs()
                    .max((f - (i + 1) as f64 / nf).abs())
            })
            .fold(0.0, f64::max);
        assert!(d < 1.63 / nf.sqrt(), "{spec}: KS D = {d}");
    }
}

#[test]
fn a_queue_bound_tail_drops_and_counts() {
    let (mut sim, a, b) = pair("rate 1mbit limit 5");
    for seq in 0..20 {
        send(&mut sim, a, seq, 1000);
    }
    sim.run_for(Duration::from_secs(1));
    let got = arrivals(&mut sim, b);
    assert_eq!(got.len(), 5, "the queue holds five frames");
    let end = sim.link_counters((a, IfaceId(0))).unwrap();
    assert_eq!(end.dropped(LinkDrop::NetemLimit), 15);
    assert!(sim.links().iter().all(|l| l.imbalance() == 0));
}

#[test]
fn a_link_taken_down_drops_and_counts_what_is_sent_and_in_flight() {
    let (mut sim, a, b) = pair("delay 1ms");
    send(&mut sim, a, 1, 18);
    sim.set_link_up((a, IfaceId(0)), false);
    send(&mut sim, a, 2, 18);
    sim.run_for(Duration::from_secs(1));
    assert!(arrivals(&mut sim, b).is_empty());
    let end = sim.link_counters((a, IfaceId(0))).unwrap();
    assert_eq!(
        end.dropped(LinkDrop::Down),
        2,
        "one in flight, one sent while down"
    );
    sim.set_link_up((a, IfaceId(0)), true);
    send(&mut sim, a, 3, 18);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(arrivals(&mut sim, b).len(), 1);
    assert!(sim.links().iter().all(|l| l.imbalance() == 0));
}
