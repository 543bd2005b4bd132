/* libFuzzer target: the control-message framer and JSON decoder, fed the input in two
 * chunks split where the first byte says, then the validating getters on what decodes. */
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inspect(void *ctx, json_t *msg, int err)
{
	const char *s;
	json_int_t i;
	json_t *v;
	bool b;

	(void)ctx;
	if (!msg)
		return 0;
	msg_id(msg);
	msg_op(msg);
	msg_reply_is_ok(msg, &s, &s);
	msg_get_str(msg, "name", &s);
	msg_get_int(msg, "port", 1, 65535, &i);
	msg_get_bool_opt(msg, "auto", false, &b);
	msg_get_array(msg, "prefixes", 16, &v);
	msg_get_object(msg, "error", &v);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_reader r;
	size_t split;

	if (size == 0)
		return 0;
	split = data[0] % size;
	msg_reader_init(&r, 4096);
	msg_reader_feed(&r, data + 1, split, inspect, NULL);
	msg_reader_feed(&r, data + 1 + split, size - 1 - split, inspect, NULL);
	msg_reader_free(&r);
	return 0;
}
