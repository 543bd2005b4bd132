/* Unit tests of the call's state machine (secondary/call_state.c), against the tables
 * its opening comment documents, written out again here by hand: every legal transition
 * is allowed on its side and every other one refused with the state unchanged; each
 * event in each state, on each side, leads to the documented action, state and reason;
 * and every outcome that moves a call is a transition the table allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "call_state.h"
#include "err.h"
#include "log.h"
#include "secondary.h"

#define CALLER 1u
#define CALLEE 2u
#define BOTH (CALLER | CALLEE)

static const struct {
	enum call_state from, to;
	unsigned sides;
} documented_transitions[] = {
	{CALL_NEW, CALL_LOOKUP, CALLER},
	{CALL_NEW, CALL_RINGING, CALLEE},
	{CALL_LOOKUP, CALL_DIALING, CALLER},
	{CALL_DIALING, CALL_BINDING, CALLER},
	{CALL_BINDING, CALL_RINGING, CALLER},
	{CALL_RINGING, CALL_CONNECTING, CALLER},
	{CALL_RINGING, CALL_BINDING, CALLEE},
	{CALL_BINDING, CALL_CONNECTING, CALLEE},
	{CALL_CONNECTING, CALL_UP, BOTH},
	{CALL_NEW, CALL_ENDED, BOTH},
	{CALL_LOOKUP, CALL_ENDED, BOTH},
	{CALL_DIALING, CALL_ENDED, BOTH},
	{CALL_BINDING, CALL_ENDED, BOTH},
	{CALL_RINGING, CALL_ENDED, BOTH},
	{CALL_CONNECTING, CALL_ENDED, BOTH},
	{CALL_UP, CALL_ENDED, BOTH},
};

static unsigned documented_sides(enum call_state from, enum call_state to)
{
	unsigned sides = 0;

	for (size_t i = 0; i < sizeof documented_transitions / sizeof documented_transitions[0];
	     i++)
		if (documented_transitions[i].from == from && documented_transitions[i].to == to)
			sides |= documented_transitions[i].sides;
	return sides;
}

static void call_in(struct call *call, enum call_state state, bool outgoing)
{
	memset(call, 0, sizeof *call);
	snprintf(call->id_hex, sizeof call->id_hex, "00000000000000aa");
	call->outgoing = outgoing;
	call->state = state;
}

/* Tries from -> to on one side: true if allowed; the state must change exactly then. */
static bool try_transition(enum call_state from, enum call_state to, bool outgoing)
{
	struct call call;
	int rc;

	call_in(&call, from, outgoing);
	rc = call_set_state(&call, to, "test");
	if (rc == 0) {
		assert_int_equal(call.state, to);
		return true;
	}
	assert_int_equal(rc, INSEL_E_CONFLICT);
	assert_int_equal(call.state, from);
	return false;
}

static void every_documented_transition_is_allowed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof documented_transitions / sizeof documented_transitions[0];
	     i++) {
		enum call_state from = documented_transitions[i].from;
		enum call_state to = documented_transitions[i].to;

		if (documented_transitions[i].sides & CALLER)
			assert_true(try_transition(from, to, true));
		if (documented_transitions[i].sides & CALLEE)
			assert_true(try_transition(from, to, false));
	}
}

static void every_other_transition_is_refused(void **state)
{
	size_t refused = 0;

	(void)state;
	for (int from = 0; from < CALL_STATE_COUNT; from++) {
		for (int to = 0; to < CALL_STATE_COUNT; to++) {
			unsigned sides = documented_sides(from, to);

			assert_int_equal(try_transition(from, to, true), (sides & CALLER) != 0);
			assert_int_equal(try_transition(from, to, false), (sides & CALLEE) != 0);
			refused += !(sides & CALLER) + !(sides & CALLEE);
		}
	}
	/* 8 x 8 pairs on two sides, less the 8 one-sided and 8 two-sided transitions. */
	assert_int_equal(refused, 2 * 64 - 8 - 2 * 8);
}

/* The ones that matter most, by name: an ended call never comes back (an auxiliary's
 * start reply arriving after a hang-up), no state is re-entered, no side takes the
 * other's path, and no step is skipped. */
static void sample_of_illegal_transitions(void **state)
{
	(void)state;
	assert_false(try_transition(CALL_ENDED, CALL_UP, true));
	assert_false(try_transition(CALL_ENDED, CALL_UP, false));
	assert_false(try_transition(CALL_ENDED, CALL_ENDED, true));
	assert_false(try_transition(CALL_RINGING, CALL_RINGING, false));
	assert_false(try_transition(CALL_UP, CALL_UP, true));
	assert_false(try_transition(CALL_UP, CALL_RINGING, true));
	assert_false(try_transition(CALL_RINGING, CALL_BINDING, true));
	assert_false(try_transition(CALL_BINDING, CALL_RINGING, false));
	assert_false(try_transition(CALL_NEW, CALL_LOOKUP, false));
	assert_false(try_transition(CALL_NEW, CALL_RINGING, true));
	assert_false(try_transition(CALL_LOOKUP, CALL_UP, true));
	assert_false(try_transition(CALL_DIALING, CALL_UP, true));
	/* Up only through connecting: a call is never up before a probe was answered. */
	assert_false(try_transition(CALL_RINGING, CALL_UP, true));
	assert_false(try_transition(CALL_BINDING, CALL_UP, false));
	assert_false(try_transition(CALL_UP, CALL_CONNECTING, true));
	assert_false(try_transition(CALL_LOOKUP, CALL_BINDING, true));
	assert_false(try_transition(CALL_UP, CALL_NEW, false));
	assert_false(try_transition(CALL_ENDED, CALL_NEW, true));
	/* Out of range. */
	assert_false(call_transition_legal(CALL_STATE_COUNT, CALL_ENDED, true));
	assert_false(call_transition_legal(CALL_UP, CALL_STATE_COUNT, true));
}

/* ---- events ---- */

struct expected {
	enum call_action action;
	enum call_state next;  /* CALL_STATE_COUNT: the state it was in */
	const char *caller_reason, *callee_reason;  /* for CALL_ACT_END */
	bool detail_says_why;
};

#define SAME CALL_STATE_COUNT
#define IGNORED {CALL_ACT_IGNORE, SAME, NULL, NULL, false}
#define ENDS(reason) {CALL_ACT_END, CALL_ENDED, reason, reason, false}
#define ENDS_AS_SAID(reason) {CALL_ACT_END, CALL_ENDED, reason, reason, true}

/* What each event does in a state that is being set up (new .. connecting). */
static struct expected expected_setting_up(enum call_event ev, enum call_state st,
					   bool outgoing)
{
	switch (ev) {
	case CALL_EV_PEER_READY:
		if (st == CALL_DIALING && outgoing)
			return (struct expected){CALL_ACT_BIND, CALL_BINDING, NULL, NULL, false};
		return (struct expected)IGNORED;
	case CALL_EV_PEER_FAILED: return (struct expected)ENDS_AS_SAID("peer_down");
	case CALL_EV_PEER_CLOSED: return (struct expected)ENDS("peer_down");
	case CALL_EV_PEER_HANGUP: return (struct expected)ENDS_AS_SAID("peer_ended");
	case CALL_EV_CLIENT_GONE:
		return (struct expected){CALL_ACT_END, CALL_ENDED, "caller_gone", "no_answer",
					 false};
	case CALL_EV_HANGUP: return (struct expected)ENDS("hangup");
	case CALL_EV_AUX_ENDED: return (struct expected)ENDS_AS_SAID("aux_failed");
	case CALL_EV_AUX_EXITED: return (struct expected)ENDS("aux_failed");
	case CALL_EV_AUX_REKEY_DUE:
		if (st == CALL_CONNECTING)
			return (struct expected){CALL_ACT_REKEY, SAME, NULL, NULL, false};
		return (struct expected)IGNORED;
	case CALL_EV_AUX_PATH:
		if (st == CALL_CONNECTING)
			return (struct expected){CALL_ACT_UP, CALL_UP, NULL, NULL, false};
		return (struct expected)IGNORED;
	case CALL_EV_PATH_TIMEOUT:
		if (st == CALL_CONNECTING)
			return (struct expected)ENDS("no_path");
		return (struct expected)IGNORED;
	case CALL_EV_REVOKED: return (struct expected)ENDS("revoked");
	case CALL_EV_SHUTDOWN: return (struct expected)ENDS("shutdown");
	default: fail();
	}
	return (struct expected)IGNORED;
}

static struct expected expected_up(enum call_event ev)
{
	switch (ev) {
	case CALL_EV_PEER_READY: return (struct expected)IGNORED;
	case CALL_EV_PEER_CLOSED: return (struct expected)ENDS("peer_lost");
	case CALL_EV_CLIENT_GONE:
		return (struct expected){CALL_ACT_STAY, SAME, NULL, NULL, false};
	case CALL_EV_AUX_REKEY_DUE:
		return (struct expected){CALL_ACT_REKEY, SAME, NULL, NULL, false};
	case CALL_EV_AUX_PATH:
		return (struct expected){CALL_ACT_STAY, SAME, NULL, NULL, false};
	case CALL_EV_PATH_TIMEOUT: return (struct expected)IGNORED;
	default: return expected_setting_up(ev, CALL_UP, true);
	}
}

static struct expected expected_outcome(enum call_event ev, enum call_state st,
				       bool outgoing)
{
	if (st == CALL_ENDED)
		return (struct expected)IGNORED;
	if (st == CALL_UP)
		return expected_up(ev);
	return expected_setting_up(ev, st, outgoing);
}

static bool outcome_as_documented(enum call_event ev, enum call_state st, bool outgoing)
{
	struct expected want = expected_outcome(ev, st, outgoing);
	struct call_outcome got = call_event_outcome(st, outgoing, ev);
	const char *reason = outgoing ? want.caller_reason : want.callee_reason;

	if (got.action != want.action || got.detail_says_why != want.detail_says_why ||
	    got.next != (want.next == SAME ? st : want.next))
		return false;
	if (want.action != CALL_ACT_END)
		return true;
	return got.reason && strcmp(got.reason, reason) == 0 && got.message;
}

static void each_event_in_each_state(void **state)
{
	(void)state;
	for (int ev = 0; ev < CALL_EV_COUNT; ev++)
		for (int st = 0; st < CALL_STATE_COUNT; st++)
			for (int side = 0; side < 2; side++)
				if (!outcome_as_documented(ev, st, side == 0))
					fail_msg("%s in state %s (%s side): not as documented",
						 call_event_name(ev), call_state_name(st),
						 side == 0 ? "caller" : "callee");
}

/* An outcome that moves the call names a transition the table allows, so that call_event
 * never asks call_set_state for one it would refuse. */
static void every_outcome_is_a_legal_transition(void **state)
{
	(void)state;
	for (int ev = 0; ev < CALL_EV_COUNT; ev++)
		for (int st = 0; st < CALL_STATE_COUNT; st++)
			for (int side = 0; side < 2; side++) {
				struct call_outcome o = call_event_outcome(st, side == 0, ev);

				if (o.next != (enum call_state)st)
					assert_true(call_transition_legal(st, o.next, side == 0));
			}
}

/* The path notice by its state: lost while connecting ends the call (no_path, with the
 * auxiliary's reason); up or changed bring it up; once up, a path only changes. */
static void path_notices(void **state)
{
	struct call_outcome o;

	(void)state;
	for (int side = 0; side < 2; side++) {
		o = call_path_outcome(CALL_CONNECTING, side == 0, AUX_PATH_LOST);
		assert_int_equal(o.action, CALL_ACT_END);
		assert_string_equal(o.reason, "no_path");
		assert_true(o.detail_says_why);
		o = call_path_outcome(CALL_CONNECTING, side == 0, AUX_PATH_UP);
		assert_int_equal(o.action, CALL_ACT_UP);
		assert_int_equal(o.next, CALL_UP);
		o = call_path_outcome(CALL_CONNECTING, side == 0, AUX_PATH_CHANGED);
		assert_int_equal(o.action, CALL_ACT_UP);
		o = call_path_outcome(CALL_UP, side == 0, AUX_PATH_LOST);
		assert_int_equal(o.action, CALL_ACT_STAY);
		o = call_path_outcome(CALL_RINGING, side == 0, AUX_PATH_UP);
		assert_int_equal(o.action, CALL_ACT_IGNORE);
		o = call_path_outcome(CALL_ENDED, side == 0, AUX_PATH_LOST);
		assert_int_equal(o.action, CALL_ACT_IGNORE);
	}
}

/* The two paths from start to end, as call_out.c and call_in.c walk them. */
static void the_two_paths(void **state)
{
	static const enum call_state caller[] = {CALL_LOOKUP, CALL_DIALING, CALL_BINDING,
						 CALL_RINGING, CALL_CONNECTING, CALL_UP,
						 CALL_ENDED};
	static const enum call_state callee[] = {CALL_RINGING, CALL_BINDING, CALL_CONNECTING,
						 CALL_UP, CALL_ENDED};
	struct call call;

	(void)state;
	call_in(&call, CALL_NEW, true);
	for (size_t i = 0; i < sizeof caller / sizeof caller[0]; i++)
		assert_int_equal(call_set_state(&call, caller[i], "caller path"), 0);
	call_in(&call, CALL_NEW, false);
	for (size_t i = 0; i < sizeof callee / sizeof callee[0]; i++)
		assert_int_equal(call_set_state(&call, callee[i], "callee path"), 0);
	assert_int_equal(call_set_state(&call, CALL_ENDED, "twice"), INSEL_E_CONFLICT);
}

static void names(void **state)
{
	(void)state;
	/* The names calls are listed with (docs/protocol.md) stay as they were. */
	assert_string_equal(call_state_name(CALL_LOOKUP), "lookup");
	assert_string_equal(call_state_name(CALL_DIALING), "dialing");
	assert_string_equal(call_state_name(CALL_BINDING), "binding");
	assert_string_equal(call_state_name(CALL_RINGING), "ringing");
	assert_string_equal(call_state_name(CALL_CONNECTING), "connecting");
	assert_string_equal(call_state_name(CALL_UP), "up");
	assert_string_equal(call_state_name(CALL_ENDED), "ended");
	assert_string_equal(call_state_name(CALL_STATE_COUNT), "invalid");
	for (int ev = 0; ev < CALL_EV_COUNT; ev++)
		assert_string_not_equal(call_event_name(ev), "invalid");
	assert_string_equal(call_event_name(CALL_EV_COUNT), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_documented_transition_is_allowed),
		cmocka_unit_test(every_other_transition_is_refused),
		cmocka_unit_test(sample_of_illegal_transitions),
		cmocka_unit_test(each_event_in_each_state),
		cmocka_unit_test(every_outcome_is_a_legal_transition),
		cmocka_unit_test(path_notices),
		cmocka_unit_test(the_two_paths),
		cmocka_unit_test(names),
	};

	log_init("test-call-state");
	/* Refused transitions log an error each, by design. */
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
