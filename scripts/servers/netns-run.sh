#!/usr/bin/env bash
# Run a command in a fresh private network namespace whose only interface is
# loopback (brought up): every server started in it is reachable on
# 127.0.0.1 from that command and its children, and from nowhere else --
# even one that binds 0.0.0.0, like DynamoDB Local. The namespace has no
# other network: install everything (scripts/servers/all.sh install) first.
#
#   scripts/servers/netns-run.sh CMD [ARGS...]
#   scripts/servers/netns-run.sh bash          # an interactive shell in one
#
# CROSSQL_NETNS=auto (default): as root, "unshare --net"; not root, an
#     unprivileged "unshare --user --map-root-user --net" where the kernel
#     allows it; else CMD runs without a namespace (a warning says so).
# CROSSQL_NETNS=required: like auto, but fail rather than run without one.
# CROSSQL_NETNS=off: run CMD as it is, without a namespace.
# Already inside a loopback-only namespace: CMD runs as it is.
#
# The namespace lives as long as any process in it: stop the servers you
# started in it (with-servers.sh does) or they linger, unreachable.
# CMD sees CROSSQL_IN_NETNS=1.
set -euo pipefail

SERVICE=netns
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SELF="$CROSSQL_SERVERS_DIR/netns-run.sh"

if [[ $# -eq 0 || "$1" == -h || "$1" == --help ]]; then
    print_header "$SELF"
    exit 2
fi

bring_lo_up() {
    if command -v ip >/dev/null; then
        ip link set lo up && return 0
        warn "'ip link set lo up' failed; trying with python3"
    fi
    command -v python3 >/dev/null || die "cannot bring lo up: neither ip (apt-get install -y iproute2) nor python3 is available"
    # SIOCGIFFLAGS / SIOCSIFFLAGS with IFF_UP, as "ip link set lo up" does.
    python3 - <<'EOF' || die "cannot bring lo up (python3 ioctl failed)"
import fcntl, socket, struct
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ifreq = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b"\0" * 14))
EOF
}

lo_works() {
    # Listen on 127.0.0.1 and connect to it.
    timeout 5 python3 - <<'EOF' 2>/dev/null
import socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
socket.create_connection(srv.getsockname(), timeout=2).close()
EOF
}

# --- second stage: we are the first process inside the new namespace --------
if [[ "${_CROSSQL_NETNS_INNER:-}" == 1 ]]; then
    unset _CROSSQL_NETNS_INNER
    bring_lo_up
    if command -v python3 >/dev/null && ! lo_works; then
        die "lo is up but 127.0.0.1 does not accept connections"
    fi
    export CROSSQL_IN_NETNS=1
    exec "$@"
fi

# --- first stage ---------------------------------------------------------------
mode="${CROSSQL_NETNS:-auto}"
case "$mode" in auto | required | off) ;; *) die "CROSSQL_NETNS must be auto, required or off (got '$mode')" ;; esac

if loopback_only; then
    export CROSSQL_IN_NETNS=1
    exec "$@"  # already in a private namespace
fi
if [[ "$mode" == off ]]; then
    warn "CROSSQL_NETNS=off: running without a private network namespace"
    exec "$@"
fi
command -v unshare >/dev/null || die "unshare not found (apt-get install -y util-linux)"

if [[ $EUID -eq 0 ]]; then
    _CROSSQL_NETNS_INNER=1 exec unshare --net -- "$SELF" "$@"
fi
if unshare --user --map-root-user --net true 2>/dev/null; then
    _CROSSQL_NETNS_INNER=1 exec unshare --user --map-root-user --net -- "$SELF" "$@"
fi
if [[ "$mode" == required ]]; then
    die "cannot create a network namespace: not root, and unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)"
fi
warn "cannot create a network namespace (not root, no unprivileged user namespaces): running without one. Servers that cannot bind to loopback alone (DynamoDB Local) will listen on all interfaces."
exec "$@"
