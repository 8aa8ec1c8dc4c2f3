//! Lookup speed and memory of `router::fib::lpm::Lpm` against two crates on the same tables.
//!
//! Tables: 10 routes; 1,000,000 random prefixes with BGP-like lengths; 1,000,000 random prefixes
//! with lengths uniform in 1..=32 (the worst case for range counts). Each group times batches of
//! 1024 independent random destinations (`Throughput::Elements(1024)`, so criterion reports
//! lookups per second) and a dependent chain, where each address is XORed with the previous
//! answer, so no two lookups overlap and the figure is pure latency. Build time, update time and
//! memory are printed to stderr: ours from `mem_bytes`, the crates' from the resident-set growth
//! (/proc/self/statm) across their construction. Everything is seeded, so runs are comparable.

#[path = "common/procfs.rs"]
mod procfs;

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use ip_network_table_deps_treebitmap::IpLookupTable;
use prefix_trie::PrefixMap;
use shoal::router::fib::lpm::Lpm;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const BATCH: usize = 1024;
const BIG: usize = 1_000_000;

/// splitmix64: tiny, seedable, and good enough to scatter prefixes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Lengths in roughly the proportions of a full BGP table (per mille, see docs/lpm.md).
fn bgp_len(r: &mut Rng) -> u8 {
    match r.below(1000) {
        0..550 => 24,
        550..650 => 23,
        650..760 => 22,
        760..820 => 21,
        820..870 => 20,
        870..910 => 19,
        910..930 => 18,
        930..950 => 17,
        950..980 => 16,
        980..990 => 8 + r.below(8) as u8,
        _ => 25 + r.below(8) as u8,
    }
}

fn uniform_len(r: &mut Rng) -> u8 {
    1 + r.below(32) as u8
}

fn mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn routes(n: usize, seed: u64, len: fn(&mut Rng) -> u8) -> Vec<(u32, u8, u16)> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let l = len(&mut r);
            (r.next() as u32 & mask(l), l, r.next() as u16)
        })
        .collect()
}

fn destinations(seed: u64) -> Vec<u32> {
    let mut r = Rng(seed);
    (0..BATCH).map(|_| r.next() as u32).collect()
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A table's batch lookup, for the tables that have one.
type BatchFn<'a> = dyn Fn(&[u32], &mut [Option<u16>]) + 'a;

/// Times `batch` on 1024 independent destinations and a dependent chain of `one`.
fn bench_table(
    g: &mut BenchmarkGroup<'_, WallTime>,
    dst: &[u32],
    one: impl Fn(u32) -> Option<u16>,
    batch: Option<&BatchFn<'_>>,
) {
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut out = vec![None; BATCH];
    if let Some(batch) = batch {
        g.bench_function("batch", |b| {
            b.iter(|| {
                batch(black_box(dst), &mut out);
                black_box(&out);
            })
        });
    }
    g.bench_function("loop", |b| {
        b.iter(|| {
            for (o, &a) in out.iter_mut().zip(black_box(dst)) {
                *o = one(a);
            }
            black_box(&out);
        })
    });
    g.bench_function("chain", |b| {
        b.iter(|| {
            let mut x = 0u32;
            for &a in black_box(dst) {
                x = one(a ^ x).map_or(1, u32::from);
            }
            black_box(x)
        })
    });
}

fn big_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g
}

/// Builds our table from `routes` and prints what it cost.
fn build_ours(label: &str, routes: &[(u32, u8, u16)]) -> Lpm {
    let t0 = Instant::now();
    let mut t = Lpm::new();
    t.extend(routes.iter().copied());
    let took = t0.elapsed();
    eprintln!(
        "lpm {label}: {} prefixes ({} given), built in {:.0} ms, mem_bytes {} ({:.2} MiB)",
        t.len(),
        routes.len(),
        took.as_secs_f64() * 1e3,
        t.mem_bytes(),
        mib(t.mem_bytes()),
    );
    t
}

/// Average cost of single inserts and removes on a full table (each rebuilds its chunks).
fn time_updates(label: &str, t: &mut Lpm, len: fn(&mut Rng) -> u8) {
    let fresh = routes(10_000, 99, len);
    let t0 = Instant::now();
    for &(p, l, v) in &fresh {
        t.insert(p, l, v);
    }
    let ins = t0.elapsed();
    let t0 = Instant::now();
    for &(p, l, _) in &fresh {
        t.remove(p, l);
    }
    let rem = t0.elapsed();
    eprintln!(
        "lpm {label}: insert {:.2} us, remove {:.2} us on average over {} updates",
        ins.as_secs_f64() * 1e6 / fresh.len() as f64,
        rem.as_secs_f64() * 1e6 / fresh.len() as f64,
        fresh.len(),
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let dst = destinations(7);
    eprintln!(
        "machine: {}",
        std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("model name"))
            .unwrap_or("model name: unknown")
    );

    let small = build_ours("10 routes", &routes(10, 1, bgp_len));
    {
        let mut g = c.benchmark_group("lpm_10_routes");
        bench_table(
            &mut g,
            &dst,
            |a| small.lookup(a),
            Some(&|a, o| small.lookup_batch(a, o)),
        );
        g.finish();
    }

    let bgp = routes(BIG, 2, bgp_len);
    {
        let mut ours = build_ours("1M bgp-like", &bgp);
        let mut g = big_group(&mut c, "lpm_1m_bgp");
        bench_table(
            &mut g,
            &dst,
            |a| ours.lookup(a),
            Some(&|a, o| ours.lookup_batch(a, o)),
        );
        g.finish();
        time_updates("1M bgp-like", &mut ours, bgp_len);
    }
    {
        let ours = build_ours("1M uniform-length", &routes(BIG, 3, uniform_len));
        let mut g = big_group(&mut c, "lpm_1m_uniform");
        bench_table(
            &mut g,
            &dst,
            |a| ours.lookup(a),
            Some(&|a, o| ours.lookup_batch(a, o)),
        );
        g.finish();
    }
    {
        let before = procfs::rss_bytes();
        let t0 = Instant::now();
        let mut trie: PrefixMap<(u32, u8), u16> = PrefixMap::new();
        for &(p, l, v) in &bgp {
            trie.insert((p, l), v);
        }
        let took = t0.elapsed();
        eprintln!(
            "prefix-trie 1M bgp-like: built in {:.0} ms, RSS growth {:.2} MiB",
            took.as_secs_f64() * 1e3,
            mib(procfs::rss_bytes().saturating_sub(before) as usize),
        );
        let mut g = big_group(&mut c, "prefix_trie_1m_bgp");
        bench_table(
            &mut g,
            &dst,
            |a| trie.get_lpm(&(a, 32)).map(|(_, &v)| v),
            None,
        );
        g.finish();
    }
    {
        let before = procfs::rss_bytes();
        let t0 = Instant::now();
        let mut tbm: IpLookupTable<Ipv4Addr, u16> = IpLookupTable::new();
        for &(p, l, v) in &bgp {
            tbm.insert(Ipv4Addr::from(p), u32::from(l), v);
        }
        let took = t0.elapsed();
        let (nodes, results) = tbm.mem_usage();
        eprintln!(
            "treebitmap 1M bgp-like: built in {:.0} ms, RSS growth {:.2} MiB, mem_usage {:.2} MiB",
            took.as_secs_f64() * 1e3,
            mib(procfs::rss_bytes().saturating_sub(before) as usize),
            mib(nodes + results),
        );
        let mut g = big_group(&mut c, "treebitmap_1m_bgp");
        let one = |a: u32| tbm.longest_match(Ipv4Addr::from(a)).map(|(_, _, &v)| v);
        bench_table(&mut g, &dst, one, None);
        g.finish();
    }
    c.final_summary();
}
