/* `insel-principal pki ...`: the operator's certificate authority (pki.h).
 *   pki init  --dir DIR [--org NAME] [--days N]           the CA: DIR/ca.crt, DIR/ca.key
 *   pki issue --dir DIR --role ROLE --name NAME [--out-cert F --out-key F]
 *             [--days N | --seconds N]                    (--seconds: short-lived, tests)
 *   pki requests|approve|reject                            renewals (cmd_pki_requests.c)
 *   pki show  CERT                                          role, name, serial, dates
 * Every action takes --json for machine-readable output. Errors go to stderr as one
 * sentence and give a non-zero exit (EXIT_USAGE for a bad command line). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "err.h"
#include "opts.h"
#include "pki.h"
#include "principal.h"

#define CA_DAYS_DEFAULT 3650
#define CERT_DAYS_DEFAULT 365
#define MAX_SECONDS (36500LL * 86400)
#define BACKDATE_S (10 * 60)  /* as pki_issue: a lagging clock still accepts it */

struct pki_args {
	const char *dir;
	const char *org;
	const char *role;
	const char *name;
	const char *out_cert;
	const char *out_key;
	const char *cert;  /* positional, for show */
	unsigned days;
	long long seconds;  /* --seconds: validity in seconds instead of days */
	bool json;
};

static void pki_usage(FILE *f)
{
	fprintf(f, "Usage: insel-principal pki init --dir DIR [--org NAME] [--days N] [--json]\n"
		   "       insel-principal pki issue --dir DIR --role principal|secondary|operator|user "
		   "--name NAME\n"
		   "                [--out-cert FILE --out-key FILE] [--days N | --seconds N] "
		   "[--json]\n"
		   "       insel-principal pki show CERT [--json]\n"
		   "       insel-principal pki requests [--all] [--json]\n"
		   "       insel-principal pki approve ID --dir DIR [--days N | --seconds N]\n"
		   "       insel-principal pki reject ID\n"
		   "Keys are written with mode 0600; existing files are never overwritten.\n"
		   "issue writes DIR/NAME.crt and DIR/NAME.key unless --out-cert/--out-key say.\n");
}

static int parse_days(const char *text, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (!*text || *end || v == 0 || v > 36500 || text[0] == '-')
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_seconds(const char *text, long long *out)
{
	char *end;
	long long v = strtoll(text, &end, 10);

	if (!*text || *end || v <= 0 || v > MAX_SECONDS)
		return -1;
	*out = v;
	return 0;
}

#define PKI_ARGS_HELPED (-1)

/* Reads the options after the action; 0, PKI_ARGS_HELPED after printing the usage for
 * --help, or EXIT_USAGE with a message printed. */
static int parse_args(int argc, char **argv, struct pki_args *a)
{
	const char *days = NULL, *seconds = NULL;
	const struct opt table[] = {
		{"--dir", true, &a->dir, NULL},
		{"--org", true, &a->org, NULL},
		{"--role", true, &a->role, NULL},
		{"--name", true, &a->name, NULL},
		{"--out-cert", true, &a->out_cert, NULL},
		{"--out-key", true, &a->out_key, NULL},
		{"--days", true, &days, NULL},
		{"--seconds", true, &seconds, NULL},
		{"--json", false, NULL, &a->json},
	};
	struct opts o = {.table = table, .n = sizeof table / sizeof table[0], .pos = &a->cert,
			 .max_pos = 1};

	switch (opts_parse(&o, argc, argv, 2)) {
	case OPTS_OK:
		break;
	case OPTS_HELP:
		pki_usage(stdout);
		return PKI_ARGS_HELPED;
	default:
		fprintf(stderr, "insel-principal pki: %s\n", o.why);
		return EXIT_USAGE;
	}
	if (seconds && parse_seconds(seconds, &a->seconds) != 0) {
		fprintf(stderr, "insel-principal pki: --seconds must be 1 to %lld\n", MAX_SECONDS);
		return EXIT_USAGE;
	}
	if (days && parse_days(days, &a->days) != 0) {
		fprintf(stderr, "insel-principal pki: --days must be 1 to 36500, not '%s'\n", days);
		return EXIT_USAGE;
	}
	return 0;
}

static void format_time(long long t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm))
		strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, n, "%lld", t);
}

static json_t *identity_json(const struct pki_identity *id, const char *cert_path,
			     const char *key_path)
{
	char nb[32], na[32];

	format_time(id->not_before, nb, sizeof nb);
	format_time(id->not_after, na, sizeof na);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?}", "role",
			 pki_role_name(id->role), "name", id->name, "serial", id->serial,
			 "fingerprint", id->fingerprint, "not_before", nb, "not_after", na,
			 "cert", cert_path, "key", key_path);
}

static void print_identity(const json_t *j)
{
	static const char *const keys[] = {"role", "name", "serial", "fingerprint",
					   "not_before", "not_after", "cert", "key"};

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *v = json_string_value(json_object_get(j, keys[i]));

		if (v)
			printf("%-12s %s\n", keys[i], v);
	}
}

static int show_identity(const struct pki_identity *id, const char *cert_path,
			 const char *key_path, bool as_json)
{
	json_t *j = identity_json(id, cert_path, key_path);

	if (!j) {
		fprintf(stderr, "insel-principal pki: out of memory\n");
		return EXIT_FAILURE_GENERIC;
	}
	if (as_json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_identity(j);
	}
	json_decref(j);
	return EXIT_OK;
}

static int pki_init_action(const struct pki_args *a)
{
	char err[512], cert[4096];
	struct pki_identity id;

	if (!a->dir) {
		fprintf(stderr, "insel-principal pki init: --dir is required\n");
		return EXIT_USAGE;
	}
	if (pki_ca_init(a->dir, a->org ? a->org : "insel", a->days ? a->days : CA_DAYS_DEFAULT,
			err, sizeof err) != 0) {
		fprintf(stderr, "insel-principal pki init: %s\n", err);
		return EXIT_FAILURE_GENERIC;
	}
	snprintf(cert, sizeof cert, "%s/ca.crt", a->dir);
	if (pki_read_identity(cert, &id, err, sizeof err) != 0) {
		fprintf(stderr, "insel-principal pki init: %s\n", err);
		return EXIT_FAILURE_GENERIC;
	}
	return show_identity(&id, cert, NULL, a->json);
}

static int issue_for(const struct pki_args *a, enum pki_role role, const char *cert,
		     const char *key, struct pki_identity *id, char *err, size_t errlen)
{
	long long now = (long long)time(NULL);

	if (a->seconds)
		return pki_issue_validity(a->dir, role, a->name, now - BACKDATE_S,
					  now + a->seconds, cert, key, id, err, errlen);
	return pki_issue(a->dir, role, a->name, a->days ? a->days : CERT_DAYS_DEFAULT, cert, key,
			 id, err, errlen);
}

static int pki_issue_action(const struct pki_args *a)
{
	char err[512], cert[4096], key[4096];
	struct pki_identity id;
	enum pki_role role;

	if (!a->dir || !a->role || !a->name) {
		fprintf(stderr, "insel-principal pki issue: --dir, --role and --name are required\n");
		return EXIT_USAGE;
	}
	role = pki_role_from_name(a->role);
	if (role == PKI_ROLE_NONE || role == PKI_ROLE_CA) {
		fprintf(stderr, "insel-principal pki issue: unknown role '%s' (principal, "
				"secondary, operator or user)\n", a->role);
		return EXIT_USAGE;
	}
	if (!pki_name_valid(a->name)) {
		fprintf(stderr, "insel-principal pki issue: '%s' is not a valid name (1 to %d of "
				"a-z 0-9 . _ -, starting with a letter or digit)\n", a->name,
			PKI_NAME_MAX);
		return EXIT_USAGE;
	}
	snprintf(cert, sizeof cert, "%s/%s.crt", a->dir, a->name);
	snprintf(key, sizeof key, "%s/%s.key", a->dir, a->name);
	if (a->days && a->seconds) {
		fprintf(stderr, "insel-principal pki issue: give --days or --seconds, not both\n");
		return EXIT_USAGE;
	}
	if (issue_for(a, role, a->out_cert ? a->out_cert : cert, a->out_key ? a->out_key : key,
		      &id, err, sizeof err) != 0) {
		fprintf(stderr, "insel-principal pki issue: %s\n", err);
		return EXIT_FAILURE_GENERIC;
	}
	return show_identity(&id, a->out_cert ? a->out_cert : cert,
			     a->out_key ? a->out_key : key, a->json);
}

static int pki_show_action(const struct pki_args *a)
{
	char err[512];
	struct pki_identity id;

	if (!a->cert) {
		fprintf(stderr, "insel-principal pki show: which certificate? (pki show CERT)\n");
		return EXIT_USAGE;
	}
	if (pki_read_identity(a->cert, &id, err, sizeof err) != 0) {
		fprintf(stderr, "insel-principal pki show: %s\n", err);
		return EXIT_FAILURE_GENERIC;
	}
	return show_identity(&id, a->cert, NULL, a->json);
}

int pki_main(int argc, char **argv)
{
	struct pki_args a = {0};
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		pki_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (pki_request_verb(argv[1]))
		return pki_request_main(argc, argv);
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == PKI_ARGS_HELPED ? EXIT_OK : rc;
	if (a.cert && strcmp(argv[1], "show") != 0) {
		fprintf(stderr, "insel-principal pki %s: unexpected argument '%s'\n", argv[1],
			a.cert);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "init") == 0)
		return pki_init_action(&a);
	if (strcmp(argv[1], "issue") == 0)
		return pki_issue_action(&a);
	if (strcmp(argv[1], "show") == 0)
		return pki_show_action(&a);
	fprintf(stderr, "insel-principal pki: unknown action '%s' (init, issue, show, requests, "
			"approve or reject)\n",
		argv[1]);
	return EXIT_USAGE;
}
