//! Egress: routing locally generated packets, next-hop resolution, Ethernet framing.
//!
//! Every packet leaves through [`Router::dispatch`]: a known neighbour gets the Ethernet header
//! written in place and a transmit action; an unknown one gets the frame queued behind an ARP
//! request (RFC 826). Locally generated packets (answers, what the application sends) are
//! routed first by [`Router::route_out`], Linux's `ip_route_output`: through the rules, from the
//! source the route prefers; to a broadcast address of ours they leave as link-layer broadcasts
//! (and are not looped back: nothing local listens), to a local address they are looped back.

use std::net::Ipv4Addr;

use super::fib::FlowKey;
use super::meta::{Cast, Ipv4Meta};
use super::neigh::{Enqueued, Queued};
use super::{Action, DropReason, Io, RouteKind, Router};
use crate::frame::Frame;
use crate::router::iface::IfaceId;
use crate::time::Instant;
use crate::wire::{arp, ethernet};

const ETH: usize = ethernet::HEADER_LEN;

/// How a packet this instance makes leaves it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Via {
    /// To this next hop, out of this interface.
    Neighbour { egress: IfaceId, next_hop: Ipv4Addr },
    /// As a link-layer broadcast out of this interface.
    Broadcast { egress: IfaceId },
    /// Back into the instance, as if received on this interface.
    Local { iface: IfaceId },
}

/// The route of a packet this instance makes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutRoute {
    pub via: Via,
    /// The source address: the one asked for, else the route's preferred one.
    pub src: Ipv4Addr,
    /// The egress MTU (for local delivery, 65535).
    pub mtu: u16,
}

impl Router {
    /// Route a packet to `dst` that this instance makes, from `src` if given (Linux's
    /// `ip_route_output` with `flowi4_iif` loopback): the rule walk, then the kind of route.
    pub(crate) fn route_out(
        &self,
        dst: Ipv4Addr,
        tos: u8,
        src: Option<Ipv4Addr>,
    ) -> Result<OutRoute, DropReason> {
        let key = FlowKey {
            src: src.unwrap_or(Ipv4Addr::UNSPECIFIED),
            tos,
            ..FlowKey::to(dst)
        };
        let nh = *self.fib.route(&key).ok_or(DropReason::NoRoute)?.nexthop;
        let iface_of = |id: Option<IfaceId>| id.and_then(|d| self.iface(d)).filter(|i| i.up);
        match nh.kind {
            RouteKind::Unicast => {
                let egress = nh.dev.ok_or(DropReason::NoRoute)?;
                let out = iface_of(Some(egress)).ok_or(DropReason::EgressDown)?;
                let next_hop = nh.gateway.unwrap_or(dst);
                let src = src
                    .or(nh.src)
                    .or_else(|| out.select_addr(next_hop))
                    .ok_or(DropReason::NoRoute)?;
                Ok(OutRoute {
                    via: Via::Neighbour { egress, next_hop },
                    src,
                    mtu: out.mtu,
                })
            }
            RouteKind::Broadcast => {
                let egress = nh.dev.ok_or(DropReason::NoRoute)?;
                let out = iface_of(Some(egress)).ok_or(DropReason::EgressDown)?;
                Ok(OutRoute {
                    via: Via::Broadcast { egress },
                    src: src
                        .or(nh.src)
                        .or_else(|| out.select_addr(dst))
                        .unwrap_or(dst),
                    mtu: out.mtu,
                })
            }
            RouteKind::Local => Ok(OutRoute {
                via: Via::Local {
                    iface: nh.dev.unwrap_or(IfaceId(0)),
                },
                src: src.unwrap_or(dst),
                mtu: u16::MAX,
            }),
            RouteKind::Blackhole => Err(DropReason::Blackhole),
            RouteKind::Unreachable => Err(DropReason::Unreachable),
            RouteKind::Prohibit => Err(DropReason::Prohibited),
            RouteKind::Throw => Err(DropReason::NoRoute),
        }
    }

    /// Route and send a packet this instance generated. `frame` holds Ethernet header space and
    /// a complete IPv4 packet addressed to `dst`.
    pub(crate) fn output(&mut self, now: Instant, frame: Frame, dst: Ipv4Addr, io: &mut Io<'_>) {
        match self.route_out(dst, 0, None) {
            Ok(route) => self.send_routed(now, frame, &route, io),
            Err(reason) => self.drop_frame(io, frame, reason),
        }
    }

    /// Send a packet this instance generated along `route`: fragmented if it is too large and
    /// may be, dropped if it may not.
    pub(crate) fn send_routed(
        &mut self,
        now: Instant,
        frame: Frame,
        route: &OutRoute,
        io: &mut Io<'_>,
    ) {
        match route.via {
            Via::Neighbour { egress, next_hop } => {
                if frame.len() - ETH > usize::from(route.mtu) {
                    let df = Ipv4Meta::parse(io.pool.data(&frame))
                        .map(|m| m.dont_frag)
                        .unwrap_or(true);
                    if df {
                        return self.drop_frame(io, frame, DropReason::FragNeeded);
                    }
                    return self.fragment(now, None, egress, next_hop, frame, io);
                }
                self.dispatch(now, None, egress, next_hop, frame, io);
            }
            Via::Broadcast { egress } => {
                if frame.len() - ETH > usize::from(route.mtu) {
                    return self.drop_frame(io, frame, DropReason::FragNeeded);
                }
                self.transmit(
                    egress,
                    ethernet::Address::BROADCAST,
                    ethernet::EtherType::Ipv4,
                    frame,
                    io,
                );
            }
            Via::Local { iface } => match Ipv4Meta::parse(io.pool.data(&frame)) {
                // Looped back: processed as received on the interface owning the address.
                Ok(meta) => {
                    let meta = Ipv4Meta {
                        cast: Cast::default(),
                        local: true,
                        ..meta
                    };
                    self.local_input(now, iface, frame, meta, io);
                }
                Err(reason) => self.drop_frame(io, frame, reason),
            },
        }
    }

    /// Send `frame` to `next_hop` on `egress`, resolving its Ethernet address first if needed.
    #[inline]
    pub(crate) fn dispatch(
        &mut self,
        now: Instant,
        ingress: Option<IfaceId>,
        egress: IfaceId,
        next_hop: Ipv4Addr,
        frame: Frame,
        io: &mut Io<'_>,
    ) {
        if let Some(mac) = self.neigh.lookup(now, &self.config.neigh, egress, next_hop) {
            return self.transmit(egress, mac, ethernet::EtherType::Ipv4, frame, io);
        }
        if next_hop == Ipv4Addr::BROADCAST
            || self.ifaces[usize::from(egress.0)]
                .addrs
                .iter()
                .any(|a| a.broadcast() == Some(next_hop))
        {
            return self.transmit(
                egress,
                ethernet::Address::BROADCAST,
                ethernet::EtherType::Ipv4,
                frame,
                io,
            );
        }
        match self.neigh.enqueue(
            now,
            &self.config.neigh,
            egress,
            next_hop,
            Queued { frame, ingress },
        ) {
            Enqueued::New => self.send_arp_request(egress, next_hop, None, io),
            Enqueued::Waiting => {}
            Enqueued::Overflow(old) => self.drop_frame(io, old.frame, DropReason::NeighQueueFull),
        }
    }

    /// Write the Ethernet header and emit the transmit action.
    #[inline]
    pub(crate) fn transmit(
        &mut self,
        egress: IfaceId,
        dst: ethernet::Address,
        ethertype: ethernet::EtherType,
        mut frame: Frame,
        io: &mut Io<'_>,
    ) {
        let iface = &mut self.ifaces[usize::from(egress.0)];
        if let Some(header) = io.pool.data_mut(&frame).first_chunk_mut::<ETH>() {
            header[..6].copy_from_slice(dst.as_bytes());
            header[6..12].copy_from_slice(iface.mac.as_bytes());
            header[12..].copy_from_slice(&u16::from(ethertype).to_be_bytes());
        }
        iface.counters.tx_frames += 1;
        iface.counters.tx_bytes += frame.len() as u64;
        let mut wire = egress;
        if let Some((parent, vid)) = iface.vlan {
            // A VLAN sub-interface sends through its parent, tagged.
            if !crate::switch::vlan::push(io.pool, &mut frame, vid) {
                return self.drop_frame(io, frame, DropReason::NoHeadroom);
            }
            wire = parent;
        }
        self.counters.tx_frames += 1;
        io.out.push(Action::Transmit { iface: wire, frame });
    }

    /// Ask who has `target` on `egress`: broadcast, or unicast to a known address when probing.
    pub(crate) fn send_arp_request(
        &mut self,
        egress: IfaceId,
        target: Ipv4Addr,
        unicast: Option<ethernet::Address>,
        io: &mut Io<'_>,
    ) {
        let Some(iface) = self.iface(egress) else {
            return;
        };
        let request = arp::Repr {
            operation: arp::Operation::Request,
            source_hardware_addr: iface.mac,
            source_protocol_addr: iface.select_addr(target).unwrap_or(Ipv4Addr::UNSPECIFIED),
            target_hardware_addr: ethernet::Address::default(),
            target_protocol_addr: target,
        };
        let Some(mut frame) = io.pool.alloc() else {
            self.counters.drops[DropReason::PoolExhausted as usize] += 1;
            return;
        };
        // A fresh frame always has room for 42 bytes.
        let _ = frame.set_len(ETH + arp::ETHERNET_IPV4_LEN);
        request.emit(&mut arp::Packet::new_unchecked(
            &mut io.pool.data_mut(&frame)[ETH..],
        ));
        self.counters.arp_requests += 1;
        self.transmit(
            egress,
            unicast.unwrap_or(ethernet::Address::BROADCAST),
            ethernet::EtherType::Arp,
            frame,
            io,
        );
    }
}
