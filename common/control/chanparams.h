/* What a negotiation produces and a data channel consumes: everything the auxiliary needs
 * to carry one channel of one call, and nothing more (no long-term key ever appears here).
 * The secondary negotiates these over TLS (tls.h / secsock.h), then hands them to the
 * auxiliary (channel.h) over its control socket; chanparams_to_json/from_json are that
 * hand-over's wire form. */
#ifndef INSEL_CHANPARAMS_H
#define INSEL_CHANPARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "chanparams_types.h"

/* Wire form for the parent->auxiliary hand-over (keys hex-encoded). */
json_t *chanparams_to_json(const struct sec_channel_params *p);
/* 0, or INSEL_E_BAD_FIELD with msg_field_error() set. */
int chanparams_from_json(const json_t *j, struct sec_channel_params *out);
/* Wipes the keys. */
void chanparams_wipe(struct sec_channel_params *p);
/* Field by field (the codecs' round-trip tests and fuzz targets). */
bool chanparams_equal(const struct sec_channel_params *a, const struct sec_channel_params *b);

#endif
