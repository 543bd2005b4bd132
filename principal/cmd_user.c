/* `insel-principal user ...`: people who place calls, known as name@lan, with salted
 * PBKDF2 password hashes (principal/passwd.h). Passwords are read from the terminal without
 * echo (asked twice), or as one line from standard input for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "err.h"
#include "passwd.h"
#include "principal.h"

static const struct cli_column columns[] = {
	{"user", "USER", CLI_STR},
	{"lan", "LAN", CLI_STR},
	{"iterations", "KDF ITERATIONS", CLI_INT},
	{"created_at", "CREATED", CLI_TIME},
};
#define N(a) (sizeof a / sizeof a[0])

/* Parses NAME@LAN and --iterations, reads the password and hashes it. */
static int prepare_hash(const struct cli *c, char *name, char *lan, char *hash, size_t hashlen)
{
	char pw[PASSWD_MAX_LEN + 2];
	long long iterations = PASSWD_DEFAULT_ITERATIONS;
	int rc;

	if (db_split_user(c->pos[0], name, lan))
		return cli_usage_error(c, "'%s' is not NAME@LAN", c->pos[0]);
	if (cli_opt(c, "--iterations") &&
	    (cfg_parse_int(cli_opt(c, "--iterations"), &iterations) ||
	     iterations < PASSWD_MIN_ITERATIONS || iterations > PASSWD_MAX_ITERATIONS))
		return cli_usage_error(c, "--iterations must be from %u to %u",
				       PASSWD_MIN_ITERATIONS, PASSWD_MAX_ITERATIONS);
	if ((rc = cli_read_password(c, pw, sizeof pw))) {
		secure_wipe(pw, sizeof pw);
		return rc;
	}
	rc = passwd_hash(pw, (unsigned)iterations, hash, hashlen);
	secure_wipe(pw, sizeof pw);
	if (rc)
		return cli_fail(c, NULL, rc);
	return 0;
}

static int user_write(struct cli *c, int argc, char **argv, bool add)
{
	static const char *const opts[] = {"--iterations", NULL};
	char name[DB_NAME_MAX + 1], lan[DB_NAME_MAX + 1], hash[PASSWD_HASH_STRLEN];
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 1, 1))
		return c->exit_code;
	if ((rc = prepare_hash(c, name, lan, hash, sizeof hash)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	rc = add ? db_user_add(db, name, lan, hash, cli_now())
		 : db_user_set_hash(db, name, lan, hash);
	if (rc)
		return cli_fail(c, db, rc);
	return cli_done(c, db, add ? "user %s added" : "password of %s changed", c->pos[0]);
}

static int user_add(struct cli *c, int argc, char **argv)
{
	return user_write(c, argc, argv, true);
}

static int user_passwd(struct cli *c, int argc, char **argv)
{
	return user_write(c, argc, argv, false);
}

static int user_list(struct cli *c, int argc, char **argv)
{
	return cli_list_by_lan(c, argc, argv, db_user_list, columns, N(columns));
}

static int user_show_or_remove(struct cli *c, int argc, char **argv, bool remove)
{
	char name[DB_NAME_MAX + 1], lan[DB_NAME_MAX + 1];
	struct db *db;
	json_t *obj = NULL;
	int rc;

	if (cli_parse(c, argc, argv, NULL, NULL, 1, 1))
		return c->exit_code;
	if (db_split_user(c->pos[0], name, lan))
		return cli_usage_error(c, "'%s' is not NAME@LAN", c->pos[0]);
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if (remove) {
		if ((rc = db_user_remove(db, name, lan)))
			return cli_fail(c, db, rc);
		return cli_done(c, db, "user %s removed", c->pos[0]);
	}
	rc = db_user_show(db, name, lan, &obj);
	return cli_object_result(c, db, rc, obj, columns, N(columns));
}

static int user_show(struct cli *c, int argc, char **argv)
{
	return user_show_or_remove(c, argc, argv, false);
}

static int user_remove(struct cli *c, int argc, char **argv)
{
	return user_show_or_remove(c, argc, argv, true);
}

static const struct cli_verb verbs[] = {
	{"add", user_add, "NAME@LAN [--iterations N]",
	 "add a user; the password is asked for, or read as one line from stdin"},
	{"passwd", user_passwd, "NAME@LAN [--iterations N]", "set a user's password"},
	{"list", user_list, "[--lan LAN]", "list users"},
	{"show", user_show, "NAME@LAN", "show one user"},
	{"remove", user_remove, "NAME@LAN", "remove a user"},
};

int user_main(int argc, char **argv)
{
	return cli_run_verbs("user", "users who place calls", verbs, N(verbs), argc, argv);
}
