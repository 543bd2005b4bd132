/* The client API's call messages: one codec for the client and the secondary
 * (see client_call.h). */
#include "client_call.h"

#include <string.h>

#include "err.h"
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
	for (size_t i = 0; i < l->n && i < SEC_MAX_CHANNELS; i++)
		json_array_append_new(a, json_pack("{s:s, s:i}", "kind", "udp", "port",
						   (int)l->ports[i]));
	return a;
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
	}
	l.n = json_array_size(channels);
	*out = l;
	return 0;
}

json_t *call_prefixes_encode(const struct ip_prefix *p, size_t n)
{
	json_t *a = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(ip_prefix_format(&p[i], text, sizeof text)));
	return a;
}

int call_prefixes_decode(const json_t *list, struct ip_prefix *out, size_t max, size_t *n)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > max)
		return INSEL_E_BAD_FIELD;
	json_array_foreach(list, i, v) {
		const char *text = json_string_value(v);

		if (!text || ip_prefix_parse(text, true, &out[i]))
			return INSEL_E_BAD_FIELD;
	}
	*n = json_array_size(list);
	return 0;
}
