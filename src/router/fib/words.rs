//! The words routes and rules share: errors that name the word at fault, `ADDR/LEN`
//! prefixes, numbers, and table names (`/etc/iproute2/rt_tables`).

use std::net::Ipv4Addr;

use super::{TABLE_DEFAULT, TABLE_LOCAL, TABLE_MAIN, TableId};

/// A route that could not be parsed, and the word at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {word:?}")]
pub struct ParseError {
    /// What is wrong.
    pub message: &'static str,
    /// The offending word ("" when the text ended too early).
    pub word: String,
}

pub(super) fn err(message: &'static str, word: &str) -> ParseError {
    ParseError {
        message,
        word: word.to_owned(),
    }
}

/// `ADDR/LEN` or `ADDR` (a /32), host bits as written: the part routes and rules share.
pub(super) fn addr_and_len(word: &str) -> Result<(Ipv4Addr, u8), ParseError> {
    let (addr, len) = match word.split_once('/') {
        Some((a, l)) => (
            a,
            l.parse::<u8>()
                .ok()
                .filter(|&l| l <= 32)
                .ok_or_else(|| err("bad prefix length", word))?,
        ),
        None => (word, 32),
    };
    let addr: Ipv4Addr = addr.parse().map_err(|_| err("bad prefix", word))?;
    Ok((addr, len))
}

/// Names of tables beyond Linux's three, as `/etc/iproute2/rt_tables` gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableNames(Vec<(String, TableId)>);

impl TableNames {
    /// Name table `id`; a later name for the same word replaces the earlier.
    pub fn add(&mut self, name: &str, id: TableId) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), id));
    }

    /// A table id, a name given with [`TableNames::add`], or `local`, `main`, `default`.
    pub fn resolve(&self, word: &str) -> Result<TableId, ParseError> {
        match word {
            "main" => return Ok(TABLE_MAIN),
            "local" => return Ok(TABLE_LOCAL),
            "default" => return Ok(TABLE_DEFAULT),
            _ => {}
        }
        if let Some((_, id)) = self.0.iter().find(|(n, _)| n == word) {
            return Ok(*id);
        }
        number(word)
            .filter(|&t| t != 0)
            .ok_or_else(|| err("bad table", word))
    }

    /// Every name given with [`TableNames::add`] and its table.
    pub fn entries(&self) -> impl Iterator<Item = (&str, TableId)> {
        self.0.iter().map(|(n, id)| (n.as_str(), *id))
    }

    /// The name of table `id`, if it has one.
    pub fn name(&self, id: TableId) -> Option<&str> {
        match id {
            TABLE_MAIN => Some("main"),
            TABLE_LOCAL => Some("local"),
            TABLE_DEFAULT => Some("default"),
            _ => self
                .0
                .iter()
                .find(|(_, t)| *t == id)
                .map(|(n, _)| n.as_str()),
        }
    }
}

/// A decimal or `0x` hexadecimal number.
pub(super) fn number(word: &str) -> Option<u32> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
}
