/* API op verify_user: a secondary checks the password of a user of a LAN it serves. The
 * principal holds the hashes; the slow KDF runs off the event loop (run_verify), and an
 * unknown user costs as much time as a wrong password, with the same answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "msg.h"

/* {"op":"verify_user","id":N,"user":"alice@lan-a","password":"..."} -> {user, lan}
 * or auth_failed. */
void verify_user_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	char name[DB_NAME_MAX + 1], lan[DB_NAME_MAX + 1];
	const char *user, *password;
	struct api_verify *v;
	int rc;

	if (msg_get_str(msg, "user", &user) || msg_get_str(msg, "password", &password)) {
		api_reply_field_error(p, id);
		return;
	}
	if (db_split_user(user, name, lan)) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD, "field 'user' must be NAME@LAN");
		return;
	}
	if (strlen(password) > PASSWD_MAX_LEN) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD, "password longer than %d bytes",
				PASSWD_MAX_LEN);
		return;
	}
	if (!db_secondary_serves(p->srv->db, p->id.name, lan)) {
		api_reply_error(p, id, INSEL_E_FORBIDDEN, "secondary %s does not serve LAN %s",
				p->id.name, lan);
		return;
	}
	if (p->verify_pending >= API_MAX_VERIFY_PENDING) {
		api_reply_error(p, id, INSEL_E_LIMIT, "too many password checks in flight");
		return;
	}
	v = calloc(1, sizeof *v);
	if (!v) {
		api_reply_error(p, id, -ENOMEM, "out of memory");
		return;
	}
	v->peer = p;
	v->id = id;
	snprintf(v->user, sizeof v->user, "%s@%s", name, lan);
	snprintf(v->lan, sizeof v->lan, "%s", lan);
	snprintf(v->password, sizeof v->password, "%s", password);
	rc = db_user_hash(p->srv->db, name, lan, v->hash, sizeof v->hash);
	v->known = rc == 0;
	v->dummy_iterations = p->srv->dummy_iterations;
	if (rc && rc != INSEL_E_NOT_FOUND) {
		secure_wipe(v, sizeof *v);
		free(v);
		api_reply_db_error(p, id, rc);
		return;
	}
	p->verify_pending++;
	p->srv->run_verify(p->srv, v);
}

void api_verify_compute(struct api_verify *v)
{
	if (!v->known) {
		passwd_verify_dummy(v->password, v->dummy_iterations ? v->dummy_iterations
								     : PASSWD_DEFAULT_ITERATIONS);
		v->result = INSEL_E_AUTH;
		return;
	}
	v->result = passwd_verify(v->password, v->hash);
	if (v->result == INSEL_E_MALFORMED)
		v->result = INSEL_E_AUTH;
}

void api_verify_finish(struct api_verify *v)
{
	struct api_peer *p = v->peer;

	p->verify_pending--;
	if (!p->gone) {
		if (v->result == 0)
			api_reply_ok(p, v->id, json_pack("{s:s, s:s}", "user", v->user, "lan", v->lan));
		else
			api_reply_error(p, v->id, INSEL_E_AUTH, "wrong user name or password");
		log_info("secondary %s: password of %s %s", p->id.name, v->user,
			 v->result == 0 ? "accepted" : "refused");
	}
	secure_wipe(v, sizeof *v);
	free(v);
	if (p->gone && p->verify_pending == 0)
		p->release(p);
}
