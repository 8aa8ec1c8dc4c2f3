//! The frame classes: what h1 puts on the wire towards r1, grouped into classes that each test
//! one behaviour. Every class has addresses of its own (tags: a source in 10.100/16 routed back
//! to h1, a destination in 10.200/16 routed on to h2, or an address on h1's subnet for ARP), so
//! whatever the routers send because of it — at h1 or at h2, seconds later — is attributed to
//! it, and classes need not wait for each other. What varies with the seed: payload bytes and
//! lengths, the fields and bytes a malformed header gets, fragment sizes and orders.

use std::net::Ipv4Addr;

use super::build::{self, ACK, Arp, DF, EVIL, FIN, Ip, MF, Mac, PSH, RST, SYN, eth};

pub const H1_MAC: Mac = [0x02, 0x10, 0, 0, 0, 0x02];
pub const H2_MAC: Mac = [0x02, 0x20, 0, 0, 0, 0x02];
/// r1 on h1's link, r1 and r2 on their link, r2 on h2's link.
pub const R1A_MAC: Mac = [0x02, 0x5a, 0, 0, 0, 0x01];
pub const R1M_MAC: Mac = [0x02, 0x5a, 0, 0, 0, 0x03];
pub const R2M_MAC: Mac = [0x02, 0x5a, 0, 0, 0, 0x04];
pub const R2B_MAC: Mac = [0x02, 0x5a, 0, 0, 0, 0x02];

pub const H1: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
pub const H2: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);
pub const R1A: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
pub const R1M: Ipv4Addr = Ipv4Addr::new(10, 12, 0, 1);
pub const R2M: Ipv4Addr = Ipv4Addr::new(10, 12, 0, 2);
pub const R2B: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
/// MTU of the link between the routers; the hosts' links have 1500.
pub const MID_MTU: u16 = 1280;

/// Every router address, near and far: answers from them carry identifiers of the router's
/// own choosing, which the comparison masks.
pub const ROUTER_ADDRS: [Ipv4Addr; 4] = [R1A, R1M, R2M, R2B];

/// Routes both chains get (iproute2 syntax), r1's then r2's.
pub const R1_ROUTES: &[&str] = &[
    "10.2.0.0/24 via 10.12.0.2",
    "10.200.0.0/16 via 10.12.0.2",
    "10.76.0.0/14 via 10.12.0.2",
    "10.100.0.0/16 via 10.1.0.2",
    "unreachable 10.66.0.0/16",
    "prohibit 10.67.0.0/16",
    "blackhole 10.68.0.0/16",
];
pub const R2_ROUTES: &[&str] = &[
    "10.1.0.0/24 via 10.12.0.1",
    "10.100.0.0/16 via 10.12.0.1",
    "10.200.0.0/16 via 10.2.0.2",
    "unreachable 10.76.0.0/16",
    "prohibit 10.77.0.0/16",
    "blackhole 10.78.0.0/16",
];

/// A frame to send, after waiting `gap_ms` since the previous one of the class.
#[derive(Debug, Clone)]
pub struct Send {
    pub gap_ms: u64,
    pub frame: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Class {
    pub name: String,
    pub sends: Vec<Send>,
    /// Addresses that identify what this class causes.
    pub tags: Vec<Ipv4Addr>,
    /// Link-layer addresses that do (ARP's senders).
    pub macs: Vec<Mac>,
    /// How long after its last frame the capture must still run (timeouts: ARP, reassembly).
    pub wait_ms: u64,
}

/// xorshift64*: small, seedable, good enough to pick test values.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1) ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Builds the classes, handing out tags.
pub struct Gen {
    pub rng: Rng,
    classes: Vec<Class>,
    next_src: u32,
    next_dst: u32,
    next_lan: u8,
    next_mac: u16,
}

/// The class being built.
pub struct C<'g> {
    g: &'g mut Gen,
    class: Class,
    gap_ms: u64,
}

impl C<'_> {
    /// A fresh source address (10.100/16, routed back to h1).
    pub fn src(&mut self) -> Ipv4Addr {
        self.g.next_src += 1;
        let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + self.g.next_src);
        self.class.tags.push(a);
        a
    }
    /// A fresh destination (10.200/16, routed on to h2, which does not answer it).
    pub fn dst(&mut self) -> Ipv4Addr {
        self.g.next_dst += 1;
        let a = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 200, 0, 0)) + self.g.next_dst);
        self.class.tags.push(a);
        a
    }
    /// A fresh address on h1's subnet that nobody has (for ARP).
    pub fn lan(&mut self) -> Ipv4Addr {
        self.g.next_lan += 1;
        assert!(self.g.next_lan < 150, "out of addresses on h1's subnet");
        let a = Ipv4Addr::new(10, 1, 0, 100 + self.g.next_lan);
        self.class.tags.push(a);
        a
    }
    /// A fresh MAC address for a sender on h1's link that is not h1.
    pub fn mac(&mut self) -> Mac {
        self.g.next_mac += 1;
        let [hi, lo] = self.g.next_mac.to_be_bytes();
        let m = [0x02, 0x10, 0, 1, hi, lo];
        self.class.macs.push(m);
        m
    }
    /// Make `a` identify this class too.
    pub fn tag(&mut self, a: Ipv4Addr) {
        self.class.tags.push(a);
    }
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.g.rng
    }
    /// Wait this long before the next frame.
    pub fn gap(&mut self, ms: u64) {
        self.gap_ms += ms;
    }
    pub fn wait(&mut self, ms: u64) {
        self.class.wait_ms = self.class.wait_ms.max(ms);
    }
    /// Send an Ethernet frame as it is.
    pub fn frame(&mut self, frame: Vec<u8>) {
        self.class.sends.push(Send {
            gap_ms: std::mem::take(&mut self.gap_ms),
            frame,
        });
    }
    /// Send an IPv4 packet to r1's MAC.
    pub fn ip(&mut self, ip: &Ip) {
        self.frame(to_r1(&ip.bytes()));
    }
}

pub fn to_r1(ip: &[u8]) -> Vec<u8> {
    eth(R1A_MAC, H1_MAC, &[], 0x0800, ip)
}

impl Gen {
    fn class(&mut self, name: impl Into<String>, build: impl FnOnce(&mut C<'_>)) {
        let mut c = C {
            class: Class {
                name: name.into(),
                sends: Vec::new(),
                tags: Vec::new(),
                macs: Vec::new(),
                wait_ms: 0,
            },
            gap_ms: 0,
            g: self,
        };
        build(&mut c);
        let class = c.class;
        self.classes.push(class);
    }
}

/// Every class, for this seed.
pub fn all(seed: u64) -> Vec<Class> {
    let mut g = Gen {
        rng: Rng::new(seed),
        classes: Vec::new(),
        next_src: 0,
        next_dst: 0,
        next_lan: 0,
        next_mac: 0,
    };
    // Slow ones first: they wait for timers while the rest runs.
    reassembly_timeouts(&mut g);
    arp_failure(&mut g);
    through(&mut g);
    sizes(&mut g);
    ttl(&mut g);
    header_fields(&mut g);
    options(&mut g);
    special_addresses(&mut g);
    route_kinds(&mut g);
    rate_limits(&mut g);
    to_routers(&mut g);
    tcp_udp_to_routers(&mut g);
    icmp_types(&mut g);
    protocols(&mut g);
    fragments(&mut g);
    ethernet(&mut g);
    arp(&mut g);
    redirects(&mut g);
    g.classes
}

/// A sender on r1's link (h1 itself) sending by r1 to a next hop on that same link: Linux
/// forwards and tells the sender (ICMP host redirect), backing off per sender. The two classes
/// share h1's entry, so they run in this order, well apart.
fn redirects(g: &mut Gen) {
    g.class("redirect/to-a-neighbour-that-never-answers", |c| {
        // Redirected, forwarded, and — no one answering ARP — host unreachable later, under
        // the same sender's limits the first redirect reset.
        let d = c.lan();
        c.gap(300);
        for (i, gap) in [0u64, 10, 10, 100].into_iter().enumerate() {
            c.gap(gap);
            c.ip(&udp_ip(H1, d, 40000, 33434 + i as u16, b"redirect me"));
        }
        c.wait(5_000);
    });
    g.class("redirect/to-a-gateway-on-the-link", |c| {
        // 10.100/16 is routed via h1: r1 sends the packet back to h1 and tells it so.
        let d = c.src();
        c.gap(500);
        c.ip(&udp_ip(H1, d, 40000, 33434, b"redirect me"));
    });
}

fn udp_ip(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Ip {
    Ip::new(src, dst, 17, build::udp(src, dst, sport, dport, data))
}

fn echo_ip(src: Ipv4Addr, dst: Ipv4Addr, seq: u16, data: &[u8]) -> Ip {
    Ip::new(src, dst, 1, build::echo(0x7a11, seq, data))
}

/// A UDP packet of exactly `total` IP bytes.
fn udp_sized(rng: &mut Rng, src: Ipv4Addr, dst: Ipv4Addr, total: usize) -> Ip {
    let data = rng.bytes(total.saturating_sub(28));
    udp_ip(src, dst, 40000, 33434, &data)
}

fn through(g: &mut Gen) {
    g.class("through/udp", |c| {
        let (s, d) = (c.src(), c.dst());
        let n = c.rng().range(0, 64) as usize;
        let data = c.rng().bytes(n);
        c.ip(&udp_ip(s, d, 1234, 5678, &data));
    });
    g.class("through/udp-zero-checksum", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut u = build::udp(s, d, 1, 2, b"zero");
        u[6..8].copy_from_slice(&[0, 0]);
        c.ip(&Ip::new(s, d, 17, u));
    });
    g.class("through/echo", |c| {
        let (s, d) = (c.src(), c.dst());
        c.ip(&echo_ip(s, d, 1, b"through"));
    });
    g.class("through/tcp-syn", |c| {
        let (s, d) = (c.src(), c.dst());
        c.ip(&Ip::new(
            s,
            d,
            6,
            build::tcp(s, d, 40000, 80, 1, 0, SYN, &[]),
        ));
    });
    g.class("through/to-h2", |c| {
        // h2's own kernel answers: port unreachable from h2, back through both routers.
        let s = c.src();
        c.ip(&udp_ip(s, H2, 40000, 33434, b"to h2"));
    });
    g.class("through/echo-to-h2", |c| {
        let s = c.src();
        c.ip(&echo_ip(s, H2, 7, b"to h2"));
    });
    g.class("through/back-to-h1", |c| {
        // In and out of the same interface: Linux forwards and sends a redirect.
        let s = c.src();
        let lan = c.lan();
        c.ip(&udp_ip(s, lan, 1, 2, b"hairpin"));
        c.wait(4000);
    });
    for tos in [0x00u8, 0x03, 0x10, 0xb8, 0xff] {
        g.class(format!("through/tos-{tos:02x}"), |c| {
            let (s, d) = (c.src(), c.dst());
            let mut ip = udp_ip(s, d, 1, 2, b"tos");
            ip.tos = tos;
            c.ip(&ip);
        });
    }
}

fn sizes(g: &mut Gen) {
    // Around the middle link's MTU and the hosts' (a veth takes frames up to MTU + 4).
    let mtu = usize::from(MID_MTU);
    for (total, df) in [
        (mtu - 1, true),
        (mtu, true),
        (mtu + 1, true),
        (mtu + 1, false),
        (mtu + 8, false),
        (1499, true),
        (1500, true),
        (1500, false),
        (1504, false),
        (1504, true),
    ] {
        let df_name = if df { "df" } else { "nodf" };
        g.class(format!("size/udp-{total}-{df_name}"), |c| {
            let (s, d) = (c.src(), c.dst());
            let mut ip = udp_sized(c.rng(), s, d, total);
            if df {
                ip.flags = DF;
            }
            c.ip(&ip);
        });
    }
    g.class("size/random-nodf", |c| {
        let (s, d) = (c.src(), c.dst());
        let total = c.rng().range(29, 1500) as usize;
        let ip = udp_sized(c.rng(), s, d, total);
        c.ip(&ip);
    });
    g.class("size/echo-1400-df-to-r2", |c| {
        let s = c.src();
        let data = c.rng().bytes(1400 - 28);
        let mut ip = echo_ip(s, R2B, 1, &data);
        ip.flags = DF;
        c.ip(&ip);
    });
    g.class("size/frag-needed-quote-576", |c| {
        // The error quotes the datagram cut to keep the error within 576 bytes.
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 1400);
        ip.flags = DF;
        ip.options = vec![1, 1, 1, 0];
        c.ip(&ip);
    });
}

fn ttl(g: &mut Gen) {
    for t in [0u8, 1, 2, 3] {
        g.class(format!("ttl/{t}-through"), |c| {
            let (s, d) = (c.src(), c.dst());
            let mut ip = udp_ip(s, d, 40000, 33434, b"ttl");
            ip.ttl = t;
            c.ip(&ip);
        });
    }
    for (name, dst) in [
        ("r1-near", R1A),
        ("r1-far", R1M),
        ("r2-near", R2M),
        ("r2-far", R2B),
    ] {
        for t in [0u8, 1] {
            g.class(format!("ttl/{t}-to-{name}"), |c| {
                let s = c.src();
                let mut ip = udp_ip(s, dst, 40000, 33434, b"ttl");
                ip.ttl = t;
                c.ip(&ip);
            });
        }
    }
    g.class("ttl/1-echo-through", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = echo_ip(s, d, 1, b"ttl");
        ip.ttl = 1;
        c.ip(&ip);
    });
    g.class("ttl/1-first-fragment", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 200);
        ip.ttl = 1;
        ip.flags = MF;
        c.ip(&ip);
    });
    g.class("ttl/1-later-fragment", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 200);
        ip.ttl = 1;
        ip.frag_off = 800;
        c.ip(&ip);
    });
}

/// Every IPv4 header field out of range, to r1 and through it.
fn header_fields(g: &mut Gen) {
    type Mangle = fn(&mut Ip, &mut Rng);
    let cases: &[(&str, Mangle)] = &[
        ("version-0", |ip, _| ip.version = 0),
        ("version-6", |ip, _| ip.version = 6),
        ("version-random", |ip, r| {
            ip.version = *r.pick(&[1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        }),
        ("ihl-0", |ip, _| ip.ihl = Some(0)),
        ("ihl-4", |ip, _| ip.ihl = Some(4)),
        ("ihl-random-short", |ip, r| {
            ip.ihl = Some(r.range(1, 3) as u8)
        }),
        ("ihl-beyond-total", |ip, _| {
            ip.ihl = Some(6);
            ip.total_len = Some(20);
        }),
        ("ihl-beyond-frame", |ip, _| {
            ip.ihl = Some(15);
            ip.payload.truncate(8);
        }),
        ("total-below-20", |ip, r| {
            ip.total_len = Some(r.range(0, 19) as u16)
        }),
        ("total-below-ihl", |ip, _| {
            ip.options = vec![1, 1, 1, 1];
            ip.total_len = Some(22);
        }),
        ("total-beyond-frame", |ip, r| {
            let n = 20 + ip.payload.len() as u64;
            ip.total_len = Some(r.range(n + 1, n + 400) as u16)
        }),
        ("total-short-of-frame", |ip, _| {
            // Trailing bytes after the datagram (more than Ethernet padding).
            let n = 20 + ip.payload.len();
            ip.total_len = Some(n as u16);
            ip.payload.extend_from_slice(&[0xee; 40]);
        }),
        ("bad-checksum", |ip, r| {
            let good = build::checksum(&ip.header());
            ip.checksum = Some(good ^ (r.range(1, 0xffff) as u16));
        }),
        ("evil-bit", |ip, _| ip.flags = EVIL),
        ("df-and-mf", |ip, _| ip.flags = DF | MF),
        ("all-flags", |ip, _| ip.flags = 0b111),
        ("offset-max", |ip, _| ip.frag_off = 0xfff8),
        ("offset-unaligned-bits", |ip, _| ip.frag_off = 8),
        ("id-random", |ip, r| ip.id = r.next() as u16),
        ("proto-0", |ip, _| ip.proto = 0),
    ];
    for (name, mangle) in cases {
        for to_router in [false, true] {
            let where_ = if to_router { "to-r1" } else { "through" };
            g.class(format!("header/{name}-{where_}"), |c| {
                let s = c.src();
                let d = if to_router { R1A } else { c.dst() };
                let data = c.rng().bytes(24);
                let mut ip = udp_ip(s, d, 40000, 33434, &data);
                // Fields computed from the UDP header must not depend on the mangling.
                mangle(&mut ip, c.rng());
                c.ip(&ip);
            });
        }
    }
    g.class("header/truncated-ip", |c| {
        let (s, d) = (c.src(), c.dst());
        let bytes = udp_ip(s, d, 1, 2, b"x").bytes();
        c.frame(to_r1(&bytes[..12]));
    });
    g.class("header/padding-garbage", |c| {
        // A minimum-size frame whose padding is not zero.
        let (s, d) = (c.src(), c.dst());
        let mut bytes = udp_ip(s, d, 1, 2, b"").bytes();
        bytes.extend_from_slice(&[0xa5; 18]);
        c.frame(to_r1(&bytes));
    });
}

/// Options: every kind well formed and malformed in every way, through r1 and to it.
fn options(g: &mut Gen) {
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("nop-eol".into(), vec![1, 1, 1, 0]),
        ("eol-then-garbage".into(), vec![0, 0x55, 0x66, 0x77]),
        (
            "rr-room-2".into(),
            vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("rr-full".into(), vec![7, 7, 8, 1, 2, 3, 4, 0]),
        ("rr-len-2".into(), vec![7, 2, 0, 0]),
        ("rr-len-1".into(), vec![7, 1, 0, 0]),
        ("rr-len-0".into(), vec![7, 0, 0, 0]),
        ("rr-len-beyond".into(), vec![7, 12, 4, 0, 0, 0, 0, 0]),
        ("rr-ptr-3".into(), vec![7, 7, 3, 0, 0, 0, 0, 0]),
        ("rr-ptr-0".into(), vec![7, 7, 0, 0, 0, 0, 0, 0]),
        (
            "rr-ptr-unaligned".into(),
            vec![7, 11, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "rr-ptr-partial-slot".into(),
            vec![7, 9, 8, 1, 2, 3, 4, 0, 0, 0, 0, 0],
        ),
        ("rr-ptr-beyond".into(), vec![7, 7, 40, 0, 0, 0, 0, 0]),
        (
            "rr-twice".into(),
            vec![7, 7, 4, 0, 0, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0, 0],
        ),
        ("ts-only".into(), vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        (
            "ts-addr".into(),
            vec![68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "ts-prespec-r1".into(),
            [vec![68, 12, 5, 3], R1A.octets().to_vec(), vec![0; 4]].concat(),
        ),
        (
            "ts-prespec-r1-far".into(),
            [vec![68, 12, 5, 3], R1M.octets().to_vec(), vec![0; 4]].concat(),
        ),
        (
            "ts-prespec-other".into(),
            [vec![68, 12, 5, 3], H2.octets().to_vec(), vec![0; 4]].concat(),
        ),
        ("ts-full".into(), vec![68, 8, 9, 0, 0, 0, 0, 0]),
        (
            "ts-full-overflow-15".into(),
            vec![68, 8, 9, 0xf0, 0, 0, 0, 0],
        ),
        (
            "ts-prespec-full".into(),
            vec![68, 12, 13, 0x03, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("ts-len-3".into(), vec![68, 3, 5, 0]),
        ("ts-ptr-4".into(), vec![68, 8, 4, 0, 0, 0, 0, 0]),
        (
            "ts-ptr-partial".into(),
            vec![68, 10, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("ts-addr-no-room".into(), vec![68, 8, 5, 1, 0, 0, 0, 0]),
        (
            "ts-flags-2".into(),
            vec![68, 12, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "ts-flags-15".into(),
            vec![68, 12, 5, 15, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "ts-twice".into(),
            vec![68, 8, 5, 0, 0, 0, 0, 0, 68, 8, 5, 0, 0, 0, 0, 0],
        ),
        (
            "lsrr".into(),
            [vec![131, 7, 4], H2.octets().to_vec(), vec![0]].concat(),
        ),
        (
            "ssrr".into(),
            [vec![137, 7, 4], H2.octets().to_vec(), vec![0]].concat(),
        ),
        ("lsrr-len-2".into(), vec![131, 2, 0, 0]),
        ("lsrr-ptr-3".into(), vec![131, 7, 3, 0, 0, 0, 0, 0]),
        ("ssrr-ptr-0".into(), vec![137, 7, 0, 0, 0, 0, 0, 0]),
        (
            "lsrr-twice".into(),
            vec![131, 7, 4, 10, 2, 0, 2, 131, 7, 4, 10, 2, 0, 2, 0, 0],
        ),
        ("lsrr-exhausted".into(), vec![131, 7, 8, 10, 2, 0, 2, 0]),
        ("ra".into(), vec![148, 4, 0, 0]),
        ("ra-nonzero".into(), vec![148, 4, 1, 2]),
        ("ra-len-3".into(), vec![148, 3, 0, 0]),
        ("sec".into(), vec![130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("sid".into(), vec![136, 4, 0, 1]),
        ("cipso".into(), vec![134, 10, 0, 0, 0, 1, 1, 4, 0, 0, 0, 0]),
        ("cipso-len-2".into(), vec![134, 2, 0, 0]),
        ("unknown-25".into(), vec![25, 4, 0, 0]),
        ("unknown-len-0".into(), vec![25, 0, 0, 0]),
        ("last-byte-kind".into(), vec![1, 1, 1, 7]),
        ("last-two-bytes".into(), vec![1, 1, 7, 2]),
    ];
    // A few random option areas, to find what the list above missed.
    for i in 0..6 {
        let len = (g.rng.range(1, 10) * 4) as usize;
        let mut o = g.rng.bytes(len);
        o[0] = *g.rng.pick(&[7u8, 68, 131, 137, 148, 130, 25, 1]);
        cases.push((format!("random-{i}"), o));
    }
    for (name, opts) in &cases {
        for kind in ["through", "to-r1", "to-r1-echo", "through-ttl-1"] {
            g.class(format!("option/{name}-{kind}"), |c| {
                let s = c.src();
                let data = c.rng().bytes(16);
                let mut ip = match kind {
                    "to-r1" => udp_ip(s, R1A, 40000, 33434, &data),
                    "to-r1-echo" => echo_ip(s, R1A, 1, &data),
                    _ => {
                        let d = c.dst();
                        udp_ip(s, d, 40000, 33434, &data)
                    }
                };
                if kind == "through-ttl-1" {
                    ip.ttl = 1;
                }
                ip.options = opts.clone();
                c.ip(&ip);
            });
        }
    }
}

/// RFC 6890's special-purpose blocks, as source and as destination; the limited broadcast, the
/// routers' own and subnet addresses.
fn special_addresses(g: &mut Gen) {
    let blocks: &[(&str, [u8; 4], u8)] = &[
        ("this-network", [0, 0, 0, 0], 8),
        ("shared", [100, 64, 0, 0], 10),
        ("loopback", [127, 0, 0, 0], 8),
        ("link-local", [169, 254, 0, 0], 16),
        ("private-172", [172, 16, 0, 0], 12),
        ("ietf", [192, 0, 0, 0], 24),
        ("test-net-1", [192, 0, 2, 0], 24),
        ("as112", [192, 31, 196, 0], 24),
        ("amt", [192, 52, 193, 0], 24),
        ("6to4-relay", [192, 88, 99, 0], 24),
        ("private-192", [192, 168, 0, 0], 16),
        ("as112-direct", [192, 175, 48, 0], 24),
        ("benchmark", [198, 18, 0, 0], 15),
        ("test-net-2", [198, 51, 100, 0], 24),
        ("test-net-3", [203, 0, 113, 0], 24),
        ("multicast", [224, 0, 0, 0], 4),
        ("reserved", [240, 0, 0, 0], 4),
    ];
    let mut addrs: Vec<(String, Ipv4Addr)> = Vec::new();
    for &(name, base, len) in blocks {
        let host_bits = 32 - u32::from(len);
        let r = (g.rng.next() as u32) & ((1u32 << host_bits) - 1);
        let a = Ipv4Addr::from(u32::from_be_bytes(base) | r.max(1));
        addrs.push((format!("{name}-{a}"), a));
    }
    for (name, a) in [
        ("zero", Ipv4Addr::UNSPECIFIED),
        ("limited-broadcast", Ipv4Addr::BROADCAST),
        ("all-hosts", Ipv4Addr::new(224, 0, 0, 1)),
        ("r1-near", R1A),
        ("r1-far", R1M),
        ("r2-far", R2B),
        ("h1-subnet-broadcast", Ipv4Addr::new(10, 1, 0, 255)),
        ("h1-subnet-network", Ipv4Addr::new(10, 1, 0, 0)),
        ("mid-broadcast", Ipv4Addr::new(10, 12, 0, 3)),
        ("mid-network", Ipv4Addr::new(10, 12, 0, 0)),
        ("h2-subnet-broadcast", Ipv4Addr::new(10, 2, 0, 255)),
        ("h2-subnet-network", Ipv4Addr::new(10, 2, 0, 0)),
        ("h2", H2),
        ("no-route", Ipv4Addr::new(10, 99, 1, 2)),
    ] {
        addrs.push((name.into(), a));
    }
    for (name, a) in &addrs {
        g.class(format!("address/src-{name}"), |c| {
            let d = c.dst();
            c.ip(&udp_ip(*a, d, 40000, 33434, b"special source"));
        });
        g.class(format!("address/src-{name}-ttl-1"), |c| {
            let d = c.dst();
            let mut ip = udp_ip(*a, d, 40000, 33434, b"special source");
            ip.ttl = 1;
            c.ip(&ip);
        });
        g.class(format!("address/dst-{name}"), |c| {
            let s = c.src();
            c.ip(&udp_ip(s, *a, 40000, 33434, b"special destination"));
        });
        g.class(format!("address/dst-{name}-echo"), |c| {
            let s = c.src();
            c.ip(&echo_ip(s, *a, 1, b"special destination"));
        });
    }
}

/// Unreachable, prohibit, blackhole and missing routes at r1 and at r2, three probes each as
/// traceroute sends them, and eight more.
fn route_kinds(g: &mut Gen) {
    for (name, net) in [
        ("r1-unreachable", [10, 66]),
        ("r1-prohibit", [10, 67]),
        ("r1-blackhole", [10, 68]),
        ("r2-unreachable", [10, 76]),
        ("r2-prohibit", [10, 77]),
        ("r2-blackhole", [10, 78]),
        ("no-route", [10, 99]),
    ] {
        for probes in [3u16, 8] {
            g.class(format!("route/{name}-x{probes}"), |c| {
                let s = c.src();
                let d = Ipv4Addr::new(net[0], net[1], c.rng().range(0, 255) as u8, 9);
                for i in 0..probes {
                    c.ip(&udp_ip(s, d, 40000, 33434 + i, b"route kind"));
                }
            });
        }
    }
    g.class("route/unreachable-then-ttl", |c| {
        // Both limits charge the same per-source bucket.
        let (s, d) = (c.src(), c.dst());
        for i in 0..2 {
            c.ip(&udp_ip(
                s,
                Ipv4Addr::new(10, 66, 0, 1),
                40000,
                33434 + i,
                b"x",
            ));
        }
        for i in 0..6 {
            let mut ip = udp_ip(s, d, 40000, 33440 + i, b"x");
            ip.ttl = 1;
            c.ip(&ip);
        }
    });
}

/// Bursts that reach the per-destination limits; deterministic (no global-limit randomness at
/// these rates).
fn rate_limits(g: &mut Gen) {
    g.class("rate/ttl-burst-10", |c| {
        let (s, d) = (c.src(), c.dst());
        for i in 0..10 {
            let mut ip = udp_ip(s, d, 40000, 33434 + i, b"burst");
            ip.ttl = 1;
            c.ip(&ip);
        }
    });
    g.class("rate/ttl-burst-then-pause", |c| {
        let (s, d) = (c.src(), c.dst());
        for i in 0..8 {
            let mut ip = udp_ip(s, d, 40000, 33434 + i, b"burst");
            ip.ttl = 1;
            c.ip(&ip);
        }
        c.gap(1100);
        for i in 0..3 {
            let mut ip = udp_ip(s, d, 40000, 33450 + i, b"burst");
            ip.ttl = 1;
            c.ip(&ip);
        }
    });
    g.class("rate/port-unreachable-burst-10", |c| {
        let s = c.src();
        for i in 0..10 {
            c.ip(&udp_ip(s, R1A, 40000, 33434 + i, b"burst"));
        }
    });
    g.class("rate/frag-needed-burst-10", |c| {
        let (s, d) = (c.src(), c.dst());
        for _ in 0..10 {
            let mut ip = udp_sized(c.rng(), s, d, 1400);
            ip.flags = DF;
            c.ip(&ip);
        }
    });
    g.class("rate/echo-burst-10", |c| {
        let s = c.src();
        for i in 0..10 {
            c.ip(&echo_ip(s, R1A, i, b"burst"));
        }
    });
    g.class("rate/protocol-unreachable-burst-8", |c| {
        let s = c.src();
        for _ in 0..8 {
            c.ip(&Ip::new(s, R1A, 253, b"experimental".to_vec()));
        }
    });
}

fn to_routers(g: &mut Gen) {
    for (name, dst) in [
        ("r1-near", R1A),
        ("r1-far", R1M),
        ("r2-near", R2M),
        ("r2-far", R2B),
    ] {
        g.class(format!("echo/{name}"), |c| {
            let s = c.src();
            let n = c.rng().range(0, 100) as usize;
            let data = c.rng().bytes(n);
            c.ip(&echo_ip(s, dst, 1, &data));
        });
        g.class(format!("echo/{name}-1472"), |c| {
            let s = c.src();
            let data = c.rng().bytes(1472);
            c.ip(&echo_ip(s, dst, 2, &data));
        });
        g.class(format!("echo/{name}-tos"), |c| {
            let s = c.src();
            let mut ip = echo_ip(s, dst, 3, b"tos");
            ip.tos = 0xb9;
            c.ip(&ip);
        });
        g.class(format!("udp/{name}-closed"), |c| {
            let s = c.src();
            c.ip(&udp_ip(s, dst, 40000, 33434, b"closed"));
        });
        g.class(format!("udp/{name}-closed-large"), |c| {
            let s = c.src();
            let data = c.rng().bytes(1200);
            c.ip(&udp_ip(s, dst, 40000, 33435, &data));
        });
        g.class(format!("tcp/{name}-syn"), |c| {
            let s = c.src();
            let seq = c.rng().next() as u32;
            c.ip(&Ip::new(
                s,
                dst,
                6,
                build::tcp(s, dst, 40001, 22, seq, 0, SYN, &[]),
            ));
        });
        g.class(format!("proto/{name}-253"), |c| {
            let s = c.src();
            c.ip(&Ip::new(s, dst, 253, b"experimental".to_vec()));
        });
    }
    for (name, opts) in [
        (
            "record-route",
            vec![
                7u8, 19, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "timestamp-addr",
            vec![68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("timestamp-only", vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ] {
        for (to, dst) in [("r2-far", R2B), ("h2", H2)] {
            g.class(format!("echo/{name}-to-{to}"), |c| {
                let s = c.src();
                let mut ip = echo_ip(s, dst, 1, b"options");
                ip.options = opts.clone();
                c.ip(&ip);
            });
            g.class(format!("udp/{name}-to-{to}"), |c| {
                let s = c.src();
                let mut ip = udp_ip(s, dst, 40000, 33434, b"options");
                ip.options = opts.clone();
                c.ip(&ip);
            });
        }
        g.class(format!("icmp/timestamp-{name}-to-r1"), |c| {
            let s = c.src();
            let mut ip = Ip::new(s, R1A, 1, build::icmp(13, 0, [0, 1, 0, 2], &[0; 12]));
            ip.options = opts.clone();
            c.ip(&ip);
        });
    }
    g.class("echo/code-5", |c| {
        let s = c.src();
        let m = build::icmp(8, 5, [0x7a, 0x11, 0, 1], b"code");
        c.ip(&Ip::new(s, R1A, 1, m));
    });
    g.class("echo/bad-checksum", |c| {
        let s = c.src();
        let mut m = build::echo(1, 1, b"bad");
        m[2] ^= 0x40;
        c.ip(&Ip::new(s, R1A, 1, m));
    });
    g.class("echo/truncated-icmp", |c| {
        let s = c.src();
        c.ip(&Ip::new(s, R1A, 1, vec![8, 0, 0xf7, 0xff]));
    });
    g.class("echo/empty-icmp", |c| {
        let s = c.src();
        c.ip(&Ip::new(s, R1A, 1, vec![]));
    });
    g.class("echo/odd-length", |c| {
        let s = c.src();
        c.ip(&echo_ip(s, R1A, 9, b"odd"));
    });
    g.class("echo/df", |c| {
        let s = c.src();
        let mut ip = echo_ip(s, R1A, 4, b"df");
        ip.flags = DF;
        c.ip(&ip);
    });
    g.class("echo/ttl-1-to-r1-far", |c| {
        let s = c.src();
        let mut ip = echo_ip(s, R1M, 5, b"ttl");
        ip.ttl = 1;
        c.ip(&ip);
    });
}

fn tcp_udp_to_routers(g: &mut Gen) {
    let flag_sets: &[(&str, u8)] = &[
        ("ack", ACK),
        ("syn-ack", SYN | ACK),
        ("rst", RST),
        ("rst-ack", RST | ACK),
        ("fin", FIN),
        ("fin-ack", FIN | ACK),
        ("psh-ack-data", PSH | ACK),
        ("none", 0),
        ("syn-fin", SYN | FIN),
        ("syn-data", SYN),
    ];
    for &(name, flags) in flag_sets {
        g.class(format!("tcp/r1-{name}"), |c| {
            let s = c.src();
            let seq = c.rng().next() as u32;
            let ack = c.rng().next() as u32;
            let data: &[u8] = if name.ends_with("data") {
                b"hello"
            } else {
                b""
            };
            c.ip(&Ip::new(
                s,
                R1A,
                6,
                build::tcp(s, R1A, 40002, 80, seq, ack, flags, data),
            ));
        });
    }
    g.class("tcp/r1-syn-tos", |c| {
        let s = c.src();
        let mut ip = Ip::new(s, R1A, 6, build::tcp(s, R1A, 40007, 80, 9, 0, SYN, &[]));
        ip.tos = 0xb9;
        c.ip(&ip);
    });
    g.class("tcp/r1-syn-record-route", |c| {
        let s = c.src();
        let mut ip = Ip::new(s, R1A, 6, build::tcp(s, R1A, 40008, 80, 9, 0, SYN, &[]));
        ip.options = vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        c.ip(&ip);
    });
    g.class("tcp/r1-syn-timestamp-full", |c| {
        let s = c.src();
        let mut ip = Ip::new(s, R1A, 6, build::tcp(s, R1A, 40009, 80, 9, 0, SYN, &[]));
        ip.options = vec![7, 7, 8, 1, 2, 3, 4, 0];
        c.ip(&ip);
    });
    g.class("tcp/r1-bad-checksum", |c| {
        let s = c.src();
        let mut t = build::tcp(s, R1A, 40003, 80, 1, 0, SYN, &[]);
        t[16] ^= 0x11;
        c.ip(&Ip::new(s, R1A, 6, t));
    });
    g.class("tcp/r1-truncated", |c| {
        let s = c.src();
        let t = build::tcp(s, R1A, 40004, 80, 1, 0, SYN, &[]);
        c.ip(&Ip::new(s, R1A, 6, t[..12].to_vec()));
    });
    g.class("tcp/r1-broadcast", |c| {
        let s = c.src();
        let b = Ipv4Addr::new(10, 1, 0, 255);
        c.ip(&Ip::new(
            s,
            b,
            6,
            build::tcp(s, b, 40005, 80, 1, 0, SYN, &[]),
        ));
    });
    g.class("udp/r1-bad-checksum", |c| {
        let s = c.src();
        let mut u = build::udp(s, R1A, 40000, 33434, b"bad");
        u[6] ^= 0x10;
        c.ip(&Ip::new(s, R1A, 17, u));
    });
    g.class("udp/r1-zero-checksum", |c| {
        let s = c.src();
        let mut u = build::udp(s, R1A, 40000, 33434, b"none");
        u[6..8].copy_from_slice(&[0, 0]);
        c.ip(&Ip::new(s, R1A, 17, u));
    });
    g.class("udp/r1-length-beyond", |c| {
        let s = c.src();
        let mut u = build::udp(s, R1A, 40000, 33434, b"long");
        u[4..6].copy_from_slice(&40u16.to_be_bytes());
        c.ip(&Ip::new(s, R1A, 17, u));
    });
    g.class("udp/r1-length-short", |c| {
        // The UDP length covers less than the IP payload: the rest is not the datagram's.
        let s = c.src();
        let mut u = build::udp(s, R1A, 40000, 33434, b"abcd");
        u.extend_from_slice(b"trailing bytes");
        c.ip(&Ip::new(s, R1A, 17, u));
    });
    g.class("udp/r1-length-below-8", |c| {
        let s = c.src();
        let mut u = build::udp(s, R1A, 40000, 33434, b"abcd");
        u[4..6].copy_from_slice(&4u16.to_be_bytes());
        c.ip(&Ip::new(s, R1A, 17, u));
    });
    g.class("udp/r1-header-only", |c| {
        let s = c.src();
        c.ip(&udp_ip(s, R1A, 40000, 33434, b""));
    });
    g.class("udp/r1-truncated", |c| {
        let s = c.src();
        c.ip(&Ip::new(s, R1A, 17, vec![0x9c, 0x40, 0x82]));
    });
    g.class("udp/r1-subnet-broadcast", |c| {
        let s = c.src();
        c.ip(&udp_ip(s, Ipv4Addr::new(10, 1, 0, 255), 40000, 33434, b"b"));
    });
    g.class("udp/r2-subnet-broadcast-directed", |c| {
        let s = c.src();
        c.ip(&udp_ip(s, Ipv4Addr::new(10, 2, 0, 255), 40000, 33434, b"b"));
    });
    g.class("udp/r1-port-0", |c| {
        let s = c.src();
        c.ip(&udp_ip(s, R1A, 0, 0, b"port zero"));
    });
}

fn icmp_types(g: &mut Gen) {
    // Every type, to r1 and expiring at r1.
    for kind in 0..=255u8 {
        g.class(format!("icmp/type-{kind}-to-r1"), |c| {
            let s = c.src();
            let data = icmp_data(c, kind, s, R1A);
            c.ip(&Ip::new(
                s,
                R1A,
                1,
                build::icmp(kind, 0, [0, 1, 0, 1], &data),
            ));
        });
        g.class(format!("icmp/type-{kind}-through-ttl-1"), |c| {
            let (s, d) = (c.src(), c.dst());
            let data = icmp_data(c, kind, s, d);
            let mut ip = Ip::new(s, d, 1, build::icmp(kind, 0, [0, 1, 0, 1], &data));
            ip.ttl = 1;
            c.ip(&ip);
        });
    }
    g.class("icmp/timestamp-to-r2", |c| {
        let s = c.src();
        c.ip(&Ip::new(
            s,
            R2B,
            1,
            build::icmp(13, 0, [0, 1, 0, 2], &[0; 12]),
        ));
    });
    g.class("icmp/timestamp-short", |c| {
        let s = c.src();
        c.ip(&Ip::new(
            s,
            R1A,
            1,
            build::icmp(13, 0, [0, 1, 0, 2], &[0; 4]),
        ));
    });
    g.class("icmp/error-without-quote-ttl-1", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = Ip::new(s, d, 1, build::icmp(3, 1, [0; 4], &[]));
        ip.ttl = 1;
        c.ip(&ip);
    });
    g.class("icmp/empty-ttl-1", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = Ip::new(s, d, 1, vec![]);
        ip.ttl = 1;
        c.ip(&ip);
    });
}

/// What an ICMP message of `kind` carries: errors quote a datagram from the class.
fn icmp_data(c: &mut C<'_>, kind: u8, s: Ipv4Addr, d: Ipv4Addr) -> Vec<u8> {
    match kind {
        3 | 4 | 5 | 11 | 12 => udp_ip(d, s, 33434, 40000, b"quoted").bytes(),
        13 | 14 => vec![0; 12],
        _ => c.rng().bytes(16),
    }
}

fn protocols(g: &mut Gen) {
    for proto in [0u8, 2, 4, 41, 47, 50, 51, 58, 103, 132, 136, 254, 255] {
        g.class(format!("proto/{proto}-to-r1"), |c| {
            let s = c.src();
            let data = c.rng().bytes(24);
            c.ip(&Ip::new(s, R1A, proto, data));
        });
        g.class(format!("proto/{proto}-through"), |c| {
            let (s, d) = (c.src(), c.dst());
            let data = c.rng().bytes(24);
            c.ip(&Ip::new(s, d, proto, data));
        });
    }
    g.class("proto/igmp-query-to-r1", |c| {
        let s = c.src();
        let mut q = vec![0x11, 100, 0, 0, 0, 0, 0, 0];
        let sum = build::checksum(&q);
        q[2..4].copy_from_slice(&sum.to_be_bytes());
        c.ip(&Ip::new(s, R1A, 2, q));
    });
    g.class("proto/udplite-to-r1", |c| {
        // UDP-Lite with checksum coverage 8 (the header): Linux answers port unreachable.
        let s = c.src();
        let mut u = vec![0x9c, 0x40, 0x82, 0x9a, 0, 8, 0, 0];
        let mut p = Vec::new();
        p.extend_from_slice(&s.octets());
        p.extend_from_slice(&R1A.octets());
        p.extend_from_slice(&[0, 136, 0, 8]);
        let sum = !build::fold(build::sum(&u, build::sum(&p, 0)));
        u[6..8].copy_from_slice(&sum.to_be_bytes());
        c.ip(&Ip::new(s, R1A, 136, u));
    });
}

/// A datagram to `dst` cut into fragments, sent in `order` (indices into the pieces).
fn send_fragments(c: &mut C<'_>, ip: &Ip, pieces: &[(usize, usize)], order: &[usize]) {
    let frags = build::fragments(ip, pieces);
    for &i in order {
        c.ip(&frags[i]);
    }
}

/// Cut `len` payload bytes into `n` pieces on 8-byte boundaries, sizes chosen by the seed.
fn cut(rng: &mut Rng, len: usize, n: usize) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = Vec::new();
    while points.len() < n - 1 {
        let p = (rng.range(1, (len as u64 - 1) / 8) * 8) as usize;
        if !points.contains(&p) {
            points.push(p);
        }
    }
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for p in points {
        pieces.push((from, p));
        from = p;
    }
    pieces.push((from, len));
    pieces
}

fn fragments(g: &mut Gen) {
    // Reassembly at r1 (and r2, behind the smaller MTU): echo requests, UDP, TCP.
    for (name, dst) in [("r1", R1A), ("r2", R2B)] {
        g.class(format!("frag/echo-3000-in-order-to-{name}"), |c| {
            let s = c.src();
            let data = c.rng().bytes(3000 - 28);
            let mut ip = echo_ip(s, dst, 1, &data);
            ip.id = c.rng().next() as u16;
            let pieces = [(0, 1480), (1480, 2960), (2960, 2980)];
            send_fragments(c, &ip, &pieces, &[0, 1, 2]);
        });
        g.class(format!("frag/echo-1400-to-{name}"), |c| {
            // Through the 1280 link for r2: r1 fragments, r2 reassembles, r1 forwards the
            // fragmented reply.
            let s = c.src();
            let data = c.rng().bytes(1400 - 28);
            c.ip(&echo_ip(s, dst, 2, &data));
        });
    }
    type Order = fn(&mut Rng, usize) -> Vec<usize>;
    let orders: &[(&str, Order)] = &[
        ("reversed", |_, n| (0..n).rev().collect()),
        ("shuffled", |r, n| {
            let mut o: Vec<usize> = (0..n).collect();
            r.shuffle(&mut o);
            o
        }),
        ("last-first", |_, n| {
            let mut o = vec![n - 1];
            o.extend(0..n - 1);
            o
        }),
        ("duplicate-middle", |_, n| {
            let mut o: Vec<usize> = (0..n).collect();
            o.insert(2, 1);
            o
        }),
        ("duplicate-last", |_, n| {
            let mut o: Vec<usize> = (0..n).collect();
            o.insert(n - 1, n - 1);
            o
        }),
    ];
    for &(name, order) in orders {
        g.class(format!("frag/echo-{name}"), |c| {
            let s = c.src();
            let len = c.rng().range(600, 2000) as usize;
            let data = c.rng().bytes(len);
            let mut ip = echo_ip(s, R1A, 3, &data);
            ip.id = c.rng().next() as u16;
            let n = c.rng().range(4, 7) as usize;
            let pieces = cut(c.rng(), ip.payload.len(), n);
            let o = order(c.rng(), pieces.len());
            send_fragments(c, &ip, &pieces, &o);
        });
    }
    // Overlaps: a fragment that overlaps what came before, in several positions.
    let overlaps: &[(&str, (usize, usize))] = &[
        ("overlap-inside-run", (8, 24)),
        ("overlap-across-runs", (40, 72)),
        ("overlap-tail", (88, 120)),
        ("overlap-exact-duplicate", (0, 48)),
        ("overlap-head", (0, 16)),
    ];
    for &(name, extra) in overlaps {
        for early in [false, true] {
            let when = if early { "early" } else { "late" };
            g.class(format!("frag/{name}-{when}"), |c| {
                let s = c.src();
                let data = c.rng().bytes(120 - 8);
                let mut ip = echo_ip(s, R1A, 4, &data);
                ip.id = c.rng().next() as u16;
                // Pieces 0..48, 48..96 in order (one run), then 96..120 last.
                let mut frags = build::fragments(&ip, &[(0, 48), (48, 96), (96, 120)]);
                let mut over = build::fragments(&ip, &[extra])[0].clone();
                // Different bytes in the overlapping part.
                for b in over.payload.iter_mut() {
                    *b ^= 0xff;
                }
                if extra.1 < 120 {
                    over.flags |= MF;
                }
                if early {
                    frags.insert(1, over);
                } else {
                    frags.insert(2, over);
                }
                for f in &frags {
                    c.ip(f);
                }
            });
        }
    }
    g.class("frag/middle-first-then-spanning", |c| {
        // A fragment inserted between others is a run of its own: one spanning two runs
        // overlaps, even with the same bytes.
        let s = c.src();
        let data = c.rng().bytes(120 - 8);
        let mut ip = echo_ip(s, R1A, 5, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 40), (40, 72), (80, 120), (32, 48), (72, 80)]);
        // The last one would complete the datagram, had it survived.
        for i in [2, 0, 1, 3, 4] {
            c.ip(&f[i]);
        }
    });
    g.class("frag/tiny-8-byte", |c| {
        let s = c.src();
        let data = c.rng().bytes(64 - 8);
        let mut ip = echo_ip(s, R1A, 6, &data);
        ip.id = c.rng().next() as u16;
        let pieces: Vec<(usize, usize)> = (0..8).map(|i| (i * 8, i * 8 + 8)).collect();
        send_fragments(c, &ip, &pieces, &(0..8).collect::<Vec<_>>());
    });
    g.class("frag/short-non-last", |c| {
        // A fragment with MF and less than 8 bytes ends where it starts: the queue is dropped.
        let s = c.src();
        let data = c.rng().bytes(64 - 8);
        let mut ip = echo_ip(s, R1A, 7, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 16), (16, 20), (16, 64)]);
        for x in &f {
            c.ip(x);
        }
    });
    g.class("frag/zero-length-last", |c| {
        let s = c.src();
        let data = c.rng().bytes(32 - 8);
        let mut ip = echo_ip(s, R1A, 8, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 16), (16, 32)]);
        let mut empty = f[1].clone();
        empty.frag_off = 32;
        empty.payload.clear();
        for x in [&f[0], &f[1], &empty] {
            c.ip(x);
        }
    });
    g.class("frag/two-different-lasts", |c| {
        let s = c.src();
        let data = c.rng().bytes(64 - 8);
        let mut ip = echo_ip(s, R1A, 9, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 32), (32, 64)]);
        let mut other = f[1].clone();
        other.payload.truncate(16);
        for x in [&other, &f[1], &f[0]] {
            c.ip(x);
        }
    });
    g.class("frag/beyond-last", |c| {
        let s = c.src();
        let data = c.rng().bytes(64 - 8);
        let mut ip = echo_ip(s, R1A, 10, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 32), (32, 64)]);
        let mut beyond = f[0].clone();
        beyond.frag_off = 64;
        for x in [&f[1], &beyond, &f[0]] {
            c.ip(x);
        }
    });
    g.class("frag/oversize-65535", |c| {
        let s = c.src();
        let data = c.rng().bytes(1000);
        let mut ip = echo_ip(s, R1A, 11, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 1000)]);
        let mut last = f[0].clone();
        last.frag_off = 65528;
        last.payload.truncate(16);
        let mut first = f[0].clone();
        first.flags |= MF;
        c.ip(&first);
        c.ip(&last);
    });
    g.class("frag/df-set", |c| {
        let s = c.src();
        let data = c.rng().bytes(200);
        let mut ip = echo_ip(s, R1A, 12, &data);
        ip.id = c.rng().next() as u16;
        ip.flags = DF;
        let f = build::fragments(&ip, &[(0, 104), (104, 208)]);
        for x in &f {
            c.ip(x);
        }
    });
    g.class("frag/ecn-mixed", |c| {
        // Not-ECT and CE fragments of one datagram: Linux refuses to reassemble them.
        let s = c.src();
        let data = c.rng().bytes(200);
        let mut ip = echo_ip(s, R1A, 13, &data);
        ip.id = c.rng().next() as u16;
        let mut f = build::fragments(&ip, &[(0, 104), (104, 208)]);
        f[1].tos = 0x03;
        for x in &f {
            c.ip(x);
        }
    });
    g.class("frag/ecn-ect-and-ce", |c| {
        let s = c.src();
        let data = c.rng().bytes(200);
        let mut ip = echo_ip(s, R1A, 14, &data);
        ip.id = c.rng().next() as u16;
        ip.tos = 0x02;
        let mut f = build::fragments(&ip, &[(0, 104), (104, 208)]);
        f[1].tos = 0x03;
        for x in &f {
            c.ip(x);
        }
    });
    g.class("frag/udp-closed-port", |c| {
        let s = c.src();
        let data = c.rng().bytes(1800);
        let mut ip = udp_ip(s, R1A, 40000, 33434, &data);
        ip.id = c.rng().next() as u16;
        let pieces = cut(c.rng(), ip.payload.len(), 3);
        send_fragments(c, &ip, &pieces, &[2, 0, 1]);
    });
    g.class("frag/tcp-syn", |c| {
        let s = c.src();
        let t = build::tcp(s, R1A, 40006, 80, 77, 0, SYN, &[0; 40]);
        let mut ip = Ip::new(s, R1A, 6, t);
        ip.id = c.rng().next() as u16;
        send_fragments(c, &ip, &[(0, 16), (16, 60)], &[1, 0]);
    });
    g.class("frag/options-in-first", |c| {
        let s = c.src();
        let data = c.rng().bytes(100);
        let mut ip = echo_ip(s, R1A, 15, &data);
        ip.id = c.rng().next() as u16;
        ip.options = vec![130, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0];
        send_fragments(c, &ip, &[(0, 56), (56, 108)], &[0, 1]);
    });
    g.class("frag/same-id-other-protocol", |c| {
        // Queues are keyed by protocol too: these two never meet.
        let s = c.src();
        let data = c.rng().bytes(100);
        let mut ip = echo_ip(s, R1A, 16, &data);
        ip.id = 0x4242;
        let f = build::fragments(&ip, &[(0, 56), (56, 108)]);
        let mut other = f[1].clone();
        other.proto = 17;
        c.ip(&f[0]);
        c.ip(&other);
        c.ip(&f[1]);
    });
    // Fragments through the routers: forwarded as they are, refragmented for the 1280 link.
    g.class("frag/through-first-large", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 1500);
        ip.flags = MF;
        ip.id = 0x7777;
        c.ip(&ip);
    });
    g.class("frag/through-middle-large", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 1400);
        ip.flags = MF;
        ip.frag_off = 1480;
        c.ip(&ip);
    });
    g.class("frag/through-last-large-df", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 1400);
        ip.flags = DF;
        ip.frag_off = 2960;
        c.ip(&ip);
    });
    g.class("frag/through-with-options", |c| {
        let (s, d) = (c.src(), c.dst());
        let mut ip = udp_sized(c.rng(), s, d, 1400);
        ip.options = vec![130, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0, 148, 4, 0, 0];
        c.ip(&ip);
    });
}

fn reassembly_timeouts(g: &mut Gen) {
    g.class("frag/timeout-first-only", |c| {
        // The first fragment arrived: after 30 s, time exceeded (reassembly).
        let s = c.src();
        let data = c.rng().bytes(600);
        let mut ip = echo_ip(s, R1A, 20, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 304), (304, 608)]);
        c.ip(&f[0]);
        c.wait(33_000);
    });
    g.class("frag/timeout-last-only", |c| {
        // No first fragment: nothing to quote, no error.
        let s = c.src();
        let data = c.rng().bytes(600);
        let mut ip = echo_ip(s, R1A, 21, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 304), (304, 608)]);
        c.ip(&f[1]);
        c.wait(33_000);
    });
    g.class("frag/timeout-udp-first-to-r2-far", |c| {
        let s = c.src();
        let data = c.rng().bytes(600);
        let mut ip = udp_ip(s, R2B, 40000, 33434, &data);
        ip.id = c.rng().next() as u16;
        let f = build::fragments(&ip, &[(0, 304), (304, 608)]);
        c.ip(&f[0]);
        c.wait(33_000);
    });
}

fn arp_failure(g: &mut Gen) {
    g.class("neigh/unanswered-on-r2-link", |c| {
        // r2 asks three times, then answers host unreachable.
        let s = c.src();
        let d = Ipv4Addr::new(10, 2, 0, 77);
        c.tag(d);
        c.ip(&udp_ip(s, d, 40000, 33434, b"nobody"));
        c.wait(5_000);
    });
    g.class("neigh/unanswered-on-r1-link", |c| {
        let s = c.src();
        let d = c.lan();
        c.ip(&udp_ip(s, d, 40000, 33434, b"nobody"));
        c.wait(5_000);
    });
}

fn ethernet(g: &mut Gen) {
    g.class("eth/other-host", |c| {
        let s = c.src();
        let f = udp_ip(s, R1A, 40000, 33434, b"x").bytes();
        c.frame(eth([0x02, 0, 0, 0, 0, 0x77], H1_MAC, &[], 0x0800, &f));
    });
    for (name, dst) in [
        ("broadcast", build::BROADCAST),
        ("multicast", [0x01, 0x00, 0x5e, 0, 0, 1]),
    ] {
        g.class(format!("eth/{name}-echo-to-r1"), |c| {
            let s = c.src();
            let f = echo_ip(s, R1A, 1, b"x").bytes();
            c.frame(eth(dst, H1_MAC, &[], 0x0800, &f));
        });
        g.class(format!("eth/{name}-udp-to-r1"), |c| {
            let s = c.src();
            let f = udp_ip(s, R1A, 40000, 33434, b"x").bytes();
            c.frame(eth(dst, H1_MAC, &[], 0x0800, &f));
        });
        g.class(format!("eth/{name}-through"), |c| {
            let (s, d) = (c.src(), c.dst());
            let f = udp_ip(s, d, 40000, 33434, b"x").bytes();
            c.frame(eth(dst, H1_MAC, &[], 0x0800, &f));
        });
    }
    for (name, ethertype) in [
        ("ipv6", 0x86ddu16),
        ("unknown", 0x1234),
        ("llc-length", 0x0040),
    ] {
        g.class(format!("eth/{name}"), |c| {
            let s = c.src();
            let f = udp_ip(s, R1A, 40000, 33434, b"x").bytes();
            c.frame(eth(R1A_MAC, H1_MAC, &[], ethertype, &f));
        });
    }
    g.class("eth/runt", |c| {
        let s = c.src();
        let _ = s;
        c.frame(R1A_MAC[..4].to_vec());
    });
    let tags: &[(&str, &[(u16, u16)])] = &[
        ("vlan-0", &[(0x8100, 0x0000)]),
        ("vlan-0-pcp-5", &[(0x8100, 0xa000)]),
        ("vlan-5", &[(0x8100, 0x0005)]),
        ("qinq-0-0", &[(0x88a8, 0x0000), (0x8100, 0x0000)]),
        ("vlan-0-vlan-5", &[(0x8100, 0x0000), (0x8100, 0x0005)]),
        ("8021ad-0", &[(0x88a8, 0x0000)]),
    ];
    for &(name, tag) in tags {
        g.class(format!("eth/{name}-echo-to-r1"), |c| {
            let s = c.src();
            let f = echo_ip(s, R1A, 1, b"tagged").bytes();
            c.frame(eth(R1A_MAC, H1_MAC, tag, 0x0800, &f));
        });
        g.class(format!("eth/{name}-through"), |c| {
            let (s, d) = (c.src(), c.dst());
            let f = udp_ip(s, d, 40000, 33434, b"tagged").bytes();
            c.frame(eth(R1A_MAC, H1_MAC, tag, 0x0800, &f));
        });
        g.class(format!("eth/{name}-arp"), |c| {
            let spa = c.lan();
            let a = Arp::request(H1_MAC, spa, R1A).bytes();
            c.frame(eth(build::BROADCAST, H1_MAC, tag, 0x0806, &a));
        });
    }
}

fn arp(g: &mut Gen) {
    type Mangle = fn(&mut Arp, Ipv4Addr);
    let cases: &[(&str, Mangle)] = &[
        ("request-r1", |_, _| {}),
        ("request-r1-far", |a, _| a.tpa = R1M),
        ("request-r2", |a, _| a.tpa = R2B),
        ("request-other", |a, _| a.tpa = Ipv4Addr::new(10, 1, 0, 250)),
        ("probe-sender-zero", |a, _| a.spa = Ipv4Addr::UNSPECIFIED),
        ("gratuitous-request", |a, spa| a.tpa = spa),
        ("reply-unsolicited", |a, _| {
            a.op = 2;
            a.tha = R1A_MAC;
        }),
        ("op-0", |a, _| a.op = 0),
        ("op-3", |a, _| a.op = 3),
        ("op-9", |a, _| a.op = 9),
        ("htype-6", |a, _| a.htype = 6),
        ("ptype-ipv6", |a, _| a.ptype = 0x86dd),
        ("hlen-8", |a, _| a.hlen = 8),
        ("plen-16", |a, _| a.plen = 16),
        ("sha-multicast", |a, _| a.sha = [0x01, 0, 0x5e, 0, 0, 9]),
        ("sha-zero", |a, _| a.sha = [0; 6]),
        ("spa-router", |a, _| a.spa = R1A),
        ("spa-other-subnet", |a, _| {
            a.spa = Ipv4Addr::new(192, 168, 9, 9)
        }),
        ("spa-subnet-broadcast", |a, _| {
            a.spa = Ipv4Addr::new(10, 1, 0, 255)
        }),
        ("spa-loopback", |a, _| a.spa = Ipv4Addr::new(127, 0, 0, 1)),
        ("spa-multicast", |a, _| a.spa = Ipv4Addr::new(224, 0, 0, 9)),
        ("tpa-loopback", |a, _| a.tpa = Ipv4Addr::new(127, 0, 0, 1)),
        ("tpa-multicast", |a, _| a.tpa = Ipv4Addr::new(224, 0, 0, 1)),
        ("tpa-subnet-broadcast", |a, _| {
            a.tpa = Ipv4Addr::new(10, 1, 0, 255)
        }),
    ];
    for &(name, mangle) in cases {
        for unicast in [false, true] {
            let how = if unicast { "unicast" } else { "broadcast" };
            g.class(format!("arp/{name}-{how}"), |c| {
                // A sender of its own (address and MAC), so that answers and what the
                // router learnt are this class's alone.
                let (spa, sha) = (c.lan(), c.mac());
                let mut a = Arp::request(sha, spa, R1A);
                mangle(&mut a, spa);
                let dst = if unicast { R1A_MAC } else { build::BROADCAST };
                c.frame(eth(dst, sha, &[], 0x0806, &a.bytes()));
                // Then an echo request from the sender: whether the reply needs ARP first
                // shows what the router learnt.
                c.gap(50);
                let follow = echo_ip(spa, R1A, 1, b"after arp").bytes();
                c.frame(eth(R1A_MAC, sha, &[], 0x0800, &follow));
                c.wait(9_000);
            });
        }
    }
    g.class("arp/truncated", |c| {
        let (spa, sha) = (c.lan(), c.mac());
        let a = Arp::request(sha, spa, R1A).bytes();
        c.frame(eth(build::BROADCAST, sha, &[], 0x0806, &a[..20]));
    });
    g.class("arp/trailing-bytes", |c| {
        let (spa, sha) = (c.lan(), c.mac());
        let mut a = Arp::request(sha, spa, R1A).bytes();
        a.extend_from_slice(&[0xab; 30]);
        c.frame(eth(build::BROADCAST, sha, &[], 0x0806, &a));
    });
}
