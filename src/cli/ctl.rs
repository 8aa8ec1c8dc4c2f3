//! `shoal ctl`: a client of a running network's control socket. With a command it sends that
//! one and prints the answer (exit status 1 when it is refused); without, it is a shell with
//! history and completion of node and interface names. `capture … -w FILE|-` writes the
//! pcapng stream to a file or standard output (`shoal ctl capture r7:eth1 -w - | wireshark -k
//! -i -`).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::Context;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use super::Usage;

/// Options of `shoal ctl`.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The control socket (default: the one `shoal run` opened in $XDG_RUNTIME_DIR/shoal,
    /// /run/shoal or /tmp/shoal-UID, when there is one).
    #[arg(long, value_name = "PATH")]
    ctl: Option<PathBuf>,
    /// Show answers as JSON.
    #[arg(long)]
    json: bool,
    /// The command (`help` lists them); none for an interactive shell.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The one socket in the default directory.
fn find_socket() -> anyhow::Result<PathBuf> {
    let dir = shoal::ctl::default_path("x")
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let socks: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sock"))
                .collect()
        })
        .unwrap_or_default();
    match &socks[..] {
        [one] => Ok(one.clone()),
        [] => Err(Usage::new(format!(
            "no shoal run is listening in {} (give --ctl PATH)",
            dir.display()
        ))
        .into()),
        many => {
            let names: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
            Err(Usage::new(format!(
                "several runs listen: give --ctl {}",
                names.join(" | ")
            ))
            .into())
        }
    }
}

/// A connection to the control socket.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(path: &PathBuf) -> anyhow::Result<Conn> {
        let stream = UnixStream::connect(path)
            .with_context(|| format!("connecting to {}", path.display()))?;
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Send one command; hand each piece of its answer to `out`. Returns whether it was
    /// carried out.
    fn ask(&mut self, line: &str, out: &mut dyn Write) -> anyhow::Result<bool> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")?;
        loop {
            let mut head = String::new();
            if self.reader.read_line(&mut head)? == 0 {
                anyhow::bail!("the control socket closed");
            }
            let mut parts = head.split_whitespace();
            let (kind, len) = (parts.next(), parts.next().and_then(|n| n.parse().ok()));
            match (kind, len) {
                (Some("end"), _) => return Ok(true),
                (Some(kind @ ("ok" | "error" | "data")), Some(len)) => {
                    let mut body = vec![0u8; len];
                    self.reader.read_exact(&mut body)?;
                    match kind {
                        "error" => {
                            let why = String::from_utf8_lossy(&body);
                            eprintln!("shoal: {}", why.trim_end());
                            return Ok(false);
                        }
                        "ok" => {
                            out.write_all(&body)?;
                            out.flush()?;
                            return Ok(true);
                        }
                        _ => {
                            out.write_all(&body)?;
                            out.flush()?;
                        }
                    }
                }
                _ => anyhow::bail!("unexpected answer {head:?}"),
            }
        }
    }
}

/// Quote a word that holds spaces, as the control socket splits words.
fn quote(w: &str) -> String {
    if w.contains(char::is_whitespace) || w.is_empty() {
        format!("\"{w}\"")
    } else {
        w.to_owned()
    }
}

pub fn run(args: CtlArgs) -> anyhow::Result<()> {
    let path = match args.ctl {
        Some(p) => p,
        None => find_socket()?,
    };
    let mut conn = Conn::open(&path)?;
    if args.command.is_empty() {
        return shell(&mut conn, args.json);
    }
    let mut words = args.command;
    // `capture … -w FILE|-`: the stream goes to the file, raw.
    let mut sink: Box<dyn Write> = Box::new(std::io::stdout());
    if words.first().is_some_and(|w| w == "capture") {
        let Some(at) = words.iter().position(|w| w == "-w") else {
            return Err(Usage::new("capture needs -w FILE, or -w - for a pipe".into()).into());
        };
        let Some(file) = words.get(at + 1).cloned() else {
            return Err(Usage::new("-w needs FILE or -".into()).into());
        };
        words.drain(at..at + 2);
        if file != "-" {
            sink = Box::new(std::fs::File::create(&file).with_context(|| format!("-w {file}"))?);
        }
    }
    let mut line: Vec<String> = words.iter().map(|w| quote(w)).collect();
    if args.json {
        line.insert(0, "json".into());
    }
    if !conn.ask(&line.join(" "), &mut sink)? {
        std::process::exit(1);
    }
    Ok(())
}

/// Completion of command words and of node and interface names.
struct Names(Vec<String>);

impl rustyline::Helper for Names {}
impl Highlighter for Names {}
impl Validator for Names {}
impl Hinter for Names {
    type Hint = String;
}

impl Completer for Names {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos].rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &line[start..pos];
        let pairs = self
            .0
            .iter()
            .filter(|n| n.starts_with(word))
            .map(|n| Pair {
                display: n.clone(),
                replacement: n.clone(),
            })
            .collect();
        Ok((start, pairs))
    }
}

const WORDS: &[&str] = &[
    "help",
    "show",
    "nodes",
    "links",
    "stats",
    "ip",
    "addr",
    "route",
    "rule",
    "neigh",
    "get",
    "add",
    "del",
    "flush",
    "table",
    "counters",
    "link",
    "set",
    "up",
    "down",
    "netem",
    "none",
    "ping",
    "traceroute",
    "stop",
    "json",
];

fn shell(conn: &mut Conn, json: bool) -> anyhow::Result<()> {
    let mut names = Vec::new();
    conn.ask("names", &mut names)?;
    let mut all: Vec<String> = WORDS.iter().map(|w| (*w).to_owned()).collect();
    all.extend(String::from_utf8_lossy(&names).lines().map(str::to_owned));
    let mut editor = rustyline::Editor::<Names, rustyline::history::DefaultHistory>::new()?;
    editor.set_helper(Some(Names(all)));
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".shoal_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    loop {
        match editor.readline("shoal> ") {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line);
                if matches!(line, "quit" | "exit") {
                    break;
                }
                if line.starts_with("capture") {
                    eprintln!("shoal: capture streams pcapng: run `shoal ctl capture … -w FILE`");
                    continue;
                }
                let line = if json {
                    format!("json {line}")
                } else {
                    line.to_owned()
                };
                conn.ask(&line, &mut std::io::stdout())?;
                if line.ends_with("stop") {
                    break;
                }
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}
