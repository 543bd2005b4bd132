#!/usr/bin/env bash
# PostgreSQL clusters made by a test for itself: each in a temporary folder, created with
# initdb and run with pg_ctl as an unprivileged user (postgres, else nobody, when the test
# runs as root), listening on a unix socket in its folder and, when asked, on an address
# inside a network namespace the test made. Every cluster is stopped and its folder removed
# on every exit path. Without the PostgreSQL server binaries (Debian package postgresql)
# the test says SKIP (exit 77).
#
# Use:
#   source tests/netns/pg_lib.sh
#   pg_begin                      # after netns_begin/daemon_test_begin: chains their trap
#   pg_init main                  # initdb into $PG_ROOT/main
#   pg_start main                 # unix socket only; or: pg_start main NS ADDR [PORT]
#   pg_createdb main insel        # a database in it
#   dsn=$(pg_dsn main insel)      # "host=$PG_ROOT/main port=5432 dbname=insel user=postgres"
#   pg_psql main insel -c 'SELECT 1'
#   pg_stop main [fast|immediate] # stops it (the folder stays until the end)
# Extra server settings: PG_OPTS (array) before pg_start, e.g. PG_OPTS=(-c wal_level=replica).
# pg_hba trusts local sockets and, for clusters listening in a namespace, 198.18.0.0/15
# and 127.0.0.0/8 (also for replication), since only the test's namespaces can reach it.

PG_ROOT=""
PG_CLUSTERS=()
PG_BIN=""
PG_USER=""
[ -n "${PG_OPTS+set}" ] || PG_OPTS=()

# The folder of initdb/pg_ctl/postgres: Debian's versioned one, else PATH.
pg_find_bin() {
	local d
	for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return 0
		fi
	done
	d=$(command -v pg_ctl 2>/dev/null) || return 1
	d=$(dirname "$(readlink -f "$d")")
	[ -x "$d/initdb" ] && [ -x "$d/postgres" ] && echo "$d"
}

# Runs a command as the cluster's owner (the test's own user when not root).
pg_as_owner() {
	if [ -n "$PG_USER" ]; then
		setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups \
			--reset-env -- "$@"
	else
		"$@"
	fi
}

pg_cleanup() {
	local c
	for c in "${PG_CLUSTERS[@]}"; do
		pg_stop "$c" immediate >/dev/null 2>&1 || true
	done
	PG_CLUSTERS=()
	if [ -n "$PG_ROOT" ]; then
		rm -rf "$PG_ROOT"
		PG_ROOT=""
	fi
}

# Finds the binaries (else SKIP), makes $PG_ROOT and stops and removes everything at exit,
# after whatever EXIT trap the test set already (its daemons go first, then the database).
pg_begin() {
	local prev
	PG_BIN=$(pg_find_bin) || {
		echo "SKIP: PostgreSQL server binaries not found (Debian package postgresql)" >&2
		exit 77
	}
	if [ "$(id -u)" -eq 0 ]; then
		if id postgres >/dev/null 2>&1; then
			PG_USER=postgres
		else
			PG_USER=nobody
		fi
	fi
	PG_ROOT=$(mktemp -d /tmp/insel-pg.XXXXXX)
	chmod 755 "$PG_ROOT"
	[ -n "$PG_USER" ] && chown "$PG_USER" "$PG_ROOT"
	prev=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
	# shellcheck disable=SC2064
	trap "${prev:-:}; pg_cleanup" EXIT
	trap 'exit 130' INT TERM
	return 0
}

# pg_init NAME: a new cluster in $PG_ROOT/NAME (superuser postgres, trust, UTF8).
pg_init() {
	local name=$1 dir=$PG_ROOT/$1
	pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--locale=C -N >"$PG_ROOT/$name-initdb.log" 2>&1 || {
		cat "$PG_ROOT/$name-initdb.log" >&2
		return 1
	}
	cat >>"$dir/data/pg_hba.conf" <<-EOF
		host all all 127.0.0.0/8 trust
		host all all 198.18.0.0/15 trust
		host replication all 127.0.0.0/8 trust
		host replication all 198.18.0.0/15 trust
	EOF
}

# pg_start NAME [NAMESPACE ADDR [PORT]]: starts the cluster and waits until it accepts
# connections. With a namespace (its full name, e.g. ${NS}db) it runs there and listens
# on ADDR as well as on its socket.
pg_start() {
	local name=$1 ns=${2:-} addr=${3:-} port=${4:-5432} dir=$PG_ROOT/$1
	local listen="" opts
	[ -n "$ns" ] && listen=$addr
	opts="-k $dir -p $port -c listen_addresses='$listen' -c fsync=off"
	opts+=" -c full_page_writes=off -c max_connections=50 -c shared_buffers=16MB"
	[ ${#PG_OPTS[@]} -gt 0 ] && opts+=" ${PG_OPTS[*]}"
	echo "$port" >"$dir/port"
	local start=("$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start)
	if [ -n "$ns" ]; then
		ip netns exec "$ns" setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" \
			--clear-groups --reset-env -- "${start[@]}" >/dev/null
	else
		pg_as_owner "${start[@]}" >/dev/null
	fi || {
		cat "$dir/server.log" >&2
		return 1
	}
	case " ${PG_CLUSTERS[*]} " in
	*" $name "*) ;;
	*) PG_CLUSTERS+=("$name") ;;
	esac
}

# pg_stop NAME [fast|immediate]
pg_stop() {
	local dir=$PG_ROOT/$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m "${2:-fast}" -w -t 30 stop >/dev/null
}

# pg_dsn NAME [DB]: a libpq connection string over the cluster's unix socket.
pg_dsn() {
	echo "host=$PG_ROOT/$1 port=$(cat "$PG_ROOT/$1/port") dbname=${2:-postgres} user=postgres"
}

# pg_psql NAME DB ARGS...: psql on the cluster's socket, quiet, stopping at the first error.
pg_psql() {
	local name=$1 db=$2
	shift 2
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$(pg_dsn "$name" "$db")" "$@"
}

# pg_createdb NAME DB
pg_createdb() {
	pg_psql "$1" postgres -c "CREATE DATABASE \"$2\""
}
