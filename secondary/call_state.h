/* The call's states, the events that reach a call from its transports, and the two
 * functions that alone change a call's state or decide what an event means
 * (call_state.c has the tables; call.c carries the decisions out). */
#ifndef INSEL_SECONDARY_CALL_STATE_H
#define INSEL_SECONDARY_CALL_STATE_H

#include <jansson.h>
#include <stdbool.h>

#include "aux_report.h"

struct call;
struct client_conn;
struct aux_notice;

enum call_state {
	CALL_NEW,          /* just made, not yet on either path (never shown) */
	CALL_LOOKUP,       /* caller side: asking the principal where the callee is */
	CALL_DIALING,      /* caller side: TLS to the callee's secondary */
	CALL_BINDING,      /* an auxiliary is binding sockets */
	CALL_RINGING,      /* callee side: the caller is checked, then the callee's client
			    * asked; caller side: the call_request waits for its answer */
	CALL_CONNECTING,   /* our auxiliary relays and probes the peer's candidates; up
			    * once one answered (authenticated frames crossed both ways) */
	CALL_UP,           /* auxiliaries relay */
	CALL_ENDED,        /* told every party; the auxiliary is being stopped */
	CALL_STATE_COUNT
};

/* What happens to a call from outside its own requests (whose replies the set-up steps
 * of call_out.c and call_in.c read themselves, time-outs included). */
enum call_event {
	CALL_EV_PEER_READY,     /* caller side: the dialled secondary answered our hello */
	CALL_EV_PEER_FAILED,    /* caller side: it could not be reached (detail: status,
				 * message) */
	CALL_EV_PEER_CLOSED,    /* the connection to the peer secondary is gone */
	CALL_EV_PEER_HANGUP,    /* the peer secondary hung up (detail: reason) */
	CALL_EV_CLIENT_GONE,    /* the local party's client connection closed (detail: client) */
	CALL_EV_HANGUP,         /* a party here (or the operator) hung up */
	CALL_EV_AUX_ENDED,      /* the auxiliary's "ended" notice (detail: notice) */
	CALL_EV_AUX_EXITED,     /* the auxiliary process exited */
	CALL_EV_AUX_REKEY_DUE,  /* the auxiliary's "rekey_due": a channel key is half spent */
	CALL_EV_AUX_PATH,       /* the auxiliary's "path" notice (detail: path) */
	CALL_EV_PATH_TIMEOUT,   /* connecting for PATH_CONNECT_TIMEOUT_MS with no path */
	CALL_EV_REVOKED,        /* the peer secondary's certificate was revoked */
	CALL_EV_SHUTDOWN,       /* this gateway is stopping */
	CALL_EV_COUNT
};

/* What comes with an event; only the fields its comment above names are read. */
struct call_event_detail {
	int status;                  /* PEER_FAILED: the error */
	const char *reason;          /* PEER_HANGUP: the stable word the peer gave */
	const char *message;         /* PEER_FAILED: why (else the status's sentence) */
	const struct aux_notice *notice;  /* AUX_ENDED: the notice (reason, message, totals);
					   * AUX_PATH: the notice (its path) */
	struct client_conn *client;  /* CLIENT_GONE: the connection that closed */
};

/* What call_event does about an event in a state (call_event_outcome). */
enum call_action {
	CALL_ACT_IGNORE,   /* nothing: the event means nothing in this state */
	CALL_ACT_STAY,     /* the call goes on in its state (without what the event took) */
	CALL_ACT_BIND,     /* spawn the auxiliary: -> BINDING */
	CALL_ACT_REKEY,    /* start a key exchange */
	CALL_ACT_UP,       /* a path answered: -> UP, the parties told */
	CALL_ACT_END,      /* end the call: -> ENDED */
};

struct call_outcome {
	enum call_action action;
	enum call_state next;     /* the state it leads to (the same if it stays) */
	const char *reason;       /* CALL_ACT_END: the stable word the parties are told */
	const char *message;      /* CALL_ACT_END: the sentence with it */
	bool detail_says_why;     /* the detail's reason and message (an auxiliary's:
				   * its notice's), if any, replace them */
};

/* The state's name as calls are listed ("lookup", "up", ...). */
const char *call_state_name(enum call_state state);
const char *call_event_name(enum call_event event);

/* Whether a call of this side may go from one state to the other. */
bool call_transition_legal(enum call_state from, enum call_state to, bool outgoing);

/* The one way a call's state changes: logged with why; an illegal transition is logged
 * as an error and refused (INSEL_E_CONFLICT), the state unchanged. */
int call_set_state(struct call *call, enum call_state to, const char *why);

/* What an event means for a call of this side in this state; call_event (call.c) does
 * it. Pure, so that the whole table can be tested. */
struct call_outcome call_event_outcome(enum call_state state, bool outgoing,
				       enum call_event event);

/* As call_event_outcome for CALL_EV_AUX_PATH, with what the notice says: a path lost
 * while connecting ends the call (no_path); up or changed bring it up. */
struct call_outcome call_path_outcome(enum call_state state, bool outgoing,
				      enum aux_path_state path);

/* The one way transports tell a call what happened to them (call.c): lets go of what the
 * event took away (the peer connection, the client, the auxiliary), then does what
 * call_event_outcome says. detail may be NULL for events that carry none. */
void call_event(struct call *call, enum call_event event,
		const struct call_event_detail *detail);

#endif
