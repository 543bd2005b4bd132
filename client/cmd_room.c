/* `insel room ...` and `insel rooms`: rooms (virtual LANs across sites, docs/rooms.md)
 * through the user's own gateway, which passes each request on to the directory. The
 * room's password is read from --room-password-file, from INSEL_ROOM_PASSWORD, or from
 * the terminal without echo; the request is checked here with the codec the gateway and
 * the directory use (common/control/room_ops.c), so a bad name is refused before anything
 * is sent. A join says the host's IPv6 address too (--host6, else the first global one of
 * an interface that is up), which an IPv6 room maps to the member's IPv6 room address. */
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "cmd.h"
#include "msg.h"
#include "room_ops.h"

#define ROOM_TIMEOUT_MS 60000  /* a new password is hashed slowly on purpose */

static const char usage[] =
	"Usage: insel room create NAME --network A.B.C.D/LEN [--network6 P/LEN] [--capacity N]\n"
	"       insel room join NAME [--host6 ADDRESS]\n"
	"       insel room leave NAME\n"
	"       insel room kick|ban|unban NAME USER@LAN   (the room's administrator)\n"
	"       insel room passwd NAME                    (the room's administrator)\n"
	"       insel room delete NAME                    (the room's administrator)\n"
	"       insel rooms                               (your rooms and their members)\n"
	"  [--room-password-file FILE] (else INSEL_ROOM_PASSWORD, else asked) [common options]\n";

static int read_room_password(const char *file, char *out, size_t outlen)
{
	struct termios old, quiet;
	FILE *f;

	if (file) {
		if (!(f = fopen(file, "r"))) {
			fprintf(stderr, "insel room: cannot read %s\n", file);
			return EXIT_USAGE;
		}
		if (!fgets(out, (int)outlen, f))
			out[0] = '\0';
		fclose(f);
	} else if (getenv("INSEL_ROOM_PASSWORD")) {
		snprintf(out, outlen, "%s", getenv("INSEL_ROOM_PASSWORD"));
	} else if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0) {
		fprintf(stderr, "Password of the room: ");
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		if (!fgets(out, (int)outlen, stdin))
			out[0] = '\0';
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	out[strcspn(out, "\r\n")] = '\0';
	if (!out[0]) {
		fprintf(stderr, "insel room: no room password: give --room-password-file or set "
				"INSEL_ROOM_PASSWORD\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* The first IPv6 address of an interface that is up, not loopback, not link-local, not
 * multicast: what the host is on its LAN (its gateway checks it lies in the LAN's
 * prefixes). "" when it has none. */
static void own_ipv6(char out[IP_STRLEN])
{
	struct ifaddrs *list, *i;

	out[0] = '\0';
	if (getifaddrs(&list))
		return;
	for (i = list; i && !out[0]; i = i->ifa_next) {
		const struct sockaddr_in6 *sa = (const void *)i->ifa_addr;
		struct ip_addr a = {.family = AF_INET6};
		const uint8_t *b;

		if (!sa || sa->sin6_family != AF_INET6 || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		b = sa->sin6_addr.s6_addr;
		if (b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
		    IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&sa->sin6_addr))
			continue;
		memcpy(a.bytes, b, 16);
		ip_addr_format(&a, out, IP_STRLEN);
	}
	freeifaddrs(list);
}

/* The request of the command line, checked by the shared decoder. */
static int build_request(const char *const *pos, size_t npos, const char *network,
			 const char *network6, const char *capacity, const char *password,
			 const char *host6, json_t **out)
{
	char why[ROOM_WHY_LEN];
	struct room_req r;
	json_t *req = msg_request("room", 1);

	json_object_set_new(req, "action", json_string(pos[0]));
	if (npos > 1)
		json_object_set_new(req, "room", json_string(pos[1]));
	if (npos > 2)
		json_object_set_new(req, "target", json_string(pos[2]));
	if (network)
		json_object_set_new(req, "network", json_string(network));
	if (network6)
		json_object_set_new(req, "network6", json_string(network6));
	if (capacity)
		json_object_set_new(req, "capacity", json_integer(atoll(capacity)));
	if (password)
		json_object_set_new(req, "password", json_string(password));
	if (host6 && host6[0] && strcmp(pos[0], "join") == 0)
		json_object_set_new(req, "host6", json_string(host6));
	if (room_req_decode(req, false, &r, why)) {
		fprintf(stderr, "insel room %s: %s\n", pos[0], why);
		json_decref(req);
		return EXIT_USAGE;
	}
	*out = req;
	return 0;
}

static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "-";
}

/* A room too big for one reply lists only its first members. */
static void print_unlisted(const json_t *room)
{
	json_int_t total = json_integer_value(json_object_get(room, "members_total"));
	size_t listed = json_array_size(json_object_get(room, "members"));

	if (total > (json_int_t)listed)
		printf("  ... and %lld more members, not listed (the list must fit one reply)\n",
		       (long long)(total - (json_int_t)listed));
}

static long long num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* Each other member site as this gateway's leg to it sees it: state, path, interface,
 * what it carried each way and what it dropped, by reason (the reasons that counted). */
static void print_sites(const json_t *room)
{
	const json_t *site, *drops, *n;
	const char *reason;
	size_t i;

	json_array_foreach(json_object_get(room, "sites"), i, site) {
		printf("  site %-24s %s%s%s", str(site, "lan"), str(site, "state"),
		       json_object_get(site, "path") ? " " : "",
		       json_object_get(site, "path") ? str(site, "path") : "");
		if (json_object_get(site, "interface"))
			printf("  interface %s", str(site, "interface"));
		if (json_object_get(site, "packets_out"))
			printf("  out %lld packets %lld bytes  in %lld packets %lld bytes  dropped %lld",
			       num(site, "packets_out"), num(site, "bytes_out"), num(site, "packets_in"),
			       num(site, "bytes_in"), num(site, "dropped"));
		drops = json_object_get(site, "drops");
		json_object_foreach((json_t *)drops, reason, n)
			if (json_integer_value(n))
				printf(" %s=%lld", reason, (long long)json_integer_value(n));
		printf("\n");
	}
}

static void print_rooms(const json_t *reply, const char *me)
{
	const json_t *room, *m;
	size_t i, k;

	json_array_foreach(json_object_get(reply, "rooms"), i, room) {
		printf("%sroom %s  network %s%s%s  admin %s  capacity %lld\n", i ? "\n" : "",
		       str(room, "name"), str(room, "network"),
		       json_string_value(json_object_get(room, "network6")) ? " " : "",
		       json_string_value(json_object_get(room, "network6")) ?
		       str(room, "network6") : "", str(room, "admin"),
		       (long long)json_integer_value(json_object_get(room, "capacity")));
		json_array_foreach(json_object_get(room, "members"), k, m)
			printf("  %-30s %s%s%s%s  %s%s%s\n", str(m, "user"), str(m, "address"),
			       json_string_value(json_object_get(m, "address6")) ? " " : "",
			       json_string_value(json_object_get(m, "address6")) ?
			       str(m, "address6") : "",
			       strcmp(str(m, "user"), me) == 0 ? " (you)" : "", str(m, "reach"),
			       json_string_value(json_object_get(m, "path")) ? " " : "",
			       json_string_value(json_object_get(m, "path")) ? str(m, "path") : "");
		print_unlisted(room);
		print_sites(room);
	}
	if (json_array_size(json_object_get(reply, "rooms")) == 0)
		printf("you are in no room\n");
}

static int print_result(enum room_action a, const char *const *pos, const json_t *reply,
			const char *me)
{
	const json_t *m = json_object_get(reply, "member");

	switch (a) {
	case ROOM_LIST:
		print_rooms(reply, me);
		break;
	case ROOM_JOIN:
		printf("joined room %s as %s%s%s\n", pos[1], str(m, "address"),
		       json_string_value(json_object_get(m, "address6")) ? " and " : "",
		       json_string_value(json_object_get(m, "address6")) ?
		       str(m, "address6") : "");
		break;
	case ROOM_CREATE:
		printf("room %s created; you administer it (join it with: insel room join %s)\n",
		       pos[1], pos[1]);
		break;
	default:
		printf("room %s: %s%s%s done\n", pos[1], room_action_name(a), pos[2] ? " " : "",
		       pos[2] ? pos[2] : "");
	}
	return EXIT_OK;
}

/* argv is "room ACTION NAME [TARGET]" or "rooms". */
static int room_command(int argc, char **argv, bool list)
{
	struct client_options o = {0};
	struct client_session s;
	const char *pos[4] = {list ? "list" : NULL}, *network = NULL, *network6 = NULL;
	const char *capacity = NULL, *pwfile = NULL, *host6 = NULL;
	char found6[IP_STRLEN];
	const struct opt own[] = {
		{"--host6", true, &host6, NULL},
		{"--network", true, &network, NULL},
		{"--network6", true, &network6, NULL},
		{"--capacity", true, &capacity, NULL},
		{"--room-password-file", true, &pwfile, NULL},
	};
	char password[ROOM_PASSWORD_MAX + 2] = "", why[ROOM_WHY_LEN];
	size_t npos = 0;
	enum room_action a;
	json_t *req = NULL, *reply = NULL;
	int rc;

	rc = client_parse_args(list ? "insel rooms" : "insel room", usage, argc, argv, &o, own,
			       sizeof own / sizeof own[0], list ? pos + 1 : pos, list ? 0 : 3,
			       &npos);
	if (rc != CLIENT_ARGS_GO_ON)
		return rc;
	npos += list ? 1 : 0;
	if (!pos[0] || !room_action_of(pos[0], &a) || (a == ROOM_LIST) != list) {
		fprintf(stderr, "insel room: which action?\n%s", usage);
		return EXIT_USAGE;
	}
	if ((a == ROOM_CREATE || a == ROOM_JOIN || a == ROOM_PASSWD) &&
	    (rc = read_room_password(pwfile, password, sizeof password)))
		return rc;
	if (a == ROOM_JOIN && !host6) {
		own_ipv6(found6);
		host6 = found6;
	}
	rc = build_request(pos, npos, network, network6, capacity, password[0] ? password : NULL,
			   host6, &req);
	secure_wipe(password, sizeof password);
	if (rc || client_finish_options(&o)) {
		json_decref(req);
		return EXIT_USAGE;
	}
	if ((rc = session_open(&s, &o))) {
		json_decref(req);
		return rc;
	}
	rc = session_ask(&s, list ? "listing rooms" : "asking for the room", req,
			 ROOM_TIMEOUT_MS, &reply);
	if (!rc && room_reply_check(reply, a, why)) {
		fprintf(stderr, "insel room: the gateway's answer is not readable: %s\n", why);
		rc = EXIT_FAILURE_GENERIC;
	} else if (!rc && o.json) {
		print_json(reply);
	} else if (!rc) {
		rc = print_result(a, pos, reply, str(reply, "user"));
	}
	json_decref(reply);
	session_close(&s);
	return rc;
}

int room_main(int argc, char **argv)
{
	return room_command(argc, argv, false);
}

int rooms_main(int argc, char **argv)
{
	return room_command(argc, argv, true);
}
