/* How a LAN party reaches the reliable channel its gateway's auxiliary hosts
 * (docs/reliable.md, "Attaching"): a TCP connection to the call's LAN endpoint that opens
 * with a fixed 38-byte hello — magic "ISTR", version 1, a verb, and the channel's 32-byte
 * token (the party got it in its call object over its TLS session with the gateway) — and
 * gets one status byte back. After STREAM_ATTACH_OK the connection carries the stream's
 * bytes (ordered) or messages framed as a 4-byte big-endian length and the message
 * (unordered), as the verb says.
 *
 * Spoken by two roles (insel, insel-auxiliary), so its codec lives here; it also holds
 * the header insel send-file puts in front of a file (parsed by the receiving insel from
 * bytes the peer chose). Every parser reads through buf.h and has a fuzz target
 * (tests/fuzz/fuzz_stream_attach.c). */
#ifndef INSEL_STREAM_ATTACH_H
#define INSEL_STREAM_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_ATTACH_MAGIC "ISTR"
#define STREAM_ATTACH_VERSION 1
#define STREAM_TOKEN_LEN 32
#define STREAM_HELLO_LEN (4 + 1 + 1 + STREAM_TOKEN_LEN)

/* What the attaching party wants. */
enum stream_verb {
	STREAM_VERB_DUPLEX = 'D',  /* both ways; its end of file finishes our stream (FIN) */
	STREAM_VERB_SEND = 'S',    /* bytes to the peer; its end of file only detaches */
	STREAM_VERB_RECV = 'R',    /* what the peer sent; closing it only detaches */
	STREAM_VERB_CLOSE = 'C',   /* finish: drain, FIN, wait; the status byte says how */
	STREAM_VERB_ABORT = 'A',   /* end at once, data discarded both sides */
	STREAM_VERB_STATUS = 'Q',  /* one line of JSON: the engine's counters */
};

/* The status byte. */
enum stream_status {
	STREAM_ATTACH_OK = 0,
	STREAM_ATTACH_BAD_TOKEN = 1,   /* the token or the hello is wrong */
	STREAM_ATTACH_BUSY = 2,        /* another attachment reads or writes now */
	STREAM_ATTACH_ENDED = 3,       /* the connection has ended (aborted, timed out) */
	STREAM_ATTACH_FAILED = 4,      /* close: the peer never acknowledged, aborted */
};

struct stream_hello {
	enum stream_verb verb;
	uint8_t token[STREAM_TOKEN_LEN];
};

bool stream_verb_valid(int verb);
/* Writes the hello into out (STREAM_HELLO_LEN bytes). */
void stream_hello_encode(const struct stream_hello *h, uint8_t out[STREAM_HELLO_LEN]);
/* 0, or INSEL_E_TRUNCATED / INSEL_E_MALFORMED (magic, version, verb); *out untouched
 * on failure. */
int stream_hello_decode(const uint8_t *in, size_t len, struct stream_hello *out);
/* Whether the token is the channel's, in constant time. */
bool stream_token_equal(const uint8_t a[STREAM_TOKEN_LEN], const uint8_t b[STREAM_TOKEN_LEN]);
/* A sentence for a status byte. */
const char *stream_status_text(int status);

/* The file header of insel send-file: magic "IFIL", the size (8 bytes BE), the name's
 * length (2 bytes BE, 1..STREAM_FILE_NAME_MAX) and the name (a base name: no '/', not
 * "." or "..", no NUL or control character). After the file's bytes the receiver sends
 * back the SHA-256 of what it wrote (32 bytes). */
#define STREAM_FILE_MAGIC "IFIL"
#define STREAM_FILE_NAME_MAX 255
#define STREAM_FILE_HEADER_MAX (4 + 8 + 2 + STREAM_FILE_NAME_MAX)
#define STREAM_DIGEST_LEN 32
struct stream_file_header {
	uint64_t size;
	char name[STREAM_FILE_NAME_MAX + 1];
};
/* The header's length in out (at most STREAM_FILE_HEADER_MAX), or INSEL_E_BAD_FIELD for
 * a name that is not a plain base name. */
int stream_file_header_encode(const struct stream_file_header *h,
			      uint8_t out[STREAM_FILE_HEADER_MAX]);
/* From the first len bytes of a stream: the header's length (> 0) with *out set, 0 when
 * more bytes are needed, INSEL_E_MALFORMED when it is not a valid header. */
int stream_file_header_decode(const uint8_t *in, size_t len, struct stream_file_header *out);

#endif
