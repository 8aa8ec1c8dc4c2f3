//! A worker: one thread driving one fabric — its frame pool, the nodes placed on it, the link
//! ends they own — on the real clock, and the media beyond the fabric's exits.
//!
//! The loop: take commands, receive from every medium (of the rings from other workers, those
//! whose doorbell rang: see [`Waker`]), run the hosts' generators, run the fabric at the
//! current time (frames due from links, nodes with frames waiting, timers), flush what was
//! staged for media (one publish per batch per medium), and, when nothing happened, sleep until
//! the next deadline — a node's timer, a frame due on a link, a paced flow — or a wake-up. With busy polling asked for it spins instead. A node with nothing queued and no
//! timer costs nothing per iteration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use super::control::{Command, PROBE_MEMORY, Pending};
use super::lateness::Lateness;
use super::medium::{Medium, SharedArp};
use super::sys::{POLL_MAX, Sleeper, WaitOn};
use super::wake::Waker;
use crate::fabric::runtime::Seen;
use crate::fabric::{Env, Fabric, IfaceId, LinkDrop, Node};
use crate::frame::{Frame, Pool};
use crate::probe::{PING_IDENT, Probe};
use crate::router::SendOptions;
use crate::time::Instant;

/// How often an idle worker looks at media that cannot wake it.
const EXTERNAL_POLL: Duration = Duration::from_millis(1);

/// How long a worker with media keeps looking for work after its last before it sleeps.
const KEEP_POLLING: Duration = Duration::from_micros(100);

/// A worker's side of its fabric: the real clock, the media beyond the exits (index = exit),
/// and the probes waiting for answers.
pub(crate) struct WorkerEnv {
    pub media: Vec<Medium>,
    /// The exits whose media the worker looks at on every loop and sleeps on: all but the
    /// rings from other workers, which ring the waker's doorbells instead.
    pub polled: Vec<u32>,
    pub pending: Vec<Pending>,
    /// Unix time less monotonic time, in nanoseconds, taken once at start (captures).
    pub wall_offset: i128,
}

impl Env for WorkerEnv {
    fn now(&self) -> Instant {
        super::sys::monotonic()
    }

    fn transmit(
        &mut self,
        exit: u32,
        pool: &mut Pool,
        frames: &mut Vec<Frame>,
        refused: &mut Vec<Frame>,
    ) -> usize {
        match self.media.get_mut(exit as usize) {
            Some(m) => m.send(pool, frames, refused),
            // Every exit has its medium; were one missing, its frames could go nowhere.
            None => {
                refused.append(frames);
                0
            }
        }
    }

    fn delivered(&mut self, node: u32, _iface: IfaceId, at: Instant, frame: &[u8]) {
        if self.pending.is_empty() {
            return;
        }
        // The newest probe it answers: an older one alike (a ping of the same sequence number
        // whose asker gave up) must not take the answer from the asker still waiting.
        let answered = self
            .pending
            .iter()
            .rposition(|p| p.node == node && p.probe.answer(frame).is_some());
        if let Some(k) = answered {
            // In order of sending, so that the newest stays last.
            let p = self.pending.remove(k);
            if let Some(answer) = p.probe.answer(frame) {
                // The asker may have given up; that is not the worker's problem.
                let _ = p.reply.send((answer, at.saturating_since(p.sent)));
            }
        }
    }

    fn observe(&mut self, _seen: Seen<'_>) {}

    fn wall(&self, at: Instant) -> u64 {
        (i128::from(at.as_nanos()) + self.wall_offset).clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// Totals a worker publishes for live display; each is a running count.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Frames handed to instances.
    pub frames: AtomicU64,
    /// Frames dropped (by instances, on links, on unconnected interfaces).
    pub drops: AtomicU64,
    /// Datagrams the hosts' flows put on their links.
    pub sent: AtomicU64,
    /// Datagrams that reached a sink.
    pub received: AtomicU64,
    /// Nanoseconds the worker spent asleep or spinning for a frame due on a link: idle.
    pub idle_ns: AtomicU64,
    /// The core the worker is pinned to, or -1 when it is not (none asked, none left, or
    /// the cpuset refused).
    pub core: std::sync::atomic::AtomicI64,
    /// Why a host's flow could not get out, most recently (rarely written: when it changes).
    pub trouble: std::sync::Mutex<Option<(u64, String)>>,
}

pub(crate) struct Worker {
    pub fabric: Fabric<WorkerEnv>,
    /// Frames just received from a medium, before they are handed in.
    pub arrivals: Vec<Frame>,
    /// Scratch list of the exits whose doorbells rang.
    pub rung: Vec<u32>,
    /// This worker's wake word.
    pub waker: Arc<Waker>,
    /// The io_uring it sleeps in, or `None` to park instead.
    pub sleeper: Option<Sleeper>,
    /// Scratch list of futexes to sleep on.
    pub waits: Vec<WaitOn>,
    /// Scratch list of device descriptors to sleep on.
    pub fds: Vec<std::os::fd::RawFd>,
    pub stats: Arc<WorkerStats>,
    pub stop: Arc<AtomicBool>,
    pub busy_poll: bool,
    pub commands: Receiver<Command>,
    /// ARP frames the other replicas of this worker's spread routers received.
    pub shared_arp: Receiver<SharedArp>,
    pub flows_on: bool,
    /// The trouble last published.
    pub told: u64,
    /// How late its wake-ups come: how long before a frame is due it stops sleeping.
    pub lateness: Lateness,
    /// Nanoseconds spent idle so far.
    pub idle_ns: u64,
    /// When the worker last found work.
    pub worked: Instant,
}

impl Worker {
    /// Run until told to stop; hand the fabric back.
    pub fn run(mut self) -> Fabric<WorkerEnv> {
        while !self.stop.load(Ordering::Relaxed) {
            // Read before looking for work: a wake-up after this read makes the sleep return.
            let seen = self.waker.word.load(Ordering::Acquire);
            let now = super::sys::monotonic();
            // Frames whose time on a link is up go first: commands, devices and new datagrams
            // handled before them would add their time to the links' delays.
            let mut work = self.fabric.release(now);
            work += self.control(now);
            work += self.receive();
            if self.flows_on {
                work += self.fabric.generate(now);
            }
            work += self.fabric.run(now);
            self.fabric.flush();
            self.publish();
            if work != 0 {
                self.worked = now;
            } else if self.keep_polling(now) {
                // Looking for work that is not there is idle time too.
                let looked = super::sys::monotonic().saturating_since(now);
                self.idle_ns += looked.as_nanos() as u64;
            } else {
                self.idle(seen);
            }
        }
        self.fabric
    }

    /// Carry out the commands that arrived, and learn from shared ARP frames.
    fn control(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while let Ok(cmd) = self.commands.try_recv() {
            n += 1;
            match cmd {
                Command::Flows(on) => self.flows_on = on,
                Command::Run(job) => job(&mut self.fabric),
                Command::Probe {
                    node,
                    dst,
                    probe,
                    ttl,
                    reply,
                } => {
                    if node as usize >= self.fabric.slots.len() {
                        continue;
                    }
                    let sent = self.fabric.originate(node, |n, pool, out| match n {
                        Node::Router(router) => {
                            let ttl = ttl.unwrap_or(router.config().default_ttl);
                            let opts = SendOptions {
                                ttl,
                                ..SendOptions::default()
                            };
                            match probe {
                                Probe::Echo { seq, .. } => router.send_echo_request(
                                    now,
                                    dst,
                                    PING_IDENT,
                                    seq,
                                    &[0xa5; 56],
                                    opts,
                                    pool,
                                    out,
                                ),
                                Probe::Udp { sport, dport } => router
                                    .send_udp(now, dst, sport, dport, &[0; 32], opts, pool, out),
                            }
                        }
                        Node::Switch(_) => Err(crate::router::SendError::NoStack),
                    });
                    if sent.is_ok() {
                        self.fabric.env.pending.push(Pending {
                            node,
                            probe,
                            sent: now,
                            reply,
                        });
                    }
                }
            }
        }
        let pending = &mut self.fabric.env.pending;
        if !pending.is_empty() {
            pending.retain(|p| now.saturating_since(p.sent) < PROBE_MEMORY);
        }
        n + self.absorb_shared_arp(now)
    }

    /// Let each replica learn from the ARP frames its siblings shared.
    fn absorb_shared_arp(&mut self, now: Instant) -> usize {
        let mut n = 0;
        while let Ok(SharedArp { node, iface, frame }) = self.shared_arp.try_recv() {
            n += 1;
            if node as usize >= self.fabric.slots.len() {
                continue;
            }
            self.fabric.originate(node, |n, pool, out| match n {
                Node::Router(r) => r.absorb_arp(now, iface, &frame, pool, out),
                // Only a spread router's replicas share ARP; a switch is never spread.
                Node::Switch(_) => {}
            });
        }
        n
    }

    /// Take in what every polled medium and every ring whose doorbell rang received, a batch
    /// each, and hand it to the fabric. A ring left with frames rings its doorbell again.
    fn receive(&mut self) -> usize {
        let mut total = 0;
        for k in 0..self.fabric.env.polled.len() {
            total += self.receive_from(self.fabric.env.polled[k] as usize).0;
        }
        let mut rung = core::mem::take(&mut self.rung);
        self.waker.take_rung(|x| rung.push(x));
        for &x in &rung {
            let (n, more) = self.receive_from(x as usize);
            total += n;
            if more {
                self.waker.ring(x);
            }
        }
        rung.clear();
        self.rung = rung;
        total
    }

    /// Take in what the medium at exit `x` received, a batch at most, and hand it to the
    /// fabric. Returns the frames taken and whether more are waiting in a ring.
    fn receive_from(&mut self, x: usize) -> (usize, bool) {
        let Fabric { env, pool, .. } = &mut self.fabric;
        let Some(medium) = env.media.get_mut(x) else {
            return (0, false);
        };
        let got = medium.recv(pool, &mut self.arrivals);
        let more = medium.more();
        let e = self.fabric.exits[x].end;
        let end = &mut self.fabric.ends[e as usize];
        end.counters.made += (got.shared + got.unshared) as u64;
        end.counters.out += got.shared as u64;
        end.counters.drops[LinkDrop::ReplicaFull as usize] += got.unshared as u64;
        end.counters.taken += got.lost as u64;
        end.counters.drops[LinkDrop::NoBuffer as usize] += got.lost as u64;
        self.fabric.drops += (got.unshared + got.lost) as u64;
        if !self.arrivals.is_empty() {
            self.fabric.arrive(e, &mut self.arrivals);
        }
        (got.frames + got.lost, more)
    }

    fn publish(&mut self) {
        self.stats
            .frames
            .store(self.fabric.frames, Ordering::Relaxed);
        self.stats.drops.store(self.fabric.drops, Ordering::Relaxed);
        let hosts = self
            .fabric
            .hosts
            .iter()
            .map(|&i| &self.fabric.slots[i as usize]);
        let sent = hosts
            .flat_map(|s| &s.generators)
            .map(|g| g.sent())
            .sum::<u64>();
        self.stats.sent.store(sent, Ordering::Relaxed);
        let sinks = self
            .fabric
            .hosts
            .iter()
            .filter_map(|&i| self.fabric.slots[i as usize].sink.as_ref());
        let received = sinks.map(|s| s.received).sum::<u64>();
        self.stats.received.store(received, Ordering::Relaxed);
        self.stats.idle_ns.store(self.idle_ns, Ordering::Relaxed);
        let trouble = &self.fabric.trouble;
        if trouble.seq != self.told
            && let Ok(mut t) = self.stats.trouble.try_lock()
        {
            *t = Some((trouble.seq, trouble.what.clone()));
            self.told = trouble.seq;
        }
    }

    /// Nothing to do: spin (busy polling) or sleep until the next deadline or a wake-up. A
    /// frame due on a link is waited for to the microsecond: the worker sleeps until its
    /// wake-ups' 99th-percentile lateness before it ([`Lateness`], learned from every timed
    /// sleep) and spins the rest, so a wake-up's latency does not become the link's delay
    /// error. Only frames in flight cost that; an idle worker sleeps.
    fn idle(&mut self, seen: u32) {
        if self.busy_poll {
            std::hint::spin_loop();
            return;
        }
        let due = if self.flows_on {
            self.fabric.next_flow_due()
        } else {
            None
        };
        let deadlines = self.fabric.next_deadlines();
        // The loop's own time is as old as its work: measure the wait from now.
        let now = super::sys::monotonic();
        let spin = self.lateness.spin_window();
        if let Some(line) = deadlines.line
            && line.saturating_since(now) <= spin
        {
            // Up to the frame, or to a flow's next datagram or a node's timer if sooner: a
            // long window must not hold back what else falls due inside it.
            let first = [due, deadlines.timer]
                .into_iter()
                .flatten()
                .fold(line, Ord::min);
            self.spin_until(first, seen);
            self.idle_ns += super::sys::monotonic().saturating_since(now).as_nanos() as u64;
            return;
        }
        let line = deadlines
            .line
            .map(|t| Instant::from_nanos(t.as_nanos().saturating_sub(spin.as_nanos() as u64)));
        let next = [deadlines.timer, line, due].into_iter().flatten().min();
        // Sleep until the next deadline or a wake-up; cap it so that even a lost wake-up would
        // cost at most a second. Without io_uring, a process at the far end of a link file
        // and a device cannot wake us, nor can devices beyond the most one sleep polls: then
        // look every millisecond.
        let WorkerEnv { media, polled, .. } = &mut self.fabric.env;
        let polled = || polled.iter().map(|&x| x as usize);
        let devices = polled().filter(|&x| media[x].is_port()).count();
        let external = polled().next().is_some();
        let unseen = devices > POLL_MAX || (external && self.sleeper.is_none());
        let cap = if unseen {
            EXTERNAL_POLL
        } else {
            Duration::from_secs(1)
        };
        let wait = next.map_or(cap, |t| t.saturating_since(now)).min(cap);
        if wait.is_zero() {
            return;
        }
        self.waker.arm();
        self.waits.clear();
        self.fds.clear();
        self.waits.push(WaitOn::new(&self.waker.word, seen, false));
        let mut pending = self.waker.any_rung();
        for x in polled() {
            pending |= media[x].prepare_sleep(&mut self.waits, &mut self.fds);
        }
        if !pending {
            match &mut self.sleeper {
                Some(s) => {
                    if s.wait(&self.waits, &self.fds, wait).is_err() {
                        // io_uring refused (seccomp, a disabled sysctl): park from now on.
                        self.sleeper = None;
                    }
                }
                None => std::thread::park_timeout(wait),
            }
        }
        for x in polled() {
            media[x].after_sleep();
        }
        self.waker.disarm();
        let woke = super::sys::monotonic();
        // A sleep that ran to its deadline tells how late a wake-up comes (one cut short by
        // a wake-up or capped at the poll interval tells nothing).
        if let Some(t) = next
            && woke >= t
            && t.saturating_since(now) == wait
        {
            self.lateness.observe(woke.saturating_since(t));
        }
        self.idle_ns += woke.saturating_since(now).as_nanos() as u64;
    }

    /// Whether to look for work again at once rather than sleep: for a moment after the last
    /// work, when frames may arrive from beyond the worker (another worker's ring, a device).
    /// Under a steady stream the worker then never sleeps between batches, so neither it nor
    /// the worker feeding it pays a wake-up; once the stream stops, it sleeps as before.
    fn keep_polling(&self, now: Instant) -> bool {
        !self.fabric.env.media.is_empty() && now.saturating_since(self.worked) < KEEP_POLLING
    }

    /// Spin until `t` or until someone wakes the worker (a command, frames from another
    /// worker).
    fn spin_until(&self, t: Instant, seen: u32) {
        while super::sys::monotonic() < t && self.waker.word.load(Ordering::Acquire) == seen {
            std::hint::spin_loop();
        }
    }
}
