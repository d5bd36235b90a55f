#!/usr/bin/env bash
# Runs the imsip interop Kamailio (tests/interop/kamailio.cfg) on loopback.
#
#   tests/interop/kamailio.sh start [PORT]   start on PORT (default: a free port), print the ws:// URL
#   tests/interop/kamailio.sh stop           stop the instance started here (by its PID)
#   tests/interop/kamailio.sh status         print the URL and PID, exit 1 when not running
#
# Files (in $IMSIP_INTEROP_DIR, default <repo>/target/interop):
#   kamailio.pid  PID of the main Kamailio process (its own process group)
#   kamailio.log  Kamailio's log (stderr)
#   kamailio.port the port it listens on
#   run/          Kamailio's runtime directory
#
# Knobs (environment):
#   KAMAILIO            the binary (default: kamailio on PATH, else /usr/sbin/kamailio)
#   KAMAILIO_NONCE_EXPIRE   digest nonce lifetime in seconds (default 300)
#   KAMAILIO_LOG_LEVEL      Kamailio debug level (default 2)
#   KAMAILIO_SIP_TRACE=1    log every SIP request and reply in full
#   KAMAILIO_SHM_MB / KAMAILIO_PKG_MB   shared / private memory (default 256 / 16)
#
# Only 127.0.0.1 is used. Works as root (Kamailio warns about it) or as any user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFG="$ROOT/tests/interop/kamailio.cfg"
DIR=${IMSIP_INTEROP_DIR:-$ROOT/target/interop}
PIDFILE="$DIR/kamailio.pid"
LOG="$DIR/kamailio.log"
PORTFILE="$DIR/kamailio.port"
KAMAILIO=${KAMAILIO:-$(command -v kamailio 2>/dev/null || echo /usr/sbin/kamailio)}

die() { echo "kamailio.sh: $*" >&2; exit 1; }

running_pid() {
    [[ -f $PIDFILE ]] || return 1
    local pid
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local p i
    for i in $(seq 1 100); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! port_open "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

defines() {
    local port=$1
    ARGS=(-f "$CFG" -A "WS_PORT=$port"
        -A "NONCE_EXPIRE=${KAMAILIO_NONCE_EXPIRE:-300}"
        -A "LOG_LEVEL=${KAMAILIO_LOG_LEVEL:-2}")
    # Room for a 1,000-client benchmark, within what the hard limit allows.
    local hard want=16384
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited && $hard -lt $want ]]; then
        want=$hard
    fi
    ARGS+=(-A "OPEN_FILES_LIMIT=$want")
    if [[ ${KAMAILIO_SIP_TRACE:-0} == 1 ]]; then
        ARGS+=(-A SIP_TRACE)
    fi
}

# Starts on $1; returns 2 when the port could not be bound (so a chosen port can be retried).
start_on() {
    local port=$1 pid i
    defines "$port"
    if ! "$KAMAILIO" -c "${ARGS[@]}" >"$DIR/check.log" 2>&1; then
        cat "$DIR/check.log" >&2
        die "configuration check failed ($CFG); is kamailio-websocket-modules installed?"
    fi
    : >"$LOG"
    # setsid: Kamailio and its children form their own process group, so `stop`
    # can end exactly them. -DD: no daemonizing (the PID stays the one started).
    setsid "$KAMAILIO" "${ARGS[@]}" -DD -E -w "$DIR" -Y "$DIR/run" \
        -m "${KAMAILIO_SHM_MB:-256}" -M "${KAMAILIO_PKG_MB:-16}" \
        </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    echo "$port" >"$PORTFILE"
    for i in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            if grep -qiE "address already in use|bind.*failed|cannot bind" "$LOG"; then
                return 2
            fi
            tail -n 30 "$LOG" >&2
            die "kamailio exited during start-up (log: $LOG)"
        fi
        if port_open "$port" && grep -q "users loaded" "$LOG"; then
            return 0
        fi
        sleep 0.1
    done
    kill -TERM -- "-$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    tail -n 30 "$LOG" >&2
    die "kamailio did not open port $port within 10 s (log: $LOG)"
}

cmd_start() {
    [[ -x $KAMAILIO ]] || die "kamailio not found (apt-get install -y kamailio kamailio-websocket-modules)"
    mkdir -p "$DIR/run"
    if pid=$(running_pid); then
        die "already running (pid $pid, port $(cat "$PORTFILE" 2>/dev/null)); stop it first"
    fi
    local port=${1:-} rc attempt
    if [[ -n $port ]]; then
        [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
        port_open "$port" && die "port $port is in use"
        rc=0; start_on "$port" || rc=$?
        [[ $rc == 0 ]] || die "could not bind 127.0.0.1:$port (log: $LOG)"
    else
        for attempt in 1 2 3 4 5; do
            port=$(free_port)
            rc=0; start_on "$port" || rc=$?
            [[ $rc == 0 ]] && break
        done
        [[ $rc == 0 ]] || die "could not bind a free port (log: $LOG)"
    fi
    echo "ws://127.0.0.1:$port/sip"
}

cmd_stop() {
    local pid i
    if ! pid=$(running_pid); then
        rm -f "$PIDFILE"
        echo "not running"
        return 0
    fi
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    echo "stopped (pid $pid)"
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "running: pid $pid, ws://127.0.0.1:$(cat "$PORTFILE")/sip"
    else
        echo "not running"
        return 1
    fi
}

case ${1:-} in
start) shift; cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) die "usage: $0 start [PORT] | stop | status" ;;
esac
