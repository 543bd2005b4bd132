/* libFuzzer target: the replay window against a reference model. The input is a list of
 * operations (each one byte of mode and 8 bytes of operand) that produce counters near the
 * newest, behind it, anywhere, or repeated; every answer of replay_check must equal the
 * model's, and in particular no counter is ever accepted twice. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 1024

struct model {
	uint64_t seen[MAX_OPS];
	size_t n;
	uint64_t newest;
};

static bool model_seen(const struct model *m, uint64_t c)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->seen[i] == c)
			return true;
	return false;
}

static bool model_accepts(const struct model *m, uint64_t c)
{
	if (c >= REPLAY_COUNTER_LIMIT)
		return false;
	if (m->n == 0 || c > m->newest)
		return true;
	return m->newest - c <= REPLAY_WINDOW && !model_seen(m, c);
}

static uint64_t next_counter(const struct model *m, uint8_t mode, uint64_t operand)
{
	switch (mode % 4) {
	case 0:
		return m->newest + operand % 5000;
	case 1:
		return m->newest - operand % 5000;
	case 2:
		return operand;
	default:
		return m->n ? m->seen[operand % m->n] : operand;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct replay_window w;
	struct buf_reader r;
	uint8_t mode;
	uint64_t operand;

	m.n = 0;
	m.newest = 0;
	replay_init(&w);
	br_init(&r, data, size);
	while (m.n < MAX_OPS && br_u8(&r, &mode) == 0 && br_u64(&r, &operand) == 0) {
		uint64_t c = next_counter(&m, mode, operand);
		bool expect = model_accepts(&m, c);

		if (replay_check(&w, c) != expect)
			abort();
		/* Mode bit 2: a forged frame, checked but never committed. */
		if (!expect || (mode & 4))
			continue;
		replay_commit(&w, c);
		if (replay_check(&w, c))
			abort();  /* the same counter twice */
		m.seen[m.n++] = c;
		if (m.n == 1 || c > m.newest)
			m.newest = c;
	}
	return 0;
}
