//! Why frames are dropped, and the per-instance tallies.
//!
//! A drop is not an error: every frame the router does not pass on gets exactly one
//! [`DropReason`], counted in [`Counters::drops`]. Nothing on the per-packet path logs.

crate::reasons::reasons! {
    /// Why a frame was not passed on.
    pub enum DropReason {
        /// Received on an interface that does not exist or is administratively down.
        IfaceDown => "iface-down",
        /// Unicast Ethernet destination that is not the interface's address.
        OtherHost => "other-host",
        /// Shorter than an Ethernet header.
        EthernetTruncated => "ethernet-truncated",
        /// Carries an 802.1Q tag for a VLAN no sub-interface of the interface has.
        VlanTagged => "vlan-tagged",
        /// EtherType other than IPv4 and ARP.
        UnsupportedEtherType => "unsupported-ethertype",
        /// ARP that is not Ethernet/IPv4 (hardware or protocol type or length) or is truncated.
        ArpMalformed => "arp-malformed",
        /// An ARP reply nobody asked for, about a neighbour with no entry.
        ArpUnsolicited => "arp-unsolicited",
        /// Shorter than a minimal IPv4 header.
        Ipv4Truncated => "ipv4-truncated",
        /// IP version other than 4.
        Ipv4BadVersion => "ipv4-bad-version",
        /// IHL below 5 or beyond the frame.
        Ipv4BadHeaderLen => "ipv4-bad-header-len",
        /// Total length below the header or beyond the frame.
        Ipv4BadTotalLen => "ipv4-bad-total-len",
        /// Header checksum does not verify.
        Ipv4BadChecksum => "ipv4-bad-checksum",
        /// Source in 0/8, 127/8, 224/4, 255.255.255.255, or one of our own addresses.
        MartianSource => "martian-source",
        /// Destination in 0/8 or 127/8.
        MartianDestination => "martian-destination",
        /// Multicast destination; the router does no multicast routing.
        Multicast => "multicast",
        /// Link-layer broadcast or multicast carrying a packet that would need forwarding.
        LinkBroadcast => "link-broadcast",
        /// Not for us and this instance does not forward (a host).
        NotForwarding => "not-forwarding",
        /// Source-routed (LSRR/SSRR); refused like Linux's accept_source_route=0.
        SourceRoute => "source-route",
        /// No route to the destination.
        NoRoute => "no-route",
        /// Route of kind unreachable.
        Unreachable => "unreachable",
        /// Route of kind prohibit.
        Prohibited => "prohibited",
        /// Route of kind blackhole.
        Blackhole => "blackhole",
        /// TTL would reach zero.
        TtlExceeded => "ttl-exceeded",
        /// Larger than the egress MTU with DF set.
        FragNeeded => "frag-needed",
        /// A fragment wholly inside fragments already held for reassembly.
        ReasmDuplicate => "reasm-duplicate",
        /// A fragment overlapping others held: its whole datagram is dropped (RFC 5722).
        ReasmOverlap => "reasm-overlap",
        /// A fragment of zero length, a last fragment that disagrees, data past the end, a
        /// datagram over 65,535 bytes, ECN that cannot be combined: the whole datagram is dropped.
        ReasmInvalid => "reasm-invalid",
        /// Reassembly holds more than its memory limit (ipfrag_high_thresh).
        ReasmMemory => "reasm-memory",
        /// Too many fragments from the source between two of this datagram: restarted.
        ReasmTooFar => "reasm-too-far",
        /// The datagram's fragments did not all arrive in time (ipfrag_time).
        ReasmTimeout => "reasm-timeout",
        /// A reassembled datagram for the application larger than a frame.
        TooBigToDeliver => "too-big-to-deliver",
        /// Egress interface is administratively down.
        EgressDown => "egress-down",
        /// ICMP message too short or with a bad checksum.
        IcmpMalformed => "icmp-malformed",
        /// Echo request to a broadcast address (icmp_echo_ignore_broadcasts).
        EchoBroadcast => "echo-broadcast",
        /// UDP datagram too short or with a bad checksum.
        UdpMalformed => "udp-malformed",
        /// UDP to a port nobody listens on.
        PortUnreachable => "port-unreachable",
        /// A transport protocol this instance does not serve.
        ProtocolUnreachable => "protocol-unreachable",
        /// TCP to a port nobody listens on (all of them): answered with a reset where Linux would.
        TcpNoListener => "tcp-no-listener",
        /// TCP segment too short, with a bad data offset or checksum.
        TcpMalformed => "tcp-malformed",
        /// IGMP addressed to the instance: taken in, nothing to do.
        Igmp => "igmp",
        /// A malformed IP option (answered with parameter problem).
        BadOptions => "bad-options",
        /// An ARP request for another address: nothing to do.
        ArpIgnored => "arp-ignored",
        /// Local delivery of a message nothing consumes (for example an unexpected echo reply).
        LocalUnhandled => "local-unhandled",
        /// Queue of frames waiting for a next hop's address was full; the oldest was dropped.
        NeighQueueFull => "neigh-queue-full",
        /// The next hop did not answer ARP.
        NeighFailed => "neigh-failed",
        /// No free buffer for a fragment or generated packet (or a switch's flooded copy).
        PoolExhausted => "pool-exhausted",
        /// Switch: source MAC is multicast or zero (Linux's `is_valid_ether_addr`).
        BadSourceMac => "bad-source-mac",
        /// Switch: to a link-local group (01:80:C2:00:00:0x) a bridge does not forward.
        LinkLocal => "link-local",
        /// Switch: a spanning-tree BPDU, handed to spanning tree.
        Bpdu => "bpdu",
        /// Switch: received on a port spanning tree has discarding, disabled or learning.
        PortBlocked => "port-blocked",
        /// Switch: VLAN ingress filtering (VID not on the port, or untagged with no PVID).
        VlanFiltered => "vlan-filtered",
        /// Switch: the destination's port does not carry the frame's VLAN or is blocked.
        EgressFiltered => "egress-filtered",
        /// Switch: the destination is behind the port the frame came in on.
        SamePort => "same-port",
        /// Switch: larger than the egress port's MTU.
        MtuExceeded => "mtu-exceeded",
        /// Switch: flooded, but no other port could take it.
        NoEgress => "no-egress",
        /// Switch: no headroom left to push an 802.1Q tag into.
        NoHeadroom => "no-headroom",
        /// Switch: received on a mirror port, which only sends copies.
        MirrorPort => "mirror-port",
    }
}

/// `dropped TOTAL: reason n, reason n` — the drops line of a node's counters (router or
/// switch) as `shoal ctl NODE counters` prints it.
pub fn drops_line(total: u64, drops: impl Iterator<Item = (DropReason, u64)>) -> String {
    let drops: Vec<String> = drops.map(|(r, n)| format!("{r} {n}")).collect();
    format!("dropped {total}: {}\n", drops.join(", "))
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-instance tallies. Plain integers: an instance is owned by one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to [`Router::process`](super::Router::process).
    pub rx_frames: u64,
    /// Frames emitted as transmit actions.
    pub tx_frames: u64,
    /// IPv4 packets forwarded (counted once, before fragmentation).
    pub forwarded: u64,
    /// Frames handed to the local application as deliver actions.
    pub delivered: u64,
    /// Frames the instance's own stack took in: ARP it processed, echo and timestamp requests
    /// it answered, fragments merged into a reassembled datagram. With `delivered`, what
    /// `shoal run` reports as delivered locally.
    pub local: u64,
    /// Fragments held for reassembly now (not a running total): received, and in none of the
    /// other counts yet.
    pub held: u64,
    /// ARP requests sent while resolving or probing neighbours.
    pub arp_requests: u64,
    /// ARP replies sent for our addresses.
    pub arp_replies: u64,
    /// Echo and timestamp replies sent.
    pub echo_replies: u64,
    /// ICMP error messages sent.
    pub icmp_errors: u64,
    /// ICMP error messages suppressed by the rate limiter.
    pub icmp_rate_limited: u64,
    /// Fragments produced.
    pub fragments: u64,
    /// Datagrams reassembled from fragments addressed to the instance.
    pub reassembled: u64,
    /// TCP resets sent.
    pub tcp_resets: u64,
    /// Drops, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            rx_frames: 0,
            tx_frames: 0,
            forwarded: 0,
            delivered: 0,
            local: 0,
            held: 0,
            arp_requests: 0,
            arp_replies: 0,
            echo_replies: 0,
            icmp_errors: 0,
            icmp_rate_limited: 0,
            fragments: 0,
            reassembled: 0,
            tcp_resets: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl core::ops::AddAssign<&Counters> for Counters {
    /// Add another instance's counts (a spread router's replicas are reported as one).
    fn add_assign(&mut self, other: &Counters) {
        self.rx_frames += other.rx_frames;
        self.tx_frames += other.tx_frames;
        self.forwarded += other.forwarded;
        self.delivered += other.delivered;
        self.local += other.local;
        self.held += other.held;
        self.arp_requests += other.arp_requests;
        self.arp_replies += other.arp_replies;
        self.echo_replies += other.echo_replies;
        self.icmp_errors += other.icmp_errors;
        self.icmp_rate_limited += other.icmp_rate_limited;
        self.fragments += other.fragments;
        self.reassembled += other.reassembled;
        self.tcp_resets += other.tcp_resets;
        for (d, o) in self.drops.iter_mut().zip(&other.drops) {
            *d += o;
        }
    }
}

impl Counters {
    /// Drops counted for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Frames delivered locally: to the application, or taken in by the instance itself.
    /// Every received frame is forwarded, delivered locally, dropped or held:
    /// `rx_frames = forwarded + delivered_locally() + total_drops() + held`, but for a
    /// forwarded frame whose next hop then never answers ARP, counted forwarded and then
    /// dropped (`neigh-failed`, `neigh-queue-full`), as Linux counts it.
    pub fn delivered_locally(&self) -> u64 {
        self.delivered + self.local
    }

    /// All drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Non-zero drop counts, by reason.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.dropped(r)))
            .filter(|&(_, n)| n != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_in_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), DropReason::COUNT);
    }
}
