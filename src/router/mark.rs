//! The mark classifier: an ordered list of matches that gives a received packet its firewall
//! mark before it is routed — the role netfilter's `MARK` target plays in a Linux router's
//! PREROUTING chain — so that `fwmark` rules can route by application (protocol, ports, DSCP),
//! by source or by incoming interface. The first entry that matches sets the mark; a packet no
//! entry matches keeps mark 0.

use super::fib::{FlowKey, Selector};

/// The classifier of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classifier {
    entries: Vec<(Selector, u32)>,
}

impl Classifier {
    /// A classifier with no entry.
    pub(crate) const EMPTY: Classifier = Classifier {
        entries: Vec::new(),
    };

    /// Append an entry: packets `selector` matches get `mark`.
    pub fn push(&mut self, selector: Selector, mark: u32) {
        self.entries.push((selector, mark));
    }

    /// True when no entry exists (every packet has mark 0).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[(Selector, u32)] {
        &self.entries
    }

    /// The mark of a packet (its key's `mark` is ignored).
    pub fn classify(&self, key: &FlowKey) -> u32 {
        self.entries
            .iter()
            .find(|(sel, _)| sel.matches(key))
            .map_or(0, |&(_, mark)| mark)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::router::fib::parse_mark;

    #[test]
    fn the_first_match_sets_the_mark() {
        let mut c = Classifier::default();
        for text in [
            "ipproto udp dport 5000-5999 mark 1",
            "from 10.0.0.0/8 mark 2",
        ] {
            let (sel, mark) = parse_mark(text, |_| None).unwrap();
            c.push(sel, mark);
        }
        let key = |src: [u8; 4], proto, dport| FlowKey {
            src: Ipv4Addr::from(src),
            proto,
            dport,
            ..FlowKey::to(Ipv4Addr::new(192, 0, 2, 1))
        };
        assert_eq!(c.classify(&key([10, 0, 0, 1], 17, 5001)), 1);
        assert_eq!(c.classify(&key([10, 0, 0, 1], 6, 5001)), 2);
        assert_eq!(c.classify(&key([11, 0, 0, 1], 6, 80)), 0);
    }
}
