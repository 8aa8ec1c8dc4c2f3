//! The two chains the classes run through: h1 ─ r1 ═ r2 ─ h2, the hosts Linux in their own
//! namespaces both times, the routers once Linux (a namespace each, forwarding on) and once
//! shoal (one `shoal run`, r1 bound to h1's veth by AF_XDP, r2 to a TAP moved into h2's
//! namespace). Addresses, MACs, MTUs and routes are the same in both (classes.rs).

use std::io::{self, BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::classes::{
    H1, H1_MAC, H2, H2_MAC, MID_MTU, R1_ROUTES, R1A, R1A_MAC, R1M, R1M_MAC, R2_ROUTES, R2B,
    R2B_MAC, R2M, R2M_MAC,
};
use super::common::netns::NetNs;

pub fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One chain: the hosts' namespaces (h1 sends on `eth0`, h2 listens on `tb`), and what keeps
/// the routers alive.
pub struct Net {
    pub name: &'static str,
    pub h1: NetNs,
    pub h2: NetNs,
    _routers: Vec<NetNs>,
    pub shoal: Option<ShoalRun>,
}

fn host(ns: &NetNs, dev: &str, mac_addr: [u8; 6], addr: &str, gateway: &str) -> io::Result<()> {
    ns.sysctl(&format!("net.ipv6.conf.{dev}.disable_ipv6=1"))?;
    ns.ip(&["link", "set", dev, "address", &mac(mac_addr)])?;
    ns.ip(&["addr", "add", addr, "dev", dev])?;
    ns.ip(&["link", "set", dev, "up"])?;
    ns.ip(&["route", "add", "default", "via", gateway])?;
    // Room for the classes' 1504-byte packets (a veth passes frames of MTU + 4).
    ns.ip(&["link", "set", "dev", dev, "mtu", "1504"])?;
    // The hosts' kernels compute every checksum themselves (no partial checksums on veth).
    ns.run(&["ethtool", "-K", dev, "tx", "off"])?;
    Ok(())
}

impl Net {
    /// The routers are Linux.
    pub fn linux() -> io::Result<Net> {
        let h1 = NetNs::new("plh1")?;
        let h2 = NetNs::new("plh2")?;
        let r1 = NetNs::new("plr1")?;
        let r2 = NetNs::new("plr2")?;
        for r in [&r1, &r2] {
            r.sysctl("net.ipv4.ip_forward=1")?;
            r.sysctl("net.ipv4.conf.all.rp_filter=0")?;
            r.sysctl("net.ipv4.conf.default.rp_filter=0")?;
        }
        h1.veth("eth0", &r1, "ea")?;
        r1.veth("em", &r2, "em")?;
        r2.veth("eb", &h2, "tb")?;
        let router_ifaces: [(&NetNs, &str, [u8; 6], String, u16); 4] = [
            (&r1, "ea", R1A_MAC, format!("{R1A}/24"), 1500),
            (&r1, "em", R1M_MAC, format!("{R1M}/30"), MID_MTU),
            (&r2, "em", R2M_MAC, format!("{R2M}/30"), MID_MTU),
            (&r2, "eb", R2B_MAC, format!("{R2B}/24"), 1500),
        ];
        for (ns, dev, m, addr, mtu) in router_ifaces {
            ns.ip(&["link", "set", dev, "address", &mac(m)])?;
            ns.ip(&["link", "set", dev, "mtu", &mtu.to_string()])?;
            ns.ip(&["addr", "add", &addr, "dev", dev])?;
            ns.sysctl(&format!("net.ipv4.conf.{dev}.rp_filter=0"))?;
            // Checksums verified in software, as a NIC would verify them (a veth would
            // otherwise vouch for frames it never checked).
            ns.run(&["ethtool", "-K", dev, "rx", "off", "tx", "off"])?;
        }
        for (ns, routes) in [(&r1, R1_ROUTES), (&r2, R2_ROUTES)] {
            for r in routes {
                let mut args = vec!["route", "add"];
                args.extend(r.split_whitespace());
                ns.ip(&args)?;
            }
        }
        host(&h1, "eth0", H1_MAC, &format!("{H1}/24"), &R1A.to_string())?;
        host(&h2, "tb", H2_MAC, &format!("{H2}/24"), &R2B.to_string())?;
        Ok(Net {
            name: "linux",
            h1,
            h2,
            _routers: vec![r1, r2],
            shoal: None,
        })
    }

    /// The routers are shoal.
    pub fn shoal() -> io::Result<Net> {
        let h1 = NetNs::new("psh1")?;
        let h2 = NetNs::new("psh2")?;
        let s = NetNs::new("pss")?;
        h1.veth("eth0", &s, "xa")?;
        // Bound by AF_XDP, the interface takes the device's MAC.
        s.ip(&["link", "set", "xa", "address", &mac(R1A_MAC)])?;
        host(&h1, "eth0", H1_MAC, &format!("{H1}/24"), &R1A.to_string())?;
        let routes = |rs: &[&str]| {
            rs.iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let topo = format!(
            r#"[[router]]
name = "r1"
iface = [
  {{ name = "a", addr = "{R1A}/24", attach = {{ dev = "xa", mode = "afxdp" }} }},
  {{ name = "m", addr = "{R1M}/30", mac = "{r1m}", mtu = {MID_MTU} }},
]
routes = [{r1routes}]

[[router]]
name = "r2"
iface = [
  {{ name = "m", addr = "{R2M}/30", mac = "{r2m}", mtu = {MID_MTU} }},
  {{ name = "b", addr = "{R2B}/24", mac = "{r2b}", attach = {{ mode = "tap", tap = "tb" }} }},
]
routes = [{r2routes}]

[[link]]
ends = ["r1:m", "r2:m"]
delay_us = 0
"#,
            r1m = mac(R1M_MAC),
            r2m = mac(R2M_MAC),
            r2b = mac(R2B_MAC),
            r1routes = routes(R1_ROUTES),
            r2routes = routes(R2_ROUTES),
        );
        let run = ShoalRun::start(&s, &topo)?;
        s.ip(&["link", "set", "tb", "netns", &h2.name])?;
        host(&h2, "tb", H2_MAC, &format!("{H2}/24"), &R2B.to_string())?;
        Ok(Net {
            name: "shoal",
            h1,
            h2,
            _routers: vec![s],
            shoal: Some(run),
        })
    }

    /// Both hosts reach each other (which also fills every ARP cache on the way).
    pub fn warm_up(&self) -> io::Result<()> {
        for (ns, dst) in [(&self.h1, H2), (&self.h2, H1)] {
            let out = ns.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", &dst.to_string()])?;
            if !out.status.success() {
                return Err(io::Error::other(format!(
                    "{}: ping {dst} from {} failed: {}",
                    self.name,
                    ns.name,
                    String::from_utf8_lossy(&out.stdout)
                )));
            }
        }
        Ok(())
    }
}

/// A running `shoal run` in a namespace; killed on drop.
pub struct ShoalRun {
    child: Child,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl ShoalRun {
    fn start(ns: &NetNs, topo: &str) -> io::Result<ShoalRun> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("parity.toml");
        std::fs::write(&path, topo)?;
        let mut child = ns
            .command(env!("CARGO_BIN_EXE_shoal"))
            .args(["run", path.to_str().expect("utf-8 path"), "--workers", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut run = ShoalRun {
            child,
            lines,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .ok_or_else(|| io::Error::other(format!("shoal did not start: {seen:#?}")))?;
            match run.lines.recv_timeout(left) {
                Ok(l) if l.contains("Ctrl-C stops") => return Ok(run),
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = run.child.kill();
                    return Err(io::Error::other(format!("shoal did not start: {seen:#?}")));
                }
            }
        }
    }

    /// Stop with SIGTERM; what shoal printed (its report).
    pub fn stop(&mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // Its readers still hold what was left in the pipes: take lines until they end.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut rest = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(_) => break,
            }
        }
        rest.join("\n")
    }
}

impl Drop for ShoalRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
