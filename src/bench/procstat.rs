//! CPU time from the kernel's own accounting: the whole machine's busy time from `/proc/stat`
//! and a process's user and system time from `/proc/PID/stat`, in clock ticks.
//!
//! A forwarding path's CPU cost is then the machine's busy time during a run less the traffic
//! generator's own time: that includes the kernel's softirq work, which no process is charged
//! for, and is measured the same way whether Linux or shoal forwards.

use std::io;

/// Clock ticks per second (`USER_HZ`, 100 on every Linux architecture shoal runs on).
pub const TICKS_PER_SECOND: u64 = 100;

/// Busy ticks summed over all CPUs: everything but idle and iowait (and guest time, which is
/// already inside user time).
pub fn machine_busy() -> io::Result<u64> {
    parse_machine_busy(&std::fs::read_to_string("/proc/stat")?)
}

/// User plus system ticks of process `pid` (all its threads).
pub fn process_cpu(pid: u32) -> io::Result<u64> {
    parse_process_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// Busy ticks from the text of `/proc/stat`.
pub fn parse_machine_busy(text: &str) -> io::Result<u64> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/stat");
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(bad)?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().map_err(|_| bad()))
        .collect::<io::Result<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = fields[..] else {
        return Err(bad());
    };
    Ok(user + nice + system + irq + softirq + steal)
}

/// User plus system ticks from the text of `/proc/PID/stat`.
pub fn parse_process_cpu(text: &str) -> io::Result<u64> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/PID/stat");
    // The command name is parenthesised and may hold spaces; utime and stime are the 12th and
    // 13th fields after it.
    let rest = text.rsplit_once(')').ok_or_else(bad)?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let mut next =
        || -> io::Result<u64> { fields.next().and_then(|f| f.parse().ok()).ok_or_else(bad) };
    Ok(next()? + next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_busy_sums_all_but_idle() {
        let stat = "cpu  10 1 20 1000 5 2 3 4 0 0\ncpu0 5 0 10 500 2 1 1 2 0 0\nintr 1\n";
        assert_eq!(parse_machine_busy(stat).unwrap(), 10 + 1 + 20 + 2 + 3 + 4);
        assert!(parse_machine_busy("cpu0 1 2\n").is_err());
        assert!(parse_machine_busy("cpu  1 x 3 4 5 6 7 8\n").is_err());
        assert!(machine_busy().is_ok());
    }

    #[test]
    fn process_cpu_skips_a_name_with_spaces() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_process_cpu(stat).unwrap(), 10);
        assert!(parse_process_cpu("42 (x) S 1").is_err());
        assert!(process_cpu(std::process::id()).is_ok());
    }
}
