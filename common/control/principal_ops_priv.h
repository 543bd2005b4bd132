/* Private to common/control/principal_ops*.c: the pieces every family's codec uses
 * (errors into why, bounded text, pages, nullable strings, the serving secondary). */
#ifndef INSEL_PRINCIPAL_OPS_PRIV_H
#define INSEL_PRINCIPAL_OPS_PRIV_H

#include "prefix_list.h"
#include "principal_ops.h"

/* Formats why and returns code. */
int pop_fail(char why[POP_WHY_LEN], int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After a msg_get_* getter failed: its sentence into why; INSEL_E_BAD_FIELD. */
int pop_field_fail(char why[POP_WHY_LEN]);

/* A string of 1..POP_TEXT_MAX printable bytes (0..POP_TEXT_MAX and NULL when absent, if
 * not required). */
int pop_get_text(const json_t *msg, const char *key, bool required, const char **out,
		 char why[POP_WHY_LEN]);
/* A string copied into out[outlen], or "" when absent or null. */
int pop_get_nullable(const json_t *msg, const char *key, char *out, size_t outlen,
		     char why[POP_WHY_LEN]);
/* A new JSON string, or JSON null for "" (a value the directory does not have). */
json_t *pop_nullable(const char *text);

/* offset (0..INT32_MAX, default 0) and limit (1..POP_LIST_MAX, default POP_LIST_DEFAULT). */
int pop_get_page(const json_t *msg, struct pop_page *out, char why[POP_WHY_LEN]);
void pop_put_page(json_t *req, const struct pop_page *page);

/* An array of 0..POP_MAX_PREFIXES prefix strings, host bits clear. */
int pop_get_prefixes(const json_t *msg, const char *key, struct ip_prefix *out, size_t *n,
		     char why[POP_WHY_LEN]);

void pop_put_timers(json_t *obj, const struct pop_timers *t);
int pop_get_timers(const json_t *msg, struct pop_timers *out, char why[POP_WHY_LEN]);

void pop_put_serving(json_t *obj, const struct pop_serving *s);
int pop_get_serving(const json_t *msg, struct pop_serving *out, char why[POP_WHY_LEN]);

#endif
