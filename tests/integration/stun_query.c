/* stun-query: one STUN Binding exchange through common/control/stun.h, for the tests
 * (against insel-principal serve and against coturn). Sends a request padded to the
 * largest response (so a responder that never answers with more than it got answers),
 * waits up to a second, three times, and prints what the server saw:
 *   mapped ADDR:PORT local ADDR:PORT
 * With a second argument the socket is bound to that local ADDRESS:PORT first, so that
 * two servers can be asked from the same socket address (the NAT tests compare what each
 * saw).
 * Exit 0 on an answer with this transaction id, 1 on none, 2 on a usage error. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "rand.h"
#include "stun.h"

static int exchange(int fd, const struct sockaddr_storage *to, socklen_t tolen,
		    struct stun_message *resp)
{
	struct stun_message req = {.type = STUN_BINDING_REQUEST, .fingerprint = true,
				   .pad_to = STUN_MAX_RESPONSE};
	uint8_t out[STUN_MAX_ENCODED], in[1500];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t len;

	rand_nonce(req.txid, sizeof req.txid);
	if (stun_encode(&req, out, sizeof out, &len))
		return -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		if (sendto(fd, out, len, 0, (const struct sockaddr *)to, tolen) != (ssize_t)len)
			return -1;
		while (poll(&p, 1, 1000) == 1) {
			ssize_t n = recv(fd, in, sizeof in, 0);

			if (n > 0 && stun_decode(in, (size_t)n, resp) == 0 &&
			    resp->type == STUN_BINDING_SUCCESS &&
			    !memcmp(resp->txid, req.txid, sizeof req.txid))
				return 0;
			fprintf(stderr, "stun-query: ignoring a %zd-byte datagram\n", n);
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct ip_endpoint server, local, bind_to;
	struct sockaddr_storage ss, ls, bs;
	socklen_t sslen, bslen = 0, lslen = sizeof ls;
	struct stun_message resp;
	char a[IP_STRLEN], b[IP_STRLEN];
	int fd;

	if (argc < 2 || argc > 3 || ip_endpoint_parse(argv[1], &server) ||
	    (argc == 3 && ip_endpoint_parse(argv[2], &bind_to))) {
		fprintf(stderr, "usage: stun-query ADDRESS:PORT [LOCAL-ADDRESS:PORT]\n");
		return 2;
	}
	sslen = ip_endpoint_to_sockaddr(&server, &ss);
	if (argc == 3)
		bslen = ip_endpoint_to_sockaddr(&bind_to, &bs);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || (bslen && bind(fd, (struct sockaddr *)&bs, bslen)) ||
	    connect(fd, (struct sockaddr *)&ss, sslen) ||
	    getsockname(fd, (struct sockaddr *)&ls, &lslen) ||
	    ip_endpoint_from_sockaddr((struct sockaddr *)&ls, &local)) {
		perror("stun-query");
		return 1;
	}
	if (exchange(fd, &ss, sslen, &resp)) {
		fprintf(stderr, "stun-query: no answer from %s\n", argv[1]);
		close(fd);
		return 1;
	}
	printf("mapped %s local %s%s\n", ip_endpoint_format(&resp.mapped, a, sizeof a),
	       ip_endpoint_format(&local, b, sizeof b), resp.fingerprint ? " fingerprint" : "");
	close(fd);
	return 0;
}
