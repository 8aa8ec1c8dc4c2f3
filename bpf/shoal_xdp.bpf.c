// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * shoal's XDP program: frames addressed to the port (its MAC, broadcast or multicast) go to the
 * AF_XDP socket bound to the receive queue they arrived on; everything else, and every frame of
 * a queue without a socket, goes on to the kernel's stack (XDP_PASS). A switch's port takes
 * every frame (`every_frame`): a bridge port is promiscuous.
 *
 * `port_mac` is read-only data set by the loader before the program is loaded, so the verifier
 * sees a constant and each device gets its own copy of the program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Socket of each receive queue; sized by the loader to the device's queue count. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

const volatile __u8 port_mac[6] = { 0 };
const volatile __u8 every_frame = 0;

SEC("xdp")
int shoal_xdp(struct xdp_md *ctx)
{
	const __u8 *dst = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;

	if (dst + 14 > end)
		return XDP_PASS;
	/* The group bit covers broadcast and multicast. */
	if (!every_frame && !(dst[0] & 1)) {
		for (int i = 0; i < 6; i++)
			if (dst[i] != port_mac[i])
				return XDP_PASS;
	}
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

/* bpf_redirect_map is not GPL-only; the kernel still wants a GPL-compatible string for some
 * helpers, and a dual licence keeps the object loadable everywhere. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
