/* Unit tests for the host names of a PostgreSQL connection string looked up off the event
 * loop (principal/db_pg_names.c): which strings need a look-up at all (sockets, addresses,
 * hostaddr given, a list libpq refuses: none), and the lists handed to libpq after a real
 * look-up on a libuv loop's thread pool: one entry per address with its name and port, in
 * the string's order, the entries that need no look-up kept as they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "db_pg_names.h"

static void nothing_to_look_up(void **state)
{
	static const char *const none[] = {
		"host=/run/postgresql dbname=insel",
		"host=127.0.0.1,::1 port=5432 dbname=insel",
		"host=db1 hostaddr=198.18.5.2 dbname=insel",
		"host=db1,db2 port=1,2,3",  /* libpq refuses it, and says why */
		"postgresql://127.0.0.1:5433/insel",
		"dbname=insel",
	};
	struct pg_names *n;

	(void)state;
	unsetenv("PGHOST");
	unsetenv("PGHOSTADDR");
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
		assert_null(pg_names_parse(none[i]));
	setenv("PGHOST", "localhost", 1);
	n = pg_names_parse("dbname=insel");
	assert_non_null(n);  /* as libpq: the environment's host */
	pg_names_free(n);
	unsetenv("PGHOST");
}

/* Splits list at commas into out (at most max entries); the count. */
static size_t entries(const char *list, char out[][64], size_t max)
{
	size_t n = 0;

	for (const char *s = list; n < max; n++) {
		size_t len = strcspn(s, ",");

		snprintf(out[n], 64, "%.*s", (int)len, s);
		if (!s[len])
			return n + 1;
		s += len + 1;
	}
	return n;
}

static void names_become_addresses(void **state)
{
	struct pg_names *n = pg_names_parse(
		"host=/tmp/sock,localhost,198.18.5.2 port=5001,5002,5003 "
		"target_session_attrs=read-write dbname=insel");
	char host[16][64], addr[16][64], port[16][64];
	const char *hosts, *addrs, *ports;
	size_t nh, na, np, local = 0;
	uv_loop_t loop;

	(void)state;
	assert_non_null(n);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(pg_names_state(n), PG_NAMES_IDLE);
	assert_int_equal(pg_names_lookup(n, &loop), 0);
	assert_int_equal(pg_names_state(n), PG_NAMES_PENDING);
	/* the caller waits a bounded time; /etc/hosts answers at once */
	assert_int_equal(pg_names_wait(n, 5000), PG_NAMES_READY);
	pg_names_take(n, &hosts, &addrs, &ports);
	assert_non_null(ports);
	nh = entries(hosts, host, 16);
	na = entries(addrs, addr, 16);
	np = entries(ports, port, 16);
	assert_int_equal(na, nh);
	assert_int_equal(np, nh);
	assert_true(nh >= 3);
	/* the socket first, as it was, with no address */
	assert_string_equal(host[0], "/tmp/sock");
	assert_string_equal(addr[0], "");
	assert_string_equal(port[0], "5001");
	/* then every address of localhost, each under its name and port */
	for (size_t i = 1; i + 1 < nh; i++) {
		assert_string_equal(host[i], "localhost");
		assert_string_equal(port[i], "5002");
		assert_true(strcmp(addr[i], "127.0.0.1") == 0 || strcmp(addr[i], "::1") == 0);
		local++;
	}
	assert_true(local >= 1);
	/* the address last, as it was */
	assert_string_equal(host[nh - 1], "198.18.5.2");
	assert_string_equal(addr[nh - 1], "");
	assert_string_equal(port[nh - 1], "5003");
	/* the next attempt looks the names up again */
	assert_int_equal(pg_names_state(n), PG_NAMES_IDLE);
	pg_names_free(n);
	/* the look-up is freed on the loop, after its worker */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The loop hands the results over when nobody waited; a single port stays as it is. */
static void results_without_waiting(void **state)
{
	struct pg_names *n = pg_names_parse("host=localhost port=5432 dbname=insel");
	const char *hosts, *addrs, *ports;
	uv_loop_t loop;

	(void)state;
	assert_non_null(n);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(pg_names_lookup(n, &loop), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(pg_names_state(n), PG_NAMES_READY);
	assert_int_equal(pg_names_wait(n, 0), PG_NAMES_READY);
	pg_names_take(n, &hosts, &addrs, &ports);
	assert_null(ports);
	assert_true(strncmp(hosts, "localhost", 9) == 0);
	assert_true(strstr(addrs, "127.0.0.1") || strstr(addrs, "::1"));
	pg_names_free(n);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The directory closes while a look-up runs: the look-up frees itself afterwards. */
static void closed_while_looking_up(void **state)
{
	struct pg_names *n = pg_names_parse("host=localhost dbname=insel");
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(pg_names_lookup(n, &loop), 0);
	pg_names_free(n);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nothing_to_look_up),
		cmocka_unit_test(names_become_addresses),
		cmocka_unit_test(results_without_waiting),
		cmocka_unit_test(closed_while_looking_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
