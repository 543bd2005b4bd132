/* API ops of a secondary's session with the principal: hello (protocol version),
 * register (its LAN, prefixes and peer endpoint) and heartbeat. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "log.h"
#include "msg.h"

static json_t *timers_json(const struct api_server *s)
{
	return json_pack("{s:I, s:I}", "heartbeat_ms", (json_int_t)s->heartbeat_ms,
			 "down_after_ms", (json_int_t)db_down_after(s->db) * 1000);
}

/* {"op":"hello","id":N,"version":1} -> {version, role, name, peer:{role,name},
 * heartbeat_ms, down_after_ms} */
void hello_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	json_int_t version;
	json_t *reply;

	if (p->hello_done) {
		api_reply_error(p, id, INSEL_E_PROTOCOL, "hello was already said");
		return;
	}
	if (msg_get_int(msg, "version", 0, INT32_MAX, &version)) {
		api_reply_field_error(p, id);
		return;
	}
	if (version != MSG_PROTOCOL_VERSION) {
		api_reply_error(p, id, INSEL_E_VERSION,
				"protocol version %lld is not supported; this principal speaks %d",
				(long long)version, MSG_PROTOCOL_VERSION);
		return;
	}
	p->hello_done = true;
	reply = timers_json(p->srv);
	json_object_set_new(reply, "version", json_integer(MSG_PROTOCOL_VERSION));
	json_object_set_new(reply, "role", json_string("principal"));
	json_object_set_new(reply, "name", json_string(p->srv->name));
	json_object_set_new(reply, "peer", json_pack("{s:s, s:s}", "role",
						     pki_role_name(p->id.role), "name", p->id.name));
	api_reply_ok(p, id, reply);
}

static int parse_prefixes(struct api_peer *p, json_int_t id, const json_t *list,
			  struct ip_prefix *out)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *text = json_string_value(json_array_get(list, i));
		int err;

		if (!text) {
			api_reply_error(p, id, INSEL_E_BAD_FIELD, "prefixes[%zu] must be a string", i);
			return INSEL_E_BAD_FIELD;
		}
		err = ip_prefix_parse(text, true, &out[i]);
		if (err) {
			api_reply_error(p, id, err, "prefix '%.64s': %s", text, insel_strerror(err));
			return err;
		}
	}
	return 0;
}

static json_t *prefixes_json(const struct ip_prefix *p, size_t n)
{
	json_t *a = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(ip_prefix_format(&p[i], text, sizeof text)));
	return a;
}

/* {"op":"register","id":N,"lan":"lan-a","prefixes":["10.1.0.0/24"],
 *  "endpoint":"198.18.0.1:7443"} -> {secondary, lan, prefixes, heartbeat_ms,
 *  down_after_ms} */
void register_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	struct ip_prefix prefixes[DB_MAX_PREFIXES];
	struct ip_endpoint ep;
	char endpoint[IP_STRLEN];
	const char *lan, *ep_text;
	json_t *list, *reply;
	int rc;

	if (msg_get_str(msg, "lan", &lan) || msg_get_str(msg, "endpoint", &ep_text) ||
	    msg_get_array(msg, "prefixes", DB_MAX_PREFIXES, &list)) {
		api_reply_field_error(p, id);
		return;
	}
	if (json_array_size(list) == 0) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD, "field 'prefixes' must not be empty");
		return;
	}
	if (parse_prefixes(p, id, list, prefixes))
		return;
	if (ip_endpoint_parse(ep_text, &ep) || ep.port == 0) {
		api_reply_error(p, id, INSEL_E_BAD_FIELD,
				"field 'endpoint' must be ADDRESS:PORT or [ADDRESS6]:PORT");
		return;
	}
	ip_endpoint_format(&ep, endpoint, sizeof endpoint);
	struct db_registration r = {p->id.name, p->id.fingerprint, p->id.serial, lan,
				    prefixes, json_array_size(list), endpoint};
	char current_fp[PKI_FINGERPRINT_LEN + 1], current_serial[PKI_SERIAL_MAX + 1];
	bool with_previous = renew_registration_identity(p, &r, current_fp, current_serial);

	rc = db_register(p->srv->db, &r, p->srv->now());
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	renew_registered(p, with_previous);
	log_info("secondary %s registered LAN %s at %s", p->id.name, lan, endpoint);
	reply = timers_json(p->srv);
	json_object_set_new(reply, "secondary", json_string(p->id.name));
	json_object_set_new(reply, "lan", json_string(lan));
	json_object_set_new(reply, "prefixes", prefixes_json(prefixes, json_array_size(list)));
	api_reply_ok(p, id, reply);
}

/* {"op":"heartbeat","id":N} -> {heartbeat_ms, down_after_ms} */
void heartbeat_handle(struct api_peer *p, json_int_t id, const json_t *msg)
{
	int rc;

	(void)msg;
	/* A certificate revoked while its connection was open stops here. */
	if (db_is_revoked(p->srv->db, p->id.serial)) {
		api_reply_error(p, id, INSEL_E_VERIFY, "certificate %s is revoked", p->id.serial);
		p->close(p, INSEL_E_VERIFY);
		return;
	}
	rc = db_heartbeat(p->srv->db, p->id.name, p->srv->now());
	if (rc) {
		api_reply_db_error(p, id, rc);
		return;
	}
	api_reply_ok(p, id, timers_json(p->srv));
}
