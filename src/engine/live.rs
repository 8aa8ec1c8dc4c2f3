//! Inspecting and changing a running network: jobs that run on the workers holding a node or
//! a link, between two loop iterations, with the worker's fabric at hand. A node spread over
//! several workers is asked on its first replica and changed on every one — first on the
//! first, and on the others only if the first took the change, so a change a router refuses
//! is refused whole (replicas share one configuration). Answers come back on a channel; a
//! worker that does not answer within the timeout gives `None`, never a hang.

use std::sync::mpsc;
use std::time::Duration;

use super::worker::WorkerEnv;
use super::{Command, Engine, NodeId};
use crate::capture::Tap;
use crate::fabric::{Fabric, LinkId, LinkReport, Node, end_seed};
use crate::frame::Pool;
use crate::shape::Netem;

/// How long a job may take to come back.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(2);

impl Engine {
    /// Every (worker, slot) a node runs as: the node itself, then its replicas.
    fn shards(&self, node: NodeId) -> Vec<(usize, u32)> {
        let originals = self.placement.len() - self.replica_of.len();
        let mut at: Vec<(usize, u32)> = self
            .placement
            .get(node.0 as usize)
            .copied()
            .into_iter()
            .collect();
        for (k, &of) in self.replica_of.iter().enumerate() {
            if of == node.0 as usize {
                at.push(self.placement[originals + k]);
            }
        }
        at
    }

    /// Run `f` on worker `w`'s fabric and wait for its answer.
    fn run_on<R: Send + 'static>(
        &self,
        w: usize,
        f: impl FnOnce(&mut Fabric<WorkerEnv>) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = mpsc::channel();
        self.tell(
            w,
            Command::Run(Box::new(move |fabric| {
                // The asker may have given up.
                let _ = tx.send(f(fabric));
            })),
        );
        rx.recv_timeout(JOB_TIMEOUT).ok()
    }

    /// Ask node `node` something (on its first replica).
    pub fn inspect<R: Send + 'static>(
        &self,
        node: NodeId,
        f: impl FnOnce(&Node) -> R + Send + 'static,
    ) -> Option<R> {
        let &(w, slot) = self.shards(node).first()?;
        self.run_on(w, move |fabric| f(&fabric.slots[slot as usize].node))
    }

    /// Change node `node`: `f` runs on its first replica and, if it succeeds there, on every
    /// other; the node's timers are looked at again afterwards. The first replica's answer,
    /// or `None` when a worker did not answer.
    pub fn change<R, E>(
        &self,
        node: NodeId,
        f: impl Fn(&mut Node, &mut Pool) -> Result<R, E> + Send + Clone + 'static,
    ) -> Option<Result<R, E>>
    where
        R: Send + 'static,
        E: Send + 'static,
    {
        let shards = self.shards(node);
        let (&(w, slot), rest) = shards.split_first()?;
        let g = f.clone();
        let first = self.run_on(w, move |fabric| {
            let r = g(&mut fabric.slots[slot as usize].node, &mut fabric.pool);
            fabric.touch(slot);
            r
        })?;
        if first.is_ok() {
            for &(w, slot) in rest {
                let g = f.clone();
                self.run_on(w, move |fabric| {
                    let _ = g(&mut fabric.slots[slot as usize].node, &mut fabric.pool);
                    fabric.touch(slot);
                })?;
            }
        }
        Some(first)
    }

    /// Bring a link up or down (a down link drops what is sent on it and what was on it).
    /// Returns how many of its ends the workers hold (0: no such link).
    pub fn set_link_up(&self, link: LinkId, up: bool) -> usize {
        self.change_link(link, move |fabric, e, _| fabric.set_up(e, up))
    }

    /// Impair the frames leaving end `end` of a link (every end with `None`) with `netem`, or
    /// make them perfect again with `None`; each direction draws from the generator it would
    /// have had from the start. Returns how many ends changed.
    pub fn impair_link(&self, link: LinkId, end: Option<usize>, netem: Option<Netem>) -> usize {
        let seed = self.seed;
        self.change_link(link, move |fabric, e, k| {
            if end.is_none_or(|want| want == k) {
                fabric.reshape(e, netem.as_ref(), end_seed(seed, link, k));
            }
        })
    }

    /// Copy what crosses end `end` of a link (every end with `None`) into `tap`, or stop with
    /// `None`. Returns how many ends changed.
    pub fn capture_link(&self, link: LinkId, end: Option<usize>, tap: Option<Tap>) -> usize {
        self.change_link(link, move |fabric, e, k| {
            if end.is_none_or(|want| want == k) {
                fabric.set_tap(e, tap.clone());
            }
        })
    }

    /// Change every end of link `link` the workers hold: `f` gets each worker's fabric and the
    /// index of each end there (with which end of the link it is). Returns how many ends it
    /// changed.
    fn change_link(
        &self,
        link: LinkId,
        f: impl Fn(&mut Fabric<WorkerEnv>, u32, usize) + Send + Clone + 'static,
    ) -> usize {
        let mut changed = 0;
        for w in 0..self.commands.len() {
            let g = f.clone();
            changed += self
                .run_on(w, move |fabric| {
                    let ends: Vec<(u32, usize)> = (0..fabric.ends.len())
                        .filter(|&e| fabric.ends[e].link == link)
                        .map(|e| (e as u32, fabric.ends[e].index as usize))
                        .collect();
                    for &(e, k) in &ends {
                        g(fabric, e, k);
                    }
                    ends.len()
                })
                .unwrap_or(0);
        }
        changed
    }

    /// What every link counted so far (links between workers added up).
    pub fn links(&self) -> Vec<LinkReport> {
        let mut links = Vec::new();
        for w in 0..self.commands.len() {
            // Each worker adds its ends in turn.
            let mut acc = core::mem::take(&mut links);
            links = self
                .run_on(w, move |fabric| {
                    fabric.report_links(&mut acc);
                    acc
                })
                .unwrap_or_default();
        }
        links
    }
}
