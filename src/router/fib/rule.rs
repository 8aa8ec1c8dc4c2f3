//! Policy rules, as Linux's `ip rule`: a rule selects packets by source and destination prefix,
//! TOS, incoming or outgoing interface, firewall mark (under a mask), IP protocol and port
//! ranges — or by the opposite (`not`) — and says what to do with them: look in a table, jump to
//! a later rule, do nothing, or refuse the packet (blackhole, unreachable, prohibit). A table
//! lookup whose answer is too general (`suppress_prefixlength`) or leaves through a given
//! interface group (`suppress_ifgroup`) is ignored and the walk goes on.
//!
//! The walk itself is [`super::Fib::route`]; this module is what one rule is and when it
//! matches, written to follow `fib_rule_match` and `fib4_rule_match` in Linux.

use std::net::Ipv4Addr;

use super::TableId;
use crate::router::iface::{IfaceId, mask};

/// What a route lookup is about: the fields a rule may select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The IP header's DS field (TOS byte).
    pub tos: u8,
    /// Interface the packet came in on; `None` for a packet this instance originates (Linux's
    /// `iif lo`).
    pub iif: Option<IfaceId>,
    /// Interface an originated packet is bound to, if any (never set when forwarding).
    pub oif: Option<IfaceId>,
    /// Firewall mark (set by the instance's classifier).
    pub mark: u32,
    /// IP protocol number.
    pub proto: u8,
    /// Source port (TCP, UDP, SCTP, UDP-Lite; 0 otherwise).
    pub sport: u16,
    /// Destination port (as `sport`).
    pub dport: u16,
}

impl FlowKey {
    /// A key that carries only a destination, as a plain route lookup uses.
    pub const fn to(dst: Ipv4Addr) -> FlowKey {
        FlowKey {
            src: Ipv4Addr::UNSPECIFIED,
            dst,
            tos: 0,
            iif: None,
            oif: None,
            mark: 0,
            proto: 0,
            sport: 0,
            dport: 0,
        }
    }
}

/// An interface a rule names: one of the instance's, or `lo` (packets it originates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dev {
    /// The loopback device: as `iif`, matches what the instance itself sends.
    Lo,
    /// An interface of the instance.
    Iface(IfaceId),
}

/// Which packets a rule applies to. Every field that is set must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selector {
    /// Source prefix (address, length). The address is kept as written, host bits and all:
    /// Linux keeps them (they tell rules apart) and the match ignores them.
    pub from: Option<(Ipv4Addr, u8)>,
    /// Destination prefix, as `from`.
    pub to: Option<(Ipv4Addr, u8)>,
    /// TOS value, within [`TOS_MASK`]: Linux's `tos` selector compares only those bits of the
    /// packet's DS field (the old RFC 1349 TOS bits less the lowest), so a rule `tos 0x10`
    /// matches DS fields 0x10, 0x30, 0xf2 ...
    pub tos: Option<u8>,
    /// DSCP value (0 to 63), compared with all six DSCP bits of the DS field (Linux 6.12's
    /// `dscp` selector; the mark classifier's way to pick out, say, EF traffic).
    pub dscp: Option<u8>,
    pub iif: Option<Dev>,
    pub oif: Option<Dev>,
    /// Mark and mask: matches when `(mark ^ packet mark) & mask == 0`. Kept as written (a mark
    /// outside its mask, or a zero mask, still tells rules apart, as in Linux).
    pub fwmark: Option<(u32, u32)>,
    pub ipproto: Option<u8>,
    /// Inclusive source port range.
    pub sport: Option<(u16, u16)>,
    /// Inclusive destination port range.
    pub dport: Option<(u16, u16)>,
    /// `not`: the rule applies to packets the rest does not match.
    pub invert: bool,
}

impl Selector {
    /// Does the rule apply to `key`?
    #[inline]
    pub fn matches(&self, key: &FlowKey) -> bool {
        self.fields_match(key) != self.invert
    }

    fn fields_match(&self, key: &FlowKey) -> bool {
        let dev = |want: Option<Dev>, have: Option<IfaceId>| match (want, have) {
            (None, _) => true,
            (Some(Dev::Lo), None) => true,
            (Some(Dev::Iface(i)), Some(h)) => i == h,
            _ => false,
        };
        let prefix = |p: Option<(Ipv4Addr, u8)>, a: Ipv4Addr| {
            p.is_none_or(|(net, len)| (u32::from(net) ^ u32::from(a)) & mask(len) == 0)
        };
        let port =
            |range: Option<(u16, u16)>, p: u16| range.is_none_or(|(lo, hi)| (lo..=hi).contains(&p));
        dev(self.iif, key.iif)
            // An outgoing interface is only known for what the instance originates.
            && self.oif.is_none_or(|o| key.oif.is_some_and(|k| o == Dev::Iface(k)))
            && self.fwmark.is_none_or(|(m, mask)| (m ^ key.mark) & mask == 0)
            && prefix(self.from, key.src)
            && prefix(self.to, key.dst)
            && self.tos.is_none_or(|t| t == key.tos & TOS_MASK)
            && self.dscp.is_none_or(|d| d == key.tos >> 2)
            && self.ipproto.is_none_or(|p| p == key.proto)
            && port(self.sport, key.sport)
            && port(self.dport, key.dport)
    }
}

/// The DS-field bits a rule's `tos` compares (Linux's `INET_DSCP_LEGACY_TOS_MASK`); a rule
/// naming other bits is refused.
pub const TOS_MASK: u8 = 0x1c;

/// A flow key packed into five 32-bit lanes (source, destination, mark, TOS/protocol/ingress,
/// egress) for [`Matcher`]s; packed once per lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedKey {
    lanes: [u32; 5],
    sport: u16,
    dport: u16,
}

/// An interface as a 16-bit lane value: 0 is `lo` (no interface), interface `i` is `i + 1`.
fn dev_lane(dev: Option<IfaceId>) -> u32 {
    dev.map_or(0, |d| u32::from(d.0) + 1)
}

impl PackedKey {
    pub(crate) fn new(k: &FlowKey) -> PackedKey {
        PackedKey {
            lanes: [
                u32::from(k.src),
                u32::from(k.dst),
                k.mark,
                (u32::from(k.tos & TOS_MASK) << 24) | (u32::from(k.proto) << 16) | dev_lane(k.iif),
                (u32::from(k.tos >> 2) << 24) | dev_lane(k.oif),
            ],
            sport: k.sport,
            dport: k.dport,
        }
    }
}

/// A [`Selector`] compiled to a value and a mask per lane of a [`PackedKey`]: a rule test is
/// five XOR-AND pairs and one comparison, without a branch per field (port ranges, which masks
/// cannot express, are tested only by rules that have them). Equivalent to
/// [`Selector::matches`] (a property test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Matcher {
    value: [u32; 5],
    mask: [u32; 5],
    sport: (u16, u16),
    dport: (u16, u16),
    ports: bool,
    invert: bool,
}

impl Matcher {
    pub(crate) fn new(s: &Selector) -> Matcher {
        let mut m = Matcher {
            value: [0; 5],
            mask: [0; 5],
            sport: s.sport.unwrap_or((0, u16::MAX)),
            dport: s.dport.unwrap_or((0, u16::MAX)),
            ports: s.sport.is_some() || s.dport.is_some(),
            invert: s.invert,
        };
        let mut set = |lane: usize, value: u32, mask: u32| {
            m.value[lane] |= value & mask;
            m.mask[lane] |= mask;
        };
        if let Some((a, len)) = s.from {
            set(0, u32::from(a), mask(len));
        }
        if let Some((a, len)) = s.to {
            set(1, u32::from(a), mask(len));
        }
        if let Some((mark, m)) = s.fwmark {
            set(2, mark, m);
        }
        if let Some(t) = s.tos {
            set(3, u32::from(t & TOS_MASK) << 24, u32::from(TOS_MASK) << 24);
        }
        if let Some(p) = s.ipproto {
            set(3, u32::from(p) << 16, 0xff << 16);
        }
        let dev = |d: Dev| match d {
            Dev::Lo => 0,
            Dev::Iface(i) => u32::from(i.0) + 1,
        };
        if let Some(d) = s.iif {
            set(3, dev(d), 0xffff);
        }
        if let Some(d) = s.dscp {
            set(4, u32::from(d & 0x3f) << 24, 0x3f << 24);
        }
        if let Some(d) = s.oif {
            // An outgoing interface of `lo` matches nothing the instance routes.
            let v = if d == Dev::Lo { 0xffff } else { dev(d) };
            set(4, v, 0xffff);
        }
        m
    }

    #[inline]
    pub(crate) fn matches(&self, k: &PackedKey) -> bool {
        let (l, v, m) = (&k.lanes, &self.value, &self.mask);
        // Addresses first: most rules select on them, and most packets miss most rules there.
        if ((l[0] ^ v[0]) & m[0]) | ((l[1] ^ v[1]) & m[1]) != 0 {
            return self.invert;
        }
        let miss = ((l[2] ^ v[2]) & m[2]) | ((l[3] ^ v[3]) & m[3]) | ((l[4] ^ v[4]) & m[4]);
        let hit = miss == 0
            && (!self.ports
                || ((self.sport.0..=self.sport.1).contains(&k.sport)
                    && (self.dport.0..=self.dport.1).contains(&k.dport)));
        hit != self.invert
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look the destination up in this table; no route (or a `throw`) continues the walk.
    Lookup(TableId),
    /// Continue at the first rule with this priority (which must be higher than the rule's).
    Goto(u32),
    /// Nothing: continue with the next rule.
    Nop,
    /// Drop silently.
    Blackhole,
    /// Drop with ICMP network unreachable.
    Unreachable,
    /// Drop with ICMP communication administratively prohibited.
    Prohibit,
}

/// A rule: at this priority, for these packets, do this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Lower runs first; rules of equal priority run in the order they were added.
    pub priority: u32,
    pub selector: Selector,
    pub action: Action,
    /// Ignore a table's answer whose prefix is this long or shorter.
    pub suppress_prefixlength: Option<u8>,
    /// Ignore a table's answer that leaves through an interface of this group.
    pub suppress_ifgroup: Option<u32>,
    /// Who made the rule (Linux's `proto`): [`PROTO_KERNEL`] for the initial rules, 0
    /// (`unspec`) for `ip rule add`. Rules of different protocols never duplicate each other,
    /// so `ip rule add pref 32766 lookup main` succeeds once beside the initial rule.
    pub protocol: u8,
}

/// Linux's `RTPROT_KERNEL`: the protocol of the initial rules.
pub const PROTO_KERNEL: u8 = 2;

impl Rule {
    /// `priority: lookup table` for every packet, like Linux's default rules.
    pub const fn lookup(priority: u32, table: TableId) -> Rule {
        Rule {
            priority,
            selector: Selector {
                from: None,
                to: None,
                tos: None,
                dscp: None,
                iif: None,
                oif: None,
                fwmark: None,
                ipproto: None,
                sport: None,
                dport: None,
                invert: false,
            },
            action: Action::Lookup(table),
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            protocol: 0,
        }
    }

    /// The table the rule looks in, if it does.
    pub fn table(&self) -> Option<TableId> {
        match self.action {
            Action::Lookup(t) => Some(t),
            _ => None,
        }
    }

    /// Would Linux refuse `self` as a duplicate of `existing` ("File exists")? Its check is
    /// looser than equality: `not` and a `goto`'s target are not compared, and `from`, `to`
    /// and `tos` only when the new rule names them — so `pref 5 prohibit` duplicates an
    /// existing `pref 5 from 10.0.0.0/8 prohibit`, though not the other way round.
    pub fn duplicates(&self, existing: &Rule) -> bool {
        let (new, old) = (&self.selector, &existing.selector);
        let named_same = |n: Option<(Ipv4Addr, u8)>, o| n.is_none() || n == o;
        self.priority == existing.priority
            && self.protocol == existing.protocol
            && core::mem::discriminant(&self.action) == core::mem::discriminant(&existing.action)
            && self.table() == existing.table()
            && (new.iif, new.oif, new.fwmark) == (old.iif, old.oif, old.fwmark)
            && (new.ipproto, new.sport, new.dport) == (old.ipproto, old.sport, old.dport)
            && self.suppress_prefixlength == existing.suppress_prefixlength
            && self.suppress_ifgroup == existing.suppress_ifgroup
            && named_same(new.from, old.from)
            && named_same(new.to, old.to)
            && (new.tos.is_none() || new.tos == old.tos)
    }

    /// True when the rule selects every packet and suppresses nothing.
    pub fn is_plain(&self) -> bool {
        self.selector == Selector::default()
            && self.suppress_prefixlength.is_none()
            && self.suppress_ifgroup.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FlowKey {
        FlowKey {
            src: Ipv4Addr::new(10, 1, 2, 3),
            dst: Ipv4Addr::new(192, 0, 2, 9),
            tos: 0x10,
            iif: Some(IfaceId(1)),
            oif: None,
            mark: 0x1234,
            proto: 17,
            sport: 5000,
            dport: 53,
        }
    }

    #[test]
    fn every_set_field_must_match() {
        let k = key();
        let mut s = Selector::default();
        assert!(s.matches(&k));
        s.from = Some((Ipv4Addr::new(10, 0, 0, 0), 8));
        s.to = Some((Ipv4Addr::new(192, 0, 2, 0), 24));
        s.tos = Some(0x10);
        s.iif = Some(Dev::Iface(IfaceId(1)));
        s.fwmark = Some((0x34, 0xff));
        s.ipproto = Some(17);
        s.sport = Some((4000, 6000));
        s.dport = Some((53, 53));
        assert!(s.matches(&k));
        for change in [
            |s: &mut Selector| s.from = Some((Ipv4Addr::new(11, 0, 0, 0), 8)),
            |s: &mut Selector| s.tos = Some(0x08),
            |s: &mut Selector| s.iif = Some(Dev::Lo),
            |s: &mut Selector| s.oif = Some(Dev::Iface(IfaceId(1))),
            |s: &mut Selector| s.fwmark = Some((0x35, 0xff)),
            |s: &mut Selector| s.ipproto = Some(6),
            |s: &mut Selector| s.dport = Some((54, 60)),
        ] {
            let mut t = s;
            change(&mut t);
            assert!(!t.matches(&k), "{t:?}");
            t.invert = true;
            assert!(t.matches(&k), "not {t:?}");
        }
    }

    /// The compiled matcher agrees with the selector on random selectors and keys.
    #[test]
    fn matchers_agree_with_selectors() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let small = |r: u64| Ipv4Addr::from(0x0a00_0000 | (r as u32 & 0x0003_0303));
        for _ in 0..200_000 {
            let pick = rand();
            let maybe = |bit: u32| pick >> bit & 1 == 1;
            let dev = |r: u64| match r % 3 {
                0 => Dev::Lo,
                n => Dev::Iface(IfaceId(n as u16 - 1)),
            };
            let sel = Selector {
                from: maybe(0).then(|| (small(rand()), (rand() % 33) as u8)),
                to: maybe(1).then(|| (small(rand()), (rand() % 33) as u8)),
                tos: maybe(2).then(|| ((rand() % 4) as u8 * 4) & TOS_MASK),
                dscp: maybe(10).then(|| (rand() % 4) as u8 * 2),
                iif: maybe(3).then(|| dev(rand())),
                oif: maybe(4).then(|| dev(rand())),
                fwmark: maybe(5).then(|| ((rand() % 4) as u32, (rand() % 4) as u32)),
                ipproto: maybe(6).then(|| [6, 17][(rand() % 2) as usize]),
                sport: maybe(7).then_some((10, 20)),
                dport: maybe(8).then(|| (15, 15 + (rand() % 3) as u16)),
                invert: maybe(9),
            };
            let opt_dev = |r: u64| (!r.is_multiple_of(3)).then(|| IfaceId((r % 3) as u16 - 1));
            let key = FlowKey {
                src: small(rand()),
                dst: small(rand()),
                tos: (rand() % 4) as u8 * 8 + (rand() % 4) as u8 + (((rand() % 2) as u8) << 5),
                iif: opt_dev(rand()),
                oif: opt_dev(rand()),
                mark: (rand() % 4) as u32,
                proto: [6, 17][(rand() % 2) as usize],
                sport: 8 + (rand() % 16) as u16,
                dport: 13 + (rand() % 6) as u16,
            };
            assert_eq!(
                Matcher::new(&sel).matches(&PackedKey::new(&key)),
                sel.matches(&key),
                "{sel:?} {key:?}"
            );
        }
    }

    #[test]
    fn tos_compares_the_legacy_tos_bits() {
        // Linux 6.18: `tos 0x10` matches `ip route get ... tos 0x30`, `0xf0`, `0x12`, not 0x14.
        let s = Selector {
            tos: Some(0x10),
            ..Selector::default()
        };
        for (tos, hit) in [
            (0x10, true),
            (0x30, true),
            (0xf0, true),
            (0x12, true),
            (0x14, false),
        ] {
            assert_eq!(s.matches(&FlowKey { tos, ..key() }), hit, "{tos:#x}");
        }
    }

    #[test]
    fn duplicates_as_linux_rule_exists() {
        let from = |p: Option<(Ipv4Addr, u8)>, action| Rule {
            selector: Selector {
                from: p,
                ..Selector::default()
            },
            action,
            ..Rule::lookup(5, 100)
        };
        let ten = Some((Ipv4Addr::new(10, 0, 0, 0), 8));
        let any = from(None, Action::Prohibit);
        let narrow = from(ten, Action::Prohibit);
        assert!(any.duplicates(&narrow));
        assert!(!narrow.duplicates(&any));
        let mut not = narrow;
        not.selector.invert = true;
        assert!(not.duplicates(&narrow));
        assert!(from(None, Action::Goto(9)).duplicates(&from(None, Action::Goto(7))));
        assert!(!from(None, Action::Blackhole).duplicates(&any));
        let host_bits = from(Some((Ipv4Addr::new(10, 0, 0, 1), 8)), Action::Prohibit);
        assert!(!host_bits.duplicates(&narrow));
        assert!(host_bits.selector.matches(&FlowKey {
            src: Ipv4Addr::new(10, 9, 9, 9),
            ..key()
        }));
    }

    #[test]
    fn iif_lo_is_what_the_instance_sends() {
        let s = Selector {
            iif: Some(Dev::Lo),
            ..Selector::default()
        };
        assert!(s.matches(&FlowKey::to(Ipv4Addr::new(1, 2, 3, 4))));
        assert!(!s.matches(&key()));
    }
}
