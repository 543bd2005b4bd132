/* The call as a state machine: the table of legal transitions, the one function that
 * changes a call's state, and the one function that decides what an event from a
 * transport means in each state. Nothing here does I/O, so the unit test
 * (tests/unit/test_call_state.c) links this file alone; call.c carries the decisions out.
 *
 * States (a call's side is fixed when it is made: the caller's or the callee's)
 *
 * | state   | caller side                         | callee side                      |
 * |---------|-------------------------------------|----------------------------------|
 * | new     | just made (never listed)            | just made (never listed)         |
 * | lookup  | asks the principal for the callee   | -                                |
 * | dialing | TLS and hello to the callee's       | -                                |
 * |         | secondary                           |                                  |
 * | binding | our auxiliary binds                 | our auxiliary binds, then starts |
 * | ringing | call_request out, awaiting the      | the caller checked with the      |
 * |         | answer; then our auxiliary starts   | directory, then our client rung  |
 * | connect-| our auxiliary probes the peer's     | the answer sent; our auxiliary   |
 * | ing     | candidates                          | probes the peer's candidates     |
 * | up      | the auxiliaries relay               | the auxiliaries relay            |
 * | ended   | parties told, auxiliary stopping    | the same                         |
 *
 * Transitions (any other is refused and logged as an error)
 *
 * | from    | to      | side   | when                                              |
 * |---------|---------|--------|---------------------------------------------------|
 * | new     | lookup  | caller | a client (or a trunk) places the call             |
 * | new     | ringing | callee | a peer's call_request arrives                     |
 * | lookup  | dialing | caller | the directory named the callee's secondary        |
 * | dialing | binding | caller | event peer_ready: our hello was answered          |
 * | binding | ringing | caller | our auxiliary bound; the call_request goes out    |
 * | ringing | connect-| caller | the answer read, our auxiliary started            |
 * |         | ing     |        |                                                   |
 * | ringing | binding | callee | our client accepted (a trunk: its checks passed)  |
 * | binding | connect-| callee | our auxiliary started; the answer goes out        |
 * |         | ing     |        |                                                   |
 * | connect-| up      | both   | event aux_path: a probe was answered (the client, |
 * | ing     |         |        | a trunk, the record are told only now)            |
 * | any but | ended   | both   | call_end: a failure, a refusal, a hang-up, an     |
 * | ended   |         |        | event                                             |
 *
 * Events (call_event): what each means in each state ("-> ended, R": ends with reason R)
 *
 * | event         | new .. connecting          | up                      | ended   |
 * |---------------|----------------------------|-------------------------|---------|
 * | peer_ready    | dialing, caller side:      | ignored                 | ignored |
 * |               | -> binding (spawns the     |                         |         |
 * |               | auxiliary); else ignored   |                         |         |
 * | peer_failed   | -> ended, peer_down        | -> ended, peer_down     | ignored |
 * | peer_closed   | -> ended, peer_down        | -> ended, peer_lost     | ignored |
 * | peer_hangup   | -> ended, the peer's word  | -> ended, the same      | ignored |
 * | client_gone   | -> ended, caller_gone on   | stays up, without its   | ignored |
 * |               | the caller side, no_answer | client                  |         |
 * |               | on the callee side         |                         |         |
 * | hangup        | -> ended, hangup           | -> ended, hangup        | ignored |
 * | aux_ended     | -> ended, the auxiliary's  | -> ended, the same      | ignored |
 * |               | reason (else aux_failed)   |                         |         |
 * | aux_exited    | -> ended, aux_failed       | -> ended, aux_failed    | ignored |
 * | aux_rekey_due | connecting: starts a key   | stays up, starts a key  | ignored |
 * |               | exchange; else ignored     | exchange                |         |
 * | aux_path      | connecting: up or changed  | stays up (the path is   | ignored |
 * |               | -> up; lost -> ended,      | noted)                  |         |
 * |               | no_path; else ignored      |                         |         |
 * | path_timeout  | connecting: -> ended,      | ignored                 | ignored |
 * |               | no_path; else ignored      |                         |         |
 * | revoked       | -> ended, revoked          | -> ended, revoked       | ignored |
 * | shutdown      | -> ended, shutdown         | -> ended, shutdown      | ignored |
 *
 * Whatever the state, an event first lets go of what it took away (peer_failed and
 * peer_closed: the peer connection; client_gone: the client; aux_exited and aux_ended:
 * the auxiliary, whose final counters aux_ended keeps for the call record), and aux_path
 * notes the path in the call. The set-up
 * steps' own replies (look-up, directory checks, bind, the answer, start) and their
 * time-outs are read where the requests are made (call_out.c, call_in.c, call.c); they
 * move the call on with call_set_state or end it with call_end. */
#include <stdint.h>

#include "call_state.h"
#include "err.h"
#include "log.h"
#include "secondary.h"
#include "wire_errors.h"

#define SIDE_CALLER 1u
#define SIDE_CALLEE 2u
#define SIDE_BOTH (SIDE_CALLER | SIDE_CALLEE)

static const char *const state_names[CALL_STATE_COUNT] = {
	[CALL_NEW] = "new",
	[CALL_LOOKUP] = "lookup",
	[CALL_DIALING] = "dialing",
	[CALL_BINDING] = "binding",
	[CALL_RINGING] = "ringing",
	[CALL_CONNECTING] = "connecting",
	[CALL_UP] = "up",
	[CALL_ENDED] = "ended",
};

static const char *const event_names[CALL_EV_COUNT] = {
	[CALL_EV_PEER_READY] = "peer_ready",
	[CALL_EV_PEER_FAILED] = "peer_failed",
	[CALL_EV_PEER_CLOSED] = "peer_closed",
	[CALL_EV_PEER_HANGUP] = "peer_hangup",
	[CALL_EV_CLIENT_GONE] = "client_gone",
	[CALL_EV_HANGUP] = "hangup",
	[CALL_EV_AUX_ENDED] = "aux_ended",
	[CALL_EV_AUX_EXITED] = "aux_exited",
	[CALL_EV_AUX_REKEY_DUE] = "aux_rekey_due",
	[CALL_EV_AUX_PATH] = "aux_path",
	[CALL_EV_PATH_TIMEOUT] = "path_timeout",
	[CALL_EV_REVOKED] = "revoked",
	[CALL_EV_SHUTDOWN] = "shutdown",
};

/* legal[from][to]: the sides on which a call may go from one state to the other. */
static const uint8_t legal[CALL_STATE_COUNT][CALL_STATE_COUNT] = {
	[CALL_NEW] = {[CALL_LOOKUP] = SIDE_CALLER, [CALL_RINGING] = SIDE_CALLEE,
		      [CALL_ENDED] = SIDE_BOTH},
	[CALL_LOOKUP] = {[CALL_DIALING] = SIDE_CALLER, [CALL_ENDED] = SIDE_BOTH},
	[CALL_DIALING] = {[CALL_BINDING] = SIDE_CALLER, [CALL_ENDED] = SIDE_BOTH},
	[CALL_BINDING] = {[CALL_RINGING] = SIDE_CALLER, [CALL_CONNECTING] = SIDE_CALLEE,
			  [CALL_ENDED] = SIDE_BOTH},
	[CALL_RINGING] = {[CALL_CONNECTING] = SIDE_CALLER, [CALL_BINDING] = SIDE_CALLEE,
			  [CALL_ENDED] = SIDE_BOTH},
	[CALL_CONNECTING] = {[CALL_UP] = SIDE_BOTH, [CALL_ENDED] = SIDE_BOTH},
	[CALL_UP] = {[CALL_ENDED] = SIDE_BOTH},
	[CALL_ENDED] = {0},  /* nothing follows the end */
};

const char *call_state_name(enum call_state state)
{
	return (unsigned)state < CALL_STATE_COUNT ? state_names[state] : "invalid";
}

const char *call_event_name(enum call_event event)
{
	return (unsigned)event < CALL_EV_COUNT ? event_names[event] : "invalid";
}

bool call_transition_legal(enum call_state from, enum call_state to, bool outgoing)
{
	if ((unsigned)from >= CALL_STATE_COUNT || (unsigned)to >= CALL_STATE_COUNT)
		return false;
	return legal[from][to] & (outgoing ? SIDE_CALLER : SIDE_CALLEE);
}

int call_set_state(struct call *call, enum call_state to, const char *why)
{
	enum call_state from = call->state;

	if (!call_transition_legal(from, to, call->outgoing)) {
		log_error("call %s (%s side): refused the transition %s -> %s (%s)", call->id_hex,
			  call->outgoing ? "caller" : "callee", call_state_name(from),
			  call_state_name(to), why ? why : "");
		return INSEL_E_CONFLICT;
	}
	call->state = to;
	log_debug("call %s: %s -> %s (%s)", call->id_hex, call_state_name(from),
		  call_state_name(to), why ? why : "");
	return 0;
}

/* ---- events ---- */

static struct call_outcome ignore(enum call_state state)
{
	return (struct call_outcome){.action = CALL_ACT_IGNORE, .next = state};
}

static struct call_outcome stay(enum call_action action, enum call_state state)
{
	return (struct call_outcome){.action = action, .next = state};
}

static struct call_outcome end(const char *reason, const char *message)
{
	return (struct call_outcome){.action = CALL_ACT_END, .next = CALL_ENDED,
				     .reason = reason, .message = message};
}

static struct call_outcome end_as_detail_says(const char *reason, const char *message)
{
	struct call_outcome o = end(reason, message);

	o.detail_says_why = true;
	return o;
}

/* The auxiliary's "path" notice: the notice's state is the detail's, so the table says
 * what each may lead to and call.c picks by the notice (path_notice_outcome). */
static struct call_outcome path_outcome(enum call_state state)
{
	if (state == CALL_CONNECTING)
		return stay(CALL_ACT_UP, CALL_UP);
	return state == CALL_UP ? stay(CALL_ACT_STAY, state) : ignore(state);
}

struct call_outcome call_path_outcome(enum call_state state, bool outgoing,
				      enum aux_path_state path)
{
	struct call_outcome o = call_event_outcome(state, outgoing, CALL_EV_AUX_PATH);

	if (path != AUX_PATH_LOST || state != CALL_CONNECTING)
		return o;
	o = end(WIRE(NO_PATH), "nothing answered the probes between the two gateways");
	o.detail_says_why = true;
	return o;
}

struct call_outcome call_event_outcome(enum call_state state, bool outgoing,
				       enum call_event event)
{
	if ((unsigned)state >= CALL_STATE_COUNT || state == CALL_ENDED)
		return ignore(state);
	switch (event) {
	case CALL_EV_PEER_READY:
		return outgoing && state == CALL_DIALING ? stay(CALL_ACT_BIND, CALL_BINDING)
							  : ignore(state);
	case CALL_EV_PEER_FAILED:
		return end_as_detail_says(WIRE(PEER_DOWN), "cannot reach the callee's gateway");
	case CALL_EV_PEER_CLOSED:
		return end(state == CALL_UP ? WIRE(PEER_LOST) : WIRE(PEER_DOWN),
			   "the connection to the other site's gateway was lost");
	case CALL_EV_PEER_HANGUP:
		return end_as_detail_says(WIRE(PEER_ENDED), "ended by the other site");
	case CALL_EV_CLIENT_GONE:
		/* A call that is up goes on without its client (`insel hangup` or the idle
		 * time-out ends it); one still being set up has nobody left to tell. */
		if (state == CALL_UP)
			return stay(CALL_ACT_STAY, state);
		return end(outgoing ? WIRE(CALLER_GONE) : WIRE(NO_ANSWER),
			   "the local party disconnected before the call was up");
	case CALL_EV_HANGUP:
		return end(WIRE(HANGUP), "hung up by a party");
	case CALL_EV_AUX_ENDED:
		return end_as_detail_says(WIRE(AUX_FAILED), "the relay ended");
	case CALL_EV_AUX_EXITED:
		return end(WIRE(AUX_FAILED), "the call's auxiliary process exited");
	case CALL_EV_AUX_REKEY_DUE:
		return state == CALL_UP || state == CALL_CONNECTING ? stay(CALL_ACT_REKEY, state)
								     : ignore(state);
	case CALL_EV_AUX_PATH:
		return path_outcome(state);
	case CALL_EV_PATH_TIMEOUT:
		return state == CALL_CONNECTING
		       ? end(WIRE(NO_PATH), "nothing answered the probes between the two "
			     "gateways in time: no path carries the call")
		       : ignore(state);
	case CALL_EV_REVOKED:
		return end(WIRE(REVOKED), "the other site's gateway certificate was revoked");
	case CALL_EV_SHUTDOWN:
		return end(WIRE(SHUTDOWN), "the gateway is stopping");
	case CALL_EV_COUNT:
		break;
	}
	return ignore(state);
}
