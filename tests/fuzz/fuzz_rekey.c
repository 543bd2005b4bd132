/* libFuzzer target: the messages of the key exchanges within calls (rekey.h). The input
 * is read as a peer's "rekey" request and answer, and as the auxiliary's "rekey" control
 * request for 1 to 8 channels. A request that parses must give keys that encode and
 * parse again to the same keys; a public key that parses is run through a responder's
 * whole path (refused or answered, never a crash). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rekey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void install_round_trip(const json_t *j, size_t nchannels)
{
	struct rekey_keys keys, back;
	json_t *copy = json_deep_copy(j), *again;
	bool send_now = false, send_again = false;

	if (!copy || rekey_install_from_json(copy, nchannels, &keys, &send_now) != 0) {
		json_decref(copy);
		return;
	}
	again = json_object();
	if (!again || rekey_install_to_json(&keys, send_now, again) != 0)
		abort();
	if (rekey_install_from_json(again, nchannels, &back, &send_again) != 0 ||
	    send_again != send_now || back.epoch != keys.epoch ||
	    memcmp(back.send, keys.send, sizeof keys.send) != 0 ||
	    memcmp(back.recv, keys.recv, sizeof keys.recv) != 0)
		abort();
	rekey_keys_wipe(&keys);
	rekey_keys_wipe(&back);
	json_decref(again);
	json_decref(copy);
}

static void responder_path(uint32_t epoch, const uint8_t pub[32])
{
	struct rekey r;
	struct rekey_keys keys;
	uint8_t chain[REKEY_CHAIN_LEN] = {0}, answer[32];
	int rc;

	rekey_init(&r, false, 1, 2, chain, 0, 0);
	rc = rekey_respond(&r, epoch, pub, 0, answer, &keys);
	if (rc != 0 && rc != INSEL_E_REPLAY && rc != INSEL_E_CRYPTO)
		abort();
	if (rc == 0 && rekey_commit(&r, epoch, 0) != 0)
		abort();
	rekey_wipe(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	uint8_t pub[32];
	uint32_t epoch;

	if (!j)
		return 0;
	if (rekey_public_from_json(j, &epoch, pub) == 0)
		responder_path(epoch, pub);
	rekey_public_from_json(j, NULL, pub);
	for (size_t n = 1; n <= SEC_MAX_CHANNELS; n++)
		install_round_trip(j, n);
	json_decref(j);
	return 0;
}
