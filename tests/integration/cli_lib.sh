# What a test of the operator's commands on a real directory file starts with (sourced,
# after setting `here`): the build, insel-principal as P, a scratch directory removed on
# exit, the database path, a failure count and small helpers. Needs sqlite3 (else SKIP).
# Use: source "$here/cli_lib.sh" NAME   (NAME names the scratch directory)
INSEL_BUILD=${INSEL_BUILD:-$(cd "$here/../.." && pwd)/build}
P="$INSEL_BUILD/principal/insel-principal"
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 77; }
dir=$(mktemp -d "/tmp/insel-$1-XXXXXX")
trap 'rm -rf "$dir"' EXIT
db="$dir/principal.db"
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
p() { "$P" "$@" --db "$db"; }
sql() { sqlite3 "$db" "$1"; }
# jget EXPR JSON: a Python expression on the parsed JSON `j`, printed.
jget() { python3 -c 'import json, sys; j = json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$2"; }
