//! The `shoal` binary over topology files: generate, ping, traceroute, and status 2 on a bad file.

use std::process::Command;

fn shoal(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn gen_then_ping_and_traceroute() {
    let dir = std::env::temp_dir().join(format!("shoal-topo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chain.toml");
    let file = file.to_str().unwrap();
    assert!(shoal(&["gen", "chain", "4", "-o", file]).status.success());
    let out = shoal(&["ping", file, "h1", "h2", "-c", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("virtual"), "{text}");
    assert!(text.contains("icmp_seq=2 ttl=60"), "{text}");
    assert!(
        text.contains("2 packets transmitted, 2 received, 0% packet loss"),
        "{text}"
    );
    let out = shoal(&["traceroute", file, "h1", "h2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains(" 4  r4 (10.0.0.14)"), "{text}");
    assert!(text.contains(" 5  h2 (10.0.0.18)"), "{text}");

    // Ping and traceroute print what Linux's print for unreachables.
    let unreachable = dir.join("unreachable.toml");
    let unreachable = unreachable.to_str().unwrap();
    std::fs::write(
        unreachable,
        r#"
[[router]]
name = "r1"
iface = { name = "eth0", addr = "10.0.1.1/24" }
routes = ["unreachable 10.9.0.0/16"]

[[host]]
name = "h1"
iface = { name = "eth0", addr = "10.0.1.2/24" }
gateway = "10.0.1.1"

[[link]]
ends = ["r1:eth0", "h1:eth0"]
"#,
    )
    .unwrap();
    let out = shoal(&["ping", unreachable, "h1", "10.9.0.1", "-c", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("From 10.0.1.1 icmp_seq=1 Destination Host Unreachable"),
        "{text}"
    );
    assert!(
        text.contains("0 received, +2 errors, 100% packet loss"),
        "{text}"
    );
    let out = shoal(&["traceroute", unreachable, "h1", "10.9.0.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let hops: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(hops.len(), 1, "{text}");
    assert!(
        hops[0].starts_with(" 1  r1 (10.0.1.1)") && hops[0].ends_with(" ms !H"),
        "{text}"
    );

    std::fs::write(file, "[[link]]\nends = [\"a:eth0\", \"b:eth0\"]\n").unwrap();
    let out = shoal(&["ping", file, "a", "10.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chain.toml:2: link.ends: no node named \"a\""),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--gen` in place of a file, and a file holding a `[generate]` block, give the same
/// topology `shoal gen` writes out.
#[test]
fn generated_topologies_without_files() {
    let out = shoal(&["traceroute", "--gen", "hypercube", "3", "3", "h1", "h8"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 7  r2_2_2 ("), "{text}");
    assert!(text.contains(" 8  h8 ("), "{text}");
    let out = shoal(&["ping", "--gen", "grid", "3x4", "h1", "h4", "-c", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 received"), "{text}");

    let dir = std::env::temp_dir().join(format!("shoal-gen-block-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("block.toml");
    let file = file.to_str().unwrap();
    std::fs::write(file, "[generate]\nshape = \"hypercube 3 3\"\n").unwrap();
    let out = shoal(&["traceroute", file, "h1", "h8"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        text_of(&["traceroute", "--gen", "hypercube", "3", "3", "h1", "h8"])
    );
    // A block holds nothing else; a file and --gen together are one too many.
    std::fs::write(
        file,
        "[generate]\nshape = \"grid 2x2\"\n[[host]]\nname = \"x\"\n",
    )
    .unwrap();
    let out = shoal(&["ping", file, "h1", "h2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds nothing else"));
    let out = shoal(&["ping", "--gen", "grid", "2x2", file, "h1", "h2"]);
    assert_eq!(out.status.code(), Some(2));
    let out = shoal(&["ping", "--gen", "grid", "2by2", "h1", "h2"]);
    assert_eq!(out.status.code(), Some(2));

    // The switched generators too: a leaf-spine (spanning tree converges, in virtual time,
    // before the pings get through) and a star, from --gen and from a block.
    let out = shoal(&[
        "ping",
        "--gen",
        "leafspine",
        "2",
        "2",
        "1",
        "h1",
        "h2",
        "-c",
        "3",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(" 0 received"), "{text}");
    std::fs::write(file, "[generate]\nshape = \"star 3\"\n").unwrap();
    assert_eq!(
        text_of(&["traceroute", file, "h1", "198.18.0.2"]),
        text_of(&["traceroute", "--gen", "star", "3", "h1", "198.18.0.2"])
    );
    assert!(text_of(&["traceroute", file, "h1", "198.18.0.2"]).contains(" 1  gw (10.0.0.1)"));
    std::fs::write(file, "# star\n[generate]\nshape = \"star 0\"\n").unwrap();
    let out = shoal(&["ping", file, "h1", "h2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("block.toml:3: generate.shape: 0 hosts"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn text_of(args: &[&str]) -> String {
    String::from_utf8_lossy(&shoal(args).stdout).into_owned()
}

#[test]
fn gen_writes_toml_to_stdout() {
    let out = shoal(&["gen", "grid", "2x2"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("routes = \"auto\""));
    assert_eq!(shoal(&["gen", "grid", "2by2"]).status.code(), Some(2));
}

#[test]
fn run_a_generated_chain_with_a_flow_on_the_engine() {
    let dir = std::env::temp_dir().join(format!("shoal-run-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chain.toml");
    let file = file.to_str().unwrap();
    assert!(shoal(&["gen", "chain", "6", "-o", file]).status.success());
    let out = shoal(&[
        "run",
        file,
        "--seconds",
        "1.5",
        "--workers",
        "2",
        "--flow",
        "h1:h2:5000",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("8 instances on 2 worker(s)"), "{text}");
    assert!(text.contains("lost 0, reordered 0"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("r6 ")), "{text}");
    let out = shoal(&["run", file, "--seconds", "0.1", "--flow", "h1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected FROM:TO[:PPS|max]"));
    let out = shoal(&["run", file, "--seconds", "0.1", "--flow", "h1:nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no node \"nope\""));
    std::fs::remove_dir_all(&dir).ok();
}

/// Half of a two-process topology: a router with one side on a link file, a host on the other.
fn half(
    router: &str,
    host: &str,
    ours: [&str; 2],
    link_addr: &str,
    route: &str,
    file: &str,
) -> String {
    format!(
        "[[router]]\nname = \"{router}\"\nroutes = [\"{route}\"]\n\
         [[router.iface]]\nname = \"lan\"\naddr = \"{}\"\n\
         [[router.iface]]\nname = \"wan\"\naddr = \"{link_addr}\"\nlink_file = \"{file}\"\n\
         [[host]]\nname = \"{host}\"\ngateway = \"{}\"\niface = {{ name = \"eth0\", addr = \"{}\" }}\n\
         [[link]]\nends = [\"{router}:lan\", \"{host}:eth0\"]\n",
        ours[0],
        ours[0].split('/').next().unwrap(),
        ours[1]
    )
}

#[test]
fn two_processes_joined_by_a_link_file() {
    let dir = std::env::temp_dir().join(format!("shoal-two-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = format!("/dev/shm/shoal-test-{}.link", std::process::id());
    let _ = std::fs::remove_file(&link);
    let (a, b) = (dir.join("a.toml"), dir.join("b.toml"));
    std::fs::write(
        &a,
        half(
            "r1",
            "h1",
            ["10.0.1.1/24", "10.0.1.2/24"],
            "10.0.12.1/24",
            "10.0.2.0/24 via 10.0.12.2",
            &link,
        ),
    )
    .unwrap();
    std::fs::write(
        &b,
        half(
            "r2",
            "h2",
            ["10.0.2.1/24", "10.0.2.2/24"],
            "10.0.12.2/24",
            "10.0.1.0/24 via 10.0.12.1",
            &link,
        ),
    )
    .unwrap();
    let receiver = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args([
            "run",
            b.to_str().unwrap(),
            "--seconds",
            "3",
            "--sink",
            "h2",
            "--workers",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sender = shoal(&[
        "run",
        a.to_str().unwrap(),
        "--seconds",
        "1.5",
        "--workers",
        "1",
        "--flow",
        "h1:10.0.2.2:5000",
    ]);
    let sent_text = String::from_utf8_lossy(&sender.stdout).to_string();
    let received = receiver.wait_with_output().unwrap();
    let got_text = String::from_utf8_lossy(&received.stdout).to_string();
    let mode = std::fs::metadata(&link)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    std::fs::remove_file(&link).ok();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        sender.status.success() && received.status.success(),
        "{sent_text}\n{got_text}"
    );
    assert_eq!(mode.ok(), Some(0o600));
    let number = |text: &str, before: &str| -> u64 {
        let at = text
            .find(before)
            .unwrap_or_else(|| panic!("{before:?} in {text}"))
            + before.len();
        text[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let sent = number(&sent_text, "\nflows: sent ");
    assert!(sent > 1000, "{sent_text}");
    assert_eq!(number(&got_text, "\nreceived "), sent, "{got_text}");
}

/// A flow that cannot get out says why, live and in the report, and a run whose flows all
/// failed exits non-zero; the datagrams a flow did send add up.
#[test]
fn flows_that_cannot_send_say_why() {
    let dir = std::env::temp_dir().join(format!("shoal-flow-why-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pair.toml");
    std::fs::write(
        &file,
        "[[host]]\nname = \"a\"\niface = { name = \"eth0\", addr = \"10.0.0.1/24\" }\n\
         [[host]]\nname = \"b\"\niface = { name = \"eth0\", addr = \"10.0.0.2/24\" }\n\
         [[link]]\nends = [\"a:eth0\", \"b:eth0\"]\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    // No gateway: 10.9.9.9 has no route. 10.0.0.77 is on the link, but nobody answers ARP.
    let out = shoal(&[
        "run",
        file,
        "--seconds",
        "2.5",
        "--flow",
        "a:10.9.9.9:100",
        "--flow",
        "a:10.0.0.77:100",
    ]);
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{text}{err}");
    assert!(err.contains("no flow sent anything"), "{err}");
    assert!(
        err.contains("flow #0 from a sent nothing: no route to 10.9.9.9"),
        "{err}"
    );
    assert!(
        err.contains("flow #1 from a sent nothing: a: its next hop does not answer ARP"),
        "{err}"
    );
    assert!(text.contains("(a → 10."), "the live line says why: {text}");
    // A flow that works beside them: its datagrams add up, and the run succeeds.
    let out = shoal(&[
        "run",
        file,
        "--seconds",
        "1",
        "--flow",
        "a:b:1000",
        "--flow",
        "a:10.9.9.9:100",
    ]);
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{text}{err}");
    assert!(!err.contains("BUG"), "{err}");
    assert!(text.contains("#0 a → 10.0.0.2"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `--flow A:B:max` delivers everything it sends; it needs its receiver in the run, and a
/// rate of 0 or a word is refused.
#[test]
fn a_max_flow_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("shoal-max-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chain.toml");
    let file = file.to_str().unwrap();
    assert!(shoal(&["gen", "chain", "8", "-o", file]).status.success());
    let out = shoal(&[
        "run",
        file,
        "--seconds",
        "1",
        "--workers",
        "2",
        "--flow",
        "h1:h2:max",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(", lost 0, reordered 0"), "{text}");
    for (flow, says) in [
        ("h1:10.0.0.9:max", "max needs the receiver in this run"),
        ("h1:h2:0", "is neither a rate above 0 nor max"),
        ("h1:h2:fast", "is neither a rate above 0 nor max"),
    ] {
        let out = shoal(&["run", file, "--seconds", "0.1", "--flow", flow]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flow}: {err}");
        assert!(err.contains(says), "{flow}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Settings that make no sense are refused with status 2 and a message; more workers than
/// cores is a warning that says which workers are not pinned.
#[test]
fn bad_settings_are_refused() {
    let dir = std::env::temp_dir().join(format!("shoal-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("chain.toml");
    let file = file.to_str().unwrap();
    assert!(shoal(&["gen", "chain", "2", "-o", file]).status.success());
    let cases: &[&[&str]] = &[
        &["gen", "chain", "0"],
        &["gen", "grid", "0x5"],
        &["gen", "hypercube", "3", "0"],
        &["ping", file, "h1", "h2", "-c", "0"],
        &["traceroute", file, "h1", "h2", "-m", "0"],
        &["run", file, "--workers", "0"],
        &["run", file, "--first-core", "4096", "--seconds", "0.1"],
        &["demo", "--routers", "0"],
    ];
    for args in cases {
        let out = shoal(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains('0') || err.contains("cores"),
            "{args:?}: {err}"
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = (cores + 1).to_string();
    let out = shoal(&["run", file, "--workers", &workers, "--seconds", "0.1"]);
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}");
    assert!(err.contains("not pinned"), "{err}");
    assert!(
        text.contains(&format!("worker {cores}: not pinned")),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
