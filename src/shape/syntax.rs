//! The netem grammar: the words `tc qdisc add dev X root netem` accepts after `netem`, read as
//! iproute2's `netem_parse_opt` (tc/q_netem.c) reads them.
//!
//! Mirrored from tc: keywords in any order and abbreviated to any prefix (tried in tc's order,
//! so `d` is `delay` and `r` is `reorder`); optional arguments taken only when the next word
//! starts with a digit (a `-` too for the rate overheads); a repeated keyword overwrites only what
//! it gives; `loss` twice is refused unless the first was 0%; a reorder probability without
//! `gap` sets gap 1; `gap` without one, reorder without a delay, and `distribution` without
//! both delay and jitter are refused. Not accepted: `ecn`, `slot`, `seed` (the caller seeds each
//! direction), distributions other than the four built in, and `rate` as a share of a device's
//! speed. Added: `ber N` from FreeBSD's ng_pipe. Errors name the word at fault.

use core::num::NonZeroU64;
use core::str::FromStr;
use core::time::Duration;
use std::iter::Peekable;
use std::str::SplitWhitespace;

use super::spec::{Chance, Delay, Distribution, LossModel, Netem, Percent, Rate, Reorder};
use super::units::{self, PercentError};

/// Why a spec did not parse: the offending word and what is wrong. Callers add file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {word:?}")]
pub struct NetemError {
    /// What is wrong.
    pub message: String,
    /// The offending word ("" when the text ended early).
    pub word: String,
}

fn err(message: impl Into<String>, word: &str) -> NetemError {
    NetemError {
        message: message.into(),
        word: word.to_owned(),
    }
}

#[derive(Clone, Copy)]
enum Keyword {
    Limit,
    Delay,
    Loss,
    Seed,
    Ecn,
    Reorder,
    Corrupt,
    Gap,
    Duplicate,
    Distribution,
    Rate,
    Slot,
    Ber,
}

/// tc's keywords in the order it tries them, so that an abbreviation means what it means to tc.
const KEYWORDS: [(&str, Keyword); 15] = [
    ("limit", Keyword::Limit),
    ("latency", Keyword::Delay),
    ("delay", Keyword::Delay),
    ("loss", Keyword::Loss),
    ("drop", Keyword::Loss),
    ("seed", Keyword::Seed),
    ("ecn", Keyword::Ecn),
    ("reorder", Keyword::Reorder),
    ("corrupt", Keyword::Corrupt),
    ("gap", Keyword::Gap),
    ("duplicate", Keyword::Duplicate),
    ("distribution", Keyword::Distribution),
    ("rate", Keyword::Rate),
    ("slot", Keyword::Slot),
    ("ber", Keyword::Ber),
];

/// tc's `matches`: a non-empty prefix of the keyword.
fn keyword(word: &str) -> Option<Keyword> {
    KEYWORDS
        .iter()
        .find(|(name, _)| !word.is_empty() && name.starts_with(word))
        .map(|&(_, k)| k)
}

/// The words, with tc's two ways of looking ahead.
struct Words<'a>(Peekable<SplitWhitespace<'a>>);

impl<'a> Words<'a> {
    /// The next word, which must be there (tc's `NEXT_ARG`).
    fn arg(&mut self, what: &str) -> Result<&'a str, NetemError> {
        self.0
            .next()
            .ok_or_else(|| err(format!("missing {what}"), ""))
    }

    /// The next word if it starts with a digit (tc's `NEXT_IS_NUMBER`).
    fn number(&mut self) -> Option<&'a str> {
        self.0
            .next_if(|w| w.starts_with(|c: char| c.is_ascii_digit()))
    }

    /// The next word if it starts with a digit or `-` (tc's `NEXT_IS_SIGNED_NUMBER`).
    fn signed_number(&mut self) -> Option<&'a str> {
        self.0
            .next_if(|w| w.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
    }
}

fn percent(word: &str, what: &str) -> Result<Percent, NetemError> {
    match units::percent(word) {
        Ok(points) => Percent::new(points).ok_or_else(|| err(format!("{what} out of range"), word)),
        Err(PercentError::Range) => Err(err(format!("{what} out of range (0 to 100%)"), word)),
        Err(PercentError::Malformed) => Err(err(format!("bad {what} (e.g. 1%, 0.5%)"), word)),
    }
}

fn time(word: &str, what: &str) -> Result<Duration, NetemError> {
    units::time(word)
        .map(Duration::from_nanos)
        .ok_or_else(|| err(format!("bad {what} (e.g. 10ms, 2.5ms, 100us)"), word))
}

/// Everything read so far, before tc's checks at the end. Each keyword overwrites only the
/// fields it gives, as tc's parser leaves the others alone.
#[derive(Default)]
struct Draft<'a> {
    limit: Option<u32>,
    delay: Delay,
    distribution: Option<&'a str>,
    loss_random: Option<Percent>,
    loss_correlation: Percent,
    loss_model: Option<LossModel>,
    duplicate: Option<Chance>,
    corrupt: Option<Chance>,
    reorder: Option<(Chance, &'a str)>,
    gap: Option<(u32, &'a str)>,
    rate: Option<Rate>,
    ber: Option<NonZeroU64>,
}

impl<'a> Draft<'a> {
    fn keyword(&mut self, key: &'a str, words: &mut Words<'a>) -> Result<(), NetemError> {
        match keyword(key).ok_or_else(|| err("unknown keyword", key))? {
            Keyword::Limit => {
                let w = words.arg("packet count after limit")?;
                self.limit = Some(units::size(w).ok_or_else(|| err("bad limit", w))?);
            }
            Keyword::Delay => {
                self.delay.latency = time(words.arg("time after delay")?, "delay")?;
                if let Some(w) = words.number() {
                    self.delay.jitter = time(w, "jitter")?;
                    if let Some(w) = words.number() {
                        self.delay.correlation = percent(w, "delay correlation")?;
                    }
                }
            }
            Keyword::Loss => self.loss(key, words)?,
            Keyword::Reorder => {
                let p = percent(words.arg("percent after reorder")?, "reorder percent")?;
                let mut chance = self.reorder.map(|(c, _)| c).unwrap_or_default();
                chance.percent = p;
                if let Some(w) = words.number() {
                    chance.correlation = percent(w, "reorder correlation")?;
                }
                self.reorder = Some((chance, key));
            }
            Keyword::Corrupt => self.corrupt = Some(chance(key, self.corrupt, words)?),
            Keyword::Duplicate => self.duplicate = Some(chance(key, self.duplicate, words)?),
            Keyword::Gap => {
                let w = words.arg("distance after gap")?;
                self.gap = Some((units::c_u32(w).ok_or_else(|| err("bad gap", w))?, key));
            }
            Keyword::Distribution => {
                let w = words.arg("name after distribution")?;
                self.delay.distribution = Distribution::ALL
                    .into_iter()
                    .find(|d| d.name() == w)
                    .ok_or_else(|| {
                        err(
                            "unknown distribution (uniform, normal, pareto, paretonormal)",
                            w,
                        )
                    })?;
                self.distribution = Some(key);
            }
            Keyword::Rate => self.rate(words)?,
            Keyword::Ber => {
                let w = words.arg("bit count after ber")?;
                let n = w.parse::<u64>().ok().and_then(NonZeroU64::new);
                self.ber = Some(n.ok_or_else(|| err("bad ber (one error per N bits, N >= 1)", w))?);
            }
            Keyword::Seed => {
                return Err(err(
                    "not supported: the caller seeds each link direction",
                    key,
                ));
            }
            Keyword::Ecn | Keyword::Slot => return Err(err("not supported by shoal", key)),
        }
        Ok(())
    }

    fn loss(&mut self, key: &str, words: &mut Words<'a>) -> Result<(), NetemError> {
        if self.loss_random.is_some_and(|p| p.scaled() > 0) || self.loss_model.is_some() {
            return Err(err("duplicate loss argument", key));
        }
        let w = words.arg("model or percent after loss")?;
        // The old syntax `loss PERCENT` is `loss random PERCENT`.
        let first = if w.starts_with(|c: char| c.is_ascii_digit()) {
            w
        } else {
            match w {
                "random" => words.arg("percent after loss random")?,
                "state" => return self.loss_state(words),
                "gemodel" => return self.loss_gemodel(words),
                _ => return Err(err("unknown loss model (random, state, gemodel)", w)),
            }
        };
        self.loss_random = Some(percent(first, "loss percent")?);
        if let Some(w) = words.number() {
            self.loss_correlation = percent(w, "loss correlation")?;
        }
        Ok(())
    }

    fn loss_state(&mut self, words: &mut Words<'a>) -> Result<(), NetemError> {
        let p13 = percent(words.arg("p13 after loss state")?, "loss p13")?;
        let mut rest = [
            Percent::new(100.0 - p13.points()).unwrap_or(Percent::ZERO),
            Percent::ZERO,
            Percent::HUNDRED,
            Percent::ZERO,
        ];
        for (slot, name) in rest.iter_mut().zip(["p31", "p32", "p23", "p14"]) {
            match words.number() {
                Some(w) => *slot = percent(w, &format!("loss {name}"))?,
                None => break,
            }
        }
        let [p31, p32, p23, p14] = rest;
        self.loss_model = Some(LossModel::State {
            p13,
            p31,
            p32,
            p23,
            p14,
        });
        Ok(())
    }

    fn loss_gemodel(&mut self, words: &mut Words<'a>) -> Result<(), NetemError> {
        let p = percent(words.arg("percent after loss gemodel")?, "loss gemodel p")?;
        let mut rest = [
            Percent::new(100.0 - p.points()).unwrap_or(Percent::ZERO),
            // tc's default h is 0: the bad state loses every frame.
            Percent::HUNDRED,
            Percent::ZERO,
        ];
        for (slot, name) in rest.iter_mut().zip(["r", "1-h", "1-k"]) {
            match words.number() {
                Some(w) => *slot = percent(w, &format!("loss gemodel {name}"))?,
                None => break,
            }
        }
        let [r, one_minus_h, one_minus_k] = rest;
        self.loss_model = Some(LossModel::GilbertElliott {
            p,
            r,
            one_minus_h,
            one_minus_k,
        });
        Ok(())
    }

    fn rate(&mut self, words: &mut Words<'a>) -> Result<(), NetemError> {
        let w = words.arg("rate after rate")?;
        if w.contains('%') {
            return Err(err(
                "rate as a share of the device speed is not supported",
                w,
            ));
        }
        let mut rate = self.rate.unwrap_or_default();
        rate.bytes_per_sec =
            units::rate(w).ok_or_else(|| err("bad rate (e.g. 1mbit, 10gbit, 100kbps)", w))?;
        if let Some(w) = words.signed_number() {
            rate.packet_overhead = units::c_i32(w).ok_or_else(|| err("bad packet overhead", w))?;
        }
        if let Some(w) = words.number() {
            rate.cell_size = units::c_u32(w).ok_or_else(|| err("bad cell size", w))?;
        }
        if let Some(w) = words.signed_number() {
            rate.cell_overhead = units::c_i32(w).ok_or_else(|| err("bad cell overhead", w))?;
        }
        self.rate = Some(rate);
        Ok(())
    }

    /// tc's checks after the last word, and the assembled spec.
    fn finish(self) -> Result<Netem, NetemError> {
        let mut reorder = None;
        if let Some((chance, word)) = self.reorder {
            let mut gap = self.gap.map_or(0, |(g, _)| g);
            if chance.percent.scaled() != 0 {
                if self.delay.latency.is_zero() {
                    return Err(err("reordering needs a delay", word));
                }
                if gap == 0 {
                    gap = 1;
                }
            } else if let Some((_, gap_word)) = self.gap.filter(|&(g, _)| g > 0) {
                return Err(err("gap given without a reorder probability", gap_word));
            }
            reorder = Some(Reorder { chance, gap });
        } else if let Some((_, word)) = self.gap.filter(|&(g, _)| g > 0) {
            return Err(err("gap given without a reorder probability", word));
        }
        if let Some(word) = self.distribution
            && (self.delay.latency.is_zero() || self.delay.jitter.is_zero())
        {
            return Err(err("distribution needs a delay and a jitter", word));
        }
        let loss = self.loss_model.or(self.loss_random.map(|percent| {
            LossModel::Random(Chance {
                percent,
                correlation: self.loss_correlation,
            })
        }));
        Ok(Netem {
            limit: self.limit.unwrap_or(Netem::DEFAULT_LIMIT),
            delay: self.delay,
            loss,
            duplicate: self.duplicate,
            corrupt: self.corrupt,
            reorder,
            rate: self.rate,
            ber: self.ber,
        })
    }
}

/// `corrupt` and `duplicate`: `PERCENT [CORRELATION]`, keeping an earlier correlation when a
/// repeat gives none (as tc does).
fn chance(key: &str, earlier: Option<Chance>, words: &mut Words<'_>) -> Result<Chance, NetemError> {
    let mut c = earlier.unwrap_or_default();
    c.percent = percent(
        words.arg(&format!("percent after {key}"))?,
        &format!("{key} percent"),
    )?;
    if let Some(w) = words.number() {
        c.correlation = percent(w, &format!("{key} correlation"))?;
    }
    Ok(c)
}

impl FromStr for Netem {
    type Err = NetemError;

    /// Parse the words after `netem`, e.g. `delay 10ms 2ms 25% loss 0.1% rate 100mbit`.
    fn from_str(text: &str) -> Result<Netem, NetemError> {
        let mut words = Words(text.split_whitespace().peekable());
        let mut draft = Draft::default();
        while let Some(key) = words.0.next() {
            draft.keyword(key, &mut words)?;
        }
        draft.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Netem {
        match text.parse() {
            Ok(n) => n,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn fails(text: &str) -> NetemError {
        match text.parse::<Netem>() {
            Ok(n) => panic!("{text:?} parsed as {n}"),
            Err(e) => e,
        }
    }

    fn pct(points: f64) -> Percent {
        Percent::new(points).unwrap_or_default()
    }

    fn chance(percent: f64, correlation: f64) -> Chance {
        Chance {
            percent: pct(percent),
            correlation: pct(correlation),
        }
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_is_netems_defaults() {
        assert_eq!(parse(""), Netem::default());
        assert_eq!(parse("limit 1000"), Netem::default());
    }

    #[test]
    fn delay_jitter_correlation_and_distribution() {
        let n = parse("delay 10ms");
        assert_eq!((n.delay.latency, n.delay.jitter), (10 * MS, Duration::ZERO));
        let n = parse("delay 10ms 2.5ms 25%");
        assert_eq!(n.delay.jitter, Duration::from_micros(2500));
        assert_eq!(n.delay.correlation, pct(25.0));
        assert_eq!(parse("delay 100").delay.latency, Duration::from_nanos(100));
        assert_eq!(parse("delay 1s").delay.latency, Duration::from_secs(1));
        assert_eq!(
            parse("delay 100us").delay.latency,
            Duration::from_micros(100)
        );
        for d in Distribution::ALL {
            let text = format!("delay 10ms 5ms distribution {}", d.name());
            assert_eq!(parse(&text).delay.distribution, d);
            let before = format!("distribution {} delay 10ms 5ms", d.name());
            assert_eq!(parse(&before), parse(&text));
        }
        // A repeat overwrites what it gives and keeps the rest, as tc.
        let n = parse("delay 10ms 5ms 10% delay 20ms");
        assert_eq!(n.delay.latency, 20 * MS);
        assert_eq!(n.delay.jitter, 5 * MS);
        assert_eq!(n.delay.correlation, pct(10.0));
    }

    #[test]
    fn loss_models_and_their_defaults() {
        let random = Some(LossModel::Random(chance(1.0, 0.0)));
        assert_eq!(parse("loss 1%").loss, random);
        assert_eq!(parse("loss random 1%").loss, random);
        assert_eq!(parse("drop 1%").loss, random);
        assert_eq!(
            parse("loss 1").loss,
            random,
            "a bare number is percentage points"
        );
        assert_eq!(
            parse("loss random 0.3% 25%").loss,
            Some(LossModel::Random(chance(0.3, 25.0)))
        );
        assert_eq!(
            parse("loss state 1%").loss,
            Some(LossModel::State {
                p13: pct(1.0),
                p31: pct(99.0),
                p32: pct(0.0),
                p23: pct(100.0),
                p14: pct(0.0),
            })
        );
        assert_eq!(
            parse("loss state 1% 30% 5% 40% 2%").loss,
            Some(LossModel::State {
                p13: pct(1.0),
                p31: pct(30.0),
                p32: pct(5.0),
                p23: pct(40.0),
                p14: pct(2.0),
            })
        );
        assert_eq!(
            parse("loss gemodel 1%").loss,
            Some(LossModel::GilbertElliott {
                p: pct(1.0),
                r: pct(99.0),
                one_minus_h: pct(100.0),
                one_minus_k: pct(0.0),
            })
        );
        assert_eq!(
            parse("loss gemodel 1% 10% 70% 0.1%").loss,
            Some(LossModel::GilbertElliott {
                p: pct(1.0),
                r: pct(10.0),
                one_minus_h: pct(70.0),
                one_minus_k: pct(0.1),
            })
        );
        // tc refuses a second loss unless the first was 0%.
        assert_eq!(
            parse("loss 0% loss 2%").loss,
            Some(LossModel::Random(chance(2.0, 0.0)))
        );
        assert!(matches!(
            parse("loss 0% loss state 2%").loss,
            Some(LossModel::State { .. })
        ));
    }

    #[test]
    fn corrupt_duplicate_reorder_gap() {
        assert_eq!(parse("corrupt 0.1%").corrupt, Some(chance(0.1, 0.0)));
        assert_eq!(parse("corrupt 0.1% 25%").corrupt, Some(chance(0.1, 25.0)));
        // tc forgets a duplicate correlation given alone (it never marks it present); shoal
        // keeps it.
        assert_eq!(parse("duplicate 1% 50%").duplicate, Some(chance(1.0, 50.0)));
        assert_eq!(
            parse("duplicate 1% 50% duplicate 2%").duplicate,
            Some(chance(2.0, 50.0))
        );
        let reorder = |text: &str| parse(text).reorder;
        assert_eq!(
            reorder("delay 10ms reorder 25% 50%"),
            Some(Reorder {
                chance: chance(25.0, 50.0),
                gap: 1
            })
        );
        assert_eq!(
            reorder("delay 10ms reorder 25% gap 5").map(|r| r.gap),
            Some(5)
        );
        assert_eq!(
            reorder("gap 5 delay 10ms reorder 100%").map(|r| r.gap),
            Some(5)
        );
        assert_eq!(
            reorder("gap 0x10 delay 1ms reorder 1%").map(|r| r.gap),
            Some(16)
        );
        assert_eq!(
            reorder("reorder 0%"),
            Some(Reorder {
                chance: chance(0.0, 0.0),
                gap: 0
            })
        );
    }

    #[test]
    fn rate_limit_and_ber() {
        let rate = |text: &str| parse(text).rate;
        assert_eq!(rate("rate 1mbit").map(|r| r.bytes_per_sec), Some(125_000));
        assert_eq!(
            rate("rate 10Gbit").map(|r| r.bytes_per_sec),
            Some(1_250_000_000)
        );
        assert_eq!(rate("rate 100kbps").map(|r| r.bytes_per_sec), Some(100_000));
        assert_eq!(rate("rate 1000bit").map(|r| r.bytes_per_sec), Some(125));
        assert_eq!(
            rate("rate 5kbit 20 100 5"),
            Some(Rate {
                bytes_per_sec: 625,
                packet_overhead: 20,
                cell_size: 100,
                cell_overhead: 5
            })
        );
        assert_eq!(rate("rate 1gbit -14").map(|r| r.packet_overhead), Some(-14));
        assert_eq!(
            rate("rate 1gbit 0 53 -5").map(|r| r.cell_overhead),
            Some(-5)
        );
        assert_eq!(parse("limit 5").limit, 5);
        assert_eq!(parse("limit 1k").limit, 1024);
        assert_eq!(parse("ber 1000000").ber, NonZeroU64::new(1_000_000));
    }

    #[test]
    fn keywords_abbreviate_as_in_tc() {
        let full = parse("limit 5 delay 10ms 1ms loss 1% duplicate 2% corrupt 3% reorder 4% gap 2");
        let short = parse("l 5 d 10ms 1ms lo 1% du 2% c 3% r 4% g 2");
        assert_eq!(short, full);
        assert_eq!(parse("lat 10ms"), parse("delay 10ms"));
        assert_eq!(parse("dr 1%"), parse("loss 1%"));
        assert_eq!(
            parse("delay 1ms 1ms di normal"),
            parse("delay 1ms 1ms distribution normal")
        );
        assert_eq!(parse("ra 1mbit"), parse("rate 1mbit"));
        assert_eq!(parse("b 8"), parse("ber 8"));
        // Sub-keywords and names are not abbreviated (tc compares them whole).
        assert_eq!(fails("loss rand 1%").word, "rand");
        assert_eq!(fails("delay 1ms 1ms distribution norm").word, "norm");
    }

    #[test]
    fn errors_name_the_word() {
        let cases = [
            ("foo", "unknown keyword", "foo"),
            ("delay", "missing time after delay", ""),
            ("delay abc", "bad delay", "abc"),
            ("delay 10ms 5xyz", "bad jitter", "5xyz"),
            (
                "delay 10ms 5ms 200%",
                "delay correlation out of range",
                "200%",
            ),
            ("loss", "missing model or percent after loss", ""),
            ("loss random", "missing percent after loss random", ""),
            ("loss 101%", "loss percent out of range", "101%"),
            ("loss 1%%", "bad loss percent", "1%%"),
            ("loss bogus 1%", "unknown loss model", "bogus"),
            ("loss 1% loss 2%", "duplicate loss argument", "loss"),
            ("loss state 1% loss 1%", "duplicate loss argument", "loss"),
            ("loss state 1% 120%", "loss p31 out of range", "120%"),
            (
                "loss gemodel 1% 2% 300%",
                "loss gemodel 1-h out of range",
                "300%",
            ),
            ("corrupt", "missing percent after corrupt", ""),
            ("duplicate x", "bad duplicate percent", "x"),
            (
                "delay 10ms distribution normal",
                "distribution needs",
                "distribution",
            ),
            ("distribution normal", "distribution needs", "distribution"),
            (
                "delay 0ms 5ms distribution normal",
                "distribution needs",
                "distribution",
            ),
            (
                "delay 1ms 1ms distribution experimental",
                "unknown distribution",
                "experimental",
            ),
            ("reorder 25%", "reordering needs a delay", "reorder"),
            ("delay 1ms gap 5", "gap given without a reorder", "gap"),
            (
                "delay 1ms reorder 0% gap 5",
                "gap given without a reorder",
                "gap",
            ),
            ("gap -1", "bad gap", "-1"),
            ("rate fast", "bad rate", "fast"),
            ("rate 50%", "rate as a share of the device speed", "50%"),
            ("rate 1mbit 20 abc", "unknown keyword", "abc"),
            ("rate 1mbit 1.5", "bad packet overhead", "1.5"),
            ("limit 1.5", "bad limit", "1.5"),
            ("limit -1", "bad limit", "-1"),
            ("ber 0", "bad ber", "0"),
            ("ber x", "bad ber", "x"),
            ("ecn", "not supported", "ecn"),
            ("delay 1ms slot 1ms", "not supported", "slot"),
            ("seed 5", "not supported", "seed"),
        ];
        for (text, message, word) in cases {
            let e = fails(text);
            assert!(e.message.starts_with(message), "{text:?}: {e}");
            assert_eq!(e.word, word, "{text:?}: {e}");
        }
        assert_eq!(
            fails("delay abc").to_string(),
            "bad delay (e.g. 10ms, 2.5ms, 100us) at \"abc\""
        );
    }

    #[test]
    fn display_round_trips() {
        let specs = [
            "",
            "delay 10ms",
            "delay 0 5ms",
            "delay 10ms 0 25%",
            "delay 10ms 2.5ms 25.5% distribution normal",
            "delay 100ms 20ms distribution pareto",
            "delay 1s 1us distribution paretonormal",
            "delay 123456789ns 0.001ms",
            "loss 0.3% 25%",
            "loss 0%",
            "loss state 1%",
            "loss state 1.5% 30% 5% 40% 2%",
            "loss gemodel 1%",
            "loss gemodel 0.0001% 10% 70% 0.1%",
            "duplicate 1% 50%",
            "corrupt 0.1%",
            "delay 10ms reorder 25% 50%",
            "delay 10ms reorder 100% gap 5",
            "reorder 0% 10%",
            "rate 1mbit",
            "rate 1001bit",
            "rate 5kbit 20 100 5",
            "rate 1gbit -14",
            "rate 0bit 0 48",
            "rate 100kbps",
            "limit 0",
            "limit 4294967295",
            "ber 1",
            "ber 18446744073709551615",
            "limit 10 delay 5ms 1ms 1% distribution normal loss gemodel 2% duplicate 1% \
             corrupt 2% reorder 3% 4% gap 7 rate 10mbit 4 ber 100000",
        ];
        for text in specs {
            let spec = parse(text);
            let written = spec.to_string();
            assert_eq!(parse(&written), spec, "{text:?} wrote {written:?}");
            assert_eq!(parse(&written).to_string(), written);
        }
        assert_eq!(
            parse("delay 10ms 2.5ms 25% distribution normal loss 1% rate 1mbit 20").to_string(),
            "limit 1000 delay 10ms 2500us 25% distribution normal loss random 1% rate 1mbit 20"
        );
        assert_eq!(
            parse("delay 10ms reorder 25%").to_string(),
            "limit 1000 delay 10ms reorder 25%"
        );
        assert_eq!(
            parse("loss state 1%").to_string(),
            "limit 1000 loss state 1% 99% 0% 100% 0%"
        );
    }
}
