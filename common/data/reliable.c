/* STUB for the first landing of the reliable engine's API (reliable.h): every entry point
 * compiles and fails cleanly; the engine itself lands next. No caller uses it yet. */
#include "reliable.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"

struct rel_conn {
	enum rel_state state;
};

struct rel_conn *rel_new(const struct rel_params *params, uint64_t now_us, int *err)
{
	(void)params;
	(void)now_us;
	*err = -ENOSYS;
	return NULL;
}

void rel_free(struct rel_conn *c) { free(c); }
int rel_input(struct rel_conn *c, const uint8_t *p, size_t len, uint64_t now_us)
{
	(void)c; (void)p; (void)len; (void)now_us;
	return -ENOSYS;
}
int rel_output(struct rel_conn *c, uint64_t now_us, uint8_t *out, size_t cap)
{
	(void)c; (void)now_us; (void)out; (void)cap;
	return 0;
}
uint64_t rel_next_deadline(const struct rel_conn *c) { (void)c; return UINT64_MAX; }
int rel_send(struct rel_conn *c, const void *d, size_t len) { (void)c; (void)d; (void)len; return -ENOSYS; }
size_t rel_send_space(const struct rel_conn *c) { (void)c; return 0; }
int rel_recv(struct rel_conn *c, void *b, size_t cap) { (void)c; (void)b; (void)cap; return -ENOSYS; }
size_t rel_recv_next_len(const struct rel_conn *c) { (void)c; return 0; }
void rel_close(struct rel_conn *c, uint64_t now_us) { (void)c; (void)now_us; }
void rel_abort(struct rel_conn *c) { (void)c; }
enum rel_state rel_state(const struct rel_conn *c) { return c->state; }
int rel_error(const struct rel_conn *c) { (void)c; return -ENOSYS; }
bool rel_done(const struct rel_conn *c, uint64_t now_us) { (void)c; (void)now_us; return true; }
bool rel_peer_finished(const struct rel_conn *c) { (void)c; return false; }
void rel_get_stats(const struct rel_conn *c, struct rel_stats *out) { (void)c; *out = (struct rel_stats){ 0 }; }
const char *rel_state_name(enum rel_state s) { (void)s; return "stub"; }
