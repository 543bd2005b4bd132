/* libFuzzer target: what a secondary reads from an untrusted peer or client when a call is
 * set up (secondary/call_parse.c): a peer's call_request with its channels, tun prefixes
 * and offer (with the peer gateway's addresses, checked against the directory's prefixes),
 * and the directory's LAN list entries. The input is one JSON document. */
#include <stdint.h>
#include <string.h>

#include "call_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct ip_prefix prefixes[SECONDARY_MAX_PREFIXES];
	static struct call call;
	const char *why = NULL;
	const json_t *lan;
	size_t n = 0;

	if (!j)
		return 0;
	memset(&call, 0, sizeof call);
	if (read_call_request(&call, j, &why) != 0 && !why)
		__builtin_trap();  /* every refusal says why */
	if (call.nchannels > SEC_MAX_CHANNELS || call.ntun_local > SECONDARY_MAX_PREFIXES ||
	    call.ntun_remote > SECONDARY_MAX_PREFIXES)
		__builtin_trap();
	json_decref(call.offer);
	lan = directory_lan(j, "lan-b");
	if (lan)
		n = directory_prefixes(lan, prefixes, SECONDARY_MAX_PREFIXES);
	/* The peer's gateway addresses against the directory's prefixes: a gateway outside
	 * every prefix is never accepted. */
	if (gateways_within(&call, prefixes, n) && n == 0 &&
	    (call.has_remote_gateway || call.has_remote_gateway6))
		__builtin_trap();
	json_decref(j);
	return 0;
}
