//! Options every command that runs a topology shares: impairing links without editing the
//! file (`--netem`) and capturing them (`--capture`, `-w`).

use std::io::Write;

use anyhow::Context;
use shoal::capture::Capture;
use shoal::fabric::{End, IfaceId, Network, NodeId};
use shoal::shape::Netem;
use shoal::topo::Topology;

use super::Usage;

/// `--netem`, `--capture` and `-w`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LinkArgs {
    /// Impair a link: `NODE:IFACE=SPEC` impairs the frames leaving that interface,
    /// `NODE:IFACE,NODE:IFACE=SPEC` both directions between two ends of one link; SPEC is what
    /// `tc qdisc add dev X root netem` takes (`delay 10ms 2ms loss 1%`). Replaces what the
    /// file gives for those directions; may repeat.
    #[arg(long = "netem", value_name = "LINK=SPEC")]
    pub netem: Vec<String>,
    /// Capture what crosses NODE:IFACE (both ways), every interface of NODE, or `all`; may
    /// repeat. Needs -w.
    #[arg(long = "capture", value_name = "NODE[:IFACE]|all")]
    pub capture: Vec<String>,
    /// Write the capture as pcapng to FILE, or to standard output with `-` (the command's
    /// own output then goes to standard error): `-w - | tshark -r -`.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<String>,
}

/// Queued captured copies, per capture: beyond, copies are dropped and counted.
const CAPTURE_QUEUE: usize = 8192;

impl LinkArgs {
    /// True when the capture takes standard output.
    pub fn capture_to_stdout(&self) -> bool {
        self.write.as_deref() == Some("-")
    }

    /// Apply the impairments and captures to `net`, built from `topo`.
    pub fn apply(&self, topo: &Topology, net: &mut Network) -> anyhow::Result<()> {
        for arg in &self.netem {
            let (target, spec) = arg
                .split_once('=')
                .ok_or_else(|| Usage::new(format!("--netem {arg}: expected LINK=SPEC")))?;
            let netem: Netem = spec
                .parse()
                .map_err(|e| Usage::new(format!("--netem {arg}: {e}")))?;
            let ends: Vec<End> = target
                .split(',')
                .map(|e| end(topo, e).map_err(|m| Usage::new(format!("--netem {arg}: {m}"))))
                .collect::<Result<_, _>>()?;
            if let [a, b] = ends[..]
                && net.link_of(a) != net.link_of(b)
            {
                let msg = format!("--netem {arg}: {target} are not two ends of one link");
                return Err(Usage::new(msg).into());
            }
            if ends.len() > 2 {
                let msg = format!("--netem {arg}: give one end or the two ends of a link");
                return Err(Usage::new(msg).into());
            }
            for &e in &ends {
                if !net.impair(e, netem.clone()) {
                    let name = net.end_name(e);
                    let msg = format!("--netem {arg}: {name} is on no link");
                    return Err(Usage::new(msg).into());
                }
            }
        }
        match (&self.write, self.capture.is_empty()) {
            (None, true) => return Ok(()),
            (None, false) => {
                return Err(
                    Usage::new("--capture needs -w FILE (or -w - for a pipe)".into()).into(),
                );
            }
            (Some(_), true) => {
                let msg = "-w writes a capture: say what to capture with --capture".into();
                return Err(Usage::new(msg).into());
            }
            (Some(_), false) => {}
        }
        for what in &self.capture {
            let ends = captured(topo, what).map_err(|m| Usage::new(format!("--capture {m}")))?;
            let mut any = false;
            for e in &ends {
                any |= net.capture(*e);
            }
            if !any {
                let msg = format!("--capture {what}: no interface of it is on a link");
                return Err(Usage::new(msg).into());
            }
        }
        let out: Box<dyn Write + Send> = match self.write.as_deref() {
            Some("-") | None => {
                super::sys::ignore_sigpipe();
                Box::new(std::io::stdout())
            }
            Some(path) => {
                let f = std::fs::File::create(path).with_context(|| format!("-w {path}"))?;
                Box::new(std::io::BufWriter::new(f))
            }
        };
        net.set_capture(Capture::new(out, CAPTURE_QUEUE)?);
        Ok(())
    }
}

/// `NODE:IFACE` of `topo`.
fn end(topo: &Topology, text: &str) -> Result<End, String> {
    let (node, iface) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not NODE:IFACE"))?;
    let n = topo
        .node_index(node)
        .ok_or_else(|| format!("no node named {node:?}"))?;
    let i = topo.nodes[n]
        .ifaces
        .iter()
        .position(|f| f.name == iface)
        .ok_or_else(|| format!("{node} has no interface {iface:?}"))?;
    Ok((NodeId(n as u32), IfaceId(i as u16)))
}

/// The ends `--capture WHAT` names: one interface, every interface of a node, or every one.
fn captured(topo: &Topology, what: &str) -> Result<Vec<End>, String> {
    let all_of = |n: usize| {
        (0..topo.nodes[n].ifaces.len()).map(move |i| (NodeId(n as u32), IfaceId(i as u16)))
    };
    if what == "all" {
        return Ok((0..topo.nodes.len()).flat_map(all_of).collect());
    }
    if what.contains(':') {
        return Ok(vec![end(topo, what).map_err(|m| format!("{what}: {m}"))?]);
    }
    let n = topo
        .node_index(what)
        .ok_or_else(|| format!("{what}: no node named {what:?}"))?;
    Ok(all_of(n).collect())
}
