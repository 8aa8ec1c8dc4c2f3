//! Turning a [`Network`](crate::fabric::Network) into one fabric per worker: nodes into slots
//! on their workers, links into ends — a frame-handle hand-off when both ends share a worker, a
//! pair of shared-memory rings when they do not — and media for link files, devices and VDE.

use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use super::EngineError;
use super::medium::{Medium, SharedArp, Sibling};
use super::place::Replica;
use super::wake::Waker;
use super::worker::WorkerEnv;
use crate::capture::Tap;
use crate::fabric::flow::{Generator, Windows};
use crate::fabric::{Egress, Fabric, IfaceId, LinkId, LinkSpec, Medium as Spec, NodeSpec};
use crate::fabric::{Pace, Sink};
use crate::frame::Pool;
use crate::link::{Endpoint, LinkConfig, Side};
use crate::port::{Port, PortSpec};
use crate::vde::Vde;

/// Where the nodes go: each one's worker and slot, and which are replicas of which.
pub(super) struct Places<'a> {
    pub placement: &'a [usize],
    pub local: &'a [u32],
    pub replicas: &'a [Replica],
}

impl Places<'_> {
    /// Node `i` and its replicas, in shard order.
    fn members(&self, i: usize) -> Vec<usize> {
        let originals = self.placement.len() - self.replicas.len();
        let copies = self.replicas.iter().enumerate().filter(|(_, r)| r.of == i);
        std::iter::once(i)
            .chain(copies.map(|(k, _)| originals + k))
            .collect()
    }
}

/// What a worker needs to know of the others: its wake word and its inbox of shared ARP.
pub(super) struct Peers<'a> {
    pub wakers: &'a [Arc<Waker>],
    pub inboxes: &'a [SyncSender<SharedArp>],
}

/// Put every node in its worker's fabric, in network order (so slot = local index).
pub(super) fn add_nodes(
    fabrics: &mut [Fabric<WorkerEnv>],
    nodes: Vec<NodeSpec>,
    placement: &[usize],
) {
    // Flows are numbered in network order: the id their datagrams carry. Windowed flows read
    // what their sinks received, wherever those run.
    let paces = nodes.iter().flat_map(|n| &n.flows).map(|f| f.pace);
    let windows = Arc::new(Windows::new(paces.map(|p| matches!(p, Pace::Window(_)))));
    let mut flow = 0u16;
    for (i, spec) in nodes.into_iter().enumerate() {
        let fabric = &mut fabrics[placement[i]];
        let generators: Vec<Generator> = spec
            .flows
            .iter()
            .map(|f| {
                flow = flow.wrapping_add(1);
                let mut g = Generator::new(*f, flow - 1);
                if matches!(f.pace, Pace::Window(_)) {
                    g.watch(windows.clone());
                }
                g
            })
            .collect();
        let slot = fabric.add_slot(spec.name, spec.node);
        let sink = spec.sink.then(|| {
            let mut sink = Sink::default();
            sink.report_to(windows.clone());
            sink
        });
        if !generators.is_empty() || sink.is_some() {
            fabric.set_app(slot, generators, sink);
        }
    }
}

/// Wire every link into the fabrics, consuming the description: each link's parts are freed
/// once it is built, so the allocator reuses them for the fabrics' and the two are never
/// resident in full at once.
pub(super) fn add_links(
    fabrics: &mut [Fabric<WorkerEnv>],
    links: Vec<LinkSpec>,
    seed: u64,
    taps: &[Vec<Option<Tap>>],
    places: &Places<'_>,
    peers: &Peers<'_>,
) -> Result<(), EngineError> {
    let at = |i: usize| (places.placement[i], places.local[i]);
    // Give end `k` of link `l`, just made as end `e` of worker `w`, its capture.
    let tap = |fabrics: &mut [Fabric<WorkerEnv>], w: usize, e: u32, l: usize, k: usize| {
        if let Some(t) = &taps[l][k] {
            fabrics[w].capture(e, t.clone());
        }
    };
    reserve(fabrics, &links, &at);
    for (l, spec) in links.into_iter().enumerate() {
        let link = LinkId(l as u32);
        let ends: Vec<(usize, usize, IfaceId)> = spec
            .ends
            .iter()
            .map(|&(n, iface)| {
                let (w, slot) = at(n.0 as usize);
                (w, slot as usize, iface)
            })
            .collect();
        match (&spec.medium, &ends[..]) {
            (Spec::Wire, &[(wa, sa, ia), (wb, sb, ib)]) if wa == wb => {
                let places = [(sa as u32, ia), (sb as u32, ib)];
                let egress = [&spec.egress[0], &spec.egress[1]];
                let made = fabrics[wa].wire_pair(link, places, egress, seed);
                for (k, e) in made.into_iter().enumerate() {
                    tap(fabrics, wa, e, l, k);
                }
            }
            (Spec::Wire, &[a, b]) => {
                // Between workers: a pair of shared-memory rings, each worker its end, each
                // ringing the other's doorbell for its exit there.
                let (ea, eb) = Endpoint::pair_in_memory(LinkConfig::default())?;
                let next = |w: usize| fabrics[w].env.media.len() as u32;
                let (xa, xb) = (next(a.0), next(b.0));
                for (k, ((w, s, iface), ep, (other, x))) in [(a, ea, (b.0, xb)), (b, eb, (a.0, xa))]
                    .into_iter()
                    .enumerate()
                {
                    let peer = Some((peers.wakers[other].clone(), x));
                    let at = ((link, k), (s as u32, iface));
                    let e = exit(
                        &mut fabrics[w],
                        at,
                        &spec.egress[k],
                        seed,
                        Medium::Ring { ep, peer },
                    );
                    tap(fabrics, w, e, l, k);
                }
            }
            (Spec::Wire, _) => {
                let w = ends[0].0;
                if let Some(k) = ends.iter().position(|e| e.0 != w) {
                    let name = |k: usize| {
                        let (w, s, _) = ends[k];
                        fabrics[w].slots[s].name.clone()
                    };
                    return Err(EngineError::CrossWorker {
                        a: name(0),
                        b: name(k),
                    });
                }
                let at: Vec<_> = ends.iter().map(|&(_, s, i)| (s as u32, i)).collect();
                let made = fabrics[w].wire_hub(link, &at, &spec.egress, seed);
                for (k, e) in made.into_iter().enumerate() {
                    tap(fabrics, w, e, l, k);
                }
            }
            (Spec::File(path), &[(w, s, iface)]) => {
                let ep = Endpoint::open(path, Side::Any, LinkConfig::default())?;
                let at = ((link, 0), (s as u32, iface));
                let ring = Medium::Ring { ep, peer: None };
                let e = exit(&mut fabrics[w], at, &spec.egress[0], seed, ring);
                tap(fabrics, w, e, l, 0);
            }
            (Spec::Port(port), &[_]) => {
                let (node, iface) = spec.ends[0];
                add_port(
                    fabrics,
                    link,
                    &spec,
                    port,
                    (node.0 as usize, iface),
                    seed,
                    places,
                    peers,
                )?;
            }
            (Spec::Vde(vde), &[(w, s, iface)]) => {
                let fabric = &mut fabrics[w];
                let node = fabric.slots[s].name.clone();
                let ifname = fabric.slots[s].node.iface_name(iface).unwrap_or("?");
                let ifname = ifname.to_owned();
                let vde = Vde::open(vde, &format!("{node}:{ifname}")).map_err(|source| {
                    EngineError::Vde {
                        node,
                        iface: ifname,
                        source,
                    }
                })?;
                let at = ((link, 0), (s as u32, iface));
                let medium = Medium::Vde {
                    vde,
                    node: s as u32,
                    iface,
                };
                let e = exit(fabric, at, &spec.egress[0], seed, medium);
                tap(fabrics, w, e, l, 0);
            }
            // A network only makes links of these shapes.
            (Spec::File(_) | Spec::Port(_) | Spec::Vde(_), _) => {}
        }
    }
    Ok(())
}

/// Give each fabric room for the link ends and exits it will hold: an end per link end placed
/// on it, an exit for each of those whose link leaves it (a ring to another worker, a file, a
/// device, VDE; a spread router's device adds a few more, which grow the arrays as usual).
fn reserve(
    fabrics: &mut [Fabric<WorkerEnv>],
    links: &[LinkSpec],
    at: &dyn Fn(usize) -> (usize, u32),
) {
    let mut ends = vec![0usize; fabrics.len()];
    let mut exits = vec![0usize; fabrics.len()];
    for spec in links {
        let first = spec.ends.first().map(|&(n, _)| at(n.0 as usize).0);
        let local = spec.medium == Spec::Wire
            && spec
                .ends
                .iter()
                .all(|&(n, _)| Some(at(n.0 as usize).0) == first);
        for &(n, _) in &spec.ends {
            let w = at(n.0 as usize).0;
            ends[w] += 1;
            exits[w] += usize::from(!local);
        }
    }
    for ((f, e), x) in fabrics.iter_mut().zip(ends).zip(exits) {
        f.reserve_links(e, x);
        f.env.media.reserve_exact(x);
    }
}

/// Open the device of a port link once, as one port per worker serving its node (one for each
/// replica of a spread router, each on its replica's pool, each knowing its siblings), and
/// give the node's interface the device's MAC where the device filters on it (AF_XDP).
#[allow(clippy::too_many_arguments)]
fn add_port(
    fabrics: &mut [Fabric<WorkerEnv>],
    link: LinkId,
    spec: &LinkSpec,
    port: &PortSpec,
    (node, iface): (usize, IfaceId),
    seed: u64,
    places: &Places<'_>,
    peers: &Peers<'_>,
) -> Result<Vec<(usize, u32)>, EngineError> {
    let members = places.members(node);
    let mut made = Vec::with_capacity(members.len());
    let workers: Vec<usize> = members.iter().map(|&m| places.placement[m]).collect();
    let (w0, s0) = (places.placement[node], places.local[node] as usize);
    let name = fabrics[w0].slots[s0].name.clone();
    let ifname = fabrics[w0].slots[s0]
        .node
        .iface_name(iface)
        .unwrap_or_default()
        .to_owned();
    let fallback = crate::port::tap_name(&name, &ifname);
    let opened = {
        let mut pools = pools_at(fabrics, &workers);
        Port::open_shards(port, &fallback, &mut pools).map_err(|source| EngineError::Port {
            node: name.clone(),
            iface: ifname.clone(),
            source,
        })?
    };
    for (&m, port) in members.iter().zip(opened) {
        let siblings = members
            .iter()
            .filter(|&&o| o != m)
            .map(|&o| Sibling {
                inbox: peers.inboxes[places.placement[o]].clone(),
                waker: peers.wakers[places.placement[o]].clone(),
                node: places.local[o],
            })
            .collect();
        let (w, slot) = (places.placement[m], places.local[m]);
        let fabric = &mut fabrics[w];
        if let Some(mac) = port.mac()
            && let Some(r) = fabric.slots[slot as usize].node.router_mut()
        {
            // Bound to a NIC: answer for the NIC's address, which its filter lets in.
            let _ = r.set_mac(iface, mac);
        }
        let medium = Medium::Port {
            port,
            node: slot,
            iface,
            siblings,
        };
        let e = exit(
            fabric,
            ((link, 0), (slot, iface)),
            &spec.egress[0],
            seed,
            medium,
        );
        made.push((w, e));
    }
    Ok(made)
}

/// End `k` of `link`, at a slot and interface of `fabric`, whose frames leave through
/// `medium`: the end, its exit, and the medium at the exit's index. Returns the end.
fn exit(
    fabric: &mut Fabric<WorkerEnv>,
    ((link, k), place): ((LinkId, usize), (u32, IfaceId)),
    egress: &Egress,
    seed: u64,
    medium: Medium,
) -> u32 {
    let (e, x) = fabric.wire_exit(link, k, place, egress, seed, (medium.kind(), medium.full()));
    debug_assert_eq!(
        x as usize,
        fabric.env.media.len(),
        "an exit's index is its medium's"
    );
    fabric.env.media.push(medium);
    e
}

/// The pools of workers `at`, in that order (the workers are distinct).
fn pools_at<'a>(fabrics: &'a mut [Fabric<WorkerEnv>], at: &[usize]) -> Vec<&'a mut Pool> {
    let mut picked: Vec<(usize, &mut Pool)> = fabrics
        .iter_mut()
        .enumerate()
        .filter_map(|(w, f)| at.iter().position(|&x| x == w).map(|k| (k, &mut f.pool)))
        .collect();
    picked.sort_by_key(|&(k, _)| k);
    picked.into_iter().map(|(_, pool)| pool).collect()
}

/// Index of each node inside its worker.
pub(super) fn local_indices(placement: &[usize], workers: usize) -> Vec<u32> {
    let mut counts = vec![0u32; workers];
    placement
        .iter()
        .map(|&w| {
            counts[w] += 1;
            counts[w] - 1
        })
        .collect()
}
