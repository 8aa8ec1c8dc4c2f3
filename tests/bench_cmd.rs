//! `shoal bench` plumbing, with tiny runs: the paths build, carry traffic, and leave no
//! namespace behind; the JSON holds a row per path with the kernel ratio filled in. No speed
//! is asserted here (figures are in docs/benchmarks.md).

mod common;

use std::process::Command;

use common::netns::skip_unless_root;

fn namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("sb"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn one_router_every_path_tiny_runs() {
    if skip_unless_root("one_router_every_path_tiny_runs") {
        return;
    }
    let before = namespaces();
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--scenario", "1 router", "--frame", "64"])
        .args(["--runs", "1", "--seconds", "0.3", "--json"])
        .output()
        .expect("run shoal bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "shoal bench failed: {stderr}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = rows.as_array().expect("an array of rows");
    let path = |p: &str| rows.iter().find(|r| r["path"] == p);
    for p in ["generator", "kernel", "shoal afxdp", "shoal tap"] {
        let row = path(p).unwrap_or_else(|| panic!("no {p} row: {rows:#?}"));
        let delivered = row["median"]["delivered_pps"].as_f64().expect("a rate");
        assert!(delivered > 0.0, "{p} delivered nothing: {row:#}");
        assert_eq!(row["runs"].as_array().map(Vec::len), Some(1));
    }
    let xdp = path("shoal afxdp").expect("row");
    assert!(xdp["vs_kernel"].as_f64().is_some(), "{xdp:#}");
    let check = xdp["cross_check"].as_array().expect("a cross-check");
    assert!(
        check.iter().all(|x| x.as_f64().is_some_and(|v| v > 0.0)),
        "{xdp:#}"
    );
    assert_eq!(namespaces(), before, "bench left namespaces behind");
}

#[test]
fn bench_refuses_an_unknown_scenario() {
    let out = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--scenario", "no such thing"])
        .output()
        .expect("run shoal bench");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no scenario matches"), "{err}");
}
