#!/bin/bash
# Fails if a wire error code is written as a string literal where an error is sent or a
# received code is compared, instead of being named through the registry
# (common/control/wire_errors.def, WIRE(NAME) / wire_error_is()).
# Usage: wire_literals.sh SOURCE_ROOT
set -euo pipefail
root=${1:?usage: wire_literals.sh SOURCE_ROOT}
def="$root/common/control/wire_errors.def"

names=$(sed -nE 's/^WIRE_ERROR\([A-Z_]+, "([a-z_]+)".*/\1/p; s/^WIRE_ERROR_ALIAS\("([a-z_]+)".*/\1/p' "$def" |
	paste -sd '|')
[ -n "$names" ] || { echo "no codes read from $def"; exit 1; }

# The calls that send a code or a call's end reason, and the comparisons of a received one.
# (any prefix: api_reply_error, dispatch_reply_error, peer_refuse, ...)
senders='[a-z_]*(reply_error|error_reply|refuse|refuse_[a-z]+|call_end|aux_end|answer_error|end_call)'
found=$(grep -rnE --include='*.c' --include='*.h' \
	"\b$senders\([^;\"]*\"($names)\"|strcmp\([^,]*(code|reason)[^,]*, \"($names)\"|\*?code = \"($names)\"|\"reason\", \"($names)\"|(code|reason) : \"($names)\"" \
	"$root/common" "$root/principal" "$root/secondary" "$root/auxiliary" "$root/client" "$root/secsock" \
	2>/dev/null || true)
if [ -n "$found" ]; then
	echo "wire error codes written as literals (use WIRE(NAME) or wire_error_is()):"
	echo "$found"
	exit 1
fi
echo "no wire error literal outside the registry"
