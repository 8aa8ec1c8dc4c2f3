//! `shoal run --json`: the final report as one JSON document — workers and the cut, nodes,
//! links by end, ports, flows, each with drops by reason and the balance checks — for scripts
//! and `shoal bench` to read instead of the tables.

use serde_json::{Map, Value, json};
use shoal::engine::{FlowReport, LinkReport, Report};

fn reasons(list: impl Iterator<Item = (String, u64)>) -> Value {
    Value::Object(list.map(|(r, n)| (r, json!(n))).collect::<Map<_, _>>())
}

fn link(l: &LinkReport) -> Value {
    let ends: Vec<Value> = l
        .ends
        .iter()
        .map(|e| {
            let c = &e.counters;
            json!({
                "end": e.name,
                "sent": c.tx_frames, "sent_bytes": c.tx_bytes,
                "received": c.rx_frames, "received_bytes": c.rx_bytes,
                "made": c.made, "out": c.out, "taken": c.taken, "corrupted": c.corrupted,
                "dropped": reasons(c.nonzero_drops().map(|(r, n)| (r.name().to_owned(), n))),
                "in_flight": e.in_flight,
                "impairment": e.netem,
            })
        })
        .collect();
    json!({
        "link": l.name(),
        "medium": l.medium,
        "in_ring": l.in_ring(),
        "imbalance": l.imbalance().to_string(),
        "ends": ends,
    })
}

fn flow(f: &FlowReport, local: bool) -> Value {
    let a = &f.arrived;
    let us = |q| a.latency.quantile(q).map(|v| v as f64 / 1e3);
    let dropped: Vec<Value> = f
        .dropped
        .iter()
        .map(|(place, cause, n)| json!({"place": place, "cause": cause.to_string(), "frames": n}))
        .collect();
    json!({
        "id": f.id,
        "from": f.from,
        "to": f.to.to_string(),
        "made": f.made,
        "refused": f.refused,
        "refusal": f.refusal,
        "sent": f.sent,
        "received": a.received,
        "reordered": a.reordered,
        "dropped": dropped,
        "in_flight": f.in_flight,
        "latency_us": {"p50": us(0.5), "p99": us(0.99), "max": (a.latency.max() as f64) / 1e3},
        "received_here": local,
        "imbalance": local.then(|| f.imbalance().to_string()),
    })
}

/// The report as JSON; `local` says which flows' sinks are in this run.
pub fn report(report: &Report, local: &dyn Fn(&FlowReport) -> bool) -> Value {
    let nodes: Vec<Value> = report
        .nodes
        .iter()
        .map(|n| {
            let c = &n.counters;
            json!({
                "name": n.name,
                "received": c.rx_frames,
                "forwarded": c.forwarded,
                "delivered": c.delivered,
                "sent": c.tx_frames,
                "dropped": reasons(c.nonzero_drops().map(|(r, k)| (r.name().to_owned(), k))),
                "sent_on_no_link": n.unlinked,
                "queued": n.queued,
                "switch": n.switch.as_ref().map(|s| json!({
                    "unicast": s.forwarded,
                    "flooded": s.flooded,
                    "learned": s.learned,
                    "moved": s.moved,
                    "fdb_full": s.fdb_full,
                    "mirrored": s.mirrored,
                    "copy_failed": s.copy_failed,
                })),
            })
        })
        .collect();
    let workers: Vec<Value> = report
        .workers
        .iter()
        .map(|w| json!({"nodes": w.nodes, "core": w.core, "busy": w.busy}))
        .collect();
    let ports: Vec<Value> = report
        .ports
        .iter()
        .map(|p| {
            json!({
                "port": format!("{}:{}", p.node, p.iface),
                "worker": p.worker,
                "bound_to": p.describe,
                "rx": p.stats.rx, "tx": p.stats.tx,
                "tx_full": p.stats.tx_full, "rx_lost": p.stats.rx_dropped,
            })
        })
        .collect();
    let capture = report.capture.as_ref().map(|c| match c {
        Ok(t) => json!({"written": t.written, "dropped_copies": t.dropped_copies}),
        Err(e) => json!({"error": e.to_string()}),
    });
    json!({
        "elapsed_s": report.elapsed.as_secs_f64(),
        "workers": workers,
        "cut": report.cut,
        "nodes": nodes,
        "links": report.links.iter().map(link).collect::<Vec<_>>(),
        "ports": ports,
        "flows": report.flows.iter().map(|f| flow(f, local(f))).collect::<Vec<_>>(),
        "sent": report.sent,
        "received": report.sink.received,
        "capture": capture,
    })
}
