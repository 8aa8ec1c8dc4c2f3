//! Random router configurations and flow tuples for the policy-routing differential test, from a
//! seed: the same seed gives the same interfaces, route and rule lines, and queries.
//!
//! The lines are iproute2's (`route add ...`, `rule add ...`), fed unchanged to Linux and shoal.
//! What is generated, and what is kept out because Linux's answer depends on something a
//! routing lookup in shoal does not model, is said beside each choice.

use std::net::Ipv4Addr;

/// splitmix64: tiny, seedable, good enough to pick configurations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *self.one(items)
    }

    /// A reference to one of `items` (not empty).
    pub fn one<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One interface: name, address, prefix length, group.
#[derive(Debug, Clone)]
pub struct Iface {
    pub name: String,
    pub addr: Ipv4Addr,
    pub len: u8,
    pub group: u32,
}

impl Iface {
    pub fn network(&self) -> u32 {
        u32::from(self.addr) & mask(self.len)
    }

    pub fn broadcast(&self) -> u32 {
        self.network() | !mask(self.len)
    }
}

pub fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// A generated configuration: interfaces, then route lines, then rule lines (in that order:
/// Linux resolves a gateway through the rules, so routes go in while the rules are the
/// defaults and every gateway resolves to its connected subnet, as shoal resolves it).
#[derive(Debug, Clone)]
pub struct Config {
    pub ifaces: Vec<Iface>,
    /// `route add ...` without `route add`.
    pub routes: Vec<String>,
    /// `rule add ...` without `rule add`.
    pub rules: Vec<String>,
}

/// A query: `ip route get DST from SRC iif DEV tos T mark M ipproto P [sport S dport D]`.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub tos: u8,
    pub iif: usize,
    pub mark: u32,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

/// Addresses routes, rules and queries share, so that prefixes overlap and queries hit them.
fn universe(rng: &mut Rng, ifaces: &[Iface]) -> u32 {
    if rng.chance(25) {
        let i = rng.one(ifaces);
        return i.network() | (rng.next() as u32 & !mask(i.len));
    }
    let a = rng.pick(&[20u8, 20, 30, 172, 198, 10]);
    let b = rng.pick(&[0u8, 1, 2, 16, 255]);
    let c = rng.pick(&[0u8, 1, 2, 128, 255]);
    let d = rng.pick(&[0u8, 1, 2, 9, 128, 255]);
    u32::from_be_bytes([a, b, c, d])
}

fn prefix(rng: &mut Rng, ifaces: &[Iface]) -> (Ipv4Addr, u8) {
    let len = rng.pick(&[0u8, 4, 8, 8, 12, 16, 16, 20, 24, 24, 25, 28, 30, 32]);
    (Ipv4Addr::from(universe(rng, ifaces) & mask(len)), len)
}

fn show((addr, len): (Ipv4Addr, u8)) -> String {
    if len == 0 {
        "default".into()
    } else {
        format!("{addr}/{len}")
    }
}

/// Table ids the config uses (names need /etc/iproute2/rt_tables, so only Linux's own).
const TABLES: [&str; 5] = ["main", "default", "100", "200", "1000"];
/// Priorities shared by rules and gotos, so that equal priorities and resolved gotos occur.
const PRIORITIES: [u32; 8] = [1, 10, 50, 100, 200, 1000, 32000, 32766];

pub fn config(rng: &mut Rng) -> Config {
    let n = 3 + rng.below(2) as usize;
    let ifaces: Vec<Iface> = (0..n)
        .map(|i| {
            let len = rng.pick(&[16u8, 24, 24, 26, 28]);
            Iface {
                name: format!("eth{i}"),
                // 10.(i+1)/16 keeps subnets disjoint; a random host number for the address.
                addr: Ipv4Addr::from(
                    (u32::from_be_bytes([10, i as u8 + 1, 0, 0])
                        | (rng.next() as u32 & !mask(len)))
                        & !1
                        | 1,
                ),
                len,
                group: rng.pick(&[0u32, 0, 1, 2]),
            }
        })
        .collect();
    let routes = (0..8 + rng.below(25))
        .map(|_| route(rng, &ifaces))
        .collect();
    let rules = (0..3 + rng.below(12)).map(|_| rule(rng, &ifaces)).collect();
    Config {
        ifaces,
        routes,
        rules,
    }
}

/// A gateway on `dev`'s subnet: neither its address nor the subnet's network address.
fn gateway(rng: &mut Rng, dev: &Iface) -> Ipv4Addr {
    loop {
        let host = dev.network() | (rng.below(u64::from(!mask(dev.len))) as u32);
        if host != u32::from(dev.addr) && host != dev.network() {
            return Ipv4Addr::from(host);
        }
    }
}

/// A route line, of every kind, multipath (ECMP with weights) included.
fn route(rng: &mut Rng, ifaces: &[Iface]) -> String {
    let p = show(prefix(rng, ifaces));
    let dev = rng.one(ifaces);
    // iproute2 wants `nexthop` blocks last.
    let mut nexthops = String::new();
    let head = match rng.below(110) {
        // A gateway always with its device: without one, Linux resolves the gateway in the
        // route's own table first (a `dev` route there may claim it), which shoal does not.
        0..=34 => format!("{p} via {} dev {}", gateway(rng, dev), dev.name),
        100..=109 => {
            // Two or three next hops on distinct devices.
            let mut devs: Vec<&Iface> = ifaces.iter().collect();
            for _ in 0..2 + rng.below(2) {
                if devs.is_empty() {
                    break;
                }
                let d = devs.remove(rng.below(devs.len() as u64) as usize);
                let weight = 1 + rng.below(4);
                nexthops += &format!(
                    " nexthop via {} dev {} weight {weight}",
                    gateway(rng, d),
                    d.name
                );
            }
            p
        }
        35..=54 => format!("{p} dev {}", dev.name),
        55..=64 => format!("blackhole {p}"),
        65..=74 => format!("unreachable {p}"),
        75..=84 => format!("prohibit {p}"),
        _ => format!("throw {p}"),
    };
    let metric = rng.pick(&[0u32, 0, 0, 10, 20]);
    let metric = if metric > 0 {
        format!(" metric {metric}")
    } else {
        String::new()
    };
    format!("{head}{metric} table {}{nexthops}", rng.pick(&TABLES))
}

/// A rule line: a few selectors, an action, sometimes a suppressor; now and then a value
/// Linux refuses (tos with ECN or high bits, port 0 or 65535), which shoal must refuse too.
fn rule(rng: &mut Rng, ifaces: &[Iface]) -> String {
    let mut w: Vec<String> = Vec::new();
    if rng.chance(15) {
        w.push("not".into());
    }
    if rng.chance(35) {
        let (a, len) = prefix(rng, ifaces);
        // Host bits are kept sometimes: Linux stores them (they tell rules apart) but ignores
        // them in the match.
        let a = if rng.chance(20) {
            Ipv4Addr::from(u32::from(a) | (rng.next() as u32 & !mask(len)))
        } else {
            a
        };
        w.push(format!("from {}", show((a, len))));
    }
    if rng.chance(35) {
        w.push(format!("to {}", show(prefix(rng, ifaces))));
    }
    if rng.chance(15) {
        let tos = if rng.chance(10) {
            rng.pick(&[0x02u8, 0x1e, 0x20, 0xfc])
        } else {
            rng.pick(&[0x04u8, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c])
        };
        w.push(format!("{} {tos:#04x}", rng.pick(&["tos", "dsfield"])));
    }
    if rng.chance(20) {
        w.push(match rng.below(5) {
            0 => "fwmark 0".into(),
            1 => format!("fwmark {}", rng.pick(&[1u32, 3, 5])),
            2 => format!("fwmark {:#x}/0", rng.pick(&[1u32, 5])),
            _ => format!(
                "fwmark {:#x}/{:#x}",
                rng.pick(&[0u32, 1, 3, 5, 0xf5]),
                rng.pick(&[0x1u32, 0x3, 0xf, 0xff])
            ),
        });
    }
    if rng.chance(20) {
        let dev = if rng.chance(20) {
            "lo".to_owned()
        } else {
            rng.one(ifaces).name.clone()
        };
        w.push(format!("iif {dev}"));
    }
    if rng.chance(5) {
        w.push(format!("oif {}", rng.one(ifaces).name));
    }
    if rng.chance(12) {
        w.push(format!(
            "ipproto {}",
            rng.pick(&["tcp", "udp", "icmp", "6", "17", "47", "0"])
        ));
    }
    for key in ["sport", "dport"] {
        if rng.chance(10) {
            let lo = rng.pick(&PORTS);
            let hi = rng.pick(&PORTS);
            w.push(if rng.chance(50) || lo >= hi {
                format!("{key} {lo}")
            } else {
                format!("{key} {lo}-{hi}")
            });
        }
    }
    let pref = if rng.chance(25) {
        None
    } else {
        Some(rng.pick(&PRIORITIES))
    };
    if let Some(p) = pref {
        w.push(format!("{} {p}", rng.pick(&["pref", "priority", "order"])));
    }
    let lookup = match rng.below(100) {
        0..=54 => {
            w.push(format!(
                "{} {}",
                rng.pick(&["lookup", "table"]),
                rng.pick(&TABLES)
            ));
            true
        }
        55..=66 => {
            // Forward of the rule's own priority, mostly to one in use; backward ones are
            // refused by both.
            let target = rng.pick(&PRIORITIES) + u32::from(rng.chance(20));
            w.push(format!("goto {target}"));
            false
        }
        67..=71 => {
            w.push("nop".into());
            false
        }
        72..=81 => {
            w.push("blackhole".into());
            false
        }
        82..=90 => {
            w.push("unreachable".into());
            false
        }
        _ => {
            w.push("prohibit".into());
            false
        }
    };
    // iproute2 shows suppressors only on lookups; elsewhere whether they tell rules apart is
    // not worth finding out.
    if lookup && rng.chance(20) {
        w.push(format!("suppress_prefixlength {}", rng.below(33)));
    }
    if lookup && rng.chance(8) {
        w.push(format!("suppress_ifgroup {}", rng.pick(&[1u32, 2])));
    }
    w.join(" ")
}

/// Ports rules and queries use; 0 and 65535 Linux refuses in a rule.
const PORTS: [u16; 9] = [0, 1, 53, 80, 443, 1000, 5000, 65534, 65535];

/// A query whose source Linux's input path accepts: not martian (0/8, 127/8, class D/E, the
/// limited broadcast) and not an address or broadcast of this router — Linux validates the
/// source by routing it back, and a local or broadcast answer there refuses the packet, a
/// check of the forwarding path that `Router::route` does not make.
pub fn query(rng: &mut Rng, ifaces: &[Iface]) -> Query {
    let src = loop {
        let s = if rng.chance(10) {
            rng.next() as u32
        } else {
            universe(rng, ifaces)
        };
        let local = ifaces
            .iter()
            .any(|i| s == u32::from(i.addr) || s == i.broadcast());
        if !local && !martian(s) {
            break s;
        }
    };
    // Destinations: martian ones take other paths in Linux (errors before any lookup).
    let dst = loop {
        let d = match rng.below(20) {
            0 => u32::from(rng.one(ifaces).addr),
            1 => rng.one(ifaces).broadcast(),
            2 => rng.next() as u32,
            _ => universe(rng, ifaces),
        };
        if !martian(d) {
            break d;
        }
    };
    let proto = rng.pick(&[6u8, 17, 1]);
    let (sport, dport) = if proto == 1 {
        (0, 0)
    } else {
        (rng.pick(&PORTS[1..8]), rng.pick(&PORTS[1..8]))
    };
    Query {
        src: Ipv4Addr::from(src),
        dst: Ipv4Addr::from(dst),
        tos: if rng.chance(50) { 0 } else { rng.next() as u8 },
        iif: rng.below(ifaces.len() as u64) as usize,
        mark: match rng.below(8) {
            0 => rng.next() as u32,
            _ => rng.pick(&[0u32, 0, 1, 3, 5, 0xf5, 0x105]),
        },
        proto,
        sport,
        dport,
    }
}

fn martian(a: u32) -> bool {
    let first = a >> 24;
    first == 0 || first == 127 || first >= 224
}

impl Query {
    /// The iproute2 command, without `ip`.
    pub fn command(&self, ifaces: &[Iface]) -> String {
        let proto = match self.proto {
            6 => "tcp",
            17 => "udp",
            _ => "icmp",
        };
        let ports = if self.proto == 1 {
            String::new()
        } else {
            format!(" sport {} dport {}", self.sport, self.dport)
        };
        format!(
            "route get {} from {} iif {} tos {:#04x} mark {:#x} ipproto {proto}{ports}",
            self.dst, self.src, ifaces[self.iif].name, self.tos, self.mark
        )
    }
}
