/* Private to the call state machine (call.c, call_out.c, call_in.c, call_parse.c): what
 * the caller's and the callee's sides share. */
#ifndef INSEL_SECONDARY_CALL_INTERNAL_H
#define INSEL_SECONDARY_CALL_INTERNAL_H

#include "client_call.h"
#include "peer_codec.h"
#include "secondary.h"

/* What to do once the auxiliary relays, before a path is known (callee_started). */
typedef void (*started_fn)(struct call *call);

/* ---- call.c: life cycle, relay start, records ---- */
/* A new call in the secondary's list (id 0: a fresh random one). */
struct call *call_new(struct secondary *s, bool outgoing, uint64_t id);
/* Out of the list, and freed once its timer has closed. */
void unlink_call(struct call *call);
void call_free(struct call *call);
/* The caller's side tells the principal that the call is up. */
void record_start(struct call *call);
/* A call_placed or call_refused event for the principal (reason: refused only), sent
 * only while its link is up. */
void record_event(struct call *call, const char *event, const char *reason);
/* Asks the principal for LAN lan's record (prefixes, secondary) with cb(call, reply, err);
 * the reply lists it alone, or nothing if the directory has no such LAN. */
int request_lan_list(struct call *call, const char *lan, rpc_reply_cb cb);
/* Spawns the call's auxiliary and has it bind; cb gets the bind reply. */
int spawn_aux(struct call *call, aux_bound_cb cb);
/* Reads the bind reply into the call (WAN port, LAN ports or interface). */
int take_bound(struct call *call, const json_t *reply, int err, const char **why);
/* Hands the negotiated channels to the auxiliary; next (if any) runs once it relays,
 * and the call is then CONNECTING until the auxiliary's path is up. */
void start_relay(struct call *call, const struct sec_channel_params *params,
		 started_fn next);

/* ---- call_out.c, call_in.c ---- */
/* The call is up (a probe was answered): tell the client, the trunk, the record. */
void caller_up(struct call *call);
void callee_up(struct call *call);
/* The caller's side has its peer connection (event peer_ready): spawn the auxiliary. */
void caller_peer_ready(struct call *call);
/* The caller's auxiliary has bound (and the relay's answer is in or overdue): the offer
 * goes to the callee's secondary and the call rings. */
void caller_send_offer(struct call *call);

/* ---- call_parse.c: prefixes, the directory's entries, channels ---- */
/* Whether every prefix of inner lies within one of outer. */
bool prefixes_within(const struct ip_prefix *inner, size_t n,
		     const struct ip_prefix *outer, size_t m);
void host_prefix(const struct ip_addr *a, struct ip_prefix *out);
/* Whether the peer gateway's LAN addresses that the call knows (remote_gateway and
 * remote_gateway6, which let ICMP errors through a network call) lie within dir, the
 * peer LAN's prefixes in the directory. */
bool gateways_within(const struct call *call, const struct ip_prefix *dir, size_t n);
/* The entry for LAN name in a reply to {"op":"list","what":"lans"}: 0, or an error when
 * the reply is malformed or names no such LAN. */
int directory_lan(const json_t *reply, const char *name, struct pop_lan_entry *out);
/* At most max of the entry's prefixes into out; how many. */
size_t directory_prefixes(const struct pop_lan_entry *entry, struct ip_prefix *out, size_t max);
/* A client's or peer's channel list into the call, and back. */
void call_set_channels(struct call *call, const struct call_channel_list *l);
void call_channel_list(const struct call *call, struct call_channel_list *out);

#endif
