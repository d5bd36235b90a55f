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
#                         (~130 KB of shared memory per WebSocket connection: 64 MB
#                         serves about 400 at once; README, "Running it for real")
#
# Only 127.0.0.1 is used. Works as root (Kamailio warns about it) or as any user.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CFG="$HERE/kamailio.cfg"
IMSIP_SQL="$HERE/imsip-create.sql"
DIR=${IMSIP_DEPLOY_DIR:-$ROOT/target/deploy-kamailio}
PIDFILE="$DIR/kamailio.pid"
LOG="$DIR/kamailio.log"
PORTFILE="$DIR/kamailio.port"
SCHEMA=${KAMAILIO_SQLITE_SCHEMA:-/usr/share/kamailio/db_sqlite}
# die, ports, our_pid, stop_instance, check_config, launch, cmd_stop, cmd_status, main
source "$HERE/kamailio-lib.sh"

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

ready() { grep -q "imsip deploy: ready" "$LOG" && port_open "$1"; }

# Starts on the given ports; returns 2 when a port could not be bound (retry with others).
start_on() { # ws_port node_port silo_port
    args_for "$@"
    check_config "$DIR/check.log" "configuration check failed ($CFG); are kamailio-websocket-modules, kamailio-sqlite-modules and kamailio-xml-modules installed?"
    launch Kamailio "$PIDFILE" "$LOG" "$DIR/run" 15 ready "$1"
}

cmd_start() {
    prepare_start "kamailio kamailio-websocket-modules kamailio-sqlite-modules kamailio-xml-modules sqlite3"
    local pid ws node silo
    if pid=$(our_pid "$PIDFILE" "$CFG"); then
        die "already running (pid $pid); stop it first"
    fi
    check_port "${1:-}"
    db_args
    start_on_ports "${1:-}" 3 start_on
    read -r ws node silo <<<"${PORTS[*]}"
    echo "$ws" >"$PORTFILE"
    printf 'WS_PORT=%s\nNODE_PORT=%s\nSILO_PORT=%s\n' "$ws" "$node" "$silo" >"$DIR/ports"
    echo "ws://127.0.0.1:$ws/sip"
}

main "$@"
