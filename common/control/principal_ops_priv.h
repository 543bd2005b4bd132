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

/* Decodes one entry of a report's array (the i-th, for the sentence in why). */
typedef int (*pop_entry_decode)(const json_t *j, size_t i, void *out, char why[POP_WHY_LEN]);
/* A report's array msg[field] of at most max entries into items (each size bytes), each
 * by decode; an entry whose text key (key_offset into the item, named key_name in the
 * sentence) repeats an earlier one's is refused. Their number into *n. */
int pop_get_unique_entries(const json_t *msg, const char *field, size_t max, void *items,
			   size_t size, size_t key_offset, const char *key_name,
			   pop_entry_decode decode, size_t *n, char why[POP_WHY_LEN]);
/* A report's reply {field: N}, 0 <= N <= max. */
int pop_get_count(const json_t *msg, const char *field, size_t max, int64_t *out,
		  char why[POP_WHY_LEN]);

void pop_put_serving(json_t *obj, const struct pop_serving *s);
int pop_get_serving(const json_t *msg, struct pop_serving *out, char why[POP_WHY_LEN]);

#endif
