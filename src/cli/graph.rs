//! `shoal graph TOPO [-o FILE]`: draw a topology file (or, with `-`, what `shoal gen` writes
//! to a pipe) as Graphviz DOT, or as a picture when FILE ends in `.svg`, `.png` or `.pdf`
//! (through Graphviz's `dot`, which must then be installed). Switches running spanning tree
//! are simulated until it settles, so that the ports it blocks are drawn blocked.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use shoal::graph::{Notes, blocked_ports, dot};
use shoal::topo::Topology;

/// Options of `shoal graph`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Topology file, or `-` for standard input (`shoal gen grid 4x4 | shoal graph -`).
    topo: String,
    /// Write to FILE: a picture drawn by Graphviz's `dot` when FILE ends in .svg, .png or
    /// .pdf, DOT otherwise. Without it, DOT goes to standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Picture formats handed to `dot -T`.
const PICTURES: [&str; 3] = ["svg", "png", "pdf"];

pub fn run(args: GraphArgs) -> anyhow::Result<()> {
    let topo = if args.topo == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the topology from standard input")?;
        Topology::parse("<stdin>", &text)?
    } else {
        Topology::load(&args.topo)?
    };
    let mut notes = Notes::new();
    for (node, iface) in blocked_ports(&topo)? {
        notes.block(node, iface);
    }
    let text = dot(&topo, &notes);
    let Some(out) = args.output else {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(());
    };
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    let ext = ext.to_ascii_lowercase();
    if PICTURES.contains(&ext.as_str()) {
        draw(&text, &ext, &out)
    } else {
        std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))
    }
}

/// Draw DOT `text` into `out` as `format` with Graphviz's `dot`. Without `dot`, the DOT is
/// written next to `out` (same name, `.dot`) and the error says so.
fn draw(text: &str, format: &str, out: &Path) -> anyhow::Result<()> {
    let spawned = Command::new("dot")
        .arg(format!("-T{format}"))
        .arg("-o")
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dot_file = out.with_extension("dot");
            std::fs::write(&dot_file, text)
                .with_context(|| format!("writing {}", dot_file.display()))?;
            anyhow::bail!(
                "drawing {} needs Graphviz's `dot`, which is not installed (apt-get install \
                 graphviz); the DOT is in {} instead",
                out.display(),
                dot_file.display()
            );
        }
        Err(e) => return Err(e).context("starting Graphviz's dot"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .context("handing the DOT to Graphviz's dot")?;
    }
    let done = child
        .wait_with_output()
        .context("waiting for Graphviz's dot")?;
    if !done.status.success() {
        anyhow::bail!(
            "Graphviz's dot failed ({}): {}",
            done.status,
            String::from_utf8_lossy(&done.stderr).trim()
        );
    }
    Ok(())
}
