/* Builds and loads a role's syscall allowlist (see syscall_filter.h) with libseccomp. */
#include "syscall_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#ifdef UNDER_SANITIZER
/* What AddressSanitizer's runtime does after start-up: LeakSanitizer's check at exit
 * runs a tracer (clone without CLONE_THREAD) that attaches to every thread (ptrace,
 * wait4) after making the process dumpable and its tracer allowed (prctl), and reads
 * /proc/self/{maps,task}; reports look at stderr (ioctl TCGETS, below). Production
 * builds have none of these. */
static const char *const sanitizer_allow[] = {
	"clone", "ptrace", "wait4", "prctl", "open", "openat", "getdents", "getdents64",
	"readlink", "readlinkat", "sched_getaffinity", "sched_yield", "sigaltstack",
	"getrlimit", "prlimit64", "mincore", "exit", NULL,
};
#endif

const char *const syscall_filter_daemon_base[] = {
	/* descriptors and files */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"close", "close_range", "lseek", "fstat", "newfstatat", "stat", "lstat", "statx",
	"fstatfs", "statfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"open", "openat", "getdents64", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "ftruncate", "fallocate", "fsync", "fdatasync",
	"fcntl", "flock", "dup", "dup2", "dup3", "pipe", "pipe2", "getcwd", "umask", "fchmod",
	"fchown",
	/* sockets already created, accepted or connected (socket() itself is per role) */
	"socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
	"getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	/* the event loop and time */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6", "eventfd", "eventfd2",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	"time",
	/* memory and threads (clone is per role) */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "set_robust_list",
	"get_robust_list", "rseq", "set_tid_address", "sched_yield", "sched_getaffinity",
	"membarrier",
	/* signals, identity, limits, randomness, the end */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "getpid", "getppid",
	"getpgrp", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
	"getresgid", "uname", "sysinfo", "getrlimit", "prlimit64", "getrusage", "getrandom",
	"exit", "exit_group", "restart_syscall",
	NULL,
};

const unsigned long syscall_filter_daemon_ioctls[SYSCALL_FILTER_DAEMON_NIOCTLS] = {
	FIONBIO, FIOCLEX, FIONCLEX, TCGETS,
};

enum syscall_filter_mode syscall_filter_mode(const char *configured)
{
	const char *env = getenv("INSEL_SECCOMP");
	const char *mode = env && *env ? env : configured;

	if (mode && strcmp(mode, "off") == 0)
		return SYSCALL_FILTER_OFF;
	if (mode && strcmp(mode, "log") == 0)
		return SYSCALL_FILTER_LOG;
	return SYSCALL_FILTER_ENFORCE;
}

#define NEW_NAMESPACES (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
			CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static struct scmp_arg_cmp compare(unsigned arg, enum scmp_compare op, scmp_datum_t a,
				   scmp_datum_t b)
{
	struct scmp_arg_cmp c = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};

	return c;
}

/* Not every architecture has every call (newfstatat, epoll_wait...): skip those. */
static int allow_names(scmp_filter_ctx ctx, const char *const *names)
{
	int rc = 0;

	for (size_t i = 0; names && names[i] && rc == 0; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	return rc;
}

#ifdef UNDER_SANITIZER
static bool lists(const struct syscall_arg_rule *r, unsigned long value)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (r->values[i] == value)
			return true;
	return false;
}
#endif

/* Each listed value allowed; any other value of that argument takes the bad action.
 * (libseccomp cannot AND several "!=" on one argument, so the catch-all is ">= 0",
 * true of every value, which the exact matches take precedence over.) */
static int add_arg_rule(scmp_filter_ctx ctx, const struct syscall_arg_rule *r,
			uint32_t bad_action)
{
	int nr = seccomp_syscall_resolve_name(r->syscall);
	int rc = 0;

	if (nr == __NR_SCMP_ERROR || r->arg > 5)
		return nr == __NR_SCMP_ERROR ? 0 : -EINVAL;
	for (size_t i = 0; i < r->nvalues && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      compare(r->arg, SCMP_CMP_EQ, r->values[i], 0));
#ifdef UNDER_SANITIZER
	if (rc == 0 && nr == SCMP_SYS(ioctl) && !lists(r, TCGETS))  /* stderr a terminal? */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      compare(1, SCMP_CMP_EQ, TCGETS, 0));
#endif
	/* Where a bad value fails like an unlisted call, the default action covers it. */
	if (rc || bad_action == SCMP_ACT_LOG || bad_action == SCMP_ACT_ERRNO(EPERM))
		return rc;
	return seccomp_rule_add(ctx, bad_action, nr, 1, compare(r->arg, SCMP_CMP_GE, 0, 0));
}

#define SOCKET_TYPE_MASK 0xf  /* the type without SOCK_NONBLOCK and SOCK_CLOEXEC */

static int add_socket_kinds(scmp_filter_ctx ctx, const struct syscall_policy *p)
{
	int rc = 0;

	for (size_t i = 0; i < p->nsockets && rc == 0; i++) {
		const struct syscall_socket_kind *k = &p->sockets[i];
		struct scmp_arg_cmp c[3] = {
			compare(0, SCMP_CMP_EQ, (scmp_datum_t)k->family, 0),
			compare(1, SCMP_CMP_MASKED_EQ, SOCKET_TYPE_MASK, (scmp_datum_t)k->type),
			compare(2, SCMP_CMP_EQ, (scmp_datum_t)k->protocol, 0),
		};

		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket),
					    k->protocol < 0 ? 2 : 3, c);
	}
	return rc;
}

static int add_special_rules(scmp_filter_ctx ctx, const struct syscall_policy *p,
			     uint32_t bad_action)
{
	int rc = 0;

	if (p->signals_to_self_only) {
		unsigned long self = (unsigned long)getpid();
		const struct syscall_arg_rule tgkill = {"tgkill", 0, &self, 1};

		rc = add_arg_rule(ctx, &tgkill, bad_action);
	}
	if (rc == 0 && p->threads_only) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      compare(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
		if (rc == 0 && bad_action == SCMP_ACT_KILL_PROCESS)
			rc = seccomp_rule_add(ctx, bad_action, SCMP_SYS(clone), 1,
					      compare(0, SCMP_CMP_GE, 0, 0));
		rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	}
	if (rc == 0 && p->no_new_namespaces) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      compare(0, SCMP_CMP_MASKED_EQ, NEW_NAMESPACES, 0));
		rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	}
	return rc;
}

static int build(scmp_filter_ctx ctx, const struct syscall_policy *p, uint32_t bad_action)
{
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);  /* every thread */

	/* The kernel logs (audit, dmesg) every call refused, not only those that kill. */
	rc = rc ? rc : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);

	rc = rc ? rc : allow_names(ctx, p->allow);
	rc = rc ? rc : allow_names(ctx, p->allow_more);
	for (size_t i = 0; i < p->nrules && rc == 0; i++)
		rc = add_arg_rule(ctx, &p->rules[i], bad_action);
	rc = rc ? rc : add_socket_kinds(ctx, p);
	rc = rc ? rc : add_special_rules(ctx, p, bad_action);
#ifdef UNDER_SANITIZER
	rc = rc ? rc : allow_names(ctx, sanitizer_allow);
#endif
	return rc;
}

int syscall_filter_install(const struct syscall_policy *p, enum syscall_filter_mode mode)
{
	uint32_t bad_action = mode == SYSCALL_FILTER_LOG ? SCMP_ACT_LOG
			      : p->bad_argument_kills ? SCMP_ACT_KILL_PROCESS
						      : SCMP_ACT_ERRNO(EPERM);
	scmp_filter_ctx ctx;
	int rc;

	if (mode == SYSCALL_FILTER_OFF) {
		log_warn("%s: running without a syscall allowlist (seccomp off)", p->who);
		return 0;
	}
	ctx = seccomp_init(mode == SYSCALL_FILTER_LOG ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	rc = build(ctx, p, bad_action);
	rc = rc ? rc : seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		log_error("%s: cannot install the syscall allowlist: %s", p->who, strerror(-rc));
	else if (mode == SYSCALL_FILTER_LOG)
		log_warn("%s: syscall allowlist in log mode: nothing is refused", p->who);
	else
		log_debug("%s: syscall allowlist installed", p->who);
	return rc;
}
