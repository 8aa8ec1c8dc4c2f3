//! Printing what a stopped engine reports: nodes with their drops by reason, links by end
//! with theirs and what was in flight, devices, flows — and a check that every link's frames
//! add up, printed as a bug when they do not.

use std::io::Write;

use shoal::engine::{FlowReport, LinkReport, Report};

/// Links printed in full; beyond, only the links that dropped frames or are impaired.
const ALL_LINKS_UP_TO: usize = 32;

/// Print the workers, nodes, links, ports and capture of `report`.
pub fn print(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    workers(report, out)?;
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
            link.name()
        );
    }
    Ok(())
}

fn workers(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    for (w, r) in report.workers.iter().enumerate() {
        let core = r
            .core
            .map_or("not pinned".to_owned(), |c| format!("core {c}"));
        writeln!(
            out,
            "worker {w}: {core}, {} nodes, busy {:.0}% of the run",
            r.nodes,
            100.0 * r.busy
        )?;
    }
    match report.cut.len() {
        0 => {}
        n if n <= 8 => writeln!(out, "links between workers: {}", report.cut.join(", "))?,
        n => writeln!(
            out,
            "links between workers: {n}, {} …",
            report.cut[..8].join(", ")
        )?,
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
        if let Some(s) = &n.switch {
            reasons.push(format!(
                "(switch: unicast {} flooded {} learned {} fdb-full {} mirrored {})",
                s.forwarded, s.flooded, s.learned, s.fdb_full, s.mirrored
            ));
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
                if k == 0 { l.medium } else { "" },
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

/// Print what became of each flow, check that its datagrams add up where its sink is in this
/// run (`local`), and say why a flow sent nothing.
pub fn flows(
    report: &Report,
    local: &dyn Fn(&FlowReport) -> bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if report.flows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n{:<24} {:>11} {:>11} {:>11} {:>8} {:>9} {:>10} {:>10}  dropped where: why",
        "flow", "sent", "received", "dropped", "loss %", "in flight", "p50 µs", "p99 µs"
    )?;
    for f in &report.flows {
        // A flow another process sends, seen only by this run's sink.
        let foreign = f.from.is_empty();
        let name = if foreign {
            format!("#{} from elsewhere", f.id)
        } else {
            format!("#{} {} → {}", f.id, f.from, f.to)
        };
        let a = &f.arrived;
        let q = |p| a.latency.quantile(p).map_or(0.0, |v| v as f64 / 1e3);
        let mut why: Vec<String> = f
            .dropped
            .iter()
            .map(|(place, cause, n)| format!("{place}: {cause} {n}"))
            .collect();
        if f.refused != 0 {
            let reason = f.refusal.as_deref().unwrap_or("refused");
            why.push(format!("not sent {} ({reason})", f.refused));
        }
        if !foreign && !local(f) {
            why.push("received elsewhere (its receiver counts it)".into());
        }
        let lost = f.sent.saturating_sub(a.received);
        writeln!(
            out,
            "{name:<24} {:>11} {:>11} {:>11} {:>8.3} {:>9} {:>10.1} {:>10.1}  {}",
            f.sent,
            a.received,
            f.total_dropped(),
            100.0 * lost as f64 / f.sent.max(1) as f64,
            f.in_flight,
            q(0.5),
            q(0.99),
            why.join(", ")
        )?;
        if f.sent == 0 && !foreign {
            let why = f
                .refusal
                .clone()
                .or_else(|| {
                    f.dropped
                        .first()
                        .map(|d| format!("{}: {}", d.0, d.1.explain()))
                })
                .unwrap_or_else(|| "nothing was due".into());
            eprintln!("shoal: flow #{} from {} sent nothing: {why}", f.id, f.from);
        }
        if !foreign && local(f) && f.imbalance() != 0 {
            eprintln!(
                "shoal: BUG: flow #{} does not balance: {} made, {} refused, {} received, {} \
                 dropped, {} in flight ({} unaccounted for)",
                f.id,
                f.made,
                f.refused,
                a.received,
                f.total_dropped(),
                f.in_flight,
                f.imbalance()
            );
        }
    }
    let s = &report.sink;
    if report.flows.iter().all(local) {
        writeln!(
            out,
            "flows: sent {}, received {}, lost {}, reordered {}",
            report.sent,
            s.received,
            report.sent.saturating_sub(s.received),
            s.reordered
        )?;
    } else if report.sent != 0 {
        writeln!(
            out,
            "flows: sent {} (to addresses outside this file: their receivers count them)",
            report.sent
        )?;
    }
    if s.received != 0 {
        let us = |q| s.latency.quantile(q).unwrap_or(0) as f64 / 1e3;
        writeln!(
            out,
            "received {} datagrams, {} reordered; one-way latency p50 {:.1} µs, p99 {:.1} µs, \
             max {:.1} µs",
            s.received,
            s.reordered,
            us(0.5),
            us(0.99),
            s.latency.max() as f64 / 1e3
        )?;
    }
    Ok(())
}
