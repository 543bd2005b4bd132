/* The secondary daemon's syscall allowlist, installed by `run` once its listeners exist
 * (common/sys/syscall_filter.h has the mechanism). A filter is inherited by every process
 * the daemon starts, so this one also bounds what an auxiliary may do before it confines
 * itself further (auxiliary/sandbox.c), and what any other helper process of the
 * secondary may do: keep the lists below in step with what those processes need.
 *
 * Beyond what every daemon needs: starting auxiliaries (clone without new namespaces,
 * execve, setsid, waiting and signalling them; their start-up changes uid and gid, sets
 * prctl options and loads their own filter), routing rules and interfaces over netlink,
 * TUN set-up, and the ioctls of that set-up. Nothing here mounts, traces, loads modules,
 * reboots or creates sockets other than unix, Internet (stream and datagram) and routing
 * netlink ones. A call or an argument outside the lists fails with EPERM (a gateway is
 * not killed for a path nobody foresaw), and the kernel logs it. */
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "secondary.h"
#include "syscall_filter.h"

/* Allowed with any arguments, on top of syscall_filter_daemon_base. */
static const char *const secondary_allowed[] = {
	/* auxiliaries: start (fork; clone itself is below), run, reap and signal */
	"fork", "vfork", "execve", "wait4", "waitid", "kill", "tgkill",
	"setsid", "setpgid", "getpgid", "getsid",
	/* an auxiliary's start-up before its own filter: the dynamic loader, then its drop
	 * to its call's uid and the filter it loads itself */
	"arch_prctl", "setgroups", "setgid", "setuid", "setresgid", "setresuid", "setregid",
	"setreuid", "seccomp",
	NULL,
};

/* Stream and datagram sockets of the unix and Internet families and routing netlink
 * (routes, rules, interfaces; not netfilter). Three more kinds, because the filter is
 * inherited by the auxiliaries the secondary starts and a room's leg needs them at bind
 * (auxiliary/room_cast.c, docs/rooms.md "Broadcast and multicast"): an IPv4 packet
 * socket (SOCK_DGRAM, ETH_P_IP: IP packets without their Ethernet header, to capture
 * the members' broadcast and multicast), a raw IPv4 socket that only sends
 * (IPPROTO_RAW: the peer members' multicast onto the LAN), and an IPv6 packet socket
 * (SOCK_DGRAM, ETH_P_IPV6: the members' IPv6 multicast with the link-layer address that
 * tells whose it is, and the peer members' sent onto the LAN through it; no raw IPv6
 * socket is needed). The routing netlink socket an auxiliary keeps to read the
 * neighbour table is of the kind above. The auxiliary's own filter, once it has bound,
 * allows no socket at all. */
/* htons(ETH_P_IP) and htons(ETH_P_IPV6) as constants: the protocols a packet socket is
 * asked for with. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ETH_P_NET(p) ((((p) & 0xff) << 8) | ((p) >> 8))
#else
#define ETH_P_NET(p) (p)
#endif
#define ETH_P_IP_NET ETH_P_NET(ETH_P_IP)
#define ETH_P_IPV6_NET ETH_P_NET(ETH_P_IPV6)
static const struct syscall_socket_kind secondary_sockets[] = {
	{AF_UNIX, SOCK_STREAM, -1}, {AF_UNIX, SOCK_DGRAM, -1}, {AF_UNIX, SOCK_SEQPACKET, -1},
	{AF_INET, SOCK_STREAM, -1}, {AF_INET, SOCK_DGRAM, -1},
	{AF_INET6, SOCK_STREAM, -1}, {AF_INET6, SOCK_DGRAM, -1},
	{AF_NETLINK, SOCK_RAW, NETLINK_ROUTE}, {AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE},
	{AF_PACKET, SOCK_DGRAM, ETH_P_IP_NET}, {AF_PACKET, SOCK_DGRAM, ETH_P_IPV6_NET},
	{AF_INET, SOCK_RAW, IPPROTO_RAW},
};

static const unsigned long secondary_ioctls[] = {
	FIONBIO, FIOCLEX, FIONCLEX, TCGETS,  /* = syscall_filter_daemon_ioctls */
	TUNSETIFF, TUNSETOFFLOAD,            /* an auxiliary creating its interface */
	SIOCGIFINDEX, SIOCGIFNAME,           /* if_nametoindex, if_indextoname */
};

static const unsigned long secondary_prctls[] = {
	PR_SET_DUMPABLE, PR_GET_DUMPABLE, PR_SET_PDEATHSIG, PR_GET_PDEATHSIG,
	PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_GET_SECCOMP,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct syscall_arg_rule secondary_rules[] = {
	{"ioctl", 1, secondary_ioctls, COUNT(secondary_ioctls)},
	{"prctl", 0, secondary_prctls, COUNT(secondary_prctls)},
};

const struct syscall_policy secondary_syscall_policy = {
	.who = "secondary",
	.allow = syscall_filter_daemon_base,
	.allow_more = secondary_allowed,
	.rules = secondary_rules,
	.nrules = COUNT(secondary_rules),
	.sockets = secondary_sockets,
	.nsockets = COUNT(secondary_sockets),
	.no_new_namespaces = true,  /* clone for threads and auxiliaries, in our namespaces */
};

int secondary_sandbox_enter(const struct secondary_config *cfg)
{
	return syscall_filter_install(&secondary_syscall_policy,
				      syscall_filter_mode(cfg->seccomp));
}
