/* The attach hello between a LAN party and its auxiliary's reliable channel, and the
 * file header of insel send-file (see stream_attach.h). */
#include "stream_attach.h"

#include <gnutls/gnutls.h>
#include <string.h>

#include "buf.h"
#include "err.h"

bool stream_verb_valid(int verb)
{
	return verb == STREAM_VERB_DUPLEX || verb == STREAM_VERB_SEND || verb == STREAM_VERB_RECV ||
	       verb == STREAM_VERB_CLOSE || verb == STREAM_VERB_ABORT || verb == STREAM_VERB_STATUS;
}

void stream_hello_encode(const struct stream_hello *h, uint8_t out[STREAM_HELLO_LEN])
{
	struct buf_writer w;

	bw_init(&w, out, STREAM_HELLO_LEN);
	bw_bytes(&w, STREAM_ATTACH_MAGIC, 4);
	bw_u8(&w, STREAM_ATTACH_VERSION);
	bw_u8(&w, (uint8_t)h->verb);
	bw_bytes(&w, h->token, STREAM_TOKEN_LEN);
}

int stream_hello_decode(const uint8_t *in, size_t len, struct stream_hello *out)
{
	struct buf_reader r;
	const uint8_t *magic;
	uint8_t version, verb;
	struct stream_hello h;

	br_init(&r, in, len);
	br_view(&r, &magic, 4);
	br_u8(&r, &version);
	br_u8(&r, &verb);
	br_copy(&r, h.token, sizeof h.token);
	if (br_error(&r))
		return INSEL_E_TRUNCATED;
	if (memcmp(magic, STREAM_ATTACH_MAGIC, 4) != 0 || version != STREAM_ATTACH_VERSION ||
	    !stream_verb_valid(verb) || br_remaining(&r) != 0)
		return INSEL_E_MALFORMED;
	h.verb = (enum stream_verb)verb;
	*out = h;
	return 0;
}

bool stream_token_equal(const uint8_t a[STREAM_TOKEN_LEN], const uint8_t b[STREAM_TOKEN_LEN])
{
	return gnutls_memcmp(a, b, STREAM_TOKEN_LEN) == 0;
}

const char *stream_status_text(int status)
{
	switch (status) {
	case STREAM_ATTACH_OK:
		return "attached";
	case STREAM_ATTACH_BAD_TOKEN:
		return "the gateway refused the connection's token";
	case STREAM_ATTACH_BUSY:
		return "another command is using the connection";
	case STREAM_ATTACH_ENDED:
		return "the connection has ended";
	case STREAM_ATTACH_FAILED:
		return "the peer did not acknowledge the end of the stream; the connection was "
		       "aborted";
	default:
		return "the gateway answered with an unknown status";
	}
}

static bool base_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > STREAM_FILE_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

int stream_file_header_encode(const struct stream_file_header *h,
			      uint8_t out[STREAM_FILE_HEADER_MAX])
{
	size_t len = strnlen(h->name, sizeof h->name);
	struct buf_writer w;

	if (len > STREAM_FILE_NAME_MAX || !base_name_valid(h->name, len))
		return INSEL_E_BAD_FIELD;
	bw_init(&w, out, STREAM_FILE_HEADER_MAX);
	bw_bytes(&w, STREAM_FILE_MAGIC, 4);
	bw_u64(&w, h->size);
	bw_u16(&w, (uint16_t)len);
	bw_bytes(&w, h->name, len);
	return bw_error(&w) ? INSEL_E_BAD_FIELD : (int)bw_len(&w);
}

int stream_file_header_decode(const uint8_t *in, size_t len, struct stream_file_header *out)
{
	struct buf_reader r;
	const uint8_t *magic, *name;
	struct stream_file_header h;
	uint16_t name_len;

	br_init(&r, in, len);
	if (br_view(&r, &magic, 4) == 0 && memcmp(magic, STREAM_FILE_MAGIC, 4) != 0)
		return INSEL_E_MALFORMED;
	br_u64(&r, &h.size);
	br_u16(&r, &name_len);
	if (br_error(&r))
		return 0;
	if (name_len == 0 || name_len > STREAM_FILE_NAME_MAX)
		return INSEL_E_MALFORMED;
	if (br_view(&r, &name, name_len))
		return 0;
	memcpy(h.name, name, name_len);
	h.name[name_len] = '\0';
	if (!base_name_valid(h.name, name_len) || memchr(name, 0, name_len))
		return INSEL_E_MALFORMED;
	*out = h;
	return (int)br_offset(&r);
}
