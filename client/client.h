/* Private to the `insel` client: its connection to the LAN's secondary, the sentences for
 * protocol error codes, and the subcommands. */
#ifndef INSEL_CLIENT_H
#define INSEL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "addr.h"
#include "client_call.h"
#include "opts.h"
#include "rpc.h"
#include "stream_attach.h"

struct msg_stream;
struct tls_conn;
struct tls_creds;

/* Where to reach the secondary and who we are; from options, environment
 * (INSEL_SECONDARY, INSEL_CA, INSEL_USER, INSEL_PASSWORD, INSEL_PASSWORD_FILE,
 * INSEL_SOURCE) or /etc/insel/client.conf, in that order of precedence. */
struct client_options {
	const char *secondary;  /* ADDR:PORT for TLS, or a unix socket path (contains '/') */
	const char *ca;         /* the organisation CA, for TLS */
	const char *user;
	const char *password_file;
	/* The address to connect from, on a host with several: the gateway takes it as
	 * this host's, and a call's datagrams come back to it. NULL: the kernel's choice. */
	const char *source;
	struct ip_addr source_addr;
	bool json;              /* --json: machine-readable output */
	char password[256];
};

/* A subcommand's arguments (opts.h): its own options, the options every subcommand shares
 * (--secondary, --ca, --user, --password-file, --source, --json) into co, and up to
 * max_pos positional arguments. CLIENT_ARGS_GO_ON, or the exit code to return: EXIT_OK
 * after --help (usage printed), EXIT_USAGE after saying what is wrong. */
#define CLIENT_ARGS_GO_ON (-1)
int client_parse_args(const char *prog, const char *usage, int argc, char **argv,
		      struct client_options *co, const struct opt *own, size_t nown,
		      const char **pos, size_t max_pos, size_t *npos);
int client_finish_options(struct client_options *o);

/* A logged-in session with the secondary over TLS or a unix socket. */
struct client_session {
	uv_loop_t loop;
	struct client_options *opts;
	struct msg_stream *stream;   /* unix socket transport, or */
	struct tls_conn *tls;        /* TLS transport */
	struct tls_creds *creds;
	struct rpc rpc;
	bool ready, closed;
	bool done;                   /* the command has what it waited for */
	int error;
	/* Requests initiated by the secondary (e.g. "incoming" while listening). */
	void (*on_request)(struct client_session *s, json_t *msg);
	void *data;
};

/* Connects, says hello and logs in; on failure prints the reason and returns an exit code. */
int session_open(struct client_session *s, struct client_options *o);
/* Sends a request and waits for its reply; *reply is a new reference (or NULL on a
 * transport error, with the return value saying why). */
int session_request(struct client_session *s, json_t *req, unsigned timeout_ms,
		    json_t **reply);
/* session_request for one step of a command: 0 with *reply, an ok reply (the caller's to
 * free); otherwise *reply is NULL and the exit status returned, the user having been
 * told what went wrong in STEP ("placing the call"). */
int session_ask(struct client_session *s, const char *step, json_t *req,
		unsigned timeout_ms, json_t **reply);
int session_send(struct client_session *s, json_t *msg);
/* Runs until the session closes or client_session.closed is set. */
void session_run(struct client_session *s);
void session_close(struct client_session *s);

/* Prints a failed reply as a sentence telling the user what to do; returns an exit code. */
int report_error_reply(const char *what, const json_t *reply);
/* The step "what" of the login: its codes have sentences of their own ("busy"). */
#define LOGGING_IN "logging in"
int report_transport_error(const char *what, int err);
const char *error_advice(const char *code);
/* A call_ended notice: "call ID ended: REASON", and the reason's sentence if it has one. */
void print_call_ended(const struct client_call_ended *ended);
/* A reply or notice from the gateway that does not decode; returns an exit code. */
int report_unreadable(const char *what, const char *why);

void print_call(const struct client_call *call);
void print_json(const json_t *j);

/* A subcommand that sends one request and prints its reply. */
struct simple_request {
	const char *op;         /* request op, also the subcommand's name */
	const char *what;       /* for error messages: "listing calls" */
	const char *usage;
	const char *arg_name;   /* a required positional argument, or NULL */
	json_t *(*request)(const char *arg);  /* builds the request; NULL: {"op":op} */
	/* Prints the reply; returns an exit code. */
	int (*print)(const json_t *reply, const char *arg);
};
int simple_request_main(int argc, char **argv, const struct simple_request *r);

/* conn.c: reliable connections (docs/reliable.md). Where one is attached: its gateway's
 * LAN endpoint and token, from the call object's reliable channel (channel 0). */
#define CONN_NAME_MAX 64
struct conn_target {
	uint64_t call_id;
	struct ip_endpoint at;
	enum negotiate_mode mode;
	uint8_t token[STREAM_TOKEN_LEN];
};
int conn_target_of_call(const struct client_call *call, struct conn_target *t);
/* Saved names: INSEL_CONN_DIR, $XDG_RUNTIME_DIR/insel-conns or ~/.insel/conns, one
 * file (mode 0600) per name of [A-Za-z0-9._-], at most CONN_NAME_MAX characters. */
int conn_dir(char *out, size_t n);
int conn_save(const char *name, const struct conn_target *t, const char *peer);
int conn_load(const char *name, struct conn_target *t, char *peer, size_t peerlen);
int conn_forget(const char *name);
/* Connects (from source, if given) and says the hello: STREAM_ATTACH_OK with *fd_out,
 * or the status (enum stream_status) with *why. */
int conn_attach(const struct conn_target *t, const struct ip_addr *source,
		enum stream_verb verb, int *fd_out, const char **why);
/* The engine's counters (a status attachment), or NULL. */
json_t *conn_query(const struct conn_target *t, const struct ip_addr *source);
void conn_print_stats(FILE *out, const json_t *st);
int conn_read_full(int fd, void *buf, size_t n);   /* bytes read (short at the end) */
int conn_write_full(int fd, const void *buf, size_t n);
struct progress {
	uint64_t total, done;
	double t0, last;
	bool show;                  /* a bar on stderr (a terminal) */
};
void progress_begin(struct progress *p, uint64_t total, bool show);
void progress_add(struct progress *p, uint64_t n);
double progress_end(struct progress *p);  /* seconds since the beginning */
struct sha256 {
	void *hd;
};
int sha256_begin(struct sha256 *h);
void sha256_add(struct sha256 *h, const void *data, size_t n);
void sha256_end(struct sha256 *h, uint8_t out[STREAM_DIGEST_LEN]);
void sha256_hex(const uint8_t d[STREAM_DIGEST_LEN], char out[2 * STREAM_DIGEST_LEN + 1]);
/* Copies from -> to up to limit bytes or the end of from (hashing and counting);
 * 0 or a negative errno. */
int conn_copy(int from, int to, struct sha256 *h, struct progress *p, uint64_t limit,
	      uint64_t *copied);
/* The same from a regular file to a socket, with one copy fewer: each chunk is read to be
 * hashed and sent from the page cache (sendfile). A file changed during the transfer
 * may send other bytes than were hashed: the receiver's digest then differs. */
int conn_copy_file(int in, int to, struct sha256 *h, struct progress *p, uint64_t limit,
		   uint64_t *copied);
/* The receiving end of insel send-file on an attached duplex connection: the header,
 * the file into dir, the digest back; prints what it received. An exit code. */
int conn_receive_file(int fd, const char *dir, const struct conn_target *t,
		      const struct ip_addr *source);
/* Places a reliable call to peer (reply: the call object); an exit code. */
int conn_place(struct client_session *s, const char *peer, enum negotiate_mode mode,
	       struct client_call *call);

int conn_status_main(const char *name, const struct client_options *o);
int open_main(int argc, char **argv);
int send_main(int argc, char **argv);
int recv_main(int argc, char **argv);
int close_main(int argc, char **argv);
int abort_main(int argc, char **argv);
int send_file_main(int argc, char **argv);
int call_main(int argc, char **argv);
int listen_main(int argc, char **argv);
int calls_main(int argc, char **argv);
int hangup_main(int argc, char **argv);
int status_main(int argc, char **argv);
int room_main(int argc, char **argv);
int rooms_main(int argc, char **argv);

#endif
