//! ICMP rate limits under floods: h1 floods r1 with TTL-1 datagrams from 1, 16, 64 and 4,096
//! sources, and counts the time-exceeded messages that come back — the per-destination limit
//! (six, then one a second per source) and the instance's (about 1,000 a second) — while a
//! newcomer source probes ten times a second through the second half.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::build::{self, Ip};
use super::classes::to_r1;
use super::common::raw::RawSocket;
use super::compare::Capture;
use super::net::Net;

/// One flood: how many sources, how many datagrams a second in all.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    pub sources: u32,
    pub pps: u32,
}

pub const FLOODS: [Flood; 4] = [
    Flood {
        sources: 1,
        pps: 2_000,
    },
    Flood {
        sources: 16,
        pps: 2_000,
    },
    Flood {
        sources: 64,
        pps: 4_000,
    },
    Flood {
        sources: 4_096,
        pps: 20_000,
    },
];

/// How long each flood lasts.
pub const SECONDS: u64 = 4;

/// What came back.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Datagrams sent.
    pub sent: usize,
    /// Time exceeded messages, all told.
    pub answered: usize,
    /// Of those, in the first second.
    pub first_second: usize,
    /// Per second after the first.
    pub steady: f64,
    /// Answers the newcomer got, of the probes it sent.
    pub newcomer: (usize, usize),
}

fn source(flood_index: usize, i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 16 * (flood_index as u8 + 1), 0)) + i)
}

fn probe(src: Ipv4Addr, port: u16) -> Vec<u8> {
    let dst = Ipv4Addr::new(10, 200, 200, 1);
    let mut ip = Ip::new(src, dst, 17, build::udp(src, dst, 40000, port, b"flood"));
    ip.ttl = 1;
    to_r1(&ip.bytes())
}

/// Flood `net`'s r1 as `flood` says (the `index`th flood: its sources are its own).
pub fn run(net: &Net, index: usize, flood: Flood) -> Measured {
    let capture = Capture::start(&net.h1, "eth0").expect("capture at h1");
    let sender = RawSocket::open(&net.h1, "eth0").expect("raw socket at h1");
    let sources: Vec<Ipv4Addr> = (0..flood.sources).map(|i| source(index, i)).collect();
    let frames: Vec<Vec<u8>> = sources
        .iter()
        .enumerate()
        .map(|(i, &s)| probe(s, 33434 + (i % 1000) as u16))
        .collect();
    let newcomer = Ipv4Addr::new(10, 100, 127, 1 + index as u8);
    let newcomer_frame = probe(newcomer, 40000);
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let total = Duration::from_secs(SECONDS);
    let (mut sent, mut probes) = (0usize, 0usize);
    loop {
        let t = start.elapsed();
        if t >= total {
            break;
        }
        let due = (t.as_secs_f64() * f64::from(flood.pps)) as usize;
        while sent < due {
            let _ = sender.send(&frames[sent % frames.len()]);
            sent += 1;
        }
        let probes_due = t
            .checked_sub(total / 2)
            .map_or(0, |d| (d.as_millis() / 100 + 1) as usize);
        while probes < probes_due {
            let _ = sender.send(&newcomer_frame);
            probes += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    std::thread::sleep(Duration::from_millis(300));
    let seen = capture.finish_timed();
    let flooders: HashSet<Ipv4Addr> = sources.iter().copied().collect();
    let mut m = Measured {
        sent,
        answered: 0,
        first_second: 0,
        steady: 0.0,
        newcomer: (0, probes),
    };
    let mut later = 0;
    for (at, f) in &seen {
        // IPv4, ICMP time exceeded, to one of ours.
        if f.len() < 14 + 28 || f[12..14] != [8, 0] || f[23] != 1 || f[34] != 11 {
            continue;
        }
        let dst = Ipv4Addr::new(f[30], f[31], f[32], f[33]);
        if dst == newcomer {
            m.newcomer.0 += 1;
        } else if flooders.contains(&dst) {
            m.answered += 1;
            if at.saturating_duration_since(start) < Duration::from_secs(1) {
                m.first_second += 1;
            } else {
                later += 1;
            }
        }
    }
    m.steady = later as f64 / (SECONDS - 1) as f64;
    m
}
