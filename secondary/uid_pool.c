/* The per-call uids of auxiliaries: a configured range ([auxiliary] uid_range), one uid
 * taken when an auxiliary is spawned and given back when it has been reaped, so that no
 * two live auxiliaries ever share one (a compromised call cannot signal, trace or read
 * /proc of another call's process). Taken round-robin, so that a uid just given back
 * is the last to be reused. */
#include <errno.h>
#include <string.h>

#include "secondary.h"

void uid_pool_init(struct uid_pool *p, uint32_t first, uint32_t last)
{
	memset(p, 0, sizeof *p);
	p->first = first;
	p->count = last >= first && last - first < UID_POOL_MAX ? last - first + 1 : 0;
}

static bool in_use(const struct uid_pool *p, uint32_t i)
{
	return p->used[i / 8] & (1u << (i % 8));
}

int uid_pool_take(struct uid_pool *p, uint32_t *uid)
{
	for (uint32_t tried = 0; tried < p->count; tried++) {
		uint32_t i = p->next;

		p->next = (p->next + 1) % p->count;
		if (!in_use(p, i)) {
			p->used[i / 8] |= (uint8_t)(1u << (i % 8));
			p->in_use++;
			*uid = p->first + i;
			return 0;
		}
	}
	return -EAGAIN;
}

void uid_pool_give(struct uid_pool *p, uint32_t uid)
{
	uint32_t i = uid - p->first;

	if (uid < p->first || i >= p->count || !in_use(p, i))
		return;
	p->used[i / 8] &= (uint8_t)~(1u << (i % 8));
	p->in_use--;
}
