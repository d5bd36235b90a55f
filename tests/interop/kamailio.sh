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
#   KAMAILIO_SHM_MB / KAMAILIO_PKG_MB   shared / private memory (default 1024 / 16)
#
# Only 127.0.0.1 is used. Works as root (Kamailio warns about it) or as any user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFG="$ROOT/tests/interop/kamailio.cfg"
DIR=${IMSIP_INTEROP_DIR:-$ROOT/target/interop}
PIDFILE="$DIR/kamailio.pid"
LOG="$DIR/kamailio.log"
PORTFILE="$DIR/kamailio.port"
# die, ports, our_pid, check_config, launch, cmd_stop, cmd_status, main
source "$ROOT/deploy/kamailio/kamailio-lib.sh"
# More memory than the lib's 64 / 8 MB: room for the benchmark's clients (1,000 each of
# the bare-socket floor, imsip and JsSIP, all connected before the JsSIP step ends:
# 256 MB ran out near the 2,000th connection).
DEFAULT_SHM_MB=1024
DEFAULT_PKG_MB=16

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

ready() { port_open "$1" && grep -q "users loaded" "$LOG"; }

# Starts on $1; returns 2 when the port could not be bound (so a chosen port can be retried).
start_on() {
    defines "$1"
    check_config "$DIR/check.log" "configuration check failed ($CFG); is kamailio-websocket-modules installed?"
    launch kamailio "$PIDFILE" "$LOG" "$DIR/run" 10 ready "$1"
}

cmd_start() {
    prepare_start "kamailio kamailio-websocket-modules"
    local pid port
    if pid=$(our_pid "$PIDFILE" "$CFG"); then
        die "already running (pid $pid, port $(cat "$PORTFILE" 2>/dev/null)); stop it first"
    fi
    check_port "${1:-}"
    start_on_ports "${1:-}" 1 start_on
    port=${PORTS[0]}
    echo "$port" >"$PORTFILE"
    echo "ws://127.0.0.1:$port/sip"
}

main "$@"
