#!/usr/bin/env bash
# Run a command with all the test servers up, reachable on 127.0.0.1 only:
#   1. install whatever is missing (outside the namespace, which has no network)
#   2. re-run itself under netns-run.sh (a private network namespace, lo up)
#   3. start the servers (all.sh start) and export their env:
#      MONGODB_URI, DYNAMODB_ENDPOINT, AWS_*, FIRESTORE_EMULATOR_HOST, ...
#   4. run the command; stop the servers when it ends (also on failure or
#      Ctrl-C); exit with the command's exit status
#
#   scripts/servers/with-servers.sh python -m pytest -q tests
#
# Env: CROSSQL_NETNS (auto|required|off, see netns-run.sh), CROSSQL_SERVERS
# (subset of servers), CROSSQL_SKIP_INSTALL=1 (don't try to install),
# CROSSQL_STATE_DIR, CROSSQL_VENV, MONGODB_PORT, DYNAMODB_PORT, FIRESTORE_PORT.
set -euo pipefail

SERVICE=with-servers
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SELF="$CROSSQL_SERVERS_DIR/with-servers.sh"

if [[ $# -eq 0 || "$1" == -h || "$1" == --help ]]; then
    print_header "$SELF"
    exit 2
fi

if [[ "${_CROSSQL_WITH_SERVERS_INNER:-}" != 1 ]]; then
    if [[ "${CROSSQL_SKIP_INSTALL:-}" != 1 ]] && ! loopback_only; then
        "$CROSSQL_SERVERS_DIR/all.sh" install
    fi
    if [[ -n "${MONGODB_URI:-}" && "$MONGODB_URI" != "${CROSSQL_MANAGED_MONGODB_URI:-}" \
        && "${CROSSQL_NETNS:-auto}" != off ]]; then
        warn "MONGODB_URI is set, but a server outside the private network namespace is unreachable from inside it: unset MONGODB_URI, or use CROSSQL_NETNS=off (then, as root, also DYNAMODB_ALLOW_ALL_INTERFACES=1 or CROSSQL_SERVERS='mongodb firestore')"
    fi
    _CROSSQL_WITH_SERVERS_INNER=1 exec "$CROSSQL_SERVERS_DIR/netns-run.sh" "$SELF" "$@"
fi
unset _CROSSQL_WITH_SERVERS_INNER

# shellcheck disable=SC2317  # called by the trap
cleanup() {
    trap - EXIT INT TERM
    "$CROSSQL_SERVERS_DIR/all.sh" stop || warn "stopping the servers failed; see $CROSSQL_SERVERS_DIR/all.sh status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

env_lines="$("$CROSSQL_SERVERS_DIR/all.sh" start)"
eval "$env_lines"
printf '%s\n' "$env_lines" | sed 's/^/[with-servers] /' >&2

set +e
"$@"
rc=$?
set -e
exit "$rc"
