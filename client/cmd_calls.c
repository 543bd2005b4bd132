/* `insel calls`: the calls of this user in progress, with their channels and byte counts.
 * The gateway answers a page at a time (client_call.h); this asks for page after page
 * until the last and prints them as one listing: in text as each page arrives, with
 * --json as one document, the same object as a one-page reply ({"ok":true,"calls":[...
 * every call ...],"total":N}), without "next". */
#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "cmd.h"
#include "msg.h"

/* A page is asked within this; a listing of many pages takes as many. */
#define CALLS_PAGE_TIMEOUT_MS 10000
#define CLIENT_ARGS_DONE (-2)  /* nothing more to do: the usage was printed */

static int print_page(const json_t *reply, size_t *printed)
{
	struct client_call *calls;
	const char *why;
	size_t n;

	if (client_calls_reply_decode(reply, &calls, &n, &why))
		return report_unreadable("listing calls", why);
	for (size_t i = 0; i < n; i++) {
		print_call(&calls[i]);
		if (calls[i].stale)
			printf("  counters: not known (its auxiliary did not answer in time)\n");
	}
	*printed += n;
	free(calls);
	return EXIT_OK;
}

/* Appends the page's calls to the assembled listing. */
static int gather_page(json_t *all, const json_t *reply)
{
	const json_t *calls = json_object_get(reply, "calls");

	if (!json_is_array(calls) || json_array_extend(all, (json_t *)calls) != 0)
		return report_unreadable("listing calls", "calls: must be an array");
	return EXIT_OK;
}

/* Every page, printed or gathered into *all; the last page's reply in *last. */
static int list_pages(struct client_session *s, unsigned page, bool as_json, json_t *all,
		      json_t **last)
{
	struct client_calls_request r = {.limit = page};
	size_t printed = 0;
	const char *why;
	json_t *reply;
	int rc;

	for (;;) {
		rc = session_ask(s, "listing calls", client_calls_encode(&r),
				 CALLS_PAGE_TIMEOUT_MS, &reply);
		if (rc)
			return rc;
		rc = as_json ? gather_page(all, reply) : print_page(reply, &printed);
		if (rc == EXIT_OK && client_calls_next(reply, &r.after, &why))
			rc = report_unreadable("listing calls", why);
		if (rc || r.after == 0) {
			*last = reply;
			break;
		}
		json_decref(reply);
	}
	if (rc == EXIT_OK && !as_json && printed == 0)
		printf("no calls in progress\n");
	return rc;
}

int calls_main(int argc, char **argv)
{
	static const char usage[] =
		"Usage: insel calls [--page N] [common options]\n"
		"  --page N  calls per request to the gateway, 1-500 (default: the gateway's)\n";
	const char *page_text = NULL;
	const struct opt own[] = {{"--page", true, &page_text, NULL}};
	struct client_options o = {0};
	struct client_session s;
	json_t *all = json_array(), *last = NULL;
	unsigned page = 0;
	char *end;
	int rc;

	rc = client_parse_args("insel calls", usage, argc, argv, &o, own, 1, NULL, 0, NULL);
	if (rc == CLIENT_ARGS_GO_ON && page_text) {
		unsigned long v = strtoul(page_text, &end, 10);

		if (*end || v < 1 || v > CLIENT_CALLS_PAGE_MAX) {
			fprintf(stderr, "insel calls: --page takes 1 to %d\n%s",
				CLIENT_CALLS_PAGE_MAX, usage);
			rc = EXIT_USAGE;
		}
		page = (unsigned)v;
	}
	if (rc == CLIENT_ARGS_GO_ON)
		rc = client_finish_options(&o) ? EXIT_USAGE : session_open(&s, &o);
	else if (rc == EXIT_OK)
		rc = CLIENT_ARGS_DONE;  /* --help */
	if (rc != EXIT_OK || !all) {
		json_decref(all);
		return rc == CLIENT_ARGS_DONE ? EXIT_OK : rc != EXIT_OK ? rc : EXIT_FAILURE_GENERIC;
	}
	rc = list_pages(&s, page, o.json, all, &last);
	if (rc == EXIT_OK && o.json) {
		json_object_del(last, "next");
		json_object_set(last, "calls", all);
		json_object_set_new(last, "total", json_integer((json_int_t)json_array_size(all)));
		print_json(last);
	}
	json_decref(last);
	json_decref(all);
	session_close(&s);
	return rc;
}
