//! Where a command's topology comes from — a file, or a generator named on the command line
//! (`--gen grid 316x316`) — and the progress line shown while a big one is built.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use shoal::topo::generate::{self, Shape};
use shoal::topo::{Progress, Topology};

use super::Usage;

/// `--gen SHAPE ARGS…`: a generator instead of a file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GenArg {
    /// Generate the topology instead of reading a file: `--gen grid 316x316`, `--gen hypercube
    /// 10 5`, `--gen chain 254`, `--gen random 10000 4 [SEED]`, `--gen star 24`, `--gen
    /// leafspine 4 2 8` (as `shoal gen` makes them).
    #[arg(long = "gen", value_name = "SHAPE")]
    pub shape: Option<String>,
}

impl GenArg {
    /// The topology: generated, or read from `file`; what to call it in messages.
    pub fn load(&self, file: Option<&str>) -> anyhow::Result<(Topology, String)> {
        let progress = Meter::new();
        let loaded = match (&self.shape, file) {
            (Some(shape), None) => {
                let shape: Shape = shape
                    .parse()
                    .map_err(|m: String| Usage::new(format!("--gen: {m}")))?;
                let doc = generate::block(shape);
                let t = Topology::from_doc_with(doc, &progress)?;
                (t, format!("--gen {shape}"))
            }
            (None, Some(file)) => (Topology::load_with(file, &progress)?, file.to_owned()),
            (Some(_), Some(file)) => {
                let msg = format!("give a topology file ({file}) or --gen, not both");
                return Err(Usage::new(msg).into());
            }
            (None, None) => {
                return Err(Usage::new("give a topology file or --gen SHAPE".into()).into());
            }
        };
        progress.done();
        Ok(loaded)
    }
}

/// Words a shape takes after its name, so that `--gen hypercube 10 5 h1 h2` takes two.
fn arity(name: &str, rest: &[OsString]) -> usize {
    let numeric = |k: usize| {
        rest.get(k)
            .and_then(|w| w.to_str())
            .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
    };
    match name {
        "grid" | "chain" | "star" => 1,
        "hypercube" => 2,
        "leafspine" => 3,
        "random" if numeric(2) => 3,
        "random" => 2,
        _ => 0,
    }
}

/// The command line with `--gen NAME ARGS…` joined into one value (`--gen=hypercube 10 5`),
/// as many words as the shape takes, so that positional arguments after it stay theirs.
pub fn join_gen(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--gen" && i + 1 < args.len() {
            let name = args[i + 1].to_string_lossy().into_owned();
            let take = arity(&name, &args[i + 2..]).min(args.len() - i - 2);
            let words: Vec<String> = args[i + 1..i + 2 + take]
                .iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect();
            out.push(OsString::from(format!("--gen={}", words.join(" "))));
            i += 2 + take;
        } else {
            out.push(args[i].clone());
            i += 1;
        }
    }
    out
}

/// Progress on standard error, once a build has taken a second: a line redrawn in place on a
/// terminal, a line a second otherwise.
pub struct Meter {
    start: Instant,
    last: std::cell::Cell<Option<Instant>>,
    tty: bool,
}

impl Meter {
    /// A meter starting now.
    pub fn new() -> Meter {
        Meter {
            start: Instant::now(),
            last: std::cell::Cell::new(None),
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// End the line, if one was drawn.
    pub fn done(&self) {
        if self.last.get().is_some() && self.tty {
            eprintln!();
        }
    }
}

impl Progress for Meter {
    fn report(&self, what: &str, done: usize, total: usize) {
        let now = Instant::now();
        if now.duration_since(self.start) < Duration::from_secs(1) {
            return;
        }
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        if self
            .last
            .get()
            .is_some_and(|t| now.duration_since(t) < every && done < total)
        {
            return;
        }
        self.last.set(Some(now));
        let line = format!(
            "{:>6.1} s  {what}: {done} of {total}",
            now.duration_since(self.start).as_secs_f64()
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r{line}\x1b[K")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(line: &str) -> Vec<String> {
        join_gen(line.split(' ').map(OsString::from))
            .into_iter()
            .map(|w| w.into_string().unwrap())
            .collect()
    }

    #[test]
    fn gen_takes_as_many_words_as_its_shape() {
        assert_eq!(
            joined("shoal traceroute --gen hypercube 10 5 h1 h2"),
            ["shoal", "traceroute", "--gen=hypercube 10 5", "h1", "h2"]
        );
        assert_eq!(
            joined("shoal run --gen grid 316x316 --seconds 1"),
            ["shoal", "run", "--gen=grid 316x316", "--seconds", "1"]
        );
        assert_eq!(
            joined("shoal ping --gen random 100 4 h1 h2"),
            ["shoal", "ping", "--gen=random 100 4", "h1", "h2"]
        );
        assert_eq!(
            joined("shoal ping --gen random 100 4 7 h1 h2"),
            ["shoal", "ping", "--gen=random 100 4 7", "h1", "h2"]
        );
        assert_eq!(joined("shoal run t.toml"), ["shoal", "run", "t.toml"]);
    }
}
