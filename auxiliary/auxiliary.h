/* insel-auxiliary's private header: the state of one call's bridge process.
 *
 * One struct bridge per process, named after the role (the per-call bridge) so that it is
 * not mistaken for the secondary's struct aux, its handle on one auxiliary process; the
 * auxiliary's other names keep the program's aux_ and AUX_ prefixes. The parent
 * (insel-secondary) drives it over the control socket on fd 3 (control.c: bind, start,
 * stats, hangup; docs/auxiliary.md); the relay (relay.c) moves datagrams between the LAN
 * sockets or the TUN and the shared WAN socket through the channels of channel.h;
 * timers.c runs keep-alives, peer-death and idle detection; privdrop.c confines the
 * process once its sockets exist. Every libuv handle lives inside struct bridge, so
 * closing needs no free; run_main() tears down after uv_run. */
#ifndef INSEL_AUXILIARY_H
#define INSEL_AUXILIARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <uv.h>

#include "addr.h"
#include "addr_map.h"
#include "aux_bind.h"
#include "aux_report.h"
#include "aux_start.h"
#include "candidate.h"
#include "channel.h"
#include "chanparams.h"
#include "child_control.h"
#include "leg_handover.h"
#include "msg.h"
#include "relay_stream.h"
#include "relay_wire.h"
#include "tls.h"
#include "pmtud.h"
#include "ratelimit.h"

/* Contract with the parent (docs/auxiliary.md; the limits of "bind" and "start" are in
 * their codecs, aux_bind.h and aux_start.h). */
#define AUX_CONTROL_FD 3

/* Implementation tunables. */
#define AUX_DGRAM_MAX 65536   /* receive buffer: a whole UDP payload, a whole message */
#define AUX_WAN_RX_SLOTS 16   /* datagrams per recvmmsg on the WAN socket */
#define AUX_SEND_SLOTS 32     /* datagrams queued when the kernel says EAGAIN */
#define AUX_LINGER_MS 2000    /* at the end, how long the last reply may take to flush */
#define AUX_TUN_BATCH 64      /* packets read from the TUN per wake-up */
/* The kernel's queue in front of the TUN, in packets (tun_queue.c; Linux's default is
 * 500): a burst the reader has not caught up with waits there rather than being
 * dropped. Deeper would only add delay to what a saturating stream keeps queued. */
#define AUX_TUN_TXQUEUELEN 2000
#define AUX_BATCH_FRAMES 256  /* datagrams gathered before a sendmmsg (batch.c) */
#define AUX_BATCH_FRAME 2048  /* datagrams up to this size are batched, larger go alone */
/* ICMP errors a network call writes back to its LAN ("too big"), at most this many a
 * second after a first burst of AUX_ICMP_BURST: a kernel's own defaults
 * (icmp_msgs_per_sec, icmp_msgs_burst). Hosts need one answer to lower their size. */
#define AUX_ICMP_RATE 1000
#define AUX_ICMP_BURST 50

/* The path (path.c): how candidates are probed, and when the path is in doubt. */
#define PATH_MAX_CANDIDATES 12     /* the peer's, the relay, and those learned */
#define PATH_MAX_LEARNED 4         /* peer-reflexive candidates (a probe's new source) */
#define PATH_FIRST_INTERVAL_MS 100 /* between the first probes of a round ... */
#define PATH_MAX_INTERVAL_MS 1000  /* ... doubling up to this */
#define PATH_ROUND_MS 10000        /* a round with no answer ends: the path is lost */
#define PATH_MISSED_KEEPALIVES 3   /* silent keep-alive intervals before re-probing */
#define PATH_DIRECT_RETRY_MS 15000 /* while relayed, direct candidates are tried again */

/* Our leg on the call's relay (relay_leg.c): REGISTER again this soon while unanswered,
 * doubling up to the maximum; once answered, every keep-alive interval. */
#define RELAY_LEG_RETRY_MS 250
#define RELAY_LEG_RETRY_MAX_MS 2000
#define PATH_RELAYED_INTERVAL_MS 400  /* ... and in the round's first PATH_ROUND_MS */
#define PATH_FAILED_INTERVAL_MS 5000  /* after a lost round, a probe now and then */
#define PATH_PROBE_ID_OTHER 0x80000000u  /* probe ids with this bit are MTU probing's */
#define PATH_TCP_RETRY_MS 2000     /* while on the TCP leg, UDP candidates are tried again */
/* Link measurement (docs/routing.md): while up, the path carrying the call is probed every
 * PATH_MEASURE_INTERVAL_MS (a probe not answered before the next one counts as lost), and
 * the secondary gets a "measure" notice every PATH_MEASURE_REPORT_MS. */
#define PATH_MEASURE_INTERVAL_MS 1000
#define PATH_MEASURE_REPORT_MS 5000

/* Failover (failover.c): the active path silent for failover_after (start, at least
 * PATH_FAILOVER_RTT_FACTOR times its round trip) while we send makes it suspect; probes
 * then go to it and the standbys every PATH_SUSPECT_INTERVAL_MS (doubling up to
 * PATH_MAX_INTERVAL_MS), and a standby that answers takes over once the suspect path had
 * twice its round trip and PATH_SUSPECT_GRACE_MS to answer too. A path we left that way comes back only once it answered
 * PATH_RECOVER_ANSWERS probes in a row over at least PATH_RECOVER_HOLD_MS (probed every
 * PATH_RECOVER_INTERVAL_MS, doubling to PATH_RECOVER_MAX_INTERVAL_MS while silent). For
 * PATH_SETTLE_MS after we chose a path, the peer's frames through a worse one do not
 * move us (they were sent before the peer saw our move). */
#define PATH_FAILOVER_RTT_FACTOR 3
#define PATH_SUSPECT_INTERVAL_MS 100
#define PATH_SUSPECT_GRACE_MS 20   /* beyond twice the suspect path's round trip */
#define PATH_RECOVER_ANSWERS 4
#define PATH_RECOVER_HOLD_MS 2000
#define PATH_RECOVER_INTERVAL_MS 500
#define PATH_RECOVER_MAX_INTERVAL_MS 4000
#define PATH_SETTLE_MS 1000
#define PATH_STANDBY_MIN_INTERVAL_MS 5000  /* the warm standby's probes, at most this often */

/* The TCP leg (tcp_leg.c): the relay's TLS-over-TCP fallback. */
/* Made at bind (a room's leg: handed over, leg_handover.h): at most this many
 * connections a call. */
#define AUX_TCP_SOCKETS LEG_HANDOVER_TCP_MAX
#define AUX_TCP_FALLBACK_MS 2000   /* no path this long: the leg connects (at most half
				    * the channels' dead_after) */
#define AUX_TCP_LINGER_MS 5000     /* back on UDP this long: the connection closes */
#define AUX_TCP_TICK_MS 250
#define AUX_TCP_QUEUE_MAX (256 * 1024)  /* bytes queued on the stream; beyond, drop */

/* Lifecycle; the values are bits so that the dispatch table can allow several. */
enum aux_state {
	AUX_NEW = 1 << 0,      /* waiting for "bind" */
	AUX_BOUND = 1 << 1,    /* sockets bound, privileges dropped, waiting for "start" */
	AUX_RUNNING = 1 << 2,  /* relaying */
	AUX_ENDING = 1 << 3,   /* closing handles; uv_run is about to return */
};
#define AUX_ANY_LIVE (AUX_NEW | AUX_BOUND | AUX_RUNNING)

struct bridge;

/* One channel of the call: its LAN socket, its data channel and where plaintext goes. */
struct aux_lan {
	uv_udp_t udp;
	bool udp_open;
	struct bridge *bridge;
	unsigned index;
	uint16_t port;             /* the real bound port */
	struct channel *ch;        /* NULL until "start" */
	struct ip_endpoint deliver;  /* from "start": default LAN destination */
	bool has_deliver;
	struct ip_endpoint from;   /* the LAN application that spoke last (the paper's rule) */
	bool has_from;
	uint64_t datagrams_in, datagrams_out;
	uint64_t foreign_lan_sender;  /* datagrams from a LAN address not the call's party */
	struct aux_stream *stream; /* a reliable channel (stream.c); NULL for datagrams */
	/* Dropped, by reason (docs/metrics.md; "dropped" in the stats is their sum): a
	 * receive that failed or was cut, a datagram the channel would not seal (too big, no
	 * key), one for the LAN with nowhere to go yet, one the kernel refused to send, and
	 * one the kernel pushed back while every send slot waited. */
	uint64_t drop_recv_error, drop_not_sealed, drop_no_destination, drop_send_failed;
	uint64_t drop_send_queue_full;
};

/* The TUN interface of a network call (tun_setup.c, tun_relay.c): what it may carry and what it refused.
 * "from_lan" is what the gateway's kernel routed into the interface; "to_lan" is what
 * came from the peer and was written to it. */
struct aux_tun {
	bool open;                 /* fd is ours */
	int fd;
	bool vnet;                 /* IFF_VNET_HDR: a virtio_net_hdr before every packet */
	uv_poll_t poll;
	bool poll_open;
	char name[16];             /* IFNAMSIZ */
	int ifindex;
	uint32_t table;            /* host calls: the call's routing table (0: trunk, main) */
	unsigned mtu;              /* the interface's, set at bind */
	unsigned limit;            /* packets over it are too big: mtu, or less once path
				    * MTU discovery found less (pmtu.c) */
	unsigned limit6;           /* the same for IPv6, never below its minimum 1280 */
	uint16_t mss4, mss6;       /* TCP SYNs from the LAN are clamped to these (0: not) */
	struct ip_prefix local[AUX_TUN_PREFIXES], remote[AUX_TUN_PREFIXES];
	size_t nlocal, nremote;
	/* The remote prefixes as the LAN sees them: routed, and checked from the LAN. They
	 * are the remote ones unless a peer LAN overlapping ours is mapped (docs/overlap.md):
	 * then map_out moves destinations from the mapped prefix to the real one before a
	 * packet is carried, and map_in sources from the real to the mapped after one
	 * arrives, so that only real addresses cross and only ours appear on our LAN. */
	struct ip_prefix seen[AUX_TUN_PREFIXES];
	struct addr_map_rule to_real[AUX_TUN_PREFIXES], to_mapped[AUX_TUN_PREFIXES];
	struct addr_map map_out, map_in;
	size_t nmap;
	uint64_t mapped;           /* packets whose addresses were mapped, both ways */
	uint32_t gateway;          /* our LAN address (host order): may send ICMP errors */
	uint32_t remote_gateway;   /* the peer gateway's LAN address, 0 if unknown */
	bool ipv6;                 /* a side has IPv6 prefixes: IPv6 is carried too */
	bool has_gateway6, has_remote_gateway6;
	uint8_t gateway6[16];      /* our IPv6 LAN address, if any: ICMPv6 errors */
	uint8_t remote_gateway6[16];  /* the peer gateway's, if known */
	uint64_t packets_from_lan, bytes_from_lan, packets_to_lan, bytes_to_lan;
	uint64_t unauthorised_from_lan;  /* source or destination outside the call */
	uint64_t unauthorised_from_peer;
	uint64_t malformed;              /* not a whole IPv4 or IPv6 packet */
	uint64_t not_ipv4;               /* IPv6 in a call without IPv6 prefixes */
	uint64_t link_local;             /* IPv6 of link scope: the interface's own */
	uint64_t too_big;                /* over the tunnel MTU (DF set: answered by ICMP) */
	uint64_t icmp_sent;              /* ICMP errors written back into the TUN */
	struct ratelimit icmp_limit;     /* AUX_ICMP_RATE; refusals are icmp_rate_limited */
	uint64_t mss_clamped;            /* TCP SYNs whose MSS was lowered to fit the path */
	uint64_t errors;                 /* read, seal, send or write failures */
	uint64_t queue_dropped;          /* lost in the kernel's queue before we read them
					  * (tun_queue.c) */
	/* A room's leg (docs/rooms.md): each local member's LAN address <-> its room
	 * address. Out: the source through room_out; in: the destination through room_in. */
	bool room;
	struct addr_map_rule room_out[AUX_TUN_PREFIXES], room_in[AUX_TUN_PREFIXES];
	size_t nroom;
	/* The same for IPv6 (a room with an IPv6 network): LAN /128 <-> room /128. */
	struct addr_map_rule6 room_out6[AUX_TUN_PREFIXES], room_in6[AUX_TUN_PREFIXES];
	size_t nroom6;
	uint64_t room_nonmember;         /* from a LAN host that is no member: dropped */
	uint64_t room_no_member;         /* from the peer for no local member: dropped */
	/* A room's broadcast and multicast (room_cast.c): the LAN capture and the raw
	 * socket that sends the peer's multicast onto the LAN; cast says both are open.
	 * The room's host (room_host.c) reads the captures: only a room's auxiliary carries
	 * a room's legs. */
	bool cast;
	int cap_fd, mcast_fd;
	uint32_t room_bcast;             /* the room's broadcast address, host order */
	struct ratelimit cast_limit[AUX_TUN_PREFIXES];  /* per local member */
	uint64_t bcast_out, mcast_out, bcast_in, mcast_in;
	uint64_t cast_nonmember, cast_limited;
	/* IPv6 multicast (room_cast.c, cast6.h), on when the room has an IPv6 network:
	 * cap6_fd captures the LAN's IPv6 frames (and sends the peer's multicast onto the
	 * LAN), nl_fd reads the neighbour table, both opened at bind while still root. */
	bool cast6;
	int cap6_fd, nl_fd;
	int lan_ifindex;                 /* the LAN interface, where both captures listen */
	uint32_t room_hostmask;          /* the host bits of the room's IPv4 network */
	/* The link-layer address of each local member with an IPv6 room address (room_out6's
	 * index), as the neighbour table knew it at member_macs_ms or last knew it before
	 * (room_cast.c: an idle host's entry the kernel dropped is kept): a frame from it is
	 * that member's. Read again when the members change, when old, and (at most once a
	 * second) when a frame's address is no member's. */
	uint8_t member_mac[AUX_TUN_PREFIXES][6];
	uint32_t member_mac_known;       /* bit j: member_mac[j] is known */
	bool member_macs_read;
	uint64_t member_macs_ms;
	/* A room's auxiliary (room_host.c): the descriptors above are the room's one
	 * interface and capture, shared by its peers, read and closed by the host. */
	bool shared;
};

/* A datagram that could not be sent at once; its buffer is allocated on first use and
 * reused, so the fast path never allocates. */
struct aux_send_slot {
	uv_udp_send_t req;
	struct bridge *bridge;
	uint8_t *data;
	bool busy;
};

/* Learning the WAN socket's public endpoint from STUN servers at "bind" (discover.c). */
struct aux_stun_server {
	struct ip_endpoint addr;
	uint8_t txid[12];          /* STUN_TXID_LEN: the same for every retransmission */
	bool answered;
	struct ip_endpoint mapped;
};

struct aux_discover {
	bool active;               /* bind's reply waits for the answers */
	json_int_t bind_id;
	uv_timer_t timer;
	bool timer_open;
	uint64_t started_ms, timeout_ms;
	unsigned round;            /* retransmission rounds sent */
	struct aux_stun_server server[AUX_STUN_MAX];
	size_t nserver;
	/* What it found, for the bind reply. */
	bool done;
	struct candidate cand[CAND_MAX];
	size_t ncand;
	enum nat_mapping mapping;
	struct ip_endpoint mapped[AUX_STUN_MAX];
	size_t nmapped;
	/* Counters (stats "stun"). */
	uint64_t requests_sent;
	uint64_t answers;          /* matching answers, retransmitted duplicates included */
	uint64_t ignored;          /* while discovering: not a matching answer */
	uint64_t stray;            /* after: STUN on the WAN socket, dropped */
};

/* One endpoint where the peer might be reached. */
struct path_candidate {
	struct ip_endpoint ep;
	bool relayed;        /* a relay's endpoint: frames go through it */
	bool preferred;      /* relayed: the principal's routes go through this relay */
	bool tcp;            /* the TCP leg's marker (tcp_leg.c): the relay over TLS */
	struct ip_endpoint shown;  /* tcp: the relay's TLS endpoint, for the notices */
	uint64_t heard_ms;   /* relayed over UDP: when the relay last answered our leg */
	bool learned;        /* peer-reflexive: the source of one of the peer's probes */
	bool answered;       /* a reply came back in the current round */
	uint32_t rtt_ms;     /* of the latest probe answered */
	uint32_t seq;        /* of the latest probe sent to it */
	uint64_t sent_ms;    /* when it went */
	uint64_t requests, replies;
	uint64_t replied_ms;  /* when its latest reply came */
	bool awaiting;       /* a probe went and no reply came since */
	bool demoted;        /* failover left it: it comes back only after the hold */
	unsigned steady;     /* demoted: probes answered in a row ... */
	uint64_t steady_since_ms;  /* ... since */
};

/* Failover mid-call (failover.c): is the active path still answering while we send? */
struct path_watch {
	uv_timer_t timer;
	bool timer_open;
	uint64_t after_ms;             /* failover_after from start */
	uint64_t heard_ms;             /* last authenticated frame over the current path */
	uint64_t unanswered_since_ms;  /* first data sent after it; 0: none pending */
	uint64_t last_sent_ms;         /* the latest data sent */
	uint64_t suspect_since_ms;     /* 0: not suspect */
	uint64_t suspect_interval_ms;
	size_t standby_ready;          /* 1 + the standby that answered the suspicion, 0 none */
	uint64_t last_suspect_probe_ms;
	uint64_t switched_ms;          /* when we last chose the current path */
	uint64_t recover_interval_ms, last_recover_probe_ms;
	uint64_t last_standby_probe_ms;
	uint64_t suspicions, failovers, false_alarms, switch_backs;
	uint64_t peer_moves_followed, peer_moves_ignored, standby_probes;
	uint64_t last_gap_ms;          /* of the latest failover: last heard to the switch */
};

enum path_phase {
	PATH_IDLE,        /* before "start" */
	PATH_PROBING,     /* the first round: no path yet */
	PATH_UP,          /* a candidate answered and carries the call */
	PATH_REPROBING,   /* keep-alives went unanswered: every candidate probed again */
	PATH_FAILED,      /* a round ended with no answer (reported lost) */
};

struct aux_path {
	struct path_candidate cand[PATH_MAX_CANDIDATES];
	size_t ncand;
	int current;                 /* the candidate carrying the call, -1 if none */
	enum path_phase phase;
	bool announced;              /* "up" was told: later changes are "changed" */
	uv_timer_t timer;
	uint64_t keepalive_ms;       /* the channels' keep-alive interval */
	uint64_t started_ms, round_started_ms, last_direct_try_ms;
	uint64_t interval_ms;
	uint32_t seq;
	unsigned probes_this_round;
	unsigned learned;
	char reason[AUX_PATH_REASON_MAX + 1];  /* of the last notice */
	uint64_t rounds, reprobes, relay_fallbacks, switches, losses;
	uint64_t roams;              /* the path followed the peer's data to a new endpoint */
	uint64_t requests_answered, unknown_replies;
	struct path_watch watch;
	/* Link measurement while up: the last measuring probe, the smoothed round trip of
	 * the current path (0 until one is answered), and the counts since the last notice. */
	uint64_t measure_sent_ms, measure_report_ms;
	uint32_t measure_seq;
	int measure_cand;            /* the candidate it went to, -1 if none */
	uint32_t srtt_ms;
	bool has_srtt;
	uint32_t measure_probes, measure_replies;
};

/* Priming (prime.c): the first probes to the peer's srflx candidates go with a small TTL,
 * opening our NAT toward them without reaching the peer's. */
struct aux_prime {
	uint8_t ttl;                 /* from "start"; 0: never */
	uint32_t window_ms;
	bool active;                 /* priming now */
	bool ended;                  /* it was on and has ended */
	uint64_t started_ms, until_ms, ended_ms;
	struct ip_endpoint target[CAND_MAX];  /* the peer's srflx endpoints */
	size_t ntarget;
	char ended_by[IP_STRLEN + 64];
	uint64_t sent, send_errors;
};

enum tcp_leg_state {
	TCP_LEG_OFF,          /* no fallback for this call (no relay with TCP, no CA) */
	TCP_LEG_IDLE,         /* ready to connect when UDP fails */
	TCP_LEG_CONNECTING,   /* TCP and TLS under way */
	TCP_LEG_REGISTERING,  /* REGISTER sent, waiting for REGISTERED */
	TCP_LEG_LIVE,         /* registered: a path candidate */
	TCP_LEG_CLOSED,       /* no socket left */
};

struct aux_tcp_leg {
	enum tcp_leg_state state;
	int fds[AUX_TCP_SOCKETS];    /* made and bound at bind time; -1 once used */
	size_t nfds, next_fd;
	struct ip_endpoint relay;    /* the relay's TLS endpoint */
	uint64_t allocation;
	uint8_t token[RELAY_TOKEN_LEN];
	unsigned leg;
	struct tls_creds *creds;     /* the organisation's CA, from start */
	struct tls_conn *conn;
	struct relay_stream_reader reader;
	uv_timer_t timer;
	uint64_t counter;            /* of the last REGISTER sent on the stream */
	uint64_t fallback_ms;        /* no path this long: connect */
	uint64_t registered_ms, down_since_ms, udp_since_ms, closed_ms;
	uint64_t connects, closes, registers, records_in, records_out;
	uint64_t backpressure, bad_records, not_live;
	char error[160];
};

/* Our leg of the call's relay allocation (relay_leg.c, docs/relay.md). */
struct aux_relay_leg {
	bool active;               /* "start" named a relay: registering */
	bool registered;           /* a REGISTERED answered one of ours */
	struct ip_endpoint relay;
	uint64_t allocation;
	uint8_t token[16];         /* RELAY_TOKEN_LEN; wiped at the end */
	uint8_t leg;               /* 0: the caller's auxiliary, 1: the callee's */
	bool preferred;            /* the route goes through this relay (path_rank) */
	uint64_t counter;          /* of the last REGISTER sent */
	uint64_t acked;            /* of the last REGISTERED taken */
	uint64_t interval_ms, retry_ms;
	uv_timer_t timer;
	bool timer_open;
	uint64_t sent, answered, refused, errors;
};

struct bridge {
	uv_loop_t *loop;
	enum aux_state state;
	int exit_code;

	struct child_control ctl;    /* to the parent (control.c); ctl.stream NULL once
				      * closed */
	uv_signal_t sigterm, sigint;
	uv_timer_t tick_timer;       /* channel timers: keep-alive, peer dead, reassembly */
	uv_timer_t idle_timer;       /* no data either way for idle_timeout_ms */
	uv_timer_t pmtu_timer;       /* path MTU discovery's probes (pmtu.c) */

	uint64_t call_id;
	struct ip_addr lan_addr, wan_addr;
	struct ip_addr lan_addr6;    /* network calls: the gateway's IPv6 LAN address */
	bool has_lan_addr6;
	struct ip_addr party;        /* UDP calls: the only LAN host the channels hear */
	uv_udp_t wan;                /* sends; wan_rx.c reads through a duplicate of it */
	bool wan_open;
	uv_poll_t wan_rx;
	int wan_rx_fd;               /* -1 until bound */
	bool wan_rx_open;
	uint16_t wan_port;
	/* A dual-stack wan: the IPv6 socket beside the IPv4 one (wan_addr), read and
	 * written the same way. Code sending "on the WAN" names &br->wan: sendq_send and
	 * batch_flush take wan6 for an IPv6 destination (wan_socket). */
	struct ip_addr wan_addr6;
	bool has_wan6;
	uv_udp_t wan6;
	bool wan6_open;
	uv_poll_t wan6_rx;
	int wan6_rx_fd;              /* -1 until bound */
	bool wan6_rx_open;
	uint16_t wan_port6;
	int wan_rx_now;              /* the descriptor wan_rx_read reads: the readable one */
	uv_poll_cb wan_rx_cb;        /* the relay's (or discovery's during bind): per bridge,
				      * for a room's auxiliary holds several (room_host.c) */
	unsigned wan_link_mtu;       /* the WAN interface's MTU, 0 if unknown */
	unsigned wan_link_mtu6;      /* the same for wan6 */
	struct pmtud pmtud;          /* path MTU discovery of the path to the peer */
	struct ip_endpoint pmtu_peer;  /* ... which leads there */
	unsigned pmtu_ceiling;       /* the channels' datagram size from "start" */
	bool pmtu_on;
	unsigned pmtu_applied;       /* the size last logged */
	enum pmtud_state pmtu_state_logged;
	struct aux_lan lan[SEC_MAX_CHANNELS];
	unsigned n_lan;
	bool tun_mode;               /* a network call: lan[0] has no socket, tun does */
	struct aux_tun tun;

	uint64_t idle_timeout_ms;    /* 0: never */
	uint64_t last_data_ms;
	uint64_t wan_unknown_session;  /* frames for no channel of ours */
	uint64_t wan_truncated;        /* datagrams too short to name a session */
	uint64_t wan_errors;           /* receive or send errors on the WAN socket */
	uint64_t send_queue_full;      /* WAN sends the kernel pushed back with every slot taken
					* (a LAN socket's count in its aux_lan) */
	struct aux_discover discover;

	struct aux_send_slot slots[AUX_SEND_SLOTS];
	struct aux_path path;
	struct aux_prime prime;
	struct aux_tcp_leg tcp;
	uint64_t relay_counter;      /* of the last REGISTER of our relay leg, UDP or TCP */
	struct aux_relay_leg relay_leg;

	/* One peer site of a room's auxiliary (room_host.c): the secondary made its WAN
	 * sockets (hosted_wan_fd and, on a dual-stack wan, hosted_wan6_fd, -1 without,
	 * until bind takes them) and its TCP leg's (in tcp.fds) and handed them over with
	 * its control socket; the interface is the room's, shared (tun.shared). */
	bool hosted;
	int hosted_wan_fd, hosted_wan6_fd;
	uint64_t ended_ms;           /* hosted: when it ended (freed some time after) */
	struct bridge *next_hosted;
};

/* cmd_run.c */
int run_main(int argc, char **argv);
/* The handles of a bridge (signals only for a process's own, not a hosted peer's), and
 * what is left of it after its handles closed (keys wiped, descriptors closed). */
int bridge_init_handles(struct bridge *br, bool signals);
void bridge_release(struct bridge *br);

/* ---- room_host.c: a room's one auxiliary (docs/rooms.md) ----
 * `insel-auxiliary run --room`: fd 3 is a unix SOCK_SEQPACKET socket on which the
 * secondary hands over, for each peer site of the room, that peer's control socket and
 * the sockets an ordinary call makes for itself at bind (leg_handover.h); each becomes a bridge of its own (its channel, keys, path, relay leg, failover), driven by
 * the ordinary control protocol, all sharing the room's one interface: the first bind
 * creates it (while root) and confines the process; the host reads it and hands each
 * packet to the peer whose members' room addresses hold its destination. The process
 * ends when fd 3 closes. NULL in an ordinary auxiliary. */
struct room_host;
extern struct room_host *aux_room_host;
int room_host_run(uv_loop_t *loop);
/* At bind of a hosted bridge: the room's interface, created by this bind (then the host
 * takes its descriptors) or already there (the bridge shares it). 0 or a negative errno
 * with why set. */
int room_host_tun(struct bridge *br, const struct aux_bind_tun *req, char *why, size_t whylen);
/* Whether the process must still confine itself (the first bind), and that it did. */
bool room_host_confined(void);
void room_host_set_confined(void);
/* A hosted bridge starts relaying: the host's interface and capture are read. */
int room_host_start(struct bridge *br);
/* The WAN interface's MTU (family AF_INET or AF_INET6) the first bind of that family
 * found (later binds cannot ask, confined). */
unsigned room_host_wan_mtu(int family, unsigned found);
/* Ends the call: optionally tells the parent {"op":"ended",...}, flushes and closes the
 * control socket, closes every handle. exit_code is the process's. Idempotent. */
void bridge_end(struct bridge *br, const char *reason, const char *message, int exit_code,
		bool notify);

/* control.c */
int control_init(struct bridge *br);
int control_start(struct bridge *br, int fd);
/* Flushes what was sent, then closes the control socket (bounded by AUX_LINGER_MS). */
void control_finish(struct bridge *br);
/* The stats object shared by "stats", "hangup" and "ended" (adds to obj). */
int bridge_stats_into(const struct bridge *br, json_t *obj);
void control_reply(struct bridge *br, json_t *reply);
void control_reply_error(struct bridge *br, json_int_t id, int err, const char *code,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ctl_bind.c, ctl_start.c: the handlers with a parse step each (ctx: the struct bridge). */
void bind_handle(void *ctx, json_int_t id, const json_t *msg);
/* The bind's success reply (with what discovery found), and the state "bound". */
void bind_complete(struct bridge *br, json_int_t id);
void start_handle(void *ctx, json_int_t id, const json_t *msg);
/* ctl_rekey.c: the next epoch's keys (external rekeying), and asking for them. */
void rekey_handle(void *ctx, json_int_t id, const json_t *msg);
void rekey_notify_due(struct bridge *br, unsigned channel);

/* discover.c: STUN Binding requests from the WAN socket to the servers of "bind", so that
 * the reply can give the srflx candidates and the NAT mapping seen. prepare copies the
 * servers and draws transaction ids (before the privilege drop); start sends and reads
 * until every server answered or the time is up, then calls bind_complete (0), or fails
 * at once (the caller replies without discovery). close with the handles. A datagram on
 * the WAN socket that is STUN after that is counted by discover_stray() and dropped. */
void discover_prepare(struct bridge *br, const struct aux_bind_request *req);
int discover_start(struct bridge *br, json_int_t bind_id);
void discover_close(struct bridge *br);
/* Whether a datagram from the WAN is STUN (magic cookie at bytes 4..7): then counted. */
bool discover_stray(struct bridge *br, const uint8_t *data, size_t len);
/* The "stun" object of the stats: null when no server was asked. */
json_t *discover_stats_json(const struct bridge *br);

/* sandbox.c: the syscall allowlist, last step of privdrop_confine. */
int sandbox_enter(void);

/* privdrop.c. Who the process becomes once bound: its call's own uid (gid the same
 * number, no supplementary groups) from the secondary's range, or else a named user;
 * with neither it keeps its identity. */
struct aux_identity {
	const char *user;  /* NULL: none named */
	uint32_t uid;      /* used when has_uid */
	bool has_uid;
};
int privdrop_confine(const struct aux_identity *who);
/* Settings that need no privileges and protect the keys: not dumpable, parent-death. */
int privdrop_protect_process(void);

/* relay.c: the hub of the data path (its leaves: wan_rx.c, batch.c, sendq.c,
 * tun_relay.c). Starts reading the LAN sockets or the TUN, and the WAN socket. */
int relay_start(struct bridge *br);

/* The WAN socket for a destination: wan, or wan6 for an IPv6 destination when the wan
 * is dual-stack (wan_addr is then IPv4). A datagram to a family the gateway has no
 * address of goes to wan and fails there (counted as a send error). */
static inline uv_udp_t *wan_socket(struct bridge *br, const struct ip_endpoint *dst)
{
	return br->has_wan6 && dst->addr.family == AF_INET6 ? &br->wan6 : &br->wan;
}

/* Whether the gateway has a WAN socket of the family. */
static inline bool wan_has_family(const struct bridge *br, int family)
{
	return br->wan_addr.family == family || (br->has_wan6 && family == AF_INET6);
}

/* sendq.c: sends one datagram from sock to dst without allocating unless the kernel
 * pushes back (then it waits in a send slot, in order); &br->wan means the WAN socket of
 * dst's family (wan_socket). Release wipes and frees the slots after the loop. */
int sendq_send(struct bridge *br, uv_udp_t *sock, const struct ip_endpoint *dst,
	       const uint8_t *data, size_t len);
void sendq_release(struct bridge *br);

/* wan_rx.c: the WAN sockets' receive side (UDP GRO). prepare at bind (privileged: the
 * allowlist refuses new descriptors); start polls each WAN socket (one per family) with
 * the relay's callback, which reads a batch from the socket that woke it (the number of
 * messages, 0 when none is waiting) and takes each message's frames (-EINVAL for a
 * truncated one); close with the handles, release after the loop. */
struct wan_rx_msg {
	const uint8_t *data;       /* valid until the next wan_rx_read */
	size_t len;
	size_t seg;                /* the frames glued together are seg bytes each (the
				    * last may be shorter) */
	struct ip_endpoint from;
};
int wan_rx_prepare(struct bridge *br);
int wan_rx_start(struct bridge *br, uv_poll_cb on_readable);
int wan_rx_read(struct bridge *br);
int wan_rx_message(unsigned i, struct wan_rx_msg *m);
void wan_rx_close(struct bridge *br);
void wan_rx_release(struct bridge *br);

/* tun_setup.c: a network call's interface, made while privileged. Creates it (a free
 * name after the hint), sets its MTU, brings it up and routes the remote prefixes through
 * it: in the main table, or with source_routing in the call's own table with a rule per
 * (local, remote) pair of one family and two per remote prefix for the gateway's own
 * packets (docs/tun.md, "Routing"). Needs CAP_NET_ADMIN; before the privilege drop. On
 * failure the rules it added are gone again and the routes go with the interface.
 * Release, after the loop, closes the descriptor: the interface disappears. */
int tun_create(struct bridge *br, const struct aux_bind_tun *req, char *why, size_t whylen);
/* "room_members": a room leg's new members, in place (0, or -EINVAL with why set). */
int tun_room_members(struct bridge *br, const struct aux_bind_tun *req, char *why,
		     size_t whylen);
void tun_release(struct bridge *br);
/* A room's peer takes the room's interface (room: the tun of the bind that made it). */
int tun_adopt(struct bridge *br, const struct aux_bind_tun *req, const struct aux_tun *room,
	      char *why, size_t whylen);

/* pmtu.c: path MTU discovery. prepare at bind (privileged): the WAN socket's DF bit
 * without the kernel's PMTU cache, and the WAN interface's MTU. start with the relay:
 * probes the path, sets the channels' datagram size and the tunnel's MTU. A probe from
 * the peer (channel_open said CHANNEL_OPEN_PROBE) with an id of path MTU discovery's
 * (top bit set): a request is answered, a reply confirms a size; others are left to
 * the path logic. */
int pmtu_prepare(struct bridge *br);
int pmtu_start(struct bridge *br);
void pmtu_stop(struct bridge *br);
void pmtu_probe_received(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
			 const struct ip_endpoint *from, uint64_t now);
json_t *pmtu_stats_json(const struct bridge *br);  /* NULL before start */

/* tun_relay.c: the interface's packets, once confined. */
int tun_relay_start(struct bridge *br);
/* One packet the kernel routed into the interface, for this bridge (room_host.c). */
void tun_from_lan(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now);
/* A whole message from the peer: check it and write it to the interface. */
void tun_deliver(struct bridge *br, const struct channel_msg *m, uint64_t now);
/* The tunnel's MTU as the path allows (at most the interface's); with clamp, the MSS of
 * TCP SYNs from the LAN is lowered to fit it. */
void tun_set_path_limit(struct bridge *br, unsigned limit, bool clamp);
/* Writes what tun_deliver held back to coalesce; call at the end of each wake-up. */
void tun_flush(struct bridge *br);
/* The largest read of the interface: the virtio header (with offloads) and a packet. */
#define AUX_TUN_READ_MAX (10 + AUX_DGRAM_MAX)
/* One read of the interface t, n bytes in rx (a buffer of AUX_TUN_READ_MAX, written to):
 * each whole IP packet it holds goes to emit(ctx, pkt, len) — with offloads, a TCP
 * super-segment cut into segments and a partial checksum completed (tso.h), which is
 * what the channel's checks and a room's address mapping need: whoever reads a TUN
 * with offloads must go through here. What cannot be read is counted (malformed). */
typedef int (*tun_packet_fn)(void *ctx, const uint8_t *pkt, size_t len);
void tun_read_packets(struct aux_tun *t, uint8_t *rx, size_t n, tun_packet_fn emit, void *ctx);
json_t *tun_stats_json(const struct bridge *br);
/* The interface's queue (tun_queue.c): open at its creation (before confinement); then
 * credit br with what it dropped since it was last read. */
void tun_queue_open(const struct aux_tun *t);
void tun_queue_count(struct bridge *br);
void tun_close(struct bridge *br);     /* stops polling (handle close) */
/* Seals one authorised packet towards the peer; writes one packet into the TUN. */
void tun_carry(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now);
void tun_write_packet(struct bridge *br, const uint8_t *pkt, size_t len, uint64_t now);

/* ---- a room's broadcast and multicast (room_cast.c) ---- */
struct ipv4_info;
struct ipv6_info;
struct sockaddr_ll;
/* The member at index i of the room's map is new: its broadcast allowance starts full. */
void room_cast_member_new(struct bridge *br, size_t i);
/* At bind, while root, when the bind names the room's network: the LAN capture and the
 * multicast socket. 0, or a negative errno with a sentence in why. */
int room_cast_open(struct bridge *br, const struct aux_bind_tun *req, char *why,
		   size_t whylen);
/* Reads what a LAN capture (fd) holds into buf (size bytes), at most AUX_TUN_BATCH frames
 * a wake-up, and hands fn each one the LAN sent (not what we sent, seen as outgoing) of
 * max_len bytes at most, with its link-layer source. */
typedef void (*room_capture_fn)(void *ctx, uint8_t *pkt, size_t len,
				const struct sockaddr_ll *from);
void room_capture_read(int fd, uint8_t *buf, size_t size, size_t max_len,
		       room_capture_fn fn, void *ctx);
/* A packet from the peer to the room's broadcast address or a multicast group: delivered
 * (or refused) here, true; false for any other packet. */
bool room_cast_deliver(struct bridge *br, const struct ipv4_info *ip, const uint8_t *pkt,
		       uint64_t now);
/* A captured datagram for this bridge's peer (in a buffer of ours: mapped in place):
 * true if carried; false if refused (no member's, or, with limit, over the member's
 * allowance: counted here) or not a whole UDP datagram. */
bool room_cast_captured(struct bridge *br, uint8_t *pkt, size_t len, uint64_t now,
			bool limit);
/* IPv6 multicast captured on the LAN (from: the frame's link-layer source): whether it
 * is a local member's, within its allowance (counted as the IPv4 ones are); member is
 * then the member's IPv6 LAN address, which each leg maps to its room address. */
bool room_cast_judge6(struct bridge *br, const uint8_t *pkt, size_t len,
		      const struct sockaddr_ll *from, uint64_t now, uint8_t member[16]);
/* Carries a judged datagram (in a buffer of the leg's own: its source is rewritten) to
 * the leg's peer, from the member's room address, if the peer has members with IPv6. */
bool room_cast_carry6(struct bridge *br, uint8_t *pkt, size_t len, const uint8_t member[16],
		      uint64_t now);
/* From the peer, an IPv6 packet to a multicast group: sent onto the LAN if it is a peer
 * member's datagram a room carries, else counted. False if it is not to a group. */
bool room_cast_deliver6(struct bridge *br, const struct ipv6_info *ip, const uint8_t *pkt);
/* The members changed: their link-layer addresses are read again. */
void room_cast_members_changed(struct bridge *br);
void room_cast_stats(const struct bridge *br, json_t *j);
/* Closes the IPv6 capture and the netlink socket (a room's host, at its end). */
void room_cast6_close_fds(struct aux_tun *t);
/* Closes the captures of a room's first leg whose interface the room's host never took
 * (its bind failed after they were opened). */
void room_cast_release(struct bridge *br);

/* batch.c: datagrams of one wake-up sent with one sendmmsg (UDP GSO where allowed). */
struct aux_batch {
	uint8_t frame[AUX_BATCH_FRAMES][AUX_BATCH_FRAME];
	size_t len[AUX_BATCH_FRAMES];
	struct iovec iov[AUX_BATCH_FRAMES];
	struct mmsghdr msg[AUX_BATCH_FRAMES];
	char cmsg[AUX_BATCH_FRAMES][CMSG_SPACE(sizeof(uint16_t))]
		__attribute__((aligned(__alignof__(struct cmsghdr))));
	struct sockaddr_storage to;
	socklen_t tolen;
	uv_udp_t *sock;            /* where the batch goes: one socket, one destination */
	struct ip_endpoint dst;
	uint64_t *errors;          /* counts the datagrams that could not be sent */
	unsigned n;
	bool gso;                  /* equal-sized runs as UDP GSO super-datagrams */
};
extern struct aux_batch aux_to_wan;  /* sealed frames toward the peer (GSO) */
extern struct aux_batch aux_to_lan;  /* plaintext toward LAN applications (no GSO) */
/* The buffer (AUX_BATCH_FRAME bytes) for the next datagram to sock/dst, flushing the batch
 * first if it is full or goes elsewhere; batch_commit() then adds it with its length. */
uint8_t *batch_slot(struct bridge *br, struct aux_batch *b, uv_udp_t *sock,
		    const struct ip_endpoint *dst, uint64_t *errors);
void batch_commit(struct aux_batch *b, size_t len);
/* Copies a datagram into the batch (one over AUX_BATCH_FRAME goes at once, in order). */
int batch_add(struct bridge *br, struct aux_batch *b, uv_udp_t *sock,
	      const struct ip_endpoint *dst, const uint8_t *data, size_t len, uint64_t *errors);
void batch_flush(struct bridge *br, struct aux_batch *b);
void batch_flush_all(struct bridge *br);

/* path.c: which candidate carries the call (see its opening comment). init with the
 * other handles; start once the channels relay (the candidates: channel 0's peer and the
 * start request's peer_candidates); stop with the handles. */
int path_init(struct bridge *br);
int path_start(struct bridge *br, const struct aux_start_request *req);
void path_stop(struct bridge *br);
/* One more endpoint to probe, e.g. the relay once our leg there is registered
 * (relayed = true); probed at once unless the call already has a direct path. 0,
 * INSEL_E_LIMIT when full, -EAFNOSUPPORT for a family no WAN socket of ours has. */
int path_add_candidate(struct bridge *br, const struct ip_endpoint *ep, bool relayed);
/* The relay, once our leg is registered; preferred when the principal's routes go through
 * it (its candidate's "preferred"): it then ranks above a direct path. */
int path_add_relay_candidate(struct bridge *br, const struct ip_endpoint *ep, bool preferred);
/* Lower is better: the preferred relay, direct, relayed over UDP, the TCP leg. */
unsigned path_rank(const struct path_candidate *c);
/* An authenticated probe from the WAN on channel l (channel_open said
 * CHANNEL_OPEN_PROBE): requests are answered to their source, replies choose the path. */
void path_on_probe(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
		   const struct ip_endpoint *from, uint64_t now);
json_t *path_stats_json(const struct bridge *br);

/* path.c, for failover.c: probe candidate i now (the caller bumps path.seq once per
 * batch); carry the call over candidate i from now on and tell the secondary (a "path"
 * notice "changed" with the reason); the candidate the peer's frames move to when its
 * NAT rebinds (follows it, as roaming does). */
void path_probe(struct bridge *br, size_t i, uint64_t now);
void path_switch(struct bridge *br, size_t i, const char *reason);
void path_follow_roaming(struct bridge *br, const struct ip_endpoint *to);
int path_find_candidate(const struct aux_path *p, const struct ip_endpoint *ep);
void path_describe(const struct path_candidate *c, char *out, size_t len);

/* failover.c: the active path watched while we send (its opening comment). start with
 * path_start, stop with the handles. data_sent: after sealing data toward the peer (only
 * the first send after the path was heard costs a call); frame_heard: an authenticated
 * frame that is not a probe arrived from `from` on channel l (a move to another path is
 * judged: followed or undone). take_answer: path.c's answered() asks first; true when
 * failover decided (a failover, a switch back, or nothing). probe_standby: the
 * keep-alive tick's low-rate probe of the other proven paths. */
int failover_start(struct bridge *br, uint64_t after_ms);
void failover_stop(struct bridge *br);
void failover_data_pending(struct bridge *br, uint64_t now);
void failover_frame_elsewhere(struct bridge *br, struct aux_lan *l,
			      const struct ip_endpoint *from, uint64_t now);
bool failover_take_answer(struct bridge *br, size_t i, uint64_t now);
void failover_path_chosen(struct bridge *br, uint64_t now);
void failover_probe_standby(struct bridge *br, uint64_t now);
json_t *failover_stats_json(const struct bridge *br);

static inline void path_data_sent(struct bridge *br, uint64_t now)
{
	br->path.watch.last_sent_ms = now;
	if (!br->path.watch.unanswered_since_ms)
		failover_data_pending(br, now);
}

static inline void path_frame_heard(struct bridge *br, struct aux_lan *l,
				    const struct ip_endpoint *from, uint64_t now)
{
	const struct aux_path *p = &br->path;

	if (p->current >= 0 && ip_endpoint_equal(from, &p->cand[p->current].ep))
		br->path.watch.heard_ms = now;
	else
		failover_frame_elsewhere(br, l, from, now);
}

/* prime.c (see its opening comment). start before path_start, with the start request;
 * send_probe sends one of the path's probes, with the priming TTL while priming lasts and
 * the probe goes to one of the peer's srflx endpoints, else as any datagram (sendq);
 * heard: an authenticated probe came from the peer, not through a relay (priming ends);
 * next_ms: in_ms, or less so that the path's next tick comes when the window closes. */
void prime_start(struct bridge *br, const struct aux_start_request *req, uint64_t now);
int prime_send_probe(struct bridge *br, const struct ip_endpoint *to, const uint8_t *data,
		     size_t len, uint64_t now);
void prime_heard(struct bridge *br, const struct ip_endpoint *from, uint64_t now);
uint64_t prime_next_ms(const struct bridge *br, uint64_t now, uint64_t in_ms);
json_t *prime_stats_json(const struct bridge *br);

/* relay_leg.c: our leg on the call's relay, when "start" names one: registered from the
 * WAN socket at start and every keep-alive interval; once the relay answers, its
 * endpoint becomes a relayed candidate of the path. take: a WAN datagram that is a
 * REGISTERED (first byte 0x21) is ours, whatever becomes of it (true); else false. */
int relay_leg_start(struct bridge *br, const struct aux_start_request *req);
bool relay_leg_take(struct bridge *br, const uint8_t *data, size_t n,
		    const struct ip_endpoint *from);
void relay_leg_stop(struct bridge *br);
json_t *relay_leg_stats_json(const struct bridge *br);
/* Whether a probe was ever answered; if not, the call ends no_path (not peer_dead) when
 * the channels' dead_after_ms runs out, saying what was tried. */
bool path_ever_up(const struct bridge *br);
void path_end_unanswered(struct bridge *br);

/* stream.c: a reliable channel (docs/reliable.md): the engine of common/data/reliable.h
 * between the channel's sealed frames and its party's TCP attachment. prepare at bind
 * (privileged: the TCP listener on the channel's LAN port); start with the relay (the
 * mode and token from "start"); take: a whole message from the peer on a reliable channel
 * (true: it was one), read at now_us; service: at the end of each WAN wake-up (delivers,
 * sends what the engine wants sent); close with the handles, release after the loop. */
int stream_prepare(struct bridge *br, struct aux_lan *l, char *why, size_t whylen);
int stream_start(struct bridge *br, struct aux_lan *l, const struct aux_start_channel *c);
bool stream_take(struct bridge *br, struct aux_lan *l, const struct channel_msg *m,
		 uint64_t now_us);
/* Where channel_open_into opens a reliable channel's next frame (NULL: not reliable);
 * unroom when the frame opened nothing there (rel_input_room). */
const struct channel_room *stream_room(struct aux_lan *l);
void stream_unroom(struct aux_lan *l);
void stream_service(struct bridge *br);
void stream_follow_path(struct aux_lan *l);
void stream_close(struct bridge *br);
void stream_release(struct bridge *br);
json_t *stream_stats_json(const struct aux_lan *l);

/* timers.c */
int timers_start(struct bridge *br);
void timers_stop(struct bridge *br);
/* Runs the channel timers at once (a keep-alive is wanted now). */
void timers_kick(struct bridge *br);
/* After a WAN wake-up: a channel that switched its send epoch on the peer's first frame
 * of it and has sent nothing since proves it with a keep-alive now. */
void timers_prove_epochs(struct bridge *br);

/* tcp_leg.c: the relay's TLS-over-TCP fallback (see its opening comment). prepare at
 * bind (before confinement), init with the handles, start after path_start. */
int tcp_leg_prepare(struct bridge *br);
int tcp_leg_init(struct bridge *br);
int tcp_leg_start(struct bridge *br, const struct aux_start_request *req);
void tcp_leg_stop(struct bridge *br);
void tcp_leg_release(struct bridge *br);
/* Whether ep is the TCP leg's marker: what is sent there goes into the stream. */
bool tcp_leg_owns(const struct bridge *br, const struct ip_endpoint *ep);
/* One datagram into the stream: 0, INSEL_E_LIMIT (dropped: the stream is full),
 * INSEL_E_CLOSED (the leg is not live). */
int tcp_leg_send(struct bridge *br, const uint8_t *data, size_t len);
/* "tcp relay 198.18.0.1:443" (for the path's notices). */
const char *tcp_leg_describe(const struct bridge *br, char *out, size_t len);
json_t *tcp_leg_stats_json(const struct bridge *br);
/* The next counter of a REGISTER of this call's relay leg: one sequence for UDP and TCP,
 * so that the relay moves the leg to whichever registered last. */
uint64_t relay_counter_next(struct bridge *br);

/* relay.c: a datagram that came over the TCP leg, taken as one from the WAN socket; then,
 * once per batch of them, what that gathered for the LAN goes out. */
void relay_take_datagram(struct bridge *br, const uint8_t *data, size_t len,
			 const struct ip_endpoint *from);
void relay_take_done(struct bridge *br);

/* path.c, for the TCP leg: its candidate (the last resort), whether the call has a path,
 * and whether it is the TCP leg's. */
int path_add_tcp_candidate(struct bridge *br, const struct ip_endpoint *marker);
bool path_is_up(const struct bridge *br);
bool path_on_tcp(const struct bridge *br);
/* Whether our relay leg over UDP was answered lately (within PATH_MISSED_KEEPALIVES
 * keep-alive intervals): UDP reaches the relay, so the TCP leg has no reason to
 * connect. The relay leg says when it hears from the relay with path_relay_heard. */
bool path_has_udp_relay(const struct bridge *br);
void path_relay_heard(struct bridge *br, const struct ip_endpoint *relay);

#endif
