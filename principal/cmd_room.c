/* `insel-principal room ...`: the operator's hand on rooms (virtual LANs across sites,
 * docs/rooms.md): create and delete them, place and remove members, ban and unban users,
 * change the join password, and read who is in a room and what happened to it. Every
 * refusal is one sentence and changes nothing (principal/db_rooms.h). */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "cmd.h"
#include "config.h"
#include "db_rooms.h"
#include "err.h"
#include "passwd.h"
#include "principal.h"

static const struct cli_column room_columns[] = {
	{"name", "ROOM", CLI_STR},
	{"network", "NETWORK", CLI_STR},
	{"network6", "NETWORK6", CLI_STR},
	{"admin", "ADMIN", CLI_STR},
	{"members", "MEMBERS", CLI_INT},
	{"capacity", "CAPACITY", CLI_INT},
	{"banned", "BANNED", CLI_INT},
};
static const struct cli_column room_fields[] = {
	{"name", "room", CLI_STR},
	{"network", "network", CLI_STR},
	{"network6", "network6", CLI_STR},
	{"admin", "admin", CLI_STR},
	{"capacity", "capacity", CLI_INT},
	{"created_at", "created", CLI_TIME},
};
static const struct cli_column member_columns[] = {
	{"user", "MEMBER", CLI_STR},
	{"host", "HOST", CLI_STR},
	{"address", "ROOM ADDRESS", CLI_STR},
	{"address6", "ROOM ADDRESS6", CLI_STR},
	{"host6", "HOST6", CLI_STR},
	{"joined_at", "JOINED", CLI_TIME},
};
static const struct cli_column joined_fields[] = {
	{"room", "room", CLI_STR},
	{"user", "member", CLI_STR},
	{"host", "host", CLI_STR},
	{"host6", "host6", CLI_STR},
	{"address", "room address", CLI_STR},
	{"address6", "room address6", CLI_STR},
};
static const struct cli_column ban_columns[] = {
	{"user", "BANNED", CLI_STR},
	{"by", "BY", CLI_STR},
	{"at", "AT", CLI_TIME},
};
static const struct cli_column event_columns[] = {
	{"at", "TIME", CLI_TIME},
	{"kind", "EVENT", CLI_STR},
	{"user", "USER", CLI_STR},
	{"address", "ADDRESS", CLI_STR},
	{"by", "BY", CLI_STR},
};
#define N(a) (sizeof a / sizeof a[0])
#define OPERATOR "operator"

/* The room name of the first positional argument, refused before anything is asked. */
static int check_name(const struct cli *c)
{
	char quoted[64];

	if (room_name_valid(c->pos[0]))
		return 0;
	room_quote(c->pos[0], quoted, sizeof quoted);
	return cli_usage_error(c, "invalid room name '%s': use 1-%d of a-z 0-9 _ -, starting "
			       "with a letter or digit (it names a network interface)", quoted,
			       ROOM_NAME_MAX);
}

/* Reads the join password and hashes it with --iterations (or the default). */
static int read_hash(const struct cli *c, char *hash, size_t hashlen)
{
	char pw[PASSWD_MAX_LEN + 2];
	long long iterations = PASSWD_DEFAULT_ITERATIONS;
	int rc;

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
	return rc ? cli_fail(c, NULL, rc) : 0;
}

static int parse_network(const struct cli *c, const char *opt, struct ip_prefix *p)
{
	const char *text = cli_opt(c, opt);
	int err = ip_prefix_parse(text, true, p);

	if (err)
		return cli_usage_error(c, "invalid %s '%s': %s", opt, text, insel_strerror(err));
	return 0;
}

static int room_add(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--network", "--network6", "--admin", "--capacity",
					   "--iterations", NULL};
	struct ip_prefix net, net6;
	char hash[PASSWD_HASH_STRLEN];
	long long capacity = 0;
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 1, 1))
		return c->exit_code;
	if ((rc = check_name(c)))
		return rc;
	if (!cli_opt(c, "--network"))
		return cli_usage_error(c, "a room needs --network (e.g. 172.30.0.0/24)");
	if ((rc = parse_network(c, "--network", &net)) ||
	    (cli_opt(c, "--network6") && (rc = parse_network(c, "--network6", &net6))))
		return rc;
	if (cli_opt(c, "--capacity") &&
	    (cfg_parse_int(cli_opt(c, "--capacity"), &capacity) || capacity < 1))
		return cli_usage_error(c, "--capacity must be a number of members, 1 or more");
	if ((rc = read_hash(c, hash, sizeof hash)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	rc = db_room_add(db, &(struct db_room_new){
		.name = c->pos[0], .network = &net,
		.network6 = cli_opt(c, "--network6") ? &net6 : NULL, .hash = hash,
		.admin = cli_opt(c, "--admin"), .capacity = capacity, .by = OPERATOR},
		cli_now());
	if (rc)
		return cli_fail(c, db, rc);
	return cli_done(c, db, "room %s added", c->pos[0]);
}

static int room_passwd(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--iterations", NULL};
	char hash[PASSWD_HASH_STRLEN];
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, opts, NULL, 1, 1))
		return c->exit_code;
	if ((rc = check_name(c)) || (rc = read_hash(c, hash, sizeof hash)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_room_set_hash(db, c->pos[0], hash, OPERATOR, cli_now())))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "join password of room %s changed", c->pos[0]);
}

static int room_list(struct cli *c, int argc, char **argv)
{
	static const char *const opts[] = {"--user", NULL};
	struct db *db;
	json_t *rows = NULL;
	int rc;

	if (!(db = cli_begin(c, argc, argv, opts, NULL, 0, 0)))
		return c->exit_code;
	rc = db_room_list(db, cli_opt(c, "--user"), &rows);
	return cli_list_result(c, db, rc, rows, room_columns, N(room_columns));
}

/* The room's fields, then its members, bans and latest events as tables. */
static int room_show(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *obj = NULL, *members, *bans, *events;
	int rc;

	if (cli_parse(c, argc, argv, NULL, NULL, 1, 1))
		return c->exit_code;
	if ((rc = check_name(c)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_room_show(db, c->pos[0], &obj)))
		return cli_fail(c, db, rc);
	if (c->json)
		return cli_print_object(c, db, obj, room_fields, N(room_fields));
	members = json_incref(json_object_get(obj, "members"));
	bans = json_incref(json_object_get(obj, "bans"));
	events = json_incref(json_object_get(obj, "events"));
	cli_print_object(c, db, obj, room_fields, N(room_fields));
	putchar('\n');
	cli_print_list(c, NULL, members, member_columns, N(member_columns));
	if (json_array_size(bans)) {
		putchar('\n');
		cli_print_list(c, NULL, bans, ban_columns, N(ban_columns));
	} else {
		json_decref(bans);
	}
	putchar('\n');
	return cli_print_list(c, NULL, events, event_columns, N(event_columns));
}

static int room_remove(struct cli *c, int argc, char **argv)
{
	struct db *db;
	int rc;

	if (cli_parse(c, argc, argv, NULL, NULL, 1, 1))
		return c->exit_code;
	if ((rc = check_name(c)))
		return rc;
	if (!(db = cli_open_db(c)))
		return EXIT_UNAVAILABLE;
	if ((rc = db_room_remove(db, c->pos[0], OPERATOR, cli_now())))
		return cli_fail(c, db, rc);
	return cli_done(c, db, "room %s removed", c->pos[0]);
}

/* ROOM USER@LAN [--host ADDR [--host6 ADDR6]]: the verbs that act on one user of one room. */
static const char *const join_opts[] = {"--host", "--host6", NULL};
static const char *const leave_opts[] = {"--host", NULL};

static struct db *begin_member(struct cli *c, int argc, char **argv,
			       const char *const *opts)
{
	struct db *db;

	if (cli_parse(c, argc, argv, opts, NULL, 2, 2))
		return NULL;
	if ((c->exit_code = check_name(c)))
		return NULL;
	db = cli_open_db(c);
	if (!db)
		c->exit_code = EXIT_UNAVAILABLE;
	return db;
}

static int room_join(struct cli *c, int argc, char **argv)
{
	struct db *db;
	json_t *member = NULL;
	int rc;

	if (!(db = begin_member(c, argc, argv, join_opts)))
		return c->exit_code;
	if (!cli_opt(c, "--host")) {
		db_close(db);
		return cli_usage_error(c, "say from which host with --host ADDRESS");
	}
	rc = db_room_join(db, c->pos[0], c->pos[1], cli_opt(c, "--host"), cli_opt(c, "--host6"),
			  OPERATOR, cli_now(), &member);
	if (rc)
		return cli_fail(c, db, rc);
	return cli_print_object(c, db, member, joined_fields, N(joined_fields));
}

static int room_leave_or_kick(struct cli *c, int argc, char **argv, const char *kind)
{
	bool leave = strcmp(kind, "leave") == 0;
	struct db *db;
	int rc;

	if (!(db = begin_member(c, argc, argv, leave ? leave_opts : NULL)))
		return c->exit_code;
	rc = db_room_leave(db, c->pos[0], c->pos[1], leave ? cli_opt(c, "--host") : NULL, kind,
			   OPERATOR, cli_now());
	if (rc)
		return cli_fail(c, db, rc);
	return cli_done(c, db, leave ? "%s left room %s" : "%s kicked from room %s", c->pos[1],
			c->pos[0]);
}

static int room_leave(struct cli *c, int argc, char **argv)
{
	return room_leave_or_kick(c, argc, argv, "leave");
}

static int room_kick(struct cli *c, int argc, char **argv)
{
	return room_leave_or_kick(c, argc, argv, "kick");
}

static int room_ban_or_unban(struct cli *c, int argc, char **argv, bool ban)
{
	struct db *db;
	int rc;

	if (!(db = begin_member(c, argc, argv, NULL)))
		return c->exit_code;
	rc = ban ? db_room_ban(db, c->pos[0], c->pos[1], OPERATOR, cli_now())
		 : db_room_unban(db, c->pos[0], c->pos[1], OPERATOR, cli_now());
	if (rc)
		return cli_fail(c, db, rc);
	return cli_done(c, db, ban ? "%s banned from room %s" : "%s may join room %s again",
			c->pos[1], c->pos[0]);
}

static int room_ban(struct cli *c, int argc, char **argv)
{
	return room_ban_or_unban(c, argc, argv, true);
}

static int room_unban(struct cli *c, int argc, char **argv)
{
	return room_ban_or_unban(c, argc, argv, false);
}

static const struct cli_verb verbs[] = {
	{"add", room_add,
	 "NAME --network A.B.C.D/LEN [--network6 P/LEN] [--admin USER@LAN] [--capacity N] "
	 "[--iterations N]",
	 "add a room; its join password is asked for, or read as one line from stdin"},
	{"list", room_list, "[--user USER@LAN]", "list rooms (those USER is in)"},
	{"show", room_show, "NAME", "show a room, its members, bans and latest events"},
	{"remove", room_remove, "NAME", "delete a room and every membership in it"},
	{"passwd", room_passwd, "NAME [--iterations N]", "change a room's join password"},
	{"join", room_join, "NAME USER@LAN --host ADDRESS [--host6 ADDRESS6]",
	 "place a user in a room from a host of its LAN (no password needed)"},
	{"leave", room_leave, "NAME USER@LAN [--host ADDRESS]",
	 "take a user out of a room (from one host, or from all)"},
	{"kick", room_kick, "NAME USER@LAN", "take a user out of a room; it may join again"},
	{"ban", room_ban, "NAME USER@LAN", "take a user out of a room until unbanned"},
	{"unban", room_unban, "NAME USER@LAN", "let a banned user join again"},
};

int room_main(int argc, char **argv)
{
	return cli_run_verbs("room", "rooms: virtual LANs across sites", verbs, N(verbs), argc,
			     argv);
}
