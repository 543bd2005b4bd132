/* The one dispatcher of control requests. Each control protocol (the client API and the
 * peer protocol of a secondary, the principal's API, the auxiliary's control socket) is a
 * table of ops, each saying who may send it (a set of role bits) and in which states of
 * the session; dispatch_message() looks a request up, answers what the table does not
 * allow with the standard refusals and calls the handler otherwise, so that adding an op
 * is adding a row, and every protocol refuses the same things the same way.
 *
 * The checks, in this order, with the refusal each one sends (codes of wire_errors.h):
 *   a frame that could not be read         its own code (bad_json, too_big, ...)
 *   no usable "id" (unless notices)        bad_field
 *   no "op"                                bad_field
 *   an op the table does not have          unknown_op
 *   anything but hello before hello        protocol  "say hello first"
 *   a role the op does not list            forbidden
 *   a state the op does not list           the table's state refusal (bad_state, ...)
 *   hello once more                        protocol  "hello was already said"
 * The state comes before the second hello: on a session whose hello is another side's
 * (a connection the secondary dialled), "hello" is an op of the wrong side, not a repeat.
 * A protocol's hello handler checks the version and the sender's declared role, and
 * marks its session greeted; every other handler runs only once hello was said. */
#ifndef INSEL_DISPATCH_H
#define INSEL_DISPATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "wire_errors.h"

struct rpc;

/* The first request on every connection (msg.h). */
#define DISPATCH_HELLO "hello"

/* A role as a bit of an op's role set (a protocol numbers its roles, e.g. by enum
 * pki_role); an op that any state allows. */
#define DISPATCH_ROLE(r) (1u << (r))
#define DISPATCH_ANY_STATE (~0u)

/* A handler: ctx is the connection the request came on (what the protocol passed to
 * dispatch_message), id its request id (-1 for a notice), msg the request (borrowed). */
typedef void (*dispatch_handler)(void *ctx, json_int_t id, const json_t *msg);

struct dispatch_op {
	const char *name;
	dispatch_handler handle;
	unsigned roles;   /* DISPATCH_ROLE() bits of the senders that may use it */
	unsigned states;  /* the session states in which it is allowed */
};

struct dispatch_table {
	const struct dispatch_op *ops;
	size_t n_ops;
	/* The code of an op that the session's state does not allow: WERR_BAD_STATE, or
	 * what the state means to the user (WERR_NOT_LOGGED_IN). */
	enum wire_error state_refusal;
	/* Requests without an id are notices, served with id -1 (their handlers send no
	 * reply); otherwise they are refused. */
	bool notices;
	/* Puts a refusal on the connection ctx: {"id":id,"ok":false,"error":{code,message}};
	 * id is -1 when the message had no usable id (the protocol decides what to send). */
	void (*refuse)(void *ctx, json_int_t id, enum wire_error code, const char *message);
};

/* The connection a message came on, as the checks see it. */
struct dispatch_caller {
	unsigned role;           /* DISPATCH_ROLE() of the sender; 0: a role no op lists */
	const char *role_name;   /* for the refusal, e.g. "operator" */
	unsigned state;          /* the session's state: one of the table's state bits */
	const char *state_name;  /* for the refusal, e.g. "bound" */
	bool hello_done;         /* the session's hello was said (and answered) */
	struct rpc *rpc;         /* takes the replies to our own requests; NULL: none */
};

/* Serves one message that came on the connection ctx: msg NULL with err for a frame that
 * could not be read (refused with err's code); a reply (no "op") to one of our requests
 * goes to who->rpc; a request goes through the checks above to its handler. */
void dispatch_message(const struct dispatch_table *t, const struct dispatch_caller *who,
		      void *ctx, const json_t *msg, int err);

/* The table's entry for an op name, or NULL. */
const struct dispatch_op *dispatch_find(const struct dispatch_table *t, const char *name);

#endif
