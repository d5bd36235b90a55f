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
KAMAILIO=${KAMAILIO:-$(command -v kamailio 2>/dev/null || echo /usr/sbin/kamailio)}
ROLES=(registrar edge)

die() { echo "kamailio.sh: $*" >&2; exit 1; }

running_pid() { # role: the PID in <role>.pid if that process is still our Kamailio
    local f="$DIR/$1.pid" pid
    [[ -f $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    # A PID reused by another process is never ours: its command line must be
    # Kamailio started with this directory (-w DIR) and this role's config.
    if [[ -r /proc/$pid/cmdline ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-w $DIR " || return 1
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "/$1.cfg " || return 1
    fi
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

random_port() { echo $((20000 + (RANDOM * 32768 + RANDOM) % 40000)); }

free_port() {
    local p i
    for i in $(seq 1 100); do
        p=$(random_port)
        if ! port_open "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

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

stop_roles() { # role...: TERM to each process group at once, KILL after 5 s; prints "role pid" per stopped role
    local role pid i alive
    local -A pids=()
    for role in "$@"; do
        if pid=$(running_pid "$role"); then
            pids[$role]=$pid
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        fi
        rm -f "$DIR/$role.pid"
    done
    for i in $(seq 1 50); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for role in "${!pids[@]}"; do
        pid=${pids[$role]}
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "$role pid $pid"
    done
}

# Starts one role; returns 2 when a port could not be bound (retry with others).
start_role() { # role ws_port edge_port reg_port
    local role=$1 ws=$2 pid i log="$DIR/$1.log"
    args_for "$@"
    if ! "$KAMAILIO" -c "${ARGS[@]}" >"$DIR/check-$role.log" 2>&1; then
        cat "$DIR/check-$role.log" >&2
        die "configuration check failed ($role.cfg); are kamailio-websocket-modules and kamailio-outbound-modules installed?"
    fi
    mkdir -p "$DIR/run-$role"
    : >"$log"
    # setsid: each Kamailio and its children form their own process group, so
    # `stop` ends exactly them. -DD: no daemonizing (the PID stays the one started).
    setsid "$KAMAILIO" "${ARGS[@]}" -DD -E -w "$DIR" -Y "$DIR/run-$role" \
        -m "${KAMAILIO_SHM_MB:-64}" -M "${KAMAILIO_PKG_MB:-8}" \
        </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/$role.pid"
    for i in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$DIR/$role.pid"
            if grep -qiE "address already in use|bind.*failed|cannot bind" "$log"; then
                return 2
            fi
            tail -n 30 "$log" >&2
            die "$role exited during start-up (log: $log)"
        fi
        if grep -q "imsip strict $role: ready" "$log" && { [[ $role != edge ]] || port_open "$ws"; }; then
            return 0
        fi
        sleep 0.1
    done
    stop_roles "$role" >/dev/null
    tail -n 30 "$log" >&2
    die "$role did not get ready within 10 s (log: $log)"
}

cmd_start() {
    [[ -x $KAMAILIO ]] || die "kamailio not found (apt-get install -y kamailio kamailio-websocket-modules kamailio-outbound-modules)"
    mkdir -p "$DIR"
    local role pid
    for role in "${ROLES[@]}"; do
        if pid=$(running_pid "$role"); then
            die "$role already running (pid $pid); stop it first"
        fi
    done
    local fixed=${1:-} ws edge reg rc attempt
    if [[ -n $fixed ]]; then
        [[ $fixed =~ ^[0-9]+$ ]] || die "bad port: $fixed"
        port_open "$fixed" && die "port $fixed is in use"
    fi
    for attempt in 1 2 3 4 5 6 7 8; do
        ws=${fixed:-$(free_port)}
        edge=$(random_port)
        reg=$(random_port)
        [[ $edge != "$ws" && $reg != "$ws" && $edge != "$reg" ]] || continue
        rc=0; start_role registrar "$ws" "$edge" "$reg" || rc=$?
        if [[ $rc == 0 ]]; then
            rc=0; start_role edge "$ws" "$edge" "$reg" || rc=$?
            [[ $rc == 0 ]] && break
            stop_roles registrar >/dev/null
        fi
    done
    [[ $rc == 0 ]] || die "could not bind the ports (logs: $DIR/edge.log, $DIR/registrar.log)"
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
    edge=$(running_pid edge) || edge=
    reg=$(running_pid registrar) || reg=
    if [[ -n $edge && -n $reg ]]; then
        echo "running: edge pid $edge, registrar pid $reg, ws://127.0.0.1:$(cat "$PORTFILE")/sip"
    else
        echo "not running${edge:+ (edge pid $edge alone)}${reg:+ (registrar pid $reg alone)}"
        return 1
    fi
}

case ${1:-} in
start) shift; cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) die "usage: $0 start [PORT] | stop | status" ;;
esac
