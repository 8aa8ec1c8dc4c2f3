use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let t0 = Instant::now();
    let t = shoal::topo::generate::random(n, 4, 1).unwrap();
    let el = t0.elapsed();
    let sizes: Vec<usize> = t
        .nodes
        .iter()
        .filter(|n| n.auto_routes)
        .map(|n| n.auto.len())
        .collect();
    let avg = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    println!(
        "{n} routers {} links: {:.2} s; routes/router avg {avg:.1} max {}",
        t.links.len(),
        el.as_secs_f64(),
        sizes.iter().max().unwrap()
    );
}
