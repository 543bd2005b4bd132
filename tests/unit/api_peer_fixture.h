/* A peer of the principal's API inside a unit test: logged in, its replies kept in the
 * test's own slot (the last one only), never closed nor freed by the server. The API
 * tests drive api.c through it instead of a TLS connection. */
#ifndef INSEL_TESTS_API_PEER_FIXTURE_H
#define INSEL_TESTS_API_PEER_FIXTURE_H

#include <jansson.h>
#include <stdio.h>

#include "api.h"

static json_t **api_test_reply;  /* where the peer's replies go */

static void api_test_capture(struct api_peer *p, json_t *msg)
{
	(void)p;
	json_decref(*api_test_reply);
	*api_test_reply = msg;
}

static void api_test_no_close(struct api_peer *p, int reason)
{
	(void)p;
	(void)reason;
}

static void api_test_no_release(struct api_peer *p)
{
	(void)p;
}

/* Makes peer a logged-in peer of srv in role, named name (NULL: unnamed), whose replies
 * land in *reply. */
static inline void api_test_peer(struct api_peer *peer, struct api_server *srv,
				 enum pki_role role, const char *name, json_t **reply)
{
	peer->srv = srv;
	peer->id.role = role;
	if (name)
		snprintf(peer->id.name, sizeof peer->id.name, "%s", name);
	peer->hello_done = true;
	peer->send = api_test_capture;
	peer->close = api_test_no_close;
	peer->release = api_test_no_release;
	api_test_reply = reply;
}

#endif
