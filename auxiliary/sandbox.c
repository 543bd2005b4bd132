/* The last step of the auxiliary's confinement (docs/security.md: dedicated user, no
 * new privileges, then a syscall allowlist): once its sockets and interface exist and it
 * runs as its call's own unprivileged uid, the process may only do what relaying needs —
 * read, write, send and receive on descriptors it has, wait for events, keep time,
 * manage memory, handle signals and exit. Opening files, creating sockets, executing
 * programs or tracing fail with EPERM, so a compromised call can reach nothing new.
 * Two calls are allowed for some arguments only, and any other argument kills the
 * process: ioctl for the requests libuv makes on descriptors it has (FIONBIO, FIOCLEX,
 * FIONCLEX: no TIOCSTI, no interface or routing changes), tgkill to itself (raise,
 * abort) and to no other process. common/sys/syscall_filter.h has the mechanism and the
 * INSEL_SECCOMP=off|log switches. */
#include <sys/ioctl.h>

#include "auxiliary.h"
#include "log.h"
#include "syscall_filter.h"

static const char *const aux_allowed[] = {
	/* I/O on descriptors already open */
	"read", "write", "readv", "writev", "close", "shutdown", "lseek", "fstat", "newfstatat",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"setsockopt", "getsockopt", "getsockname", "getpeername", "fcntl",
	/* the relay's TCP fallback (tcp_leg.c): its sockets are made and bound before
	 * confinement, but whether one connects is known only once UDP has failed. The
	 * address connect is given is a pointer seccomp cannot look at, so a compromised
	 * auxiliary could point those few sockets anywhere its gateway reaches, as it can
	 * already send its UDP anywhere with sendto; it can make no new socket. */
	"connect",
	/* a reliable channel's listener (stream.c), bound and listening before
	 * confinement, takes its party's connections: accept makes a socket, but only
	 * one a LAN host asked for on a port already ours. */
	"accept", "accept4",
	/* the event loop and time */
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* memory, futexes, randomness */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "getrandom",
	/* signals, identity, the end */
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "getpid",
	"gettid", "getppid", "sched_yield", "exit", "exit_group", "restart_syscall",
	NULL,
};

static const unsigned long aux_ioctls[] = {FIONBIO, FIOCLEX, FIONCLEX};

static const struct syscall_arg_rule aux_rules[] = {
	{"ioctl", 1, aux_ioctls, sizeof aux_ioctls / sizeof aux_ioctls[0]},
};

const struct syscall_policy aux_syscall_policy = {
	.who = "auxiliary",
	.allow = aux_allowed,
	.rules = aux_rules,
	.nrules = sizeof aux_rules / sizeof aux_rules[0],
	.signals_to_self_only = true,
	.bad_argument_kills = true,
};

int sandbox_enter(void)
{
	return syscall_filter_install(&aux_syscall_policy, syscall_filter_mode(NULL));
}
