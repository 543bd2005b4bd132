/* The client API's call messages: one codec for the client and the secondary
 * (see client_call.h). */
#include "client_call.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hex.h"
#include "msg.h"

json_t *call_channels_encode(const struct call_channel_list *l)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	if (l->tun) {
		json_array_append_new(a, json_pack("{s:s}", "kind", "tun"));
		return a;
	}
	for (size_t i = 0; i < l->n && i < SEC_MAX_CHANNELS; i++) {
		json_t *ch = json_pack("{s:s, s:i}", "kind", "udp", "port", (int)l->ports[i]);

		if (ch && l->modes[i] != NEGOTIATE_DATAGRAM)
			json_object_set_new(ch, "reliable",
					    json_string(negotiate_mode_name(l->modes[i])));
		json_array_append_new(a, ch);
	}
	return a;
}

/* A channel's optional "reliable" word (absent: datagram). */
static int get_mode(const json_t *ch, enum negotiate_mode *out)
{
	const char *word;

	*out = NEGOTIATE_DATAGRAM;
	if (!json_object_get(ch, "reliable"))
		return 0;
	if (msg_get_str(ch, "reliable", &word) || negotiate_mode_from_name(word, out) ||
	    *out == NEGOTIATE_DATAGRAM)
		return -1;
	return 0;
}

static int refuse(const char **why, const char *sentence)
{
	*why = sentence;
	return INSEL_E_BAD_FIELD;
}

int call_channels_decode(const json_t *channels, struct call_channel_list *out,
			 const char **why)
{
	struct call_channel_list l;
	const json_t *ch;
	size_t i;

	memset(&l, 0, sizeof l);
	if (!json_is_array(channels) || json_array_size(channels) > SEC_MAX_CHANNELS)
		return refuse(why, "channels must be a list of at most 8 channels");
	if (json_array_size(channels) == 0)
		return refuse(why, "a call needs at least one channel");
	json_array_foreach(channels, i, ch) {
		const char *kind;
		json_int_t port;

		if (msg_get_str(ch, "kind", &kind))
			return refuse(why, msg_field_error());
		if (strcmp(kind, "tun") == 0) {
			if (json_array_size(channels) != 1)
				return refuse(why, "a tun channel must be the call's only channel");
			l.tun = true;
			break;
		}
		if (msg_get_int(ch, "port", 1, 65535, &port))
			return refuse(why, msg_field_error());
		if (strcmp(kind, "udp") != 0)
			return refuse(why, "channels are of kind udp or tun");
		l.ports[i] = (uint16_t)port;
		if (get_mode(ch, &l.modes[i]))
			return refuse(why, "field 'reliable' must be ordered or unordered");
	}
	l.n = json_array_size(channels);
	*out = l;
	return 0;
}

int call_prefixes_decode(const json_t *list, struct ip_prefix *out, size_t max, size_t *n)
{
	size_t bad;

	if (json_array_size(list) == 0 ||
	    prefix_list_from_json(list, max, true, out, n, &bad))
		return INSEL_E_BAD_FIELD;
	return 0;
}

/* ---- the call object ---- */

static void set_endpoint(json_t *obj, const char *key, const struct ip_endpoint *ep)
{
	char text[IP_STRLEN];

	json_object_set_new(obj, key, json_string(ip_endpoint_format(ep, text, sizeof text)));
}

/* The auxiliary's counters, in the order the "calls" reply has always listed them. */
static void counters_encode(json_t *ch, const struct client_call_channel *c)
{
	if (c->has_foreign_lan_sender)
		json_object_set_new(ch, "foreign_lan_sender",
				    json_integer((json_int_t)c->foreign_lan_sender));
	if (c->has_dropped) {
		json_object_set_new(ch, "dropped", json_integer((json_int_t)c->dropped));
		json_object_set_new(ch, "dropped_buffer_full",
				    json_integer((json_int_t)c->dropped_buffer_full));
		json_object_set_new(ch, "dropped_queue_full",
				    json_integer((json_int_t)c->dropped_queue_full));
		json_object_set_new(ch, "dropped_in_transit",
				    json_integer((json_int_t)c->dropped_in_transit));
	}
	if (c->has_bytes) {
		json_object_set_new(ch, "bytes_in", json_integer((json_int_t)c->bytes_in));
		json_object_set_new(ch, "bytes_out", json_integer((json_int_t)c->bytes_out));
	}
	if (c->has_epochs) {
		json_object_set_new(ch, "send_epoch", json_integer((json_int_t)c->send_epoch));
		json_object_set_new(ch, "recv_epoch", json_integer((json_int_t)c->recv_epoch));
	}
	if (c->msgs_deflated_out > 0)
		json_object_set_new(ch, "msgs_deflated_out",
				    json_integer((json_int_t)c->msgs_deflated_out));
	if (c->counters)
		json_object_set(ch, "counters", c->counters);
}

json_t *client_call_channel_encode(const struct client_call_channel *c)
{
	json_t *ch;

	if (c->tun) {
		ch = json_pack("{s:s, s:o, s:o}", "kind", "tun",
			       "local_prefixes", prefix_list_to_json(c->local_prefixes,
								      c->nlocal_prefixes),
			       "remote_prefixes", prefix_list_to_json(c->remote_prefixes,
								       c->nremote_prefixes));
		if (ch && c->interface[0]) {
			json_object_set_new(ch, "interface", json_string(c->interface));
			json_object_set_new(ch, "mtu", json_integer(c->mtu));
		}
		if (ch && c->trunk[0])
			json_object_set_new(ch, "trunk", json_string(c->trunk));
	} else {
		ch = json_pack("{s:i}", "port", (int)c->port);
		if (ch && c->has_local)
			set_endpoint(ch, "local", &c->local);
		if (ch && c->has_deliver)
			set_endpoint(ch, "deliver", &c->deliver);
		if (ch && c->mode != NEGOTIATE_DATAGRAM)
			json_object_set_new(ch, "reliable", json_string(negotiate_mode_name(c->mode)));
		if (ch && c->has_token) {
			char hex[2 * CLIENT_CALL_TOKEN_LEN + 1];

			hex_encode(c->token, sizeof c->token, hex);
			json_object_set_new(ch, "token", json_string(hex));
		}
	}
	if (ch)
		counters_encode(ch, c);
	return ch;
}

static bool path_known(const struct client_call_path *p)
{
	return p->signalling[0] || p->data[0] || p->remote[0] || p->reason[0] || p->mtu;
}

/* The fields known of the path, each left out while empty. */
static json_t *path_encode(const struct client_call_path *p)
{
	json_t *j = json_object();

	if (j && p->signalling[0])
		json_object_set_new(j, "signalling", json_string(p->signalling));
	if (j && p->data[0])
		json_object_set_new(j, "data", json_string(p->data));
	if (j && p->remote[0])
		json_object_set_new(j, "remote", json_string(p->remote));
	if (j && p->reason[0])
		json_object_set_new(j, "reason", json_string(p->reason));
	if (j && p->mtu) {
		json_object_set_new(j, "mtu", json_integer(p->mtu));
		if (p->mtu_state[0])
			json_object_set_new(j, "mtu_state", json_string(p->mtu_state));
	}
	return j;
}

json_t *client_call_encode(const struct client_call *c)
{
	char id[ID_STRLEN];
	json_t *j = json_object(), *channels = json_array();

	if (!j || !channels) {
		json_decref(j);
		json_decref(channels);
		return NULL;
	}
	json_object_set_new(j, "id", json_string(id_format(c->id, id)));
	json_object_set_new(j, "caller", json_string(c->caller));
	json_object_set_new(j, "callee", json_string(c->callee));
	json_object_set_new(j, "direction", json_string(c->outgoing ? "out" : "in"));
	json_object_set_new(j, "state", json_string(c->state));
	if (c->cipher != SEC_CIPHER_NONE)
		json_object_set_new(j, "cipher", json_string(sec_cipher_name(c->cipher)));
	if (c->compress != SEC_COMPRESS_NONE)
		json_object_set_new(j, "compression", json_string(sec_compress_name(c->compress)));
	json_object_set_new(j, "started", json_integer((json_int_t)c->started));
	for (size_t i = 0; i < c->nchannels && i < SEC_MAX_CHANNELS; i++)
		json_array_append_new(channels, client_call_channel_encode(&c->channels[i]));
	json_object_set_new(j, "channels", channels);
	if (path_known(&c->path))
		json_object_set_new(j, "path", path_encode(&c->path));
	if (c->stale)
		json_object_set_new(j, "stale", json_true());
	if (c->has_rekey) {
		json_object_set_new(j, "epoch", json_integer(c->epoch));
		json_object_set_new(j, "dh_rekeys", json_integer((json_int_t)c->dh_rekeys));
		json_object_set_new(j, "rekey_interval_ms",
				    json_integer((json_int_t)c->rekey_interval_ms));
	}
	return j;
}

/* A string field of at most max - 1 characters, copied into out. */
static int get_text(const json_t *j, const char *key, char *out, size_t max, bool optional)
{
	const char *text;
	int rc = optional ? msg_get_str_opt(j, key, "", &text) : msg_get_str(j, key, &text);

	if (rc)
		return rc;
	if (strlen(text) >= max)
		return msg_bad_field(key, "is too long");
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

/* An optional counter: *has says whether it was there. */
static int get_count(const json_t *j, const char *key, bool *has, uint64_t *out)
{
	json_int_t v;
	int rc;

	*has = json_object_get(j, key) != NULL;
	if (!*has)
		return 0;
	rc = msg_get_int(j, key, 0, INT64_MAX, &v);
	*out = (uint64_t)v;
	return rc;
}

/* Two counters that come together (bytes in and out, send and receive epochs). */
static int get_pair(const json_t *j, const char *a, const char *b, bool *has, uint64_t *va,
		    uint64_t *vb)
{
	bool has_a = false, has_b = false;
	int rc = get_count(j, a, &has_a, va);

	rc = rc ? rc : get_count(j, b, &has_b, vb);
	if (rc == 0 && has_a != has_b)
		rc = msg_bad_field(has_a ? b : a, "is missing");
	*has = has_a && has_b;
	return rc;
}

static int get_endpoint(const json_t *j, const char *key, bool *has, struct ip_endpoint *out)
{
	const char *text;
	int rc = msg_get_str_opt(j, key, NULL, &text);

	*has = false;
	if (rc || !text)
		return rc;
	if (ip_endpoint_parse(text, out))
		return msg_bad_field(key, "is not an address and port");
	*has = true;
	return 0;
}

static int get_prefixes(const json_t *j, const char *key, struct ip_prefix *out, size_t *n)
{
	json_t *list;
	int rc = msg_get_array(j, key, CLIENT_CALL_PREFIXES_MAX, &list);

	if (rc)
		return rc;
	if (json_array_size(list) > 0 &&
	    call_prefixes_decode(list, out, CLIENT_CALL_PREFIXES_MAX, n))
		return msg_bad_field(key, "must hold prefixes");
	if (json_array_size(list) == 0)
		*n = 0;
	return 0;
}

static int tun_channel_decode(const json_t *j, struct client_call_channel *c)
{
	json_int_t mtu = 0;
	json_t *counters = json_object_get(j, "counters");
	int rc;

	c->tun = true;
	rc = get_prefixes(j, "local_prefixes", c->local_prefixes, &c->nlocal_prefixes);
	rc = rc ? rc : get_prefixes(j, "remote_prefixes", c->remote_prefixes,
				    &c->nremote_prefixes);
	rc = rc ? rc : get_text(j, "interface", c->interface, sizeof c->interface, true);
	if (rc == 0 && c->interface[0])
		rc = msg_get_int(j, "mtu", 0, UINT16_MAX, &mtu);
	rc = rc ? rc : get_text(j, "trunk", c->trunk, sizeof c->trunk, true);
	if (rc == 0 && counters && !json_is_object(counters))
		rc = msg_bad_field("counters", "must be an object");
	c->mtu = (unsigned)mtu;
	c->counters = counters;
	return rc;
}

/* A reliable channel's "token": 64 hex digits, optional. */
static int get_token(const json_t *j, struct client_call_channel *c)
{
	const char *text;
	int rc = msg_get_str_opt(j, "token", NULL, &text);

	c->has_token = false;
	if (rc || !text)
		return rc;
	if (strlen(text) != 2 * CLIENT_CALL_TOKEN_LEN ||
	    hex_decode(text, strlen(text), c->token, sizeof c->token))
		return msg_bad_field("token", "must be 64 hex digits");
	c->has_token = true;
	return 0;
}

static int udp_channel_decode(const json_t *j, struct client_call_channel *c)
{
	json_int_t port;
	int rc = msg_get_int(j, "port", 0, UINT16_MAX, &port);

	rc = rc ? rc : get_endpoint(j, "local", &c->has_local, &c->local);
	rc = rc ? rc : get_endpoint(j, "deliver", &c->has_deliver, &c->deliver);
	c->port = (uint16_t)port;
	if (rc == 0 && get_mode(j, &c->mode))
		rc = msg_bad_field("reliable", "must be ordered or unordered");
	rc = rc ? rc : get_token(j, c);
	return rc;
}

static int channel_decode(const json_t *j, struct client_call_channel *c)
{
	const char *kind;
	bool has_deflated;
	int rc = msg_get_str_opt(j, "kind", "udp", &kind);

	if (rc)
		return rc;
	if (strcmp(kind, "tun") == 0)
		rc = tun_channel_decode(j, c);
	else if (strcmp(kind, "udp") == 0)
		rc = udp_channel_decode(j, c);
	else
		rc = msg_bad_field("kind", "is neither udp nor tun");
	rc = rc ? rc : get_count(j, "foreign_lan_sender", &c->has_foreign_lan_sender,
				 &c->foreign_lan_sender);
	rc = rc ? rc : get_count(j, "dropped", &c->has_dropped, &c->dropped);
	rc = rc ? rc : get_count(j, "dropped_buffer_full", &has_deflated, &c->dropped_buffer_full);
	rc = rc ? rc : get_count(j, "dropped_queue_full", &has_deflated, &c->dropped_queue_full);
	rc = rc ? rc : get_count(j, "dropped_in_transit", &has_deflated, &c->dropped_in_transit);
	rc = rc ? rc : get_pair(j, "bytes_in", "bytes_out", &c->has_bytes, &c->bytes_in,
				&c->bytes_out);
	rc = rc ? rc : get_pair(j, "send_epoch", "recv_epoch", &c->has_epochs, &c->send_epoch,
				&c->recv_epoch);
	rc = rc ? rc : get_count(j, "msgs_deflated_out", &has_deflated, &c->msgs_deflated_out);
	return rc;
}

static int call_names_decode(const json_t *j, struct client_call *c)
{
	const char *id, *direction, *cipher, *compress;
	int rc;

	if ((rc = msg_get_str(j, "id", &id)) != 0)
		return rc;
	if (id_parse(id, &c->id) != 0 || c->id == 0)
		return msg_bad_field("id", "is not a call id");
	rc = get_text(j, "caller", c->caller, sizeof c->caller, false);
	rc = rc ? rc : get_text(j, "callee", c->callee, sizeof c->callee, false);
	rc = rc ? rc : msg_get_str(j, "direction", &direction);
	if (rc == 0 && strcmp(direction, "out") != 0 && strcmp(direction, "in") != 0)
		rc = msg_bad_field("direction", "is neither out nor in");
	c->outgoing = rc == 0 && strcmp(direction, "out") == 0;
	rc = rc ? rc : get_text(j, "state", c->state, sizeof c->state, false);
	if (rc == 0 && (!c->state[0] || strspn(c->state, "abcdefghijklmnopqrstuvwxyz_") !=
					strlen(c->state)))
		rc = msg_bad_field("state", "is not a state");
	rc = rc ? rc : msg_get_str_opt(j, "cipher", NULL, &cipher);
	if (rc == 0 && cipher && (c->cipher = sec_cipher_from_name(cipher)) == SEC_CIPHER_NONE)
		rc = msg_bad_field("cipher", "is not a cipher");
	rc = rc ? rc : msg_get_str_opt(j, "compression", "none", &compress);
	if (rc == 0 && sec_compress_from_name(compress, &c->compress) != 0)
		rc = msg_bad_field("compression", "is not a compression");
	return rc;
}

static int call_numbers_decode(const json_t *j, struct client_call *c)
{
	json_int_t started, epoch = 0;
	bool has_dh, has_interval;
	int rc = msg_get_int(j, "started", 0, INT64_MAX, &started);

	c->started = started;
	c->has_rekey = json_object_get(j, "epoch") != NULL;
	if (rc == 0 && c->has_rekey)
		rc = msg_get_int(j, "epoch", 0, UINT32_MAX, &epoch);
	c->epoch = (uint32_t)epoch;
	rc = rc ? rc : get_count(j, "dh_rekeys", &has_dh, &c->dh_rekeys);
	rc = rc ? rc : get_count(j, "rekey_interval_ms", &has_interval, &c->rekey_interval_ms);
	if (rc == 0 && (has_dh != c->has_rekey || has_interval != c->has_rekey))
		rc = msg_bad_field("epoch", "comes with dh_rekeys and rekey_interval_ms");
	return rc ? rc : msg_get_bool_opt(j, "stale", false, &c->stale);
}

/* "mtu" and "mtu_state", optional: a size a UDP datagram can have, and a state of the
 * search. */
static int path_mtu_decode(const json_t *path, struct client_call_path *out)
{
	static const char *const states[] = {"base", "searching", "complete", "error"};
	json_int_t mtu;
	int rc;

	if ((rc = msg_get_int_opt(path, "mtu", 0, UINT16_MAX, 0, &mtu)) ||
	    (rc = get_text(path, "mtu_state", out->mtu_state, sizeof out->mtu_state, true)))
		return rc;
	out->mtu = (unsigned)mtu;
	if (!out->mtu_state[0])
		return 0;
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		if (strcmp(out->mtu_state, states[i]) == 0)
			return 0;
	return msg_bad_field("mtu_state", "is not base, searching, complete or error");
}

/* "path", optional, each of its fields too: signalling one of three words, data direct,
 * relayed or tcp, remote an endpoint, reason a sentence. */
static int path_decode(const json_t *j, struct client_call_path *out)
{
	static const char *const words[] = {"direct", "reversed", "spliced"};
	struct ip_endpoint remote;
	bool known = false;
	json_t *path;
	int rc;

	if (!json_object_get(j, "path"))
		return 0;
	if ((rc = msg_get_object(j, "path", &path)) ||
	    (rc = get_text(path, "signalling", out->signalling, sizeof out->signalling, true)))
		return rc;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		known |= !out->signalling[0] || strcmp(out->signalling, words[i]) == 0;
	if (!known)
		return msg_bad_field("signalling", "is not direct, reversed or spliced");
	if ((rc = get_text(path, "data", out->data, sizeof out->data, true)))
		return rc;
	if (out->data[0] && strcmp(out->data, "direct") != 0 && strcmp(out->data, "relayed") != 0 &&
	    strcmp(out->data, "tcp") != 0)
		return msg_bad_field("data", "is neither direct, relayed nor tcp");
	if ((rc = get_text(path, "remote", out->remote, sizeof out->remote, true)))
		return rc;
	if (out->remote[0] && ip_endpoint_parse(out->remote, &remote) != 0)
		return msg_bad_field("remote", "is not ADDRESS:PORT");
	if ((rc = get_text(path, "reason", out->reason, sizeof out->reason, true)))
		return rc;
	return path_mtu_decode(path, out);
}

int client_call_decode(const json_t *j, struct client_call *out, const char **why)
{
	struct client_call *c = calloc(1, sizeof *c);
	json_t *channels = NULL;
	size_t i;
	int rc;

	if (!c)
		return refuse(why, "out of memory");
	if (!json_is_object(j)) {
		free(c);
		return refuse(why, "a call must be an object");
	}
	rc = call_names_decode(j, c);
	rc = rc ? rc : call_numbers_decode(j, c);
	rc = rc ? rc : path_decode(j, &c->path);
	rc = rc ? rc : msg_get_array(j, "channels", SEC_MAX_CHANNELS, &channels);
	for (i = 0; rc == 0 && i < json_array_size(channels); i++) {
		const json_t *ch = json_array_get(channels, i);

		rc = json_is_object(ch) ? channel_decode(ch, &c->channels[i])
					: msg_bad_field("channels", "must hold objects");
	}
	c->nchannels = rc == 0 ? json_array_size(channels) : 0;
	if (rc == 0)
		memcpy(out, c, sizeof *c);
	free(c);
	return rc ? refuse(why, msg_field_error()) : 0;
}

int client_call_of(const json_t *msg, struct client_call *out, const char **why)
{
	json_t *call;

	if (msg_get_object(msg, "call", &call))
		return refuse(why, msg_field_error());
	return client_call_decode(call, out, why);
}

/* A message that carries one call object. */
static json_t *with_call(json_t *msg, const struct client_call *c)
{
	json_t *call = msg ? client_call_encode(c) : NULL;

	if (!call) {
		json_decref(msg);
		return NULL;
	}
	json_object_set_new(msg, "call", call);
	return msg;
}

json_t *client_call_reply_encode(json_int_t id, const struct client_call *c)
{
	return with_call(msg_reply_ok(id), c);
}

json_t *client_incoming_encode(const struct client_call *c)
{
	return with_call(json_pack("{s:s}", "op", "incoming"), c);
}

json_t *client_call_up_encode(const struct client_call *c)
{
	return with_call(json_pack("{s:s}", "op", "call_up"), c);
}

/* ---- calls ---- */

json_t *client_calls_encode(const struct client_calls_request *r)
{
	json_t *req = msg_request("calls", 0);
	char after[ID_STRLEN];

	if (req && r && r->after)
		json_object_set_new(req, "after", json_string(id_format(r->after, after)));
	if (req && r && r->limit)
		json_object_set_new(req, "limit", json_integer(r->limit));
	return req;
}

int client_calls_decode(const json_t *msg, struct client_calls_request *out, const char **why)
{
	const char *after;
	json_int_t limit;
	uint64_t id = 0;

	if (msg_get_str_opt(msg, "after", NULL, &after) ||
	    msg_get_int_opt(msg, "limit", 1, CLIENT_CALLS_PAGE_MAX, CLIENT_CALLS_PAGE_DEFAULT,
			    &limit))
		return refuse(why, msg_field_error());
	if (after && (id_parse(after, &id) != 0 || id == 0))
		return refuse(why, "after: is not a call id");
	out->after = id;
	out->limit = (unsigned)limit;
	return 0;
}

/* The size of one item as it will go on the wire (compact JSON), 0 if it cannot say. */
static size_t encoded_size(const json_t *j)
{
	return j ? json_dumpb(j, NULL, 0, JSON_COMPACT) : 0;
}

json_t *client_calls_page_encode(json_int_t id, const struct client_call *calls, size_t n,
				 bool more, size_t total, size_t budget, size_t *listed)
{
	json_t *reply = msg_reply_ok(id), *list = json_array();
	char next[ID_STRLEN];
	size_t i, used = 0;

	if (!reply || !list) {
		json_decref(reply);
		json_decref(list);
		return NULL;
	}
	/* Whole calls until the budget is spent; the first always, so that a page moves on. */
	for (i = 0; i < n; i++) {
		json_t *call = client_call_encode(&calls[i]);
		size_t size = encoded_size(call) + 1;  /* and its comma */

		if (!call || (i > 0 && used + size > budget)) {
			json_decref(call);
			break;
		}
		used += size;
		json_array_append_new(list, call);
	}
	json_object_set_new(reply, "calls", list);
	json_object_set_new(reply, "total", json_integer((json_int_t)total));
	if (i > 0 && (i < n || more))
		json_object_set_new(reply, "next", json_string(id_format(calls[i - 1].id, next)));
	if (listed)
		*listed = i;
	return reply;
}

json_t *client_calls_reply_encode(json_int_t id, const struct client_call *calls, size_t n)
{
	return client_calls_page_encode(id, calls, n, false, n, SIZE_MAX, NULL);
}

int client_calls_next(const json_t *reply, uint64_t *next, const char **why)
{
	const char *text;

	*next = 0;
	if (msg_get_str_opt(reply, "next", NULL, &text))
		return refuse(why, msg_field_error());
	if (text && (id_parse(text, next) != 0 || *next == 0))
		return refuse(why, "next: is not a call id");
	return 0;
}

/* The array grows with the calls that decode, so that a list of junk costs no more
 * memory than its first item. */
int client_calls_reply_decode(const json_t *reply, struct client_call **out, size_t *n,
			      const char **why)
{
	struct client_call *calls = NULL, *grown;
	size_t i, room = 0;
	json_t *list;
	int rc;

	if (msg_get_array(reply, "calls", SIZE_MAX, &list))
		return refuse(why, msg_field_error());
	for (i = 0; i < json_array_size(list); i++) {
		if (i == room) {
			room = room ? 2 * room : 4;
			if (!(grown = realloc(calls, room * sizeof *calls))) {
				free(calls);
				return refuse(why, "out of memory");
			}
			calls = grown;
		}
		if ((rc = client_call_decode(json_array_get(list, i), &calls[i], why)) != 0) {
			free(calls);
			return rc;
		}
	}
	*out = calls;
	*n = i;
	return 0;
}

/* ---- call, listen, hangup ---- */

json_t *client_call_request_encode(const struct client_call_request *r)
{
	json_t *req = msg_request("call", 0);

	if (!req)
		return NULL;
	json_object_set_new(req, "callee", json_string(r->callee));
	json_object_set_new(req, "channels", call_channels_encode(&r->channels));
	return req;
}

int client_call_request_decode(const json_t *msg, struct client_call_request *out,
			       const char **why)
{
	struct client_call_request r;
	const char *callee;
	json_t *channels;
	int rc;

	memset(&r, 0, sizeof r);
	if (msg_get_str(msg, "callee", &callee) ||
	    msg_get_array(msg, "channels", SEC_MAX_CHANNELS, &channels))
		return refuse(why, msg_field_error());
	if (strlen(callee) < sizeof r.callee)
		memcpy(r.callee, callee, strlen(callee) + 1);
	if ((rc = call_channels_decode(channels, &r.channels, why)) != 0)
		return rc;
	*out = r;
	return 0;
}

json_t *client_listen_encode(bool tun)
{
	json_t *req = msg_request("listen", 0);

	if (req && tun)
		json_object_set_new(req, "tun", json_true());
	return req;
}

int client_listen_decode(const json_t *msg, bool *tun, const char **why)
{
	bool v;

	if (msg_get_bool_opt(msg, "tun", false, &v))
		return refuse(why, msg_field_error());
	*tun = v;
	return 0;
}

void client_hangup_of(const char *text, struct client_hangup *out)
{
	uint64_t id;

	out->call[0] = '\0';
	if (text && id_parse(text, &id) == 0)
		memcpy(out->call, text, ID_STRLEN);
}

json_t *client_hangup_encode(const struct client_hangup *h)
{
	json_t *req = msg_request("hangup", 0);

	if (req)
		json_object_set_new(req, "call", json_string(h->call));
	return req;
}

int client_hangup_decode(const json_t *msg, struct client_hangup *out, const char **why)
{
	const char *text;

	if (msg_get_str(msg, "call", &text))
		return refuse(why, msg_field_error());
	client_hangup_of(text, out);
	return 0;
}

/* ---- incoming's answer, call_ended ---- */

json_t *client_answer_encode(json_int_t id, bool accept)
{
	json_t *reply = msg_reply_ok(id);

	if (reply)
		json_object_set_new(reply, "accept", json_boolean(accept));
	return reply;
}

bool client_answer_accepts(const json_t *reply)
{
	return msg_reply_is_ok(reply, NULL, NULL) &&
	       json_is_true(json_object_get(reply, "accept"));
}

json_t *client_call_ended_encode(const struct client_call_ended *e)
{
	char id[ID_STRLEN];

	return json_pack("{s:s, s:s, s:s}", "op", "call_ended", "call", id_format(e->call_id, id),
			 "reason", e->reason);
}

int client_call_ended_decode(const json_t *msg, struct client_call_ended *out,
			     const char **why)
{
	struct client_call_ended e;
	const char *id;
	int rc = msg_get_str(msg, "call", &id);

	if (rc == 0 && id_parse(id, &e.call_id) != 0)
		rc = msg_bad_field("call", "is not a call id");
	rc = rc ? rc : get_text(msg, "reason", e.reason, sizeof e.reason, false);
	if (rc)
		return refuse(why, msg_field_error());
	*out = e;
	return 0;
}
