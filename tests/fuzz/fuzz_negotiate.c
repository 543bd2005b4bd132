/* libFuzzer target: the negotiation parsers (negotiate.h). The input is read as an offer;
 * an offer that parses must lead to an answer that the caller's parser accepts and to
 * mirrored keys, and its candidates must round-trip. The same input is also read as an
 * answer to a fixed offer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negotiate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fixed_export(void *ctx, const char *label, const void *context,
			size_t context_len, void *out, size_t out_len)
{
	(void)ctx;
	(void)label;
	(void)context;
	(void)context_len;
	memset(out, 0x5a, out_len);
	return 0;
}

/* A parsed side has at least one candidate, and its candidates survive a round trip (an
 * offer left with no known compression does not parse again: nothing to compare then). */
static void candidates_round_trip(const struct negotiate_offer *offer)
{
	struct negotiate_offer again;
	json_t *j = negotiate_offer_to_json(offer);
	char err[256];

	if (offer->caller.ncand == 0 || offer->caller.ncand > CAND_MAX)
		abort();
	if (!j)
		return;
	if (negotiate_offer_parse(j, &again, err, sizeof err) != 0) {
		json_decref(j);
		return;
	}
	if (again.caller.ncand != offer->caller.ncand ||
	    again.caller.probe_space != offer->caller.probe_space)
		abort();
	for (size_t i = 0; i < again.caller.ncand; i++)
		if (!candidate_equal(&again.caller.cand[i], &offer->caller.cand[i]))
			abort();
	json_decref(j);
}

/* A parsed offer must survive the callee's whole path, and the caller must accept the
 * answer it produces. */
static void callee_path(const struct negotiate_offer *offer)
{
	struct negotiate_prefs allowed;
	struct negotiate_refusal refusal;
	struct negotiate_side me = {0};
	struct negotiation agreed, back;
	struct sec_channel_params params[SEC_MAX_CHANNELS];
	char err[256];
	json_t *answer;

	negotiate_prefs_default(&allowed);
	negotiate_side_random(&me, offer->nchannels);
	me.endpoint = offer->caller.endpoint;
	me.probe_space = true;
	if (negotiate_choose(offer, &allowed, &me, &agreed, &refusal) != 0)
		return;
	answer = negotiate_answer_to_json(&agreed);
	if (!answer)
		return;
	if (negotiate_answer_parse(answer, offer, &back, err, sizeof err) != 0 ||
	    back.probe_space != offer->caller.probe_space)
		abort();
	if (negotiate_derive(&agreed, false, fixed_export, NULL, params) != 0)
		abort();
	json_decref(answer);
}

static void as_answer(const json_t *j)
{
	static const char offer_text[] =
		"{\"call\":\"00000000000000aa\",\"ciphers\":[\"aes-256-gcm\",\"chacha20-poly1305\"],"
		"\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
		"\"endpoint\":\"127.0.0.1:9\",\"channels\":[{\"session\":1},{\"session\":2}]}";
	json_t *o = json_loads(offer_text, 0, NULL);
	struct negotiate_offer offer;
	struct negotiation n;
	char err[256];

	if (o && negotiate_offer_parse(o, &offer, err, sizeof err) == 0)
		negotiate_answer_parse(j, &offer, &n, err, sizeof err);
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct negotiate_offer offer;
	char err[256];

	if (!j)
		return 0;
	if (negotiate_offer_parse(j, &offer, err, sizeof err) == 0) {
		candidates_round_trip(&offer);
		callee_path(&offer);
	}
	as_answer(j);
	json_decref(j);
	return 0;
}
