//! `routes = "auto"` as a routing protocol that converges at once. When a link of the running
//! network goes down or up (`link A:x down`, `NODE link set IFACE down`), the routes are
//! computed again over the links that still carry frames, and every router whose answer changed
//! gets it, on every replica, in one job: the routes of its previous answer go, those of the
//! new one come, and routes somebody added by hand stay. The command's answer says how long it
//! took and how many routers changed, so traffic visibly reroutes around a failure.
//!
//! The computation is the topology's own (`Topology::auto_routes_without`), O(routers ×
//! (routers + links)); networks of more than [`super::MAX_MODEL_NODES`] nodes keep their
//! routes (`shoal run` does not keep their model).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::Directory;
use crate::engine::Engine;
use crate::fabric::{IfaceId, LinkId, NodeId};
use crate::router::Route;
use crate::router::fib::TABLE_MAIN;
use crate::topo::{AutoRoutes, Topology};

/// What reconverging needs: the model, where its links run, and what is installed.
pub struct Reroute {
    topo: Arc<Topology>,
    /// By the topology's link index: the running network's link.
    links: Vec<Option<LinkId>>,
    state: Mutex<State>,
}

struct State {
    /// By node: the computed routes its router holds now.
    installed: Vec<AutoRoutes>,
    /// By the topology's link index: taken down with `link … down`.
    link_down: Vec<bool>,
    /// Interfaces set down with `NODE link set IFACE down`: their links carry nothing.
    iface_down: HashSet<(usize, usize)>,
}

impl Reroute {
    /// Reconverging for the network `topo` describes, whose names `dir` holds.
    pub fn new(topo: Arc<Topology>, dir: &Directory) -> Reroute {
        let links = (topo.links.iter())
            .map(|l| {
                let &(n, i) = l.ends.first()?;
                let end = dir.end_at(NodeId(n as u32), IfaceId(i as u16))?;
                Some(end.0)
            })
            .collect();
        let state = State {
            installed: topo.nodes.iter().map(|n| n.auto.clone()).collect(),
            link_down: vec![false; topo.links.len()],
            iface_down: HashSet::new(),
        };
        Reroute {
            topo,
            links,
            state: Mutex::new(state),
        }
    }

    /// Link `link` went up or down: reconverge. A line for the answer, if routes are computed.
    pub fn link(&self, engine: &Engine, link: LinkId, up: bool) -> Option<String> {
        let l = self.links.iter().position(|&x| x == Some(link))?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.link_down[l] = !up;
        self.reconverge(engine, &mut state)
    }

    /// Interface `iface` of `node` was set up or down: reconverge, as for its link.
    pub fn iface(&self, engine: &Engine, node: NodeId, iface: IfaceId, up: bool) -> Option<String> {
        let key = (node.0 as usize, usize::from(iface.0));
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let changed = match up {
            true => state.iface_down.remove(&key),
            false => state.iface_down.insert(key),
        };
        if !changed {
            return None;
        }
        self.reconverge(engine, &mut state)
    }

    fn reconverge(&self, engine: &Engine, state: &mut State) -> Option<String> {
        let routers = self.topo.nodes.iter().filter(|n| n.auto_routes).count();
        if routers == 0 {
            return None;
        }
        let t0 = Instant::now();
        let down: Vec<bool> = (self.topo.links.iter().enumerate())
            .map(|(l, link)| {
                state.link_down[l] || link.ends.iter().any(|e| state.iface_down.contains(e))
            })
            .collect();
        let fresh = self.topo.auto_routes_without(&down);
        let (mut changed, mut trouble) = (0, String::new());
        for (n, routes) in fresh.into_iter().enumerate() {
            if routes == state.installed[n] {
                continue;
            }
            let old: Vec<Route> = state.installed[n].fib_routes().collect();
            let new: Vec<Route> = routes.fib_routes().collect();
            let answer = engine.change(NodeId(n as u32), move |node, _| {
                node.router_mut()
                    .map_or(Ok((0, 0)), |r| r.replace_routes(TABLE_MAIN, &old, &new))
            });
            let name = &self.topo.nodes[n].name;
            match answer {
                Some(Ok(_)) => {
                    state.installed[n] = routes;
                    changed += 1;
                }
                Some(Err(e)) => trouble.push_str(&format!("; {name} refused its routes: {e}")),
                None => trouble.push_str(&format!("; {name}'s worker did not answer")),
            }
        }
        Some(format!(
            "routes = \"auto\" reconverged in {:.1} ms: {changed} router(s) changed{trouble}\n",
            t0.elapsed().as_secs_f64() * 1e3
        ))
    }
}
