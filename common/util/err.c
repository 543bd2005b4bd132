/* Names and sentences for the project's error space (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct error_name {
	int err;
	const char *code;
	const char *text;
};

static const struct error_name project_errors[] = {
	{INSEL_E_TRUNCATED, "truncated", "data ends before the field it announces"},
	{INSEL_E_NOSPACE, "no_space", "buffer too small for the data"},
	{INSEL_E_TOO_BIG, "too_big", "length over the allowed maximum"},
	{INSEL_E_MALFORMED, "malformed", "malformed data"},
	{INSEL_E_BAD_JSON, "bad_json", "message is not valid JSON"},
	{INSEL_E_NOT_OBJECT, "not_object", "message is not a JSON object"},
	{INSEL_E_BAD_FIELD, "bad_field", "a field is missing or has the wrong type"},
	{INSEL_E_BAD_ADDR, "bad_address", "not a valid IPv4 or IPv6 address"},
	{INSEL_E_BAD_PREFIX, "bad_prefix", "not a valid CIDR prefix (ADDRESS/LENGTH)"},
	{INSEL_E_HOST_BITS, "host_bits", "prefix has host bits set (use the network address)"},
	{INSEL_E_CONFIG, "config", "configuration error"},
	{INSEL_E_CRYPTO, "crypto", "cryptographic operation failed"},
	{INSEL_E_AUTH, "auth_failed", "authentication failed"},
	{INSEL_E_REPLAY, "replay", "replayed or too old"},
	{INSEL_E_CLOSED, "closed", "connection closed"},
	{INSEL_E_PROTOCOL, "protocol", "protocol violation"},
	{INSEL_E_NOT_FOUND, "not_found", "not found"},
	{INSEL_E_EXISTS, "exists", "already exists"},
	{INSEL_E_CONFLICT, "conflict", "conflicts with an existing entry"},
	{INSEL_E_DB, "database", "directory database error"},
	{INSEL_E_TIMEOUT, "timeout", "timed out"},
	{INSEL_E_REFUSED, "refused", "refused by the peer"},
	{INSEL_E_LIMIT, "limit", "limit reached"},
	{INSEL_E_VERIFY, "verify_failed", "certificate verification failed"},
	{INSEL_E_NO_COMMON, "no_common", "no choice acceptable to both sides"},
	{INSEL_E_UNAVAILABLE, "unavailable", "not served by anyone right now"},
	{INSEL_E_FORBIDDEN, "forbidden", "not allowed for this peer"},
	{INSEL_E_UNKNOWN_OP, "unknown_op", "unknown operation"},
	{INSEL_E_VERSION, "unsupported_version", "version not supported"},
	{INSEL_E_BUSY, "busy", "too many attempts; try again later"},
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

const char *insel_errcode(int err)
{
	const struct error_name *e = find_project_error(err);

	if (e)
		return e->code;
	if (err < 0 && err > INSEL_E_BASE)
		return "system";
	return "internal";
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
