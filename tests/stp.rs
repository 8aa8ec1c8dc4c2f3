//! Spanning tree in virtual time: `Stp` instances wired by virtual links (each BPDU a bridge
//! sends arrives at the other end of its link 1 ms later), the clock advanced to the next
//! event. Triangles and rings converge to one blocked port per loop with the lowest bridge
//! identifier as root; a broken link reconverges (RSTP in milliseconds by proposal and
//! agreement, 802.1D in twice the forward delay); priorities and costs move the root and the
//! blocked port as 802.1D-2004 says; an 802.1D-only neighbour makes a port fall back.

mod common;

use std::time::Duration;

use shoal::switch::stp::{BridgeConfig, PortConfig, PortState, Role, Stp, Version};
use shoal::time::Instant;

/// A bridge's port: (bridge, port).
type End = (usize, usize);

const DELAY: Duration = Duration::from_millis(1);

fn mac(n: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, n as u8 + 1]
}

/// Bridges, the links between their ports, and the BPDUs in flight.
struct Net {
    bridges: Vec<Stp>,
    /// (bridge, port) pairs, and whether the link is up.
    links: Vec<(End, End, bool)>,
    flight: Vec<(Instant, usize, usize, Vec<u8>)>,
    now: Instant,
    /// When a port last changed role or state.
    last_change: Instant,
    snapshot: Vec<(Role, PortState)>,
    flushes: usize,
    /// Moments at which the forwarding ports closed a loop (a storm would start).
    loops: usize,
}

impl Net {
    fn new(bridges: Vec<(BridgeConfig, Vec<PortConfig>)>, links: &[(End, End)]) -> Net {
        let now = Instant::ZERO;
        let mut net = Net {
            bridges: bridges
                .into_iter()
                .map(|(b, p)| Stp::new(b, p, now))
                .collect(),
            links: links.iter().map(|&(a, b)| (a, b, true)).collect(),
            flight: Vec::new(),
            now,
            last_change: now,
            snapshot: Vec::new(),
            flushes: 0,
            loops: 0,
        };
        net.snapshot = net.states();
        net
    }

    /// `n` bridges with `ports` default ports each and default timers.
    fn uniform(n: usize, ports: usize, links: &[(End, End)]) -> Net {
        Net::new(
            (0..n)
                .map(|i| {
                    (
                        BridgeConfig::new(mac(i)),
                        vec![PortConfig::default(); ports],
                    )
                })
                .collect(),
            links,
        )
    }

    /// A ring: bridge i's port 1 to bridge i+1's port 0.
    fn ring(n: usize, version: Version) -> Net {
        let links: Vec<_> = (0..n).map(|i| ((i, 1), ((i + 1) % n, 0))).collect();
        Net::new(
            (0..n)
                .map(|i| {
                    let mut b = BridgeConfig::new(mac(i));
                    b.version = version;
                    (b, vec![PortConfig::default(); 2])
                })
                .collect(),
            &links,
        )
    }

    fn states(&self) -> Vec<(Role, PortState)> {
        self.bridges
            .iter()
            .flat_map(|b| (0..b.ports()).map(|p| (b.role(p), b.state(p))))
            .collect()
    }

    fn peer(&self, b: usize, p: usize) -> Option<(usize, usize)> {
        self.links.iter().find_map(|&(x, y, up)| match up {
            true if x == (b, p) => Some(y),
            true if y == (b, p) => Some(x),
            _ => None,
        })
    }

    /// Note role and state changes and loops; with `STP_TRACE` set in the environment, print
    /// every change (and the bridges at a loop) for debugging.
    fn observe(&mut self) {
        let s = self.states();
        if s != self.snapshot {
            if std::env::var("STP_TRACE").is_ok() {
                println!(
                    "t={:?} {:?}",
                    self.now,
                    s.iter()
                        .map(|(r, st)| format!(
                            "{}{}",
                            &format!("{r:?}")[..2],
                            &format!("{st:?}")[..2]
                        ))
                        .collect::<Vec<_>>()
                );
            }
            self.snapshot = s;
            self.last_change = self.now;
            if self.forwarding_loop() {
                self.loops += 1;
                if std::env::var("STP_TRACE").is_ok() {
                    println!("LOOP at {:?}", self.now);
                    for b in &self.bridges {
                        println!("{}", b.status());
                    }
                }
            }
        }
        for b in &mut self.bridges {
            while b.take_flush().is_some() {
                self.flushes += 1;
            }
        }
    }

    /// Whether the links that forward at both ends close a cycle (union-find over bridges).
    fn forwarding_loop(&self) -> bool {
        let mut parent: Vec<usize> = (0..self.bridges.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                x = parent[x];
            }
            x
        }
        let fwd = |(b, p): End| self.bridges[b].state(p) == PortState::Forwarding;
        for &(a, b, up) in &self.links {
            if !up || !fwd(a) || !fwd(b) {
                continue;
            }
            let (ra, rb) = (find(&mut parent, a.0), find(&mut parent, b.0));
            if ra == rb {
                return true;
            }
            parent[ra] = rb;
        }
        false
    }

    /// Run until `until`.
    fn run_until(&mut self, until: Instant) {
        let mut buf = [0u8; 1514];
        loop {
            for b in 0..self.bridges.len() {
                while let Some((p, n)) = self.bridges[b].poll_transmit(&mut buf) {
                    if let Some((pb, pp)) = self.peer(b, p) {
                        self.flight
                            .push((self.now + DELAY, pb, pp, buf[..n].to_vec()));
                    }
                }
            }
            self.observe();
            let next = self
                .flight
                .iter()
                .map(|f| f.0)
                .chain(self.bridges.iter().filter_map(|b| b.poll_timeout()))
                .min()
                .expect("bridges always have a timer");
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            let now = self.now;
            let due: Vec<_> = {
                let (due, rest) = self.flight.drain(..).partition(|f| f.0 <= now);
                self.flight = rest;
                due
            };
            for (_, b, p, frame) in due {
                self.bridges[b].receive(now, p, &frame);
            }
            for b in &mut self.bridges {
                if b.poll_timeout().is_some_and(|t| t <= now) {
                    b.handle_timeout(now);
                }
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Take link `i` down (both ends see it at once).
    fn cut(&mut self, i: usize) {
        let (a, b, _) = self.links[i];
        self.links[i].2 = false;
        let now = self.now;
        self.bridges[a.0].set_link(now, a.1, false);
        self.bridges[b.0].set_link(now, b.1, false);
        self.flight.retain(|f| (f.1, f.2) != a && (f.1, f.2) != b);
    }

    /// Bring link `i` back up.
    fn heal(&mut self, i: usize) {
        let (a, b, _) = self.links[i];
        self.links[i].2 = true;
        let now = self.now;
        self.bridges[a.0].set_link(now, a.1, true);
        self.bridges[b.0].set_link(now, b.1, true);
    }

    /// Ports that are blocked (Alternate or Backup, discarding), as (bridge, port).
    fn blocked(&self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (i, b) in self.bridges.iter().enumerate() {
            for p in 0..b.ports() {
                if matches!(b.role(p), Role::Alternate | Role::Backup) {
                    assert_eq!(b.state(p), PortState::Discarding, "{}", b.status());
                    v.push((i, p));
                }
            }
        }
        v
    }

    /// Every bridge agrees on `root`; every port on an up link is either blocked or
    /// forwarding as Root or Designated; each non-root bridge has exactly one Root port.
    fn assert_tree(&self, root: usize) {
        assert_eq!(
            self.loops, 0,
            "the forwarding ports closed a loop at some point"
        );
        let want = self.bridges[root].bridge_id();
        for (i, b) in self.bridges.iter().enumerate() {
            assert_eq!(b.root_id(), want, "bridge {i}: {}", b.status());
            let roots = (0..b.ports()).filter(|&p| b.role(p) == Role::Root).count();
            assert_eq!(roots, usize::from(i != root), "bridge {i}: {}", b.status());
            for p in 0..b.ports() {
                if self.peer(i, p).is_none() {
                    continue;
                }
                match b.role(p) {
                    Role::Root | Role::Designated => {
                        assert_eq!(
                            b.state(p),
                            PortState::Forwarding,
                            "bridge {i}: {}",
                            b.status()
                        )
                    }
                    Role::Alternate | Role::Backup => {}
                    Role::Disabled => panic!("bridge {i} port {p} disabled on an up link"),
                }
            }
        }
    }

    fn since(&self, t: Instant) -> Duration {
        self.last_change - t
    }
}

fn triangle() -> Net {
    Net::uniform(
        3,
        2,
        &[((0, 0), (1, 0)), ((1, 1), (2, 0)), ((2, 1), (0, 1))],
    )
}

#[test]
fn triangle_converges_with_one_blocked_port_in_milliseconds() {
    let mut net = triangle();
    net.run_for(Duration::from_secs(60));
    net.assert_tree(0);
    // Bridges 1 and 2 are both one hop from the root; on their link, bridge 1 (the lower
    // identifier) is designated, so bridge 2 blocks its port towards bridge 1.
    assert_eq!(net.blocked(), vec![(2, 0)]);
    let t = net.since(Instant::ZERO);
    println!("triangle converged at {t:?} (virtual)");
    assert!(t < Duration::from_secs(1), "{t:?}");
}

#[test]
fn ring_of_six_converges_and_reconverges_fast_after_a_link_failure() {
    let mut net = Net::ring(6, Version::Rstp);
    net.run_for(Duration::from_secs(60));
    net.assert_tree(0);
    // The loop is blocked opposite the root: bridge 3 is 3 hops away both ways and takes
    // the path through bridge 2 (the lower identifier); on its link to bridge 4, bridge 4
    // (2 hops) is designated, so bridge 3 blocks its port towards bridge 4.
    assert_eq!(net.blocked(), vec![(3, 1)]);
    println!(
        "ring of 6 converged at {:?} (virtual)",
        net.since(Instant::ZERO)
    );
    // Break the link between bridges 1 and 2: the blocked port must take over.
    let t0 = net.now;
    net.cut(1);
    net.run_for(Duration::from_secs(60));
    net.assert_tree(0);
    assert!(net.blocked().is_empty(), "{:?}", net.blocked());
    let t = net.since(t0);
    println!(
        "ring of 6 reconverged {t:?} after a link failure (virtual), {} flushes",
        net.flushes
    );
    assert!(t < Duration::from_secs(1), "{t:?}");
    assert!(net.flushes > 0);
    // The link comes back: the loop closes again and the same port blocks.
    let t0 = net.now;
    net.heal(1);
    net.run_for(Duration::from_secs(60));
    net.assert_tree(0);
    assert_eq!(net.blocked(), vec![(3, 1)]);
    let t = net.since(t0);
    println!("ring of 6 reconverged {t:?} after the link came back (virtual)");
    assert!(t < Duration::from_secs(1), "{t:?}");
}

#[test]
fn stp_ring_converges_on_timers_and_reconverges_in_twice_forward_delay() {
    let mut net = Net::ring(4, Version::Stp);
    net.run_for(Duration::from_secs(120));
    net.assert_tree(0);
    assert_eq!(net.blocked().len(), 1, "{:?}", net.blocked());
    let t = net.since(Instant::ZERO);
    println!("802.1D ring of 4 converged at {t:?} (virtual)");
    assert!(t >= Duration::from_secs(30), "{t:?}");
    let t0 = net.now;
    net.cut(0);
    net.run_for(Duration::from_secs(120));
    net.assert_tree(0);
    assert!(net.blocked().is_empty());
    let t = net.since(t0);
    println!("802.1D ring of 4 reconverged {t:?} after a link failure (virtual)");
    assert!(
        t >= Duration::from_secs(29) && t <= Duration::from_secs(32),
        "{t:?}"
    );
}

#[test]
fn bridge_priority_chooses_the_root() {
    let mut configs: Vec<_> = (0..5)
        .map(|i| (BridgeConfig::new(mac(i)), vec![PortConfig::default(); 2]))
        .collect();
    configs[3].0.priority = 4096;
    let links: Vec<_> = (0..5).map(|i| ((i, 1), ((i + 1) % 5, 0))).collect();
    let mut net = Net::new(configs, &links);
    net.run_for(Duration::from_secs(30));
    net.assert_tree(3);
    // Opposite the root in a ring of 5: bridges 0 and 1 are two hops away; bridge 0 is
    // designated on their link (lower identifier), so bridge 1 blocks its port 0.
    assert_eq!(net.blocked(), vec![(1, 0)]);
    assert_eq!(net.bridges[3].status().root_port, None);
    assert_eq!(net.bridges[1].status().root_path_cost, 40_000);
}

#[test]
fn path_cost_moves_the_blocked_port() {
    // The triangle again, with the link from the root to bridge 2 made expensive: bridge 2
    // now reaches the root through bridge 1, and blocks its port towards the root.
    let mut configs: Vec<_> = (0..3)
        .map(|i| (BridgeConfig::new(mac(i)), vec![PortConfig::default(); 2]))
        .collect();
    configs[2].1[1].cost = 100_000;
    let mut net = Net::new(
        configs,
        &[((0, 0), (1, 0)), ((1, 1), (2, 0)), ((2, 1), (0, 1))],
    );
    net.run_for(Duration::from_secs(30));
    net.assert_tree(0);
    assert_eq!(net.blocked(), vec![(2, 1)]);
    assert_eq!(net.bridges[2].role(0), Role::Root);
    assert_eq!(net.bridges[2].status().root_path_cost, 40_000);
}

#[test]
fn port_priority_breaks_a_tie_between_parallel_links() {
    // Two bridges joined twice: the non-root bridge's root port is the one facing the root's
    // port with the better (lower) port identifier; raising priority on it flips the choice.
    for (prio, want_root_port) in [(128, 0), (16, 1)] {
        let mut configs: Vec<_> = (0..2)
            .map(|i| (BridgeConfig::new(mac(i)), vec![PortConfig::default(); 2]))
            .collect();
        configs[0].1[1].priority = prio;
        let mut net = Net::new(configs, &[((0, 0), (1, 0)), ((0, 1), (1, 1))]);
        net.run_for(Duration::from_secs(30));
        net.assert_tree(0);
        assert_eq!(net.bridges[1].role(want_root_port), Role::Root);
        assert_eq!(net.blocked(), vec![(1, 1 - want_root_port)]);
    }
}

#[test]
fn an_stp_neighbour_makes_the_port_fall_back() {
    let mut configs: Vec<_> = (0..4)
        .map(|i| (BridgeConfig::new(mac(i)), vec![PortConfig::default(); 2]))
        .collect();
    configs[2].0.version = Version::Stp;
    let links: Vec<_> = (0..4).map(|i| ((i, 1), ((i + 1) % 4, 0))).collect();
    let mut net = Net::new(configs, &links);
    net.run_for(Duration::from_secs(60));
    net.assert_tree(0);
    assert_eq!(net.blocked().len(), 1);
    let st1 = net.bridges[1].status();
    let st3 = net.bridges[3].status();
    assert!(
        !st1.ports[1].rstp,
        "bridge 1 port 1 faces the 802.1D bridge: {st1}"
    );
    assert!(
        !st3.ports[0].rstp,
        "bridge 3 port 0 faces the 802.1D bridge: {st3}"
    );
    assert!(st1.ports[0].rstp && st3.ports[1].rstp);
    assert!(st1.ports[1].counters.tx_config > 0 && st1.ports[1].counters.rx_config > 0);
    // The 802.1D bridge heard RST BPDUs before its neighbours migrated: it counted and
    // ignored them, and stays 802.1D.
    assert!(net.bridges[2].status().ports[0].counters.rx_rst > 0);
    assert!(net.bridges[2].status().ports.iter().all(|p| !p.rstp));

    // Break the link between bridges 0 and 1: the 802.1D bridge's Alternate port (towards
    // bridge 3) becomes its root port after twice the forward delay, and its topology change
    // goes to bridge 3 as a TCN, which bridge 3 acknowledges (so the TCNs stop).
    let t0 = net.now;
    net.cut(0);
    net.run_for(Duration::from_secs(120));
    net.assert_tree(0);
    assert!(net.blocked().is_empty());
    assert_eq!(net.bridges[2].role(1), Role::Root);
    let t = net.since(t0);
    println!("ring with an 802.1D bridge reconverged {t:?} after a link failure (virtual)");
    assert!(t <= Duration::from_secs(32), "{t:?}");
    let tcn_out = net.bridges[2].status().ports[1].counters.tx_tcn;
    let tcn_in = net.bridges[3].status().ports[0].counters.rx_tcn;
    assert!((1..=2).contains(&tcn_out), "{tcn_out} TCNs sent");
    assert_eq!(tcn_in, tcn_out);
    assert!(net.bridges.iter().all(|b| b.status().unsettled == 0));
}

#[test]
fn edge_port_forwards_at_once_until_it_hears_a_bpdu() {
    let mut configs: Vec<_> = (0..2)
        .map(|i| (BridgeConfig::new(mac(i)), vec![PortConfig::default(); 2]))
        .collect();
    configs[1].1[1].edge = true;
    let mut net = Net::new(configs, &[((0, 0), (1, 0))]);
    assert_eq!(net.bridges[1].state(1), PortState::Forwarding);
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.bridges[1].state(1), PortState::Forwarding);
    assert_eq!(net.bridges[1].role(1), Role::Designated);
    assert!(net.bridges[1].status().ports[1].edge);
    // A bridge appears behind the edge port: it is no longer an edge port, and it syncs.
    net.links.push(((1, 1), (0, 1), true));
    net.run_for(Duration::from_secs(10));
    assert!(!net.bridges[1].status().ports[1].edge);
    net.assert_tree(0);
    assert_eq!(net.blocked(), vec![(1, 1)]);
}

#[test]
fn a_port_looped_to_its_own_bridge_is_backup() {
    // Bridge 1's ports 1 and 2 are joined to each other: port 2 hears port 1's BPDUs.
    let mut net = Net::uniform(2, 3, &[((0, 0), (1, 0)), ((1, 1), (1, 2))]);
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.bridges[1].role(1), Role::Designated);
    assert_eq!(net.bridges[1].role(2), Role::Backup);
    assert_eq!(net.blocked(), vec![(1, 2)]);
}

#[test]
fn malformed_frames_are_counted_and_ignored() {
    let mut net = triangle();
    net.run_for(Duration::from_secs(10));
    let before = net.states();
    let now = net.now;
    let b = &mut net.bridges[1];
    for f in [
        &[][..],
        &[0x01, 0x80, 0xc2, 0, 0, 0][..],
        &[
            0x01, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 9, 0, 0x26, 0x42, 0x42, 0x03, 0, 0, 0,
        ][..],
        &[0xffu8; 64][..],
    ] {
        b.receive(now, 0, f);
    }
    b.receive(now, 99, &[0u8; 60]);
    assert_eq!(b.status().ports[0].counters.rx_malformed, 4);
    assert_eq!(net.states(), before);
}

#[test]
fn a_lost_root_is_aged_out_when_bpdus_stop() {
    // Bridge 1 stops hearing the root without a link-down (a one-way failure): after three
    // hellos its information ages out and it reconverges on its own.
    let mut net = Net::uniform(2, 1, &[((0, 0), (1, 0))]);
    net.run_for(Duration::from_secs(10));
    net.assert_tree(0);
    net.links[0].2 = false; // frames stop, links stay up
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.bridges[1].root_id(), net.bridges[1].bridge_id());
    assert_eq!(net.bridges[1].role(0), Role::Designated);
}

/// The Linux side of the interop test: `cat` a sysfs file of br0 inside the namespace.
fn linux(ns: &common::netns::NetNs, file: &str) -> String {
    let out = ns
        .run(&["cat", &format!("/sys/class/net/br0/{file}")])
        .expect("read the Linux bridge's sysfs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Linux port states (`/sys/class/net/br0/brif/*/state`): 3 is forwarding, 4 blocking.
const LINUX_FORWARDING: &str = "3";
const LINUX_BLOCKING: &str = "4";

/// Two shoal bridges A (root, priority 4096) and B and a Linux kernel bridge L (STP on) in a
/// ring, each link a veth pair in one namespace; A and B run here over AF_PACKET sockets on
/// the real clock. L's ports cost 50000, so B is designated on the B–L link and L blocks its
/// port l1 there: the Linux bridge must understand our configuration BPDUs. Then the A–L link
/// breaks, and L must unblock l1 (its new root port) after listening and learning.
#[test]
fn interop_with_the_linux_bridge_in_a_ring() {
    use common::netns::{NetNs, skip_unless_root};
    use common::raw::RawSocket;
    if skip_unless_root("interop_with_the_linux_bridge_in_a_ring") {
        return;
    }
    let ns = NetNs::new("stp").expect("namespace");
    let ip = |args: &[&str]| ns.ip(args).expect("ip");
    for (x, y) in [("a0", "b0"), ("b1", "l1"), ("a1", "l2")] {
        ip(&["link", "add", x, "type", "veth", "peer", "name", y]);
    }
    ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "stp_state",
        "1",
        "forward_delay",
        "400",
        "max_age",
        "600",
        "hello_time",
        "200",
    ]);
    for dev in ["l1", "l2"] {
        ip(&["link", "set", dev, "master", "br0"]);
        ns.run(&["bridge", "link", "set", "dev", dev, "cost", "50000"])
            .expect("port cost");
    }
    for dev in ["a0", "b0", "b1", "l1", "a1", "l2", "br0"] {
        ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6=1"))
            .expect("sysctl");
        ip(&["link", "set", dev, "up"]);
    }
    // Timers as the root advertises them and Linux adopts: hello 2 s, max age 6 s, forward
    // delay 4 s (the smallest consistent set, 802.1D-2004 17.14).
    let config = |n: usize, priority: u16| BridgeConfig {
        priority,
        max_age: Duration::from_secs(6),
        forward_delay: Duration::from_secs(4),
        ..BridgeConfig::new(mac(n))
    };
    let start = std::time::Instant::now();
    let clock = || Instant::from_nanos(start.elapsed().as_nanos() as u64);
    let mut bridges = [
        Stp::new(config(0, 4096), vec![PortConfig::default(); 2], clock()),
        Stp::new(config(1, 0x8000), vec![PortConfig::default(); 2], clock()),
    ];
    let socks: Vec<Vec<RawSocket>> = [["a0", "a1"], ["b0", "b1"]]
        .iter()
        .map(|devs| {
            devs.iter()
                .map(|d| RawSocket::open(&ns, d).expect("socket"))
                .collect()
        })
        .collect();
    let mut down = [[false; 2]; 2];
    // Drive A and B until `done` holds (checked every 200 ms) or `limit` passes.
    let drive = |bridges: &mut [Stp; 2],
                 down: &[[bool; 2]; 2],
                 limit: Duration,
                 done: &dyn Fn(&[Stp; 2]) -> bool| {
        let t0 = std::time::Instant::now();
        let mut buf = [0u8; 1514];
        let mut last_check = t0;
        loop {
            let now = clock();
            for (b, stp) in bridges.iter_mut().enumerate() {
                for (p, s) in socks[b].iter().enumerate() {
                    while let Ok(Some(f)) = s.recv(Duration::ZERO) {
                        if f.incoming
                            && !down[b][p]
                            && f.bytes.starts_with(&shoal::switch::stp::GROUP)
                        {
                            stp.receive(now, p, &f.bytes);
                        }
                    }
                }
                if stp.poll_timeout().is_some_and(|t| t <= now) {
                    stp.handle_timeout(now);
                }
                while let Some((p, n)) = stp.poll_transmit(&mut buf) {
                    if !down[b][p] {
                        let _ = socks[b][p].send(&buf[..n]);
                    }
                }
            }
            if last_check.elapsed() >= Duration::from_millis(200) {
                last_check = std::time::Instant::now();
                if done(bridges) {
                    return Some(t0.elapsed());
                }
            }
            if t0.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let root = bridges[0].bridge_id().to_string();
    let state = |dev: &str| linux(&ns, &format!("brif/{dev}/state"));
    let converged = |b: &[Stp; 2]| {
        linux(&ns, "bridge/root_id") == root
            && state("l1") == LINUX_BLOCKING
            && state("l2") == LINUX_FORWARDING
            && (0..2).all(|i| (0..2).all(|p| b[i].state(p) == PortState::Forwarding))
    };
    let took = drive(&mut bridges, &down, Duration::from_secs(60), &converged);
    let report = |b: &[Stp; 2]| {
        format!(
            "A: {}\nB: {}\nLinux: root {} l1 {} l2 {}",
            b[0].status(),
            b[1].status(),
            linux(&ns, "bridge/root_id"),
            state("l1"),
            state("l2")
        )
    };
    let took = took.unwrap_or_else(|| panic!("no convergence in 60 s\n{}", report(&bridges)));
    println!(
        "ring with the Linux bridge converged in {took:?} (wall clock)\n{}",
        report(&bridges)
    );
    assert_eq!(bridges[1].role(1), Role::Designated);
    assert!(
        !bridges[0].status().ports[1].rstp,
        "A's port to Linux fell back to 802.1D"
    );
    assert!(
        !bridges[1].status().ports[1].rstp,
        "B's port to Linux fell back to 802.1D"
    );
    assert!(bridges[0].status().ports[0].rstp, "A and B talk RSTP");

    // Break the A–L link.
    ip(&["link", "set", "a1", "down"]);
    down[0][1] = true;
    bridges[0].set_link(clock(), 1, false);
    let reconverged = |b: &[Stp; 2]| {
        linux(&ns, "bridge/root_id") == root
            && state("l1") == LINUX_FORWARDING
            && b[1].state(1) == PortState::Forwarding
            && b[0].state(0) == PortState::Forwarding
    };
    let took = drive(&mut bridges, &down, Duration::from_secs(60), &reconverged)
        .unwrap_or_else(|| panic!("no reconvergence in 60 s\n{}", report(&bridges)));
    println!(
        "after the A–L link broke, reconverged in {took:?} (wall clock)\n{}",
        report(&bridges)
    );
    // root_port prints in decimal, port_no in hex.
    let l1 = linux(&ns, "brif/l1/port_no");
    let l1 = u16::from_str_radix(l1.trim_start_matches("0x"), 16).expect("port_no");
    assert_eq!(linux(&ns, "bridge/root_port"), l1.to_string());
    assert_eq!(bridges[1].role(1), Role::Designated);

    // Mend it: the ring closes and Linux blocks l1 again.
    ip(&["link", "set", "a1", "up"]);
    down[0][1] = false;
    bridges[0].set_link(clock(), 1, true);
    let took = drive(&mut bridges, &down, Duration::from_secs(60), &converged)
        .unwrap_or_else(|| panic!("no convergence after mending in 60 s\n{}", report(&bridges)));
    println!("after the A–L link came back, converged in {took:?} (wall clock)");

    // Break the A–B link instead: B's only way to the root is now through Linux, whose port
    // l1 holds B's old information until it ages out (Max Age), then becomes designated and
    // forwards after listening and learning; B takes it as its root port.
    ip(&["link", "set", "a0", "down"]);
    down[0][0] = true;
    down[1][0] = true;
    bridges[0].set_link(clock(), 0, false);
    bridges[1].set_link(clock(), 0, false);
    let rerouted = |b: &[Stp; 2]| {
        linux(&ns, "bridge/root_id") == root
            && state("l1") == LINUX_FORWARDING
            && state("l2") == LINUX_FORWARDING
            && b[1].role(1) == Role::Root
            && b[1].state(1) == PortState::Forwarding
            && b[0].state(1) == PortState::Forwarding
    };
    let took = drive(&mut bridges, &down, Duration::from_secs(60), &rerouted)
        .unwrap_or_else(|| panic!("no reconvergence in 60 s\n{}", report(&bridges)));
    println!(
        "after the A–B link broke, reconverged in {took:?} (wall clock)\n{}",
        report(&bridges)
    );
    assert_eq!(bridges[1].root_id(), bridges[0].bridge_id());
}

#[test]
fn every_link_failure_in_an_rstp_ring_reconverges_in_under_a_second() {
    let mut worst = Duration::ZERO;
    for link in 0..6 {
        let mut net = Net::ring(6, Version::Rstp);
        net.run_for(Duration::from_secs(30));
        let t0 = net.now;
        net.cut(link);
        net.run_for(Duration::from_secs(60));
        net.assert_tree(0);
        // Link 3 holds the blocked port: cutting it leaves a tree with nothing to block.
        assert!(net.blocked().is_empty(), "link {link}: {:?}", net.blocked());
        let t = net.since(t0);
        assert!(t < Duration::from_secs(1), "link {link}: {t:?}");
        worst = worst.max(t);
    }
    println!("ring of 6, any one link cut: reconverged within {worst:?} (virtual)");
}

/// One end of a random link: port path cost and port priority.
type PortEnd = (u32, u8);

/// A random connected topology: bridge priorities, and links with a cost and priority for
/// each end.
#[derive(Debug, Clone)]
struct Random {
    priorities: Vec<u16>,
    links: Vec<(usize, usize, [PortEnd; 2])>,
}

fn random_topology() -> impl proptest::strategy::Strategy<Value = Random> {
    use proptest::prelude::*;
    let end = (
        prop_oneof![Just(2_000u32), Just(20_000), Just(20_000), Just(200_000)],
        prop_oneof![Just(128u8), Just(128), Just(64)],
    );
    (2usize..=6)
        .prop_flat_map(move |n| {
            let tree = proptest::collection::vec((0usize..n, end.clone(), end.clone()), n - 1);
            let extra = proptest::collection::vec((0..n, 0..n, end.clone(), end.clone()), 0..=4);
            let prio = proptest::collection::vec(
                prop_oneof![Just(0x8000u16), Just(0x8000), Just(0x1000), Just(0x2000)],
                n,
            );
            (Just(n), tree, extra, prio)
        })
        .prop_map(|(_, tree, extra, priorities)| {
            let mut links = Vec::new();
            for (j, (i, a, b)) in tree.into_iter().enumerate() {
                // Bridge j+1 joins some bridge before it: the graph is connected.
                links.push((i % (j + 1), j + 1, [a, b]));
            }
            for (i, j, a, b) in extra {
                if i != j {
                    links.push((i, j, [a, b]));
                }
            }
            Random { priorities, links }
        })
}

/// The roles 802.1D-2004 17.6 gives every port, computed directly: root = lowest bridge id,
/// root path costs by shortest paths (a port's cost counts where the port receives), each
/// bridge's root port the best (cost, designated bridge, designated port, own port), the
/// designated end of each link the one with the better (root cost, bridge, port).
fn reference_roles(
    t: &Random,
    ports: &[Vec<(u32, u8)>],
    ends: &[[(usize, usize); 2]],
) -> Vec<Vec<Role>> {
    use shoal::switch::stp::BridgeId;
    let n = t.priorities.len();
    let id: Vec<u64> = (0..n)
        .map(|i| BridgeId::new(t.priorities[i], mac(i)).0)
        .collect();
    let pid = |b: usize, p: usize| (u16::from(ports[b][p].1 & 0xf0) << 8) | (p as u16 + 1);
    let root = (0..n).min_by_key(|&i| id[i]).expect("bridges");
    let mut cost = vec![u64::MAX; n];
    cost[root] = 0;
    for _ in 0..n {
        for e in ends {
            for (x, y) in [(e[0], e[1]), (e[1], e[0])] {
                if cost[y.0] != u64::MAX {
                    let c = cost[y.0] + u64::from(ports[x.0][x.1].0);
                    cost[x.0] = cost[x.0].min(c);
                }
            }
        }
    }
    let mut roles: Vec<Vec<Role>> = ports
        .iter()
        .map(|p| vec![Role::Alternate; p.len()])
        .collect();
    for b in (0..n).filter(|&b| b != root) {
        let best = ends
            .iter()
            .flat_map(|e| [(e[0], e[1]), (e[1], e[0])])
            .filter(|(x, _)| x.0 == b)
            .min_by_key(|(x, y)| {
                (
                    cost[y.0] + u64::from(ports[b][x.1].0),
                    id[y.0],
                    pid(y.0, y.1),
                    pid(b, x.1),
                )
            })
            .expect("connected");
        roles[b][best.0.1] = Role::Root;
    }
    for e in ends {
        let v = |x: (usize, usize)| (cost[x.0], id[x.0], pid(x.0, x.1));
        let d = if v(e[0]) < v(e[1]) { e[0] } else { e[1] };
        roles[d.0][d.1] = Role::Designated;
    }
    roles
}

/// One case of the property below: build `t`, check the tree, cut link `cut` (if the rest
/// stays connected) and check again.
fn check_random(t: &Random, cut: usize) {
    let n = t.priorities.len();
    let mut ports: Vec<Vec<(u32, u8)>> = vec![Vec::new(); n];
    let mut ends = Vec::new();
    for &(a, b, cfg) in &t.links {
        ports[a].push(cfg[0]);
        ports[b].push(cfg[1]);
        ends.push([(a, ports[a].len() - 1), (b, ports[b].len() - 1)]);
    }
    let configs = (0..n)
        .map(|i| {
            let mut b = BridgeConfig::new(mac(i));
            b.priority = t.priorities[i];
            let p = ports[i]
                .iter()
                .map(|&(cost, priority)| PortConfig {
                    cost,
                    priority,
                    edge: false,
                })
                .collect();
            (b, p)
        })
        .collect();
    let links: Vec<_> = ends.iter().map(|e| (e[0], e[1])).collect();
    let mut net = Net::new(configs, &links);
    net.run_for(Duration::from_secs(60));
    let root = (0..n)
        .min_by_key(|&i| net.bridges[i].bridge_id())
        .expect("bridges");
    net.assert_tree(root);
    let want = reference_roles(t, &ports, &ends);
    for (b, roles) in want.iter().enumerate() {
        for (p, role) in roles.iter().enumerate() {
            assert_eq!(
                net.bridges[b].role(p),
                *role,
                "bridge {} port {}\n{}",
                b,
                p,
                net.bridges[b].status()
            );
        }
    }
    assert!(net.since(Instant::ZERO) < Duration::from_secs(10));

    // Cut one link, if the rest stays connected: the tree must reconverge to what the
    // standard defines for the remaining links.
    let cut = cut % ends.len();
    let rest: Vec<_> = ends
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != cut)
        .map(|(_, e)| *e)
        .collect();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            x = parent[x];
        }
        x
    }
    for e in &rest {
        let (a, b) = (find(&mut parent, e[0].0), find(&mut parent, e[1].0));
        parent[a] = b;
    }
    let r0 = find(&mut parent, 0);
    if (0..n).any(|i| find(&mut parent, i) != r0) {
        return;
    }
    let t0 = net.now;
    net.cut(cut);
    net.run_for(Duration::from_secs(60));
    // When the cut takes away a bridge's path to the root while stale information about that
    // path still circulates in another loop, RSTP counts to infinity (bounded by Max Age)
    // and may forward around that loop meanwhile: a known property of 802.1D-2004 (Myers,
    // Ng and Zhang, "On the count to infinity induced forwarding loops in Ethernet networks",
    // 2006), not of this implementation. Such loops are tolerated here, only here.
    net.loops = 0;
    net.assert_tree(root);
    let mut want = reference_roles(t, &ports, &rest);
    for x in ends[cut] {
        want[x.0][x.1] = Role::Disabled;
    }
    for (b, roles) in want.iter().enumerate() {
        for (p, role) in roles.iter().enumerate() {
            assert_eq!(
                net.bridges[b].role(p),
                *role,
                "after cut {}: bridge {} port {}\n{}",
                cut,
                b,
                p,
                net.bridges[b].status()
            );
        }
    }
    assert!(
        net.since(t0) < Duration::from_secs(30),
        "{:?}",
        net.since(t0)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(256))]

    #[test]
    fn random_topologies_converge_to_the_tree_802_1d_defines(
        t in random_topology(),
        cut in proptest::num::usize::ANY,
    ) {
        check_random(&t, cut);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(256))]

    /// Garbage and hostile BPDUs (any bytes after a valid header, any port) never panic a
    /// bridge, and the state machines always settle.
    #[test]
    fn random_bpdus_never_panic(
        frames in proptest::collection::vec(
            (0usize..3, proptest::collection::vec(proptest::num::u8::ANY, 17..64)),
            1..20,
        )
    ) {
        let mut net = triangle();
        net.run_for(Duration::from_secs(5));
        for (port, mut f) in frames {
            f[..6].copy_from_slice(&shoal::switch::stp::GROUP);
            f[12] = 0;
            f[13] %= 48;
            f[14..17].copy_from_slice(&[0x42, 0x42, 0x03]);
            if f.len() > 17 {
                f[17] = 0;
            }
            if f.len() > 18 {
                f[18] = 0;
            }
            let now = net.now;
            net.bridges[1].receive(now, port, &f);
            net.run_for(Duration::from_millis(300));
        }
        net.run_for(Duration::from_secs(30));
        proptest::prop_assert!(net.bridges.iter().all(|b| b.status().unsettled == 0));
    }
}
