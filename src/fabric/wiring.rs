//! Putting a [`Network`](super::Network)'s links into a [`Fabric`]: the pieces both drivers
//! build from. A driver decides where each end is (which fabric, which slot) and what medium a
//! link crossing fabrics or leaving the process gets; these give the ends their stages,
//! seeded the same way in every driver, so a link behaves the same under both.

use super::end::{End, LinkDrop, Path};
use super::impair::Impairment;
use super::network::{Egress, LinkId};
use super::node::IfaceId;
use super::runtime::{Env, Fabric};
use crate::shape::Netem;

/// Where an end of a link is inside one fabric: slot and interface.
pub(crate) type Place = (u32, IfaceId);

/// The seed of the random generator of the frames leaving end `k` of `link`: the network's
/// seed mixed with both (SplitMix64's finaliser), so every direction draws its own sequence.
pub(crate) fn end_seed(seed: u64, link: LinkId, k: usize) -> u64 {
    let mut z = seed ^ (u64::from(link.0) << 16 | k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn shaper(egress: &Egress, seed: u64) -> Option<Impairment> {
    egress.netem.as_ref().map(|n| Impairment::new(n, seed))
}

impl<E: Env> Fabric<E> {
    /// A point-to-point link with both ends in this fabric.
    pub fn wire_pair(
        &mut self,
        link: LinkId,
        ends: [Place; 2],
        egress: [&Egress; 2],
        seed: u64,
    ) -> [u32; 2] {
        let first = self.ends.len() as u32;
        for k in 0..2 {
            let (slot, iface) = ends[k];
            let (peer_slot, peer_iface) = ends[1 - k];
            let path = Path::Peer {
                node: peer_slot,
                iface: peer_iface,
                end: first + 1 - k as u32,
            };
            let s = shaper(egress[k], end_seed(seed, link, k));
            self.add_end(End::new((link, k), (slot, iface), path, s));
        }
        [first, first + 1]
    }

    /// A hub with every member in this fabric.
    pub fn wire_hub(
        &mut self,
        link: LinkId,
        ends: &[Place],
        egress: &[Egress],
        seed: u64,
    ) -> Vec<u32> {
        let h = self.hubs.len() as u32;
        let members: Vec<u32> = ends
            .iter()
            .zip(egress)
            .enumerate()
            .map(|(k, (&(slot, iface), eg))| {
                let s = shaper(eg, end_seed(seed, link, k));
                self.add_end(End::new((link, k), (slot, iface), Path::Hub(h), s))
            })
            .collect();
        self.add_hub(members.clone());
        members
    }

    /// End `k` of a link whose far side is a medium the driver runs (a ring to another
    /// worker, a link file, a device): frames leave through a new exit. `medium` names the
    /// medium for reports and says what a frame it has no room for counts as. Returns the end
    /// and the exit.
    pub fn wire_exit(
        &mut self,
        link: LinkId,
        k: usize,
        at: Place,
        egress: &Egress,
        seed: u64,
        medium: (&'static str, LinkDrop),
    ) -> (u32, u32) {
        let x = self.exits.len() as u32;
        let s = shaper(egress, end_seed(seed, link, k));
        let e = self.add_end(End::new((link, k), at, Path::Exit(x), s));
        self.add_exit(e, medium);
        (e, x)
    }

    /// Replace the impairment of the frames leaving end `e` (`None`: a perfect link). Frames
    /// already in flight keep their times.
    pub fn reshape(&mut self, e: u32, netem: Option<&Netem>, seed: u64) {
        let end = &mut self.ends[e as usize];
        end.shaper = netem.map(|n| Impairment::new(n, seed));
        let ordered = netem.is_none_or(Netem::is_constant_delay);
        end.line.set_ordered(ordered);
        end.replan();
    }

    /// End `k` of a link whose far side is not part of this run (a device or link file in the
    /// simulator): frames pass the stages and leave.
    pub fn wire_away(
        &mut self,
        link: LinkId,
        k: usize,
        at: Place,
        egress: &Egress,
        seed: u64,
    ) -> u32 {
        let s = shaper(egress, end_seed(seed, link, k));
        self.add_end(End::new((link, k), at, Path::Away, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_direction_draws_its_own_seed() {
        let a = end_seed(1, LinkId(0), 0);
        assert_ne!(a, end_seed(1, LinkId(0), 1));
        assert_ne!(a, end_seed(1, LinkId(1), 0));
        assert_ne!(a, end_seed(2, LinkId(0), 0));
        assert_eq!(a, end_seed(1, LinkId(0), 0));
    }
}
