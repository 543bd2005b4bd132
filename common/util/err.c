/* Sentences for the project's error space (see err.h); the codes that go on the wire are
 * in the registry of wire error codes (wire_errors.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct error_name {
	int err;
	const char *text;
};

static const struct error_name project_errors[] = {
	{INSEL_E_TRUNCATED, "data ends before the field it announces"},
	{INSEL_E_NOSPACE, "buffer too small for the data"},
	{INSEL_E_TOO_BIG, "length over the allowed maximum"},
	{INSEL_E_MALFORMED, "malformed data"},
	{INSEL_E_BAD_JSON, "message is not valid JSON"},
	{INSEL_E_NOT_OBJECT, "message is not a JSON object"},
	{INSEL_E_BAD_FIELD, "a field is missing or has the wrong type"},
	{INSEL_E_BAD_ADDR, "not a valid IPv4 or IPv6 address"},
	{INSEL_E_BAD_PREFIX, "not a valid CIDR prefix (ADDRESS/LENGTH)"},
	{INSEL_E_HOST_BITS, "prefix has host bits set (use the network address)"},
	{INSEL_E_CONFIG, "configuration error"},
	{INSEL_E_CRYPTO, "cryptographic operation failed"},
	{INSEL_E_AUTH, "authentication failed"},
	{INSEL_E_REPLAY, "replayed or too old"},
	{INSEL_E_CLOSED, "connection closed"},
	{INSEL_E_PROTOCOL, "protocol violation"},
	{INSEL_E_NOT_FOUND, "not found"},
	{INSEL_E_EXISTS, "already exists"},
	{INSEL_E_CONFLICT, "conflicts with an existing entry"},
	{INSEL_E_DB, "directory database error"},
	{INSEL_E_TIMEOUT, "timed out"},
	{INSEL_E_REFUSED, "refused by the peer"},
	{INSEL_E_LIMIT, "limit reached"},
	{INSEL_E_VERIFY, "certificate verification failed"},
	{INSEL_E_NO_COMMON, "no choice acceptable to both sides"},
	{INSEL_E_UNAVAILABLE, "not served by anyone right now"},
	{INSEL_E_FORBIDDEN, "not allowed for this peer"},
	{INSEL_E_UNKNOWN_OP, "unknown operation"},
	{INSEL_E_VERSION, "version not supported"},
	{INSEL_E_BUSY, "too many attempts; try again later"},
	{INSEL_E_RESET, "the peer aborted the connection"},
	{INSEL_E_PEER_GONE, "the peer stopped answering (the stream time-out passed)"},
	{INSEL_E_DB_DOWN, "the directory's database cannot be reached right now"},
};

static const struct error_name *find_project_error(int err)
{
	for (size_t i = 0; i < sizeof project_errors / sizeof project_errors[0]; i++)
		if (project_errors[i].err == err)
			return &project_errors[i];
	return NULL;
}

const char *insel_strerror(int err)
{
	const struct error_name *e = find_project_error(err);

	if (e)
		return e->text;
	if (err < 0 && err > INSEL_E_BASE)
		return strerror(-err);
	return "unknown error";
}


int err_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
