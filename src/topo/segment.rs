//! Layer-3 segments: which routers' and hosts' interfaces share one broadcast domain.
//!
//! Without switches or VLAN sub-interfaces a segment is a link. A switch joins the links on
//! its ports per VLAN, so everything it connects in one VLAN is one segment, as a hub (a
//! multi-ended link) would be; a VLAN sub-interface sits on its parent's link, in the domain
//! of frames tagged with its VLAN. A domain is found by union-find over "points" — a link and
//! the tag frames of the domain carry on it (0: untagged) — which switches join: per member
//! VLAN, the points of its ports (untagged where the VLAN leaves untagged), and untagged
//! frames with the PVID's; a hub or a switch without VLAN filtering joins its ports' points
//! tag by tag. Validation checks subnets and computes routes over segments, exactly as over
//! links when there are no switches.

use std::collections::HashMap;

use super::{Kind, Link, Node};

/// The segments of a topology with switches or VLAN sub-interfaces.
pub(super) struct Segments {
    /// One per segment, its ends the interfaces with addresses on it, in node order.
    pub links: Vec<Link>,
    /// The physical link each segment was first met on (for errors' line numbers).
    pub first: Vec<usize>,
    /// The nodes with each interface's `link` naming its segment (switch ports: none).
    pub nodes: Vec<Node>,
}

struct Points {
    ids: HashMap<(usize, u16), usize>,
    parent: Vec<usize>,
}

impl Points {
    fn id(&mut self, link: usize, tag: u16) -> usize {
        let next = self.parent.len();
        let id = *self.ids.entry((link, tag)).or_insert(next);
        if id == next {
            self.parent.push(id);
        }
        id
    }

    fn root(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        self.parent[a.max(b)] = a.min(b);
    }
}

/// The segments, or `None` when every segment is a link (no switch, no sub-interface).
pub(super) fn segments(nodes: &[Node], links: &[Link]) -> Option<Segments> {
    let has_vlans = nodes
        .iter()
        .flat_map(|n| &n.ifaces)
        .any(|f| f.vlan.is_some());
    if !has_vlans && !nodes.iter().any(|n| n.kind == Kind::Switch) {
        return None;
    }
    let mut p = Points {
        ids: HashMap::new(),
        parent: Vec::new(),
    };
    // Every tag some domain uses, for switches that pass tags through unchanged.
    let mut tags: Vec<u16> = vec![0];
    for n in nodes {
        tags.extend(n.ifaces.iter().filter_map(|f| f.vlan.map(|(_, v)| v)));
        if let Some(c) = n.switch.as_deref().filter(|c| c.vlan_filtering && !c.hub) {
            tags.extend(c.ports.iter().flat_map(|q| q.vlans.iter()));
        }
    }
    tags.sort_unstable();
    tags.dedup();
    for n in nodes {
        let Some(c) = n.switch.as_deref() else {
            continue;
        };
        let linked = || (n.ifaces.iter().enumerate()).filter_map(|(i, f)| f.link.map(|l| (i, l)));
        if c.hub || !c.vlan_filtering {
            for &t in &tags {
                let mut first = None;
                for (_, l) in linked() {
                    let x = p.id(l, t);
                    p.join(*first.get_or_insert(x), x);
                }
            }
            continue;
        }
        let mut members = crate::switch::VlanSet::default();
        for q in &c.ports {
            members.extend(&q.vlans);
        }
        for v in members.iter() {
            let mut first = None;
            for (i, l) in linked() {
                let q = &c.ports[i];
                if !q.vlans.contains(v) && q.pvid != Some(v) {
                    continue;
                }
                if q.vlans.contains(v) {
                    let tag = if q.untagged.contains(v) { 0 } else { v };
                    let x = p.id(l, tag);
                    p.join(*first.get_or_insert(x), x);
                }
                if q.pvid == Some(v) {
                    let x = p.id(l, 0);
                    p.join(*first.get_or_insert(x), x);
                }
            }
        }
    }
    let mut view = nodes.to_vec();
    let mut seg_of: HashMap<usize, usize> = HashMap::new();
    let (mut out, mut first) = (Vec::new(), Vec::new());
    for (n, node) in nodes.iter().enumerate() {
        for (i, f) in node.ifaces.iter().enumerate() {
            view[n].ifaces[i].link = None;
            if node.kind == Kind::Switch || f.addrs.is_empty() {
                continue;
            }
            let (phys, tag) = match f.vlan {
                Some((parent, v)) => (node.ifaces[parent].link, v),
                None => (f.link, 0),
            };
            let Some(l) = phys else { continue };
            let id = p.id(l, tag);
            let root = p.root(id);
            let s = *seg_of.entry(root).or_insert_with(|| {
                out.push(Link {
                    ends: Vec::new(),
                    delay: links[l].delay,
                    netem: None,
                });
                first.push(l);
                out.len() - 1
            });
            out[s].ends.push((n, i));
            view[n].ifaces[i].link = Some(s);
        }
    }
    Some(Segments {
        links: out,
        first,
        nodes: view,
    })
}
