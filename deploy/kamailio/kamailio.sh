#!/usr/bin/env bash
# Runs the imsip deployment core (deploy/kamailio/kamailio.cfg: Kamailio as SIP/IP
# core and OMA IM Server, state in SQL) on loopback, for trying it out and for
# tests. One Kamailio instance per directory.
#
#   deploy/kamailio/kamailio.sh start [PORT]   start (WebSocket on PORT, default a free port), print the ws:// URL
#   deploy/kamailio/kamailio.sh stop           stop the instance started from this directory (by its PID)
#   deploy/kamailio/kamailio.sh status         print the URL and PID, exit 1 when not running
#
# Files (in $IMSIP_DEPLOY_DIR, default <repo>/target/deploy-kamailio):
#   kamailio.pid    PID of the main Kamailio process (its own process group)
#   kamailio.log    its log (stderr)
#   kamailio.port   the WebSocket port
#   ports           WS_PORT, NODE_PORT (node socket), SILO_PORT (stored-message loop)
#   imsip.sqlite    the database, created when missing (unless IMSIP_DEPLOY_DB or
#                   KAMAILIO_DB_URL say otherwise)
#   run/            Kamailio's runtime directory
#
# The SQLite database is made with the sqlite3 CLI (apt-get install -y sqlite3) from
# Kamailio's own schema files (Debian: /usr/share/kamailio/db_sqlite, package
# kamailio) plus deploy/kamailio/imsip-create.sql, and holds the users: realm and
# domain imsip.test, alice/alice-secret, bob/bob-secret, carol/carol-secret,
# user0000..user0049 with pw-userNNNN.
#
# Knobs (environment):
#   KAMAILIO              the binary (default: kamailio on PATH, else /usr/sbin/kamailio)
#   IMSIP_DEPLOY_DB       SQLite file to use (created when missing); several instances
#                         (each its own IMSIP_DEPLOY_DIR) may share one: see README
#   KAMAILIO_DB_URL       any Kamailio db URL instead (postgres://..., mysql://...):
#                         nothing is created, the schema must be there (README)
#   KAMAILIO_SQLITE_SCHEMA  directory of Kamailio's SQLite schema files
#   KAMAILIO_NONCE_EXPIRE digest nonce lifetime in seconds (default 300)
#   KAMAILIO_WORKERS      workers per socket (default 4)
#   KAMAILIO_LOG_LEVEL    Kamailio debug level (default 2)
#   KAMAILIO_SIP_TRACE=1  log every SIP request and reply in full
#   KAMAILIO_SHM_MB / KAMAILIO_PKG_MB   shared / private memory (default 64 / 8)
#
# Only 127.0.0.1 is used. Works as root (Kamailio warns about it) or as any user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CFG="$ROOT/deploy/kamailio/kamailio.cfg"
IMSIP_SQL="$ROOT/deploy/kamailio/imsip-create.sql"
DIR=${IMSIP_DEPLOY_DIR:-$ROOT/target/deploy-kamailio}
PIDFILE="$DIR/kamailio.pid"
LOG="$DIR/kamailio.log"
PORTFILE="$DIR/kamailio.port"
KAMAILIO=${KAMAILIO:-$(command -v kamailio 2>/dev/null || echo /usr/sbin/kamailio)}
SCHEMA=${KAMAILIO_SQLITE_SCHEMA:-/usr/share/kamailio/db_sqlite}

die() { echo "kamailio.sh: $*" >&2; exit 1; }

running_pid() { # the PID in kamailio.pid if that process is still our Kamailio
    local pid
    [[ -f $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    # A PID reused by another process is never ours: its command line must be
    # Kamailio started with this directory (-w DIR) and this config.
    if [[ -r /proc/$pid/cmdline ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-w $DIR " || return 1
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-f $CFG " || return 1
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

# The SQLite database with Kamailio's tables, ours and the users; built in a
# temporary file and moved into place, so a half-made file is never used.
make_sqlite_db() {
    local db=$1 tmp sql f i n
    command -v sqlite3 >/dev/null || die "the sqlite3 CLI is needed to create $db (apt-get install -y sqlite3)"
    for f in standard auth_db usrloc msilo; do
        [[ -r $SCHEMA/$f-create.sql ]] || die "Kamailio's SQLite schema $SCHEMA/$f-create.sql is missing (apt-get install -y kamailio; or set KAMAILIO_SQLITE_SCHEMA)"
    done
    mkdir -p "$(dirname "$db")"
    tmp="$db.tmp.$$"
    sql="$tmp.sql"
    rm -f "$tmp" "$sql"
    {
        echo "PRAGMA journal_mode=WAL;"
        echo "BEGIN;"
        for f in standard auth_db usrloc msilo; do cat "$SCHEMA/$f-create.sql"; done
        cat "$IMSIP_SQL"
        echo "INSERT INTO subscriber (username, domain, password) VALUES"
        echo "  ('alice', 'imsip.test', 'alice-secret'),"
        echo "  ('bob', 'imsip.test', 'bob-secret'),"
        echo "  ('carol', 'imsip.test', 'carol-secret'),"
        for i in $(seq 0 49); do
            printf -v n '%04d' "$i"
            echo "  ('user$n', 'imsip.test', 'pw-user$n')$([[ $i == 49 ]] && echo ';' || echo ',')"
        done
        echo "COMMIT;"
    } >"$sql"
    if ! sqlite3 "$tmp" <"$sql" >/dev/null; then
        rm -f "$tmp" "$sql"
        die "could not create $db"
    fi
    rm -f "$sql"
    mv "$tmp" "$db"
}

db_args() { # sets DB_ARGS for the database in use (creating a missing SQLite file)
    local url db
    if [[ -n ${KAMAILIO_DB_URL:-} ]]; then
        url=$KAMAILIO_DB_URL
    else
        db=${IMSIP_DEPLOY_DB:-$DIR/imsip.sqlite}
        [[ $db == /* ]] || db="$PWD/$db"
        [[ -f $db ]] || make_sqlite_db "$db"
        url="sqlite:///$db" # sqlite:// + / + the absolute path
    fi
    DB_ARGS=(-A "DBURL=\"$url\"" -A "SQLCON=\"db=>$url\"")
    case $url in
    postgres://*) DB_ARGS+=(-A WITH_PGSQL) ;;
    mysql://*) DB_ARGS+=(-A WITH_MYSQL) ;;
    sqlite://*) ;;
    *) die "unsupported KAMAILIO_DB_URL scheme: $url" ;;
    esac
}

args_for() { # ws_port node_port silo_port
    local workers=${KAMAILIO_WORKERS:-4}
    [[ $workers =~ ^[1-9][0-9]*$ ]] || die "bad KAMAILIO_WORKERS: $workers"
    ARGS=(-f "$CFG"
        -A "LISTEN_IP=127.0.0.1" -A "WS_PORT=$1"
        -A "NODE_IP=127.0.0.1" -A "NODE_PORT=$2" -A "NODE_ID=\"127.0.0.1:$2\""
        -A "SILO_PORT=$3" -A "SILO_URI=\"sip:127.0.0.1:$3\""
        -A "NONCE_EXPIRE=${KAMAILIO_NONCE_EXPIRE:-300}"
        -A "WORKERS=$workers"
        -A "LOG_LEVEL=${KAMAILIO_LOG_LEVEL:-2}"
        "${DB_ARGS[@]}")
    [[ ${KAMAILIO_SIP_TRACE:-0} == 1 ]] && ARGS+=(-A SIP_TRACE)
    return 0
}

stop_instance() { # TERM to the process group, KILL after 5 s; prints the PID stopped
    local pid i
    pid=$(running_pid) || { rm -f "$PIDFILE"; return 1; }
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "$pid"
}

# Starts on the given ports; returns 2 when a port could not be bound (retry with others).
start_on() { # ws_port node_port silo_port
    local ws=$1 pid i
    args_for "$@"
    if ! "$KAMAILIO" -c "${ARGS[@]}" >"$DIR/check.log" 2>&1; then
        cat "$DIR/check.log" >&2
        die "configuration check failed ($CFG); are kamailio-websocket-modules, kamailio-sqlite-modules and kamailio-xml-modules installed?"
    fi
    mkdir -p "$DIR/run"
    : >"$LOG"
    # setsid: Kamailio and its children form their own process group, so `stop`
    # ends exactly them. -DD: no daemonizing (the PID stays the one started).
    setsid "$KAMAILIO" "${ARGS[@]}" -DD -E -w "$DIR" -Y "$DIR/run" \
        -m "${KAMAILIO_SHM_MB:-64}" -M "${KAMAILIO_PKG_MB:-8}" \
        </dev/null >>"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    for i in $(seq 1 150); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            if grep -qiE "address already in use|bind.*failed|cannot bind" "$LOG"; then
                return 2
            fi
            tail -n 30 "$LOG" >&2
            die "Kamailio exited during start-up (log: $LOG)"
        fi
        if grep -q "imsip deploy: ready" "$LOG" && port_open "$ws"; then
            return 0
        fi
        sleep 0.1
    done
    stop_instance >/dev/null || true
    tail -n 30 "$LOG" >&2
    die "Kamailio did not get ready within 15 s (log: $LOG)"
}

cmd_start() {
    [[ -x $KAMAILIO ]] || die "kamailio not found (apt-get install -y kamailio kamailio-websocket-modules kamailio-sqlite-modules kamailio-xml-modules sqlite3)"
    mkdir -p "$DIR"
    local pid fixed=${1:-} ws node silo rc=1 attempt
    if pid=$(running_pid); then
        die "already running (pid $pid); stop it first"
    fi
    if [[ -n $fixed ]]; then
        [[ $fixed =~ ^[0-9]+$ ]] && ((fixed > 0 && fixed < 65536)) || die "bad port: $fixed"
        port_open "$fixed" && die "port $fixed is in use"
    fi
    db_args
    for attempt in 1 2 3 4 5 6 7 8; do
        ws=${fixed:-$(free_port)}
        node=$(random_port)
        silo=$(random_port)
        [[ $node != "$ws" && $silo != "$ws" && $node != "$silo" ]] || continue
        rc=0; start_on "$ws" "$node" "$silo" || rc=$?
        [[ $rc == 0 ]] && break
    done
    [[ $rc == 0 ]] || die "could not bind the ports (log: $LOG)"
    echo "$ws" >"$PORTFILE"
    printf 'WS_PORT=%s\nNODE_PORT=%s\nSILO_PORT=%s\n' "$ws" "$node" "$silo" >"$DIR/ports"
    echo "ws://127.0.0.1:$ws/sip"
}

cmd_stop() {
    local pid
    if pid=$(stop_instance); then
        echo "stopped (pid $pid)"
    else
        echo "not running"
    fi
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
