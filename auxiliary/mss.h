/* TCP MSS clamping for network calls: the MSS option of a SYN (or SYN-ACK) that crosses
 * the tunnel is lowered to what the path carries, so that TCP connections opened while
 * the path MTU is known never send a segment the tunnel would have to refuse with ICMP
 * "too big" or cut into fragments. The checksum is updated incrementally (RFC 1624), so
 * it stays right exactly when it was right. Reads through buf.h's bounds-checked reader;
 * nothing allocates. */
#ifndef INSEL_MSS_H
#define INSEL_MSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_PROTO 6
#define TCP_FLAG_SYN 0x02
#define TCP_OPT_END 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define MSS_IPV4_OVERHEAD 40   /* IPv4 + TCP headers without options */
#define MSS_IPV6_OVERHEAD 60   /* IPv6 + TCP headers without options */

/* For the IPv4 or IPv6 packet pkt[0..len) whose TCP header starts at tcp (the IP header
 * length: IPv6 only without extension headers, i.e. tcp = 40 when its next header is
 * TCP): if it is a SYN whose MSS option exceeds mss, writes mss into it and fixes the
 * TCP checksum. Returns true if the packet was changed. Anything else (not TCP, not a
 * SYN, no MSS option, options that do not parse) is left alone. */
bool mss_clamp(uint8_t *pkt, size_t len, size_t tcp, uint16_t mss);

/* Whether pkt[0..len), with its TCP header at tcp, is a SYN (cheap: one byte). */
bool mss_is_syn(const uint8_t *pkt, size_t len, size_t tcp);

#endif
