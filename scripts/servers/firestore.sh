#!/usr/bin/env bash
# Google Cloud Firestore emulator (the jar from the Debian package
# google-cloud-cli-firestore-emulator), run with plain java -- no gcloud --
# on 127.0.0.1:$FIRESTORE_PORT.
#
#   scripts/servers/firestore.sh install|start|stop|restart|status|env|check|reset|install-clients
#
# "install" only checks that the jar is there: it is not downloaded from
# PyPI/npm/Debian, so it is never installed by these scripts.
set -euo pipefail

SERVICE=firestore
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${FIRESTORE_PORT:-8080}"
MARKER=com.google.cloud.datastore.emulator.firestore.CloudFirestore
SVC_DOWNLOADS=0   # "install" only looks for the jar
PROJECT="${FIRESTORE_PROJECT:-crossql-test}"
JAVA_OPTS="${FIRESTORE_JAVA_OPTS:-}"
JAR_SUBPATH=platform/cloud-firestore-emulator/cloud-firestore-emulator.jar
if [[ -n "${FIRESTORE_EMULATOR_JAR:-}" ]]; then FIRESTORE_EMULATOR_JAR="$(abspath "$FIRESTORE_EMULATOR_JAR")"; fi

usage() {
    cat >&2 <<EOF
usage: $0 install|start|stop|restart|status|env|check|reset|install-clients
  env: FIRESTORE_PORT (8080), FIRESTORE_PROJECT ($PROJECT),
       FIRESTORE_EMULATOR_JAR (path to cloud-firestore-emulator.jar), FIRESTORE_JAVA_OPTS,
       CROSSQL_STATE_DIR ($STATE_DIR)
  reset: delete every document of project \$FIRESTORE_PROJECT
EOF
    exit 2
}

# Print the emulator jar's path, or return 1.
find_jar() {
    if [[ -n "${FIRESTORE_EMULATOR_JAR:-}" ]]; then
        [[ -f "$FIRESTORE_EMULATOR_JAR" ]] && echo "$FIRESTORE_EMULATOR_JAR"
        return
    fi
    local root
    for root in /usr/lib/google-cloud-sdk /usr/share/google-cloud-sdk \
        /opt/google-cloud-sdk "${HOME:-/nonexistent}/google-cloud-sdk"; do
        if [[ -f "$root/$JAR_SUBPATH" ]]; then
            echo "$root/$JAR_SUBPATH"
            return 0
        fi
    done
    if command -v gcloud >/dev/null; then
        root="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
        if [[ -n "$root" && -f "$root/$JAR_SUBPATH" ]]; then
            echo "$root/$JAR_SUBPATH"
            return 0
        fi
    fi
    return 1
}

svc_installed() { find_jar >/dev/null; }

svc_install() {
    die "the Firestore emulator jar was not found (looked for ${FIRESTORE_EMULATOR_JAR:-.../google-cloud-sdk/$JAR_SUBPATH}). Install it with the Debian/Ubuntu package from Google's Cloud SDK apt repository: apt-get install google-cloud-cli-firestore-emulator; or with a tarball Cloud SDK: gcloud components install cloud-firestore-emulator; or set FIRESTORE_EMULATOR_JAR=/path/to/cloud-firestore-emulator.jar"
}

svc_launch() {
    require_java 11
    local jar
    jar="$(find_jar)"
    local -a opts=()
    read -r -a opts <<<"$JAVA_OPTS"
    # -Duser.language=en: the emulator only supports English messages (as
    # gcloud's wrapper script does).
    launch "$JAVA_BIN" "${opts[@]}" -Duser.language=en -cp "$jar" "$MARKER" start \
        --host="$LOOPBACK" --port="$PORT"
}

# GET / answers "200 Ok" once the emulator serves requests.
svc_ready() { [[ "$(http_status "http://$LOOPBACK:$PORT/")" == 200 ]]; }

env_cmd() {
    echo "export FIRESTORE_EMULATOR_HOST='$LOOPBACK:$PORT'"
    # the fault tests start dedicated instances of the same jar
    if find_jar >/dev/null; then echo "export FIRESTORE_EMULATOR_JAR='$(find_jar)'"; fi
    echo "export FIRESTORE_PROJECT='$PROJECT'"
    echo "export GOOGLE_CLOUD_PROJECT='$PROJECT'"
}

reset_cmd() {
    local url code
    url="http://$LOOPBACK:$PORT/emulator/v1/projects/$PROJECT/databases/(default)/documents"
    code="$(http_status "$url" DELETE)"
    [[ "$code" == 200 ]] || die "DELETE $url answered HTTP $code (is the emulator running? $0 status)"
    log "deleted all documents of project $PROJECT"
}

clients_cmd() {
    if ! venv_has google.cloud.firestore; then
        require_network_for_install google-cloud-firestore
        pip_install google-cloud-firestore
    fi
}

check_cmd() {
    clients_cmd
    FIRESTORE_EMULATOR_HOST="$LOOPBACK:$PORT" FIRESTORE_PROJECT="$PROJECT" \
        "$VENV/bin/python" "$CROSSQL_SERVERS_DIR/smoke/firestore_smoke.py"
    reset_cmd
}

[[ $# -eq 1 ]] || usage
init_state_dir
case "$1" in
    install)
        with_lock install_cmd
        log "emulator jar: $(find_jar)"
        ;;
    start) with_lock start_locked ;;
    stop) with_lock stop_locked ;;
    restart) with_lock stop_locked; with_lock start_locked ;;
    status) status_cmd ;;
    env) env_cmd ;;
    install-clients) clients_cmd ;;
    check) check_cmd ;;
    reset) reset_cmd ;;
    *) usage ;;
esac
