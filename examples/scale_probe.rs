use shoal::topo::generate::{self, Shape};
use std::time::Instant;
fn main() {
    sizes();
    let args: Vec<String> = std::env::args().collect();
    let shape: Shape = args[1..].join(" ").parse().unwrap();
    let t0 = Instant::now();
    let t = generate::shape(shape).unwrap();
    let el = t0.elapsed();
    let sizes: Vec<usize> = t
        .nodes
        .iter()
        .filter(|n| n.auto_routes)
        .map(|n| n.auto.len())
        .collect();
    let avg = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    println!(
        "{shape}: {} nodes {} links: {:.2} s; routes/router avg {avg:.1} max {} agg {:?}",
        t.nodes.len(),
        t.links.len(),
        el.as_secs_f64(),
        sizes.iter().max().unwrap(),
        t.aggregates
    );
    if let Ok(name) = std::env::var("SHOW") {
        let i = t.node_index(&name).unwrap();
        for l in t.route_lines(i) {
            println!("  {l}");
        }
    }
}
#[allow(dead_code)]
fn sizes() {
    println!(
        "Node {} Iface {} Link {} Router {}",
        size_of::<shoal::topo::Node>(),
        size_of::<shoal::topo::Iface>(),
        size_of::<shoal::topo::Link>(),
        size_of::<shoal::router::Router>()
    );
}
