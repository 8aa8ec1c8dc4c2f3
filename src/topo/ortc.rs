//! Optimal route-table compression (ORTC: Draves, King, Venkatachary, Zill, "Constructing
//! optimal IP routing tables", INFOCOM 1999): given what a table must answer for each of a set
//! of disjoint prefixes, the fewest prefixes that answer exactly that for every address.
//!
//! The prefixes (the *leaves*) are fixed once in a binary trie shared by every router of a
//! topology; each router brings its own answer per leaf — a *label* 0..=63, as a bit — and gets
//! back its table in two passes over the trie, linear in its size. Label 0 is the
//! *background*: what the table answers for addresses no route covers (no route at all, or a
//! gateway's default route). Every address outside the leaves has the background. A leaf may be
//! *free* ([`FREE`]): the answer there does not matter (a connected subnet, whose own more
//! specific route decides).
//!
//! Pass 1 (bottom-up) gives each node the set of labels an optimal table may give the node's
//! prefix: a leaf its label; an inner node the intersection of its children's sets if not
//! empty, else their union (a missing child is background, `{0}`). Pass 2 (top-down) keeps the
//! label a node inherits when its set holds it, and otherwise writes a route for the node with
//! a label of its set. The root always inherits the background and never gets a route itself,
//! so a computed table holds no default route (at the cost of at most one route more than the
//! optimum, when the root's set lacks the background).

/// A leaf whose answer does not matter.
pub const FREE: u8 = u8::MAX;

/// Most labels a table may use, background included (one bit each in a `u64`).
pub const LABELS: usize = 64;

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    child: [u32; 2],
    prefix: u32,
    len: u8,
    /// Index of the leaf ending here, or `NONE`.
    leaf: u32,
}

/// The trie of a set of disjoint prefixes.
#[derive(Default)]
pub struct Trie {
    nodes: Vec<Node>,
}

/// A route of a compressed table: `prefix/len` gets `label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub prefix: u32,
    pub len: u8,
    pub label: u8,
}

/// Per-router scratch space, reused from one router to the next.
#[derive(Default)]
pub struct Scratch {
    sets: Vec<u64>,
    inherited: Vec<u8>,
}

impl Trie {
    /// The trie of `leaves`, `(prefix, len)` each: pairwise disjoint (neither equal nor nested)
    /// and host bits clear. Leaf `i` is `leaves[i]`.
    pub fn new(leaves: &[(u32, u8)]) -> Trie {
        let mut trie = Trie { nodes: Vec::new() };
        trie.rebuild(leaves);
        trie
    }

    /// Make this the trie of `leaves` (as [`Trie::new`]), reusing its memory. Sorted leaves
    /// cost the nodes they add; others a walk from the root each.
    pub fn rebuild(&mut self, leaves: &[(u32, u8)]) {
        let nodes = &mut self.nodes;
        nodes.clear();
        nodes.push(Node {
            child: [NONE; 2],
            prefix: 0,
            len: 0,
            leaf: NONE,
        });
        if leaves.windows(2).all(|w| w[0].0 < w[1].0) {
            // The path to the previous leaf, by depth: the next one branches off it where
            // their addresses first differ.
            let mut path = [0u32; 33];
            let mut prev: Option<(u32, u8)> = None;
            for (i, &(prefix, len)) in leaves.iter().enumerate() {
                let from = match prev {
                    Some((p, l)) => ((p ^ prefix).leading_zeros() as u8).min(l).min(len),
                    None => 0,
                };
                let mut at = path[usize::from(from)] as usize;
                for depth in from..len {
                    let bit = (prefix >> (31 - depth) & 1) as usize;
                    let id = nodes.len();
                    nodes.push(Node {
                        child: [NONE; 2],
                        prefix: prefix & mask(depth + 1),
                        len: depth + 1,
                        leaf: NONE,
                    });
                    nodes[at].child[bit] = id as u32;
                    at = id;
                    path[usize::from(depth) + 1] = id as u32;
                }
                nodes[at].leaf = i as u32;
                prev = Some((prefix, len));
            }
            return;
        }
        for (i, &(prefix, len)) in leaves.iter().enumerate() {
            let mut at = 0usize;
            for depth in 0..len {
                let bit = (prefix >> (31 - depth) & 1) as usize;
                let next = nodes[at].child[bit];
                at = if next == NONE {
                    let id = nodes.len();
                    nodes.push(Node {
                        child: [NONE; 2],
                        prefix: prefix & mask(depth + 1),
                        len: depth + 1,
                        leaf: NONE,
                    });
                    nodes[at].child[bit] = id as u32;
                    id
                } else {
                    next as usize
                };
            }
            nodes[at].leaf = i as u32;
        }
    }

    /// The fewest routes that give every leaf `i` the label `labels[i]` (below [`LABELS`], or
    /// [`FREE`]) and every other address the background (label 0), appended to `out`.
    pub fn compress(&self, labels: &[u8], scratch: &mut Scratch, out: &mut Vec<Entry>) {
        let n = self.nodes.len();
        let sets = &mut scratch.sets;
        sets.clear();
        sets.resize(n, 0);
        let bit = |label: u8| match label {
            FREE => u64::MAX,
            l => 1u64 << (l & 63),
        };
        // Children come after their parent, so a reverse walk sees them first.
        for i in (0..n).rev() {
            let node = &self.nodes[i];
            sets[i] = if node.leaf != NONE {
                bit(labels[node.leaf as usize])
            } else {
                let set = |c: u32| if c == NONE { 1 } else { sets[c as usize] };
                let (a, b) = (set(node.child[0]), set(node.child[1]));
                if a & b != 0 { a & b } else { a | b }
            };
        }
        let inherited = &mut scratch.inherited;
        inherited.clear();
        inherited.resize(n, 0);
        for i in 0..n {
            let node = &self.nodes[i];
            let h = inherited[i];
            let set = sets[i];
            if node.leaf != NONE {
                let label = labels[node.leaf as usize];
                if label != FREE && label != h {
                    out.push(Entry {
                        prefix: node.prefix,
                        len: node.len,
                        label,
                    });
                }
                continue;
            }
            let chosen = if i == 0 || set >> h & 1 == 1 {
                h
            } else {
                let l = pick(set);
                out.push(Entry {
                    prefix: node.prefix,
                    len: node.len,
                    label: l,
                });
                l
            };
            for (side, &c) in node.child.iter().enumerate() {
                if c != NONE {
                    inherited[c as usize] = chosen;
                } else if chosen != 0 {
                    // A missing child is background: say so under a route that is not.
                    let len = node.len + 1;
                    out.push(Entry {
                        prefix: node.prefix | (side as u32) << (32 - u32::from(len)),
                        len,
                        label: 0,
                    });
                }
            }
        }
    }
}

/// A label of a non-empty set: the lowest but the background when there is another, so that
/// routes rather than "no route" entries are written where either would do.
fn pick(set: u64) -> u8 {
    let others = set & !1;
    if others != 0 {
        others.trailing_zeros() as u8
    } else {
        0
    }
}

fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a table answers for `addr`: the label of its longest matching entry, else 0.
    fn lookup(table: &[Entry], addr: u32) -> u8 {
        table
            .iter()
            .filter(|e| addr & mask(e.len) == e.prefix)
            .max_by_key(|e| e.len)
            .map_or(0, |e| e.label)
    }

    fn check(leaves: &[(u32, u8)], labels: &[u8]) -> Vec<Entry> {
        let trie = Trie::new(leaves);
        let mut out = Vec::new();
        trie.compress(labels, &mut Scratch::default(), &mut out);
        // Every leaf's first, last and a middle address, and the addresses around each leaf.
        for (&(p, len), &label) in leaves.iter().zip(labels) {
            let last = p | !mask(len);
            for a in [p, last, p + (last - p) / 2] {
                if label != FREE {
                    assert_eq!(lookup(&out, a), label, "{a:#x} in {p:#x}/{len}: {out:?}");
                }
            }
            for a in [p.wrapping_sub(1), last.wrapping_add(1)] {
                if !leaves.iter().any(|&(q, l)| a & mask(l) == q) {
                    assert_eq!(lookup(&out, a), 0, "{a:#x} outside: {out:?}");
                }
            }
        }
        out
    }

    #[test]
    fn siblings_with_one_label_merge() {
        // 10.0.0.0/30 .. 10.0.0.12/30 all via 1: one /28.
        let leaves: Vec<_> = (0..4).map(|i| (0x0a00_0000 + 4 * i, 30)).collect();
        let out = check(&leaves, &[1, 1, 1, 1]);
        assert_eq!(
            out,
            [Entry {
                prefix: 0x0a00_0000,
                len: 28,
                label: 1
            }]
        );
    }

    #[test]
    fn a_hole_is_thrown_under_a_covering_route() {
        // Three of four /30s via 1, the fourth unassigned: a /28 and a throw.
        let leaves: Vec<_> = (0..3).map(|i| (0x0a00_0000 + 4 * i, 30)).collect();
        let out = check(&leaves, &[1, 1, 1]);
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn free_leaves_cost_nothing() {
        let leaves: Vec<_> = (0..4).map(|i| (0x0a00_0000 + 4 * i, 30)).collect();
        let out = check(&leaves, &[1, FREE, 1, 1]);
        assert_eq!(out.len(), 1, "{out:?}");
        let out = check(&leaves, &[FREE, FREE, FREE, FREE]);
        assert!(out.is_empty());
    }

    #[test]
    fn the_classic_example() {
        // The paper's shape: a majority label high up, exceptions below.
        let leaves: Vec<_> = (0..8).map(|i| (0x0a00_0000 | i << 21, 11)).collect();
        let out = check(&leaves, &[1, 2, 1, 1, 2, 1, 1, 1]);
        assert_eq!(out.len(), 3, "{out:?}");
        // Over the whole address space the root's label would be a default route, which a
        // computed table does not write: one route more.
        let leaves: Vec<_> = (0..8).map(|i| (i << 29, 3)).collect();
        let out = check(&leaves, &[1, 2, 1, 1, 2, 1, 1, 1]);
        assert_eq!(out.len(), 4, "{out:?}");
        assert!(out.iter().all(|e| e.len > 0));
    }

    #[test]
    fn random_tables_agree() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            // Disjoint prefixes: distinct /24s of 10/8, some split into /26s.
            let mut leaves = Vec::new();
            for _ in 0..(rnd() % 40 + 1) {
                let p = 0x0a00_0000 | ((rnd() as u32 & 0xff) << 8) | ((rnd() as u32 & 3) << 6);
                let len = if rnd() % 2 == 0 { 26 } else { 24 };
                let p = p & mask(len);
                if !leaves
                    .iter()
                    .any(|&(q, l): &(u32, u8)| (p & mask(l.min(len))) == (q & mask(l.min(len))))
                {
                    leaves.push((p, len));
                }
            }
            leaves.sort();
            let labels: Vec<u8> = leaves
                .iter()
                .map(|_| match rnd() % 5 {
                    0 => FREE,
                    k => (k % 3) as u8,
                })
                .collect();
            check(&leaves, &labels);
        }
    }
}
