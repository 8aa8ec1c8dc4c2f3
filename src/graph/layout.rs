//! Where a picture's nodes go: a chain left to right, routers named by coordinates pinned
//! where their names say, anything else left to `neato`.

use crate::topo::{Kind, Topology};

/// Inches between neighbouring routers of a pinned layout, across and down.
pub(super) const STEP: (f64, f64) = (1.6, 1.2);
/// How far a host sits from its router in a pinned layout.
const HOST_OUT: f64 = 1.0;

/// How a topology is laid out.
pub(super) enum Layout {
    /// Left to right.
    Chain,
    /// Each node at a position, in inches (`None`: left to the layout).
    Pinned(Vec<Option<(f64, f64)>>),
    /// Left to neato.
    Free,
}

impl Layout {
    pub(super) fn of(topo: &Topology) -> Layout {
        let routers: Vec<usize> = (0..topo.nodes.len())
            .filter(|&i| topo.nodes[i].kind == Kind::Router)
            .collect();
        // Router neighbours of each router, over point-to-point links.
        let mut degree = vec![0usize; topo.nodes.len()];
        for l in &topo.links {
            if let [a, b] = l.ends[..]
                && topo.nodes[a.0].kind == Kind::Router
                && topo.nodes[b.0].kind == Kind::Router
            {
                degree[a.0] += 1;
                degree[b.0] += 1;
            }
        }
        let hubs = topo.links.iter().any(|l| l.ends.len() > 2);
        if !hubs && routers.iter().all(|&r| degree[r] <= 2) {
            return Layout::Chain;
        }
        match coordinates(topo, &routers) {
            Some(pos) => Layout::Pinned(pos),
            None => Layout::Free,
        }
    }
}

/// Positions from routers' names when every router is named by coordinates of the same
/// number (two or more) of dimensions, `r{c0}_{c1}…`; hosts pushed outwards from the router
/// they hang on.
fn coordinates(topo: &Topology, routers: &[usize]) -> Option<Vec<Option<(f64, f64)>>> {
    let coords: Vec<Vec<usize>> = routers
        .iter()
        .map(|&r| {
            let name = topo.nodes[r].name.strip_prefix('r')?;
            name.split('_').map(|c| c.parse().ok()).collect()
        })
        .collect::<Option<_>>()?;
    let dims = coords.first()?.len();
    if dims < 2 || coords.iter().any(|c| c.len() != dims) {
        return None;
    }
    // Counted from 0 (the grid generator counts from 1); extent along each dimension.
    // Dimensions beyond the first two nest the grid of the lower ones in a grid of its
    // copies, with a gap between copies.
    let low: Vec<usize> = (0..dims)
        .map(|d| coords.iter().map(|c| c[d]).min().unwrap_or(0))
        .collect();
    let coords: Vec<Vec<usize>> = coords
        .iter()
        .map(|c| c.iter().zip(&low).map(|(v, l)| v - l).collect())
        .collect();
    let extent: Vec<usize> = (0..dims)
        .map(|d| coords.iter().map(|c| c[d]).max().unwrap_or(0) + 1)
        .collect();
    // Dimension 0 runs down (a grid's rows), 1 across (its columns), 2 down again around
    // whole copies of the first two, and so on.
    let axis = |d: usize| 1 - d % 2;
    let mut step = [vec![0.0; dims], vec![0.0; dims]];
    for d in 0..dims {
        let base = if axis(d) == 0 { STEP.0 } else { STEP.1 };
        step[axis(d)][d] = if d < 2 {
            base
        } else {
            step[axis(d)][d - 2] * extent[d - 2] as f64 + base
        };
    }
    let mut pos = vec![None; topo.nodes.len()];
    for (&r, c) in routers.iter().zip(&coords) {
        let x: f64 = (0..dims).map(|d| step[0][d] * c[d] as f64).sum();
        let y: f64 = (0..dims).map(|d| step[1][d] * c[d] as f64).sum();
        pos[r] = Some((x, -y));
    }
    // A host goes beside its router, on the side away from the router's neighbours, or
    // wherever nearest that side it touches no other node (touching nodes make Graphviz
    // give up routing edges around nodes).
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); topo.nodes.len()];
    for l in &topo.links {
        if let [a, b] = l.ends[..] {
            neighbours[a.0].push(b.0);
            neighbours[b.0].push(a.0);
        }
    }
    for host in 0..topo.nodes.len() {
        if topo.nodes[host].kind != Kind::Host {
            continue;
        }
        let Some(&router) = neighbours[host].iter().find(|&&r| pos[r].is_some()) else {
            continue;
        };
        let Some((x, y)) = pos[router] else { continue };
        let (mut ax, mut ay) = (0.0, 0.0);
        for &o in &neighbours[router] {
            if let Some((ox, oy)) = pos[o] {
                let (dx, dy) = (ox - x, oy - y);
                let len = (dx * dx + dy * dy).sqrt().max(1e-9);
                (ax, ay) = (ax - dx / len, ay - dy / len);
            }
        }
        let away = (ax * ax + ay * ay).sqrt();
        let diagonal = std::f64::consts::FRAC_1_SQRT_2;
        let mut sides = vec![(-diagonal, diagonal)];
        if away > 1e-6 {
            sides.insert(0, (ax / away, ay / away));
        }
        sides.extend([
            (-1.0, 0.0),
            (1.0, 0.0),
            (0.0, 1.0),
            (0.0, -1.0),
            (diagonal, diagonal),
            (-diagonal, -diagonal),
            (diagonal, -diagonal),
        ]);
        let clear = |(hx, hy): (f64, f64)| {
            pos.iter()
                .flatten()
                .all(|&(px, py)| (px - hx).abs() >= 0.9 || (py - hy).abs() >= 0.65)
        };
        let spot = sides
            .iter()
            .map(|&(ux, uy)| (x + ux * HOST_OUT, y + uy * HOST_OUT))
            .find(|&p| clear(p));
        // Crowded all round: leave the host to neato.
        pos[host] = spot;
    }
    Some(pos)
}
