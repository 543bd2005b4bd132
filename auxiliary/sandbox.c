/* The last step of the auxiliary's confinement (STYLE.md, "Processes": dedicated user, no
 * new privileges, then a syscall allowlist): once its sockets and interface exist and it
 * runs as the unprivileged user, the process may only do what relaying needs — read,
 * write, send and receive on descriptors it has, wait for events, keep time, manage
 * memory, handle signals and exit. Opening files, creating sockets, executing programs or
 * tracing are refused with EPERM, so a compromised call can reach nothing new.
 *
 * Sanitizer builds skip it: their runtime (LeakSanitizer's tracer thread, report files)
 * needs exactly what the list refuses. INSEL_SECCOMP=off skips it, INSEL_SECCOMP=log only
 * logs what it would refuse. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "auxiliary.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#ifndef UNDER_SANITIZER
static const char *const allowed[] = {
	/* I/O on descriptors already open */
	"read", "write", "readv", "writev", "close", "shutdown", "lseek", "fstat", "newfstatat",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "ioctl", "fcntl",
	/* the event loop and time */
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* memory, threads' futexes, randomness */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "getrandom",
	/* signals, identity, the end */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "tgkill", "getpid",
	"gettid", "getppid", "sched_yield", "exit", "exit_group", "restart_syscall",
};
#endif

#ifdef UNDER_SANITIZER
int sandbox_enter(void)
{
	log_debug("sanitizer build: no syscall allowlist");
	return 0;
}
#else
int sandbox_enter(void)
{
	const char *env = getenv("INSEL_SECCOMP");
	scmp_filter_ctx ctx;
	int rc = 0;

	if (env && strcmp(env, "off") == 0) {
		log_warn("INSEL_SECCOMP=off: running without a syscall allowlist");
		return 0;
	}
	/* INSEL_SECCOMP=log allows everything but has the kernel log what the list would
	 * refuse (dmesg / audit), for finding what a new code path needs. */
	ctx = seccomp_init(env && strcmp(env, "log") == 0 ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && rc == 0; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr != __NR_SCMP_ERROR)  /* not every architecture has every call */
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		log_error("cannot install the syscall allowlist: %s", strerror(-rc));
	return rc;
}
#endif
