//! The engine: a network's nodes on worker threads pinned to cores, on the real clock.
//!
//! [`Engine::start`] places the nodes of a [`Network`] on workers (`place.rs`), gives each
//! worker a fabric holding its nodes and their link ends (`build.rs`) — links within a worker
//! hand frames over, links between workers become shared-memory rings, link files and host
//! devices become media — and starts one thread per worker, pinned to its core. Each worker owns
//! its frame pool and its nodes; nothing is shared on the fast path. [`Engine::stats`] reads
//! running totals the workers publish; [`Engine::stop`] joins them and returns every node's
//! and every link's counters and every sink's tallies.

mod build;
mod control;
mod lateness;
mod live;
mod medium;
mod place;
mod report;
mod sys;
mod wake;
mod worker;

pub use crate::fabric::{Cause, EndReport, FlowReport, LinkReport};
pub use crate::fabric::{FlowSpec, Histogram, MIN_FRAME, Network, NodeId, RX_QUEUE, Sink};
pub use live::JOB_TIMEOUT;
pub use report::{NodeReport, PortReport, Report, WorkerReport};
pub use worker::WorkerStats;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::capture::{Capture, CaptureThread};
use crate::fabric::{Fabric, NetworkError, Parts, end_name};
use crate::frame::{Pool, PoolError};
use crate::link::LinkError;
use crate::port::PortError;
use crate::probe::{Hop, PING_IDENT, PingReply, Probe};
use control::Command;
use medium::SHARED_ARP_MAX;
use wake::Waker;
use worker::{Worker, WorkerEnv};

/// Why a network could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A link could not be made.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The capture could not be started.
    #[error("capture: {0}")]
    Capture(std::io::Error),
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
    /// A VDE medium could not be opened.
    #[error("{node} {iface}")]
    Vde {
        /// Instance name.
        node: String,
        /// Interface name.
        iface: String,
        source: crate::vde::VdeError,
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
    handles: Vec<(JoinHandle<Fabric<WorkerEnv>>, Arc<Waker>)>,
    commands: Vec<Sender<Command>>,
    stats: Vec<Arc<WorkerStats>>,
    stop: Arc<AtomicBool>,
    /// Worker and slot of each node, in network order, then of each replica.
    placement: Vec<(usize, u32)>,
    /// For each replica of a spread router, the node it copies.
    replica_of: Vec<usize>,
    /// The thread writing the capture, if any.
    capture: Option<CaptureThread>,
    /// The links between workers, by their ends' names.
    cut: Vec<String>,
    /// The network's seed (a link impaired while running draws from its own generator).
    seed: u64,
    started: std::time::Instant,
}

/// Totals over all workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Frames handed to instances (router hops).
    pub frames: u64,
    /// Frames dropped.
    pub drops: u64,
    /// Datagrams the hosts' flows put on their links.
    pub sent: u64,
    /// Datagrams received by sinks.
    pub received: u64,
}

impl Engine {
    /// Place the network on workers and start them.
    pub fn start(net: Network, cfg: EngineConfig) -> Result<Engine, EngineError> {
        let workers = cfg.workers.max(1);
        let Parts {
            mut nodes,
            links,
            seed,
            capture,
            taps,
        } = net.into_parts().map_err(EngineError::Capture)?;
        // What a caller freed before the start (a topology model) leaves the resident set
        // before the fabrics are allocated, so the two are never resident at once.
        sys::trim_heap();
        let originals = nodes.len();
        let replicas = place::add_replicas(&mut nodes, &links, workers)?;
        let mut placement = place::place(&nodes, &links, workers);
        // A spread router's replicas go to the workers after its own.
        for (k, r) in replicas.iter().enumerate() {
            placement[originals + k] = (placement[r.of] + r.shard) % workers;
        }
        let local = build::local_indices(&placement, workers);
        let cut = place::cut(&links, &placement)
            .into_iter()
            .map(|l| {
                links[l]
                    .ends
                    .iter()
                    .map(|&e| end_name(&nodes, e))
                    .collect::<Vec<_>>()
                    .join(" — ")
            })
            .collect();
        let wall_offset = sys::wall_offset();
        let wakers: Vec<Arc<Waker>> = (0..workers).map(|_| Arc::default()).collect();
        let (commands, receivers): (Vec<Sender<Command>>, Vec<_>) =
            (0..workers).map(|_| mpsc::channel()).unzip();
        let (inboxes, shared_arp): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| mpsc::sync_channel(SHARED_ARP_MAX))
            .unzip();
        let mut fabrics = Vec::with_capacity(workers);
        for _ in 0..workers {
            let env = WorkerEnv {
                media: Vec::new(),
                polled: Vec::new(),
                pending: Vec::new(),
                wall_offset,
            };
            fabrics.push(Fabric::new(env, Pool::new(cfg.pool_frames)?));
        }
        build::add_nodes(&mut fabrics, nodes, &placement);
        let places = build::Places {
            placement: &placement,
            local: &local,
            replicas: &replicas,
        };
        let peers = build::Peers {
            wakers: &wakers,
            inboxes: &inboxes,
        };
        // Should this fail, the fabrics drop their media (devices) before their pools.
        build::add_links(&mut fabrics, links, seed, &taps, &places, &peers)?;
        // The description is built into the fabrics (and freed as it was): what it held goes
        // back to the kernel rather than staying resident in the allocator's heap.
        sys::trim_heap();
        for (fabric, waker) in fabrics.iter_mut().zip(&wakers) {
            let media = &fabric.env.media;
            waker.size_bells(media.len());
            fabric.env.polled = (0..media.len() as u32)
                .filter(|&x| media[x as usize].external())
                .collect();
        }
        let capture = capture
            .map(Capture::spawn)
            .transpose()
            .map_err(EngineError::Capture)?;
        let epoch = std::time::Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let cores = if cfg.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut handles = Vec::with_capacity(workers);
        let mut stats = Vec::with_capacity(workers);
        let mut receivers = receivers.into_iter().zip(shared_arp);
        for (w, fabric) in fabrics.into_iter().enumerate() {
            let s = Arc::new(WorkerStats::default());
            s.core.store(-1, Ordering::Relaxed);
            stats.push(s.clone());
            let pinned = s.clone();
            let (rx, shared_arp) = receivers
                .next()
                .ok_or(EngineError::Spawn(std::io::ErrorKind::Other.into()))?;
            let worker = Worker {
                fabric,
                arrivals: Vec::with_capacity(crate::frame::BATCH_MAX),
                rung: Vec::new(),
                waker: wakers[w].clone(),
                // Where io_uring is unavailable the worker parks instead.
                sleeper: sys::Sleeper::new().ok(),
                waits: Vec::new(),
                fds: Vec::new(),
                stats: s,
                stop: stop.clone(),
                busy_poll: cfg.busy_poll,
                commands: rx,
                shared_arp,
                flows_on: cfg.flows_at_start,
                told: 0,
                idle_ns: 0,
                worked: crate::time::Instant::ZERO,
                lateness: lateness::Lateness::default(),
            };
            let core = cores.get(cfg.first_core + w).copied();
            let handle = std::thread::Builder::new()
                .name(format!("shoal-w{w}"))
                .spawn(move || {
                    // Pinning is best effort: a restricted cpuset leaves the thread floating,
                    // and the report says so.
                    if let Some(core) = core
                        && core_affinity::set_for_current(core)
                    {
                        pinned.core.store(core.id as i64, Ordering::Relaxed);
                    }
                    sys::tight_timers();
                    worker.run()
                })
                .map_err(EngineError::Spawn)?;
            // Set once, right after the spawn; wakers only read it.
            let _ = wakers[w].thread.set(handle.thread().clone());
            handles.push((handle, wakers[w].clone()));
        }
        Ok(Engine {
            handles,
            commands,
            stats,
            stop,
            placement: placement.into_iter().zip(local).collect(),
            replica_of: replicas.iter().map(|r| r.of).collect(),
            capture,
            cut,
            seed,
            started: epoch,
        })
    }

    /// Running totals over all workers.
    pub fn stats(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.stats {
            t.frames += s.frames.load(Ordering::Relaxed);
            t.drops += s.drops.load(Ordering::Relaxed);
            t.sent += s.sent.load(Ordering::Relaxed);
            t.received += s.received.load(Ordering::Relaxed);
        }
        t
    }

    /// Why a host's flow could not get out, most recently (no route, a next hop that does
    /// not answer ARP, …), if any flow has had trouble.
    pub fn trouble(&self) -> Option<String> {
        let told = self
            .stats
            .iter()
            .filter_map(|s| s.trouble.lock().ok()?.clone());
        told.max_by_key(|(seq, _)| *seq).map(|(_, what)| what)
    }

    /// Worker of each instance, in network order.
    pub fn placement(&self) -> Vec<usize> {
        let originals = self.placement.len() - self.replica_of.len();
        self.placement[..originals]
            .iter()
            .map(|&(w, _)| w)
            .collect()
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
        let mut fabrics = Vec::with_capacity(self.handles.len());
        for (w, (handle, _)) in self.handles.into_iter().enumerate() {
            fabrics.push(handle.join().map_err(|_| EngineError::WorkerPanicked(w))?);
        }
        let elapsed = self.started.elapsed();
        let capture = self.capture.map(CaptureThread::stop);
        let stopped = report::Stopped {
            fabrics: &mut fabrics,
            placement: &self.placement,
            replica_of: &self.replica_of,
        };
        let mut report = report::build(stopped, elapsed);
        report.capture = capture;
        report.cut = self.cut;
        for (w, s) in self.stats.iter().enumerate() {
            let idle = Duration::from_nanos(s.idle_ns.load(Ordering::Relaxed));
            let core = usize::try_from(s.core.load(Ordering::Relaxed)).ok();
            let nodes = self.placement.iter().filter(|&&(x, _)| x == w).count();
            let busy = 1.0 - idle.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
            report.workers.push(report::WorkerReport {
                nodes,
                core,
                busy: busy.clamp(0.0, 1.0),
            });
        }
        Ok(report)
    }
}
