/* The standby advertisement's wire form: "INSB", version, priority, role, one zero byte.
 * It is read from the LAN, so every byte is checked. */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "standby_codec.h"

static const uint8_t magic[4] = {'I', 'N', 'S', 'B'};

void standby_advert_encode(const struct standby_advert *a, uint8_t out[STANDBY_ADVERT_LEN])
{
	memcpy(out, magic, sizeof magic);
	out[4] = STANDBY_ADVERT_VERSION;
	out[5] = a->priority;
	out[6] = (uint8_t)a->role;
	out[7] = 0;
}

int standby_advert_decode(const uint8_t *data, size_t len, struct standby_advert *out)
{
	struct buf_reader r;
	uint8_t got[4], version = 0, priority = 0, role = 0, zero = 1;

	br_init(&r, data, len);
	br_copy(&r, got, sizeof got);
	br_u8(&r, &version);
	br_u8(&r, &priority);
	br_u8(&r, &role);
	br_u8(&r, &zero);
	if (br_error(&r) || br_remaining(&r) || memcmp(got, magic, sizeof magic) ||
	    version != STANDBY_ADVERT_VERSION || priority == 0 || priority == 255 ||
	    role > STANDBY_ROLE_RESIGNING || zero != 0)
		return INSEL_E_BAD_FIELD;
	out->priority = priority;
	out->role = (enum standby_role)role;
	return 0;
}
