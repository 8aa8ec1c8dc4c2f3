//! The media a worker runs beyond its fabric's exits, behind one batch interface: a
//! shared-memory ring to another worker or, through a link file, to another process; a host
//! device (AF_XDP or TAP); VDE (a switch, a switch of the interface's own, the stream on
//! standard input and output). The worker loop only ever calls [`Medium::send`],
//! [`Medium::recv`] and the sleep hooks, so a new medium (VXLAN) is a new variant here and
//! nothing else; the dispatch is per batch, never per frame.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use super::sys::{WAIT_MAX, WaitOn};
use super::wake::Waker;
use crate::fabric::{IfaceId, LinkDrop};
use crate::frame::{BATCH_MAX, Frame, Pool};
use crate::link::Endpoint;
use crate::port::{Port, PortStats};
use crate::vde::Vde;

/// ARP frames a worker's inbox of shared ARP frames holds; beyond, copies are lost and counted.
pub(crate) const SHARED_ARP_MAX: usize = 1024;

/// An ARP frame another replica of the spread router with local index `node` received on
/// interface `iface` (see [`Router::absorb_arp`](crate::router::Router::absorb_arp)).
pub(crate) struct SharedArp {
    pub node: u32,
    pub iface: IfaceId,
    pub frame: Vec<u8>,
}

/// Another replica of a spread router, on another worker.
pub(crate) struct Sibling {
    /// That worker's inbox of shared ARP frames.
    pub inbox: SyncSender<SharedArp>,
    pub waker: Arc<Waker>,
    /// Its local index on that worker.
    pub node: u32,
}

/// What one receive took in.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    /// Frames appended to the output.
    pub frames: usize,
    /// Frames lost for want of a buffer in this worker's pool.
    pub lost: usize,
    /// Copies of ARP frames handed to sibling replicas, and copies their full inboxes missed.
    pub shared: usize,
    pub unshared: usize,
}

/// A medium beyond an exit.
pub(crate) enum Medium {
    /// A shared-memory ring: to another worker (`peer`: its waker and the index of the
    /// ring's exit there, whose doorbell a publish rings before it wakes the worker) or, with
    /// no peer, a link file to another process (whose own doorbell wakes it).
    Ring {
        ep: Endpoint,
        peer: Option<(Arc<Waker>, u32)>,
    },
    /// A host device. A spread router's port tells its `siblings` of every ARP frame.
    Port {
        port: Port,
        node: u32,
        iface: IfaceId,
        siblings: Vec<Sibling>,
    },
    /// VDE: its sockets (an epoll set of them to sleep on), on interface `iface` of the node
    /// with local index `node`.
    Vde { vde: Vde, node: u32, iface: IfaceId },
}

impl Medium {
    /// Hand `frames` (of `pool`) to the medium, draining the vector: the ring copies them
    /// (one release store per batch) and they go back to the pool, the frames it has no room
    /// for to `refused`; the device takes the buffers, and frees those it has no room for.
    /// Returns how many the device freed so.
    pub fn send(
        &mut self,
        pool: &mut Pool,
        frames: &mut Vec<Frame>,
        refused: &mut Vec<Frame>,
    ) -> usize {
        match self {
            Medium::Ring { ep, peer } => {
                let mut sent = 0;
                let mut frames = frames.drain(..);
                loop {
                    let mut chunk: [Option<Frame>; BATCH_MAX] = [const { None }; BATCH_MAX];
                    let mut len = 0;
                    for (slot, f) in chunk.iter_mut().zip(frames.by_ref()) {
                        *slot = Some(f);
                        len += 1;
                    }
                    if len == 0 {
                        break;
                    }
                    let mut slices: [&[u8]; BATCH_MAX] = [&[]; BATCH_MAX];
                    for (s, f) in slices.iter_mut().zip(chunk.iter().flatten()) {
                        *s = pool.data(f);
                    }
                    // The ring takes a prefix of the chunk.
                    let n = ep.send(&slices[..len]);
                    sent += n;
                    for (k, f) in chunk.into_iter().flatten().enumerate() {
                        if k < n {
                            pool.free(f);
                        } else {
                            refused.push(f);
                        }
                    }
                }
                if sent != 0
                    && let Some((w, x)) = peer
                {
                    w.ring(*x);
                    w.wake();
                }
                0
            }
            Medium::Port { port, .. } => {
                let before = port.stats().tx_full;
                port.send(pool, frames);
                (port.stats().tx_full - before) as usize
            }
            Medium::Vde { vde, .. } => {
                vde.send(pool, frames, refused);
                0
            }
        }
    }

    /// Take in what arrived, at most about one batch, into frames of `pool` appended to `out`.
    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> Received {
        let mut got = Received::default();
        match self {
            Medium::Ring { ep, .. } => {
                ep.recv(|bytes| match pool.alloc_from(bytes) {
                    Some(f) => out.push(f),
                    None => got.lost += 1,
                });
            }
            Medium::Port {
                port,
                iface,
                siblings,
                ..
            } => {
                port.poll(pool);
                port.recv(pool, out);
                if !siblings.is_empty() {
                    (got.shared, got.unshared) = share_arp(*iface, siblings, pool, out);
                }
            }
            Medium::Vde { vde, .. } => got.lost = vde.recv(pool, out),
        }
        got.frames = out.len();
        got
    }

    /// The medium's name in reports: `ring` (to another worker), `file` (a link file to
    /// another process), `port` (a host device), `vde`.
    pub fn kind(&self) -> &'static str {
        match self {
            Medium::Ring { peer: Some(_), .. } => "ring",
            Medium::Ring { peer: None, .. } => "file",
            Medium::Port { .. } => "port",
            Medium::Vde { .. } => "vde",
        }
    }

    /// Whether frames are left to receive in a ring from another worker (one receive takes
    /// a batch at most).
    pub fn more(&mut self) -> bool {
        match self {
            Medium::Ring { ep, peer: Some(_) } => ep.pending(),
            _ => false,
        }
    }

    /// What a frame the medium has no room for counts as.
    pub fn full(&self) -> LinkDrop {
        match self {
            Medium::Ring { .. } => LinkDrop::RingFull,
            Medium::Port { .. } => LinkDrop::PortFull,
            Medium::Vde { .. } => LinkDrop::SocketFull,
        }
    }

    /// Whether this medium is a host device or VDE: what the worker sleeps on by descriptor
    /// (one each: a device's, or a VDE medium's epoll set).
    pub fn is_port(&self) -> bool {
        matches!(self, Medium::Port { .. } | Medium::Vde { .. })
    }

    /// Whether this medium needs looking at when the worker cannot sleep on it (no io_uring):
    /// a link file or a device.
    pub fn external(&self) -> bool {
        !matches!(self, Medium::Ring { peer: Some(_), .. })
    }

    /// Add what to sleep on — a link file's doorbell (armed), a device's descriptor — and
    /// say whether something is already waiting (then the worker must not sleep). A ring from
    /// another worker needs nothing: its doorbell is in the worker's waker.
    pub fn prepare_sleep(
        &mut self,
        waits: &mut Vec<WaitOn>,
        fds: &mut Vec<std::os::fd::RawFd>,
    ) -> bool {
        match self {
            Medium::Ring { peer: Some(_), .. } => false,
            Medium::Ring { ep, peer: None } => {
                if waits.len() < WAIT_MAX {
                    let bell = ep.doorbell();
                    let armed = bell.arm();
                    waits.push(WaitOn::new(bell.word(), armed, true));
                }
                // Re-check after arming: what arrived before is seen here, what arrives after
                // changes a word we wait on.
                ep.pending()
            }
            Medium::Port { port, .. } => {
                fds.push(port.wait_fd());
                false
            }
            Medium::Vde { vde, .. } => {
                fds.push(vde.wait_fd());
                vde.pending()
            }
        }
    }

    /// After a sleep: disarm what [`Medium::prepare_sleep`] armed.
    pub fn after_sleep(&mut self) {
        if let Medium::Ring { ep, peer: None } = self {
            ep.doorbell().disarm();
        }
    }

    /// Show every frame another worker of this process left in the medium for this one to
    /// `f` (a ring's unread frames; a link file's come from another process, whose flows are
    /// its own, and a device's are the kernel's).
    pub fn peek(&self, f: impl FnMut(&[u8])) {
        if let Medium::Ring { ep, peer: Some(_) } = self {
            ep.peek(f);
        }
    }

    /// A device's (or a VDE medium's) totals and description, for the report.
    pub fn port(&self) -> Option<(u32, IfaceId, String, PortStats)> {
        match self {
            Medium::Port {
                port, node, iface, ..
            } => Some((*node, *iface, port.describe(), port.stats())),
            Medium::Vde { vde, node, iface } => {
                Some((*node, *iface, vde.describe(), vde.stats().port_stats()))
            }
            Medium::Ring { .. } => None,
        }
    }
}

/// Tell a spread router's other replicas (`siblings`) of the ARP frames among `arrived` (what
/// its port on interface `iface` received), so that a reply arriving on another queue than its
/// request resolves the neighbour for the replica that asked. ARP is rare: a copy per frame
/// and sibling is cheap. A sibling whose inbox is full (an ARP flood) misses the copy. Returns
/// the copies handed over and the copies missed.
pub(crate) fn share_arp(
    iface: IfaceId,
    siblings: &[Sibling],
    pool: &Pool,
    arrived: &[Frame],
) -> (usize, usize) {
    const ARP: [u8; 2] = [0x08, 0x06];
    let (mut shared, mut missed) = (0, 0);
    for frame in arrived {
        let bytes = pool.data(frame);
        if bytes.get(12..14) != Some(&ARP[..]) {
            continue;
        }
        for s in siblings {
            let copy = SharedArp {
                node: s.node,
                iface,
                frame: bytes.to_vec(),
            };
            match s.inbox.try_send(copy) {
                Ok(()) => {
                    shared += 1;
                    s.waker.wake();
                }
                Err(TrySendError::Full(_)) => missed += 1,
                // A sibling that has stopped needs nothing more.
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }
    (shared, missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{Receiver, sync_channel};

    /// ARP frames, and only they, reach each sibling's inbox; a full inbox misses the copy and
    /// says so, and a stopped sibling is no error.
    #[test]
    fn arp_frames_are_shared_up_to_the_inbox_bound() {
        let mut pool = Pool::new(16).unwrap();
        let mut frame = |ethertype: [u8; 2], tag: u8| {
            let mut bytes = vec![tag; 60];
            bytes[12..14].copy_from_slice(&ethertype);
            pool.alloc_from(&bytes).unwrap()
        };
        let arrived = vec![
            frame([0x08, 0x06], 1),
            frame([0x08, 0x00], 2),
            frame([0x08, 0x06], 3),
            frame([0x08, 0x06], 4),
        ];
        let (roomy, roomy_rx) = sync_channel(8);
        let (tight, tight_rx) = sync_channel(2);
        let (gone, gone_rx) = sync_channel(8);
        drop(gone_rx);
        let sibling = |inbox, node| Sibling {
            inbox,
            waker: Arc::default(),
            node,
        };
        let siblings = [sibling(roomy, 5), sibling(tight, 6), sibling(gone, 7)];
        let (shared, missed) = share_arp(IfaceId(1), &siblings, &pool, &arrived);
        assert_eq!(missed, 1, "the tight inbox misses the third ARP frame");
        assert_eq!(shared, 5);
        let tags = |rx: &Receiver<SharedArp>, node| -> Vec<u8> {
            rx.try_iter()
                .map(|s| {
                    assert_eq!((s.node, s.iface), (node, IfaceId(1)));
                    s.frame[0]
                })
                .collect()
        };
        assert_eq!(tags(&roomy_rx, 5), [1, 3, 4]);
        assert_eq!(tags(&tight_rx, 6), [1, 3]);
        for f in arrived {
            pool.free(f);
        }
    }
}
