//! A link end at run time: where the frames a node sends on one interface go, through which
//! stages, and what they count.
//!
//! Frames leaving an end pass its egress stages in order — the link's up/down state, an
//! impairment ([`Impairment`]: a constant delay, or netem's loss, duplication, corruption, delay, rate, reordering, a queue
//! bound), an observer (trace or capture) — and then wait in the end's [`Line`] until they are
//! due, or, on a perfect link, go on at once. Every frame is counted where it is: handed in by
//! the node (`tx`), made by the link (netem duplicates, hub copies), handed out to a node
//! (`rx`) or to another medium (`out`), taken in from one (`taken`), dropped with a
//! [`LinkDrop`] reason, or still in flight. For every link,
//! `tx + made + taken = rx + out + drops + in flight`: reports check it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::impair::Impairment;
use super::network::LinkId;
use super::node::IfaceId;
use crate::capture::Tap;
use crate::frame::Frame;
use crate::shape::Impair;
use crate::time::Instant;

crate::reasons::reasons! {
    /// Why a link lost a frame.
    pub enum LinkDrop {
        /// The link is down.
        Down => "link-down",
        /// netem's loss model chose the frame.
        NetemLoss => "netem-loss",
        /// netem's queue held `limit` frames already (tail drop).
        NetemLimit => "netem-limit",
        /// A bit error hit the frame (`ber`).
        NetemBer => "netem-ber",
        /// The receiving interface's queue was full, as a NIC ring overflows.
        RxQueueFull => "rx-queue-full",
        /// A shared-memory ring to another worker or process had no room.
        RingFull => "ring-full",
        /// A host device's transmit ring had no room.
        PortFull => "port-full",
        /// The frame pool had no buffer for a copy (a hub's, a duplicate, a frame from a ring).
        NoBuffer => "no-buffer",
        /// A sibling replica of a spread router had no room for a copy of an ARP frame.
        ReplicaFull => "replica-inbox-full",
        /// A VDE peer's socket (a switch's data socket, every client's, the stream's reader)
        /// had no room: it reads more slowly than the link sends.
        SocketFull => "socket-full",
    }
}

impl From<Impair> for LinkDrop {
    fn from(i: Impair) -> LinkDrop {
        match i {
            Impair::Loss => LinkDrop::NetemLoss,
            Impair::Limit => LinkDrop::NetemLimit,
            Impair::Ber => LinkDrop::NetemBer,
        }
    }
}

impl core::fmt::Display for LinkDrop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one end of a link counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndCounters {
    /// Frames the node at this end handed to the link.
    pub tx_frames: u64,
    /// Their bytes.
    pub tx_bytes: u64,
    /// Frames the link handed to the node at this end.
    pub rx_frames: u64,
    /// Their bytes.
    pub rx_bytes: u64,
    /// Frames the link made on the way from this end: netem duplicates, a hub's copies.
    pub made: u64,
    /// Frames from this end handed to the medium beyond it (a ring, a link file, a device).
    pub out: u64,
    /// Frames taken in at this end from the medium beyond it.
    pub taken: u64,
    /// Frames netem corrupted on the way from this end (they are delivered, corrupted).
    pub corrupted: u64,
    /// Frames lost at or on the way from this end, by reason.
    pub drops: [u64; LinkDrop::COUNT],
}

impl EndCounters {
    /// Frames lost for `reason`.
    pub fn dropped(&self, reason: LinkDrop) -> u64 {
        self.drops[reason as usize]
    }

    /// Frames lost, every reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// The reasons with a non-zero count.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (LinkDrop, u64)> + '_ {
        LinkDrop::ALL
            .iter()
            .map(|&r| (r, self.drops[r as usize]))
            .filter(|&(_, n)| n != 0)
    }
}

impl core::ops::AddAssign<&EndCounters> for EndCounters {
    fn add_assign(&mut self, o: &EndCounters) {
        self.tx_frames += o.tx_frames;
        self.tx_bytes += o.tx_bytes;
        self.rx_frames += o.rx_frames;
        self.rx_bytes += o.rx_bytes;
        self.made += o.made;
        self.out += o.out;
        self.taken += o.taken;
        self.corrupted += o.corrupted;
        for (a, b) in self.drops.iter_mut().zip(o.drops) {
            *a += b;
        }
    }
}

/// Where the frames an end lets through go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// Point to point to a node of the same driver: its slot, interface and end.
    Peer { node: u32, iface: IfaceId, end: u32 },
    /// To every other member of a hub of the same driver.
    Hub(u32),
    /// To a medium the driver runs (a ring to another worker, a link file, a device).
    Exit(u32),
    /// Nowhere: the far side is not part of this run (a device or link file in the
    /// simulator). Frames are counted as handed out.
    Away,
}

/// A frame waiting on a link until it is due.
#[derive(Debug)]
pub(crate) struct Flight {
    at: Instant,
    seq: u64,
    frame: Frame,
}

impl PartialEq for Flight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Flight {}
impl PartialOrd for Flight {
    fn partial_cmp(&self, o: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Flight {
    fn cmp(&self, o: &Self) -> core::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Frames in flight from one end, in the order they are due: a FIFO when the delay is
/// constant (they are due in the order they were sent), a heap when jitter or reordering can
/// make a later frame due first.
#[derive(Debug)]
pub(crate) enum Line {
    Fifo(VecDeque<Flight>),
    Heap(BinaryHeap<Reverse<Flight>>, u64),
}

impl Line {
    /// An empty line; `ordered` when frames are always due in the order they are sent.
    pub fn new(ordered: bool) -> Line {
        if ordered {
            Line::Fifo(VecDeque::new())
        } else {
            Line::Heap(BinaryHeap::new(), 0)
        }
    }

    /// Frames in flight.
    pub fn len(&self) -> usize {
        match self {
            Line::Fifo(q) => q.len(),
            Line::Heap(h, _) => h.len(),
        }
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the first frame is due.
    pub fn head(&self) -> Option<Instant> {
        match self {
            Line::Fifo(q) => q.front().map(|f| f.at),
            Line::Heap(h, _) => h.peek().map(|Reverse(f)| f.at),
        }
    }

    /// Put a frame in flight until `at`.
    pub fn push(&mut self, at: Instant, frame: Frame) {
        match self {
            Line::Fifo(q) => q.push_back(Flight { at, seq: 0, frame }),
            Line::Heap(h, seq) => {
                *seq += 1;
                h.push(Reverse(Flight {
                    at,
                    seq: *seq,
                    frame,
                }));
            }
        }
    }

    /// The first frame, if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Frame> {
        if self.head()? > now {
            return None;
        }
        match self {
            Line::Fifo(q) => q.pop_front().map(|f| f.frame),
            Line::Heap(h, _) => h.pop().map(|Reverse(f)| f.frame),
        }
    }

    /// Switch between FIFO (`ordered`) and heap, keeping every frame and its time.
    pub fn set_ordered(&mut self, ordered: bool) {
        match self {
            Line::Fifo(q) if !ordered => {
                let mut heap = BinaryHeap::with_capacity(q.len());
                let mut seq = 0;
                for f in q.drain(..) {
                    seq += 1;
                    heap.push(Reverse(Flight { seq, ..f }));
                }
                *self = Line::Heap(heap, seq);
            }
            Line::Heap(h, _) if ordered => {
                let q = core::mem::take(h).into_sorted_vec().into_iter().rev();
                *self = Line::Fifo(q.map(|Reverse(f)| f).collect());
            }
            _ => {}
        }
    }

    /// The frames in flight, in no particular order.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        let (fifo, heap) = match self {
            Line::Fifo(q) => (Some(q.iter().map(|f| &f.frame)), None),
            Line::Heap(h, _) => (None, Some(h.iter().map(|Reverse(f)| &f.frame))),
        };
        fifo.into_iter().flatten().chain(heap.into_iter().flatten())
    }

    /// Take every frame, due or not (a run that stops, a link that goes down).
    pub fn drain(&mut self) -> Vec<Frame> {
        match self {
            Line::Fifo(q) => q.drain(..).map(|f| f.frame).collect(),
            Line::Heap(h, _) => h.drain().map(|Reverse(f)| f.frame).collect(),
        }
    }
}

/// One end of a link, as a driver runs it.
pub(crate) struct End {
    /// The link, as the [`Network`](super::Network) numbers it, and which of its ends this is
    /// (reports add ends up by both).
    pub link: LinkId,
    pub index: u32,
    /// The node's slot in the driver and its interface.
    pub node: u32,
    pub iface: IfaceId,
    /// Where frames that pass the stages go.
    pub path: Path,
    /// Administrative state of the link: a down link drops what is sent on it.
    pub up: bool,
    /// The impairment of frames leaving this end.
    pub shaper: Option<Impairment>,
    /// Frames leaving this end that are not due yet.
    pub line: Line,
    /// When the line's timer is armed for (see `Fabric::lines`).
    pub armed: Option<Instant>,
    /// The capture frames crossing this end are copied into, both ways.
    pub tap: Option<Tap>,
    /// Frames crossing this end are shown to the driver's observer (the simulator's trace).
    pub traced: bool,
    /// Captured or traced.
    pub watched: bool,
    /// Up, unimpaired and unwatched: frames go straight on.
    pub plain: bool,
    pub counters: EndCounters,
}

impl End {
    /// A new end of `link` at `node`'s interface `iface`.
    pub fn new(
        (link, index): (LinkId, usize),
        (node, iface): (u32, IfaceId),
        path: Path,
        shaper: Option<Impairment>,
    ) -> End {
        let ordered = shaper.as_ref().is_none_or(Impairment::ordered);
        let mut end = End {
            link,
            index: index as u32,
            node,
            iface,
            path,
            up: true,
            shaper,
            line: Line::new(ordered),
            armed: None,
            tap: None,
            traced: false,
            watched: false,
            plain: false,
            counters: EndCounters::default(),
        };
        end.replan();
        end
    }

    /// Recompute whether frames can skip the stages, after a change of state.
    pub fn replan(&mut self) {
        self.watched = self.tap.is_some() || self.traced;
        self.plain = self.up && self.shaper.is_none() && !self.watched;
    }

    /// Count a lost frame.
    #[inline]
    pub fn drop(&mut self, reason: LinkDrop) {
        self.counters.drops[reason as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Pool;

    #[test]
    fn lines_give_frames_back_when_due_in_due_order() {
        let mut pool = Pool::new(8).unwrap();
        for ordered in [true, false] {
            let mut line = Line::new(ordered);
            let at = |n| Instant::from_nanos(n);
            let mut tagged = |tag: u8| pool.alloc_from(&[tag]).unwrap();
            line.push(at(10), tagged(1));
            line.push(at(20), tagged(2));
            if !ordered {
                line.push(at(15), tagged(3));
            }
            assert_eq!(line.head(), Some(at(10)));
            assert!(line.pop_due(at(9)).is_none());
            let mut got = Vec::new();
            while let Some(f) = line.pop_due(at(20)) {
                got.push(pool.data(&f)[0]);
                pool.free(f);
            }
            assert_eq!(got, if ordered { vec![1, 2] } else { vec![1, 3, 2] });
            assert!(line.is_empty());
        }
    }

    #[test]
    fn drop_reasons_have_names() {
        assert_eq!(LinkDrop::COUNT, LinkDrop::ALL.len());
        assert_eq!(LinkDrop::from(Impair::Loss).name(), "netem-loss");
        assert_eq!(LinkDrop::RxQueueFull.to_string(), "rx-queue-full");
    }
}
