/* The codec of the reliable mode's segments (reliable.h): what goes inside the sealed
 * payload of a DATA frame on a channel in reliable mode. Byte by byte in docs/frames.md,
 * "Reliable payload". All integers big-endian.
 *
 *   0  1  version      REL_WIRE_VERSION
 *   1  1  flags        REL_F_*; undefined bits must be 0
 *   2  1  nsack        SACK blocks that follow the fixed header, 0..REL_MAX_SACK
 *   3  1  zero
 *   4  4  conn id
 *   8  8  ack          every byte below it was received (cumulative)
 *  16  4  window       bytes the sender of this segment can take from ack on
 *  20  8n sack blocks  each: start - ack (4, > 0), length (4, > 0); ascending, apart
 *  then, with REL_F_SEQ:
 *      8  seq          sequence number of the first payload byte
 *      with REL_F_MSG: 4 msg_off (of this payload in its message), 4 msg_len
 *      the payload: the rest
 * Parsing goes through buf.h's reader; it checks structure only (the engine checks the
 * numbers against its state). */
#ifndef INSEL_RELIABLE_WIRE_H
#define INSEL_RELIABLE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define REL_WIRE_VERSION 1
#define REL_MAX_SACK 8
#define REL_HDR_LEN 20u            /* version .. window */
#define REL_SACK_LEN 8u
#define REL_SEQ_LEN 8u
#define REL_MSG_LEN 8u
/* The longest header: every field, every SACK block. */
#define REL_MAX_HEADER (REL_HDR_LEN + REL_MAX_SACK * REL_SACK_LEN + REL_SEQ_LEN + REL_MSG_LEN)

#define REL_F_SEQ 0x01             /* carries seq and a payload (maybe empty with FIN) */
#define REL_F_FIN 0x02             /* the stream ends after this payload; needs SEQ */
#define REL_F_RST 0x04             /* the sender aborted the connection */
#define REL_F_ACK_REQ 0x08         /* answer with an ACK at once (probes, keep-alives) */
#define REL_F_MSG 0x10             /* unordered: msg_off and msg_len follow seq; needs SEQ
				    * and a non-empty payload */
#define REL_F_ALL 0x1f

struct rel_sack {
	uint64_t start, end;       /* absolute, start < end */
};

struct rel_seg {
	uint8_t flags;
	uint8_t nsack;
	uint32_t conn_id;
	uint64_t ack;
	uint32_t window;
	struct rel_sack sack[REL_MAX_SACK];
	uint64_t seq;              /* with REL_F_SEQ */
	uint32_t msg_off, msg_len; /* with REL_F_MSG */
	const uint8_t *data;       /* the payload, inside the decoded buffer */
	size_t len;
};

/* Bytes before the payload for this segment's flags and nsack. */
size_t rel_seg_header_len(const struct rel_seg *s);
/* Writes everything but the payload: the header's length, or INSEL_E_NOSPACE,
 * INSEL_E_BAD_FIELD (blocks or flags that break the rules above). */
int rel_seg_encode_header(const struct rel_seg *s, uint8_t *out, size_t cap);
/* Parses one segment; s->data points into payload. 0, INSEL_E_TRUNCATED,
 * INSEL_E_MALFORMED (version, flags, blocks out of order or overflowing, MSG fields that
 * do not fit the message, a length over REL_MAX_MSG). */
int rel_seg_decode(const uint8_t *payload, size_t len, struct rel_seg *s);

#endif
