/* Confinement of the relay, in the fixed order every insel child follows: at start, not
 * dumpable and SIGTERM when the parent dies; once the socket exists and before anything
 * is read, if root, become the configured unprivileged user for good (supplementary
 * groups, gid, uid, then prove root cannot be regained; a relay started as root with no
 * user refuses to run), forbid new privileges, then a syscall allowlist: I/O on the
 * descriptors it has, the event loop, time, memory, signals and exit. Opening files,
 * creating sockets, executing programs or tracing fail with EPERM; ioctl beyond what
 * libuv does on its descriptors, and a signal to any other process, kill it (SIGSYS).
 * common/sys/syscall_filter.h has the mechanism and INSEL_SECCOMP=off|log. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "syscall_filter.h"

static const char *const relay_allowed[] = {
	/* I/O on descriptors already open */
	"read", "write", "readv", "writev", "close", "shutdown", "fstat", "newfstatat",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"setsockopt", "getsockopt", "getsockname", "fcntl",
	/* the TCP fallback's listener (tcp.c): accept connections, see their source */
	"accept", "accept4", "getpeername",
	/* the event loop and time */
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* memory, futexes, randomness */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "getrandom",
	/* signals, identity, the end */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "getpid", "gettid",
	"getppid", "sched_yield", "exit", "exit_group", "restart_syscall",
	NULL,
};

static const unsigned long relay_ioctls[] = {FIONBIO, FIOCLEX, FIONCLEX};

static const struct syscall_arg_rule relay_rules[] = {
	{"ioctl", 1, relay_ioctls, sizeof relay_ioctls / sizeof relay_ioctls[0]},
};

static const struct syscall_policy relay_syscall_policy = {
	.who = "relay",
	.allow = relay_allowed,
	.rules = relay_rules,
	.nrules = sizeof relay_rules / sizeof relay_rules[0],
	.signals_to_self_only = true,
	.bad_argument_kills = true,
};

int relay_protect_process(void)
{
	if (prctl(PR_SET_DUMPABLE, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
		log_error("prctl: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int fail(const char *step, const char *user)
{
	int err = errno ? -errno : -EPERM;

	log_error("cannot drop privileges to '%s': %s: %s", user, step, strerror(-err));
	return err;
}

static int become(const char *user)
{
	const struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		errno = errno ? errno : ENOENT;
		return fail("no such user", user);
	}
	if (pw->pw_uid == 0) {
		errno = EPERM;
		return fail("the user is root", user);
	}
	if (setgroups(0, NULL) != 0)
		return fail("setgroups", user);
	if (setgid(pw->pw_gid) != 0)
		return fail("setgid", user);
	if (setuid(pw->pw_uid) != 0)
		return fail("setuid", user);
	if (setuid(0) != -1) {  /* a saved id of 0 would let it back */
		errno = EPERM;
		return fail("root could be regained", user);
	}
	log_info("running as user '%s' (uid %u)", user, (unsigned)pw->pw_uid);
	return 0;
}

int relay_confine(const char *user)
{
	int rc = 0;

	if (geteuid() == 0 && !user) {
		errno = EPERM;
		return fail("started as root without --user", "(none)");
	}
	if (geteuid() == 0)
		rc = become(user);
	else if (user)
		log_warn("asked to become '%s', but not root: staying uid %u", user,
			 (unsigned)geteuid());
	if (rc)
		return rc;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail("prctl(PR_SET_NO_NEW_PRIVS)", user ? user : "(current)");
	/* Changing credentials resets both of these: set them again. */
	if (relay_protect_process() != 0)
		return -EPERM;
	return syscall_filter_install(&relay_syscall_policy, syscall_filter_mode(NULL));
}
