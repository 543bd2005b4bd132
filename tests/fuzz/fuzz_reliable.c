/* libFuzzer target: the reliable mode's segment parser (reliable_wire.h) and the engine
 * behind it (reliable.h), fed the sealed payloads a peer could send. The first byte picks
 * ordered or unordered mode; the rest is a series of segments, each a 2-byte length and
 * its bytes, delivered a millisecond apart to an engine that has data of its own in
 * flight (so ACKs and SACK blocks have something to act on). A segment that parses must
 * encode back to the same header bytes, every segment the engine sends must parse, and
 * nothing the engine does may crash, leak or return more than it was asked. Segments may
 * be opened in place in the receive buffer, as the auxiliary does (input below). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "reliable.h"
#include "reliable_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_codec(const uint8_t *seg, size_t len)
{
	struct rel_seg s;
	uint8_t hdr[256];
	int n;

	if (rel_seg_decode(seg, len, &s) != 0)
		return;
	n = rel_seg_encode_header(&s, hdr, sizeof(hdr));
	if (n < 0 || (size_t)n + s.len != len || memcmp(hdr, seg, (size_t)n) != 0)
		abort();
}

static bool in_place;  /* the host reads and writes the engine's buffers in place */

static void drain(struct rel_conn *c, uint64_t now)
{
	static uint8_t out[2048], in[REL_MAX_MSG];
	const uint8_t *at, *seg = out;
	struct rel_seg s;
	size_t ready;
	int n;

	/* In place, segments are mostly left in the send buffer (rel_output_view): each,
	 * wherever it lies, must be readable whole and parse. */
	for (int k = 0; k < 64; k++) {
		n = in_place ? rel_output_view(c, now, out, sizeof(out), &seg)
			     : rel_output(c, now, out, sizeof(out));
		if (n <= 0)
			break;
		if ((size_t)n > sizeof(out) || rel_seg_decode(seg, (size_t)n, &s) != 0)
			abort();
	}
	while (in_place && (ready = rel_recv_peek(c, &at)) > 0) {
		ready = ready < sizeof(in) ? ready : sizeof(in);
		memcpy(in, at, ready);  /* inside the receive buffer, or ASan says so */
		rel_recv_consume(c, ready);
	}
	while ((n = rel_recv(c, in, sizeof(in))) > 0)
		if ((size_t)n > sizeof(in))
			abort();
}

/* A segment as the host gives it: from its own buffer or, with bit 32 of the first
 * byte, opened into the room the engine offers in its receive buffer (rel_input_room:
 * ASan checks the room is inside it); with bit 64 a forgery is opened there first and
 * given back (rel_input_unroom). */
static void input(struct rel_conn *c, uint8_t mode, const uint8_t *seg, size_t len,
		  uint64_t now)
{
	uint8_t *room = (mode & 32) ? rel_input_room(c, len) : NULL;

	if (room && (mode & 64)) {
		memset(room, 0xa5, len);
		rel_input_unroom(c);
		room = rel_input_room(c, len);
	}
	if (!room) {
		(void)rel_input(c, seg, len, now);
		return;
	}
	memcpy(room, seg, len);
	(void)rel_input(c, room, len, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rel_params p = { .conn_id = 1, .mss = 1350, .snd_buf = REL_MIN_BUF,
				.rcv_buf = REL_MIN_BUF };
	static uint8_t msg[4000];
	struct rel_conn *c;
	uint64_t now = 1000;
	size_t off = 1;
	int err;

	if (size < 1)
		return 0;
	p.unordered = data[0] & 1;
	c = rel_new(&p, now, &err);
	if (!c)
		abort();
	in_place = data[0] & 16;
	for (int i = 0; i < 6; i++) {
		uint8_t *at;
		size_t room = rel_send_room(c, &at);

		if (!in_place || room < sizeof(msg)) {
			(void)rel_send(c, msg, sizeof(msg));
			continue;
		}
		memset(at, i, sizeof(msg));  /* inside the send buffer, or ASan says so */
		if (rel_send_commit(c, sizeof(msg)) != (int)sizeof(msg))
			abort();
	}
	drain(c, now);
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		check_codec(data + off, len);
		if (data[0] & 8)  /* a host that follows the path MTU, within out's 2048 */
			(void)rel_set_mss(c, REL_MIN_MSS + (uint32_t)(len % (2048 - REL_MIN_MSS + 1)));
		input(c, data[0], data + off, len, now);
		now += 1000;
		drain(c, now);
		off += len;
		if (data[0] & 2)
			rel_close(c, now);
	}
	if (data[0] & 4)
		rel_abort(c);
	drain(c, now + 60000000);
	rel_free(c);
	return 0;
}
