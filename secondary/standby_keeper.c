/* The LAN address keeper (standby_keeper.h). The daemon speaks to it in single bytes:
 * 'T' take the address, 'R' release it; the keeper answers each with one byte, 0 or the
 * errno. End-of-file means the daemon is gone: release, resign, exit. The keeper reads
 * nothing from the network and never parses anything but those bytes. */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "standby_codec.h"
#include "standby_keeper.h"

#define KEEPER_FD 3
#define GARP_COUNT 2           /* a request and a reply form, the two hosts heed */
#define KEEPER_REAP_MS 2000

/* ---- in the keeper ---- */

static int interface_mac(int ifindex, uint8_t mac[ETH_ALEN])
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0 || !if_indextoname((unsigned)ifindex, ifr.ifr_name))
		rc = -errno;
	else if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0)
		rc = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Gratuitous ARP for the address, so that hosts' caches point at this gateway now. */
static void announce(const struct standby_keeper_config *cfg)
{
	struct ether_arp arp = {0};
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				 .sll_ifindex = cfg->ifindex, .sll_halen = ETH_ALEN};
	uint8_t mac[ETH_ALEN];
	int fd;

	if (cfg->address.family != AF_INET || interface_mac(cfg->ifindex, mac) != 0)
		return;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0) {
		log_warn("standby: no gratuitous ARP: %s", strerror(errno));
		return;
	}
	memset(to.sll_addr, 0xff, ETH_ALEN);
	arp.arp_hrd = htons(ARPHRD_ETHER);
	arp.arp_pro = htons(ETH_P_IP);
	arp.arp_hln = ETH_ALEN;
	arp.arp_pln = 4;
	memcpy(arp.arp_sha, mac, ETH_ALEN);
	memcpy(arp.arp_spa, cfg->address.bytes, 4);
	memcpy(arp.arp_tpa, cfg->address.bytes, 4);
	for (int i = 0; i < GARP_COUNT; i++) {
		arp.arp_op = htons(i == 0 ? ARPOP_REQUEST : ARPOP_REPLY);
		if (i == 1)
			memset(arp.arp_tha, 0xff, ETH_ALEN);
		if (sendto(fd, &arp, sizeof arp, 0, (struct sockaddr *)&to, sizeof to) < 0)
			log_warn("standby: gratuitous ARP: %s", strerror(errno));
	}
	close(fd);
}

/* Tells the partner to take over now (one advertisement with role "resigning"). */
static void resign(const struct standby_keeper_config *cfg)
{
	struct standby_advert a = {cfg->priority, STANDBY_ROLE_RESIGNING};
	struct sockaddr_storage from, to;
	uint8_t wire[STANDBY_ADVERT_LEN];
	socklen_t fromlen = ip_endpoint_to_sockaddr(&cfg->own, &from);
	socklen_t tolen = ip_endpoint_to_sockaddr(&cfg->peer, &to);
	int fd = socket(cfg->own.addr.family, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return;
	/* The daemon's socket on that port is gone with it, or about to be. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	standby_advert_encode(&a, wire);
	if (bind(fd, (struct sockaddr *)&from, fromlen) == 0)
		for (int i = 0; i < 3; i++)
			sendto(fd, wire, sizeof wire, 0, (struct sockaddr *)&to, tolen);
	close(fd);
}

static int take(const struct standby_keeper_config *cfg, bool *holding)
{
	int rc = nl_addr_add(cfg->ifindex, &cfg->address, cfg->prefix_len);

	if (rc == -EEXIST)
		rc = 0;
	if (rc == 0) {
		*holding = true;
		announce(cfg);
	}
	return rc;
}

static int release(const struct standby_keeper_config *cfg, bool *holding)
{
	int rc = nl_addr_del(cfg->ifindex, &cfg->address, cfg->prefix_len);

	if (rc == -EADDRNOTAVAIL || rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		*holding = false;
	return rc;
}

static void close_others(void)
{
	for (int fd = KEEPER_FD + 1; fd < 1024; fd++)
		close(fd);
}

static void keeper_main(const struct standby_keeper_config *cfg)
{
	bool holding = false;
	uint8_t cmd;

	prctl(PR_SET_NAME, "insel-standby", 0, 0, 0);
	/* Deaf to the terminal's and the service manager's signals: it leaves when the
	 * daemon's end of the socket pair closes, so that it always cleans up first. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	close_others();
	for (;;) {
		ssize_t n = read(KEEPER_FD, &cmd, 1);
		int rc;
		uint8_t answer;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			break;
		rc = cmd == 'T' ? take(cfg, &holding) : cmd == 'R' ? release(cfg, &holding)
			: -EINVAL;
		answer = (uint8_t)(rc < 0 ? -rc : 0);
		if (write(KEEPER_FD, &answer, 1) != 1)
			break;
	}
	if (holding) {
		release(cfg, &holding);
		resign(cfg);
		log_warn("standby: the daemon is gone; released the LAN address and told the "
			 "partner to take over");
	}
	_exit(0);
}

/* ---- in the daemon ---- */

int standby_keeper_spawn(const struct standby_keeper_config *cfg, struct standby_keeper *out)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int rc = -errno;

		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		if (dup2(sv[1], KEEPER_FD) < 0)
			_exit(1);
		keeper_main(cfg);
	}
	close(sv[1]);
	out->pid = pid;
	out->fd = sv[0];
	out->holding = false;
	return 0;
}

static int ask(struct standby_keeper *k, uint8_t cmd)
{
	uint8_t answer;

	if (k->fd < 0)
		return -EPIPE;
	if (write(k->fd, &cmd, 1) != 1 || read(k->fd, &answer, 1) != 1)
		return -EPIPE;
	return -(int)answer;
}

int standby_keeper_take(struct standby_keeper *k)
{
	int rc = ask(k, 'T');

	if (rc == 0)
		k->holding = true;
	return rc;
}

int standby_keeper_release(struct standby_keeper *k)
{
	int rc = ask(k, 'R');

	if (rc == 0)
		k->holding = false;
	return rc;
}

void standby_keeper_close(struct standby_keeper *k)
{
	struct timespec tick = {0, 10 * 1000000L};

	if (k->fd < 0)
		return;
	close(k->fd);
	k->fd = -1;
	for (int waited = 0; waited < KEEPER_REAP_MS; waited += 10) {
		pid_t got = waitpid(k->pid, NULL, WNOHANG);

		if (got == k->pid || (got < 0 && errno != EINTR))
			return;
		nanosleep(&tick, NULL);
	}
	log_warn("standby: the address keeper (pid %d) did not exit", (int)k->pid);
}
