/* Syscall allowlists (seccomp-bpf, built with libseccomp) for insel's processes. Each role
 * declares its policy as data — the auxiliary once it is confined, the principal and the
 * secondary once their sockets exist — and installs it with syscall_filter_install().
 *
 * What a policy does not name fails with EPERM (a library that probes for a call sees it
 * refused and carries on). What a policy names with a list of argument values is allowed
 * for those values only; any other value fails the same way, or, for a policy that says
 * so (the auxiliary's: small, and every path of it tested), kills the whole process at
 * once (SIGSYS), as a compromise. The kernel logs each refusal (audit, dmesg). Sanitizer
 * builds add what their runtimes need (LeakSanitizer's tracer: clone, ptrace, /proc
 * reads) to every policy; docs/security.md lists both.
 *
 * INSEL_SECCOMP=off in the environment installs nothing; INSEL_SECCOMP=log installs a
 * filter that allows everything but has the kernel log (audit, dmesg) each call the
 * policy would refuse or kill, for finding what a new code path needs. */
#ifndef INSEL_SYSCALL_FILTER_H
#define INSEL_SYSCALL_FILTER_H

#include <stdbool.h>
#include <stddef.h>

enum syscall_filter_mode {
	SYSCALL_FILTER_ENFORCE,
	SYSCALL_FILTER_LOG,  /* allow all, log what would be refused */
	SYSCALL_FILTER_OFF,
};

/* One syscall allowed only when one of its arguments takes one of the listed values. */
struct syscall_arg_rule {
	const char *syscall;
	unsigned arg;                 /* 0 to 5 */
	const unsigned long *values;
	size_t nvalues;
};

/* A kind of socket socket() may create: family, type (flags such as SOCK_CLOEXEC
 * aside) and, unless -1, protocol. */
struct syscall_socket_kind {
	int family, type, protocol;
};

struct syscall_policy {
	const char *who;                      /* for logs: "auxiliary", "secondary"... */
	const char *const *allow;             /* any arguments; NULL-terminated */
	const char *const *allow_more;        /* a second such list, or NULL */
	const struct syscall_arg_rule *rules; /* argument-checked */
	size_t nrules;
	const struct syscall_socket_kind *sockets;  /* socket() for these only */
	size_t nsockets;
	/* tgkill (raise, abort) only to this process itself. */
	bool signals_to_self_only;
	/* clone (a thread or a new process) never into new namespaces; clone3 as above. */
	bool no_new_namespaces;
	/* An argument outside its list kills the process (else: EPERM). */
	bool bad_argument_kills;
	/* clone only with CLONE_THREAD (threads, never a new process); clone3, whose flags
	 * a filter cannot read, answers ENOSYS so that the C library falls back to clone. */
	bool threads_only;
};

/* What every daemon needs after start-up (the principal and the secondary add theirs):
 * files (SQLite, certificates), sockets already created and accepted ones, the event
 * loop, time, memory, threads' futexes, signals, identity queries, randomness, exit. */
extern const char *const syscall_filter_daemon_base[];
/* The ioctl requests the event loop and the C library make: FIONBIO, FIOCLEX, FIONCLEX,
 * and TCGETS (isatty, before buffering a stream). */
#define SYSCALL_FILTER_DAEMON_NIOCTLS 4
extern const unsigned long syscall_filter_daemon_ioctls[SYSCALL_FILTER_DAEMON_NIOCTLS];

/* The mode asked for by INSEL_SECCOMP ("off", "log") or else by the configuration's
 * setting ("on", "off", "log"; NULL is "on"). */
enum syscall_filter_mode syscall_filter_mode(const char *configured);
/* Installs the policy for this process and every child it will have (and sets
 * PR_SET_NO_NEW_PRIVS, which an unprivileged process needs for it). 0 or -errno. */
int syscall_filter_install(const struct syscall_policy *p, enum syscall_filter_mode mode);

#endif
