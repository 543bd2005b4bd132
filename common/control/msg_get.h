/* Validating getters for the fields of a control message (untrusted JSON): 0 on success,
 * INSEL_E_BAD_FIELD if the field is missing or of the wrong type or range;
 * msg_field_error() then says which and why, ready for an error reply. */
#ifndef INSEL_MSG_GET_H
#define INSEL_MSG_GET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

int msg_get_str(const json_t *msg, const char *key, const char **out);
int msg_get_str_opt(const json_t *msg, const char *key, const char *dflt, const char **out);
int msg_get_int(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		json_int_t *out);
int msg_get_int_opt(const json_t *msg, const char *key, json_int_t min, json_int_t max,
		    json_int_t dflt, json_int_t *out);
int msg_get_bool_opt(const json_t *msg, const char *key, bool dflt, bool *out);
int msg_get_array(const json_t *msg, const char *key, size_t max_items, json_t **out);
int msg_get_object(const json_t *msg, const char *key, json_t **out);
const char *msg_field_error(void);
/* For parsers with checks of their own: sets msg_field_error() to "field 'key' why" and
 * returns INSEL_E_BAD_FIELD. */
int msg_bad_field(const char *key, const char *why);

#endif
