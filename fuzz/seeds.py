#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets: real Ethernet frames, hand-assembled.

Run from anywhere: `python3 fuzz/seeds.py`. It replaces every `seed-*` file under
`fuzz/corpus/process/` and `fuzz/corpus/wire/` (what the fuzzer adds alongside is left alone).

The frames are built here with `struct`, independently of shoal's own emitters, for the
topology `fuzz_targets/process.rs` sets up:

    eth0 02:00:00:00:00:01 10.0.1.1/24 mtu 1500   192.168.0.0/16 via 10.0.1.254
    eth1 02:00:00:00:00:02 10.0.2.1/24 mtu 576    default via 10.0.2.254

`corpus/wire/` gets each frame's bytes alone; `corpus/process/` gets each scenario encoded as
the process target reads it: per frame `len: u16 LE | ctl: u8 | dt: u8 | frame`, where ctl bit 0
is the ingress interface, bit 1 asks the target to fix checksums, bit 2 ends the batch.
"""

import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"

CTL_IFACE1 = 0x01
CTL_FIX = 0x02
CTL_END = 0x04

BCAST = bytes([0xFF] * 6)
R_ETH0 = bytes([2, 0, 0, 0, 0, 1])
R_ETH1 = bytes([2, 0, 0, 0, 0, 2])
H1_MAC = bytes([2, 0, 0, 0, 1, 2])  # 10.0.1.2, a host on eth0
GW0_MAC = bytes([2, 0, 0, 0, 1, 0xFE])  # 10.0.1.254, gateway to 192.168/16
GW1_MAC = bytes([2, 0, 0, 0, 2, 0xFE])  # 10.0.2.254, default gateway
H2_MAC = bytes([2, 0, 0, 0, 2, 5])  # 10.0.2.5, a host on eth1


def ip(s):
    return bytes(int(x) for x in s.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, ethertype, payload, vlan=None):
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload
    return dst + src + struct.pack("!H", ethertype) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip(spa) + tha + ip(tpa)


def ipv4(src, dst, proto, payload, ttl=64, ident=0x1234, df=True, mf=False, offset=0,
         options=b"", tos=0, total=None, good_checksum=True):
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (offset // 8)
    total = 20 + len(options) + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, total, ident, flags, ttl, proto, 0,
                      ip(src), ip(dst)) + options
    c = csum(hdr)
    if not good_checksum:
        c ^= 0x5555
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def icmp(kind, code, rest, data):
    msg = struct.pack("!BBH", kind, code, 0) + rest + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def echo(ident, seq, data, kind=8):
    return icmp(kind, 0, struct.pack("!HH", ident, seq), data)


def udp(src, dst, sport, dport, data):
    length = 8 + len(data)
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 17, length)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + data
    c = csum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp_syn(src, dst, sport, dport):
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 6, len(seg))
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def pad60(frame):
    """Pad to the Ethernet minimum, as a NIC delivers short frames."""
    return frame + b"\0" * max(0, 60 - len(frame))


PING_DATA = bytes(range(0x10, 0x38))  # 40 bytes, like iputils ping after its timestamp

# --- frames -----------------------------------------------------------------------------------

arp_request = pad60(eth(BCAST, H1_MAC, 0x0806,
                        arp(1, H1_MAC, "10.0.1.2", bytes(6), "10.0.1.1")))
# The router's own request for the default gateway, answered.
arp_reply_gw1 = pad60(eth(R_ETH1, GW1_MAC, 0x0806,
                          arp(2, GW1_MAC, "10.0.2.254", R_ETH1, "10.0.2.1")))
arp_reply_gw0 = pad60(eth(R_ETH0, GW0_MAC, 0x0806,
                          arp(2, GW0_MAC, "10.0.1.254", R_ETH0, "10.0.1.1")))
arp_reply_h2 = pad60(eth(R_ETH1, H2_MAC, 0x0806,
                         arp(2, H2_MAC, "10.0.2.5", R_ETH1, "10.0.2.1")))
arp_reply_h1 = pad60(eth(R_ETH0, H1_MAC, 0x0806,
                         arp(2, H1_MAC, "10.0.1.2", R_ETH0, "10.0.1.1")))
gratuitous = pad60(eth(BCAST, H2_MAC, 0x0806,
                       arp(1, H2_MAC, "10.0.2.5", bytes(6), "10.0.2.5")))
arp_probe = pad60(eth(BCAST, H2_MAC, 0x0806,
                      arp(1, H2_MAC, "0.0.0.0", bytes(6), "10.0.2.1")))

echo_request = eth(R_ETH0, H1_MAC, 0x0800,
                   ipv4("10.0.1.2", "10.0.1.1", 1, echo(0x5348, 1, PING_DATA)))
echo_far_iface = eth(R_ETH0, H1_MAC, 0x0800,
                     ipv4("10.0.1.2", "10.0.2.1", 1, echo(0x5348, 2, PING_DATA)))
echo_broadcast = eth(BCAST, H1_MAC, 0x0800,
                     ipv4("10.0.1.2", "10.0.1.255", 1, echo(0x5348, 3, PING_DATA)))
echo_reply_in = eth(R_ETH0, H1_MAC, 0x0800,
                    ipv4("10.0.1.2", "10.0.1.1", 1, echo(0x5348, 1, PING_DATA, kind=0)))

# Linux traceroute's first probe: UDP to 33434, TTL 1, 32 bytes of payload.
traceroute_ttl1 = eth(R_ETH0, H1_MAC, 0x0800,
                      ipv4("10.0.1.2", "8.8.8.8", 17,
                           udp("10.0.1.2", "8.8.8.8", 40000, 33434, bytes(32)),
                           ttl=1, df=False, ident=0x4001))
traceroute_router = eth(R_ETH0, H1_MAC, 0x0800,
                        ipv4("10.0.1.2", "10.0.1.1", 17,
                             udp("10.0.1.2", "10.0.1.1", 40000, 33435, bytes(32)),
                             ttl=2, df=False))

udp_forward_default = eth(R_ETH0, H1_MAC, 0x0800,
                          ipv4("10.0.1.2", "8.8.8.8", 17,
                               udp("10.0.1.2", "8.8.8.8", 53000, 53, b"\x12\x34" + bytes(30))))
udp_forward_gw0 = eth(R_ETH1, H2_MAC, 0x0800,
                      ipv4("10.0.2.5", "192.168.7.9", 17,
                           udp("10.0.2.5", "192.168.7.9", 5000, 6000, b"hello")))
udp_connected = eth(R_ETH1, H2_MAC, 0x0800,
                    ipv4("10.0.2.5", "10.0.1.2", 17,
                         udp("10.0.2.5", "10.0.1.2", 5000, 6000, b"direct")))
udp_echo_port = eth(R_ETH0, H1_MAC, 0x0800,
                    ipv4("10.0.1.2", "10.0.1.1", 17, udp("10.0.1.2", "10.0.1.1", 40001, 7, b"x")))
tcp_to_router = eth(R_ETH0, H1_MAC, 0x0800,
                    ipv4("10.0.1.2", "10.0.1.1", 6, tcp_syn("10.0.1.2", "10.0.1.1", 40002, 22)))
gre_to_router = eth(R_ETH0, H1_MAC, 0x0800,
                    ipv4("10.0.1.2", "10.0.1.1", 47, bytes(4)))
to_blackhole = eth(R_ETH0, H1_MAC, 0x0800,
                   ipv4("10.0.1.2", "198.51.100.1", 17,
                        udp("10.0.1.2", "198.51.100.1", 1, 2, b"")))
to_unreachable = eth(R_ETH0, H1_MAC, 0x0800,
                     ipv4("10.0.1.2", "203.0.113.1", 17,
                          udp("10.0.1.2", "203.0.113.1", 1, 2, b"")))
to_prohibit = eth(R_ETH0, H1_MAC, 0x0800,
                  ipv4("10.0.1.2", "203.0.113.200", 1, echo(1, 1, b"")))

# Big enough to need fragmenting onto eth1 (MTU 576): DF clear is split, DF set is refused.
big_no_df = eth(R_ETH0, H1_MAC, 0x0800,
                ipv4("10.0.1.2", "8.8.8.8", 17,
                     udp("10.0.1.2", "8.8.8.8", 40003, 9, bytes(range(256)) * 4), df=False))
big_df = eth(R_ETH0, H1_MAC, 0x0800,
             ipv4("10.0.1.2", "8.8.8.8", 1, echo(0x5348, 4, bytes(1000))))

# ping -R: record route option (type 7, 39 bytes, pointer 4) plus an End of Option List.
record_route = bytes([7, 39, 4]) + bytes(36) + b"\0"
echo_rr = eth(R_ETH0, H1_MAC, 0x0800,
              ipv4("10.0.1.2", "10.0.1.1", 1, echo(0x5348, 5, PING_DATA), options=record_route))
forward_rr = eth(R_ETH0, H1_MAC, 0x0800,
                 ipv4("10.0.1.2", "8.8.8.8", 1, echo(0x5348, 6, PING_DATA), options=record_route))
# Security option (copied flag set, RFC 1108 style) on a packet that will be fragmented.
security = bytes([130, 11]) + bytes(9) + b"\0"
big_with_options = eth(R_ETH0, H1_MAC, 0x0800,
                       ipv4("10.0.1.2", "8.8.8.8", 17,
                            udp("10.0.1.2", "8.8.8.8", 40004, 9, bytes(900)),
                            df=False, options=security))
lsrr = bytes([131, 7, 4]) + ip("10.0.2.254") + b"\0"
source_routed = eth(R_ETH0, H1_MAC, 0x0800,
                    ipv4("10.0.1.2", "8.8.8.8", 1, echo(1, 1, b""), options=lsrr))

# A first fragment and a later one, forwarded; and a fragment addressed to the router.
frag_payload = udp("10.0.1.2", "8.8.8.8", 40005, 9, bytes(64))
frag_first = eth(R_ETH0, H1_MAC, 0x0800,
                 ipv4("10.0.1.2", "8.8.8.8", 17, frag_payload[:48], df=False, mf=True,
                      ident=0x7777))
frag_last = eth(R_ETH0, H1_MAC, 0x0800,
                ipv4("10.0.1.2", "8.8.8.8", 17, frag_payload[48:], df=False, offset=48,
                     ident=0x7777))
frag_local = eth(R_ETH0, H1_MAC, 0x0800,
                 ipv4("10.0.1.2", "10.0.1.1", 1, echo(1, 1, bytes(32))[:24], df=False, mf=True))
frag_ttl1 = eth(R_ETH0, H1_MAC, 0x0800,
                ipv4("10.0.1.2", "8.8.8.8", 17, frag_payload[48:], df=False, offset=48,
                     ident=0x7778, ttl=1))

vlan_tagged = eth(R_ETH0, H1_MAC, 0x0800,
                  ipv4("10.0.1.2", "10.0.1.1", 1, echo(0x5348, 7, PING_DATA)), vlan=100)
vlan_arp = pad60(eth(BCAST, H1_MAC, 0x0806,
                     arp(1, H1_MAC, "10.0.1.2", bytes(6), "10.0.1.1"), vlan=100))

truncated_ip = echo_request[:30]  # cut inside the IPv4 header
truncated_total = echo_request[:60]  # total length promises more than the frame holds
runt = echo_request[:10]  # not even an Ethernet header
bad_checksum = eth(R_ETH0, H1_MAC, 0x0800,
                   ipv4("10.0.1.2", "10.0.1.1", 1, echo(0x5348, 8, PING_DATA),
                        good_checksum=False))
martian_src = eth(R_ETH0, H1_MAC, 0x0800,
                  ipv4("127.0.0.1", "8.8.8.8", 1, echo(1, 1, b"")))
other_host = eth(H2_MAC, H1_MAC, 0x0800,
                 ipv4("10.0.1.2", "8.8.8.8", 1, echo(1, 1, b"")))
ipv6 = eth(R_ETH0, H1_MAC, 0x86DD, bytes([0x60]) + bytes(39))

# An ICMP error coming back through the router (port unreachable quoting a probe).
quoted = ipv4("192.168.7.9", "10.0.2.5", 17, udp("192.168.7.9", "10.0.2.5", 6000, 5000, b""))
icmp_error_fwd = eth(R_ETH0, GW0_MAC, 0x0800,
                     ipv4("192.168.7.9", "10.0.2.5", 1, icmp(3, 3, bytes(4), quoted)))

# --- scenarios --------------------------------------------------------------------------------


def rec(frame, iface=0, dt=0, fix=True, end=False):
    ctl = (CTL_IFACE1 if iface else 0) | (CTL_FIX if fix else 0) | (CTL_END if end else 0)
    return struct.pack("<HBB", len(frame), ctl, dt) + frame


SINGLE = {
    "arp-request": (arp_request, 0),
    "arp-reply-unsolicited": (arp_reply_gw1, 1),
    "arp-gratuitous": (gratuitous, 1),
    "arp-probe": (arp_probe, 1),
    "echo-request": (echo_request, 0),
    "echo-far-iface": (echo_far_iface, 0),
    "echo-broadcast": (echo_broadcast, 0),
    "echo-reply-delivered": (echo_reply_in, 0),
    "traceroute-ttl1": (traceroute_ttl1, 0),
    "traceroute-router": (traceroute_router, 0),
    "udp-echo-port": (udp_echo_port, 0),
    "tcp-to-router": (tcp_to_router, 0),
    "protocol-unreachable": (gre_to_router, 0),
    "blackhole": (to_blackhole, 0),
    "unreachable": (to_unreachable, 0),
    "prohibit": (to_prohibit, 0),
    "ip-options-rr": (echo_rr, 0),
    "ip-options-lsrr": (source_routed, 0),
    "fragment-local": (frag_local, 0),
    "fragment-ttl1": (frag_ttl1, 0),
    "vlan-tagged": (vlan_tagged, 0),
    "vlan-arp": (vlan_arp, 0),
    "truncated-ip-header": (truncated_ip, 0),
    "truncated-total-len": (truncated_total, 0),
    "runt": (runt, 0),
    "martian-source": (martian_src, 0),
    "other-host": (other_host, 0),
    "ipv6": (ipv6, 0),
}

SCENARIOS = {
    # Forwarded UDP: queued behind ARP for the default gateway, released by its reply.
    "forward-udp-resolved": [
        rec(udp_forward_default), rec(arp_reply_gw1, iface=1, dt=5, end=True),
        rec(udp_forward_default, dt=10),
    ],
    # The same, but nobody answers: three requests, then host unreachable back to h1, which
    # itself waits for h1's MAC.
    "forward-udp-unresolved": [
        rec(udp_forward_default), rec(udp_forward_default, dt=200),
        rec(arp_reply_h1, dt=240),
    ],
    "forward-eth1-to-eth0": [
        rec(udp_forward_gw0, iface=1), rec(arp_reply_gw0, dt=3), rec(udp_connected, iface=1),
        rec(arp_reply_h1, dt=1),
    ],
    "fragment-forward": [
        rec(frag_first), rec(frag_last), rec(arp_reply_gw1, iface=1, dt=2),
    ],
    # Replies only count when solicited (Linux's arp_accept=0), so each follows the packet
    # that made the router ask.
    "fragmentation-needed": [
        rec(big_no_df), rec(arp_reply_gw1, iface=1, dt=1), rec(big_df), rec(big_with_options),
        rec(arp_reply_h1, dt=1),
    ],
    "ip-options-forward": [rec(forward_rr), rec(arp_reply_gw1, iface=1, dt=1)],
    "icmp-error-forward": [rec(icmp_error_fwd), rec(arp_reply_h2, iface=1, dt=1)],
    "echo-then-arp": [
        rec(echo_request), rec(echo_request, dt=1), rec(arp_reply_h1, dt=2),
        rec(echo_request, dt=3),
    ],
    "bad-checksum": [rec(bad_checksum, fix=False)],
    # Everything at once, in batches, with the clock running past ARP timeouts and aging.
    "everything": [
        rec(arp_request), rec(echo_request), rec(traceroute_ttl1), rec(udp_forward_default),
        rec(udp_forward_gw0, iface=1, end=True), rec(arp_reply_gw1, iface=1, dt=3),
        rec(echo_rr, dt=1), rec(frag_first), rec(frag_last), rec(big_no_df), rec(vlan_tagged),
        rec(truncated_ip), rec(to_unreachable, end=True), rec(udp_echo_port, dt=160),
        rec(gratuitous, iface=1, dt=255), rec(echo_far_iface, dt=255),
    ],
}

WIRE = {name: frame for name, (frame, _) in SINGLE.items()} | {
    "arp-reply": arp_reply_gw1,
    "udp-forward": udp_forward_default,
    "fragment-first": frag_first,
    "fragment-last": frag_last,
    "big-no-df": big_no_df,
    "ip-options-security": big_with_options,
    "icmp-error": icmp_error_fwd,
    "bad-checksum": bad_checksum,
}


def write(directory, name, data):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"seed-{name}").write_bytes(data)


def main():
    for d in (ROOT / "process", ROOT / "wire"):
        for old in d.glob("seed-*"):
            old.unlink()
    for name, (frame, iface) in SINGLE.items():
        write(ROOT / "process", name, rec(frame, iface=iface))
    for name, records in SCENARIOS.items():
        write(ROOT / "process", name, b"".join(records))
    for name, frame in WIRE.items():
        write(ROOT / "wire", name, frame)
    count = len(SINGLE) + len(SCENARIOS) + len(WIRE)
    print(f"wrote {count} seeds under {ROOT}")


if __name__ == "__main__":
    main()
