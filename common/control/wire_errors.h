/* The registry of wire error codes (wire_errors.def): every role names the code it sends
 * by an enum constant, never by a string, and the client takes its sentence and exit
 * status from the same entry. A code that arrives is looked up by name (an older peer's
 * alias included); a name this build does not know, from a newer peer, is no entry:
 * callers print its message as it came.
 *
 *   msg_reply_error(id, WIRE(UNKNOWN_CALL), "no such call in progress");
 *   call_end(call, WIRE(PEER_DOWN), why);
 *   if (wire_error_is(code, WERR_NOT_FOUND)) ... */
#ifndef INSEL_WIRE_ERRORS_H
#define INSEL_WIRE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

enum wire_error {
#define WIRE_ERROR(id, name, insel_err, exit_code, meaning, sentence) WERR_##id,
#include "wire_errors.def"
	WERR_COUNT
};

/* Where the client is when the error reaches it, for codes that say something else there. */
enum wire_step {
	WIRE_STEP_ANY,
	WIRE_STEP_LOGIN,
};

/* The stable name sent on the wire, e.g. "peer_down"; never NULL for a valid e. */
const char *wire_error_name(enum wire_error e);
#define WIRE(id) wire_error_name(WERR_##id)

/* The code of a name received (its own name or an alias); false if this build does not
 * know it (or name is NULL). */
bool wire_error_lookup(const char *name, enum wire_error *out);
/* True if name (or an alias of it) is the code e. */
bool wire_error_is(const char *name, enum wire_error e);

/* The code for a value of the error space (err.h): INSEL_E_* to its code, a negative
 * errno to "system", anything else to "internal". */
enum wire_error wire_error_of(int err);

/* For the documentation: what the code means. */
const char *wire_error_meaning(enum wire_error e);
/* For the client: the sentence to print and the exit status, in a step. */
const char *wire_error_sentence(enum wire_error e, enum wire_step step);
int wire_error_exit_code(enum wire_error e, enum wire_step step);

/* The aliases, for the documentation: the i-th old name and its code; false past the end. */
bool wire_error_alias(size_t i, const char **old_name, enum wire_error *e);

#endif
