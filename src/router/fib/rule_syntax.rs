//! Rules written as iproute2 writes them (`ip rule add ...` without `ip rule add`), and table
//! names.
//!
//! Grammar: `[not] [from PREFIX|all] [to PREFIX|all] [tos|dsfield N] [fwmark N[/MASK]]
//! [iif|dev NAME] [oif NAME] [ipproto tcp|udp|icmp|N] [sport N[-M]] [dport N[-M]]
//! [priority|pref|order N] [lookup|table ID|NAME | goto N | nop | blackhole | unreachable |
//! prohibit] [suppress_prefixlength N] [suppress_ifgroup N]`. Without an action the rule looks
//! in `main`; without a priority it gets the one `ip rule add` would give. Numbers may be
//! decimal or `0x` hexadecimal. Errors name the offending word.
//!
//! What Linux refuses is refused here: a `tos` with bits outside [`TOS_MASK`] (ECN or the
//! upper DSCP bits), ports 0 and 65535. What Linux treats as absent is absent: `tos 0`,
//! `ipproto 0`, `fwmark 0`, a `/0` prefix.

use std::net::Ipv4Addr;

use super::TABLE_MAIN;
use super::rule::{Action, Dev, Rule, Selector, TOS_MASK};
use super::words::{ParseError, TableNames, addr_and_len, err, number};
use crate::router::iface::IfaceId;

/// Parse one rule. `dev` resolves interface names (`lo` is always known); `default_priority`
/// is used when the text names none (see [`super::Fib::default_rule_priority`]).
pub fn parse_rule(
    text: &str,
    dev: impl Fn(&str) -> Option<IfaceId>,
    tables: &TableNames,
    default_priority: u32,
) -> Result<Rule, ParseError> {
    let mut sel = Selector::default();
    let mut priority = None;
    let mut action = None;
    let (mut sup_len, mut sup_group) = (None, None);
    let mut words = text.split_whitespace();
    let set_action = |action: &mut Option<Action>, a: Action, word: &str| {
        if action.replace(a).is_some() {
            return Err(err("a rule has one action", word));
        }
        Ok(())
    };
    while let Some(key) = words.next() {
        match key {
            "not" => {
                sel.invert = true;
                continue;
            }
            "nop" => {
                set_action(&mut action, Action::Nop, key)?;
                continue;
            }
            "blackhole" => {
                set_action(&mut action, Action::Blackhole, key)?;
                continue;
            }
            "unreachable" => {
                set_action(&mut action, Action::Unreachable, key)?;
                continue;
            }
            "prohibit" => {
                set_action(&mut action, Action::Prohibit, key)?;
                continue;
            }
            _ => {}
        }
        let value = words.next().ok_or_else(|| err("missing value", key))?;
        if selector_word(&mut sel, key, value, &dev)? {
            continue;
        }
        let num = |max: u32| {
            number(value)
                .filter(|&n| n <= max)
                .ok_or_else(|| err("bad number", value))
        };
        match key {
            "priority" | "pref" | "order" => priority = Some(num(u32::MAX)?),
            "lookup" | "table" => {
                set_action(&mut action, Action::Lookup(tables.resolve(value)?), key)?
            }
            "goto" => set_action(&mut action, Action::Goto(num(u32::MAX)?), key)?,
            "type" => {
                let a = match value {
                    "blackhole" => Action::Blackhole,
                    "unreachable" => Action::Unreachable,
                    "prohibit" => Action::Prohibit,
                    "nop" => Action::Nop,
                    _ => return Err(err("unknown rule type", value)),
                };
                set_action(&mut action, a, key)?
            }
            "suppress_prefixlength" => sup_len = Some(num(32)? as u8),
            "suppress_ifgroup" => sup_group = Some(num(u32::MAX)?),
            _ => return Err(err("unknown keyword", key)),
        }
    }
    Ok(Rule {
        priority: priority.unwrap_or(default_priority),
        selector: sel,
        action: action.unwrap_or(Action::Lookup(TABLE_MAIN)),
        suppress_prefixlength: sup_len,
        suppress_ifgroup: sup_group,
        protocol: 0,
    })
}

/// Apply a selector keyword and its value; `false` if `key` is not a selector.
fn selector_word(
    sel: &mut Selector,
    key: &str,
    value: &str,
    dev: &impl Fn(&str) -> Option<IfaceId>,
) -> Result<bool, ParseError> {
    let num = |max: u32| {
        number(value)
            .filter(|&n| n <= max)
            .ok_or_else(|| err("bad number", value))
    };
    let device = || match value {
        "lo" => Ok(Dev::Lo),
        _ => dev(value)
            .map(Dev::Iface)
            .ok_or_else(|| err("no such device", value)),
    };
    match key {
        "from" => sel.from = prefix(value)?,
        "to" => sel.to = prefix(value)?,
        "tos" | "dsfield" => sel.tos = tos(value)?,
        "dscp" => sel.dscp = Some(num(63)? as u8),
        "fwmark" => sel.fwmark = fwmark(value)?,
        "iif" | "dev" => sel.iif = Some(device()?),
        "oif" => sel.oif = Some(device()?),
        "ipproto" => sel.ipproto = Some(protocol(value)?).filter(|&p| p != 0),
        "sport" => sel.sport = Some(range(value)?),
        "dport" => sel.dport = Some(range(value)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Parse one entry of the mark classifier: the selectors of a rule (see [`parse_rule`]) and
/// `mark N`, the mark a matching packet gets.
pub fn parse_mark(
    text: &str,
    dev: impl Fn(&str) -> Option<IfaceId>,
) -> Result<(Selector, u32), ParseError> {
    let mut sel = Selector::default();
    let mut mark = None;
    let mut words = text.split_whitespace();
    while let Some(key) = words.next() {
        if key == "not" {
            sel.invert = true;
            continue;
        }
        let value = words.next().ok_or_else(|| err("missing value", key))?;
        if selector_word(&mut sel, key, value, &dev)? {
            continue;
        }
        match key {
            "mark" | "set-mark" => {
                mark = Some(number(value).ok_or_else(|| err("bad mark", value))?);
            }
            _ => return Err(err("unknown keyword", key)),
        }
    }
    let mark = mark.ok_or_else(|| err("missing mark N", text.trim()))?;
    Ok((sel, mark))
}

/// `10.0.0.0/8`, `10.0.0.1` (a /32) or `all`; host bits are kept (see [`Selector::from`]).
fn prefix(word: &str) -> Result<Option<(Ipv4Addr, u8)>, ParseError> {
    if word == "all" || word == "default" {
        return Ok(None);
    }
    let (addr, len) = addr_and_len(word)?;
    Ok((len != 0).then_some((addr, len)))
}

/// `MARK[/MASK]`; a mark without a mask compares all 32 bits, and `fwmark 0` (or `0/0`) is
/// no selector at all, as in Linux.
fn fwmark(word: &str) -> Result<Option<(u32, u32)>, ParseError> {
    let bad = || err("bad fwmark", word);
    let (mark, mask) = match word.split_once('/') {
        Some((m, k)) => (number(m).ok_or_else(bad)?, number(k).ok_or_else(bad)?),
        None => {
            let m = number(word).ok_or_else(bad)?;
            (m, if m == 0 { 0 } else { u32::MAX })
        }
    };
    Ok((mark != 0 || mask != 0).then_some((mark, mask)))
}

/// `tcp`, `udp`, `icmp`, `sctp` or a protocol number.
fn protocol(word: &str) -> Result<u8, ParseError> {
    match word {
        "icmp" => Ok(1),
        "tcp" => Ok(6),
        "udp" => Ok(17),
        "sctp" => Ok(132),
        _ => number(word)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| err("bad protocol", word)),
    }
}

/// A TOS value: none for 0; refused with bits outside [`TOS_MASK`], as Linux refuses it.
fn tos(word: &str) -> Result<Option<u8>, ParseError> {
    match number(word).and_then(|n| u8::try_from(n).ok()) {
        None => Err(err("bad number", word)),
        Some(t) if t & !TOS_MASK != 0 => Err(err("bad tos: only bits 0x1c may be set", word)),
        Some(t) => Ok(Some(t).filter(|&t| t != 0)),
    }
}

/// `N` or `N-M` with 1 ≤ N ≤ M ≤ 65534 (Linux refuses ports 0 and 65535 in a rule).
fn range(word: &str) -> Result<(u16, u16), ParseError> {
    let port = |w: &str| w.parse::<u16>().map_err(|_| err("bad port", word));
    let (lo, hi) = match word.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(word)?, port(word)?),
    };
    if lo > hi || lo == 0 || hi == u16::MAX {
        return Err(err("bad port range", word));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devs(name: &str) -> Option<IfaceId> {
        ["eth0", "eth1"]
            .iter()
            .position(|d| *d == name)
            .map(|i| IfaceId(i as u16))
    }

    fn parse(text: &str) -> Result<Rule, ParseError> {
        let mut names = TableNames::default();
        names.add("isp1", 100);
        parse_rule(text, devs, &names, 32765)
    }

    #[test]
    fn parses_every_selector_and_action() {
        let r = parse(
            "not from 10.1.0.0/16 to 192.0.2.0/24 tos 0x10 fwmark 0x5/0xff iif eth1 \
             ipproto udp sport 1000-2000 dport 53 pref 100 lookup isp1 suppress_prefixlength 0",
        )
        .unwrap();
        assert_eq!(r.priority, 100);
        assert_eq!(r.action, Action::Lookup(100));
        let s = r.selector;
        assert!(s.invert);
        assert_eq!(s.from, Some((Ipv4Addr::new(10, 1, 0, 0), 16)));
        assert_eq!(s.to, Some((Ipv4Addr::new(192, 0, 2, 0), 24)));
        assert_eq!((s.tos, s.fwmark), (Some(0x10), Some((5, 0xff))));
        assert_eq!((s.iif, s.ipproto), (Some(Dev::Iface(IfaceId(1))), Some(17)));
        assert_eq!((s.sport, s.dport), (Some((1000, 2000)), Some((53, 53))));
        assert_eq!(r.suppress_prefixlength, Some(0));

        let r = parse("from all iif lo goto 200").unwrap();
        assert_eq!((r.priority, r.action), (32765, Action::Goto(200)));
        assert_eq!((r.selector.from, r.selector.iif), (None, Some(Dev::Lo)));
        assert_eq!(
            parse("to 10.0.0.0/8").unwrap().action,
            Action::Lookup(TABLE_MAIN)
        );
        assert_eq!(
            parse("fwmark 7 prohibit").unwrap().selector.fwmark,
            Some((7, u32::MAX))
        );
        assert_eq!(parse("fwmark 0 nop").unwrap().selector.fwmark, None);
        assert_eq!(parse("fwmark 0/0 nop").unwrap().selector.fwmark, None);
        assert_eq!(
            parse("fwmark 5/0 nop").unwrap().selector.fwmark,
            Some((5, 0))
        );
        assert_eq!(parse("ipproto 0 nop").unwrap().selector.ipproto, None);
        assert_eq!(parse("tos 0 nop").unwrap().selector.tos, None);
        assert_eq!(parse("dsfield 0x1c nop").unwrap().selector.tos, Some(0x1c));
        assert_eq!(parse("type blackhole").unwrap().action, Action::Blackhole);
        assert_eq!(
            parse("oif eth0 unreachable").unwrap().action,
            Action::Unreachable
        );
        assert_eq!(
            parse("suppress_ifgroup 3").unwrap().suppress_ifgroup,
            Some(3)
        );
        assert_eq!(
            parse("from 10.1.2.3/8").unwrap().selector.from,
            Some((Ipv4Addr::new(10, 1, 2, 3), 8))
        );
    }

    #[test]
    fn errors_name_the_offending_word() {
        let word = |s: &str| parse(s).unwrap_err().word;
        assert_eq!(word("from 10.0.0.0/33"), "10.0.0.0/33");
        assert_eq!(word("iif eth9"), "eth9");
        assert_eq!(word("lookup nosuch"), "nosuch");
        assert_eq!(word("table 0"), "0");
        assert_eq!(word("sport 9-1"), "9-1");
        // Linux: "Invalid sport range", "Invalid tos", "ECN bits must be 0".
        assert_eq!(word("sport 0"), "0");
        assert_eq!(word("dport 1-65535"), "1-65535");
        assert_eq!(word("tos 0x20"), "0x20");
        assert_eq!(word("tos 0x1e"), "0x1e");
        assert_eq!(word("dsfield 0xfc"), "0xfc");
        assert_eq!(word("ipproto gre2"), "gre2");
        assert_eq!(word("realms 4"), "realms");
        assert_eq!(word("lookup 100 blackhole"), "blackhole");
        assert_eq!(word("pref"), "pref");
        assert_eq!(word("suppress_prefixlength 33"), "33");
    }

    #[test]
    fn marks_take_selectors_and_a_mark() {
        let (s, m) = parse_mark(
            "from 10.0.0.0/8 ipproto udp dport 5000-5999 dscp 46 mark 0x10",
            devs,
        )
        .unwrap();
        assert_eq!(
            (m, s.ipproto, s.dport, s.dscp),
            (16, Some(17), Some((5000, 5999)), Some(46))
        );
        assert_eq!(
            parse_mark("iif eth0", devs).unwrap_err().message,
            "missing mark N"
        );
        assert_eq!(
            parse_mark("lookup 5 mark 1", devs).unwrap_err().word,
            "lookup"
        );
        assert_eq!(parse_mark("dscp 64 mark 1", devs).unwrap_err().word, "64");
    }

    #[test]
    fn table_names_resolve_both_ways() {
        let mut n = TableNames::default();
        n.add("isp1", 100);
        assert_eq!(n.resolve("isp1"), Ok(100));
        assert_eq!(n.resolve("0x10"), Ok(16));
        assert_eq!(n.resolve("main"), Ok(TABLE_MAIN));
        assert_eq!(n.name(100), Some("isp1"));
        assert_eq!(n.name(253), Some("default"));
        assert!(n.resolve("isp2").is_err());
    }
}
