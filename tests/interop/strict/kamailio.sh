#!/usr/bin/env bash
# Runs the imsip STRICT interop core on loopback: Kamailio as an RFC 5626
# outbound edge proxy for WebSocket clients (edge.cfg) in front of a registrar /
# IM server that challenges every request (registrar.cfg). Two Kamailio
# processes; clients only ever see the edge's WebSocket port.
#
#   tests/interop/strict/kamailio.sh start [PORT]   start (WebSocket on PORT, default a free port), print the ws:// URL
#   tests/interop/strict/kamailio.sh stop           stop both processes (by their PIDs)
#   tests/interop/strict/kamailio.sh status         print the URL and PIDs, exit 1 when not running
#
# Files (in $IMSIP_INTEROP_DIR, default <repo>/target/interop/strict):
#   edge.pid, registrar.pid   PIDs of the main Kamailio processes (each its own process group)
#   edge.log, registrar.log   their logs (stderr)
#   kamailio.port             the WebSocket port
#   ports                     WS_PORT, EDGE_PORT (edge's UDP side), REG_PORT (registrar's UDP)
#   run-edge/, run-registrar/ runtime directories
#
# Knobs (environment):
#   KAMAILIO                 the binary (default: kamailio on PATH, else /usr/sbin/kamailio)
#   KAMAILIO_NONCE_EXPIRE    digest nonce lifetime in seconds (default 300, Kamailio's default)
#   KAMAILIO_NONCE_COUNT=0   nonce_count off (default on: a fresh nonce per challenge, nc must grow)
#   KAMAILIO_ONE_TIME_NONCE=1  every nonce is good for one request only
#   KAMAILIO_FLOW_TIMER      Flow-Timer seconds (default 20); WebSocket ping after +5 s idle, close after +10 s
#   KAMAILIO_FORCE_FLOW_RR=1 flow token in the edge's Record-Route for every SUBSCRIBE from a
#                            WebSocket, even when the Contact lacks ;ob (lenient; default off)
#   KAMAILIO_LOG_LEVEL       Kamailio debug level (default 2)
#   KAMAILIO_SIP_TRACE=1     log every SIP request and reply in full (both processes)
#   KAMAILIO_SHM_MB / KAMAILIO_PKG_MB   shared / private memory per process (default 64 / 8)
#
# Only 127.0.0.1 is used. Works as root (Kamailio warns about it) or as any user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
CFG_DIR="$ROOT/tests/interop/strict"
DIR=${IMSIP_INTEROP_DIR:-$ROOT/target/interop/strict}
PORTFILE="$DIR/kamailio.port"
ROLES=(registrar edge)
# die, ports, our_pid, stop_pids, check_config, launch, main
source "$ROOT/deploy/kamailio/kamailio-lib.sh"

args_for() { # role ws_port edge_port reg_port
    local role=$1
    ARGS=(-f "$CFG_DIR/$role.cfg"
        -A "WS_PORT=$2" -A "EDGE_PORT=$3" -A "REG_PORT=$4"
        -A "LOG_LEVEL=${KAMAILIO_LOG_LEVEL:-2}")
    if [[ $role == registrar ]]; then
        ARGS+=(-A "NONCE_EXPIRE=${KAMAILIO_NONCE_EXPIRE:-300}")
        [[ ${KAMAILIO_NONCE_COUNT:-1} == 0 ]] && ARGS+=(-A NO_NONCE_COUNT)
        [[ ${KAMAILIO_ONE_TIME_NONCE:-0} == 1 ]] && ARGS+=(-A ONE_TIME_NONCE)
    else
        local ft=${KAMAILIO_FLOW_TIMER:-20}
        [[ $ft =~ ^[0-9]+$ ]] || die "bad KAMAILIO_FLOW_TIMER: $ft"
        ARGS+=(-A "FLOW_TIMER=$ft" -A "WS_KEEPALIVE=$((ft + 5))" -A "TCP_LIFETIME=$((ft + 10))")
        [[ ${KAMAILIO_FORCE_FLOW_RR:-0} == 1 ]] && ARGS+=(-A FORCE_FLOW_RR)
    fi
    [[ ${KAMAILIO_SIP_TRACE:-0} == 1 ]] && ARGS+=(-A SIP_TRACE)
    return 0
}

role_pid() { our_pid "$DIR/$1.pid" "$CFG_DIR/$1.cfg"; } # role

stop_roles() { # role...: stops them all at once; prints "role pid PID" per stopped role
    local role pid
    local -A pids=()
    for role in "$@"; do
        pid=$(role_pid "$role") && pids[$role]=$pid
        rm -f "$DIR/$role.pid"
    done
    stop_pids "${pids[@]}"
    for role in "${!pids[@]}"; do echo "$role pid ${pids[$role]}"; done
}

role_ready() { # role ws_port
    grep -q "imsip strict $1: ready" "$DIR/$1.log" && { [[ $1 != edge ]] || port_open "$2"; }
}

# Starts one role; returns 2 when a port could not be bound (retry with others).
start_role() { # role ws_port edge_port reg_port
    local role=$1
    args_for "$@"
    check_config "$DIR/check-$role.log" "configuration check failed ($role.cfg); are kamailio-websocket-modules and kamailio-outbound-modules installed?"
    launch "$role" "$DIR/$role.pid" "$DIR/$role.log" "$DIR/run-$role" 10 role_ready "$role" "$2"
}

start_both() { # ws_port edge_port reg_port: the registrar, then the edge
    local rc=0
    start_role registrar "$@" || return
    start_role edge "$@" || rc=$?
    [[ $rc == 0 ]] || stop_roles registrar >/dev/null
    return $rc
}

cmd_start() {
    prepare_start "kamailio kamailio-websocket-modules kamailio-outbound-modules"
    local role pid ws edge reg
    for role in "${ROLES[@]}"; do
        if pid=$(role_pid "$role"); then
            die "$role already running (pid $pid); stop it first"
        fi
    done
    check_port "${1:-}"
    start_on_ports "${1:-}" 3 start_both
    read -r ws edge reg <<<"${PORTS[*]}"
    echo "$ws" >"$PORTFILE"
    printf 'WS_PORT=%s\nEDGE_PORT=%s\nREG_PORT=%s\n' "$ws" "$edge" "$reg" >"$DIR/ports"
    echo "ws://127.0.0.1:$ws/sip"
}

cmd_stop() {
    local out
    out=$(stop_roles edge registrar | sort | paste -sd, - | sed 's/,/, /g')
    if [[ -z $out ]]; then
        echo "not running"
    else
        echo "stopped ($out)"
    fi
}

cmd_status() {
    local edge reg
    edge=$(role_pid edge) || edge=
    reg=$(role_pid registrar) || reg=
    if [[ -n $edge && -n $reg ]]; then
        echo "running: edge pid $edge, registrar pid $reg, ws://127.0.0.1:$(cat "$PORTFILE")/sip"
    else
        echo "not running${edge:+ (edge pid $edge alone)}${reg:+ (registrar pid $reg alone)}"
        return 1
    fi
}

main "$@"
