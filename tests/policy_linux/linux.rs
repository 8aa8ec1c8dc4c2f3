//! The Linux side: a namespace holding the generated interfaces (veth devices, their peers in a
//! second namespace so that both ends are up), lines applied with `ip -batch`, and answers of
//! `ip route get` parsed into [`Answer`]s.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::common::netns::NetNs;
use super::generate::Iface;

/// What a route lookup says, in the terms both sides can be put in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A route: kind (`unicast`, `local`, `broadcast`), gateway, device (`None` for local and
    /// broadcast, which Linux shows on `lo`) and table.
    Route {
        kind: &'static str,
        gateway: Option<Ipv4Addr>,
        dev: Option<String>,
        table: u32,
    },
    /// An error, by errno name (ENETUNREACH, EHOSTUNREACH, EACCES, EINVAL) or Linux's text.
    Error(String),
}

/// Linux's message for an errno, as iproute2 prints it.
pub fn errno_name(message: &str) -> String {
    let m = message
        .trim()
        .trim_start_matches("RTNETLINK answers: ")
        .trim_start_matches("Error: ");
    match m {
        "Network is unreachable" => "ENETUNREACH",
        "No route to host" => "EHOSTUNREACH",
        "Permission denied" => "EACCES",
        "Invalid argument" => "EINVAL",
        "File exists" => "EEXIST",
        other => other,
    }
    .to_owned()
}

pub struct Linux {
    pub ns: NetNs,
    _peer: NetNs,
}

impl Linux {
    /// Namespaces with the interfaces up, addressed and grouped; forwarding on, reverse-path
    /// filtering off everywhere.
    pub fn new(ifaces: &[Iface]) -> std::io::Result<Linux> {
        let ns = NetNs::new("pol")?;
        let peer = NetNs::new("polp")?;
        ns.sysctl("net.ipv4.ip_forward=1")?;
        ns.sysctl("net.ipv4.conf.all.rp_filter=0")?;
        ns.sysctl("net.ipv4.conf.default.rp_filter=0")?;
        for (i, f) in ifaces.iter().enumerate() {
            ns.veth(&f.name, &peer, &format!("p{i}"))?;
            ns.sysctl(&format!("net.ipv4.conf.{}.rp_filter=0", f.name))?;
            ns.ip(&[
                "addr",
                "add",
                &format!("{}/{}", f.addr, f.len),
                "dev",
                &f.name,
            ])?;
            ns.ip(&["link", "set", &f.name, "group", &f.group.to_string()])?;
        }
        Ok(Linux { ns, _peer: peer })
    }

    /// Run `lines` with `ip -n NS -force -batch -`: for each line, its standard output (empty
    /// when it failed) or its error message.
    pub fn batch(&self, lines: &[String]) -> std::io::Result<Vec<Result<String, String>>> {
        let mut child = Command::new("ip")
            .args(["-n", &self.ns.name, "-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut input = String::new();
        for l in lines {
            input.push_str(l);
            input.push('\n');
        }
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output()?;
        writer.join().expect("writer thread")?;
        // Failures: the message lines, then "Command failed -:N".
        let mut failed = vec![None; lines.len()];
        let mut message = String::new();
        for l in String::from_utf8_lossy(&out.stderr).lines() {
            match l.rsplit_once("Command failed -:") {
                Some((_, n)) => {
                    let n: usize = n.trim().parse().map_err(std::io::Error::other)?;
                    failed[n - 1] = Some(std::mem::take(&mut message));
                }
                None => {
                    if !message.is_empty() {
                        message.push('\n');
                    }
                    message.push_str(l);
                }
            }
        }
        // Successes print in order; an answer starts at a line without indentation.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut blocks: Vec<String> = Vec::new();
        for l in stdout.lines() {
            match blocks.last_mut() {
                Some(b) if l.starts_with(char::is_whitespace) => {
                    b.push('\n');
                    b.push_str(l);
                }
                _ => blocks.push(l.to_owned()),
            }
        }
        let mut blocks = blocks.into_iter();
        Ok(failed
            .into_iter()
            .map(|f| match f {
                Some(m) => Err(m),
                None => Ok(blocks.next().unwrap_or_default()),
            })
            .collect())
    }
}

/// Parse `ip route get`'s answer: `[local|broadcast] DST from SRC [via GW] dev DEV [table T]
/// ...`; `table` is left out for `main`.
pub fn parse_answer(result: &Result<String, String>) -> Answer {
    let text = match result {
        Err(m) => return Answer::Error(errno_name(m)),
        Ok(t) => t,
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let after = |key: &str| {
        words
            .windows(2)
            .find(|w| w[0] == key)
            .map(|w| w[1].to_owned())
    };
    let kind = match words.first() {
        Some(&"local") => "local",
        Some(&"broadcast") => "broadcast",
        _ => "unicast",
    };
    let table = match after("table").as_deref() {
        None => 254,
        Some("local") => 255,
        Some("main") => 254,
        Some("default") => 253,
        Some(t) => t.parse().unwrap_or(0),
    };
    Answer::Route {
        kind,
        gateway: after("via").and_then(|g| g.parse().ok()),
        dev: (kind == "unicast").then(|| after("dev")).flatten(),
        table,
    }
}
