//! `shoal graph`: every generator's output, and a topology with every kind of external end,
//! drawn by Graphviz's `dot` without a complaint (SKIP when `dot` is not installed;
//! scripts/deps --test installs graphviz); the command writes DOT, SVG through `dot`, and
//! says so plainly when `dot` is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use shoal::graph::{Edge, Notes, dot};
use shoal::topo::{Topology, generate};

fn have_dot(test: &str) -> bool {
    let ok = Command::new("dot")
        .arg("-V")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP {test}: Graphviz's dot is not installed (scripts/deps --test installs it)");
    }
    ok
}

/// Render DOT `text` to SVG; Graphviz's complaints (straight edges through touching nodes,
/// syntax) fail the test.
fn render(name: &str, text: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "{name}: {err}\n{text}"
    );
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(svg.contains("<svg"), "{name}");
    svg
}

const EVERY_END: &str = include_str!("fixtures/every_end.toml");

#[test]
fn every_generator_and_every_external_end_draws_cleanly() {
    if !have_dot("graph generators") {
        return;
    }
    let mut notes = Notes::new();
    notes.add(Edge::Link(1), "1.25 Mpps, 0 drops");
    let shapes = [
        ("chain 1", generate::chain(1).unwrap()),
        ("chain 8", generate::chain(8).unwrap()),
        ("grid 4x5", generate::grid(4, 5).unwrap()),
        ("grid 1x3", generate::grid(1, 3).unwrap()),
        ("hypercube 3 3", generate::hypercube(3, 3).unwrap()),
        ("hypercube 2 4", generate::hypercube(2, 4).unwrap()),
        ("hypercube 4 2", generate::hypercube(4, 2).unwrap()),
        ("every end", Topology::parse("t.toml", EVERY_END).unwrap()),
        ("star 4", shoal::topo::switched::star(4).unwrap()),
        (
            "leafspine 3 2 2",
            shoal::topo::switched::leafspine(3, 2, 2).unwrap(),
        ),
        (
            "campus",
            Topology::parse("campus.toml", include_str!("../examples/campus.toml")).unwrap(),
        ),
    ];
    for (name, topo) in &shapes {
        let mut notes = notes.clone();
        for (n, f) in shoal::graph::blocked_ports(topo).unwrap() {
            notes.block(n, f);
        }
        let text = dot(topo, &notes);
        let svg = render(name, &text);
        // Every node is in the picture.
        for n in &topo.nodes {
            assert!(
                svg.contains(&format!(">{}</text>", n.name)),
                "{name}: {}",
                n.name
            );
        }
    }
    let svg = render("chain 8", &dot(&shapes[1].1, &notes));
    assert!(svg.contains("1.25 Mpps, 0 drops"), "the note is drawn");
}

fn shoal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
}

#[test]
fn shoal_graph_writes_dot_and_svg_and_says_when_dot_is_missing() {
    let dir = std::env::temp_dir().join(format!("shoal-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = shoal()
        .args(["gen", "grid", "3x3"])
        .output()
        .unwrap()
        .stdout;
    let graph = |args: &[&str], path: Option<&str>| {
        let mut cmd = shoal();
        cmd.arg("graph").args(args);
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&toml).unwrap();
        child.wait_with_output().unwrap()
    };
    // DOT on standard output, from standard input.
    let out = graph(&["-"], None);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("graph shoal {") && text.contains("r3_3"),
        "{text}"
    );
    // Without dot, an SVG cannot be drawn: the DOT is written instead, and the error says so.
    let svg = dir.join("grid.svg");
    let out = graph(&["-", "-o", svg.to_str().unwrap()], Some("/nonexistent"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("needs Graphviz's `dot`, which is not installed"),
        "{err}"
    );
    let written = std::fs::read_to_string(dir.join("grid.dot")).unwrap();
    assert_eq!(written, text);
    if have_dot("shoal graph -o x.svg") {
        let out = graph(&["-", "-o", svg.to_str().unwrap()], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    }
    // A file that is not a topology is the user's mistake: status 2, with its line.
    let out = shoal()
        .args(["graph", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
