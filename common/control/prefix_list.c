/* Lists of IP prefixes in control messages (prefix_list.h). */
#include "prefix_list.h"

#include "err.h"

json_t *prefix_list_to_json(const struct ip_prefix *p, size_t n)
{
	json_t *list = json_array();
	char text[IP_STRLEN];

	for (size_t i = 0; list && i < n; i++)
		if (json_array_append_new(list, json_string(ip_prefix_format(&p[i], text,
									    sizeof text)))) {
			json_decref(list);
			list = NULL;
		}
	return list;
}

int prefix_list_from_json(const json_t *list, size_t max, bool strict, struct ip_prefix *out,
			  size_t *n, size_t *bad)
{
	const json_t *item;
	size_t i;

	*bad = PREFIX_LIST_WHOLE;
	if (!json_is_array(list) || json_array_size(list) > max)
		return INSEL_E_BAD_FIELD;
	json_array_foreach(list, i, item) {
		const char *text = json_string_value(item);
		int err = text ? ip_prefix_parse(text, strict, &out[i]) : INSEL_E_BAD_FIELD;

		if (err) {
			*bad = i;
			return err;
		}
	}
	*n = json_array_size(list);
	return 0;
}
