#!/usr/bin/env bash
# Install / start / stop all test servers (MongoDB-wire SecantusDB, DynamoDB
# Local, Firestore emulator) and print the environment the tests need.
#
#   scripts/servers/all.sh install|start|stop|restart|status|env|check|install-clients
#
#   install  install what is missing (needs the network: run it outside
#            a private network namespace)
#   start    start all, in parallel (if one fails, stops them all), then
#            print the env lines, as "env" does
#   env      print "export VAR=..." lines: eval "$(scripts/servers/all.sh env)"
#   check    run each server's Python smoke test (scripts/servers/smoke/)
#   install-clients  pip install the smoke tests' clients into the venv if
#            missing: pymongo, aioboto3, google-cloud-firestore
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

# Start/stop the servers at the same time (two JVMs and a Python process
# start in ~2 s together instead of ~4 s one after another);
# CROSSQL_PARALLEL=0 does one after another.
# run_each CMD: run "<server>.sh CMD" for every server; print the failed ones.
run_each() {
    local s i failed=()
    if [[ "${CROSSQL_PARALLEL:-1}" == 1 ]]; then
        local pids=()
        for s in "${SERVERS[@]}"; do
            run "$s" "$1" &
            pids+=("$!")
        done
        for i in "${!SERVERS[@]}"; do
            wait "${pids[$i]}" || failed+=("${SERVERS[$i]}")
        done
    else
        for s in "${SERVERS[@]}"; do
            run "$s" "$1" || failed+=("$s")
        done
    fi
    echo "${failed[*]}"
}

start_all() {
    local t0 failed
    t0="$(now)"
    failed="$(run_each start)"
    if [[ -n "$failed" ]]; then
        log "could not start: $failed -- stopping the others"
        run_each stop >/dev/null
        die "could not start: $failed"
    fi
    log "all started in $(elapsed "$t0")s"
    env_all
}

stop_all() {
    local failed
    failed="$(run_each stop)"
    [[ -z "$failed" ]] || die "could not stop: $failed (see $CROSSQL_SERVERS_DIR/all.sh status)"
}

status_all() {
    local s rc=0
    for s in "${SERVERS[@]}"; do run "$s" status || rc=3; done
    return "$rc"
}

[[ $# -eq 1 ]] || { print_header "$0"; exit 2; }
init_state_dir
case "$1" in
    install) for s in "${SERVERS[@]}"; do run "$s" install; done ;;
    start) start_all ;;
    stop) stop_all ;;
    restart) stop_all; start_all ;;
    status) status_all ;;
    env) env_all ;;
    check) for s in "${SERVERS[@]}"; do run "$s" check; done ;;
    install-clients) for s in "${SERVERS[@]}"; do run "$s" install-clients; done ;;
    *) print_header "$0"; exit 2 ;;
esac
