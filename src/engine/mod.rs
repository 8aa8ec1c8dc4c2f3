//! The engine: router instances on worker threads pinned to cores.
//!
//! A [`Network`] lists instances (routers and hosts, each a [`Router`](crate::router::Router)),
//! the links between their interfaces, the flows hosts send and the ports they sink.
//! [`Engine::start`] places the instances on workers (see `network.rs`) and starts one thread
//! per worker, pinned to its core. Each worker owns its frame pool and its
//! instances; nothing is shared on the fast path. [`Engine::stats`] reads running totals the
//! workers publish; [`Engine::stop`] joins them and returns every instance's counters and every
//! sink's tallies.

mod control;
mod flow;
mod histogram;
mod network;
mod sys;
mod wake;
mod worker;

pub use flow::{FlowSpec, MIN_FRAME, Sink};
pub use histogram::Histogram;
pub use network::Network;
pub use worker::{RX_QUEUE, WorkerStats};

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::frame::{Batch, Pool, PoolError};
use crate::link::{Endpoint, LinkConfig, LinkError, Side};
use crate::port::{Port, PortError, PortSpec, PortStats};
use crate::probe::{Hop, PING_IDENT, PingReply, Probe};
use crate::router::{Counters, IfaceId};
use control::Command;
use flow::Generator;
use network::Wire;
use wake::Waker;
use worker::{Finished, Node, Peer, PortSlot, Remote, SHARED_ARP_MAX, SharedArp, Sibling, Worker};

/// Index of an instance in a [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Why a network could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No such instance or interface.
    #[error("no interface {iface} on {node}")]
    NoSuchIface {
        /// Instance name.
        node: String,
        /// Interface index.
        iface: u16,
    },
    /// The interface already has a link.
    #[error("{node} interface {iface} is already linked")]
    AlreadyLinked {
        /// Instance name.
        node: String,
        /// Interface index.
        iface: u16,
    },
    /// A hub joins instances placed on different workers (hubs are in-worker only).
    #[error("hub {a} — {b} crosses workers; place its members on one core")]
    CrossWorker {
        /// One end.
        a: String,
        /// The other end.
        b: String,
    },
    /// A shared-memory link between workers could not be made.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A worker's pool could not be mapped.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Spawn(std::io::Error),
    /// A host device could not be bound.
    #[error("{node} {iface}")]
    Port {
        /// Instance name.
        node: String,
        /// Interface name.
        iface: String,
        source: PortError,
    },
    /// A router cannot be spread over several workers ([`Network::spread`]).
    #[error("{node} cannot be spread over workers: {why}")]
    Spread {
        /// Instance name.
        node: String,
        why: String,
    },
    /// A worker thread panicked.
    #[error("worker {0} panicked")]
    WorkerPanicked(usize),
}

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Spin when idle instead of sleeping.
    pub busy_poll: bool,
    /// Frame buffers per worker.
    pub pool_frames: usize,
    /// Pin worker `i` to core `first_core + i`.
    pub pin: bool,
    /// The core of worker 0 (so that two processes on one host can split the cores).
    pub first_core: usize,
    /// Run the hosts' flows from the start (otherwise from [`Engine::set_flows`]).
    pub flows_at_start: bool,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        EngineConfig {
            workers: cores,
            busy_poll: false,
            pool_frames: 16_384,
            pin: true,
            first_core: 0,
            flows_at_start: true,
        }
    }
}

/// Running workers.
pub struct Engine {
    handles: Vec<(JoinHandle<Finished>, Arc<Waker>)>,
    commands: Vec<Sender<Command>>,
    stats: Vec<Arc<WorkerStats>>,
    stop: Arc<AtomicBool>,
    /// Worker and local index of each instance, in network order.
    placement: Vec<(usize, u32)>,
    /// Replicas of spread routers: the instance each copies, its worker and local index.
    replicas: Vec<(usize, usize, u32)>,
    started: std::time::Instant,
}

/// Totals over all workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Frames handed to instances (router hops).
    pub frames: u64,
    /// Frames dropped.
    pub drops: u64,
    /// Datagrams generated.
    pub generated: u64,
    /// Datagrams received by sinks.
    pub received: u64,
}

/// A port's totals, as a stopped engine reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReport {
    /// Instance name.
    pub node: String,
    /// Interface name.
    pub iface: String,
    /// Device and mode, e.g. `veth1 afxdp native copy, 1 queue`.
    pub describe: String,
    /// The worker serving the port (several for a spread router's device).
    pub worker: usize,
    /// Frames in and out, and drops.
    pub stats: PortStats,
}

/// What a stopped engine reports.
pub struct Report {
    /// Each instance's name and counters, in network order (a spread router's summed over
    /// its replicas).
    pub nodes: Vec<(String, Counters)>,
    /// All sinks folded together.
    pub sink: Sink,
    /// Datagrams generated.
    pub generated: u64,
    /// Datagrams a router refused to originate.
    pub send_errors: u64,
    /// Frames dropped because a receive queue was full.
    pub queue_drops: u64,
    /// Every port: instance, interface, what it is bound to, and its totals.
    pub ports: Vec<PortReport>,
    /// Wall-clock time from start to stop.
    pub elapsed: std::time::Duration,
}

impl Engine {
    /// Place the network on workers and start them.
    pub fn start(mut net: Network, cfg: EngineConfig) -> Result<Engine, EngineError> {
        let workers = cfg.workers.max(1);
        let originals = net.nodes.len();
        let replicas = net.add_replicas(workers)?;
        let mut placement = net.place(workers);
        // A spread router's replicas go to the workers after its own.
        for (k, r) in replicas.iter().enumerate() {
            placement[originals + k] = (placement[r.of] + r.shard) % workers;
        }
        // Index of each node inside its worker.
        let mut local = vec![0u32; net.nodes.len()];
        let mut counts = vec![0u32; workers];
        for (i, &w) in placement.iter().enumerate() {
            local[i] = counts[w];
            counts[w] += 1;
        }
        for members in &net.hubs {
            if let Some((a, b)) = members
                .windows(2)
                .map(|m| (m[0].0.0 as usize, m[1].0.0 as usize))
                .find(|&(a, b)| placement[a] != placement[b])
            {
                return Err(EngineError::CrossWorker {
                    a: net.nodes[a].name.clone(),
                    b: net.nodes[b].name.clone(),
                });
            }
        }
        // A point-to-point link between workers becomes a shared-memory pair; each worker gets
        // its end, the local interface it feeds and a handle to wake the other worker.
        let wakers: Vec<Arc<Waker>> = (0..workers).map(|_| Arc::default()).collect();
        let (commands, receivers): (Vec<Sender<Command>>, Vec<_>) =
            (0..workers).map(|_| mpsc::channel()).unzip();
        let (inboxes, shared_arp): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| mpsc::sync_channel(SHARED_ARP_MAX))
            .unzip();
        let mut remotes: Vec<Vec<Remote>> = (0..workers).map(|_| Vec::new()).collect();
        let mut remote_of = HashMap::new();
        for (i, spec) in net.nodes.iter().enumerate() {
            for (k, wire) in spec.peers.iter().enumerate() {
                let Wire::Peer(n, iface) = *wire else {
                    continue;
                };
                let (a, b) = ((i, IfaceId(k as u16)), (n.0 as usize, iface));
                if placement[a.0] == placement[b.0] || remote_of.contains_key(&a) {
                    continue;
                }
                let (ea, eb) = Endpoint::pair_in_memory(LinkConfig::default())?;
                for (end, ep, other) in [(a, ea, b), (b, eb, a)] {
                    let w = placement[end.0];
                    remote_of.insert(end, remotes[w].len() as u32);
                    remotes[w].push(Remote {
                        ep,
                        node: local[end.0],
                        iface: end.1,
                        staged: Vec::with_capacity(crate::frame::BATCH_MAX),
                        peer: Some(wakers[placement[other.0]].clone()),
                    });
                }
            }
        }
        // Link files: this process's side of a link to another process; nobody to unpark.
        for (i, spec) in net.nodes.iter().enumerate() {
            for (k, wire) in spec.peers.iter().enumerate() {
                let Wire::File(f) = *wire else { continue };
                let ep = Endpoint::open(&net.files[f], Side::Any, LinkConfig::default())?;
                let (w, iface) = (placement[i], IfaceId(k as u16));
                remote_of.insert((i, iface), remotes[w].len() as u32);
                let staged = Vec::with_capacity(crate::frame::BATCH_MAX);
                remotes[w].push(Remote {
                    ep,
                    node: local[i],
                    iface,
                    staged,
                    peer: None,
                });
            }
        }
        // Hubs live on the worker of their members (all on one, as just checked).
        let mut hubs: Vec<Vec<Vec<(u32, IfaceId)>>> = vec![Vec::new(); workers];
        let mut hub_index = Vec::with_capacity(net.hubs.len());
        for members in &net.hubs {
            let w = members.first().map_or(0, |m| placement[m.0.0 as usize]);
            hub_index.push(hubs[w].len());
            hubs[w].push(
                members
                    .iter()
                    .map(|&(n, iface)| (local[n.0 as usize], iface))
                    .collect(),
            );
        }
        let epoch = std::time::Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let mut pools = Vec::with_capacity(workers);
        for _ in 0..workers {
            pools.push(Pool::new(cfg.pool_frames)?);
        }
        // Declared after the pools so that, should a later step fail, the ports close first.
        let places = Places {
            placement: &placement,
            local: &local,
            replicas: &replicas,
        };
        let (ports, port_at) = open_ports(&net, places, &mut pools, &inboxes, &wakers)?;
        let mut per_worker: Vec<Vec<Node>> = (0..workers).map(|_| Vec::new()).collect();
        let mut hosts: Vec<Vec<u32>> = vec![Vec::new(); workers];
        for (i, mut spec) in net.nodes.into_iter().enumerate() {
            let w = placement[i];
            for k in 0..spec.peers.len() {
                let mac = port_at
                    .get(&(i, k))
                    .and_then(|&p| ports[w][p as usize].port.mac());
                if let Some(mac) = mac {
                    // Bound to a NIC: answer for the NIC's address, which its filter lets in.
                    let _ = spec.router.set_mac(IfaceId(k as u16), mac);
                }
            }
            let peers = spec
                .peers
                .iter()
                .enumerate()
                .map(|(k, wire)| match *wire {
                    Wire::None => Peer::None,
                    Wire::Peer(n, iface) if placement[n.0 as usize] == w => {
                        Peer::Local(local[n.0 as usize], iface)
                    }
                    Wire::Peer(..) => remote_of
                        .get(&(i, IfaceId(k as u16)))
                        .map_or(Peer::None, |&r| Peer::Remote(r)),
                    Wire::Hub(h) => Peer::Hub(hub_index[h] as u32),
                    Wire::File(_) => remote_of
                        .get(&(i, IfaceId(k as u16)))
                        .map_or(Peer::None, |&r| Peer::Remote(r)),
                    Wire::Port(_) => port_at.get(&(i, k)).map_or(Peer::None, |&p| Peer::Port(p)),
                })
                .collect();
            let generators: Vec<Generator> = spec
                .flows
                .iter()
                .enumerate()
                .map(|(k, f)| Generator::new(*f, (i * 16 + k) as u16))
                .collect();
            if !generators.is_empty() || spec.sink {
                hosts[w].push(local[i]);
            }
            // Receive queues grow on first use (up to RX_QUEUE): idle interfaces cost nothing.
            let rx = (0..spec.router.ifaces().len())
                .map(|_| Vec::new())
                .collect();
            per_worker[w].push(Node {
                name: spec.name,
                router: spec.router,
                rx,
                peers,
                queued: false,
                timer: None,
                generators,
                sink: spec.sink.then(Sink::default),
            });
        }
        let cores = if cfg.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut handles = Vec::with_capacity(workers);
        let mut stats = Vec::with_capacity(workers);
        let mut pools = pools.into_iter();
        let mut ports = ports.into_iter();
        let mut receivers = receivers.into_iter().zip(shared_arp);
        for (w, (nodes, hosts)) in per_worker.into_iter().zip(hosts).enumerate() {
            let s = Arc::new(WorkerStats::default());
            stats.push(s.clone());
            let (rx, shared_arp) = receivers
                .next()
                .ok_or(EngineError::Spawn(std::io::ErrorKind::Other.into()))?;
            let worker = Worker {
                ports: ports.next().unwrap_or_default(),
                // One pool per worker was made above.
                pool: pools
                    .next()
                    .ok_or(EngineError::Spawn(std::io::ErrorKind::Other.into()))?,
                nodes,
                hubs: core::mem::take(&mut hubs[w]),
                remotes: core::mem::take(&mut remotes[w]),
                arrivals: Vec::with_capacity(crate::frame::BATCH_MAX),
                waker: wakers[w].clone(),
                // Where io_uring is unavailable the worker parks instead.
                sleeper: sys::Sleeper::new().ok(),
                waits: Vec::new(),
                fds: Vec::new(),
                hosts,
                ready: Vec::new(),
                timers: Default::default(),
                actions: Vec::with_capacity(4 * crate::frame::BATCH_MAX),
                batch: Batch::new(),
                stats: s,
                stop: stop.clone(),
                busy_poll: cfg.busy_poll,
                commands: rx,
                shared_arp,
                pending: Vec::new(),
                flows_on: cfg.flows_at_start,
                frames: 0,
                drops: 0,
                queue_drops: 0,
            };
            let core = cores.get(cfg.first_core + w).copied();
            let handle = std::thread::Builder::new()
                .name(format!("shoal-w{w}"))
                .spawn(move || {
                    if let Some(core) = core {
                        // Pinning is best effort: a restricted cpuset leaves the thread floating.
                        core_affinity::set_for_current(core);
                    }
                    worker.run()
                })
                .map_err(EngineError::Spawn)?;
            // Set once, right after the spawn; wakers only read it.
            let _ = wakers[w].thread.set(handle.thread().clone());
            handles.push((handle, wakers[w].clone()));
        }
        let mut placement: Vec<(usize, u32)> = placement.into_iter().zip(local).collect();
        let replicas = replicas
            .iter()
            .zip(placement.drain(originals..))
            .map(|(r, (w, l))| (r.of, w, l))
            .collect();
        Ok(Engine {
            handles,
            commands,
            stats,
            stop,
            placement,
            replicas,
            started: epoch,
        })
    }

    /// Running totals over all workers.
    pub fn stats(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.stats {
            t.frames += s.frames.load(Ordering::Relaxed);
            t.drops += s.drops.load(Ordering::Relaxed);
            t.generated += s.generated.load(Ordering::Relaxed);
            t.received += s.received.load(Ordering::Relaxed);
        }
        t
    }

    /// Worker of each instance, in network order.
    pub fn placement(&self) -> Vec<usize> {
        self.placement.iter().map(|&(w, _)| w).collect()
    }

    fn tell(&self, worker: usize, cmd: Command) {
        if let (Some(tx), Some((_, waker))) = (self.commands.get(worker), self.handles.get(worker))
        {
            // A worker that has gone away answers nothing; callers time out.
            let _ = tx.send(cmd);
            waker.wake();
        }
    }

    /// Start (or stop) every host's flows.
    pub fn set_flows(&self, on: bool) {
        for w in 0..self.commands.len() {
            self.tell(w, Command::Flows(on));
        }
    }

    /// Send `probe` from `node` to `dst` with `ttl` and wait up to `timeout` for its answer.
    fn probe(
        &self,
        node: NodeId,
        dst: Ipv4Addr,
        probe: Probe,
        ttl: Option<u8>,
        timeout: Duration,
    ) -> Option<(crate::probe::Answer, Duration)> {
        let &(worker, local) = self.placement.get(node.0 as usize)?;
        let (reply, answers) = mpsc::channel();
        self.tell(
            worker,
            Command::Probe {
                node: local,
                dst,
                probe,
                ttl,
                reply,
            },
        );
        answers.recv_timeout(timeout).ok()
    }

    /// Ping `dst` from `node` once (56 bytes of data, the node's default TTL).
    pub fn ping(&self, node: NodeId, dst: Ipv4Addr, seq: u16, timeout: Duration) -> PingReply {
        match self.probe(
            node,
            dst,
            Probe::Echo {
                ident: PING_IDENT,
                seq,
            },
            None,
            timeout,
        ) {
            Some((answer, rtt)) => answer.ping(rtt),
            None => PingReply::Timeout,
        }
    }

    /// Trace the path from `node` to `dst` like Linux traceroute (one probe per hop).
    pub fn traceroute(
        &self,
        node: NodeId,
        dst: Ipv4Addr,
        max_hops: u8,
        timeout: Duration,
    ) -> Vec<Hop> {
        let probe = |ttl, p| {
            Ok::<_, core::convert::Infallible>(self.probe(node, dst, p, Some(ttl), timeout))
        };
        match crate::probe::trace(max_hops, probe) {
            Ok(hops) => hops,
            Err(never) => match never {},
        }
    }

    /// Stop every worker and collect the results.
    pub fn stop(self) -> Result<Report, EngineError> {
        self.stop.store(true, Ordering::Relaxed);
        for (_, waker) in &self.handles {
            waker.wake();
        }
        let mut finished = Vec::with_capacity(self.handles.len());
        for (w, (handle, _)) in self.handles.into_iter().enumerate() {
            finished.push(handle.join().map_err(|_| EngineError::WorkerPanicked(w))?);
        }
        let elapsed = self.started.elapsed();
        let mut report = Report {
            nodes: Vec::new(),
            sink: Sink::default(),
            generated: 0,
            send_errors: 0,
            queue_drops: 0,
            ports: Vec::new(),
            elapsed,
        };
        for (worker, f) in finished.iter().enumerate() {
            report.queue_drops += f.queue_drops;
            for (node, iface, describe, stats) in &f.ports {
                let n = &f.nodes[*node as usize];
                report.ports.push(PortReport {
                    node: n.name.clone(),
                    iface: n
                        .router
                        .iface(*iface)
                        .map_or_else(String::new, |x| x.name().to_owned()),
                    describe: describe.clone(),
                    worker,
                    stats: *stats,
                });
            }
            for n in &f.nodes {
                report.generated += n.generators.iter().map(Generator::sent).sum::<u64>();
                report.send_errors += n.generators.iter().map(Generator::send_errors).sum::<u64>();
                if let Some(s) = &n.sink {
                    report.sink.merge(s);
                }
            }
        }
        for &(w, l) in &self.placement {
            let n = &finished[w].nodes[l as usize];
            report
                .nodes
                .push((n.name.clone(), n.router.counters().clone()));
        }
        for &(of, w, l) in &self.replicas {
            report.nodes[of].1 += finished[w].nodes[l as usize].router.counters();
        }
        Ok(report)
    }
}

/// Where the instances go: each one's worker and local index, and which are replicas.
#[derive(Clone, Copy)]
struct Places<'a> {
    placement: &'a [usize],
    local: &'a [u32],
    replicas: &'a [network::Replica],
}

/// Each worker's ports, and the index among them of the port of each (instance, interface)
/// bound to a device.
type OpenedPorts = (Vec<Vec<PortSlot>>, HashMap<(usize, usize), u32>);

/// Open every device of the network: [`OpenedPorts`]. Every device is opened once, before the instances move to their workers: for a
/// spread router as one port per replica, each on its replica's pool, each knowing its
/// siblings (through the `inboxes` and `wakers` of their workers).
fn open_ports(
    net: &Network,
    places: Places<'_>,
    pools: &mut [Pool],
    inboxes: &[SyncSender<SharedArp>],
    wakers: &[Arc<Waker>],
) -> Result<OpenedPorts, EngineError> {
    let Places {
        placement,
        local,
        replicas,
    } = places;
    let originals = net.nodes.len() - replicas.len();
    let mut ports: Vec<Vec<PortSlot>> = (0..pools.len()).map(|_| Vec::new()).collect();
    let mut port_at = HashMap::new();
    for (i, spec) in net.nodes.iter().enumerate().take(originals) {
        let copies = replicas.iter().enumerate().filter(|(_, r)| r.of == i);
        let members: Vec<usize> = std::iter::once(i)
            .chain(copies.map(|(k, _)| originals + k))
            .collect();
        let at: Vec<usize> = members.iter().map(|&m| placement[m]).collect();
        for (k, wire) in spec.peers.iter().enumerate() {
            let Wire::Port(p) = *wire else { continue };
            let iface = IfaceId(k as u16);
            let opened = open_port(spec, iface, &net.ports[p], &mut pools_at(pools, &at))?;
            for (&m, port) in members.iter().zip(opened) {
                let siblings = members
                    .iter()
                    .filter(|&&o| o != m)
                    .map(|&o| Sibling {
                        inbox: inboxes[placement[o]].clone(),
                        waker: wakers[placement[o]].clone(),
                        node: local[o],
                    })
                    .collect();
                let w = placement[m];
                port_at.insert((m, k), ports[w].len() as u32);
                ports[w].push(PortSlot {
                    port,
                    node: local[m],
                    iface,
                    staged: Vec::with_capacity(crate::frame::BATCH_MAX),
                    siblings,
                    queue_full: 0,
                });
            }
        }
    }
    Ok((ports, port_at))
}

/// Open the device `spec` binds interface `iface` of instance `node` to: one port per pool in
/// `pools` (one for each worker serving the device). Under [`Mode::Auto`](crate::port::Mode::Auto)
/// a TAP named after the instance and interface is the fallback.
fn open_port(
    node: &network::NodeSpec,
    iface: IfaceId,
    spec: &PortSpec,
    pools: &mut [&mut Pool],
) -> Result<Vec<Port>, EngineError> {
    let name = node
        .router
        .iface(iface)
        .map_or_else(String::new, |x| x.name().to_owned());
    let fallback = crate::port::tap_name(&node.name, &name);
    Port::open_shards(spec, &fallback, pools).map_err(|source| EngineError::Port {
        node: node.name.clone(),
        iface: name,
        source,
    })
}

/// The pools of workers `at`, in that order (the workers are distinct).
fn pools_at<'a>(pools: &'a mut [Pool], at: &[usize]) -> Vec<&'a mut Pool> {
    let mut picked: Vec<(usize, &mut Pool)> = pools
        .iter_mut()
        .enumerate()
        .filter_map(|(w, pool)| at.iter().position(|&x| x == w).map(|k| (k, pool)))
        .collect();
    picked.sort_by_key(|&(k, _)| k);
    picked.into_iter().map(|(_, pool)| pool).collect()
}
