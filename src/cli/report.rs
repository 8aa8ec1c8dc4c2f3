//! Printing what a stopped engine reports: nodes with their drops by reason, links by end
//! with theirs and what was in flight, devices, flows — and a check that every link's frames
//! add up, printed as a bug when they do not.

use std::io::Write;

use shoal::engine::{LinkReport, Report};

/// Links printed in full; beyond, only the links that dropped frames or are impaired.
const ALL_LINKS_UP_TO: usize = 32;

/// Print the nodes, links, ports and capture of `report`.
pub fn print(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    nodes(report, out)?;
    links(report, out)?;
    ports(report, out)?;
    match &report.capture {
        Some(Ok(t)) => writeln!(
            out,
            "\ncapture: {} frames written, {} copies dropped (the writer could not keep up)",
            t.written, t.dropped_copies
        )?,
        Some(Err(e)) => eprintln!("shoal: the capture stopped: {e}"),
        None => {}
    }
    for (link, missing) in report.unbalanced() {
        eprintln!(
            "shoal: BUG: link {} does not balance: {missing} frame(s) unaccounted for",
            link.name
        );
    }
    Ok(())
}

/// One row per instance. What it received was forwarded, delivered locally (to its own stack
/// or application), dropped for a reason, or is held (fragments waiting for the rest), so
/// received = forwarded + delivered + dropped + held reads off the row; frames it sent on an
/// interface with no link are noted apart (they were counted once already, as forwarded or as
/// its own).
fn nodes(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "\n{:<16} {:>12} {:>12} {:>12} {:>10} {:>6} {:>12}  drops by reason",
        "instance", "received", "forwarded", "delivered", "dropped", "held", "sent"
    )?;
    for n in &report.nodes {
        let c = &n.counters;
        let mut reasons: Vec<String> = c.nonzero_drops().map(|(r, k)| format!("{r} {k}")).collect();
        if n.unlinked != 0 {
            reasons.push(format!("sent on no link {}", n.unlinked));
        }
        if n.queued != 0 {
            reasons.push(format!("(still queued {})", n.queued));
        }
        writeln!(
            out,
            "{:<16} {:>12} {:>12} {:>12} {:>10} {:>6} {:>12}  {}",
            n.name,
            c.rx_frames,
            c.forwarded,
            c.delivered_locally(),
            c.total_drops(),
            c.held,
            c.tx_frames,
            reasons.join(", ")
        )?;
    }
    Ok(())
}

fn eventful(l: &LinkReport) -> bool {
    l.ends
        .iter()
        .any(|e| e.impaired || e.counters.total_drops() != 0)
}

fn links(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if report.links.is_empty() {
        return Ok(());
    }
    let all = report.links.len() <= ALL_LINKS_UP_TO;
    writeln!(
        out,
        "\n{:<32} {:>6} {:>12} {:>12} {:>10} {:>9}  drops by reason; impairment",
        "link end", "medium", "sent", "received", "dropped", "in flight"
    )?;
    let mut omitted = 0;
    for l in &report.links {
        if !all && !eventful(l) {
            omitted += 1;
            continue;
        }
        for (k, e) in l.ends.iter().enumerate() {
            let c = &e.counters;
            let mut notes: Vec<String> =
                c.nonzero_drops().map(|(r, n)| format!("{r} {n}")).collect();
            if c.made != 0 {
                notes.push(format!("copies made {}", c.made));
            }
            if c.corrupted != 0 {
                notes.push(format!("corrupted {}", c.corrupted));
            }
            if let Some(netem) = &e.netem {
                notes.push(netem.clone());
            }
            let in_flight = e.in_flight + if k == 0 { l.in_ring() } else { 0 };
            writeln!(
                out,
                "{:<32} {:>6} {:>12} {:>12} {:>10} {:>9}  {}",
                e.name,
                if k == 0 { l.medium.as_str() } else { "" },
                c.tx_frames,
                c.rx_frames,
                c.total_drops(),
                in_flight,
                notes.join(", ")
            )?;
        }
    }
    if omitted != 0 {
        writeln!(
            out,
            "({omitted} more links, none impaired and none dropping: not shown)"
        )?;
    }
    Ok(())
}

fn ports(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if report.ports.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n{:<24} {:>6} {:>12} {:>12} {:>10} {:>10}  bound to; receive drops by reason",
        "port", "worker", "rx", "tx", "tx full", "rx lost"
    )?;
    for p in &report.ports {
        let st = &p.stats;
        let drops: Vec<String> = st.rx_drops().map(|(r, n)| format!("{r} {n}")).collect();
        let lost: u64 = st.rx_drops().map(|(_, n)| n).sum();
        let drops = if drops.is_empty() {
            String::new()
        } else {
            format!("; {}", drops.join(", "))
        };
        writeln!(
            out,
            "{:<24} {:>6} {:>12} {:>12} {:>10} {:>10}  {}{drops}",
            format!("{}:{}", p.node, p.iface),
            p.worker,
            st.rx,
            st.tx,
            st.tx_full,
            lost,
            p.describe
        )?;
    }
    Ok(())
}
