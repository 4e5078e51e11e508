#!/usr/bin/env bash
# Install / start / stop all test servers (MongoDB-wire SecantusDB, DynamoDB
# Local, Firestore emulator) and print the environment the tests need.
#
#   scripts/servers/all.sh install|start|stop|restart|status|env|check
#
#   install  install what is missing (needs the network: run it outside
#            a private network namespace)
#   start    start all (stops the ones it started if one fails), then
#            print the env lines, as "env" does
#   env      print "export VAR=..." lines: eval "$(scripts/servers/all.sh env)"
#   check    run each server's Python smoke test (installs the clients:
#            pymongo, aioboto3, google-cloud-firestore, if missing)
#
# CROSSQL_SERVERS="mongodb dynamodb firestore" picks a subset (and order).
# Log lines go to stderr, env lines to stdout.
set -euo pipefail

SERVICE=all
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read -r -a SERVERS <<<"${CROSSQL_SERVERS:-mongodb dynamodb firestore}"
for s in "${SERVERS[@]}"; do
    [[ -x "$CROSSQL_SERVERS_DIR/$s.sh" ]] || die "unknown server '$s' in CROSSQL_SERVERS (known: mongodb dynamodb firestore)"
done

run() { "$CROSSQL_SERVERS_DIR/$1.sh" "$2"; }

env_all() {
    echo "export CROSSQL_STATE_DIR='$STATE_DIR'"
    local s
    for s in "${SERVERS[@]}"; do run "$s" env; done
}

start_all() {
    local s t0 started=()
    t0="$(now)"
    for s in "${SERVERS[@]}"; do
        if ! run "$s" start; then
            log "starting $s failed: stopping the servers started before it"
            local x
            for x in "${started[@]}"; do run "$x" stop || true; done
            die "could not start $s"
        fi
        started+=("$s")
    done
    log "all started in $(elapsed "$t0")s"
    env_all
}

stop_all() {
    local s rc=0
    # Stop all even if one fails; report failure at the end.
    for s in "${SERVERS[@]}"; do run "$s" stop || rc=1; done
    return "$rc"
}

status_all() {
    local s rc=0
    for s in "${SERVERS[@]}"; do run "$s" status || rc=3; done
    return "$rc"
}

[[ $# -eq 1 ]] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
init_state_dir
case "$1" in
    install) for s in "${SERVERS[@]}"; do run "$s" install; done ;;
    start) start_all ;;
    stop) stop_all ;;
    restart) stop_all; start_all ;;
    status) status_all ;;
    env) env_all ;;
    check) for s in "${SERVERS[@]}"; do run "$s" check; done ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
