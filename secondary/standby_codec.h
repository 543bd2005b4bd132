/* The advertisement two gateways of one LAN send each other over the LAN (docs/standby.md):
 * which of them holds the LAN address, and with which priority. Eight bytes in one UDP
 * datagram, read with the bounds-checked reader; anything else is not an advertisement. */
#ifndef INSEL_STANDBY_CODEC_H
#define INSEL_STANDBY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define STANDBY_ADVERT_LEN 8
#define STANDBY_ADVERT_VERSION 1

enum standby_role {
	STANDBY_ROLE_STANDBY = 0,   /* waiting; does not hold the LAN address */
	STANDBY_ROLE_ACTIVE = 1,    /* holds the LAN address and serves the LAN */
	STANDBY_ROLE_RESIGNING = 2, /* let the address go (stopped or died): take it now */
};

struct standby_advert {
	uint8_t priority;           /* 1..254: the higher wins */
	enum standby_role role;
};

/* Writes the advertisement into out (STANDBY_ADVERT_LEN bytes). */
void standby_advert_encode(const struct standby_advert *a, uint8_t out[STANDBY_ADVERT_LEN]);
/* 0, or INSEL_E_BAD_FIELD (wrong length, magic, version, role or priority); out is
 * untouched on failure. */
int standby_advert_decode(const uint8_t *data, size_t len, struct standby_advert *out);

#endif
