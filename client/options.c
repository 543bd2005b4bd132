/* The options every `insel` subcommand shares: which secondary, which CA, which user, and
 * the password, from the command line, the environment or /etc/insel/client.conf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "addr.h"
#include "client.h"
#include "cmd.h"
#include "config.h"

#define CLIENT_CONFIG "/etc/insel/client.conf"

static const struct cfg_key client_schema[] = {
	{"client", "secondary", CFG_STRING, 0, 0, 0, NULL},
	{"client", "ca", CFG_PATH, 0, 0, 0, NULL},
	{"client", "user", CFG_STRING, 0, 0, 0, NULL},
	{"client", "password_file", CFG_PATH, 0, 0, 0, NULL},
	{"client", "source", CFG_STRING, 0, 0, 0, NULL},
};

static struct cfg file_config;
static bool file_loaded;

int client_parse_args(const char *prog, const char *usage, int argc, char **argv,
		      struct client_options *co, const struct opt *own, size_t nown,
		      const char **pos, size_t max_pos, size_t *npos)
{
	const struct opt common[] = {
		{"--secondary", true, &co->secondary, NULL},
		{"--ca", true, &co->ca, NULL},
		{"--user", true, &co->user, NULL},
		{"--password-file", true, &co->password_file, NULL},
		{"--source", true, &co->source, NULL},
		{"--json", false, NULL, &co->json},
	};
	struct opts o = {.table = own, .n = nown, .more = common,
			 .nmore = sizeof common / sizeof common[0], .pos = pos, .max_pos = max_pos};

	switch (opts_parse(&o, argc, argv, 1)) {
	case OPTS_OK:
		if (npos)
			*npos = o.npos;
		return CLIENT_ARGS_GO_ON;
	case OPTS_HELP:
		printf("%s", usage);
		return EXIT_OK;
	default:
		fprintf(stderr, "%s: %s\n%s", prog, o.why, usage);
		return EXIT_USAGE;
	}
}

static const char *from_env_or_file(const char *current, const char *env, const char *key)
{
	if (current)
		return current;
	if (getenv(env))
		return getenv(env);
	return file_loaded ? cfg_str(&file_config, "client", key) : NULL;
}

static int read_password_file(struct client_options *o)
{
	FILE *f = fopen(o->password_file, "r");
	size_t len;

	if (!f) {
		fprintf(stderr, "insel: cannot read password file %s: %s\n", o->password_file,
			strerror(errno));
		return -1;
	}
	if (!fgets(o->password, sizeof o->password, f))
		o->password[0] = '\0';
	fclose(f);
	len = strcspn(o->password, "\r\n");
	o->password[len] = '\0';
	return 0;
}

static int prompt_password(struct client_options *o)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

	if (!tty) {
		fprintf(stderr, "insel: no password: give --password-file or set INSEL_PASSWORD\n");
		return -1;
	}
	fprintf(stderr, "Password for %s: ", o->user);
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	if (!fgets(o->password, sizeof o->password, stdin))
		o->password[0] = '\0';
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	o->password[strcspn(o->password, "\r\n")] = '\0';
	return 0;
}

int client_finish_options(struct client_options *o)
{
	if (!file_loaded && access(CLIENT_CONFIG, R_OK) == 0) {
		if (cfg_load_file(&file_config, CLIENT_CONFIG, client_schema,
				  sizeof client_schema / sizeof client_schema[0])) {
			fprintf(stderr, "insel: %s\n", cfg_error(&file_config));
			return -1;
		}
		file_loaded = true;
	}
	o->secondary = from_env_or_file(o->secondary, "INSEL_SECONDARY", "secondary");
	o->ca = from_env_or_file(o->ca, "INSEL_CA", "ca");
	o->user = from_env_or_file(o->user, "INSEL_USER", "user");
	o->password_file = from_env_or_file(o->password_file, "INSEL_PASSWORD_FILE",
					    "password_file");
	o->source = from_env_or_file(o->source, "INSEL_SOURCE", "source");
	if (!o->secondary) {
		fprintf(stderr, "insel: which gateway? Give --secondary ADDRESS:PORT (or a socket "
				"path), set INSEL_SECONDARY, or write it in %s\n", CLIENT_CONFIG);
		return -1;
	}
	if (!strchr(o->secondary, '/') && !o->ca) {
		fprintf(stderr, "insel: give --ca FILE (the organisation's CA certificate) to "
				"check the gateway's identity\n");
		return -1;
	}
	if (o->source && (strchr(o->secondary, '/') || ip_addr_parse(o->source, &o->source_addr))) {
		fprintf(stderr, "insel: --source takes one of this host's IP addresses, for a "
				"gateway reached over TLS (ADDRESS:PORT)\n");
		return -1;
	}
	if (!o->user) {
		fprintf(stderr, "insel: who are you? Give --user NAME or set INSEL_USER\n");
		return -1;
	}
	if (o->password_file)
		return read_password_file(o);
	if (getenv("INSEL_PASSWORD")) {
		snprintf(o->password, sizeof o->password, "%s", getenv("INSEL_PASSWORD"));
		return 0;
	}
	return prompt_password(o);
}
