/* libFuzzer target: the relay's REGISTER / REGISTERED codec (relay_wire.h), fed whatever
 * arrives on a relay's port or an auxiliary's WAN socket. Whatever parses must encode
 * and parse again to the same message, and the MAC check must never fail on what the
 * encoder wrote. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t token[RELAY_TOKEN_LEN] = "fuzzing token 16";

static void check_register(const uint8_t *data, size_t size)
{
	struct relay_register m, again;
	uint8_t out[RELAY_REGISTER_MAX];
	int n;

	if (relay_register_parse(data, size, &m) != 0)
		return;
	(void)relay_wire_verify(data, size, token);
	n = relay_register_encode(&m, token, out, sizeof out);
	if (n != (int)size || relay_register_parse(out, (size_t)n, &again) != 0 ||
	    relay_wire_verify(out, (size_t)n, token) != 0 || again.allocation != m.allocation ||
	    again.counter != m.counter || again.leg != m.leg || again.nsessions != m.nsessions ||
	    memcmp(again.sessions, m.sessions, sizeof m.sessions[0] * m.nsessions) ||
	    memcmp(out, data, size - RELAY_MAC_LEN))
		abort();
}

static void check_registered(const uint8_t *data, size_t size)
{
	struct relay_registered m, again;
	uint8_t out[RELAY_REGISTERED_LEN];
	int n;

	if (relay_registered_parse(data, size, &m) != 0)
		return;
	n = relay_registered_encode(&m, token, out, sizeof out);
	if (n != (int)size || relay_registered_parse(out, (size_t)n, &again) != 0 ||
	    relay_wire_verify(out, (size_t)n, token) != 0 || again.allocation != m.allocation ||
	    again.counter != m.counter || again.leg != m.leg || again.nsessions != m.nsessions)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_register(data, size);
	check_registered(data, size);
	return 0;
}
