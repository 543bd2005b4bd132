/* The event log's writer (events.h). */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

void event_log_path(const char *db_path, const char *events, char *out, size_t outlen)
{
	if (events)
		snprintf(out, outlen, "%s", events);
	else if (db_target_is_dsn(db_path))
		snprintf(out, outlen, "%s", EVENTS_DEFAULT_PG);
	else
		snprintf(out, outlen, "%s%s", db_path, EVENTS_SUFFIX);
}

int event_log_open(struct event_log *log, const char *db_path, const char *events)
{
	struct stat st;

	event_log_path(db_path, events, log->path, sizeof log->path);
	log->fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log->fd < 0)
		return -errno;
	log->written = fstat(log->fd, &st) == 0 ? (int64_t)st.st_size : 0;
	return 0;
}

void event_log_close(struct event_log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
}

/* Past the bound: the file becomes DB.events.1 and a new one starts. */
static void rotate(struct event_log *log)
{
	char old[sizeof log->path + 4];
	int fd;

	snprintf(old, sizeof old, "%s.1", log->path);
	if (rename(log->path, old) != 0)
		return;
	fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	close(log->fd);
	log->fd = fd;
	log->written = 0;
}

int event_log_add(struct event_log *log, int64_t now, const char *kind, json_t *fields)
{
	json_t *ev = json_object();
	char stamp[32], *line;
	struct tm tm;
	time_t t = (time_t)now;
	size_t len;
	ssize_t n;

	if (!log || log->fd < 0) {
		json_decref(fields);
		json_decref(ev);
		return 0;
	}
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(ev, "at", json_integer(now));
	json_object_set_new(ev, "time", json_string(stamp));
	json_object_set_new(ev, "event", json_string(kind));
	if (json_is_object(fields))
		json_object_update_missing(ev, fields);
	json_decref(fields);
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len++] = '\n';  /* over json_dumps' NUL: the line goes out in one write */
	n = write(log->fd, line, len);
	free(line);
	if (n != (ssize_t)len) {
		log_warn("cannot append to the event log %s: %s", log->path,
			 n < 0 ? strerror(errno) : "short write");
		return n < 0 ? -errno : -EIO;
	}
	log->written += n;
	if (log->written > EVENTS_MAX_BYTES)
		rotate(log);
	return 0;
}
