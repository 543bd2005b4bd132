/* The principal's event log (docs/events.md): one JSON object per line in a file beside
 * the directory (DB.events), appended by the daemon (calls answered and ended, gateways
 * up and down, failed logins) and by operator commands (revocations), read by
 * `insel-principal events [--follow] [--json]`.
 *
 *   {"at":1764679230,"time":"2026-12-02T12:40:30Z",
 *    "event":"call_ended","call":"3f2a...","reason":"hangup",...}
 *
 * Each line is written with one write() on a file opened O_APPEND, so lines from the
 * daemon and a command never interleave. The file is bounded: past EVENTS_MAX_BYTES the
 * daemon renames it to DB.events.1 (replacing the older one) and starts a new one.
 * Nothing secret is written: names, addresses, reasons and counts only. */
#ifndef INSEL_PRINCIPAL_EVENTS_H
#define INSEL_PRINCIPAL_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_MAX_BYTES (64LL * 1024 * 1024)
#define EVENTS_SUFFIX ".events"
/* A directory on PostgreSQL has no file to sit beside: its log is here unless --events
 * or [directory] events names another. */
#define EVENTS_DEFAULT_PG "/var/lib/insel/principal.events"

struct event_log {
	int fd;
	char path[4200];
	int64_t written;  /* bytes in the file, as far as this writer knows */
};

/* The log's file name: events when given, else DB.events for a directory file, else
 * EVENTS_DEFAULT_PG for a directory on PostgreSQL (db_path a connection string). */
void event_log_path(const char *db_path, const char *events, char *out, size_t outlen);
/* Opens (creating, 0640) that log. 0 or -errno. */
int event_log_open(struct event_log *log, const char *db_path, const char *events);
/* Appends {"at","time","event":kind, ...fields} (fields: an object, or NULL; its
 * reference is taken). 0 or -errno; a log that is not open takes nothing. */
int event_log_add(struct event_log *log, int64_t now, const char *kind, json_t *fields);
void event_log_close(struct event_log *log);

#endif
