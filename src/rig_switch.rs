//! A measurement rig for switches: one two-port switch forwarding a steady stream of 64-byte
//! frames to a destination it has learned, as [`crate::rig::ForwardRig`] does for a router.
//!
//! Each round rewrites every frame's Ethernet header from a template (the switch changes
//! nothing, but the router rig's refill stands in for a NIC writing a fresh frame, and the two
//! rigs should cost the same around the node), feeds the batch to [`Switch::process`], and
//! puts the transmitted frames back into the batch for the next round.

use crate::frame::{Batch, Pool};
use crate::router::{Action, IfaceId};
use crate::switch::{Config, PortConfig, Switch};
use crate::time::Instant;
use crate::wire::ethernet;

const FRAME_LEN: usize = crate::rig::FRAME_LEN;
const SRC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
const DST: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 2];

/// One switch, its FDB warm, and the frames it forwards.
pub struct SwitchRig {
    switch: Switch,
    pool: Pool,
    out: Vec<Action>,
    batch: Batch,
    size: usize,
    header: [u8; ethernet::HEADER_LEN],
}

impl SwitchRig {
    /// A rig forwarding batches of `batch` frames from port 0 to port 1 (VLAN 1, untagged).
    pub fn new(batch: usize) -> SwitchRig {
        let config = Config {
            ports: vec![PortConfig::new("p0"), PortConfig::new("p1")],
            ..Config::default()
        };
        let mut switch = Switch::new(config).expect("two default ports are a valid switch");
        let mut pool = Pool::new(256).expect("rig pool");
        let mut out = Vec::with_capacity(256);
        let mut header = [0; ethernet::HEADER_LEN];
        header[..6].copy_from_slice(&DST);
        header[6..12].copy_from_slice(&SRC);
        header[12..].copy_from_slice(&0x0800u16.to_be_bytes());
        // Teach the switch where DST is: a frame from it on port 1.
        let mut learn = [0u8; FRAME_LEN];
        learn[..6].copy_from_slice(&SRC);
        learn[6..12].copy_from_slice(&DST);
        if let Some(f) = pool.alloc_from(&learn) {
            switch.process_frame(Instant::ZERO, IfaceId(1), f, &mut pool, &mut out);
        }
        for a in out.drain(..) {
            match a {
                Action::Transmit { frame, .. }
                | Action::Deliver { frame, .. }
                | Action::Drop { frame, .. } => pool.free(frame),
            }
        }
        let mut b = Batch::new();
        let size = batch.clamp(1, crate::frame::BATCH_MAX);
        for _ in 0..size {
            if let Some(f) = pool.alloc_from(&[0; FRAME_LEN]) {
                let _ = b.push(f);
            }
        }
        SwitchRig {
            switch,
            pool,
            out,
            batch: b,
            size,
            header,
        }
    }

    /// Forward one batch; returns how many frames were transmitted.
    #[inline]
    pub fn round(&mut self) -> usize {
        for frame in self.batch.frames() {
            self.pool.data_mut(frame)[..ethernet::HEADER_LEN].copy_from_slice(&self.header);
        }
        self.switch.process(
            Instant::ZERO,
            IfaceId(0),
            &mut self.batch,
            &mut self.pool,
            &mut self.out,
        );
        let mut sent = 0;
        for action in self.out.drain(..) {
            match action {
                Action::Transmit { frame, .. } => {
                    sent += 1;
                    let _ = self.batch.push(frame);
                }
                Action::Deliver { frame, .. } | Action::Drop { frame, .. } => self.pool.free(frame),
            }
        }
        while self.batch.len() < self.size {
            let Some(f) = self.pool.alloc_from(&[0; FRAME_LEN]) else {
                break;
            };
            let _ = self.batch.push(f);
        }
        sent
    }

    /// The switch, for its counters.
    pub fn switch(&self) -> &Switch {
        &self.switch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_is_forwarded_as_unicast() {
        let mut rig = SwitchRig::new(32);
        for _ in 0..10 {
            assert_eq!(rig.round(), 32);
        }
        let c = rig.switch().counters();
        assert_eq!((c.forwarded, c.flooded), (320, 1));
    }
}
