//! A received IPv4 packet as the pipeline sees it once its header is validated: the fields it
//! needs after the bytes are borrowed away, how it reached us, what its route made of it and
//! what its options are. Also the address classes Linux refuses as source or destination
//! (ip_route_input_slow).

use std::net::Ipv4Addr;

use super::DropReason;
use super::options::Compiled;
use crate::wire::{Error, ethernet, ipv4};

const ETH: usize = ethernet::HEADER_LEN;

/// The fields of a validated IPv4 header the pipeline needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ipv4Meta {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub header_len: usize,
    pub total_len: usize,
    pub ttl: u8,
    pub tos: u8,
    pub protocol: ipv4::Protocol,
    pub ident: u16,
    pub dont_frag: bool,
    pub frag_offset: u16,
    pub more_frags: bool,
    /// How it reached us; filled in by the caller of `parse`.
    pub cast: Cast,
    /// Addressed to one of our addresses (Linux's RTCF_LOCAL without broadcast): answers come
    /// from the address it was sent to.
    pub local: bool,
    /// Bytes an ICMP error quotes at most: the whole datagram, or less where Linux trimmed it
    /// (a UDP datagram to its UDP length).
    pub quote_len: usize,
    /// Its options, compiled.
    pub opts: Compiled,
}

impl Ipv4Meta {
    /// Validate the IPv4 packet after the Ethernet header of `frame` (RFC 1812 §5.2.2), in
    /// Linux's order, with the precise reason for a malformed one.
    #[inline]
    pub(crate) fn parse(frame: &[u8]) -> Result<Ipv4Meta, DropReason> {
        let h =
            ipv4::Header::decode(frame.get(ETH..).unwrap_or_default()).map_err(|e| match e {
                Error::BadVersion => DropReason::Ipv4BadVersion,
                Error::BadHeaderLen => DropReason::Ipv4BadHeaderLen,
                Error::BadTotalLen => DropReason::Ipv4BadTotalLen,
                Error::BadChecksum => DropReason::Ipv4BadChecksum,
                _ => DropReason::Ipv4Truncated,
            })?;
        Ok(Ipv4Meta {
            src: h.src,
            dst: h.dst,
            header_len: h.header_len,
            total_len: h.total_len,
            ttl: h.ttl,
            tos: h.tos,
            protocol: h.protocol,
            ident: h.ident,
            dont_frag: h.dont_frag,
            frag_offset: h.frag_offset,
            more_frags: h.more_frags,
            cast: Cast::default(),
            local: false,
            quote_len: h.total_len,
            opts: Compiled::default(),
        })
    }

    pub(crate) fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }
}

/// Whether a packet reached us as a link-layer broadcast/multicast and as an IP broadcast; both
/// forbid ICMP errors about it (RFC 1812 §4.3.2.7).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cast {
    pub link_multicast: bool,
    pub ip_broadcast: bool,
}

/// Sources Linux refuses whatever the routes say: 0.0.0.0 (Linux 5.3 made the rest of 0/8
/// ordinary unicast), loopback (127/8), multicast (224/4) and the limited broadcast.
#[inline]
pub(crate) fn is_martian_source(a: Ipv4Addr) -> bool {
    let a = u32::from(a);
    a == 0 || a >> 24 == 127 || a >> 28 == 0xe || a == u32::MAX
}

/// Destinations Linux refuses to route: 0.0.0.0 and 127/8.
#[inline]
pub(crate) fn is_martian_destination(a: Ipv4Addr) -> bool {
    let a = u32::from(a);
    a == 0 || a >> 24 == 127
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn martians() {
        for a in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [224, 0, 0, 5],
            [239, 1, 1, 1],
            [255, 255, 255, 255],
        ] {
            assert!(is_martian_source(Ipv4Addr::from(a)), "{a:?}");
        }
        // 0/8 beyond 0.0.0.0 and 240/4 are unicast to Linux 6.x.
        for a in [
            [0, 1, 2, 3],
            [10, 0, 0, 1],
            [1, 1, 1, 1],
            [223, 255, 255, 255],
            [240, 0, 0, 1],
        ] {
            assert!(!is_martian_source(Ipv4Addr::from(a)), "{a:?}");
        }
        assert!(is_martian_destination(Ipv4Addr::new(127, 3, 3, 3)));
        assert!(is_martian_destination(Ipv4Addr::UNSPECIFIED));
        assert!(!is_martian_destination(Ipv4Addr::new(0, 3, 3, 3)));
        assert!(!is_martian_destination(Ipv4Addr::new(10, 3, 3, 3)));
    }
}
