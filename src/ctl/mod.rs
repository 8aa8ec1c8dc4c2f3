//! The control socket of a running network (`shoal ctl`): a unix stream socket on which a
//! client sends one command per line and reads framed answers.
//!
//! The server (`server.rs`) runs on a thread of its own, off the forwarding path, with bounded
//! buffers: a garbage line, a line longer than [`MAX_LINE`], a client that never reads (more
//! than [`MAX_PENDING`] of answers waiting) or too many clients at once get an error and are
//! dropped, never a worker stalled. Commands (`command.rs`) inspect and change the running
//! engine through jobs its workers run between two iterations; what a router shows comes out
//! in iproute2's layout (`show.rs`). Answers are framed so that any client can follow them:
//!
//! ```text
//! ok LEN\n<LEN bytes>          a command's answer
//! error LEN\n<LEN bytes>       a refused command and why
//! data LEN\n<LEN bytes> …      a streaming answer (ping, traceroute, capture), chunk by chunk,
//! end\n                        … and its end
//! ```

mod command;
mod picture;
mod reroute;
mod server;
mod show;
mod stream;
mod sys;

use std::collections::HashMap;
use std::net::Ipv4Addr;

pub use command::{Ctl, Reply};
pub use server::Server;

use crate::fabric::{IfaceId, Kind, LinkId, Medium, Network, NodeId};

/// The largest network (in nodes) whose model the control socket keeps, to recompute its
/// routes when links go down or up and to draw it (`graph`); a bigger one's model is freed.
pub const MAX_MODEL_NODES: usize = 5_000;

/// The longest command line a client may send.
pub const MAX_LINE: usize = 64 * 1024;

/// The most answer bytes waiting for a client to read before it is dropped.
pub const MAX_PENDING: usize = 4 * 1024 * 1024;

/// The most clients at once.
pub const MAX_CLIENTS: usize = 64;

/// A node as the control socket names it.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    pub name: String,
    pub kind: &'static str,
    pub ifaces: Vec<String>,
    /// Its first address, for `ping NODE`.
    pub addr: Option<Ipv4Addr>,
}

/// The names of a network: nodes, their interfaces, and which link and end each interface is.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub nodes: Vec<NodeEntry>,
    by_name: HashMap<String, usize>,
    /// By node and interface: its link and which end of it.
    ends: HashMap<(usize, u16), (LinkId, usize)>,
    owners: HashMap<Ipv4Addr, String>,
}

impl Directory {
    /// The names of `net` (before it starts: the engine takes it).
    pub fn of(net: &Network) -> Directory {
        let mut dir = Directory::default();
        for (i, spec) in net.nodes().iter().enumerate() {
            let router = spec.node.router();
            let ifaces: Vec<String> = (0..spec.node.iface_count())
                .map(|k| {
                    spec.node
                        .iface_name(IfaceId(k as u16))
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            let addrs = router
                .into_iter()
                .flat_map(|r| r.ifaces())
                .flat_map(|f| f.addrs())
                .map(|a| a.addr);
            for a in addrs.clone() {
                dir.owners.insert(a, spec.name.clone());
            }
            dir.nodes.push(NodeEntry {
                name: spec.name.clone(),
                kind: match spec.node.kind() {
                    Kind::Router => "router",
                    Kind::Host => "host",
                    Kind::Switch => "switch",
                },
                ifaces,
                addr: addrs.clone().next(),
            });
            dir.by_name.insert(spec.name.clone(), i);
        }
        for (l, spec) in net.links().iter().enumerate() {
            if matches!(
                spec.medium,
                Medium::Wire | Medium::File(_) | Medium::Port(_)
            ) {
                for (k, &(n, i)) in spec.ends.iter().enumerate() {
                    dir.ends.insert((n.0 as usize, i.0), (LinkId(l as u32), k));
                }
            }
        }
        dir
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).map(|&i| NodeId(i as u32))
    }

    /// A node's name.
    pub fn name(&self, id: NodeId) -> &str {
        self.nodes
            .get(id.0 as usize)
            .map_or("?", |n| n.name.as_str())
    }

    /// A node's interface by name.
    pub fn iface(&self, id: NodeId, name: &str) -> Option<IfaceId> {
        command::iface_index(&self.nodes.get(id.0 as usize)?.ifaces, name)
    }

    /// `NODE:IFACE`'s link and which end of it.
    pub fn end(&self, text: &str) -> Option<(LinkId, usize)> {
        let (node, iface) = text.split_once(':')?;
        let n = self.node(node)?;
        let i = self.iface(n, iface)?;
        self.end_at(n, i)
    }

    /// Interface `iface` of `node`'s link and which end of it.
    pub fn end_at(&self, node: NodeId, iface: IfaceId) -> Option<(LinkId, usize)> {
        self.ends.get(&(node.0 as usize, iface.0)).copied()
    }

    /// The link ends `NODE:IFACE` or `NODE` (all its interfaces on links) names.
    pub fn ends_of(&self, text: &str) -> Vec<(String, LinkId, usize)> {
        if text.contains(':') {
            return self
                .end(text)
                .map(|(l, k)| (text.to_owned(), l, k))
                .into_iter()
                .collect();
        }
        let Some(n) = self.node(text) else {
            return Vec::new();
        };
        let entry = &self.nodes[n.0 as usize];
        (0..entry.ifaces.len())
            .filter_map(|i| {
                let (l, k) = self.ends.get(&(n.0 as usize, i as u16))?;
                Some((format!("{text}:{}", entry.ifaces[i]), *l, *k))
            })
            .collect()
    }

    /// An address, or a node's first address.
    pub fn addr(&self, text: &str) -> Option<Ipv4Addr> {
        text.parse()
            .ok()
            .or_else(|| self.nodes.get(self.node(text)?.0 as usize)?.addr)
    }

    /// Who owns each address (traceroute names its hops).
    pub fn owners(&self) -> HashMap<Ipv4Addr, String> {
        self.owners.clone()
    }
}

/// Where `shoal run` listens when not told: `$XDG_RUNTIME_DIR/shoal/NAME.sock`, else
/// `/run/shoal/NAME.sock` for root, else `/tmp/shoal-UID/NAME.sock`.
pub fn default_path(name: &str) -> std::path::PathBuf {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => std::path::PathBuf::from(d).join("shoal"),
        _ if sys::uid() == 0 => std::path::PathBuf::from("/run/shoal"),
        _ => std::path::PathBuf::from(format!("/tmp/shoal-{}", sys::uid())),
    };
    dir.join(format!("{name}.sock"))
}
