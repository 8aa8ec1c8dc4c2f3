//! Results: one [`Sample`] per run, folded into a [`Row`] per scenario and path (median with
//! min–max over the runs), printed as a table or as JSON.

use serde::Serialize;

/// What one run of one path measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Datagrams per second the generator handed to the path.
    pub offered_pps: f64,
    /// Datagrams per second that arrived at the sink.
    pub delivered_pps: f64,
    /// Frames per second the path sent out of its last hop (the kernel's counters of the
    /// egress device), whether or not the sink's side then kept up; 0 where not measured.
    pub forwarded_pps: f64,
    /// One-way latency quantiles p50, p99, p999, nanoseconds (0 when nothing arrived).
    pub latency_ns: [u64; 3],
    /// CPU seconds the forwarding path used per million delivered datagrams (machine busy
    /// time less the generator's own), or 0 where not measured.
    pub cpu_s_per_mpkt: f64,
}

impl Sample {
    /// Fraction of the offered datagrams that did not arrive.
    pub fn loss(&self) -> f64 {
        if self.offered_pps <= 0.0 {
            return 0.0;
        }
        (1.0 - self.delivered_pps / self.offered_pps).max(0.0)
    }
}

/// One path of one scenario over several runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Scenario, e.g. `1 router` or `chain 16`.
    pub scenario: String,
    /// What forwards: `kernel`, `shoal afxdp`, `shoal tap`, `shoal`.
    pub path: String,
    /// Ethernet frame length without FCS.
    pub frame: usize,
    /// Distinct 5-tuples.
    pub flows: u16,
    /// Every run.
    pub runs: Vec<Sample>,
    /// Median of each field over the runs.
    pub median: Sample,
    /// Lowest and highest delivered rate over the runs.
    pub delivered_min_max: (f64, f64),
    /// The delivered median against the kernel's in the same scenario, when both ran.
    pub vs_kernel: Option<f64>,
    /// The generator's ceiling was reached: the path may be faster than shown.
    pub generator_bound: bool,
    /// The cross-check, when made: both generators paced at the same rate (half what the path
    /// delivered flat out), and what each got delivered: (rate, shoal's, trafgen's).
    pub cross_check: Option<(f64, f64, f64)>,
    /// Frames handed to routers per second, for an in-process chain.
    pub router_hops_pps: Option<f64>,
    /// The highest paced rate found to arrive without loss (`--capacity`), if searched.
    pub capacity_pps: Option<f64>,
    /// That capacity against the kernel's in the same scenario, when both were searched.
    pub capacity_vs_kernel: Option<f64>,
    /// The forwarded rate (the path's egress) against the kernel's, when both were read.
    pub forwarded_vs_kernel: Option<f64>,
}

/// How close to the generator's ceiling a lossless result must be to count as bound by it.
const BOUND: f64 = 0.9;
/// Disagreement between shoal's generator and trafgen that gets flagged.
const DISAGREE: f64 = 0.10;

impl Row {
    /// Fold runs into a row; `ceiling` is the generator's own rate for this frame size.
    pub fn new(
        scenario: &str,
        path: &str,
        frame: usize,
        flows: u16,
        runs: Vec<Sample>,
        ceiling: Option<f64>,
    ) -> Row {
        let field = |f: fn(&Sample) -> f64| median(runs.iter().map(f).collect());
        let lat = |i: usize| median(runs.iter().map(|s| s.latency_ns[i] as f64).collect()) as u64;
        let m = Sample {
            offered_pps: field(|s| s.offered_pps),
            delivered_pps: field(|s| s.delivered_pps),
            forwarded_pps: field(|s| s.forwarded_pps),
            latency_ns: [lat(0), lat(1), lat(2)],
            cpu_s_per_mpkt: field(|s| s.cpu_s_per_mpkt),
        };
        let delivered = runs.iter().map(|s| s.delivered_pps);
        let min = delivered.clone().fold(f64::INFINITY, f64::min);
        let max = delivered.fold(0.0, f64::max);
        let generator_bound =
            ceiling.is_some_and(|c| m.offered_pps >= BOUND * c && m.loss() < 0.01);
        Row {
            scenario: scenario.to_owned(),
            path: path.to_owned(),
            frame,
            flows,
            runs,
            median: m,
            delivered_min_max: (if min.is_finite() { min } else { 0.0 }, max),
            vs_kernel: None,
            generator_bound,
            cross_check: None,
            router_hops_pps: None,
            capacity_pps: None,
            capacity_vs_kernel: None,
            forwarded_vs_kernel: None,
        }
    }

    /// Delivered bits per second of Ethernet frames (without preamble and FCS).
    pub fn gbps(&self) -> f64 {
        self.median.delivered_pps * self.frame as f64 * 8.0 / 1e9
    }

    /// True when trafgen and shoal's generator, paced alike, got deliveries more than 10%
    /// apart.
    pub fn disagrees(&self) -> bool {
        self.cross_check
            .is_some_and(|(_, ours, t)| (t - ours).abs() > DISAGREE * ours.max(t))
    }
}

/// Set each row's ratio to the kernel row of the same scenario, frame size and flow count.
pub fn compare_to_kernel(rows: &mut [Row]) {
    let kernel: Vec<(String, usize, u16, f64)> = rows
        .iter()
        .filter(|r| r.path == "kernel")
        .map(|r| (r.scenario.clone(), r.frame, r.flows, r.median.delivered_pps))
        .collect();
    let kernel_forwarded: Vec<(String, usize, u16, f64)> = rows
        .iter()
        .filter(|r| r.path == "kernel")
        .map(|r| (r.scenario.clone(), r.frame, r.flows, r.median.forwarded_pps))
        .collect();
    let kernel_capacity: Vec<(String, usize, u16, f64)> = rows
        .iter()
        .filter(|r| r.path == "kernel")
        .filter_map(|r| Some((r.scenario.clone(), r.frame, r.flows, r.capacity_pps?)))
        .collect();
    for r in rows.iter_mut().filter(|r| r.path != "kernel") {
        let same = |k: &&(String, usize, u16, f64)| {
            k.0 == r.scenario && k.1 == r.frame && k.2 == r.flows && k.3 > 0.0
        };
        r.vs_kernel = kernel
            .iter()
            .find(same)
            .map(|k| r.median.delivered_pps / k.3);
        r.forwarded_vs_kernel = kernel_forwarded
            .iter()
            .find(same)
            .filter(|_| r.median.forwarded_pps > 0.0)
            .map(|k| r.median.forwarded_pps / k.3);
        r.capacity_vs_kernel = kernel_capacity
            .iter()
            .find(same)
            .and_then(|k| Some(r.capacity_pps? / k.3));
    }
}

/// The median (mean of the middle two for an even count); 0 for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The rows as a fixed-width table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<22} {:<12} {:>5} {:>5} {:>11} {:>24} {:>7} {:>7} {:>22} {:>9} {:>8}  notes\n",
        "scenario",
        "path",
        "frame",
        "flows",
        "offered pps",
        "delivered pps (min-max)",
        "Gbit/s",
        "loss",
        "latency p50/p99/p999 µs",
        "CPU s/Mp",
        "×kernel"
    );
    for r in rows {
        let m = &r.median;
        let us = |ns: u64| ns as f64 / 1e3;
        let mut notes = Vec::new();
        if r.generator_bound {
            notes.push("generator-bound".to_owned());
        }
        // The path sent noticeably more than the sink took in: say so, and compare that.
        let (f, d) = (m.forwarded_pps, m.delivered_pps);
        if f > d * 1.02 {
            let ratio = r
                .forwarded_vs_kernel
                .map_or(String::new(), |x| format!(" ({x:.2}× kernel's)"));
            notes.push(format!("path sent {}{ratio}", si(f)));
        }
        if let Some(c) = r.capacity_pps {
            let ratio = r
                .capacity_vs_kernel
                .map_or(String::new(), |x| format!(", {x:.2}× kernel's"));
            notes.push(format!("lossless up to {}{ratio}", si(c)));
        }
        if let Some(h) = r.router_hops_pps {
            notes.push(format!("{} router-hops/s on 1 core", si(h)));
        }
        if let Some((rate, ours, t)) = r.cross_check {
            let flag = if r.disagrees() { " DISAGREE >10%" } else { "" };
            notes.push(format!(
                "at {} pps: shoal gen {}, trafgen {}{flag}",
                si(rate),
                si(ours),
                si(t)
            ));
        }
        out += &format!(
            "{:<22} {:<12} {:>5} {:>5} {:>11} {:>24} {:>7.3} {:>6.2}% {:>22} {:>9} {:>8}  {}\n",
            r.scenario,
            r.path,
            r.frame,
            r.flows,
            si(m.offered_pps),
            format!(
                "{} ({}-{})",
                si(m.delivered_pps),
                si(r.delivered_min_max.0),
                si(r.delivered_min_max.1)
            ),
            r.gbps(),
            m.loss() * 100.0,
            format!(
                "{:.0}/{:.0}/{:.0}",
                us(m.latency_ns[0]),
                us(m.latency_ns[1]),
                us(m.latency_ns[2])
            ),
            if m.cpu_s_per_mpkt > 0.0 {
                format!("{:.2}", m.cpu_s_per_mpkt)
            } else {
                "-".into()
            },
            r.vs_kernel.map_or("-".into(), |x| format!("{x:.2}")),
            notes.join("; ")
        );
    }
    out
}

/// A rate with a k/M suffix: `812k`, `1.52M`.
fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(offered: f64, delivered: f64) -> Sample {
        Sample {
            offered_pps: offered,
            delivered_pps: delivered,
            forwarded_pps: 0.0,
            latency_ns: [1000, 2000, 3000],
            cpu_s_per_mpkt: 1.5,
        }
    }

    #[test]
    fn rows_take_medians_and_flag_the_generator_ceiling() {
        let runs = vec![
            sample(100.0, 90.0),
            sample(100.0, 99.0),
            sample(100.0, 95.0),
        ];
        let r = Row::new("1 router", "kernel", 64, 1, runs, Some(1000.0));
        assert_eq!(r.median.delivered_pps, 95.0);
        assert_eq!(r.delivered_min_max, (90.0, 99.0));
        assert!(!r.generator_bound, "far below the ceiling");
        let runs = vec![sample(950.0, 949.0)];
        let r = Row::new("1 router", "shoal afxdp", 64, 1, runs, Some(1000.0));
        assert!(r.generator_bound, "at the ceiling without loss");
        let runs = vec![sample(950.0, 500.0)];
        let r = Row::new("1 router", "shoal afxdp", 64, 1, runs, Some(1000.0));
        assert!(!r.generator_bound, "lossy: the path is the limit");
        assert!((r.median.loss() - 0.4737).abs() < 1e-3);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn ratios_pair_rows_of_the_same_scenario() {
        let mut rows = vec![
            Row::new("1 router", "kernel", 64, 1, vec![sample(1e6, 2e5)], None),
            Row::new(
                "1 router",
                "shoal afxdp",
                64,
                1,
                vec![sample(1e6, 5e5)],
                None,
            ),
            Row::new(
                "1 router",
                "shoal afxdp",
                1500,
                1,
                vec![sample(1e6, 5e5)],
                None,
            ),
        ];
        compare_to_kernel(&mut rows);
        assert_eq!(rows[1].vs_kernel, Some(2.5));
        assert_eq!(rows[2].vs_kernel, None, "no kernel row at 1500 bytes");
        rows[0].median.forwarded_pps = 2e5;
        rows[1].median.forwarded_pps = 6e5;
        rows[0].capacity_pps = Some(2e5);
        rows[1].capacity_pps = Some(3e5);
        compare_to_kernel(&mut rows);
        assert_eq!(rows[1].capacity_vs_kernel, Some(1.5));
        assert!(table(&rows).contains("lossless up to 300k, 1.50× kernel's"));
        assert!(
            table(&rows).contains("path sent 600k (3.00× kernel's)"),
            "{}",
            table(&rows)
        );
        rows[1].cross_check = Some((2.5e5, 5e5, 4.4e5));
        assert!(rows[1].disagrees());
        rows[1].cross_check = Some((2.5e5, 5e5, 4.6e5));
        assert!(!rows[1].disagrees());
        let t = table(&rows);
        assert!(t.contains("500k (500k-500k)") && t.contains("2.50"), "{t}");
        assert!(
            t.contains("at 250k pps: shoal gen 500k, trafgen 460k"),
            "{t}"
        );
        let json = serde_json::to_string(&rows).unwrap();
        assert!(json.contains("\"delivered_pps\":500000.0"), "{json}");
    }
}
