/* What the examples share: a socket for calls between "user" certificates of one CA, and
 * the port file through which a script learns where a server listens. Each example
 * includes it from beside itself, so `cc EXAMPLE.c $(pkg-config ...)` still builds it. */
#ifndef INSEL_EXAMPLE_SOCKET_H
#define INSEL_EXAMPLE_SOCKET_H

#include <insel/secsock.h>

#include <stdio.h>

static const enum pki_role example_users_only[] = {PKI_ROLE_USER};

/* Credentials from argv (CA CERT KEY) and, for a server, the listening socket (listen is
 * NULL for a caller). NULL, with the reason printed after prog, if that fails. */
static struct sec_socket *example_socket(const char *prog, char **argv,
					 const struct ip_endpoint *listen)
{
	struct sec_options opt = {
		.ca_file = argv[0],
		.cert_file = argv[1],
		.key_file = argv[2],
		.listen = listen,
		.allowed_roles = example_users_only,
		.nroles = 1,
	};
	struct sec_socket *s = NULL;
	char err[256];

	if (sec_init(&opt, &s, err, sizeof err) != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return NULL;
	}
	return s;
}

static int example_write_port(const char *path, unsigned port)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

#endif
