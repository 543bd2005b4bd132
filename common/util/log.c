/* Level-filtered logging to stderr, journald-aware (see log.h). */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LVL_INFO;
static const char *program = "insel";
static int to_journal;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_priority[] = {3, 4, 6, 7};

void log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');
	const char *format = getenv("INSEL_LOG_FORMAT");

	program = slash ? slash + 1 : progname;
	to_journal = getenv("JOURNAL_STREAM") != NULL ||
		     (format && strcmp(format, "priority") == 0);
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_more_verbose(void)
{
	if (current_level < LOG_LVL_DEBUG)
		current_level++;
}

void log_less_verbose(void)
{
	if (current_level > LOG_LVL_ERROR)
		current_level--;
}

void log_write(enum log_level level, const char *func, const char *fmt, ...)
{
	char line[1024];
	int n = 0;
	va_list ap;

	if (level > current_level)
		return;
	if (to_journal) {
		n = snprintf(line, sizeof line, "<%d>", syslog_priority[level]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s[%d] ",
			      ts.tv_nsec / 1000000, program, (int)getpid());
	}
	n += snprintf(line + n, sizeof line - (size_t)n, "%s: %s: ", level_names[level], func);
	if ((size_t)n < sizeof line) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
		va_end(ap);
	}
	/* One write per line so that lines from several processes never interleave. */
	size_t len = strnlen(line, sizeof line - 2);
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}
