//! `shoal plug TOPO [NODE:IFACE] [run options]` (or `--gen SHAPE` for TOPO): `shoal run`,
//! with one interface speaking `vde_plug`'s stream form on standard input and output — what a
//! VDE cable carries. So `dpipe vde_plug /tmp/sw = shoal plug a.toml r1:wan` plugs r1's wan
//! into a `vde_switch`, and
//! `dpipe shoal plug a.toml r1:wan = ssh far shoal plug b.toml r2:wan` joins two shoal
//! processes across hosts. The interface must be on no link in the file (or be the file's
//! `attach = { vde = "-" }`, and then NODE:IFACE may be left out). Everything else shoal prints
//! goes to standard error, and the run ends when the stream does (its input ends), as
//! `vde_plug`'s does.

use shoal::topo::Topology;
use shoal::vde::VdeSpec;

use super::run::{self, RunArgs};

/// Options of `shoal plug`.
#[derive(Debug, clap::Args)]
pub struct PlugArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The interface on standard input and output, NODE:IFACE; may be left out when the file
    /// gives one `attach = { vde = "-" }`.
    #[arg(value_name = "NODE:IFACE")]
    iface: Option<String>,
}

pub fn run(args: PlugArgs) -> anyhow::Result<()> {
    let PlugArgs { mut run, mut iface } = args;
    if iface.is_none() {
        iface = run.take_positional_after_gen();
    }
    if iface.is_none() {
        let (topo, name) = run.load()?;
        if !topo.uses_stdio() {
            let msg = format!(
                "shoal plug: name the interface for the stream (NODE:IFACE): {name} gives none \
                 attach = {{ vde = \"-\" }}"
            );
            return Err(super::Usage::new(msg).into());
        }
    }
    run::run_plugged(run, iface.as_deref())
}

/// Give interface `end` (`NODE:IFACE`) of `topo` standard input and output: it must exist, be
/// on no link and not be bound to anything else; no other interface may have them.
pub fn give_stdio(topo: &mut Topology, end: &str, file: &str) -> anyhow::Result<()> {
    let usage =
        |m: String| anyhow::Error::from(super::Usage::new(format!("shoal plug {end}: {m}")));
    let (node, iface) = end
        .split_once(':')
        .ok_or_else(|| usage("expected NODE:IFACE".into()))?;
    let n = topo
        .node_index(node)
        .ok_or_else(|| usage(format!("no node {node:?} in {file}")))?;
    let others = topo.nodes.iter().flat_map(|n| &n.ifaces);
    let stdio = others
        .filter(|f| f.vde.as_deref() == Some(&VdeSpec::Stdio))
        .count();
    let f = topo.nodes[n]
        .ifaces
        .iter_mut()
        .find(|f| f.name == iface)
        .ok_or_else(|| usage(format!("{node} has no interface {iface:?}")))?;
    if f.vde.as_deref() == Some(&VdeSpec::Stdio) {
        return Ok(());
    }
    if stdio != 0 {
        return Err(usage(format!(
            "{file} gives standard input/output to another interface already"
        )));
    }
    let bound = if f.link.is_some() {
        Some("is on a [[link]]")
    } else if f.link_file.is_some() {
        Some("has a link_file")
    } else if f.attach.is_some() {
        Some("is attached to a device")
    } else if f.vde.is_some() {
        Some("is on VDE already")
    } else {
        None
    };
    if let Some(what) = bound {
        return Err(usage(format!(
            "{end} {what} in {file}; plug an interface that is on no link"
        )));
    }
    f.vde = Some(Box::new(VdeSpec::Stdio));
    Ok(())
}
