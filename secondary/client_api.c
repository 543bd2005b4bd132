/* The client API: what `insel` on a LAN host (over TLS, authenticated by password) or on
 * the gateway itself (over a unix socket) may ask of its secondary. Requests go through the
 * one dispatcher (dispatch.h), from a table that says who may send each and which need a
 * logged-in user. The secondary also sends requests to
 * clients: "incoming" (answer a call), "call_up" and "call_ended" (notices).
 *
 *   hello   {version}                       -> {secondary, lan}
 *   login   {user, password}                -> {user, lan}
 *   call    {callee, channels:[{kind,port}]} -> {call:{...}} once up, or an error
 *           (or channels:[{"kind":"tun"}]: a network call through TUN interfaces)
 *   listen  {tun?}                          -> {}; then "incoming" requests arrive
 *   calls   {after?, limit?}                -> {calls:[...], total, next?}, a page at a
 *                                              time, with each running call's counters
 *                                              from its auxiliary: the calls whose local
 *                                              party is this user; the operator sees
 *                                              every call, trunks included
 *   hangup  {call}                          -> {} (a call listed by "calls")
 *   status  {}                              -> {secondary, lan, user, principal, calls, limit,
 *                                               certificates, warnings, renewal}
 *   room    {action, room, ...}             -> the principal's answer (client_room.c)
 *
 * The call messages are encoded and decoded by common/control/client_call.c, which the
 * client uses too. hello comes first and once; a client over TLS has a user certificate
 * or none. The operator is a client on the gateway's unix socket whose process runs as
 * root or in the configured operator_group (SO_PEERCRED, SO_PEERGROUPS), not any user
 * logged in there. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "secondary.h"
#include "timeouts.h"
#include "tls.h"
#include "wire_errors.h"

static void reply_error(struct client_conn *c, const json_t *req, const char *code,
			const char *message)
{
	client_send(c, msg_reply_error(msg_id(req), code, "%s", message));
}

static void hello_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	json_int_t version;
	json_t *reply;

	const char *role;

	if (msg_get_int(req, "version", 1, 1000, &version) ||
	    msg_get_str_opt(req, "role", "client", &role)) {
		reply_error(c, req, WIRE(BAD_REQUEST), msg_field_error());
		return;
	}
	if (version != MSG_PROTOCOL_VERSION) {
		reply_error(c, req, WIRE(UNSUPPORTED_VERSION), "this gateway speaks protocol version 1");
		return;
	}
	if (strcmp(role, "client") != 0) {
		reply_error(c, req, WIRE(FORBIDDEN), "this is the client port; only clients speak here");
		return;
	}
	c->hello_done = true;
	reply = msg_reply_ok(id);
	json_object_set_new(reply, "version", json_integer(MSG_PROTOCOL_VERSION));
	json_object_set_new(reply, "secondary", json_string(c->sec->cfg.name));
	json_object_set_new(reply, "lan", json_string(c->sec->cfg.lan));
	client_send(c, reply);
}

/* The login's outcome comes back from the principal, which keeps the password hashes. */
struct login_wait {
	struct client_conn *conn;
	json_int_t id;
	char user[PKI_NAME_MAX + 1];
};

/* The principal's refusal, as the client hears it: only a checked password that did not
 * match is a wrong password; too many attempts is "busy", with the principal's sentence
 * (it says when to try again). */
static json_t *login_refusal(json_int_t id, const char *code, const char *message)
{
	if (wire_error_is(code, WERR_AUTH_FAILED))
		return msg_reply_error(id, WIRE(BAD_PASSWORD), "wrong user name or password");
	if (wire_error_is(code, WERR_BUSY) || wire_error_is(code, WERR_LIMIT))
		return msg_reply_error(id, WIRE(BUSY), "%s", message);
	return msg_reply_error(id, WIRE(INTERNAL), "the directory could not check the password: %s",
			       message);
}

/* A TLS client that logged in takes an authenticated slot of the listener. */
static bool login_slot(struct client_conn *c, json_int_t id)
{
	if (!c->tls || tls_conn_authenticated(c->tls) == 0)
		return true;
	client_send(c, msg_reply_error(id, WIRE(LIMIT), "this gateway serves its maximum of %u "
				       "logged-in clients", c->sec->cfg.client_limits
								   .max_authenticated));
	tls_conn_close(c->tls, INSEL_E_LIMIT);
	return false;
}

static void login_reply(void *ctx, const json_t *reply, int err)
{
	struct login_wait *w = ctx;
	struct client_conn *c = w->conn;
	const char *code, *message;
	json_t *ok;

	if (c) {
		c->login_pending = false;
		c->login_wait = NULL;
		if (err) {
			client_send(c, msg_reply_error(w->id, WIRE(PRINCIPAL_UNREACHABLE),
						       "cannot check the password: %s",
						       insel_strerror(err)));
		} else if (!msg_reply_is_ok(reply, &code, &message)) {
			log_info("login of '%s' refused: %s (%s)", w->user, message, code);
			client_send(c, login_refusal(w->id, code, message));
		} else if (login_slot(c, w->id)) {
			snprintf(c->user, sizeof c->user, "%s", w->user);
			log_info("user '%s' logged in", c->user);
			ok = msg_reply_ok(w->id);
			json_object_set_new(ok, "user", json_string(c->user));
			json_object_set_new(ok, "lan", json_string(c->sec->cfg.lan));
			client_send(c, ok);
		}
	}
	free(w);
}

static void login_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	const char *user, *password;
	char full[CALL_PARTY_MAX];  /* users are named user@lan in the directory */
	struct login_wait *w;
	json_t *check;
	int rc;

	if (msg_get_str(req, "user", &user) || msg_get_str(req, "password", &password)) {
		reply_error(c, req, WIRE(BAD_REQUEST), msg_field_error());
		return;
	}
	if (!pki_name_valid(user)) {
		reply_error(c, req, WIRE(BAD_PASSWORD), "wrong user name or password");
		return;
	}
	if (c->login_pending) {
		reply_error(c, req, WIRE(BAD_REQUEST), "a login is already in progress");
		return;
	}
	w = calloc(1, sizeof *w);
	if (!w) {
		reply_error(c, req, WIRE(INTERNAL), "out of memory");
		return;
	}
	w->conn = c;
	w->id = id;
	snprintf(w->user, sizeof w->user, "%s", user);
	snprintf(full, sizeof full, "%s@%s", user, c->sec->cfg.lan);
	/* The principal backs off per source address as well as per user. */
	check = pop_verify_user_req_encode(0, &(struct pop_verify_user_req){
		.user = full, .password = password, .has_source = true, .source = c->addr});
	rc = principal_request(c->sec, check, login_reply, w);
	if (rc) {
		free(w);
		reply_error(c, req, WIRE(PRINCIPAL_UNREACHABLE),
			    "the directory cannot be reached to check the password");
		return;
	}
	c->login_pending = true;
	c->login_wait = w;
	c->user[0] = '\0';
}

static bool address_in_lan(const struct secondary *s, const struct ip_addr *a)
{
	for (size_t i = 0; i < s->cfg.nprefixes; i++)
		if (ip_prefix_contains(&s->cfg.prefixes[i], a))
			return true;
	return false;
}

static void call_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	struct client_call_request r;
	const char *why;
	char where[IP_STRLEN];

	if (client_call_request_decode(req, &r, &why)) {
		reply_error(c, req, WIRE(BAD_REQUEST), why);
		return;
	}
	if (!address_in_lan(c->sec, &c->addr)) {
		client_send(c, msg_reply_error(id, WIRE(NOT_IN_LAN),
					       "%s is not inside LAN %s",
					       ip_addr_format(&c->addr, where, sizeof where),
					       c->sec->cfg.lan));
		return;
	}
	call_place(c->sec, c, id, &r);
}

static void listen_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	const char *why;
	bool tun;

	if (client_listen_decode(req, &tun, &why)) {
		reply_error(c, req, WIRE(BAD_REQUEST), why);
		return;
	}
	c->listening = true;
	c->accept_tun = tun;
	client_send(c, msg_reply_ok(id));
}

/* A call is this client's if it is the call's local party (the caller here, or the
 * callee who answered here), by connection or by user name; the operator's are all. A
 * name the remote side gave (the callee's user on the other LAN) never counts. */
static bool call_involves(const struct call *call, const struct client_conn *c)
{
	if (c->operator)
		return true;
	return call->client == c ||
	       (call->party_user[0] && strcmp(call->party_user, c->user) == 0);
}

/* "calls" answers a page at a time (client_call.h): the client's calls after its cursor,
 * in the order of their ids, each call that is up with its auxiliary's live counters.
 * The page's auxiliaries are asked at once, with one deadline (CALLS_STATS_TIMEOUT_MS):
 * a call whose auxiliary did not answer by then is listed all the same, marked stale.
 * The asking is bounded in concurrency too: a page is at most CLIENT_CALLS_PAGE_MAX
 * calls, a client gathers one page at a time (a second request meanwhile lists without
 * counters), and the whole gateway has at most CALLS_STATS_MAX_OUTSTANDING queries out;
 * beyond that a call is listed stale rather than waited for. A page never exceeds the
 * control frame limit: the encoder stops at whole calls within CALLS_PAGE_BUDGET and
 * points "next" at the last one it took. */
#define CALLS_STATS_MAX_OUTSTANDING 512
#define CALLS_PAGE_BUDGET (MSG_MAX_DEFAULT - 1024)  /* the envelope's id, total, next */
_Static_assert(CLIENT_CALLS_PAGE_MAX <= CALLS_STATS_MAX_OUTSTANDING,
	       "one client's page can always be asked for in full");

struct calls_wait;
struct calls_item {
	struct calls_wait *w;
	struct client_call *call;
};
struct calls_wait {
	struct client_conn *conn;  /* NULL once the client went away */
	struct secondary *sec;
	json_int_t id;
	struct client_call *calls; /* those listed, n of them, in id order */
	size_t n;
	size_t total;              /* the client's calls in all, this page's and others */
	bool more;                 /* calls after this page's last */
	size_t pending;
	struct calls_item items[];
};

static void calls_finish(struct calls_wait *w)
{
	if (w->conn) {
		w->conn->calls_wait = NULL;
		client_send(w->conn, client_calls_page_encode(w->id, w->calls, w->n, w->more,
							      w->total, CALLS_PAGE_BUDGET, NULL));
	}
	for (size_t i = 0; i < w->n; i++)
		for (size_t ch = 0; ch < w->calls[i].nchannels; ch++)
			json_decref(w->calls[i].channels[ch].counters);
	free(w->calls);
	free(w);
}

/* An optional counter of the auxiliary's stats: true if it is there. */
static bool stat_count(const json_t *obj, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* The path MTU the call's auxiliary found (its "pmtu" stats), whatever the kind of call. */
static void merge_path_mtu(struct client_call *call, const json_t *stats)
{
	const json_t *pmtu = json_object_get(stats, "pmtu");
	const char *state = json_string_value(json_object_get(pmtu, "state"));
	uint64_t plpmtu;

	if (!stat_count(pmtu, "plpmtu", &plpmtu) || plpmtu == 0 || plpmtu > UINT16_MAX)
		return;
	call->path.mtu = (unsigned)plpmtu;
	snprintf(call->path.mtu_state, sizeof call->path.mtu_state, "%s", state ? state : "");
}

/* Adds the auxiliary's counters to the call: bytes per channel, datagrams refused from
 * LAN hosts that are no party to the call, for a network call its interface counters
 * (forwarded, refused, ICMP sent), and the path MTU for every call. */
/* What the auxiliary counted lost of channel i's traffic, each datagram once: what it
 * dropped by reason (lan[i].drops), the frames from the peer that never arrived
 * (frames_lost: lost on the path or in the WAN socket's buffer, whose own count is in
 * kernel packets and so is left out here), and for the first channel the frames its WAN
 * side dropped for a full send queue (sealed, so the peer counts them lost too). */
static void merge_drops(struct client_call_channel *out, const json_t *stats, size_t i)
{
	const json_t *drops = json_object_get(json_array_get(json_object_get(stats, "lan"), i),
					      "drops");
	const json_t *ch_stats = json_object_get(json_array_get(json_object_get(stats, "channels"),
								 i), "stats");
	const json_t *wan = json_object_get(stats, "wan");
	uint64_t n;
	const char *key;
	json_t *v;

	if (!json_is_object(drops))
		return;
	out->has_dropped = true;
	json_object_foreach((json_t *)drops, key, v)
		if (stat_count(drops, key, &n))
			out->dropped += n;
	stat_count(drops, "socket_buffer_full", &out->dropped_buffer_full);
	stat_count(drops, "send_queue_full", &out->dropped_queue_full);
	if (i == 0 && stat_count(wan, "send_queue_full", &n)) {
		out->dropped += n;
		out->dropped_queue_full += n;
	}
	if (stat_count(ch_stats, "frames_lost", &out->dropped_in_transit))
		out->dropped += out->dropped_in_transit;
}

static void merge_stats(struct client_call *call, const json_t *stats)
{
	const json_t *ch, *tun = json_object_get(stats, "tun");
	size_t i;

	merge_path_mtu(call, stats);
	json_array_foreach(json_object_get(stats, "channels"), i, ch) {
		const json_t *st = json_object_get(ch, "stats");
		const json_t *lan = json_array_get(json_object_get(stats, "lan"), i);
		struct client_call_channel *out;
		bool in, sent;

		if (i >= call->nchannels || !st)
			continue;
		out = &call->channels[i];
		if (!tun)
			merge_drops(out, stats, i);
		if (!tun)
			out->has_foreign_lan_sender = stat_count(lan, "foreign_lan_sender",
								 &out->foreign_lan_sender);
		in = stat_count(st, "bytes_in", &out->bytes_in);
		sent = stat_count(st, "bytes_out", &out->bytes_out);
		out->has_bytes = in && sent;
		/* The data plane's key epochs: they advance with each key exchange. */
		in = stat_count(ch, "recv_epoch", &out->recv_epoch);
		sent = stat_count(ch, "send_epoch", &out->send_epoch);
		out->has_epochs = in && sent;
		if (!stat_count(st, "msgs_deflated_out", &out->msgs_deflated_out))
			out->msgs_deflated_out = 0;
		if (json_is_object(tun) && !out->counters)
			out->counters = json_incref((json_t *)tun);
	}
}

static void calls_stats_reply(void *ctx, const json_t *reply, int err)
{
	struct calls_item *item = ctx;
	struct calls_wait *w = item->w;

	w->sec->calls_stats_outstanding--;
	if (!err && msg_reply_is_ok(reply, NULL, NULL))
		merge_stats(item->call, reply);
	else
		item->call->stale = true;  /* no answer by the deadline, or a refusal */
	if (--w->pending == 0)
		calls_finish(w);
}

static int call_id_order(const void *a, const void *b)
{
	uint64_t x = (*(struct call *const *)a)->id, y = (*(struct call *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* The client's calls after the cursor, the first `limit` of them in id order, into
 * page[] (room for every call); *total counts the client's calls in all. Returns how
 * many are in the page; *more says whether others follow. */
static size_t calls_page_select(struct client_conn *c, const struct client_calls_request *r,
				struct call **page, size_t *total, bool *more)
{
	size_t n = 0;

	*total = 0;
	for (struct call *call = c->sec->calls; call; call = call->next) {
		if (call->state == CALL_ENDED || !call_involves(call, c))
			continue;
		++*total;
		if (call->id > r->after)
			page[n++] = call;
	}
	qsort(page, n, sizeof page[0], call_id_order);
	*more = n > r->limit;
	return *more ? r->limit : n;
}

/* Asks the call's auxiliary for its counters; false if it was not asked (then the call's
 * counters are stale if it had any to give). */
static bool calls_ask_aux(struct calls_wait *w, struct calls_item *item, struct call *call)
{
	struct client_conn *c = w->conn;
	struct secondary *s = w->sec;

	if (call->state != CALL_UP || !call->aux)
		return false;
	if (c->calls_wait || s->calls_stats_outstanding >= CALLS_STATS_MAX_OUTSTANDING ||
	    aux_request(call->aux, msg_request("stats", 0), CALLS_STATS_TIMEOUT_MS,
			calls_stats_reply, item) != 0) {
		item->call->stale = true;
		return false;
	}
	s->calls_stats_outstanding++;
	return true;
}

static void calls_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	struct client_calls_request r;
	struct calls_wait *w = NULL;
	struct call **page;
	const char *why;
	size_t n = 0, total;
	bool more;

	if (client_calls_decode(req, &r, &why)) {
		reply_error(c, req, WIRE(BAD_REQUEST), why);
		return;
	}
	for (struct call *call = c->sec->calls; call; call = call->next)
		n++;
	page = malloc((n ? n : 1) * sizeof *page);
	if (page) {
		n = calls_page_select(c, &r, page, &total, &more);
		w = calloc(1, sizeof *w + n * sizeof w->items[0]);
	}
	if (w && !(w->calls = calloc(n ? n : 1, sizeof w->calls[0]))) {
		free(w);
		w = NULL;
	}
	if (!w) {
		free(page);
		reply_error(c, req, WIRE(INTERNAL), "out of memory");
		return;
	}
	w->conn = c;
	w->sec = c->sec;
	w->id = id;
	w->total = total;
	w->more = more;
	w->pending = 1;  /* held until every request is out */
	for (size_t i = 0; i < n; i++) {
		struct calls_item *item = &w->items[i];

		item->w = w;
		item->call = &w->calls[w->n++];
		call_describe(page[i], item->call);
		if (calls_ask_aux(w, item, page[i]))
			w->pending++;
	}
	free(page);
	if (!c->calls_wait && w->pending > 1)
		c->calls_wait = w;
	if (--w->pending == 0)
		calls_finish(w);
}

static void hangup_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	struct client_hangup h;
	const char *why;
	struct call *call;

	if (client_hangup_decode(req, &h, &why)) {
		reply_error(c, req, WIRE(BAD_REQUEST), why);
		return;
	}
	call = h.call[0] ? call_find(c->sec, h.call) : NULL;
	if (!call || !call_involves(call, c)) {
		reply_error(c, req, WIRE(UNKNOWN_CALL), "no such call in progress");
		return;
	}
	client_send(c, msg_reply_ok(id));
	call_event(call, CALL_EV_HANGUP, NULL);
}

static void status_handle(void *ctx, json_int_t id, const json_t *req)
{
	struct client_conn *c = ctx;
	json_t *reply = msg_reply_ok(id);
	struct secondary *s = c->sec;

	json_object_set_new(reply, "secondary", json_string(s->cfg.name));
	json_object_set_new(reply, "lan", json_string(s->cfg.lan));
	json_object_set_new(reply, "user", json_string(c->user));
	json_object_set_new(reply, "principal",
			    json_string(principal_link_up(&s->principal) ? "up" : "unreachable"));
	json_object_set_new(reply, "calls", json_integer((json_int_t)call_count(s)));
	json_object_set_new(reply, "limit", json_integer(s->cfg.max_calls));
	renew_status(s, reply);
	client_send(c, reply);
}

/* Who may use the client API: a LAN host over TLS (a user certificate or none: the
 * listener refuses others at the handshake, and a connection with another role has no
 * role here, so the table refuses it too), any local user on the unix socket, and the
 * operator there. */
#define BY_LAN_HOST DISPATCH_ROLE(0)
#define BY_LOCAL_USER DISPATCH_ROLE(1)
#define BY_OPERATOR DISPATCH_ROLE(2)
#define BY_CLIENT (BY_LAN_HOST | BY_LOCAL_USER | BY_OPERATOR)

/* The session's states after hello: a user logs in, then may use the rest. */
#define LOGGED_OUT 1u
#define LOGGED_IN 2u
#define ANY_LOGIN (LOGGED_OUT | LOGGED_IN)

static const struct dispatch_op client_ops[] = {
	{"hello", hello_handle, BY_CLIENT, ANY_LOGIN},
	{"login", login_handle, BY_CLIENT, ANY_LOGIN},
	{"call", call_handle, BY_CLIENT, LOGGED_IN},
	{"listen", listen_handle, BY_CLIENT, LOGGED_IN},
	{"calls", calls_handle, BY_CLIENT, LOGGED_IN},
	{"hangup", hangup_handle, BY_CLIENT, LOGGED_IN},
	{"status", status_handle, BY_CLIENT, LOGGED_IN},
	{"room", client_room_handle, BY_CLIENT, LOGGED_IN},
};

static void refuse(void *ctx, json_int_t id, enum wire_error code, const char *message)
{
	client_send(ctx, msg_reply_error(id, wire_error_name(code), "%s", message));
}

static const struct dispatch_table client_table = {
	.ops = client_ops,
	.n_ops = sizeof client_ops / sizeof client_ops[0],
	.state_refusal = WERR_NOT_LOGGED_IN,
	.refuse = refuse,
};

static unsigned client_role(const struct client_conn *c, const char **name)
{
	const struct pki_identity *id;

	if (!c->tls) {
		*name = c->operator ? "operator" : "local user";
		return c->operator ? BY_OPERATOR : BY_LOCAL_USER;
	}
	id = tls_conn_peer(c->tls);
	*name = id ? pki_role_name(id->role) : "connection without a handshake";
	if (id && (id->role == PKI_ROLE_USER || id->role == PKI_ROLE_NONE))
		return BY_LAN_HOST;
	return 0;
}

static void dispatch(struct client_conn *c, const json_t *msg, int err)
{
	struct dispatch_caller who = {
		.state = c->user[0] ? LOGGED_IN : LOGGED_OUT,
		.state_name = c->user[0] ? "logged in" : "logged out",
		.hello_done = c->hello_done,
		.rpc = &c->rpc,
	};

	who.role = client_role(c, &who.role_name);
	dispatch_message(&client_table, &who, c, msg, err);
}

static int send_to_client(struct client_conn *c, const json_t *msg)
{
	if (c->stream)
		return msg_stream_send(c->stream, msg);
	if (c->tls)
		return tls_conn_send(c->tls, msg);
	return INSEL_E_CLOSED;
}

/* A reply that does not fit in a control frame would never arrive, and the client would
 * wait for it until its time-out: it gets an error in its place, and the log says so. */
int client_send(struct client_conn *c, json_t *msg)
{
	int rc = msg ? send_to_client(c, msg) : -ENOMEM;

	if (rc == INSEL_E_TOO_BIG && msg_id(msg) >= 0 && !msg_op(msg)) {
		json_int_t id = msg_id(msg);

		log_error("a reply to a client exceeds the control frame limit (%d bytes)",
			  MSG_MAX_DEFAULT);
		json_decref(msg);
		msg = msg_reply_error(id, WIRE(TOO_BIG), "the answer is too big to send");
		rc = msg ? send_to_client(c, msg) : -ENOMEM;
	}
	json_decref(msg);
	return rc;
}

static int send_raw(void *conn, const json_t *msg)
{
	return send_to_client(conn, msg);
}

static struct client_conn *client_new(struct secondary *s)
{
	struct client_conn *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->sec = s;
	rpc_init(&c->rpc, s->loop, send_raw, c);
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	return c;
}

static void client_gone(struct client_conn *c)
{
	struct secondary *s = c->sec;

	c->stream = NULL;
	c->tls = NULL;
	/* A login still waiting on the principal must not touch this connection. */
	if (c->login_pending)
		((struct login_wait *)c->login_wait)->conn = NULL;
	if (c->calls_wait)
		((struct calls_wait *)c->calls_wait)->conn = NULL;
	client_room_gone(c);
	rpc_fail_all(&c->rpc, INSEL_E_CLOSED);
	/* The event may end (and unlink) the call: take the next one first. */
	for (struct call *call = s->calls, *next; call; call = next) {
		next = call->next;
		if (call->client == c)
			call_event(call, CALL_EV_CLIENT_GONE,
				   &(struct call_event_detail){.client = c});
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static void stream_msg(struct msg_stream *m, json_t *msg, int err)
{
	dispatch(m->data, msg, err);
}

static void stream_closed(struct msg_stream *m)
{
	client_gone(m->data);
}

/* Whether the process at the other end of a unix-socket connection runs as root or in
 * the operator group (primary or supplementary), as the kernel saw it at connect(). */
static bool peer_is_operator(const struct secondary *s, uv_pipe_t *pipe)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	gid_t groups[256];
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return false;
	if (cred.uid == 0)
		return true;
	if (!s->cfg.has_operator_gid)
		return false;
	if (cred.gid == s->cfg.operator_gid)
		return true;
	len = sizeof groups;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return false;
	for (size_t i = 0; i < len / sizeof groups[0]; i++)
		if (groups[i] == s->cfg.operator_gid)
			return true;
	return false;
}

/* Connections on the unix socket, which [clients] max_connections caps too (the
 * operator is never turned away). */
static unsigned local_clients(const struct secondary *s)
{
	unsigned n = 0;

	for (const struct client_conn *c = s->clients; c; c = c->next)
		n += c->stream != NULL;
	return n;
}

static void pipe_connection(uv_stream_t *server, int status)
{
	struct secondary *s = server->data;
	struct msg_stream *m;
	struct client_conn *c;

	if (status < 0)
		return;
	m = msg_stream_new_pipe(s->loop, MSG_MAX_DEFAULT);
	if (!m)
		return;
	if (uv_accept(server, &m->h.stream) || !(c = client_new(s))) {
		msg_stream_close(m, 0);
		return;
	}
	/* A local client stands on the gateway, which is inside its LAN. */
	c->addr = s->cfg.lan_address;
	c->operator = peer_is_operator(s, &m->h.pipe);
	if (!c->operator && local_clients(s) >= s->cfg.client_limits.max_authenticated) {
		log_warn("local clients: %u connections on %s already; refusing one",
			 s->cfg.client_limits.max_authenticated, s->cfg.client_socket);
		client_gone(c);
		msg_stream_close(m, 0);
		return;
	}
	c->stream = m;
	m->data = c;
	msg_stream_start(m, stream_msg, stream_closed);
}

static void tls_client_ready(struct tls_conn *t, int status)
{
	struct client_conn *c = tls_conn_data(t);

	if (status)
		log_info("client handshake failed: %s", tls_conn_error(t));
	else
		c->tls = t;
}

static void tls_client_msg(struct tls_conn *t, json_t *msg, int err)
{
	dispatch(tls_conn_data(t), msg, err);
}

static void tls_client_closed(struct tls_conn *t)
{
	client_gone(tls_conn_data(t));
}

static const struct tls_conn_callbacks tls_client_callbacks = {
	tls_client_ready, tls_client_msg, tls_client_closed,
};

static void tls_accept(struct tls_server *srv, struct tls_conn *t)
{
	struct secondary *s = tls_server_data(srv);
	struct client_conn *c = client_new(s);
	struct ip_endpoint from;

	if (!c) {
		tls_conn_close(t, -ENOMEM);
		return;
	}
	c->tls = t;
	if (tls_conn_peer_endpoint(t, &from) == 0)
		c->addr = from.addr;
	tls_conn_set_callbacks(t, &tls_client_callbacks, c);
}

static int listen_unix(struct secondary *s)
{
	const char *path = s->cfg.client_socket;
	int rc;

	uv_pipe_init(s->loop, &s->client_pipe, 0);
	s->client_pipe.data = s;
	s->client_pipe_open = true;
	unlink(path);  /* a stale socket from an earlier run */
	rc = uv_pipe_bind(&s->client_pipe, path);
	if (rc == 0) {
		chmod(path, 0666);  /* users log in with passwords; the socket is not the gate */
		rc = uv_listen((uv_stream_t *)&s->client_pipe, 64, pipe_connection);
	}
	if (rc)
		log_error("cannot listen on %s: %s", path, uv_strerror(rc));
	return rc;
}

/* A gateway with a standby partner listens on the LAN address before it holds it
 * (IP_FREEBIND), so that LAN clients reach whichever gateway holds it (docs/standby.md). */
static int freebind_socket(const struct ip_endpoint *at)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(at, &ss);
	int one = 1, fd = socket(at->addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int listen_tls(struct secondary *s)
{
	static const enum pki_role client_roles[] = {PKI_ROLE_USER, PKI_ROLE_NONE};
	int fd;

	if (!s->cfg.standby.enabled)
		return tls_server_listen(s->loop, s->creds, &s->cfg.client_listen, client_roles, 2,
					 tls_accept, s, &s->client_server);
	if ((fd = freebind_socket(&s->cfg.client_listen)) < 0)
		return fd;
	return tls_server_listen_fd(s->loop, s->creds, fd, client_roles, 2, tls_accept, s,
				    &s->client_server);
}

int client_api_start(struct secondary *s)
{
	int rc = listen_unix(s);

	if (rc || !s->cfg.has_client_listen)
		return rc;
	rc = listen_tls(s);
	if (rc)
		log_error("cannot listen for LAN clients: %s", insel_strerror(rc));
	else
		tls_server_set_limits(s->client_server, &s->cfg.client_limits);
	return rc;
}

void client_api_stop(struct secondary *s)
{
	if (s->client_server)
		tls_server_close(s->client_server);
	s->client_server = NULL;
	if (s->client_pipe_open) {
		uv_close((uv_handle_t *)&s->client_pipe, NULL);
		unlink(s->cfg.client_socket);
		s->client_pipe_open = false;
	}
	for (struct client_conn *c = s->clients; c; c = c->next) {
		if (c->stream)
			msg_stream_close(c->stream, 0);
		else if (c->tls)
			tls_conn_close(c->tls, 0);
	}
}

struct client_conn *client_find_listener(struct secondary *s, const char *user,
					 const struct ip_addr *addr)
{
	for (struct client_conn *c = s->clients; c; c = c->next)
		if (c->listening && user && user[0] && strcmp(c->user, user) == 0)
			return c;
	for (struct client_conn *c = s->clients; c; c = c->next)
		if (c->listening && addr && ip_addr_equal(&c->addr, addr))
			return c;
	return NULL;
}
