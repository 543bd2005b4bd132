/* The client API's call messages (client <-> its LAN's secondary, docs/protocol.md), each
 * as a struct with its encoding to JSON and its validating decoding, in the one place that
 * the secondary and the client both use:
 *
 *   client -> secondary
 *     call     {callee, channels}        -> {call}, once the call is up
 *     listen   {tun?}                    -> {}
 *     calls    {after?, limit?}          -> {calls: [call...], total, next?}
 *     hangup   {call}                    -> {}
 *   secondary -> client
 *     incoming {call}                    -> {accept}   (the answer)
 *     call_up  {call}                       (a notice)
 *     call_ended {call: id, reason}         (a notice)
 *
 * The call object:
 *   {"id":"<16 hex>", "caller":"alice@lan-a", "callee":"bob@lan-b", "direction":"out",
 *    "state":"up", "cipher":"aes-256-gcm"?, "compression":"deflate"?, "started":<unix time>,
 *    "channels":[{"port":5004, "local":"10.1.0.1:5004"?, "deliver":"10.1.0.11:5004"?}],
 *    "epoch":N?, "dh_rekeys":N?, "rekey_interval_ms":N?,
 *    "path":{"signalling":"direct"|"reversed"|"spliced"?, "data":"direct"|"relayed"|"tcp"?,
 *            "remote":"198.18.2.2:40001"?, "reason":"..."?, "mtu":1252?,
 *            "mtu_state":"complete"?}?}
 * a network call's one channel being
 *   {"kind":"tun", "local_prefixes":[...], "remote_prefixes":[...], "interface":"lan-b"?,
 *    "mtu":1440?, "trunk":"to-b"?}
 * and in replies to "calls" each channel also carrying the auxiliary's live counters:
 *   "foreign_lan_sender"?, "dropped"?, "dropped_buffer_full"?, "dropped_queue_full"?,
 *   "dropped_in_transit"?,
 *   "bytes_in", "bytes_out", "send_epoch", "recv_epoch",
 *   "msgs_deflated_out"?, and for a network call "counters" (the auxiliary's tun stats
 *   object, docs/auxiliary.md, carried as it is).
 *
 * The channel list a call asks for is also what the caller's secondary passes on in the
 * peer protocol's call_request (secondary/peer_codec.h):
 *
 *   [{"kind":"udp","port":5004}, {"kind":"udp","port":5005}]   or   [{"kind":"tun"}]
 *
 * Requests are encoded with "op" and id 0 (rpc.h numbers them); replies with the id of
 * the request they answer. Decoders take untrusted JSON: 0, or INSEL_E_BAD_FIELD with
 * *why saying what is wrong (a sentence for the error reply; it may point into
 * msg_field_error()). Pointers marked "borrowed" point into the decoded message. */
#ifndef INSEL_CLIENT_CALL_H
#define INSEL_CLIENT_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "chanparams.h"
#include "negotiate.h"
#include "prefix_list.h"
#include "rand.h"

#define CLIENT_CALL_NAME_MAX 160      /* a party, or a trunk's name, with NUL */
#define CLIENT_CALL_PREFIXES_MAX 16   /* prefixes per side of a network call */
#define CLIENT_CALL_STATE_MAX 16      /* a state's name, with NUL */
#define CLIENT_CALL_IFNAME_MAX 16     /* an interface's name, with NUL (IFNAMSIZ) */
#define CLIENT_CALL_REASON_MAX 32     /* why a call ended, with NUL */
#define CLIENT_CALL_TOKEN_LEN 32      /* a reliable channel's attach token, bytes */

/* The channels of a call: 1..SEC_MAX_CHANNELS UDP ports, or one tun channel. */
struct call_channel_list {
	bool tun;                           /* one network channel, no ports */
	size_t n;                           /* channels (1 for tun) */
	uint16_t ports[SEC_MAX_CHANNELS];   /* udp: the application port of each */
	/* udp: a reliable channel ("reliable":"ordered"|"unordered", docs/reliable.md): its
	 * party attaches over TCP to the auxiliary instead of sending datagrams. */
	enum negotiate_mode modes[SEC_MAX_CHANNELS];
};

/* The array form; NULL on allocation failure. */
json_t *call_channels_encode(const struct call_channel_list *l);
/* channels must be an array (msg_get_array with at most SEC_MAX_CHANNELS items). */
int call_channels_decode(const json_t *channels, struct call_channel_list *out,
			 const char **why);

/* One channel of a call object. */
struct client_call_channel {
	bool tun;
	/* udp */
	uint16_t port;                      /* the application port the caller asked for */
	bool has_local;                     /* where the LAN application sends */
	struct ip_endpoint local;
	bool has_deliver;                   /* where the peer's traffic goes */
	struct ip_endpoint deliver;
	/* a reliable channel: the TCP port at local takes the party's stream, opened with
	 * this token (docs/reliable.md; only in the party's own call objects) */
	enum negotiate_mode mode;
	bool has_token;
	uint8_t token[CLIENT_CALL_TOKEN_LEN];
	/* tun */
	struct ip_prefix local_prefixes[CLIENT_CALL_PREFIXES_MAX];
	size_t nlocal_prefixes;
	struct ip_prefix remote_prefixes[CLIENT_CALL_PREFIXES_MAX];
	size_t nremote_prefixes;
	char interface[CLIENT_CALL_IFNAME_MAX];  /* "" until the auxiliary made it */
	unsigned mtu;                       /* with the interface */
	char trunk[CLIENT_CALL_NAME_MAX];   /* "" unless the call carries a trunk */
	/* The auxiliary's live counters (in replies to "calls"). */
	bool has_foreign_lan_sender;
	uint64_t foreign_lan_sender;        /* datagrams from LAN hosts no party to the call */
	bool has_bytes;
	uint64_t bytes_in, bytes_out;       /* wire bytes */
	bool has_epochs;
	uint64_t send_epoch, recv_epoch;    /* the data plane's key epochs */
	uint64_t msgs_deflated_out;         /* 0: not compressing (left out) */
	/* Datagrams of this channel the auxiliary could not relay, in all and the two
	 * reasons of an overload: the kernel's socket buffer was full (the application sent
	 * faster than the auxiliary read), and the send queue toward the peer was full
	 * (docs/metrics.md lists the others). */
	bool has_dropped;
	uint64_t dropped, dropped_buffer_full, dropped_queue_full, dropped_in_transit;
	json_t *counters;                   /* tun: the auxiliary's stats object, or NULL;
					     * encoding takes a reference, decoding borrows */
};

/* "path": how the call's connections go (docs/nat.md): its signalling, and its data
 * once its auxiliary found a path (docs/auxiliary.md). Each field is left out while
 * empty. */
#define CLIENT_CALL_PATH_WORD_MAX 16
#define CLIENT_CALL_PATH_REASON_MAX 241
struct client_call_path {
	/* "signalling": the peer TLS connection was "direct" (the caller dialled the
	 * callee), "reversed" (the callee dialled back) or "spliced" (both dialled the
	 * principal); "" when not known yet. */
	char signalling[CLIENT_CALL_PATH_WORD_MAX];
	char data[CLIENT_CALL_PATH_WORD_MAX];      /* "direct", "relayed" or "tcp"; "" if not
						    * known */
	char remote[IP_STRLEN];                    /* where the frames go; "" if not known */
	char reason[CLIENT_CALL_PATH_REASON_MAX];  /* why that path (or what was tried) */
	/* "mtu": the path MTU its auxiliary found by probing (bytes of UDP payload, the
	 * PLPMTU; docs/nat.md "Path MTU"), 0 if not known; "mtu_state": how far the search
	 * is ("base", "searching", "complete", "error"). In replies to "calls", for every
	 * kind of call. */
	unsigned mtu;
	char mtu_state[CLIENT_CALL_PATH_WORD_MAX];
};

struct client_call {
	uint64_t id;
	char caller[CLIENT_CALL_NAME_MAX];
	char callee[CLIENT_CALL_NAME_MAX];
	bool outgoing;                      /* "direction": "out" or "in" */
	char state[CLIENT_CALL_STATE_MAX];  /* lookup, dialing, binding, ringing, up, ended */
	enum sec_cipher cipher;             /* SEC_CIPHER_NONE: not negotiated yet */
	enum sec_compress compress;
	int64_t started;                    /* unix time */
	size_t nchannels;
	struct client_call_channel channels[SEC_MAX_CHANNELS];
	bool has_rekey;                     /* up: the key exchanges within the call */
	uint32_t epoch;
	uint64_t dh_rekeys;
	uint64_t rekey_interval_ms;
	struct client_call_path path;       /* no "path" object when nothing is known */
	/* In replies to "calls": the call is up but its auxiliary did not answer for its
	 * live counters in time (stopped, overloaded), so they are missing, not zero. */
	bool stale;
};

json_t *client_call_encode(const struct client_call *c);
/* One channel of it (the principal's call records list them too). */
json_t *client_call_channel_encode(const struct client_call_channel *ch);
int client_call_decode(const json_t *j, struct client_call *out, const char **why);
/* The call object a message carries as "call" (the call reply, incoming, call_up). */
int client_call_of(const json_t *msg, struct client_call *out, const char **why);
json_t *client_call_reply_encode(json_int_t id, const struct client_call *c);
json_t *client_incoming_encode(const struct client_call *c);
json_t *client_call_up_encode(const struct client_call *c);

/* "calls", a page at a time (docs/protocol.md "Listings"): the calls whose id comes
 * after `after` (0: from the first), in the order of their ids, at most `limit` of them.
 * The reply holds as many of those as fit in a control frame, the number of calls listed
 * in all ("total", at the time of the page), and "next", the id to ask after, while
 * calls remain. */
#define CLIENT_CALLS_PAGE_DEFAULT 100
#define CLIENT_CALLS_PAGE_MAX 500
struct client_calls_request {
	uint64_t after;                     /* 0: the first page */
	unsigned limit;                     /* 0 when encoding: the gateway's default */
};
json_t *client_calls_encode(const struct client_calls_request *r);
int client_calls_decode(const json_t *msg, struct client_calls_request *out, const char **why);
/* A page of the calls[n] (in id order) of a listing of `total`: whole calls while the
 * encoded calls stay within `budget` bytes (the first one always), "next" when some of
 * them did not fit or `more` says that calls follow. *listed (if not NULL): how many went
 * in. */
json_t *client_calls_page_encode(json_int_t id, const struct client_call *calls, size_t n,
				 bool more, size_t total, size_t budget, size_t *listed);
/* Every call in one reply (no budget), as a client's assembled listing is. */
json_t *client_calls_reply_encode(json_int_t id, const struct client_call *calls, size_t n);
/* The reply's "next": *next the id to ask after, 0 on the last page. */
int client_calls_next(const json_t *reply, uint64_t *next, const char **why);
/* The calls of a reply. Decoding allocates *out (free() it; NULL for no calls). */
int client_calls_reply_decode(const json_t *reply, struct client_call **out, size_t *n,
			      const char **why);

/* "call": whom to call, with which channels. */
struct client_call_request {
	char callee[CLIENT_CALL_NAME_MAX];  /* decoding: "" if empty or too long (no one) */
	struct call_channel_list channels;
};
json_t *client_call_request_encode(const struct client_call_request *r);
int client_call_request_decode(const json_t *msg, struct client_call_request *out,
			       const char **why);

/* "listen": whether network calls to this host are welcome too. */
json_t *client_listen_encode(bool tun);
int client_listen_decode(const json_t *msg, bool *tun, const char **why);

/* "hangup" of a call by its id, as the user typed it. */
struct client_hangup {
	char call[ID_STRLEN];               /* decoding: "" if it is not a call id */
};
json_t *client_hangup_encode(const struct client_hangup *h);
int client_hangup_decode(const json_t *msg, struct client_hangup *out, const char **why);
/* The hangup of text: the id if it is one, else one that names no call. */
void client_hangup_of(const char *text, struct client_hangup *out);

/* The answer to "incoming": a reply that does not say accept=true declines. */
json_t *client_answer_encode(json_int_t id, bool accept);
bool client_answer_accepts(const json_t *reply);

/* "call_ended": which call, and why (a stable word, client/errors.c has its sentence). */
struct client_call_ended {
	uint64_t call_id;
	char reason[CLIENT_CALL_REASON_MAX];
};
json_t *client_call_ended_encode(const struct client_call_ended *e);
int client_call_ended_decode(const json_t *msg, struct client_call_ended *out,
			     const char **why);

/* Network calls' authorised addresses (prefix_list_to_json writes them): 1..max IPv4 or
 * IPv6 prefixes with their host bits clear. */
int call_prefixes_decode(const json_t *list, struct ip_prefix *out, size_t max, size_t *n);

#endif
