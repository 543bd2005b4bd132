/* A room's leg's sockets over the room process's fd 3 (leg_handover.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "leg_handover.h"

typedef char leg_cmsg_t[CMSG_SPACE(LEG_HANDOVER_FDS_MAX * sizeof(int))];

void leg_sockets_init(struct leg_sockets *s)
{
	s->ctl = s->wan = s->wan6 = -1;
	for (unsigned i = 0; i < LEG_HANDOVER_TCP_MAX; i++)
		s->tcp[i] = -1;
	s->ntcp = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void leg_sockets_close(struct leg_sockets *s)
{
	close_fd(&s->ctl);
	close_fd(&s->wan);
	close_fd(&s->wan6);
	for (unsigned i = 0; i < s->ntcp && i < LEG_HANDOVER_TCP_MAX; i++)
		close_fd(&s->tcp[i]);
	leg_sockets_init(s);
}

int leg_sockets_send(int fd, const struct leg_sockets *s)
{
	uint8_t head[LEG_HANDOVER_HEADER] = {LEG_HANDOVER_TAG, s->wan6 >= 0, (uint8_t)s->ntcp};
	int fds[LEG_HANDOVER_FDS_MAX];
	size_t n = 0;
	_Alignas(struct cmsghdr) leg_cmsg_t cbuf;
	struct iovec iov = {head, sizeof head};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf};
	struct cmsghdr *c;

	if (s->ctl < 0 || s->wan < 0 || s->ntcp > LEG_HANDOVER_TCP_MAX)
		return -EINVAL;
	fds[n++] = s->ctl;
	fds[n++] = s->wan;
	if (s->wan6 >= 0)
		fds[n++] = s->wan6;
	for (unsigned i = 0; i < s->ntcp; i++)
		fds[n++] = s->tcp[i];
	memset(cbuf, 0, sizeof cbuf);
	m.msg_controllen = CMSG_SPACE(n * sizeof(int));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof head ? 0 : -errno;
}

/* The descriptors of m's first SCM_RIGHTS, at most LEG_HANDOVER_FDS_MAX; their number. */
static size_t passed_fds(struct msghdr *m, int *fds)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	size_t n;

	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len < CMSG_LEN(0))
		return 0;
	n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if (n > LEG_HANDOVER_FDS_MAX)
		n = LEG_HANDOVER_FDS_MAX;
	memcpy(fds, CMSG_DATA(c), n * sizeof(int));
	return n;
}

/* Whether the header and the descriptors' number agree (no truncation either way). */
static bool well_formed(const uint8_t *head, ssize_t len, const struct msghdr *m, size_t nfds)
{
	return len == LEG_HANDOVER_HEADER && !(m->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
	       head[0] == LEG_HANDOVER_TAG && head[1] <= 1 && head[2] <= LEG_HANDOVER_TCP_MAX &&
	       nfds == 2u + head[1] + head[2];
}

int leg_sockets_recv(int fd, struct leg_sockets *s)
{
	uint8_t head[LEG_HANDOVER_HEADER + 1];
	int fds[LEG_HANDOVER_FDS_MAX];
	_Alignas(struct cmsghdr) leg_cmsg_t cbuf;
	struct iovec iov = {head, sizeof head};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof cbuf};
	ssize_t len = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	size_t n, k = 0;

	leg_sockets_init(s);
	if (len < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (len == 0)
		return 0;
	n = passed_fds(&m, fds);
	if (!well_formed(head, len, &m, n)) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		return -EBADMSG;
	}
	s->ctl = fds[k++];
	s->wan = fds[k++];
	if (head[1])
		s->wan6 = fds[k++];
	for (s->ntcp = 0; s->ntcp < head[2]; s->ntcp++)
		s->tcp[s->ntcp] = fds[k++];
	return 1;
}
