/* The relay's keeper (relay_keeper.h): plain blocking code in a process of its own,
 * forked before the parent's event loop exists. One loop: spawn insel-relay, hand the
 * parent the control socket, wait for either to go; the relay's death is followed by
 * a new one after a back-off that doubles while relays die young (a relay that cannot
 * start must not spin), the parent's by the relay's end and the keeper's. */
#include "relay_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cmd.h"
#include "log.h"

#define RELAY_CHILD_CONTROL_FD 3
#define RELAY_CHILD_SOCKET_FD 4
#define RELAY_CHILD_TCP_FD 5

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *relay_default_program(void)
{
	return cmd_program_beside_self("insel-relay", "relay");
}

int relay_bind_socket(const struct ip_endpoint *at, int type, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = ip_endpoint_to_sockaddr(at, &ss);
	struct ip_endpoint bound;
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) != 0))
		goto fail;
	len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		goto fail;
	if (ip_endpoint_from_sockaddr((struct sockaddr *)&ss, &bound) != 0) {
		errno = EAFNOSUPPORT;
		goto fail;
	}
	*port = bound.port;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* ---- in the relay's child, between fork and exec ---- */

static void close_others(int keep_max)
{
	for (int fd = keep_max + 1; fd < 1024; fd++)
		close(fd);
}

static void exec_relay(const struct relay_keeper_options *o, int control_fd, int udp_fd)
{
	char parent[24], rate[32], max[32], expiry[32], sfd[8], tfd[8];
	char *args[32];
	size_t n = 0;

	/* Onto fixed descriptors; everything else closed. Each is moved out of the way
	 * first, since any of them may sit on another's target. */
	if (o->tcp_fd >= 0 && dup2(o->tcp_fd, RELAY_CHILD_TCP_FD + 100) < 0)
		_exit(127);
	if (dup2(control_fd, RELAY_CHILD_CONTROL_FD + 100) < 0 ||
	    dup2(udp_fd, RELAY_CHILD_SOCKET_FD + 100) < 0 ||
	    dup2(RELAY_CHILD_CONTROL_FD + 100, RELAY_CHILD_CONTROL_FD) < 0 ||
	    dup2(RELAY_CHILD_SOCKET_FD + 100, RELAY_CHILD_SOCKET_FD) < 0)
		_exit(127);
	if (o->tcp_fd >= 0 && dup2(RELAY_CHILD_TCP_FD + 100, RELAY_CHILD_TCP_FD) < 0)
		_exit(127);
	close_others(o->tcp_fd >= 0 ? RELAY_CHILD_TCP_FD : RELAY_CHILD_SOCKET_FD);
	setsid();
	snprintf(parent, sizeof parent, "%d", (int)getppid());
	snprintf(sfd, sizeof sfd, "%d", RELAY_CHILD_SOCKET_FD);
	args[n++] = (char *)o->program;
	if (o->verbose)
		args[n++] = "-v";
	args[n++] = "run";
	args[n++] = "--parent";
	args[n++] = parent;
	args[n++] = "--socket-fd";
	args[n++] = sfd;
	if (o->user) {
		args[n++] = "--user";
		args[n++] = (char *)o->user;
	}
	if (o->rate) {
		snprintf(rate, sizeof rate, "%llu", (unsigned long long)o->rate);
		args[n++] = "--rate";
		args[n++] = rate;
	}
	if (o->max_allocations) {
		snprintf(max, sizeof max, "%u", (unsigned)o->max_allocations);
		args[n++] = "--max-allocations";
		args[n++] = max;
	}
	if (o->expiry_ms) {
		snprintf(expiry, sizeof expiry, "%llums", (unsigned long long)o->expiry_ms);
		args[n++] = "--expiry";
		args[n++] = expiry;
	}
	if (o->tcp_fd >= 0) {
		snprintf(tfd, sizeof tfd, "%d", RELAY_CHILD_TCP_FD);
		args[n++] = "--tcp-socket-fd";
		args[n++] = tfd;
		args[n++] = "--ca";
		args[n++] = (char *)o->ca;
		args[n++] = "--tls-cert";
		args[n++] = (char *)o->tls_cert;
		args[n++] = "--tls-key";
		args[n++] = (char *)o->tls_key;
	}
	args[n] = NULL;
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	execv(o->program, args);
	fprintf(stderr, "insel: cannot run the relay %s: %s\n", o->program,
		strerror(errno));
	_exit(127);
}

/* ---- the keeper ---- */

/* Hands the parent its end of a relay's control socket, with the relay's pid. */
static int send_control(int keeper_fd, int control_fd, pid_t pid)
{
	int32_t payload = (int32_t)pid;
	struct iovec iov = {&payload, sizeof payload};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg.buf,
			   .msg_controllen = sizeof cmsg.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	memset(cmsg.buf, 0, sizeof cmsg.buf);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &control_fd, sizeof control_fd);
	return sendmsg(keeper_fd, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static pid_t spawn(const struct relay_keeper_options *o, int keeper_fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("relay keeper: socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(keeper_fd);
		close(sv[0]);
		exec_relay(o, sv[1], o->udp_fd);
	}
	close(sv[1]);
	if (pid < 0) {
		log_error("relay keeper: fork: %s", strerror(errno));
	} else if (send_control(keeper_fd, sv[0], pid) != 0) {
		/* The parent is gone: so is the reason for a relay. */
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		pid = -1;
		errno = EPIPE;
	}
	close(sv[0]);
	return pid;
}

/* Waits up to ms for the parent to close the keeper socket; true if it did. */
static bool parent_gone(int keeper_fd, int ms)
{
	struct pollfd p = {.fd = keeper_fd, .events = POLLIN};
	char byte;

	if (poll(&p, 1, ms) <= 0)
		return false;
	return recv(keeper_fd, &byte, 1, MSG_DONTWAIT) <= 0 || (p.revents & (POLLHUP | POLLERR));
}

static void describe_exit(pid_t pid, int status, uint64_t lived_ms)
{
	if (WIFSIGNALED(status))
		log_warn("relay %d killed by signal %d after %llu ms", (int)pid, WTERMSIG(status),
			 (unsigned long long)lived_ms);
	else
		log_warn("relay %d exited with status %d after %llu ms", (int)pid,
			 WEXITSTATUS(status), (unsigned long long)lived_ms);
}

static void stop_relay(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static int keep(const struct relay_keeper_options *o, int keeper_fd)
{
	uint64_t backoff = RELAY_RESTART_FIRST_MS;

	for (;;) {
		uint64_t started = now_ms();
		pid_t pid = spawn(o, keeper_fd);
		int status = 0;

		if (pid < 0 && errno == EPIPE)
			return 0;
		while (pid > 0) {
			if (parent_gone(keeper_fd, 200)) {
				stop_relay(pid);
				return 0;
			}
			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
		}
		if (pid > 0) {
			uint64_t lived = now_ms() - started;

			describe_exit(pid, status, lived);
			backoff = lived >= RELAY_HEALTHY_MS ? RELAY_RESTART_FIRST_MS : backoff;
		}
		log_info("restarting the relay in %llu ms", (unsigned long long)backoff);
		if (parent_gone(keeper_fd, (int)backoff))
			return 0;
		backoff = backoff * 2 > RELAY_RESTART_MAX_MS ? RELAY_RESTART_MAX_MS : backoff * 2;
	}
}

int relay_keeper_start(const struct relay_keeper_options *o, int *keeper_fd, pid_t *pid)
{
	int sv[2];
	pid_t k;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	fflush(NULL);
	k = fork();
	if (k < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (k == 0) {
		/* Nothing of the parent's but the two sockets it is to keep. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sv[1] && fd != o->udp_fd && fd != o->tcp_fd)
				close(fd);
		/* The parent stops it by closing the socket; its terminal's ^C is for the
		 * parent, which then does so. */
		signal(SIGINT, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		prctl(PR_SET_NAME, "insel-keeper");
		if (getppid() == 1)
			_exit(0);
		_exit(keep(o, sv[1]));
	}
	close(sv[1]);
	*keeper_fd = sv[0];
	*pid = k;
	return 0;
}

int relay_keeper_receive(int keeper_fd, int *control_fd, pid_t *relay_pid)
{
	int32_t payload;
	struct iovec iov = {&payload, sizeof payload};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg.buf,
			   .msg_controllen = sizeof cmsg.buf};
	struct cmsghdr *c;
	ssize_t n = recvmsg(keeper_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	c = CMSG_FIRSTHDR(&m);
	if (n != sizeof payload || !c || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		if (c && c->cmsg_type == SCM_RIGHTS)  /* never leak a descriptor */
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
				close(fd);
			}
		return -EPROTO;
	}
	memcpy(control_fd, CMSG_DATA(c), sizeof *control_fd);
	*relay_pid = (pid_t)payload;
	return 1;
}
