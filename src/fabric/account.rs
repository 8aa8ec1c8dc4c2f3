//! Where each flow's frames went. Every place a fabric drops a frame — a node's drop action, a
//! link's stage or full queue, an interface on no link — shows the frame to a [`FlowBook`],
//! which recognises the frames of hosts' flows by their stamp (or an ICMP error quoting one: a
//! router answered the datagram instead of passing it on) and counts them by flow, place and
//! cause. With what the generators made, what sinks received and what is still in flight, a
//! report checks for every flow that `made − refused = received + dropped + in flight`.
//! Frames of no flow cost one look at a few header bytes, and only where they are dropped.

use super::end::LinkDrop;
use super::flow::flow_of;
use crate::router::DropReason;

/// A place in a fabric where frames are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Spot {
    /// A node (its slot).
    Node(u32),
    /// A link end (its index).
    End(u32),
}

/// Why a flow's frame ended without reaching its sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// A node dropped it.
    Node(DropReason),
    /// A link lost it.
    Link(LinkDrop),
    /// It was sent on an interface on no link.
    Unlinked,
    /// A router answered it with an ICMP error (time exceeded, unreachable, …), which reached
    /// the flow's sender.
    Answered,
}

impl core::fmt::Display for Cause {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Cause::Node(r) => f.write_str(r.name()),
            Cause::Link(r) => f.write_str(r.name()),
            Cause::Unlinked => f.write_str("sent-on-no-link"),
            Cause::Answered => f.write_str("answered-with-icmp-error"),
        }
    }
}

impl Cause {
    /// The cause in words, for a flow whose own host dropped its datagrams.
    pub fn explain(self) -> String {
        match self {
            Cause::Node(DropReason::NeighFailed | DropReason::NeighQueueFull) => {
                format!("its next hop does not answer ARP ({self})")
            }
            Cause::Unlinked => "its interface is on no link".into(),
            other => other.to_string(),
        }
    }
}

/// Counts of a fabric's flows' dropped frames, by flow id, place and cause.
#[derive(Debug, Default)]
pub(crate) struct FlowBook {
    /// By flow id: (place, cause, frames). A flow meets few places and causes, so a short list
    /// searched in order is enough; it is made on a flow's first drop.
    flows: Vec<Vec<(Spot, Cause, u64)>>,
    /// By flow id: copies made on the way (a switch flooding or mirroring, a hub, netem's
    /// `duplicate`), each of which ends somewhere as the original does.
    copies: Vec<u64>,
}

impl FlowBook {
    /// A frame ended at `spot` for `cause`: count it if it is a flow's, and say whose. An
    /// ICMP error quoting a flow's datagram stands for that datagram, which a router turned
    /// into the error.
    #[inline]
    pub fn note(&mut self, frame: &[u8], spot: Spot, cause: Cause) -> Option<u16> {
        let (id, _) = flow_of(frame)?;
        self.count(id, spot, cause);
        Some(id)
    }

    fn count(&mut self, id: u16, spot: Spot, cause: Cause) {
        let id = usize::from(id);
        if self.flows.len() <= id {
            self.flows.resize_with(id + 1, Vec::new);
        }
        let list = &mut self.flows[id];
        match list.iter_mut().find(|(s, c, _)| (*s, *c) == (spot, cause)) {
            Some(entry) => entry.2 += 1,
            None => list.push((spot, cause, 1)),
        }
    }

    /// `n` copies of `frame` were made: count them if it is a flow's.
    #[inline]
    pub fn copied(&mut self, frame: &[u8], n: u64) {
        if let Some((id, false)) = flow_of(frame) {
            let id = usize::from(id);
            if self.copies.len() <= id {
                self.copies.resize(id + 1, 0);
            }
            self.copies[id] += n;
        }
    }

    /// Copies made of flow `id`'s datagrams.
    pub fn copies(&self, id: u16) -> u64 {
        self.copies.get(usize::from(id)).copied().unwrap_or(0)
    }

    /// Flow ids with copies.
    pub fn copied_flows(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.copies.len() as u16).filter(|&id| self.copies(id) > 0)
    }

    /// A frame handed to a node's application: if it is an ICMP error quoting a flow's
    /// datagram, that datagram was answered at `spot` instead of reaching its sink.
    pub fn delivered(&mut self, frame: &[u8], spot: Spot) {
        if let Some((id, true)) = flow_of(frame) {
            self.count(id, spot, Cause::Answered);
        }
    }

    /// Every count: flow id, place, cause, frames.
    pub fn entries(&self) -> impl Iterator<Item = (u16, Spot, Cause, u64)> + '_ {
        self.flows.iter().enumerate().flat_map(|(id, list)| {
            list.iter()
                .map(move |&(spot, cause, n)| (id as u16, spot, cause, n))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_flow_frames_are_counted_by_place_and_cause() {
        let mut book = FlowBook::default();
        let flow = |id: u16| {
            let mut f = vec![0u8; 64];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            f[14] = 0x45;
            f[23] = 17;
            f[42..44].copy_from_slice(&id.to_be_bytes());
            f[44..46].copy_from_slice(&0x5348u16.to_be_bytes());
            f
        };
        let full = Cause::Link(LinkDrop::RxQueueFull);
        book.note(&flow(3), Spot::End(1), full);
        book.note(&flow(3), Spot::End(1), full);
        book.note(
            &flow(3),
            Spot::Node(2),
            Cause::Node(DropReason::TtlExceeded),
        );
        book.note(&[0u8; 64], Spot::End(1), full);
        book.delivered(&flow(3), Spot::Node(0));
        let all: Vec<_> = book.entries().collect();
        assert_eq!(
            all,
            [
                (3, Spot::End(1), full, 2),
                (3, Spot::Node(2), Cause::Node(DropReason::TtlExceeded), 1)
            ]
        );
        assert_eq!(Cause::Answered.to_string(), "answered-with-icmp-error");
    }
}
