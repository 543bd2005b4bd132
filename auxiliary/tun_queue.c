/* The kernel's queue in front of the TUN interface (docs/tun.md, "The interface's
 * queue"). What the kernel routes into the interface waits in a ring of txqueuelen
 * packets until the auxiliary reads it; when the auxiliary falls behind (a saturating
 * TCP stream through a room or a network call), the ring overflows and the kernel drops
 * the newest, silently but for the interface's "TX dropped". Those losses are ours to
 * report: each call's stats count them as the tun's queue_dropped.
 *
 * The counter is read from sysfs (statistics/tx_dropped of the interface), through a
 * descriptor opened when the interface is made, while the process may still open files:
 * after confinement it only seeks and reads it. A sysfs that belongs to another network
 * namespace than the process's (its ifindex is not the interface's) is not used. One
 * interface per process (a call's, or a room's shared by its legs), so the last value
 * read is the process's: each leg that asks for its stats is credited what was dropped
 * since anyone last asked (the packets were lost before any leg saw their destination),
 * so that the legs' counts add up to the interface's without counting a drop twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auxiliary.h"
#include "log.h"

static int queue_fd = -1;
static uint64_t queue_seen;

/* A sysfs number (a decimal and a newline), or -1. */
static long long read_number(int fd)
{
	char text[32];
	ssize_t n;
	char *end;
	long long v;

	if (lseek(fd, 0, SEEK_SET) != 0 || (n = read(fd, text, sizeof text - 1)) <= 0)
		return -1;
	text[n] = '\0';
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || v < 0 || (*end != '\n' && *end != '\0'))
		return -1;
	return v;
}

static int open_attribute(const char *ifname, const char *attr)
{
	char path[96];

	snprintf(path, sizeof path, "/sys/class/net/%s/%s", ifname, attr);
	return open(path, O_RDONLY | O_CLOEXEC);
}

void tun_queue_open(const struct aux_tun *t)
{
	int index_fd = open_attribute(t->name, "ifindex");
	long long index = index_fd >= 0 ? read_number(index_fd) : -1;
	long long dropped;

	if (index_fd >= 0)
		close(index_fd);
	if (index != t->ifindex) {
		log_info("interface %s: its queue's drops are not counted (no sysfs of this "
			 "network namespace)", t->name);
		return;
	}
	if (queue_fd >= 0)
		close(queue_fd);
	queue_fd = open_attribute(t->name, "statistics/tx_dropped");
	dropped = queue_fd >= 0 ? read_number(queue_fd) : -1;
	queue_seen = dropped > 0 ? (uint64_t)dropped : 0;
}

void tun_queue_count(struct bridge *br)
{
	long long now;

	if (queue_fd < 0 || !br->tun_mode || !br->tun.open)
		return;
	now = read_number(queue_fd);
	if (now < 0 || (uint64_t)now <= queue_seen)
		return;
	br->tun.queue_dropped += (uint64_t)now - queue_seen;
	queue_seen = (uint64_t)now;
}
