# shellcheck shell=bash
# Shared helpers for scripts/servers/*.sh -- source it, don't run it.
#
# The sourcing script sets SERVICE (mongodb|dynamodb|firestore|all|...) first.
# Everything a server writes (pid file, log, temp data) lives in
# $STATE_DIR/$SERVICE; STATE_DIR defaults to <repo>/.servers.

CROSSQL_SERVERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CROSSQL_REPO_ROOT="$(cd "$CROSSQL_SERVERS_DIR/../.." && pwd)"

# abspath PATH: PATH made absolute against the current directory (servers
# are launched from $SVC_DIR, so relative paths would break).
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

STATE_DIR="$(abspath "${CROSSQL_STATE_DIR:-$CROSSQL_REPO_ROOT/.servers}")"
VENV="$(abspath "${CROSSQL_VENV:-$CROSSQL_REPO_ROOT/.venv}")"
READY_TIMEOUT="${CROSSQL_READY_TIMEOUT:-60}"   # seconds to wait for readiness
STOP_TIMEOUT="${CROSSQL_STOP_TIMEOUT:-20}"     # seconds between SIGTERM and SIGKILL
LOOPBACK=127.0.0.1

[[ "$READY_TIMEOUT" =~ ^[0-9]+$ ]] || { echo "ERROR: CROSSQL_READY_TIMEOUT must be whole seconds (got '$READY_TIMEOUT')" >&2; exit 1; }
[[ "$STOP_TIMEOUT" =~ ^[0-9]+$ ]] || { echo "ERROR: CROSSQL_STOP_TIMEOUT must be whole seconds (got '$STOP_TIMEOUT')" >&2; exit 1; }

log()  { printf '[%s] %s\n' "${SERVICE:-servers}" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "${SERVICE:-servers}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${SERVICE:-servers}" "$*" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# --- state directory -------------------------------------------------------

init_state_dir() {
    mkdir -p "$STATE_DIR" || die "cannot create state dir $STATE_DIR"
    STATE_DIR="$(cd "$STATE_DIR" && pwd)"   # make it absolute
    [[ -w "$STATE_DIR" ]] || die "state dir $STATE_DIR is not writable by $(id -un) (set CROSSQL_STATE_DIR)"
    # Keep the state dir out of git even if .gitignore lacks it.
    [[ -e "$STATE_DIR/.gitignore" ]] || printf '*\n' >"$STATE_DIR/.gitignore"
    SVC_DIR="$STATE_DIR/$SERVICE"
    mkdir -p "$SVC_DIR" || die "cannot create $SVC_DIR"
    [[ -w "$SVC_DIR" ]] || die "$SVC_DIR is not writable by $(id -un) (set CROSSQL_STATE_DIR)"
    PIDFILE="$SVC_DIR/pid"
    LOGFILE="$SVC_DIR/server.log"
}

# Run "$@" holding an exclusive lock on $SVC_DIR/lock (serialises start/stop).
# If "$@" fails, set -e ends the script, which releases the lock too.
LOCK_FD=""
with_lock() {
    local lock="$SVC_DIR/lock"
    exec {LOCK_FD}>"$lock"
    if ! flock -w 120 "$LOCK_FD"; then
        die "could not lock $lock within 120 s (another start/stop running?)"
    fi
    "$@"
    exec {LOCK_FD}>&-
    LOCK_FD=""
}

# --- network namespace -----------------------------------------------------

# True when this process's network namespace has no interface but lo, i.e.
# nothing can reach a listening socket from outside this machine (we are
# inside netns-run.sh or an equivalent private namespace). /proc/net/dev is
# per network namespace (unlike /sys/class/net, which shows the mounter's).
loopback_only() {
    local ifaces
    ifaces="$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev)"
    [[ "$ifaces" == "lo" ]]
}

netns_of() { readlink "/proc/$1/ns/net" 2>/dev/null || true; }

# True if process $1 is in the same network namespace as we are.
same_netns() { [[ "$(netns_of "$1")" == "$(netns_of self)" ]]; }

# Downloads are impossible inside a private namespace: say what to do.
require_network_for_install() {
    if loopback_only; then
        die "$1 is not installed, and this shell is inside a private network namespace (no network): run '$CROSSQL_SERVERS_DIR/${2:-$SERVICE.sh} install' outside the namespace first"
    fi
}

# --- processes -------------------------------------------------------------

# Print the pid from $PIDFILE if that process is alive and its command line
# contains $MARKER; otherwise remove a stale pid file and return 1.
running_pid() {
    local pid state
    [[ -f "$PIDFILE" ]] || return 1
    pid="$(<"$PIDFILE")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        state="$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)"
        if [[ "$state" != "Z" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$MARKER"; then
            echo "$pid"
            return 0
        fi
    fi
    rm -f "$PIDFILE"
    return 1
}

# Start "$@" detached (own session, stdin from /dev/null, output to $LOGFILE)
# with cwd $SVC_DIR; the launched process writes its own pid to $PIDFILE
# just before exec'ing the server, so the pid is exactly the server's.
launch() {
    [[ -f "$LOGFILE" ]] && mv -f "$LOGFILE" "$LOGFILE.1"
    : >"$LOGFILE"
    rm -f "$PIDFILE"
    (
        # The server must not inherit (and so hold on to) our lock.
        if [[ -n "$LOCK_FD" ]]; then exec {LOCK_FD}>&-; fi
        cd "$SVC_DIR"
        # shellcheck disable=SC2016
        exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "$@" \
            </dev/null >>"$LOGFILE" 2>&1
    ) &
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s "$PIDFILE" ]] && return 0
        sleep 0.05
    done
    die "server process did not start (no pid file after 5 s); log: $LOGFILE"
}

log_tail() {
    printf '[%s] ---- last 40 lines of %s ----\n' "$SERVICE" "$LOGFILE" >&2
    tail -n 40 "$LOGFILE" >&2 2>/dev/null || true
    printf '[%s] ---- end of log ----\n' "$SERVICE" >&2
}

# wait_ready PID CHECK_FUNCTION: poll CHECK_FUNCTION until it succeeds. Fail
# (with the log tail) if the process dies or READY_TIMEOUT passes; on timeout
# the half-started server is killed so nothing is left behind.
wait_ready() {
    local pid="$1" check="$2" t0 deadline
    t0="$(now)"
    deadline=$((SECONDS + READY_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            log_tail
            die "server (pid $pid) exited during start-up"
        fi
        if "$check"; then
            READY_SECONDS="$(elapsed "$t0")"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log_tail
            stop_pid "$pid"
            die "server not ready after ${READY_TIMEOUT}s (killed it)"
        fi
        sleep 0.1
    done
}

# SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL.
stop_pid() {
    local pid="$1" deadline
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        [[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" == "Z" ]] && break
        if ((SECONDS >= deadline)); then
            warn "pid $pid still alive ${STOP_TIMEOUT}s after SIGTERM: sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.1
    done
    rm -f "$PIDFILE"
}

rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# --- ports -----------------------------------------------------------------

port_open() {  # port_open HOST PORT
    # shellcheck disable=SC2016  # $0/$1 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# Die if something not ours already listens on PORT (in this namespace).
require_port_free() {
    local port="$1"
    if port_open "$LOOPBACK" "$port"; then
        local who=""
        command -v ss >/dev/null && who="$(ss -ltnpH "sport = :$port" 2>/dev/null || true)"
        die "port $port is already in use by another process${who:+: $who} -- stop it or choose another port"
    fi
}

# http_status URL [METHOD]: print the HTTP status code (000 = no answer).
http_status() {
    if command -v curl >/dev/null; then
        curl -s -o /dev/null -m 5 -X "${2:-GET}" -w '%{http_code}' "$1" || true
    else
        python3 - "$1" "${2:-GET}" <<'EOF'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2]), timeout=5)
    print(r.status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
EOF
    fi
}

# --- common start/stop/status flow ------------------------------------------
# A service script defines: SERVICE, PORT, MARKER, svc_installed,
# svc_install, svc_launch (calls launch ...), svc_ready (one probe), and
# optionally svc_after_stop and SVC_DOWNLOADS=0 (install downloads nothing).

# The port the running server was started on (PORT if unknown).
# shellcheck disable=SC2153  # PORT is set by the service script
running_port() {
    local p=""
    [[ -f "$SVC_DIR/port" ]] && p="$(<"$SVC_DIR/port")"
    [[ "$p" =~ ^[0-9]+$ ]] && echo "$p" || echo "$PORT"
}

status_cmd() {
    local pid port
    if pid="$(running_pid)"; then
        port="$(running_port)"
        if same_netns "$pid"; then
            if port_open "$LOOPBACK" "$port"; then
                log "running: pid $pid, $LOOPBACK:$port, RSS $(rss_mb "$pid") MB"
            else
                log "process running (pid $pid) but port $port is not answering"
            fi
        else
            log "running: pid $pid in ANOTHER network namespace (not reachable from here), RSS $(rss_mb "$pid") MB"
        fi
        return 0
    fi
    log "stopped"
    return 3
}

start_locked() {
    local pid t0
    if pid="$(running_pid)"; then
        if [[ "$(running_port)" != "$PORT" ]]; then
            die "already running (pid $pid) on port $(running_port), not $PORT; stop it first: $CROSSQL_SERVERS_DIR/$SERVICE.sh stop"
        fi
        if ! same_netns "$pid"; then
            die "already running (pid $pid) in another network namespace, so it is unreachable from here; stop it first: $CROSSQL_SERVERS_DIR/$SERVICE.sh stop"
        fi
        if ! svc_ready; then
            log "already running (pid $pid) but not answering yet: waiting"
            wait_ready "$pid" svc_ready
        fi
        log "already running (pid $pid) on $LOOPBACK:$PORT"
        return 0
    fi
    if ! svc_installed; then
        if [[ "${SVC_DOWNLOADS:-1}" == 1 ]]; then
            require_network_for_install "$SERVICE"
            log "not installed yet: installing"
        fi
        svc_install
    fi
    require_port_free "$PORT"
    t0="$(now)"
    # Whatever ends this script before the server is ready (an error,
    # Ctrl-C) must not leave a half-started server behind.
    STARTING_PID=""
    trap 'kill_unready_server' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    svc_launch
    pid="$(<"$PIDFILE")"
    STARTING_PID="$pid"
    echo "$PORT" >"$SVC_DIR/port"
    wait_ready "$pid" svc_ready
    STARTING_PID=""
    trap - EXIT INT TERM
    log "started: pid $pid on $LOOPBACK:$PORT, ready in ${READY_SECONDS}s (launch to ready $(elapsed "$t0")s), RSS $(rss_mb "$pid") MB, log $LOGFILE"
}

# shellcheck disable=SC2317  # called by the EXIT trap in start_locked
kill_unready_server() {
    if [[ -z "$STARTING_PID" ]] && [[ -s "$PIDFILE" ]]; then STARTING_PID="$(<"$PIDFILE")"; fi
    if [[ -n "$STARTING_PID" ]] && kill -0 "$STARTING_PID" 2>/dev/null; then
        warn "start-up failed: stopping the half-started server (pid $STARTING_PID)"
        stop_pid "$STARTING_PID"
    fi
}

stop_locked() {
    local pid t0
    if pid="$(running_pid)"; then
        t0="$(now)"
        stop_pid "$pid"
        log "stopped pid $pid in $(elapsed "$t0")s"
    else
        log "not running"
    fi
    if declare -F svc_after_stop >/dev/null; then svc_after_stop; fi
}

install_cmd() {
    if svc_installed; then
        log "already installed"
        return 0
    fi
    if [[ "${SVC_DOWNLOADS:-1}" == 1 ]]; then require_network_for_install "$SERVICE"; fi
    svc_install
}

# --- python venv -----------------------------------------------------------

ensure_venv() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        command -v python3 >/dev/null || die "python3 not found (needed to create the venv $VENV)"
        log "creating venv $VENV"
        python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
    fi
}

# pip_install ARGS...: install into $VENV, serialised by a lock in STATE_DIR.
pip_install() {
    ensure_venv
    local t0 fd
    t0="$(now)"
    log "pip install $* (into $VENV)"
    exec {fd}>"$STATE_DIR/.pip.lock"
    flock -w 600 "$fd" || die "could not lock $STATE_DIR/.pip.lock"
    local rc=0
    set +e
    # (the grep only drops this machine's noise about absent local indexes)
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$@" 2>&1 \
        | grep -v "^WARNING: Location 'file:" >&2
    rc="${PIPESTATUS[0]}"
    set -e
    exec {fd}>&-
    ((rc == 0)) || die "pip install $* failed (exit $rc)"
    log "pip install done in $(elapsed "$t0")s"
}

venv_has() {  # venv_has MODULE: importable in $VENV?
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import $1" 2>/dev/null
}

# --- java ------------------------------------------------------------------

JAVA_BIN="${CROSSQL_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}"
JAVA_BIN="${JAVA_BIN:-java}"

require_java() {  # require_java MIN_MAJOR
    command -v "$JAVA_BIN" >/dev/null \
        || die "java not found ($JAVA_BIN); install a JRE >= $1, e.g. apt-get install -y openjdk-17-jre-headless"
    local v
    v="$("$JAVA_BIN" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')"
    v="${v#1.}"
    v="${v%%[.+-]*}"
    [[ "$v" =~ ^[0-9]+$ ]] || die "cannot parse the version of $JAVA_BIN"
    ((v >= $1)) || die "$JAVA_BIN is Java $v, need >= $1 (set CROSSQL_JAVA or JAVA_HOME)"
}

# Print the comment block at the top of FILE (after the #! line) as help.
print_header() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1" >&2
}
