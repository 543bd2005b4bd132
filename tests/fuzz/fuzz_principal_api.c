/* libFuzzer target: the principal's API message handler (principal/api*.c) fed arbitrary
 * bytes as framed JSON, from a peer whose role and hello state the first byte chooses,
 * against a temporary directory seeded with LANs, a host and users. Whatever arrives,
 * every frame must get a reply, the handler must not crash or leak, and the directory
 * must keep its invariants (checked with SQLite's integrity and foreign-key checks at
 * exit). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "err.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_server server;
static char dir[64], path[96];
static unsigned replies;

static int64_t fixed_now(void)
{
	return 1700000000;
}

static void run_inline(struct api_server *s, struct api_verify *v)
{
	(void)s;
	api_verify_compute(v);
	api_verify_finish(v);
}

static void count_reply(struct api_peer *p, json_t *msg)
{
	(void)p;
	if (!json_is_object(msg) || !json_object_get(msg, "id"))
		abort();  /* every reply carries an id */
	replies++;
	json_decref(msg);
}

static void ignore_close(struct api_peer *p, int reason)
{
	(void)p;
	(void)reason;
}

static void release_nothing(struct api_peer *p)
{
	(void)p;
}

/* The directory must still be consistent after everything the fuzzer sent. */
static void check_integrity(void)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	bool ok = false;

	if (sqlite3_open(path, &raw) != SQLITE_OK)
		abort();
	if (sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	if (ok && sqlite3_prepare_v2(raw, "PRAGMA foreign_key_check", -1, &st, NULL) == SQLITE_OK)
		ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	sqlite3_close(raw);
	if (!ok)
		abort();
}

static void cleanup(void)
{
	char p[128];

	db_close(server.db);
	api_auth_free(&server);
	check_integrity();
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	rmdir(dir);
}

static void seed(void)
{
	struct ip_prefix a, b;
	struct ip_addr h;
	char err[256], hash[PASSWD_HASH_STRLEN];

	snprintf(dir, sizeof dir, "%s/insel-fuzz-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/principal.db", dir);
	if (db_open(path, &server.db, err, sizeof err))
		abort();
	atexit(cleanup);
	ip_prefix_parse("10.1.0.0/24", true, &a);
	ip_prefix_parse("10.2.0.0/24", true, &b);
	ip_addr_parse("10.2.0.20", &h);
	struct db_registration ra = {"gw-a", "aa", "0a", "lan-a", &a, 1, "198.18.0.1:7443", -1, false};
	struct db_registration rb = {"gw-b", "bb", "0b", "lan-b", &b, 1, "198.18.0.2:7443", -1, false};
	db_register(server.db, &ra, fixed_now());
	db_register(server.db, &rb, fixed_now());
	db_host_add(server.db, "printer", "lan-b", &h, fixed_now());
	passwd_hash("pw", PASSWD_MIN_ITERATIONS, hash, sizeof hash);
	db_user_add(server.db, "alice", "lan-a", hash, fixed_now());
	server.heartbeat_ms = 1000;
	server.run_verify = run_inline;
	server.now = fixed_now;
	if (api_auth_init(&server, PASSWD_MIN_ITERATIONS))
		abort();
	snprintf(server.name, sizeof server.name, "principal");
}

static int feed(void *ctx, json_t *msg, int err)
{
	unsigned before = replies;

	api_handle(ctx, msg, err);
	if (replies != before + 1)
		abort();  /* exactly one reply per frame */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_peer peer = {0};
	struct msg_reader r;

	if (!server.db)
		seed();
	if (size < 1)
		return 0;
	peer.srv = &server;
	peer.id.role = data[0] & 1 ? PKI_ROLE_OPERATOR : PKI_ROLE_SECONDARY;
	peer.hello_done = data[0] & 2;
	snprintf(peer.id.name, sizeof peer.id.name, "%s", data[0] & 4 ? "gw-b" : "gw-a");
	snprintf(peer.id.serial, sizeof peer.id.serial, "0a");
	snprintf(peer.id.fingerprint, sizeof peer.id.fingerprint, "aa");
	peer.send = count_reply;
	peer.close = ignore_close;
	peer.release = release_nothing;
	msg_reader_init(&r, 4096);
	msg_reader_feed(&r, data + 1, size - 1, feed, &peer);
	msg_reader_free(&r);
	return 0;
}
