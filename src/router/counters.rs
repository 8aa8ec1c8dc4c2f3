//! Why frames are dropped, and the per-instance tallies.
//!
//! A drop is not an error: every frame the router does not pass on gets exactly one
//! [`DropReason`], counted in [`Counters::drops`]. Nothing on the per-packet path logs.

/// Why a frame was not passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DropReason {
    /// Received on an interface that does not exist or is administratively down.
    IfaceDown,
    /// Unicast Ethernet destination that is not the interface's address.
    OtherHost,
    /// Shorter than an Ethernet header.
    EthernetTruncated,
    /// Carries an 802.1Q tag; router interfaces are untagged.
    VlanTagged,
    /// EtherType other than IPv4 and ARP.
    UnsupportedEtherType,
    /// ARP that is not Ethernet/IPv4 (hardware or protocol type or length) or is truncated.
    ArpMalformed,
    /// An ARP reply nobody asked for, about a neighbour with no entry.
    ArpUnsolicited,
    /// Shorter than a minimal IPv4 header.
    Ipv4Truncated,
    /// IP version other than 4.
    Ipv4BadVersion,
    /// IHL below 5 or beyond the frame.
    Ipv4BadHeaderLen,
    /// Total length below the header or beyond the frame.
    Ipv4BadTotalLen,
    /// Header checksum does not verify.
    Ipv4BadChecksum,
    /// Source in 0/8, 127/8, 224/4, 255.255.255.255, or one of our own addresses.
    MartianSource,
    /// Destination in 0/8 or 127/8.
    MartianDestination,
    /// Multicast destination; the router does no multicast routing.
    Multicast,
    /// Link-layer broadcast or multicast carrying a packet that would need forwarding.
    LinkBroadcast,
    /// Not for us and this instance does not forward (a host).
    NotForwarding,
    /// Source-routed (LSRR/SSRR); refused like Linux's accept_source_route=0.
    SourceRoute,
    /// No route to the destination.
    NoRoute,
    /// Route of kind unreachable.
    Unreachable,
    /// Route of kind prohibit.
    Prohibited,
    /// Route of kind blackhole.
    Blackhole,
    /// TTL would reach zero.
    TtlExceeded,
    /// Larger than the egress MTU with DF set.
    FragNeeded,
    /// A fragment addressed to this instance; it does not reassemble.
    FragmentLocal,
    /// Egress interface is administratively down.
    EgressDown,
    /// ICMP message too short or with a bad checksum.
    IcmpMalformed,
    /// Echo request to a broadcast address (icmp_echo_ignore_broadcasts).
    EchoBroadcast,
    /// UDP datagram too short or with a bad checksum.
    UdpMalformed,
    /// UDP to a port nobody listens on.
    PortUnreachable,
    /// A transport protocol this instance does not serve.
    ProtocolUnreachable,
    /// Local delivery of a message nothing consumes (for example an unexpected echo reply).
    LocalUnhandled,
    /// Queue of frames waiting for a next hop's address was full; the oldest was dropped.
    NeighQueueFull,
    /// The next hop did not answer ARP.
    NeighFailed,
    /// No free buffer for a fragment or generated packet.
    PoolExhausted,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = DropReason::PoolExhausted as usize + 1;

    /// Every reason, in declaration order.
    pub const ALL: [DropReason; DropReason::COUNT] = {
        use DropReason::*;
        [
            IfaceDown,
            OtherHost,
            EthernetTruncated,
            VlanTagged,
            UnsupportedEtherType,
            ArpMalformed,
            ArpUnsolicited,
            Ipv4Truncated,
            Ipv4BadVersion,
            Ipv4BadHeaderLen,
            Ipv4BadTotalLen,
            Ipv4BadChecksum,
            MartianSource,
            MartianDestination,
            Multicast,
            LinkBroadcast,
            NotForwarding,
            SourceRoute,
            NoRoute,
            Unreachable,
            Prohibited,
            Blackhole,
            TtlExceeded,
            FragNeeded,
            FragmentLocal,
            EgressDown,
            IcmpMalformed,
            EchoBroadcast,
            UdpMalformed,
            PortUnreachable,
            ProtocolUnreachable,
            LocalUnhandled,
            NeighQueueFull,
            NeighFailed,
            PoolExhausted,
        ]
    };

    /// A short kebab-case name for tables and logs.
    pub fn name(self) -> &'static str {
        use DropReason::*;
        match self {
            IfaceDown => "iface-down",
            OtherHost => "other-host",
            EthernetTruncated => "ethernet-truncated",
            VlanTagged => "vlan-tagged",
            UnsupportedEtherType => "unsupported-ethertype",
            ArpMalformed => "arp-malformed",
            ArpUnsolicited => "arp-unsolicited",
            Ipv4Truncated => "ipv4-truncated",
            Ipv4BadVersion => "ipv4-bad-version",
            Ipv4BadHeaderLen => "ipv4-bad-header-len",
            Ipv4BadTotalLen => "ipv4-bad-total-len",
            Ipv4BadChecksum => "ipv4-bad-checksum",
            MartianSource => "martian-source",
            MartianDestination => "martian-destination",
            Multicast => "multicast",
            LinkBroadcast => "link-broadcast",
            NotForwarding => "not-forwarding",
            SourceRoute => "source-route",
            NoRoute => "no-route",
            Unreachable => "unreachable",
            Prohibited => "prohibited",
            Blackhole => "blackhole",
            TtlExceeded => "ttl-exceeded",
            FragNeeded => "frag-needed",
            FragmentLocal => "fragment-local",
            EgressDown => "egress-down",
            IcmpMalformed => "icmp-malformed",
            EchoBroadcast => "echo-broadcast",
            UdpMalformed => "udp-malformed",
            PortUnreachable => "port-unreachable",
            ProtocolUnreachable => "protocol-unreachable",
            LocalUnhandled => "local-unhandled",
            NeighQueueFull => "neigh-queue-full",
            NeighFailed => "neigh-failed",
            PoolExhausted => "pool-exhausted",
        }
    }
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
    /// ARP requests sent while resolving or probing neighbours.
    pub arp_requests: u64,
    /// ARP replies sent for our addresses.
    pub arp_replies: u64,
    /// Echo replies sent.
    pub echo_replies: u64,
    /// ICMP error messages sent.
    pub icmp_errors: u64,
    /// ICMP error messages suppressed by the rate limiter.
    pub icmp_rate_limited: u64,
    /// Fragments produced.
    pub fragments: u64,
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
            arp_requests: 0,
            arp_replies: 0,
            echo_replies: 0,
            icmp_errors: 0,
            icmp_rate_limited: 0,
            fragments: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl Counters {
    /// Drops counted for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
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
