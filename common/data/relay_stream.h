/* The relay's stream framing (docs/relay.md, "TCP fallback"): where UDP cannot pass at all,
 * an auxiliary reaches the relay over TLS on TCP and sends on that stream exactly the
 * datagrams it would have sent over UDP (REGISTER, frames) and receives exactly those it
 * would have received (REGISTERED, frames). A stream has no datagram boundaries, so each
 * datagram goes as one record: a 2-byte big-endian length (1..65535), then that many
 * bytes. The records are still datagrams: a sender that cannot write now drops them, it
 * never queues without bound.
 *
 * Pure: no I/O. The reader reassembles records from whatever chunks the TLS layer hands
 * over, holding at most one incomplete record, and refuses a zero length (nothing sends
 * one: the stream is then not ours, or corrupt, and is closed). */
#ifndef INSEL_RELAY_STREAM_H
#define INSEL_RELAY_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RELAY_STREAM_PREFIX 2          /* the length before each record */
#define RELAY_STREAM_RECORD_MAX 65535  /* what 2 bytes can say */

/* One complete record: fn returns 0 to go on, anything else stops the feed (returned). */
typedef int (*relay_stream_record_fn)(void *ctx, const uint8_t *record, size_t len);

struct relay_stream_reader {
	struct buf partial;      /* the incomplete record's bytes, prefix included */
	uint64_t records;        /* complete records handed over */
};

void relay_stream_reader_init(struct relay_stream_reader *r);
/* Wipes and frees the partial record. */
void relay_stream_reader_free(struct relay_stream_reader *r);
/* Feeds the next bytes of the stream; every record they complete goes to fn, in order.
 * 0, INSEL_E_MALFORMED (a record of length 0: the stream is to be closed), -ENOMEM, or
 * the nonzero value fn returned. After an error the reader is not to be fed again. */
int relay_stream_feed(struct relay_stream_reader *r, const uint8_t *data, size_t len,
		      relay_stream_record_fn fn, void *ctx);
/* Bytes held for an incomplete record (for stats and tests). */
size_t relay_stream_pending(const struct relay_stream_reader *r);

/* The first complete record at the start of data: its bytes in *record, *record_len.
 * Returns the bytes it takes with its prefix, 0 if data holds no complete record yet,
 * INSEL_E_MALFORMED for a zero length. */
int relay_stream_next(const uint8_t *data, size_t len, const uint8_t **record,
		      size_t *record_len);
/* Writes the prefix of a record of len bytes. 0, or INSEL_E_TOO_BIG when len is 0 or
 * over RELAY_STREAM_RECORD_MAX. */
int relay_stream_prefix(size_t len, uint8_t out[RELAY_STREAM_PREFIX]);
/* The prefix and the record into out (cap bytes): the total written, or INSEL_E_TOO_BIG,
 * INSEL_E_NOSPACE. */
int relay_stream_encode(const uint8_t *record, size_t len, uint8_t *out, size_t cap);

#endif
