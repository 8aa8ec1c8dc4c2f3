//! The commands `shoal ctl` sends, each a line: parsed here, checked like the topology file,
//! carried out on the running engine. Shows answer in iproute2's layout (or JSON, with `json`
//! in front); changes reach every replica of a node or every end of a link, or are refused
//! whole with the reason; `ping`, `traceroute` and `capture` stream their output.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Directory;
use super::show;
use crate::engine::{Engine, Totals};
use crate::fabric::{IfaceId, LinkId, Node, NodeId};
use crate::probe::PingReply;
use crate::router::Router;
use crate::shape::Netem;

/// What a command answers when the node's worker did not (within the engine's job timeout).
const NO_ANSWER: &str = "the node's worker did not answer";

/// Where a long answer puts its chunks: `false` once the client has gone.
pub type Sink<'a> = &'a mut dyn FnMut(&[u8]) -> bool;

/// A long answer's work, run on a thread of its own.
pub type Job = Box<dyn FnOnce(Sink<'_>) + Send>;

/// What a command answers.
pub enum Reply {
    /// Its whole answer (text or JSON), or why it was refused.
    Done(Result<String, String>),
    /// An answer that comes over time: the job is handed a sink for chunks, which says
    /// `false` once the client has gone (the job then stops).
    Stream(Job),
}

fn done(text: impl Into<String>) -> Reply {
    Reply::Done(Ok(text.into()))
}

fn refuse(why: impl Into<String>) -> Reply {
    Reply::Done(Err(why.into()))
}

/// The running network as the control socket sees it.
pub struct Ctl {
    engine: Arc<Engine>,
    dir: Directory,
    /// Set by `stop`: the run ends.
    stop: Arc<AtomicBool>,
    /// The totals `stats` last read, for rates.
    last: std::sync::Mutex<Option<(Instant, Totals)>>,
    /// The model the network was built from, for pictures.
    topo: Option<Arc<crate::topo::Topology>>,
    /// Computed routes to recompute when links go down or up, if the network has them.
    reroute: Option<super::reroute::Reroute>,
}

const HELP: &str = "\
show nodes | show links | stats
NODE ip addr | NODE ip route [table T] | NODE ip rule | NODE ip neigh | NODE counters
NODE ip route get ADDR [from ADDR] [iif IFACE]
NODE ip route add|del ROUTE      (the topology file's syntax)
NODE ip rule add|del RULE
NODE ip neigh flush
SWITCH fdb | SWITCH vlan        (as bridge fdb show | bridge vlan show)
SWITCH stp                      (spanning tree: root, roles and states by port)
NODE link set IFACE up|down
link NODE:IFACE[,NODE:IFACE] netem \"SPEC\"|none
link NODE:IFACE[,NODE:IFACE] up|down
ping NODE DST [-c N] | traceroute NODE DST [-m N]
capture NODE[:IFACE]... (pcapng on the connection)
graph [SECONDS]  (Graphviz DOT, each link noted with its rate and drops over SECONDS)
stop
json COMMAND   (the same, as JSON, for shows)
";

/// Split a line into words, keeping what is in double quotes together.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(core::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if any {
        out.push(word);
    }
    Ok(out)
}

impl Ctl {
    /// The control of `engine`, whose network `dir` describes; `stop` is set by `stop`.
    pub fn new(engine: Arc<Engine>, dir: Directory, stop: Arc<AtomicBool>) -> Ctl {
        Ctl {
            engine,
            dir,
            stop,
            last: std::sync::Mutex::new(None),
            topo: None,
            reroute: None,
        }
    }

    /// Know the model the network was built from, `topo`: for `graph`, and to recompute
    /// `routes = "auto"` over the links left when links go down or up, as a routing protocol
    /// would (see `reroute.rs`).
    pub fn with_topology(mut self, topo: Arc<crate::topo::Topology>) -> Ctl {
        self.reroute = Some(super::reroute::Reroute::new(topo.clone(), &self.dir));
        self.topo = Some(topo);
        self
    }

    /// Names a shell completes: every node, and every `node:iface`.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for n in &self.dir.nodes {
            names.push(n.name.clone());
            names.extend(n.ifaces.iter().map(|i| format!("{}:{i}", n.name)));
        }
        names
    }

    /// Carry out one command line.
    pub fn execute(&self, line: &str) -> Reply {
        let words = match words(line) {
            Ok(w) => w,
            Err(e) => return refuse(e),
        };
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let (json, w) = match w.split_first() {
            Some((&"json", rest)) => (true, rest),
            _ => (false, &w[..]),
        };
        match w {
            [] => done(""),
            ["help"] => done(HELP),
            ["stop"] => {
                self.stop.store(true, Ordering::Relaxed);
                done("stopping\n")
            }
            ["stats"] => self.stats(json),
            ["show", "nodes"] => self.show_nodes(json),
            ["show", "links"] => self.show_links(json),
            ["names"] => done(self.names().join("\n") + "\n"),
            ["ping", node, dst, rest @ ..] => self.ping(node, dst, rest),
            ["traceroute", node, dst, rest @ ..] => self.traceroute(node, dst, rest),
            ["capture", what @ ..] => self.capture(what),
            ["graph", rest @ ..] => match &self.topo {
                Some(topo) => super::picture::graph(self.engine.clone(), topo.clone(), rest)
                    .unwrap_or_else(refuse),
                None => refuse(format!(
                    "a network of more than {} nodes is not drawn live: draw its file with \
                     shoal graph",
                    super::MAX_MODEL_NODES
                )),
            },
            ["link", ends, rest @ ..] => self.link(ends, rest),
            [node, rest @ ..] => match self.dir.node(node) {
                Some(id) => self.node(id, rest, json),
                None => refuse(format!("no node or command {node:?} (try help)")),
            },
        }
    }

    fn node(&self, id: NodeId, w: &[&str], json: bool) -> Reply {
        let text = |line: &[&str]| line.join(" ");
        match w {
            ["ip", "addr" | "a" | "address", ..] if json => {
                self.ask(id, |r| Ok(show::addr_json(r).to_string() + "\n"))
            }
            ["ip", "addr" | "a" | "address"] | ["ip", "addr" | "a" | "address", "show"] => {
                self.ask(id, |r| Ok(show::addr(r)))
            }
            ["ip", "route" | "r", "get", rest @ ..] => self.route_get(id, rest),
            ["ip", "route" | "r", "add", rest @ ..] => {
                let route = text(rest);
                self.change(id, move |r, _| {
                    r.add_route_str(&route).map_err(|e| e.to_string())
                })
            }
            ["ip", "route" | "r", "del" | "delete", rest @ ..] => {
                let route = text(rest);
                self.change(id, move |r, _| {
                    r.remove_route_str(&route)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            }
            ["ip", "route" | "r", rest @ ..] => {
                let table = match rest {
                    [] | ["show"] => None,
                    ["table", t] | ["show", "table", t] => match self.table_id(id, t) {
                        Ok(t) => Some(t),
                        Err(e) => return refuse(e),
                    },
                    _ => return refuse("ip route [show] [table T] | get | add | del"),
                };
                self.ask(id, move |r| show::routes(r, table))
            }
            ["ip", "rule", "add", rest @ ..] => {
                let rule = text(rest);
                self.change(id, move |r, _| {
                    r.add_rule_str(&rule).map_err(|e| e.to_string())
                })
            }
            ["ip", "rule", "del" | "delete", rest @ ..] => {
                let rule = text(rest);
                self.change(id, move |r, _| {
                    r.remove_rule_str(&rule).map_err(|e| e.to_string())
                })
            }
            ["ip", "rule"] | ["ip", "rule", "show"] => self.ask(id, |r| Ok(show::rules(r))),
            ["ip", "neigh" | "n", "flush", ..] => self.change(id, |r, pool| {
                r.flush_neighbours(pool);
                Ok(())
            }),
            ["ip", "neigh" | "n"] | ["ip", "neigh" | "n", "show"] => {
                self.ask(id, |r| Ok(show::neigh(r)))
            }
            ["counters"] => self.inspect(id, |n| {
                Ok(match n {
                    Node::Router(r) => show::counters(r),
                    Node::Switch(s) => crate::switch::show::counters(s),
                })
            }),
            ["fdb"] | ["fdb", "show"] => self.ask_switch(id, crate::switch::show::fdb),
            ["vlan"] | ["vlan", "show"] => self.ask_switch(id, crate::switch::show::vlans),
            ["stp"] | ["stp", "show"] => self.ask_switch(id, crate::switch::show::stp),
            ["link", "set", iface, state @ ("up" | "down")] => {
                let Some(i) = self.dir.iface(id, iface) else {
                    return refuse(format!("{} has no interface {iface:?}", self.dir.name(id)));
                };
                let up = *state == "up";
                let reply = self.change(id, move |r, pool| {
                    r.set_iface_up(i, up, pool).map_err(|e| e.to_string())
                });
                match (&reply, &self.reroute) {
                    (Reply::Done(Ok(_)), Some(re)) => {
                        done(re.iface(&self.engine, id, i, up).unwrap_or_default())
                    }
                    _ => reply,
                }
            }
            _ => refuse(format!("{}: not a command (try help)", w.join(" "))),
        }
    }

    /// Run a read-only job on a node (its first replica).
    fn inspect(
        &self,
        id: NodeId,
        f: impl FnOnce(&Node) -> Result<String, String> + Send + 'static,
    ) -> Reply {
        let answer = self.engine.inspect(id, f);
        Reply::Done(answer.unwrap_or_else(|| Err(NO_ANSWER.into())))
    }

    /// Run a read-only job on a node's router.
    fn ask(
        &self,
        id: NodeId,
        f: impl FnOnce(&Router) -> Result<String, String> + Send + 'static,
    ) -> Reply {
        self.inspect(id, move |n| match n {
            Node::Router(r) => f(r),
            Node::Switch(_) => Err("a switch has no IP stack".into()),
        })
    }

    /// Show something of a switch.
    fn ask_switch(&self, id: NodeId, f: fn(&crate::switch::Switch) -> String) -> Reply {
        self.inspect(id, move |n| match n {
            Node::Switch(s) => Ok(f(s)),
            Node::Router(_) => Err("not a switch".to_owned()),
        })
    }

    /// Change a node's router on every replica (refused whole if the first refuses).
    fn change(
        &self,
        id: NodeId,
        f: impl Fn(&mut Router, &mut crate::frame::Pool) -> Result<(), String> + Send + Clone + 'static,
    ) -> Reply {
        let answer = self.engine.change(id, move |n, pool| match n {
            Node::Router(r) => f(r, pool),
            Node::Switch(_) => Err("a switch has no IP stack".into()),
        });
        match answer {
            Some(Ok(())) => done(""),
            Some(Err(e)) => refuse(e),
            None => refuse(NO_ANSWER),
        }
    }

    fn table_id(&self, id: NodeId, t: &str) -> Result<u32, String> {
        let t = t.to_owned();
        let answer = self.engine.inspect(id, move |n| match n {
            Node::Router(r) => r.fib().names().resolve(&t).map_err(|e| e.to_string()),
            Node::Switch(_) => Err("a switch has no routing tables".to_owned()),
        });
        answer.ok_or(NO_ANSWER)?
    }

    fn route_get(&self, id: NodeId, w: &[&str]) -> Reply {
        let Some((dst, rest)) = w.split_first() else {
            return refuse("ip route get ADDR [from ADDR] [iif IFACE]");
        };
        let Ok(dst) = dst.parse::<Ipv4Addr>() else {
            return refuse(format!("{dst:?} is not an IPv4 address"));
        };
        let mut src = None;
        let mut iif = None;
        let mut rest = rest.iter();
        while let Some(&word) = rest.next() {
            match (word, rest.next()) {
                ("from", Some(a)) => match a.parse::<Ipv4Addr>() {
                    Ok(a) => src = Some(a),
                    Err(_) => return refuse(format!("{a:?} is not an IPv4 address")),
                },
                ("iif", Some(i)) => match self.dir.iface(id, i) {
                    Some(i) => iif = Some(i),
                    None => return refuse(format!("no interface {i:?}")),
                },
                _ => return refuse(format!("{word:?}: expected from ADDR or iif IFACE")),
            }
        }
        self.ask(id, move |r| Ok(show::route_get(r, dst, src, iif)))
    }

    fn stats(&self, json: bool) -> Reply {
        let now = (Instant::now(), self.engine.stats());
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let rate = last.map(|(t, before)| {
            let dt = now.0.duration_since(t).as_secs_f64().max(1e-9);
            let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
            (
                per(now.1.frames, before.frames),
                per(now.1.sent, before.sent),
                per(now.1.received, before.received),
            )
        });
        *last = Some(now);
        let t = now.1;
        if json {
            let r = rate.map(|(f, s, r)| json!({"frames": f, "sent": s, "received": r}));
            let v = json!({"frames": t.frames, "drops": t.drops, "sent": t.sent,
                           "received": t.received, "per_second_since_last": r});
            return done(v.to_string() + "\n");
        }
        let mut out = format!(
            "frames {}  drops {}  flows sent {} received {}\n",
            t.frames, t.drops, t.sent, t.received
        );
        if let Some((f, s, r)) = rate {
            out += &format!(
                "since the last stats: {:.3} Mpps of router hops, flows {:.0} sent/s, {:.0} \
                 received/s\n",
                f / 1e6,
                s,
                r
            );
        }
        done(out)
    }

    fn show_nodes(&self, json: bool) -> Reply {
        let placement = self.engine.placement();
        if json {
            let v: Vec<Value> = self
                .dir
                .nodes
                .iter()
                .zip(&placement)
                .map(|(n, w)| json!({"name": n.name, "kind": n.kind, "worker": w, "ifaces": n.ifaces}))
                .collect();
            return done(Value::Array(v).to_string() + "\n");
        }
        let mut out = String::new();
        for (n, w) in self.dir.nodes.iter().zip(&placement) {
            out += &format!(
                "{:<16} {:<6} worker {w}  {}\n",
                n.name,
                n.kind,
                n.ifaces.join(" ")
            );
        }
        done(out)
    }

    fn show_links(&self, json: bool) -> Reply {
        let links = self.engine.links();
        if json {
            let v: Vec<Value> = links
                .iter()
                .map(|l| {
                    let ends: Vec<Value> = l
                        .ends
                        .iter()
                        .map(|e| {
                            let c = &e.counters;
                            json!({"end": e.name, "up": e.up, "sent": c.tx_frames,
                                   "received": c.rx_frames, "dropped": c.total_drops(),
                                   "in_flight": e.in_flight, "impairment": e.netem})
                        })
                        .collect();
                    json!({"link": l.name(), "medium": l.medium, "ends": ends})
                })
                .collect();
            return done(Value::Array(v).to_string() + "\n");
        }
        let mut out = String::new();
        for l in &links {
            let state = if l.ends.iter().all(|e| e.up) {
                "up"
            } else {
                "DOWN"
            };
            out += &format!("{}  {}  {state}\n", l.name(), l.medium);
            for e in &l.ends {
                let c = &e.counters;
                let drops: Vec<String> =
                    c.nonzero_drops().map(|(r, n)| format!("{r} {n}")).collect();
                out += &format!(
                    "    {:<24} sent {} received {} dropped {}{} in flight {}{}\n",
                    e.name,
                    c.tx_frames,
                    c.rx_frames,
                    c.total_drops(),
                    if drops.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", drops.join(", "))
                    },
                    e.in_flight,
                    e.netem.as_ref().map_or(String::new(), |n| format!("  {n}"))
                );
            }
        }
        done(out)
    }

    /// `link A:x[,B:y] netem "SPEC"|none` and `link A:x[,B:y] up|down`.
    fn link(&self, ends: &str, w: &[&str]) -> Reply {
        let mut link = None;
        let mut which = Vec::new();
        for end in ends.split(',') {
            let Some((l, k)) = self.dir.end(end) else {
                return refuse(format!("{end:?} is no NODE:IFACE on a link"));
            };
            if link.is_some_and(|x| x != l) {
                return refuse(format!("{ends}: not two ends of one link"));
            }
            link = Some(l);
            which.push(k);
        }
        let Some(link) = link else {
            return refuse("link NODE:IFACE[,NODE:IFACE] netem SPEC|none | up | down");
        };
        match w {
            ["netem", spec] => {
                let netem = if *spec == "none" {
                    None
                } else {
                    match spec.parse::<Netem>() {
                        Ok(n) => Some(n),
                        Err(e) => return refuse(format!("netem {spec:?}: {e}")),
                    }
                };
                // Both named ends, or the one.
                for k in &which {
                    self.engine.impair_link(link, Some(*k), netem.clone());
                }
                done("")
            }
            [state @ ("up" | "down")] => {
                let up = *state == "up";
                self.engine.set_link_up(link, up);
                let rerouted = self
                    .reroute
                    .as_ref()
                    .and_then(|r| r.link(&self.engine, link, up));
                done(rerouted.unwrap_or_default())
            }
            _ => refuse("link NODE:IFACE[,NODE:IFACE] netem SPEC|none | up | down"),
        }
    }

    fn ping(&self, node: &str, dst: &str, rest: &[&str]) -> Reply {
        let Some(id) = self.dir.node(node) else {
            return refuse(format!("no node {node:?}"));
        };
        let Some(dst) = self.dir.addr(dst) else {
            return refuse(format!("{dst:?} is neither an address nor a node with one"));
        };
        let count = match rest {
            [] => 3,
            ["-c", n] => match n.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return refuse(format!("-c {n}: give a count of 1 or more")),
            },
            _ => return refuse("ping NODE DST [-c N]"),
        };
        let engine = self.engine.clone();
        Reply::Stream(Box::new(move |send| {
            for seq in 1..=count {
                let line = match engine.ping(id, dst, seq, Duration::from_secs(1)) {
                    PingReply::Echo { rtt, ttl } => format!(
                        "64 bytes from {dst}: icmp_seq={seq} ttl={ttl} time={:.3} ms\n",
                        rtt.as_secs_f64() * 1e3
                    ),
                    PingReply::Error {
                        from, kind, code, ..
                    } => {
                        format!("From {from} icmp_seq={seq} type {kind} code {code}\n")
                    }
                    PingReply::Timeout => format!("no answer to icmp_seq={seq}\n"),
                };
                if !send(line.as_bytes()) {
                    return;
                }
            }
        }))
    }

    fn traceroute(&self, node: &str, dst: &str, rest: &[&str]) -> Reply {
        let Some(id) = self.dir.node(node) else {
            return refuse(format!("no node {node:?}"));
        };
        let Some(dst) = self.dir.addr(dst) else {
            return refuse(format!("{dst:?} is neither an address nor a node with one"));
        };
        let hops = match rest {
            [] => 30,
            ["-m", n] => match n.parse::<u8>() {
                Ok(n) if n > 0 => n,
                _ => return refuse(format!("-m {n}: give 1 to 255 hops")),
            },
            _ => return refuse("traceroute NODE DST [-m N]"),
        };
        let engine = self.engine.clone();
        let names = self.dir.owners();
        Reply::Stream(Box::new(move |send| {
            for hop in engine.traceroute(id, dst, hops, Duration::from_secs(1)) {
                let line = match (hop.from, hop.rtt) {
                    (Some(from), Some(rtt)) => {
                        let name = names.get(&from).map_or(from.to_string(), Clone::clone);
                        format!(
                            "{:>2}  {name} ({from})  {:.3} ms\n",
                            hop.ttl,
                            rtt.as_secs_f64() * 1e3
                        )
                    }
                    _ => format!("{:>2}  *\n", hop.ttl),
                };
                if !send(line.as_bytes()) {
                    return;
                }
            }
        }))
    }

    /// `capture NODE[:IFACE]...`: pcapng of what crosses them, streamed until the client goes.
    fn capture(&self, what: &[&str]) -> Reply {
        let mut ends: Vec<(String, LinkId, usize)> = Vec::new();
        for w in what {
            let found = self.dir.ends_of(w);
            if found.is_empty() {
                return refuse(format!("{w:?}: no such node or NODE:IFACE on a link"));
            }
            ends.extend(found);
        }
        if ends.is_empty() {
            return refuse("capture NODE[:IFACE]...");
        }
        let engine = self.engine.clone();
        Reply::Stream(Box::new(move |send| {
            super::stream::capture(&engine, &ends, send)
        }))
    }
}

/// Interfaces of a node by name.
pub(super) fn iface_index(ifaces: &[String], name: &str) -> Option<IfaceId> {
    ifaces
        .iter()
        .position(|i| i == name)
        .map(|i| IfaceId(i as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quoted_text_together() {
        assert_eq!(
            words(r#"link r1:eth1 netem "delay 10ms  loss 1%""#).unwrap(),
            ["link", "r1:eth1", "netem", "delay 10ms  loss 1%"]
        );
        assert_eq!(words("  a   b ").unwrap(), ["a", "b"]);
        assert_eq!(words(r#"x """#).unwrap(), ["x", ""]);
        assert!(words(r#"a "b"#).is_err());
    }
}
