//! This process's resource use, read from /proc: resident memory and CPU time, for the benches
//! and tests that report or bound them. Included with `#[path]`, so not every user needs both.

#![allow(dead_code)]

/// Resident set size in bytes (this VM uses 4 KiB pages); 0 if /proc cannot be read.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// User plus system CPU time in clock ticks (10 ms each); 0 if /proc cannot be read.
pub fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields = stat.rsplit(')').next().unwrap_or("").split_whitespace();
    fields
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum()
}
