//! The network at run time, as one driver holds it: node slots with their receive queues,
//! link ends with their stages, hubs, and exits to media the driver runs. The simulator holds
//! the whole network in one [`Fabric`]; each engine worker holds its share in one. Both drive
//! it the same way — frames arrive, [`Fabric::run`] at the time the driver says, staged frames
//! leave through [`Fabric::flush`] — and differ only in their [`Env`]: the clock, the media
//! beyond the exits, and what a node's application does with a frame handed to it.
//!
//! Within a fabric nothing is copied: a frame sent to a node of the same fabric moves as a
//! handle into that node's receive queue, and a queue becomes the next batch by swapping
//! vectors. Work is found through a ready list and two timer heaps — nodes' timers, and links
//! with frames in flight (keyed by link end, not by node) — never by scanning every node, so a
//! hundred thousand idle nodes cost nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::account::{Cause, FlowBook, Spot};
use super::end::{End, LinkDrop, Path};
use super::flow::{Generator, flow_of};
use super::node::{IfaceId, Node};
use super::sink::Sink;
use crate::capture::{Direction, Tap};
use crate::frame::{BATCH_MAX, Batch, Frame, Pool};
use crate::router::Action;
use crate::shape::Fate;
use crate::time::Instant;

/// Frames an interface's receive queue holds before it tail-drops, as a NIC ring does.
pub const RX_QUEUE: usize = 256;

/// An interface on no link.
const NO_END: u32 = u32::MAX;

/// What a driver provides.
pub(crate) trait Env {
    /// The time now: a fresh read of the engine's clock, or the simulator's virtual time.
    fn now(&self) -> Instant;

    /// Hand `frames`, staged for exit `exit`, to its medium, emptying the vector. Frames the
    /// medium has no room for go to `refused` (the fabric counts and frees them), or, where the
    /// medium frees them itself, are only counted: returns how many those were.
    fn transmit(
        &mut self,
        exit: u32,
        pool: &mut Pool,
        frames: &mut Vec<Frame>,
        refused: &mut Vec<Frame>,
    ) -> usize;

    /// Node `node`'s application was handed `frame` on `iface` at `at` (after its flow sink,
    /// if any, counted it).
    fn delivered(&mut self, node: u32, iface: IfaceId, at: Instant, frame: &[u8]);

    /// A frame crossed a traced end.
    fn observe(&mut self, seen: Seen<'_>);

    /// A time of this driver's clock as nanoseconds since the Unix epoch, for captures: the
    /// engine's monotonic clock plus an offset taken once, the simulator's virtual time as is.
    fn wall(&self, at: Instant) -> u64;
}

/// A frame crossing a watched link end, as the driver's observer (trace, capture) sees it.
pub(crate) struct Seen<'a> {
    /// Its node's slot and interface.
    pub node: u32,
    pub iface: IfaceId,
    /// Sent on the end by its node (else handed by the link to its node).
    pub outbound: bool,
    pub at: Instant,
    pub frame: &'a [u8],
    /// Set when the link lost the frame, with why.
    pub dropped: Option<LinkDrop>,
}

/// A node as a fabric holds it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub name: String,
    /// Boxed as the network described it (see `NodeSpec::node`).
    pub node: Box<Node>,
    /// Received frames waiting, per interface (grown on first use).
    pub rx: Vec<Vec<Frame>>,
    /// The link end of each interface, or `NO_END`.
    outlets: Vec<u32>,
    queued: bool,
    timer: Option<Instant>,
    /// The node's application: flows it sends, the sink counting flows to it.
    pub generators: Vec<Generator>,
    pub sink: Option<Sink>,
    /// Frames sent on an interface on no link.
    pub unlinked: u64,
}

/// Frames staged for a medium the driver runs, and the end they left from.
#[derive(Debug)]
pub(crate) struct Exit {
    pub end: u32,
    pub staged: Vec<Frame>,
    /// The medium's name in reports (`ring`, `file`, `port`).
    pub kind: &'static str,
    /// What a frame the medium has no room for counts as.
    pub full: LinkDrop,
}

/// The frames of one node's batch of actions going out of one interface, counted once.
#[derive(Clone, Copy)]
struct Run {
    iface: IfaceId,
    end: u32,
    /// A plain end's peer on this fabric: slot, interface, end.
    peer: Option<(u32, IfaceId, u32)>,
    frames: u64,
    bytes: u64,
    received: u64,
    received_bytes: u64,
}

impl Run {
    const NONE: Run = Run {
        iface: IfaceId(u16::MAX),
        end: NO_END,
        peer: None,
        frames: 0,
        bytes: 0,
        received: 0,
        received_bytes: 0,
    };
}

/// The latest reason a host's flow could not get out (refused by its router, dropped by it:
/// no route, its next hop not answering ARP), for a driver to show while it runs.
#[derive(Debug, Default)]
pub(crate) struct Trouble {
    /// Bumped by every new reason.
    pub seq: u64,
    pub what: String,
    /// The flow and cause of the last drop told, so a flood of them is told once.
    last: Option<(u16, Cause)>,
}

impl Trouble {
    fn tell(&mut self, what: String) {
        self.what = what;
        self.seq += 1;
    }
}

/// When a fabric next has something due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadlines {
    /// The earliest node timer.
    pub timer: Option<Instant>,
    /// The earliest frame in flight on a link.
    pub line: Option<Instant>,
}

impl Deadlines {
    /// The earlier of the two.
    pub fn first(self) -> Option<Instant> {
        match (self.timer, self.line) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Nodes, link ends and exits, driven by one thread.
pub(crate) struct Fabric<E> {
    pub env: E,
    pub pool: Pool,
    pub slots: Vec<Slot>,
    pub ends: Vec<End>,
    /// Member ends of each hub.
    pub hubs: Vec<Vec<u32>>,
    pub exits: Vec<Exit>,
    /// Exits that had frames staged since the last flush, so a flush never scans every exit.
    staging: Vec<u32>,
    /// Slots with generators or a sink, so per-iteration work never scans every node.
    pub hosts: Vec<u32>,
    ready: Vec<u32>,
    timers: BinaryHeap<Reverse<(Instant, u32)>>,
    /// Ends with frames in flight, by when the first is due.
    lines: BinaryHeap<Reverse<(Instant, u32)>>,
    actions: Vec<Action>,
    batch: Batch,
    /// Where flows' dropped frames went.
    pub book: FlowBook,
    /// Why a flow cannot get out, most recently.
    pub trouble: Trouble,
    /// Scratch: frames a medium refused, before they are counted and freed.
    refused: Vec<Frame>,
    /// Frames handed to nodes.
    pub frames: u64,
    /// Frames dropped anywhere (nodes, links, unlinked interfaces): a running total for display.
    pub drops: u64,
}

impl<E: Env> Fabric<E> {
    /// An empty fabric on `pool`.
    pub fn new(env: E, pool: Pool) -> Fabric<E> {
        Fabric {
            env,
            pool,
            slots: Vec::new(),
            ends: Vec::new(),
            hubs: Vec::new(),
            exits: Vec::new(),
            staging: Vec::new(),
            hosts: Vec::new(),
            ready: Vec::new(),
            timers: BinaryHeap::new(),
            lines: BinaryHeap::new(),
            actions: Vec::with_capacity(4 * BATCH_MAX),
            batch: Batch::new(),
            book: FlowBook::default(),
            trouble: Trouble::default(),
            refused: Vec::with_capacity(BATCH_MAX),
            frames: 0,
            drops: 0,
        }
    }

    /// Add a node; returns its slot.
    pub fn add_slot(&mut self, name: String, node: Box<Node>) -> u32 {
        let ifaces = node.iface_count();
        self.slots.push(Slot {
            name,
            node,
            // Receive queues grow on first use (up to RX_QUEUE): idle interfaces cost nothing.
            rx: (0..ifaces).map(|_| Vec::new()).collect(),
            outlets: vec![NO_END; ifaces],
            queued: false,
            timer: None,
            generators: Vec::new(),
            sink: None,
            unlinked: 0,
        });
        let slot = self.slots.len() as u32 - 1;
        self.note_timer(slot);
        slot
    }

    /// The node gained an interface (configured through the node itself).
    pub fn iface_added(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        while s.rx.len() < s.node.iface_count() {
            s.rx.push(Vec::new());
            s.outlets.push(NO_END);
        }
    }

    /// Give a node its application: flows to send, a sink for flows to it.
    pub fn set_app(&mut self, slot: u32, generators: Vec<Generator>, sink: Option<Sink>) {
        let s = &mut self.slots[slot as usize];
        s.generators = generators;
        s.sink = sink;
        if (!s.generators.is_empty() || s.sink.is_some()) && !self.hosts.contains(&slot) {
            self.hosts.push(slot);
        }
    }

    /// Add a link end; the interface's frames go through it from now on. Returns its index.
    /// Room for `ends` more link ends and `exits` more exits, so that wiring a large network
    /// allocates each array once rather than doubling it.
    pub fn reserve_links(&mut self, ends: usize, exits: usize) {
        self.ends.reserve_exact(ends);
        self.exits.reserve_exact(exits);
    }

    pub fn add_end(&mut self, end: End) -> u32 {
        let e = self.ends.len() as u32;
        if let Some(o) = self.slots[end.node as usize]
            .outlets
            .get_mut(usize::from(end.iface.0))
        {
            *o = e;
        }
        self.ends.push(end);
        e
    }

    /// The link end of a node's interface.
    pub fn outlet(&self, slot: u32, iface: IfaceId) -> Option<u32> {
        let o = *self.slots[slot as usize]
            .outlets
            .get(usize::from(iface.0))?;
        (o != NO_END).then_some(o)
    }

    /// Add a hub joining `members` (ends whose path is this hub). Returns its index.
    pub fn add_hub(&mut self, members: Vec<u32>) -> u32 {
        self.hubs.push(members);
        self.hubs.len() as u32 - 1
    }

    /// Add an exit for end `end` to a medium the driver runs, named `kind` in reports, whose
    /// refusals count as `full`. Returns its index.
    pub fn add_exit(&mut self, end: u32, (kind, full): (&'static str, LinkDrop)) -> u32 {
        self.exits.push(Exit {
            end,
            // Grows on first use, to a batch: an exit that never carries a frame costs nothing.
            staged: Vec::new(),
            kind,
            full,
        });
        self.exits.len() as u32 - 1
    }

    /// Show every frame crossing end `e` to the driver's observer, or stop.
    pub fn trace(&mut self, e: u32, on: bool) {
        let end = &mut self.ends[e as usize];
        end.traced = on;
        end.replan();
    }

    /// Copy every frame crossing end `e`, both ways, into a capture.
    pub fn capture(&mut self, e: u32, tap: Tap) {
        self.set_tap(e, Some(tap));
    }

    /// Copy every frame crossing end `e` into `tap`, or stop copying with `None`.
    pub fn set_tap(&mut self, e: u32, tap: Option<Tap>) {
        let end = &mut self.ends[e as usize];
        end.tap = tap;
        end.replan();
    }

    /// Bring a link end up or down (a down end drops what is sent on it, and what was in
    /// flight on it). The node behind the end sees its carrier come or go, as a device sees a
    /// cable pulled (a switch flushes the port and tells spanning tree).
    pub fn set_up(&mut self, e: u32, up: bool) {
        let end = &mut self.ends[e as usize];
        let changed = end.up != up;
        end.up = up;
        end.replan();
        if !up {
            for frame in end.line.drain() {
                end.drop(LinkDrop::Down);
                self.drops += 1;
                self.pool.free(frame);
            }
        }
        if changed {
            let (i, iface) = (end.node, end.iface);
            let now = self.env.now();
            let slot = &mut self.slots[i as usize];
            slot.node
                .set_carrier(now, iface, up, &mut self.pool, &mut self.actions);
            self.apply(i);
            self.note_timer(i);
        }
    }

    /// Everything due at `now`: frames whose time on a link is up, nodes with frames waiting,
    /// node timers. Returns how much happened (zero when the fabric is quiet at `now`).
    pub fn run(&mut self, now: Instant) -> usize {
        let mut work = self.release(now);
        work += self.drain(now);
        work += self.run_timers(now);
        work
    }

    /// When something is next due: the earliest node timer, and the earliest frame in flight
    /// on a link (a frame's time on a link is what an impairment promises, so a driver may
    /// take more care to be on time for it).
    pub fn next_deadlines(&mut self) -> Deadlines {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if self.slots[i as usize].timer == Some(t) {
                break;
            }
            self.timers.pop();
        }
        while let Some(&Reverse((t, e))) = self.lines.peek() {
            if self.ends[e as usize].armed == Some(t) {
                break;
            }
            self.lines.pop();
        }
        Deadlines {
            timer: self.timers.peek().map(|Reverse((t, _))| *t),
            line: self.lines.peek().map(|Reverse((t, _))| *t),
        }
    }

    /// The earliest time something is due: a node timer or a frame in flight.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.next_deadlines().first()
    }

    /// When the next paced flow datagram is due.
    pub fn next_flow_due(&self) -> Option<Instant> {
        self.hosts
            .iter()
            .flat_map(|&i| &self.slots[i as usize].generators)
            .filter_map(Generator::next_due)
            .min()
    }

    /// Let the hosts' flow generators send what is due. Returns how many datagrams they made.
    pub fn generate(&mut self, now: Instant) -> usize {
        let mut sent = 0;
        for h in 0..self.hosts.len() {
            let i = self.hosts[h];
            let slot = &mut self.slots[i as usize];
            let Some(router) = slot.node.router_mut() else {
                continue;
            };
            if slot.generators.is_empty() {
                continue;
            }
            for g in &mut slot.generators {
                sent += g.poll(
                    now,
                    BATCH_MAX / 2,
                    router,
                    &mut self.pool,
                    &mut self.actions,
                );
                let dst = g.spec().dst;
                if let Some(why) = g.news() {
                    let what = format!("{} → {dst}: {why}", slot.name);
                    self.trouble.tell(what);
                }
            }
            self.apply(i);
            // Sending may have started a timer (an ARP request for the flow's next hop).
            self.note_timer(i);
        }
        sent
    }

    /// Let node `slot` originate frames (its application sends), then carry out what it asked.
    pub fn originate<R>(
        &mut self,
        slot: u32,
        send: impl FnOnce(&mut Node, &mut Pool, &mut Vec<Action>) -> R,
    ) -> R {
        let node = &mut self.slots[slot as usize].node;
        let r = send(node, &mut self.pool, &mut self.actions);
        self.apply(slot);
        self.note_timer(slot);
        r
    }

    /// Frames taken in from the medium beyond end `e` (drains `frames`).
    pub fn arrive(&mut self, e: u32, frames: &mut Vec<Frame>) {
        let taken = frames.len() as u64;
        self.ends[e as usize].counters.taken += taken;
        for frame in frames.drain(..) {
            self.hand_in(e, frame);
        }
    }

    /// Put a frame in a node's receive queue as if its link had carried it (tests, probes);
    /// a full queue drops it, counted at the node.
    pub fn inject(&mut self, slot: u32, iface: IfaceId, frame: Frame) {
        if let Err(frame) = self.enqueue(slot, iface, frame) {
            let full = Cause::Link(LinkDrop::RxQueueFull);
            self.discard(frame, Spot::Node(slot), full);
        }
    }

    /// Hand every staged frame to its medium.
    pub fn flush(&mut self) {
        let mut staging = core::mem::take(&mut self.staging);
        for &x in &staging {
            if !self.exits[x as usize].staged.is_empty() {
                self.flush_exit(x);
            }
        }
        staging.clear();
        self.staging = staging;
    }

    fn flush_exit(&mut self, x: u32) {
        let exit = &mut self.exits[x as usize];
        let (e, full, staged) = (exit.end, exit.full, exit.staged.len());
        let mut refused = core::mem::take(&mut self.refused);
        let lost = self
            .env
            .transmit(x, &mut self.pool, &mut exit.staged, &mut refused);
        let n = lost + refused.len();
        let end = &mut self.ends[e as usize];
        end.counters.out += (staged - n) as u64;
        end.counters.drops[full as usize] += n as u64;
        self.drops += lost as u64;
        for frame in refused.drain(..) {
            self.discard(frame, Spot::End(e), Cause::Link(full));
        }
        self.refused = refused;
    }

    /// Release every frame due at `now` from the links (also the first step of
    /// [`Fabric::run`]; a driver calls it on its own first, so that nothing it does before
    /// running the fabric delays a frame whose time on a link is up).
    pub fn release(&mut self, now: Instant) -> usize {
        let mut released = 0;
        while let Some(&Reverse((t, e))) = self.lines.peek() {
            if t > now {
                break;
            }
            self.lines.pop();
            if self.ends[e as usize].armed != Some(t) {
                continue;
            }
            self.ends[e as usize].armed = None;
            while let Some(frame) = self.ends[e as usize].line.pop_due(now) {
                released += 1;
                self.forward(e, frame);
            }
            self.arm(e);
        }
        released
    }

    /// Make sure end `e`'s first frame in flight has a timer.
    fn arm(&mut self, e: u32) {
        let end = &mut self.ends[e as usize];
        if let Some(head) = end.line.head()
            && end.armed.is_none_or(|a| head < a)
        {
            end.armed = Some(head);
            self.lines.push(Reverse((head, e)));
        }
    }

    /// Process every node with frames waiting, until none has.
    fn drain(&mut self, now: Instant) -> usize {
        let mut processed = 0;
        while let Some(i) = self.ready.pop() {
            self.slots[i as usize].queued = false;
            let ifaces = self.slots[i as usize].rx.len();
            for iface in 0..ifaces {
                loop {
                    let slot = &mut self.slots[i as usize];
                    let queue = &mut slot.rx[iface];
                    if queue.is_empty() {
                        break;
                    }
                    processed += self.batch.take_from(queue);
                    slot.node.process(
                        now,
                        IfaceId(iface as u16),
                        &mut self.batch,
                        &mut self.pool,
                        &mut self.actions,
                    );
                    self.note_copies(i);
                    self.apply(i);
                }
            }
            self.note_timer(i);
        }
        self.frames += processed as u64;
        processed
    }

    fn run_timers(&mut self, now: Instant) -> usize {
        let mut ran = 0;
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let slot = &mut self.slots[i as usize];
            if slot.timer != Some(t) {
                continue;
            }
            slot.timer = None;
            slot.node
                .handle_timeout(now, &mut self.pool, &mut self.actions);
            self.apply(i);
            self.note_timer(i);
            ran += 1;
        }
        ran
    }

    /// Node `i` was changed from outside (its configuration, its caches): look at its timers
    /// again.
    pub fn touch(&mut self, i: u32) {
        self.note_timer(i);
    }

    /// Remember node `i`'s next timer in the heap (stale heap entries are skipped later).
    fn note_timer(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        let t = slot.node.poll_timeout();
        if t != slot.timer {
            slot.timer = t;
            if let Some(t) = t {
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    /// Count the copies node `i` made in its last call (a switch flooding or mirroring) for
    /// their flows: each copy's action is named by its place in the action list.
    fn note_copies(&mut self, i: u32) {
        let Some(copies) = self.slots[i as usize].node.copies() else {
            return;
        };
        for (at, n) in copies.drain(..) {
            if let Some(Action::Transmit { frame, .. } | Action::Drop { frame, .. }) =
                self.actions.get(at as usize)
            {
                self.book.copied(self.pool.data(frame), u64::from(n));
            }
        }
    }

    /// Carry out what node `i` asked for.
    fn apply(&mut self, i: u32) {
        let mut actions = core::mem::take(&mut self.actions);
        // A batch's transmissions mostly leave through one interface: look its end up once
        // and count its frames once.
        let mut run = Run::NONE;
        // A host sending flows counts what it puts on its links, flow by flow.
        let sends_flows = !self.slots[i as usize].generators.is_empty();
        for action in actions.drain(..) {
            match action {
                Action::Transmit { iface, frame } => {
                    if iface != run.iface {
                        self.settle(&run);
                        run = self.start_run(i, iface);
                    }
                    if sends_flows {
                        self.count_sent(i, run.end, &frame);
                    }
                    match run.peer {
                        Some((node, piface, peer_end)) => {
                            run.frames += 1;
                            let len = frame.len() as u64;
                            run.bytes += len;
                            match self.enqueue(node, piface, frame) {
                                Ok(()) => {
                                    run.received += 1;
                                    run.received_bytes += len;
                                }
                                Err(frame) => {
                                    let full = Cause::Link(LinkDrop::RxQueueFull);
                                    self.discard(frame, Spot::End(peer_end), full);
                                }
                            }
                        }
                        None => self.send(i, run.end, frame),
                    }
                }
                Action::Deliver { iface, frame } => {
                    let now = self.env.now();
                    let bytes = self.pool.data(&frame);
                    if let Some(sink) = &mut self.slots[i as usize].sink {
                        sink.on_frame(now, bytes);
                    }
                    self.book.delivered(bytes, Spot::Node(i));
                    self.env.delivered(i, iface, now, bytes);
                    self.pool.free(frame);
                }
                Action::Drop { frame, reason } => {
                    self.discard(frame, Spot::Node(i), Cause::Node(reason));
                }
            }
        }
        self.settle(&run);
        self.actions = actions;
    }

    /// A frame ends here: count it by flow if it is a flow's, and free it.
    fn discard(&mut self, frame: Frame, spot: Spot, cause: Cause) {
        let flow = self.book.note(self.pool.data(&frame), spot, cause);
        // A flow's datagram dropped by the host that sends it: the flow cannot get out.
        if let (Some(id), Spot::Node(i)) = (flow, spot)
            && self.trouble.last != Some((id, cause))
        {
            let slot = &self.slots[i as usize];
            if let Some(g) = slot.generators.iter().find(|g| g.id() == id) {
                let what = format!("{} → {}: {}", slot.name, g.spec().dst, cause.explain());
                self.trouble.tell(what);
                self.trouble.last = Some((id, cause));
            }
        }
        self.drops += 1;
        self.pool.free(frame);
    }

    /// Host `i` puts `frame` on its link end `e` (or on no link): if it is one of the host's
    /// flows', that flow sent it.
    fn count_sent(&mut self, i: u32, e: u32, frame: &Frame) {
        if e == NO_END {
            return;
        }
        if let Some((id, false)) = flow_of(self.pool.data(frame))
            && let Some(g) = self.slots[i as usize]
                .generators
                .iter_mut()
                .find(|g| g.id() == id)
        {
            g.sent += 1;
        }
    }

    fn start_run(&self, i: u32, iface: IfaceId) -> Run {
        let end = self.outlet(i, iface).unwrap_or(NO_END);
        let peer = match self.ends.get(end as usize) {
            Some(e) if e.plain => match e.path {
                Path::Peer { node, iface, end } => Some((node, iface, end)),
                _ => None,
            },
            _ => None,
        };
        Run {
            iface,
            end,
            peer,
            ..Run::NONE
        }
    }

    /// Count a run of frames that went straight to a peer.
    fn settle(&mut self, run: &Run) {
        let Some((_, _, peer_end)) = run.peer else {
            return;
        };
        if run.frames == 0 {
            return;
        }
        let c = &mut self.ends[run.end as usize].counters;
        c.tx_frames += run.frames;
        c.tx_bytes += run.bytes;
        let full = run.frames - run.received;
        let p = &mut self.ends[peer_end as usize].counters;
        p.rx_frames += run.received;
        p.rx_bytes += run.received_bytes;
        // The frames themselves were discarded (and counted in the fabric's total) as they
        // found the queue full.
        p.drops[LinkDrop::RxQueueFull as usize] += full;
    }

    /// Send a frame from node `i` on end `e` through the end's stages.
    fn send(&mut self, i: u32, e: u32, frame: Frame) {
        let Some(end) = self.ends.get_mut(e as usize) else {
            self.slots[i as usize].unlinked += 1;
            self.discard(frame, Spot::Node(i), Cause::Unlinked);
            return;
        };
        end.counters.tx_frames += 1;
        end.counters.tx_bytes += frame.len() as u64;
        if end.plain {
            self.forward(e, frame);
            return;
        }
        let now = self.env.now();
        if end.watched {
            self.observe(e, true, now, &frame, None);
        }
        let end = &mut self.ends[e as usize];
        if !end.up {
            self.lose(e, frame, LinkDrop::Down, now);
            return;
        }
        let queued = end.line.len();
        let Some(admission) = end
            .shaper
            .as_mut()
            .map(|s| s.admit(now, frame.len(), queued))
        else {
            self.forward(e, frame);
            return;
        };
        // A duplicate the pool has no room for is never made: nothing to count.
        if let Some(fate) = admission.copy
            && let Some(copy) = self.pool.duplicate(&frame)
        {
            self.ends[e as usize].counters.made += 1;
            self.book.copied(self.pool.data(&copy), 1);
            self.schedule(e, copy, fate, now);
        }
        self.schedule(e, frame, admission.first, now);
    }

    /// Carry out a frame's fate on end `e`'s link.
    fn schedule(&mut self, e: u32, frame: Frame, fate: Fate, now: Instant) {
        match fate {
            Fate::Drop(why) => self.lose(e, frame, why.into(), now),
            Fate::Send { at, corrupt } => {
                if let Some(bit) = corrupt {
                    let data = self.pool.data_mut(&frame);
                    if let Some(byte) = data.get_mut((bit / 8) as usize) {
                        *byte ^= 0x80 >> (bit % 8);
                        self.ends[e as usize].counters.corrupted += 1;
                    }
                }
                let end = &mut self.ends[e as usize];
                if at <= now && end.line.is_empty() {
                    self.forward(e, frame);
                } else {
                    end.line.push(at, frame);
                    self.arm(e);
                }
            }
        }
    }

    /// Count and free a frame lost on end `e`'s link, showing it to the observer if watched.
    fn lose(&mut self, e: u32, frame: Frame, why: LinkDrop, now: Instant) {
        let end = &mut self.ends[e as usize];
        end.drop(why);
        if end.watched {
            self.observe(e, true, now, &frame, Some(why));
        }
        self.discard(frame, Spot::End(e), Cause::Link(why));
    }

    fn observe(
        &mut self,
        e: u32,
        outbound: bool,
        at: Instant,
        frame: &Frame,
        dropped: Option<LinkDrop>,
    ) {
        let end = &self.ends[e as usize];
        if let Some(tap) = &end.tap {
            let dir = if outbound {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            // A copy the capture has no room for is counted by the capture, never waited for.
            let why = dropped.map(LinkDrop::name);
            tap.record(self.env.wall(at), dir, self.pool.data(frame), why);
        }
        if !end.traced {
            return;
        }
        self.env.observe(Seen {
            node: end.node,
            iface: end.iface,
            outbound,
            at,
            frame: self.pool.data(frame),
            dropped,
        });
    }

    /// A frame has crossed end `e`'s link: hand it to whatever is at the far side.
    fn forward(&mut self, e: u32, frame: Frame) {
        match self.ends[e as usize].path {
            Path::Peer { end, .. } => self.hand_in(end, frame),
            Path::Hub(h) => self.broadcast(e, h, frame),
            Path::Exit(x) => {
                let exit = &mut self.exits[x as usize];
                if exit.staged.is_empty() {
                    self.staging.push(x);
                }
                exit.staged.push(frame);
                if exit.staged.len() >= BATCH_MAX {
                    self.flush_exit(x);
                }
            }
            Path::Away => {
                self.ends[e as usize].counters.out += 1;
                self.pool.free(frame);
            }
        }
    }

    /// Hand a frame that crossed a link to the node at end `e`.
    fn hand_in(&mut self, e: u32, frame: Frame) {
        let end = &mut self.ends[e as usize];
        let (node, iface, len) = (end.node, end.iface, frame.len() as u64);
        if end.watched {
            let now = self.env.now();
            let full = (!self.has_room(node, iface)).then_some(LinkDrop::RxQueueFull);
            self.observe(e, false, now, &frame, full);
        }
        match self.enqueue(node, iface, frame) {
            Ok(()) => {
                let c = &mut self.ends[e as usize].counters;
                c.rx_frames += 1;
                c.rx_bytes += len;
            }
            Err(frame) => {
                self.ends[e as usize].drop(LinkDrop::RxQueueFull);
                let full = Cause::Link(LinkDrop::RxQueueFull);
                self.discard(frame, Spot::End(e), full);
            }
        }
    }

    /// Give every member of hub `h` but the sender `from` a copy of `frame` (the last gets
    /// the frame itself). A copy the pool has no room for is lost and counted.
    fn broadcast(&mut self, from: u32, h: u32, frame: Frame) {
        let members = core::mem::take(&mut self.hubs[h as usize]);
        let mut to = members.iter().filter(|&&m| m != from).peekable();
        let mut frame = Some(frame);
        while let Some(&m) = to.next() {
            let copy = if to.peek().is_some() {
                // A copy is owed to this member: counted as made, and as lost when the pool
                // has no buffer for it.
                let copy = frame.as_ref().and_then(|f| self.pool.duplicate(f));
                let sender = &mut self.ends[from as usize];
                sender.counters.made += 1;
                if let Some(f) = &frame {
                    self.book.copied(self.pool.data(f), 1);
                }
                if copy.is_none() {
                    sender.drop(LinkDrop::NoBuffer);
                    self.drops += 1;
                    if let Some(f) = &frame {
                        let cause = Cause::Link(LinkDrop::NoBuffer);
                        self.book.note(self.pool.data(f), Spot::End(from), cause);
                    }
                }
                copy
            } else {
                frame.take()
            };
            if let Some(c) = copy {
                self.hand_in(m, c);
            }
        }
        if let Some(f) = frame {
            // A hub with no other member: the frame reached nobody.
            self.ends[from as usize].counters.out += 1;
            self.pool.free(f);
        }
        self.hubs[h as usize] = members;
    }

    /// Whether `node`'s interface `iface` has room in its receive queue.
    fn has_room(&self, node: u32, iface: IfaceId) -> bool {
        let n = &self.slots[node as usize];
        n.rx.get(usize::from(iface.0))
            .is_some_and(|q| q.len() < RX_QUEUE)
    }

    /// Queue a frame for `node`'s interface `iface`; the frame back when the queue is full or
    /// the interface does not exist.
    #[inline]
    fn enqueue(&mut self, node: u32, iface: IfaceId, frame: Frame) -> Result<(), Frame> {
        let n = &mut self.slots[node as usize];
        match n.rx.get_mut(usize::from(iface.0)) {
            Some(q) if q.len() < RX_QUEUE => {
                q.push(frame);
                if !n.queued {
                    n.queued = true;
                    self.ready.push(node);
                }
                Ok(())
            }
            _ => Err(frame),
        }
    }
}
