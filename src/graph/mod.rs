//! Pictures of a topology: Graphviz DOT, for `shoal graph` (and, with live notes on each link,
//! for a picture of a running network).
//!
//! Nodes are drawn by kind — a router a rounded box, a host an ellipse, a switch a plain box —
//! and links as edges labelled with what shapes them (a delay, a netem spec; an interface's own
//! impairment as `→ r2: loss 1%`), with the interface names at their ends, a switch port's
//! VLANs and an interface's VLAN sub-interfaces under them, and a port spanning tree blocks
//! marked (`spanning.rs` finds those of a file). A link of three or more ends is
//! a hub, a point every member is joined to. What lies outside the topology is drawn as an
//! external end: a link file (a note), a host device (a component), a VDE switch plugged
//! into (a 3-D box, shared by every interface plugged into the same switch, so two routers
//! on one switch are drawn joined through it), a listening VDE interface's clients (a dashed
//! 3-D box), the `vde_plug` stream on standard input and output.
//!
//! The layout is chosen for the shape: a chain (no router with more than two router
//! neighbours) runs left to right (`dot`, `rankdir=LR`); routers named by coordinates, as
//! the grid and hypercube generators name them (`r2_3`, `r0_1_2`), are pinned where their
//! coordinates say (`neato`, `pos="x,y!"`; a hypercube's dimensions beyond two nest grids in
//! grids), hosts pushed outwards from the router they hang on; anything else is left to
//! `neato` with overlaps removed. The `layout` attribute carries the choice, so a plain
//! `dot -Tsvg` draws every picture as intended.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::fabric::LinkId;
use crate::shape::Netem;
use crate::topo::{Kind, Topology};
use crate::vde::VdeSpec;

mod layout;
mod spanning;

use layout::Layout;
pub use spanning::blocked_ports;

/// A line of a picture that [`dot`] can add a note to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edge {
    /// Link `i` of [`Topology::links`].
    Link(usize),
    /// The edge from interface `iface` of node `node` to what it is attached to outside the
    /// topology (a link file, a device, VDE).
    Attached { node: usize, iface: usize },
}

/// The edge standing for link `id` of the network [`Topology::network`] makes, so that a
/// running network's link counters can be noted on its picture. There the interfaces attached
/// outside the topology (a link file, a device, VDE) come first, in node and interface order,
/// then the file's `[[link]]`s in order.
pub fn edge_of(topo: &Topology, id: LinkId) -> Option<Edge> {
    let attached = topo.nodes.iter().enumerate().flat_map(|(n, node)| {
        node.ifaces
            .iter()
            .enumerate()
            .filter(|(_, f)| f.link_file.is_some() || f.attach.is_some() || f.vde.is_some())
            .map(move |(f, _)| Edge::Attached { node: n, iface: f })
    });
    let mut k = 0;
    for edge in attached {
        if k == id.0 as usize {
            return Some(edge);
        }
        k += 1;
    }
    let l = id.0 as usize - k;
    (l < topo.links.len()).then_some(Edge::Link(l))
}

/// Notes to print on edges (a live rate, drops), each under the edge's own label, and the
/// switch ports spanning tree blocks.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    notes: HashMap<Edge, String>,
    blocked: HashSet<(usize, usize)>,
}

impl Notes {
    /// No notes.
    pub fn new() -> Notes {
        Notes::default()
    }

    /// Print `text` on `edge`.
    pub fn add(&mut self, edge: Edge, text: impl Into<String>) {
        self.notes.insert(edge, text.into());
    }

    /// Draw interface `iface` of node `node` (a switch port) blocked by spanning tree.
    pub fn block(&mut self, node: usize, iface: usize) {
        self.blocked.insert((node, iface));
    }

    fn get(&self, edge: Edge) -> Option<&str> {
        self.notes.get(&edge).map(String::as_str)
    }
}

/// The topology as a Graphviz graph (DOT), with `notes` under the edges' labels.
pub fn dot(topo: &Topology, notes: &Notes) -> String {
    let mut g = String::new();
    let layout = Layout::of(topo);
    g.push_str("graph shoal {\n");
    match &layout {
        Layout::Chain => {
            g.push_str("  graph [layout=dot, rankdir=LR, nodesep=0.3, ranksep=0.6];\n");
        }
        Layout::Pinned(_) => {
            g.push_str("  graph [layout=neato, splines=true, outputorder=edgesfirst];\n");
        }
        Layout::Free => {
            g.push_str("  graph [layout=neato, overlap=false, splines=true, sep=\"+12\"];\n");
        }
    }
    g.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    g.push_str(
        "  edge [fontname=\"Helvetica\", fontsize=9, labelfontsize=8, color=\"#555555\"];\n",
    );

    for (i, n) in topo.nodes.iter().enumerate() {
        let style = match n.kind {
            Kind::Router => "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe9f6\"",
            Kind::Host => "shape=ellipse, style=filled, fillcolor=\"#e6f2dc\"",
            Kind::Switch => "shape=box, style=filled, fillcolor=\"#f6e7c8\"",
        };
        let tip: Vec<String> = n
            .ifaces
            .iter()
            .map(|f| {
                let addrs: Vec<String> = f.addrs.iter().map(|a| a.to_string()).collect();
                format!("{} {}", f.name, addrs.join(" "))
            })
            .collect();
        let _ = write!(
            g,
            "  {} [label={}, {style}, tooltip={}",
            node_id(i),
            quote(&n.name),
            quote(&format!("{}\n{}", n.name, tip.join("\n")))
        );
        if let Layout::Pinned(pos) = &layout
            && let Some((x, y)) = pos[i]
        {
            let _ = write!(g, ", pos=\"{x:.2},{y:.2}!\"");
        }
        g.push_str("];\n");
    }

    let end = |(n, f): (usize, usize)| &topo.nodes[n].ifaces[f];
    for (l, link) in topo.links.iter().enumerate() {
        let mut label: Vec<String> = Vec::new();
        match &link.netem {
            Some(n) => label.push(netem_text(n)),
            None if !link.delay.is_zero() => label.push(format!("delay {:?}", link.delay)),
            None => {}
        }
        // An interface's own impairment shapes what leaves it.
        for &(n, f) in &link.ends {
            if let Some(netem) = &end((n, f)).netem {
                let from = format!("{}:{}", topo.nodes[n].name, end((n, f)).name);
                label.push(format!("{from} → {}", netem_text(netem)));
            }
        }
        if let Some(note) = notes.get(Edge::Link(l)) {
            label.push(note.to_owned());
        }
        let label = label.join("\n");
        if let [a, b] = link.ends[..] {
            let _ = writeln!(
                g,
                "  {} -- {} [label={}, taillabel={}, headlabel={}, tooltip={}{}];",
                node_id(a.0),
                node_id(b.0),
                quote(&label),
                quote(&port_text(topo, notes, a)),
                quote(&port_text(topo, notes, b)),
                quote(&format!("{} — {}", end_text(topo, a), end_text(topo, b))),
                blocked_style(notes, [a, b])
            );
        } else {
            let hub = format!("hub{l}");
            let _ = writeln!(
                g,
                "  {hub} [shape=point, width=0.12, xlabel={}];",
                quote(&label)
            );
            for &e in &link.ends {
                let _ = writeln!(
                    g,
                    "  {} -- {hub} [taillabel={}, tooltip={}{}];",
                    node_id(e.0),
                    quote(&port_text(topo, notes, e)),
                    quote(&end_text(topo, e)),
                    blocked_style(notes, [e])
                );
            }
        }
    }

    // What lies beyond the topology: one node per place (interfaces plugged into one VDE
    // switch share it), one edge per interface.
    let mut outside: Vec<(String, String)> = Vec::new();
    let mut edges = String::new();
    for (n, node) in topo.nodes.iter().enumerate() {
        for (f, iface) in node.ifaces.iter().enumerate() {
            let Some((key, label, shape)) = beyond(iface) else {
                continue;
            };
            let k = match outside.iter().position(|(k, _)| *k == key) {
                Some(k) => k,
                None => {
                    outside.push((key, format!("label={}, {shape}", quote(&label))));
                    outside.len() - 1
                }
            };
            let mut text: Vec<String> = Vec::new();
            if let Some(VdeSpec::Plug { port: Some(p), .. }) = iface.vde.as_deref() {
                text.push(format!("port {p}"));
            }
            if let Some(netem) = &iface.netem {
                text.push(format!("→ {}", netem_text(netem)));
            }
            if let Some(note) = notes.get(Edge::Attached { node: n, iface: f }) {
                text.push(note.to_owned());
            }
            let _ = writeln!(
                edges,
                "  {} -- x{k} [label={}, taillabel={}, style=dashed, tooltip={}];",
                node_id(n),
                quote(&text.join("\n")),
                quote(&iface.name),
                quote(&end_text(topo, (n, f)))
            );
        }
    }
    for (k, (_, attrs)) in outside.iter().enumerate() {
        let _ = writeln!(g, "  x{k} [{attrs}, fillcolor=\"#f4f4f4\", fontsize=9];");
    }
    g.push_str(&edges);
    g.push_str("}\n");
    g
}

/// What an interface is attached to outside the topology: a key naming the place (so that
/// interfaces attached to one place share its node), its label and its shape and style.
fn beyond(iface: &crate::topo::Iface) -> Option<(String, String, &'static str)> {
    if let Some(path) = &iface.link_file {
        let p = path.display();
        let label = format!("link file\n{p}");
        return Some((format!("file {p}"), label, "shape=note, style=filled"));
    }
    if let Some(port) = &iface.attach {
        use crate::port::Mode;
        let dev = port.dev.as_deref();
        let label = match (port.mode, dev) {
            (Mode::AfXdp, Some(d)) => format!("{d}\nAF_XDP"),
            (Mode::Tap, _) => format!("TAP {}", port.tap.as_deref().or(dev).unwrap_or("")),
            (Mode::Auto, Some(d)) => format!("{d}\nAF_XDP or TAP"),
            (_, None) => "device".to_owned(),
        };
        return Some((
            format!("dev {label}"),
            label,
            "shape=component, style=filled",
        ));
    }
    match iface.vde.as_deref()? {
        VdeSpec::Plug { dir, .. } | VdeSpec::Listen { dir } => {
            let listening = matches!(iface.vde.as_deref(), Some(VdeSpec::Listen { .. }));
            let (label, shape) = if listening {
                let label = format!("VDE clients\n{}", dir.display());
                (label, "shape=box3d, style=\"filled,dashed\"")
            } else {
                let label = format!("VDE switch\n{}", dir.display());
                (label, "shape=box3d, style=filled")
            };
            // An interface plugged into a listening one of this topology meets it there.
            Some((format!("vde {}", dir.display()), label, shape))
        }
        VdeSpec::Stdio => Some((
            "vde stdio".into(),
            "vde_plug stream\nstdin/stdout".into(),
            "shape=cds, style=filled",
        )),
    }
}

/// The label at an end of an edge: the interface's name, then the VLANs a switch port
/// carries (`vlan 10` for an access port; `untagged 1 tagged 10,20` otherwise) or the VLANs of
/// an interface's sub-interfaces (`.10 .20`), and `blocked` for a port spanning tree blocks.
fn port_text(topo: &Topology, notes: &Notes, (n, f): (usize, usize)) -> String {
    let node = &topo.nodes[n];
    let mut text = node.ifaces[f].name.clone();
    let port = node
        .switch
        .as_deref()
        .filter(|c| c.vlan_filtering && !c.hub);
    if let Some(p) = port.and_then(|c| c.ports.get(f)) {
        let tagged: Vec<u16> = p
            .vlans
            .iter()
            .filter(|&v| !p.untagged.contains(v))
            .collect();
        let untagged: Vec<u16> = p.untagged.iter().collect();
        let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
        let access =
            tagged.is_empty() && untagged.len() == 1 && p.pvid == untagged.first().copied();
        if access && p.pvid != Some(1) {
            let _ = write!(text, "\nvlan {}", list(&untagged));
        } else if !access {
            if !untagged.is_empty() {
                let _ = write!(text, "\nuntagged {}", list(&untagged));
            }
            if !tagged.is_empty() {
                let _ = write!(text, "\ntagged {}", list(&tagged));
            }
        }
    }
    let subs: Vec<String> = (node.ifaces.iter())
        .filter_map(|s| s.vlan.filter(|&(parent, _)| parent == f))
        .map(|(_, vid)| format!(".{vid}"))
        .collect();
    if !subs.is_empty() {
        let _ = write!(text, "\n{}", subs.join(" "));
    }
    if notes.blocked.contains(&(n, f)) {
        text.push_str("\nblocked");
    }
    text
}

/// Extra attributes of an edge with blocked ports among `ends` (its tail, then its head): drawn
/// dashed in red, a bar at each blocked end.
fn blocked_style<const N: usize>(notes: &Notes, ends: [(usize, usize); N]) -> String {
    let blocked = ends.map(|e| notes.blocked.contains(&e));
    let (tail, head) = (blocked[0], N == 2 && blocked[N - 1]);
    if !tail && !head {
        return String::new();
    }
    let dir = match (tail, head) {
        (true, true) => "both",
        (true, false) => "back",
        _ => "forward",
    };
    format!(", style=dashed, color=\"#c0392b\", dir={dir}, arrowtail=tee, arrowhead=tee")
}

/// `node:iface addr…` of an end.
fn end_text(topo: &Topology, (n, f): (usize, usize)) -> String {
    let node = &topo.nodes[n];
    let iface = &node.ifaces[f];
    let addrs: Vec<String> = iface.addrs.iter().map(|a| a.to_string()).collect();
    format!("{}:{} {}", node.name, iface.name, addrs.join(" "))
}

/// A netem spec as the file would give it: without the queue bound when it is the default
/// (or none: a plain delay).
fn netem_text(n: &Netem) -> String {
    let text = n.to_string();
    for limit in [Netem::DEFAULT_LIMIT, u32::MAX] {
        let prefix = format!("limit {limit}");
        if let Some(rest) = text.strip_prefix(&prefix) {
            return rest.trim_start().to_owned();
        }
    }
    text
}

fn node_id(i: usize) -> String {
    format!("n{i}")
}

/// A DOT string literal.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topo::generate;

    #[test]
    fn a_chain_runs_left_to_right_with_its_delays_and_interfaces() {
        let t = generate::chain(3).unwrap();
        let g = dot(&t, &Notes::new());
        assert!(g.contains("rankdir=LR"), "{g}");
        assert!(g.contains("n0 [label=\"r1\", shape=box"), "{g}");
        assert!(g.contains("shape=ellipse"), "{g}");
        // Four links, r1:eth1 — r2:eth0 among them.
        assert_eq!(g.matches(" -- ").count(), 4, "{g}");
        assert!(
            g.contains("n0 -- n1 [label=\"\", taillabel=\"eth1\", headlabel=\"eth0\""),
            "{g}"
        );
    }

    #[test]
    fn a_grid_is_pinned_by_coordinates_with_hosts_outside() {
        let t = generate::grid(2, 3).unwrap();
        let mut notes = Notes::new();
        notes.add(Edge::Link(0), "1.2 Mpps");
        let g = dot(&t, &notes);
        assert!(g.contains("layout=neato"), "{g}");
        // r1_1 at the origin, r2_3 two steps right and one down.
        let at = |name: &str| {
            let line = g
                .lines()
                .find(|l| l.contains(&format!("[label=\"{name}\"")))
                .unwrap();
            let p = line.split("pos=\"").nth(1).unwrap();
            let p = p.split('!').next().unwrap();
            let (x, y) = p.split_once(',').unwrap();
            (x.parse::<f64>().unwrap(), y.parse::<f64>().unwrap())
        };
        assert_eq!(at("r1_1"), (0.0, 0.0));
        assert_eq!(at("r2_3"), (2.0 * layout::STEP.0, -layout::STEP.1));
        // h1 hangs on r1_1, up and to the left of it.
        let h1 = at("h1");
        assert!(h1.0 < 0.0 && h1.1 > 0.0, "{h1:?}");
        assert!(g.contains("1.2 Mpps"), "{g}");
    }

    /// `edge_of` names each link of the network the topology makes by its ends.
    #[test]
    fn every_network_link_has_its_edge() {
        let t = Topology::parse("t.toml", EVERY_END).unwrap();
        let net = t.network().unwrap();
        for (id, link) in net.links().iter().enumerate() {
            let ends: Vec<(usize, usize)> = match edge_of(&t, LinkId(id as u32)).unwrap() {
                Edge::Link(l) => t.links[l].ends.clone(),
                Edge::Attached { node, iface } => vec![(node, iface)],
            };
            let want: Vec<(usize, usize)> = link
                .ends
                .iter()
                .map(|(n, f)| (n.0 as usize, usize::from(f.0)))
                .collect();
            assert_eq!(ends, want, "link {id}");
        }
        assert_eq!(edge_of(&t, LinkId(net.links().len() as u32)), None);
    }

    const EVERY_END: &str = include_str!("../../tests/fixtures/every_end.toml");

    #[test]
    fn vlans_and_blocked_ports_are_drawn_at_their_ends() {
        let text = include_str!("../../examples/campus.toml");
        let t = Topology::parse("campus.toml", text).unwrap();
        let mut notes = Notes::new();
        for (n, f) in blocked_ports(&t).unwrap() {
            notes.block(n, f);
        }
        let g = dot(&t, &notes);
        assert!(g.contains("\"p1\\nvlan 10\""), "{g}");
        assert!(g.contains("\"p8\\ntagged 10,20\""), "{g}");
        assert!(g.contains("\"eth0\\n.10 .20\""), "{g}");
        let blocked: Vec<&str> = g.lines().filter(|l| l.contains("blocked")).collect();
        assert_eq!(blocked.len(), 1, "{g}");
        assert!(
            blocked[0].contains("\"p7\\ntagged 10,20\\nblocked\""),
            "{g}"
        );
        assert!(blocked[0].contains("style=dashed"), "{g}");
        assert!(blocked[0].contains("arrowhead=tee") || blocked[0].contains("arrowtail=tee"));
    }

    #[test]
    fn impairments_external_ends_and_hubs_are_drawn() {
        let t = Topology::parse("t.toml", EVERY_END).unwrap();
        let g = dot(&t, &Notes::new());
        assert!(g.contains("hub0 [shape=point"), "{g}");
        assert!(
            g.contains("xlabel=\"r1:a → delay 10ms loss random 1%\""),
            "{g}"
        );
        assert!(!g.contains("limit"), "{g}");
        assert!(g.contains("link file\\n/dev/shm/x.link"), "{g}");
        assert!(g.contains("eth1\\nAF_XDP"), "{g}");
        assert!(g.contains("VDE clients\\n/tmp/lan"), "{g}");
        assert!(g.contains("vde_plug stream"), "{g}");
        // r1 and r2 plugged into one switch meet at one node.
        assert_eq!(g.matches("VDE switch\\n/tmp/sw").count(), 1, "{g}");
        assert_eq!(g.matches("-- x2 ").count(), 2, "{g}");
    }
}
