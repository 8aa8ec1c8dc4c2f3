//! The test bench in network namespaces: a traffic namespace where two shoal hosts send and
//! sink UDP over AF_XDP on veth ends, and between them the path under test — Linux routers
//! (one namespace each, `ip_forward=1`, veth between them) or a shoal process whose end
//! routers are bound to the veth ends (AF_XDP) or to TAP devices.
//!
//! ```text
//!  traffic ns                 path under test                         traffic ns
//!  h1 10.1.0.2 ─ t1 ═ in ─ [router 1] ─ … ─ [router n] ─ out ═ t2 ─ h2 10.2.0.2
//! ```
//!
//! The generator runs on core 0, the path under test on core 1 (Linux's by steering its
//! receive processing there with RPS; shoal's by pinning its worker).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::procstat;
use super::report::Sample;
use crate::engine::{Engine, EngineConfig, FlowSpec, Network, NodeId};
use crate::netns::NetNs;
use crate::port::{Mode, PortSpec};
use crate::probe::PingReply;
use crate::router::{Config, IfAddr, Router};
use crate::wire::ethernet;

/// UDP port the flows go to.
pub const PORT: u16 = 5001;
/// Core of the generator and of the path under test.
pub const GEN_CORE: usize = 0;
const DUT_CORE: usize = 1;
/// MAC of the shoal router's ingress interface (kept on a TAP; a NIC's own on AF_XDP).
const SHOAL_IN_MAC: &str = "02:5b:00:00:00:01";

/// What forwards between the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Nothing: t1 and t2 are one veth pair, for the generator's ceiling.
    Direct,
    /// Linux routers, one namespace each.
    Kernel,
    /// A shoal process, its end routers on AF_XDP.
    ShoalXdp,
    /// A shoal process, its end routers on TAP devices.
    ShoalTap,
}

impl Path {
    /// Name in the table.
    pub fn label(self) -> &'static str {
        match self {
            Path::Direct => "generator",
            Path::Kernel => "kernel",
            Path::ShoalXdp => "shoal afxdp",
            Path::ShoalTap => "shoal tap",
        }
    }
}

/// One measurement's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub path: Path,
    /// Routers in the path (ignored for `Direct`).
    pub routers: usize,
    /// Ethernet frame length without FCS.
    pub frame: usize,
    /// Distinct 5-tuples.
    pub flows: u16,
    /// Datagrams per second the generator paces itself to, or `None` for flat out.
    pub rate: Option<u64>,
    /// How long the flows run.
    pub seconds: f64,
}

/// The namespaces and processes of one path; everything goes when it drops.
struct Bench {
    traffic: NetNs,
    /// Linux routers, or the one namespace of the shoal process.
    routers: Vec<NetNs>,
    shoal: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(c) = &mut self.shoal {
            // SIGTERM lets it print its counters and port table (which `SHOAL_BENCH_DEBUG`
            // shows); SIGKILL if it does not go within two seconds.
            super::sys::terminate(c);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A path built and warmed up, with the generator and the sink running (flows off).
pub struct Prepared {
    engine: Engine,
    bench: Bench,
    path: Path,
}

/// Build `run`'s path, start the traffic engine and ping through until the path answers.
pub fn prepare(run: &Run) -> anyhow::Result<Prepared> {
    let bench = build(run)?;
    let dst = if run.path == Path::Direct {
        Ipv4Addr::new(10, 1, 0, 3)
    } else {
        Ipv4Addr::new(10, 2, 0, 2)
    };
    let engine = start_traffic(&bench.traffic, run, dst)?;
    // The sink's copy-mode receive work belongs to the generator's side, wherever the frame
    // was sent from; the shoal path's receive work to its own core.
    pin_napi(&bench.traffic, &["t1", "t2"], GEN_CORE)?;
    if let (Path::ShoalXdp, Some(ns)) = (run.path, bench.routers.first()) {
        pin_napi(ns, &["in", "out"], DUT_CORE)?;
    }
    warm_up(&engine, dst)?;
    Ok(Prepared {
        engine,
        bench,
        path: run.path,
    })
}

impl Prepared {
    /// The traffic namespace.
    pub fn traffic(&self) -> &NetNs {
        &self.bench.traffic
    }

    /// The MAC of a device of the traffic namespace.
    pub fn mac(&self, dev: &str) -> anyhow::Result<String> {
        mac_of(&self.bench.traffic, dev)
    }

    /// The MAC the generator sends to: the first router's ingress (the sink's, direct).
    pub fn ingress_mac(&self) -> anyhow::Result<String> {
        match (self.path, self.bench.routers.first()) {
            (Path::ShoalTap, _) => Ok(SHOAL_IN_MAC.to_owned()),
            (Path::Kernel | Path::ShoalXdp, Some(ns)) => mac_of(ns, "in"),
            _ => self.mac("t2"),
        }
    }

    /// Frames the path has sent out of its last hop so far, from the kernel's counters of the
    /// egress device: the last router's `out` veth (kernel or shoal on AF_XDP), or the sink
    /// side of the TAP `t2`. `None` where there is no path (the ceiling) or no counter.
    pub fn egress_frames(&self) -> Option<u64> {
        let (ns, file) = match self.path {
            Path::Direct => return None,
            Path::ShoalTap => (
                &self.bench.traffic,
                "/sys/class/net/t2/statistics/rx_packets",
            ),
            Path::Kernel | Path::ShoalXdp => (
                self.bench.routers.last()?,
                "/sys/class/net/out/statistics/tx_packets",
            ),
        };
        let out = ns.run(&["cat", file]).ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Stop the traffic engine (after what is in flight has arrived) and tear the path down.
    pub fn finish(self) -> anyhow::Result<crate::engine::Report> {
        std::thread::sleep(Duration::from_millis(200));
        let report = self.engine.stop()?;
        drop(self.bench);
        Ok(report)
    }
}

fn mac_of(ns: &NetNs, dev: &str) -> anyhow::Result<String> {
    let out = ns.run(&["cat", &format!("/sys/class/net/{dev}/address")])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Measure one run: build the path, warm it up, send for `seconds`, tear it down.
pub fn measure(run: &Run) -> anyhow::Result<Sample> {
    let p = prepare(run)?;
    let engine = &p.engine;
    let me = std::process::id();
    let (busy0, own0) = (procstat::machine_busy()?, procstat::process_cpu(me)?);
    let egress0 = p.egress_frames();
    let t0 = Instant::now();
    engine.set_flows(true);
    std::thread::sleep(Duration::from_secs_f64(run.seconds));
    engine.set_flows(false);
    let elapsed = t0.elapsed().as_secs_f64();
    let (busy1, own1) = (procstat::machine_busy()?, procstat::process_cpu(me)?);
    // Frames still in flight leave within the drain `finish` waits for.
    std::thread::sleep(Duration::from_millis(200));
    let forwarded = match (egress0, p.egress_frames()) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64 / elapsed,
        _ => 0.0,
    };
    let report = p.finish()?;
    // Offered is what reached the wire: the generator's port counts what the kernel took.
    let offered = report
        .ports
        .iter()
        .find(|port| port.node == "h1")
        .map_or(report.sent, |port| port.stats.tx);
    let sink = &report.sink;
    let q = |x| sink.latency.quantile(x).unwrap_or(0);
    let path_ticks = (busy1 - busy0).saturating_sub(own1 - own0);
    let cpu_s = path_ticks as f64 / procstat::TICKS_PER_SECOND as f64;
    Ok(Sample {
        offered_pps: offered as f64 / elapsed,
        delivered_pps: sink.received as f64 / elapsed,
        forwarded_pps: forwarded,
        latency_ns: [q(0.5), q(0.99), q(0.999)],
        cpu_s_per_mpkt: if sink.received == 0 || run.path == Path::Direct {
            0.0
        } else {
            cpu_s / (sink.received as f64 / 1e6)
        },
    })
}

/// Build the namespaces, devices and (for shoal) the process of `run`'s path.
fn build(run: &Run) -> anyhow::Result<Bench> {
    let traffic = NetNs::new("sbt")?;
    let mut bench = Bench {
        traffic,
        routers: Vec::new(),
        shoal: None,
        _dir: None,
    };
    let n = run.routers.max(1);
    match run.path {
        Path::Direct => bench.traffic.veth("t1", &bench.traffic, "t2")?,
        Path::Kernel => {
            for i in 0..n {
                let ns = NetNs::new(&format!("sbk{i}"))?;
                ns.sysctl("net.ipv4.ip_forward=1")?;
                bench.routers.push(ns);
            }
            kernel_chain(&bench.traffic, &bench.routers)?;
        }
        Path::ShoalXdp | Path::ShoalTap => {
            let ns = NetNs::new("sbs")?;
            let xdp = run.path == Path::ShoalXdp;
            if xdp {
                bench.traffic.veth("t1", &ns, "in")?;
                bench.traffic.veth("t2", &ns, "out")?;
            }
            let dir = tempfile::tempdir()?;
            let topo = dir.path().join("dut.toml");
            std::fs::write(&topo, shoal_chain(n, xdp))?;
            let child = spawn_shoal(&ns, &topo)?;
            bench.shoal = Some(child);
            bench._dir = Some(dir);
            if !xdp {
                // shoal made the TAPs in its namespace; their far ends go to the traffic side.
                for dev in ["t1", "t2"] {
                    ns.ip(&["link", "set", dev, "netns", &bench.traffic.name])?;
                    bench.traffic.ip(&["link", "set", dev, "up"])?;
                    let off = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
                    bench.traffic.sysctl(&off)?;
                }
            }
            bench.routers.push(ns);
        }
    }
    Ok(bench)
}

/// Wire Linux routers in a line between the traffic namespace's t1 and t2, with addresses,
/// routes both ways, and receive processing steered to the path's core.
fn kernel_chain(traffic: &NetNs, routers: &[NetNs]) -> anyhow::Result<()> {
    let n = routers.len();
    traffic.veth("t1", &routers[0], "in")?;
    traffic.veth("t2", &routers[n - 1], "out")?;
    for i in 0..n - 1 {
        routers[i].veth("out", &routers[i + 1], "in")?;
    }
    let link = |i: usize, host: u8| format!("10.100.{i}.{host}/30");
    for (i, r) in routers.iter().enumerate() {
        let (left, right) = if i == 0 {
            ("10.1.0.1/24".to_owned(), link(0, 1))
        } else {
            (link(i - 1, 2), link(i, 1))
        };
        let right = if i == n - 1 {
            "10.2.0.1/24".to_owned()
        } else {
            right
        };
        r.ip(&["addr", "add", &left, "dev", "in"])?;
        r.ip(&["addr", "add", &right, "dev", "out"])?;
        if i > 0 {
            r.ip(&[
                "route",
                "add",
                "10.1.0.0/24",
                "via",
                &format!("10.100.{}.1", i - 1),
            ])?;
        }
        if i < n - 1 {
            r.ip(&[
                "route",
                "add",
                "10.2.0.0/24",
                "via",
                &format!("10.100.{i}.2"),
            ])?;
        }
        // Forward on the path's core: a veth delivers on the sender's core unless steered.
        let mask = format!("{:x}", 1u32 << DUT_CORE.min(31));
        for dev in ["in", "out"] {
            let file = format!("/sys/class/net/{dev}/queues/rx-0/rps_cpus");
            r.run(&["sh", "-c", &format!("echo {mask} > {file}")])?;
        }
    }
    Ok(())
}

/// A topology of `n` shoal routers in a line, the ends bound to `in` and `out` (AF_XDP) or to
/// TAPs named t1 and t2, the links between them internal.
fn shoal_chain(n: usize, xdp: bool) -> String {
    let attach = |dev: &str, tap: &str| {
        if xdp {
            format!(r#"{{ dev = "{dev}", mode = "afxdp" }}"#)
        } else {
            format!(r#"{{ mode = "tap", tap = "{tap}" }}"#)
        }
    };
    let mut t = String::new();
    for i in 0..n {
        let left = if i == 0 {
            format!(
                r#"{{ name = "in", addr = "10.1.0.1/24", mac = "{SHOAL_IN_MAC}", attach = {} }}"#,
                attach("in", "t1")
            )
        } else {
            format!(r#"{{ name = "in", addr = "10.100.{}.2/30" }}"#, i - 1)
        };
        let right = if i == n - 1 {
            format!(
                r#"{{ name = "out", addr = "10.2.0.1/24", mac = "02:5b:00:00:00:02", attach = {} }}"#,
                attach("out", "t2")
            )
        } else {
            format!(r#"{{ name = "out", addr = "10.100.{i}.1/30" }}"#)
        };
        let _ = writeln!(
            t,
            "[[router]]\nname = \"r{i}\"\nroutes = \"auto\"\niface = [\n  {left},\n  {right},\n]\n"
        );
    }
    for i in 0..n.saturating_sub(1) {
        let _ = writeln!(t, "[[link]]\nends = [\"r{i}:out\", \"r{}:in\"]\n", i + 1);
    }
    t
}

/// Run the receive processing (NAPI) of devices `devs` of `ns` in kernel threads pinned to
/// `core`. A veth polls on the core of whoever sent to it; without this, an AF_XDP path's
/// receive copies would run on the generator's core and the generator's on the path's. Devices
/// without NAPI (no XDP program, no GRO) are left alone: RPS steers those.
fn pin_napi(ns: &NetNs, devs: &[&str], core: usize) -> anyhow::Result<()> {
    for dev in devs {
        let on = format!("echo 1 > /sys/class/net/{dev}/threaded");
        if ns.run(&["sh", "-c", &on]).is_err() {
            continue;
        }
        let prefix = format!("napi/{dev}-");
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm.starts_with(&prefix) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                crate::netns::run(&["taskset", "-p", "-c", &core.to_string(), &pid])?;
            }
        }
    }
    Ok(())
}

/// Start this executable's `shoal run` on `topo` in `ns`, one worker on the path's core, and
/// wait until its engine runs.
fn spawn_shoal(ns: &NetNs, topo: &std::path::Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("finding the shoal executable")?;
    let mut child = ns
        .command(exe.to_str().context("executable path is not UTF-8")?)
        .arg("run")
        .arg(topo)
        .args(["--workers", "1", "--first-core", &DUT_CORE.to_string()])
        // No busy polling: the device's receive thread (see `pin_napi`) shares this core.
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting shoal")?;
    let stdout = child.stdout.take().context("shoal's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Ctrl-C stops") => break,
            Some(Ok(_)) => {}
            _ => {
                let status = child.wait()?;
                bail!("shoal under test exited ({status}) before it ran");
            }
        }
    }
    // Keep draining its output so it never blocks on a full pipe; show it when debugging.
    let show = std::env::var_os("SHOAL_BENCH_DEBUG").is_some();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if show && !line.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
                eprintln!("    dut| {line}");
            }
        }
    });
    Ok(child)
}

/// The generator h1 and the sink h2, shoal hosts bound by AF_XDP to t1 and t2 in the traffic
/// namespace, on the generator's core. Flows start off.
fn start_traffic(ns: &NetNs, run: &Run, dst: Ipv4Addr) -> anyhow::Result<Engine> {
    let mut net = Network::new();
    let direct = run.path == Path::Direct;
    let hosts = [
        ("h1", "t1", [10, 1, 0, 2], [10, 1, 0, 1]),
        (
            "h2",
            "t2",
            if direct { [10, 1, 0, 3] } else { [10, 2, 0, 2] },
            [10, 2, 0, 1],
        ),
    ];
    for (k, (name, dev, addr, gw)) in hosts.into_iter().enumerate() {
        let mut r = Router::new(Config {
            forwarding: false,
            ..Config::default()
        });
        let iface = r.add_iface(
            "eth0",
            ethernet::Address([2, 0x5c, 0, 0, 0, k as u8 + 1]),
            1500,
        )?;
        let a = IfAddr::new(Ipv4Addr::from(addr), 24).context("host address")?;
        r.add_addr(iface, a)?;
        if !direct {
            r.add_route_str(&format!("default via {}", Ipv4Addr::from(gw)))?;
        }
        let id = net.add(name, r);
        if direct {
            // The ceiling: sender and receiver each on a core of their own.
            net.pin(id, GEN_CORE + k);
        }
        let spec = PortSpec {
            dev: Some(dev.to_owned()),
            mode: Mode::AfXdp,
            tap: None,
            every_frame: false,
        };
        net.attach_port((id, iface), spec)?;
    }
    net.add_flow(
        NodeId(0),
        FlowSpec {
            dst,
            port: PORT,
            frame_len: run.frame.max(crate::engine::MIN_FRAME),
            pace: run
                .rate
                .map_or(crate::fabric::Pace::Flat, crate::fabric::Pace::Rate),
            sources: run.flows,
        },
    );
    net.add_sink(NodeId(1), PORT);
    let cfg = EngineConfig {
        workers: if direct { 2 } else { 1 },
        first_core: GEN_CORE,
        flows_at_start: false,
        ..EngineConfig::default()
    };
    // The engine's workers inherit the namespace of the thread that starts them.
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter()?;
            Ok(Engine::start(net, cfg)?)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the traffic engine's thread panicked"))?
    })
}

/// Ping until the path answers (ARP resolved all along), up to five seconds.
fn warm_up(engine: &Engine, dst: Ipv4Addr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seq = 0;
    while Instant::now() < deadline {
        seq += 1;
        if let PingReply::Echo { .. } = engine.ping(NodeId(0), dst, seq, Duration::from_millis(500))
        {
            return Ok(());
        }
    }
    bail!("{dst} does not answer pings through the path under test")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topo::Topology;

    #[test]
    fn shoal_chains_are_valid_topologies() {
        for (n, xdp) in [(1, true), (4, false), (16, true)] {
            let t = Topology::parse("dut.toml", &shoal_chain(n, xdp)).unwrap();
            assert_eq!(t.nodes.len(), n);
            assert!(t.warnings.is_empty(), "{:?}", t.warnings);
            let ports = t
                .nodes
                .iter()
                .flat_map(|x| &x.ifaces)
                .filter(|f| f.attach.is_some());
            assert_eq!(ports.count(), 2);
        }
    }
}
