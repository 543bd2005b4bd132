/* The principal daemon's syscall allowlist, installed by `serve` once its listener and
 * port file exist (common/sys/syscall_filter.h has the mechanism). Beyond what every daemon
 * needs (the directory's SQLite files, TLS, the event loop): threads for the password
 * checks (clone with CLONE_THREAD only: never a new process, never a program started),
 * stream and datagram sockets of the Internet and unix families only (no raw socket),
 * the event loop's ioctls only, signals only to itself. Nothing here mounts, traces,
 * loads modules or changes identity. A call or an argument outside the lists fails with
 * EPERM, and the kernel logs it. */
#include <sys/socket.h>

#include "serve.h"
#include "syscall_filter.h"

/* Stream and datagram sockets of the unix and Internet families: no raw ones. */
static const struct syscall_socket_kind principal_sockets[] = {
	{AF_UNIX, SOCK_STREAM, -1}, {AF_UNIX, SOCK_DGRAM, -1},
	{AF_INET, SOCK_STREAM, -1}, {AF_INET, SOCK_DGRAM, -1},
	{AF_INET6, SOCK_STREAM, -1}, {AF_INET6, SOCK_DGRAM, -1},
};

static const struct syscall_arg_rule principal_rules[] = {
	{"ioctl", 1, syscall_filter_daemon_ioctls, SYSCALL_FILTER_DAEMON_NIOCTLS},
};

const struct syscall_policy principal_syscall_policy = {
	.who = "principal",
	.allow = syscall_filter_daemon_base,
	.rules = principal_rules,
	.nrules = sizeof principal_rules / sizeof principal_rules[0],
	.sockets = principal_sockets,
	.nsockets = sizeof principal_sockets / sizeof principal_sockets[0],
	.signals_to_self_only = true,
	.threads_only = true,
};

int principal_sandbox_enter(const char *mode)
{
	return syscall_filter_install(&principal_syscall_policy, syscall_filter_mode(mode));
}
