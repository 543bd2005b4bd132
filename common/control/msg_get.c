/* Validating getters for the fields of a control message: every handler reads untrusted
 * JSON through these, so that a missing field, a wrong type or a value out of range is
 * refused in one way, with a sentence naming the field (msg_field_error) ready for the
 * error reply. See msg_get.h. */
#include "msg_get.h"

#include <stdio.h>

#include "err.h"

static _Thread_local char field_error[160];

int msg_bad_field(const char *key, const char *why)
{
	snprintf(field_error, sizeof field_error, "field '%s' %s", key, why);
	return INSEL_E_BAD_FIELD;
}

static int bad_field(const char *key, const char *why)
{
	return msg_bad_field(key, why);
}

const char *msg_field_error(void)
{
	return field_error;
}

int msg_get_str(const json_t *msg, const char *key, const char **out)
{
	json_t *v = json_object_get(msg, key);

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_string(v))
		return bad_field(key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

int msg_get_str_opt(const json_t *msg, const char *key, const char *dflt, const char **out)
{
	if (!json_object_get(msg, key) || json_is_null(json_object_get(msg, key))) {
		*out = dflt;
		return 0;
	}
	return msg_get_str(msg, key, out);
}

int msg_get_int(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		json_int_t *out)
{
	json_t *v = json_object_get(msg, key);
	char why[96];

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_integer(v))
		return bad_field(key, "must be an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(why, sizeof why, "must be between %" JSON_INTEGER_FORMAT " and %"
			 JSON_INTEGER_FORMAT, min, max);
		return bad_field(key, why);
	}
	*out = json_integer_value(v);
	return 0;
}

int msg_get_int_opt(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		    json_int_t dflt, json_int_t *out)
{
	if (!json_object_get(msg, key)) {
		*out = dflt;
		return 0;
	}
	return msg_get_int(msg, key, min, max, out);
}

int msg_get_bool_opt(const json_t *msg, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(msg, key);

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return bad_field(key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int msg_get_array(const json_t *msg, const char *key, size_t max_items, json_t **out)
{
	json_t *v = json_object_get(msg, key);
	char why[64];

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_array(v))
		return bad_field(key, "must be an array");
	if (json_array_size(v) > max_items) {
		snprintf(why, sizeof why, "has more than %zu items", max_items);
		return bad_field(key, why);
	}
	*out = v;
	return 0;
}

int msg_get_object(const json_t *msg, const char *key, json_t **out)
{
	json_t *v = json_object_get(msg, key);

	if (!v)
		return bad_field(key, "is missing");
	if (!json_is_object(v))
		return bad_field(key, "must be an object");
	*out = v;
	return 0;
}
