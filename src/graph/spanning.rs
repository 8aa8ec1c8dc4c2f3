//! The ports spanning tree blocks, for a picture of a topology file: its switches run in the
//! simulator, in virtual time, until spanning tree settles, and the ports it then keeps
//! discarding are the ones drawn blocked. A running network's are read off its switches
//! instead (`shoal ctl graph`).

use std::time::Duration;

use crate::topo::{TopoError, Topology};

/// How far in virtual time the simulation looks for spanning tree to settle: past the slowest
/// timers a file can set (802.1D's 40 s max age and 30 s forward delay, twice).
const LIMIT: Duration = Duration::from_secs(150);
/// The simulator's step between looks.
const STEP: Duration = Duration::from_secs(1);
/// Looks in a row that must find the same blocked ports, every switch settled.
const STABLE: u32 = 3;

/// The ports (node, interface of [`Topology::nodes`]) spanning tree blocks once settled; none
/// when no switch runs it.
pub fn blocked_ports(topo: &Topology) -> Result<Vec<(usize, usize)>, TopoError> {
    let spanning: Vec<usize> = (0..topo.nodes.len())
        .filter(|&n| topo.nodes[n].runs_stp())
        .collect();
    if spanning.is_empty() {
        return Ok(Vec::new());
    }
    let mut sim = topo.build_sim()?;
    let ids: Vec<_> = spanning
        .iter()
        .map(|&n| sim.node(&topo.nodes[n].name))
        .collect::<Result<_, _>>()?;
    let mut last = Vec::new();
    let mut same = 0;
    let mut waited = Duration::ZERO;
    while waited < LIMIT && same < STABLE {
        sim.run_for(STEP);
        waited += STEP;
        let settled = ids.iter().all(|&id| sim.switch(id).stp_settled());
        let blocked: Vec<(usize, usize)> = spanning
            .iter()
            .zip(&ids)
            .flat_map(|(&n, &id)| {
                let ports = sim.switch(id).blocked_ports();
                ports.into_iter().map(move |p| (n, usize::from(p)))
            })
            .collect();
        same = if settled && blocked == last {
            same + 1
        } else {
            0
        };
        last = blocked;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_campus_redundant_trunk_is_blocked_at_its_far_end() {
        let text = include_str!("../../examples/campus.toml");
        let t = Topology::parse("campus.toml", text).unwrap();
        let blocked = blocked_ports(&t).unwrap();
        assert_eq!(blocked.len(), 1, "{blocked:?}");
        let (n, f) = blocked[0];
        let end = format!("{}:{}", t.nodes[n].name, t.nodes[n].ifaces[f].name);
        // sw1 is the root (priority 4096); sw2's second trunk is the alternate.
        assert_eq!(end, "sw2:p7");
    }

    #[test]
    fn no_spanning_tree_blocks_nothing() {
        let t = crate::topo::generate::chain(3).unwrap();
        assert_eq!(blocked_ports(&t).unwrap(), Vec::<(usize, usize)>::new());
    }
}
