/* Logging to stderr with levels. Under systemd (JOURNAL_STREAM set) lines carry the
 * syslog priority prefix "<N>" that journald understands and no timestamp; so do they
 * with INSEL_LOG_FORMAT=priority (an auxiliary's, read and logged by its secondary);
 * elsewhere an ISO-8601 UTC timestamp. Every line names the function that logged it. */
#ifndef INSEL_LOG_H
#define INSEL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* -v raises, -q lowers the level by one step from the current one. */
void log_more_verbose(void);
void log_less_verbose(void);

void log_write(enum log_level level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_write(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_write(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) \
	do { \
		if (log_get_level() >= LOG_LVL_DEBUG) \
			log_write(LOG_LVL_DEBUG, __func__, __VA_ARGS__); \
	} while (0)

#endif
