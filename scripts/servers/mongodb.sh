#!/usr/bin/env bash
# MongoDB-wire-protocol test server: SecantusDB (PyPI "secantusdb"), run from
# the venv $CROSSQL_VENV, in-memory, on 127.0.0.1:$MONGODB_PORT.
#
#   scripts/servers/mongodb.sh install|start|stop|restart|status|env|check|install-clients
#
# If MONGODB_URI is set, the tests use that server instead: start and stop
# then do nothing.
set -euo pipefail

SERVICE=mongodb
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${MONGODB_PORT:-27017}"
MARKER=secantusd-py
SECANTUSDB_SPEC="${SECANTUSDB_SPEC:-secantusdb==0.7.0b3}"   # only pre-releases exist: pin one
PYMONGO_SPEC="${PYMONGO_SPEC:-pymongo>=4.13}"
# ":memory:" = a temporary WiredTiger dir (under $SVC_DIR/tmp) removed on exit.
STORAGE="${SECANTUSD_STORAGE_PATH:-:memory:}"
# Extra flags, e.g. "--log-level DEBUG" or "--standalone" (see secantusd-py --help).
EXTRA_ARGS="${SECANTUSD_ARGS:-}"

usage() {
    cat >&2 <<EOF
usage: $0 install|start|stop|restart|status|env|check|install-clients
  env: MONGODB_PORT (27017), MONGODB_URI (use your own server: start/stop do nothing),
       CROSSQL_VENV ($VENV), CROSSQL_STATE_DIR ($STATE_DIR),
       SECANTUSDB_SPEC ($SECANTUSDB_SPEC), SECANTUSD_ARGS
EOF
    exit 2
}

redacted_uri() { sed -E 's#//[^@/]*@#//***@#' <<<"$MONGODB_URI"; }

# The user's own server? (Our "env" output sets MONGODB_URI too, and marks it
# with CROSSQL_MANAGED_MONGODB_URI, so that it is not taken for the user's.)
external_uri() {
    [[ -n "${MONGODB_URI:-}" && "$MONGODB_URI" != "${CROSSQL_MANAGED_MONGODB_URI:-}" ]]
}

svc_installed() {
    [[ -x "$VENV/bin/secantusd-py" ]] \
        && "$VENV/bin/python" -c 'import sys, pymongo; sys.exit(pymongo.version_tuple < (4, 13))' 2>/dev/null
}

svc_install() {
    pip_install "$SECANTUSDB_SPEC" "$PYMONGO_SPEC"
    svc_installed || die "installed $SECANTUSDB_SPEC but $VENV/bin/secantusd-py or pymongo>=4.13 is still missing"
    log "installed: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("secantusdb", m.version("secantusdb"), "/ pymongo", m.version("pymongo"))')"
}

svc_launch() {
    mkdir -p "$SVC_DIR/tmp"
    local -a extra=()
    read -r -a extra <<<"$EXTRA_ARGS"
    # TMPDIR: where ":memory:" puts its temporary WiredTiger home.
    launch env TMPDIR="$SVC_DIR/tmp" PYTHONUNBUFFERED=1 \
        "$VENV/bin/secantusd-py" --host "$LOOPBACK" --port "$PORT" \
        --storage-path "$STORAGE" "${extra[@]}"
}

svc_ready() {
    port_open "$LOOPBACK" "$PORT" || return 1
    # The port is open: make sure it really speaks the MongoDB protocol.
    "$VENV/bin/python" - "$LOOPBACK" "$PORT" <<'EOF' 2>>"$LOGFILE"
import sys
from pymongo import MongoClient
c = MongoClient(host=sys.argv[1], port=int(sys.argv[2]), serverSelectionTimeoutMS=5000)
c.admin.command("ping")
c.close()
EOF
}

svc_after_stop() {
    # A SIGKILLed server leaves its ":memory:" temp dir behind.
    rm -rf "${SVC_DIR:?}/tmp"
}

uri() { echo "mongodb://$LOOPBACK:$PORT/"; }

env_cmd() {
    if external_uri; then
        echo "export MONGODB_URI='$MONGODB_URI'"
    else
        echo "export MONGODB_URI='$(uri)'"
        echo "export CROSSQL_MANAGED_MONGODB_URI='$(uri)'"
    fi
}

clients_cmd() {
    if ! venv_has pymongo; then
        require_network_for_install pymongo
        pip_install "$PYMONGO_SPEC"
    fi
}

check_cmd() {
    local u
    u="$(uri)"
    if external_uri; then u="$MONGODB_URI"; fi
    clients_cmd
    MONGODB_URI="$u" "$VENV/bin/python" "$CROSSQL_SERVERS_DIR/smoke/mongodb_smoke.py"
}

[[ $# -eq 1 ]] || usage
init_state_dir
case "$1" in
    install) with_lock install_cmd ;;
    start)
        if external_uri; then
            log "MONGODB_URI is set ($(redacted_uri)): not starting SecantusDB; the tests will use that server"
            exit 0
        fi
        with_lock start_locked
        ;;
    stop)
        if external_uri; then log "MONGODB_URI is set: your server at $(redacted_uri) is left alone"; fi
        with_lock stop_locked
        ;;
    restart)
        with_lock stop_locked
        external_uri || with_lock start_locked
        ;;
    status)
        if external_uri && ! running_pid >/dev/null; then
            log "MONGODB_URI is set ($(redacted_uri)): external server, not managed here"
            exit 0
        fi
        status_cmd
        ;;
    env) env_cmd ;;
    install-clients) clients_cmd ;;
    check) check_cmd ;;
    *) usage ;;
esac
