/* One error space for all of insel: negative errno values plus project codes below
 * INSEL_E_BASE. Every function that can fail returns 0 (or a count) on success and one of
 * these negative values on failure; insel_strerror() names any of them; wire_error_of() (wire_errors.h) gives the code an error
 * reply carries for one. */
#ifndef INSEL_ERR_H
#define INSEL_ERR_H

#include <stddef.h>

#include "err_codes.h"

/* A sentence for any negative errno or INSEL_E_* value; never NULL. */
const char *insel_strerror(int err);

/* For functions that explain a failure in a caller's buffer: writes the sentence into
 * err (if err and errlen), and returns code, so that one line both says and fails. */
int err_set(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
