//! What the hosts saw, made comparable: frames captured at h1 and h2 are attributed to the
//! class whose addresses they carry, fields a router chooses freely (IP identification of
//! what it originates, the clock in timestamps) are masked, checksums are replaced by whether
//! they verify, and each class's frames at each host are compared as sorted lists.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::build;
use super::classes::{Class, H2, ROUTER_ADDRS};
use super::common::netns::NetNs;
use super::common::raw::RawSocket;

/// Frames arriving at one host, collected by a thread until stopped, with when they came.
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<(Instant, Vec<u8>)>>,
}

impl Capture {
    pub fn start(ns: &NetNs, dev: &str) -> std::io::Result<Capture> {
        let socket = RawSocket::open(ns, dev)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut frames = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match socket.recv(Duration::from_millis(50)) {
                    Ok(Some(r)) if r.incoming => frames.push((Instant::now(), r.bytes)),
                    Ok(_) => {}
                    Err(e) => panic!("capture: {e}"),
                }
            }
            // Drain what is already queued.
            while let Ok(Some(r)) = socket.recv(Duration::ZERO) {
                if r.incoming {
                    frames.push((Instant::now(), r.bytes));
                }
            }
            frames
        });
        Ok(Capture { stop, thread })
    }

    pub fn finish(self) -> Vec<Vec<u8>> {
        self.finish_timed().into_iter().map(|(_, f)| f).collect()
    }

    pub fn finish_timed(self) -> Vec<(Instant, Vec<u8>)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("capture thread")
    }
}

fn ip_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(
        <[u8; 4]>::try_from(b.get(at..at + 4)?).ok()?,
    ))
}

/// Where the layer-3 header starts and its EtherType, after any 802.1Q tags.
fn l3(frame: &[u8]) -> Option<(usize, u16)> {
    let mut at = 12;
    loop {
        let t = u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]);
        if t == 0x8100 || t == 0x88a8 {
            at += 4;
        } else {
            return Some((at + 2, t));
        }
    }
}

/// The addresses a frame may be attributed by, most telling first.
fn keys(frame: &[u8]) -> Vec<Ipv4Addr> {
    let mut k = Vec::new();
    let Some((at, ethertype)) = l3(frame) else {
        return k;
    };
    match ethertype {
        0x0800 => {
            let ihl = usize::from(frame.get(at).map_or(0, |b| b & 0x0f)) * 4;
            k.extend(ip_at(frame, at + 16));
            k.extend(ip_at(frame, at + 12));
            // An ICMP error: the datagram it quotes.
            if frame.get(at + 9) == Some(&1) {
                let inner = at + ihl + 8;
                k.extend(ip_at(frame, inner + 12));
                k.extend(ip_at(frame, inner + 16));
            }
        }
        0x0806 => {
            k.extend(ip_at(frame, at + 24));
            k.extend(ip_at(frame, at + 14));
        }
        _ => {}
    }
    k
}

/// Frames as bytes.
pub type Frames = Vec<Vec<u8>>;

/// Frames of each class (by index), and those of none.
pub fn attribute(classes: &[Class], frames: &[Vec<u8>]) -> (BTreeMap<usize, Frames>, Frames) {
    let mut by_ip: HashMap<Ipv4Addr, usize> = HashMap::new();
    let mut by_mac: HashMap<[u8; 6], usize> = HashMap::new();
    for (i, c) in classes.iter().enumerate() {
        for t in &c.tags {
            by_ip.insert(*t, i);
        }
        for m in &c.macs {
            by_mac.insert(*m, i);
        }
    }
    let mut out: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    let mut none = Vec::new();
    for f in frames {
        let mac = f.get(..6).and_then(|m| <[u8; 6]>::try_from(m).ok());
        let class = keys(f)
            .iter()
            .find_map(|a| by_ip.get(a).copied())
            .or_else(|| mac.and_then(|m| by_mac.get(&m).copied()));
        match class {
            Some(i) => out.entry(i).or_default().push(f.clone()),
            None => none.push(f.clone()),
        }
    }
    (out, none)
}

/// Zero the times in a Timestamp option found in the IPv4 header at `h`.
fn mask_timestamps(h: &mut [u8]) {
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let mut i = 20;
    while i < ihl.min(h.len()) {
        match h[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = h.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > ihl.min(h.len()) {
                    break;
                }
                if kind == 68 && len >= 4 {
                    let ptr = usize::from(h[i + 2]);
                    let flags = h[i + 3] & 0x0f;
                    let (step, time_at) = if flags == 0 { (4, 0) } else { (8, 4) };
                    let mut slot = 4;
                    while slot + step <= ptr.saturating_sub(1).min(len) {
                        let t = i + slot + time_at;
                        if t + 4 <= i + len {
                            h[t..t + 4].fill(0);
                        }
                        slot += step;
                    }
                }
                i += len;
            }
        }
    }
}

/// The frame with what a router may choose masked, and the checksums replaced by markers.
pub fn normalise(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    let Some((at, 0x0800)) = l3(&f) else {
        return f;
    };
    if f.len() < at + 20 {
        return f;
    }
    let ihl = usize::from(f[at] & 0x0f) * 4;
    if ihl < 20 || f.len() < at + ihl {
        return f;
    }
    let header_ok = build::checksum(&f[at..at + ihl]) == 0;
    let src = ip_at(&f, at + 12).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let proto = f[at + 9];
    let total = usize::from(u16::from_be_bytes([f[at + 2], f[at + 3]]));
    let originated = ROUTER_ADDRS.contains(&src) || src == H2;
    if originated {
        f[at + 4..at + 6].fill(0);
    }
    f[at + 10..at + 12].fill(0);
    mask_timestamps(&mut f[at..]);
    let mut markers = vec![u8::from(header_ok)];
    let body = at + ihl;
    let end = (at + total).min(f.len());
    let first = u16::from_be_bytes([f[at + 6], f[at + 7]]) & 0x1fff == 0;
    if proto == 1 && first && end >= body + 4 {
        // Only a whole message's checksum can be verified.
        let whole = u16::from_be_bytes([f[at + 6], f[at + 7]]) & 0x2000 == 0;
        let ok = whole && build::checksum(&f[body..end]) == 0;
        markers.push(u8::from(ok) + 2);
        f[body + 2..body + 4].fill(0);
        let kind = f[body];
        if kind == 14 && end >= body + 20 {
            f[body + 12..body + 20].fill(0);
        }
        if matches!(kind, 3 | 4 | 5 | 11 | 12) && end >= body + 8 + 20 {
            let inner = body + 8;
            mask_timestamps(&mut f[inner..end]);
            // A quoted header with options carries the checksum of the times routers
            // stamped (stale, too, where the router quoting it stamped it last, as Linux
            // quotes it): masked with them.
            if f[inner] & 0x0f > 5 {
                f[inner + 10..inner + 12].fill(0);
            }
        }
    }
    f.extend_from_slice(&markers);
    f
}

/// One line describing a frame, for reports.
pub fn describe(frame: &[u8]) -> String {
    let mut s = String::new();
    let Some((at, ethertype)) = l3(frame) else {
        return format!("runt {}", hex(frame));
    };
    let _ = write!(
        s,
        "{} > {} ",
        super::net::mac(frame[6..12].try_into().unwrap_or([0; 6])),
        super::net::mac(frame[..6].try_into().unwrap_or([0; 6]))
    );
    if at > 14 {
        let _ = write!(s, "tagged({}) ", hex(&frame[12..at - 2]));
    }
    match ethertype {
        0x0800 if frame.len() >= at + 20 => {
            let h = &frame[at..];
            let ihl = usize::from(h[0] & 0x0f) * 4;
            let flags = h[6] >> 5;
            let off = (u16::from_be_bytes([h[6], h[7]]) & 0x1fff) * 8;
            let _ = write!(
                s,
                "IPv4 {} > {} tos {:#04x} ttl {} id {:#06x} flags {:03b} off {} len {} proto {}",
                ip_at(h, 12).unwrap_or(Ipv4Addr::UNSPECIFIED),
                ip_at(h, 16).unwrap_or(Ipv4Addr::UNSPECIFIED),
                h[1],
                h[8],
                u16::from_be_bytes([h[4], h[5]]),
                flags,
                off,
                u16::from_be_bytes([h[2], h[3]]),
                h[9],
            );
            if ihl > 20 && h.len() >= ihl {
                let _ = write!(s, " opts {}", hex(&h[20..ihl]));
            }
            if let Some(body) = h.get(ihl..) {
                match h[9] {
                    1 if body.len() >= 4 => {
                        let _ = write!(s, " ICMP {}/{}", body[0], body[1]);
                        if matches!(body[0], 3 | 11 | 12) && body.len() >= 8 {
                            let _ = write!(s, " [{}]", hex(&body[4..8]));
                            if let Some(q) = body.get(8..) {
                                let _ = write!(s, " quoting {} bytes", q.len());
                                if q.len() >= 20 {
                                    let _ = write!(
                                        s,
                                        " ({} > {} len {} ttl {})",
                                        ip_at(q, 12).unwrap_or(Ipv4Addr::UNSPECIFIED),
                                        ip_at(q, 16).unwrap_or(Ipv4Addr::UNSPECIFIED),
                                        u16::from_be_bytes([q[2], q[3]]),
                                        q[8]
                                    );
                                }
                            }
                        }
                    }
                    6 if body.len() >= 14 => {
                        let _ = write!(
                            s,
                            " TCP {} > {} flags {:#04x} seq {} ack {}",
                            u16::from_be_bytes([body[0], body[1]]),
                            u16::from_be_bytes([body[2], body[3]]),
                            body[13],
                            u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                            u32::from_be_bytes([body[8], body[9], body[10], body[11]]),
                        );
                    }
                    17 if body.len() >= 8 => {
                        let _ = write!(
                            s,
                            " UDP {} > {}",
                            u16::from_be_bytes([body[0], body[1]]),
                            u16::from_be_bytes([body[2], body[3]])
                        );
                    }
                    _ => {}
                }
            }
        }
        0x0806 if frame.len() >= at + 28 => {
            let a = &frame[at..];
            let _ = write!(
                s,
                "ARP op {} {} ({}) asks/tells {} ({})",
                u16::from_be_bytes([a[6], a[7]]),
                ip_at(a, 14).unwrap_or(Ipv4Addr::UNSPECIFIED),
                super::net::mac(a[8..14].try_into().unwrap_or([0; 6])),
                ip_at(a, 24).unwrap_or(Ipv4Addr::UNSPECIFIED),
                super::net::mac(a[18..24].try_into().unwrap_or([0; 6])),
            );
        }
        t => {
            let _ = write!(s, "type {t:#06x} {} bytes", frame.len());
        }
    }
    let _ = write!(s, " ({} bytes)", frame.len());
    s
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The frames one class caused at one host, normalised and sorted.
pub fn canonical(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = frames.iter().map(|f| normalise(f)).collect();
    v.sort();
    v
}

/// Where the lists differ, line by line: frames only Linux sent, frames only shoal sent.
pub fn diff(linux: &[Vec<u8>], shoal: &[Vec<u8>], raw_l: &[Vec<u8>], raw_s: &[Vec<u8>]) -> String {
    let mut out = String::new();
    let find = |raw: &[Vec<u8>], n: &[u8]| {
        raw.iter()
            .find(|r| normalise(r) == n)
            .map(|r| describe(r))
            .unwrap_or_default()
    };
    let mut s_left: Vec<&Vec<u8>> = shoal.iter().collect();
    for l in linux {
        if let Some(i) = s_left.iter().position(|s| *s == l) {
            s_left.remove(i);
        } else {
            let _ = writeln!(out, "      only linux: {}", find(raw_l, l));
        }
    }
    for s in s_left {
        let _ = writeln!(out, "      only shoal: {}", find(raw_s, s));
    }
    out
}
