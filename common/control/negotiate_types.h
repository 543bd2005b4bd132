/* What a caller asks of a negotiation: cipher and compression preferences, and the
 * application ports of each channel. Apart from negotiate.h (the offer and answer
 * themselves) because the installed Secsockets header (secsock.h) takes these from
 * applications. */
#ifndef INSEL_NEGOTIATE_TYPES_H
#define INSEL_NEGOTIATE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "chanparams_types.h"

#define NEGOTIATE_MAX_CHOICES 8   /* entries in an offer's cipher or compression list */

/* What one side accepts (the callee: its allowed set) or prefers (the caller: in order). */
struct negotiate_prefs {
	enum sec_cipher ciphers[NEGOTIATE_MAX_CHOICES];
	size_t nciphers;
	enum sec_compress compress[NEGOTIATE_MAX_CHOICES];
	size_t ncompress;
};

struct negotiate_channel {
	uint16_t port;       /* the caller's application port (0: none, e.g. tun) */
	uint16_t peer_port;  /* the callee's application port (0: none) */
};

#endif
