# Shell functions for scripts that run Kamailio on loopback, sourced by
# deploy/kamailio/kamailio.sh (from its own directory, so a copy of deploy/kamailio
# works on its own) and by the test cores tests/interop/kamailio.sh and
# tests/interop/strict/kamailio.sh. Each Kamailio runs in its own process group, is
# known again by its PID file and its command line, and is stopped by its PID only.
#
# The sourcing script sets DIR (its working directory, where the PID files and logs
# live) and ARGS (the -f and -A arguments of one Kamailio) before check_config and
# launch, and defines cmd_start; cmd_stop and cmd_status below serve a script that runs
# one Kamailio (PIDFILE, PORTFILE and CFG set), and one that runs several defines its
# own. `main "$@"` runs the command line. Only 127.0.0.1 is used.

KAMAILIO=${KAMAILIO:-$(command -v kamailio 2>/dev/null || echo /usr/sbin/kamailio)}
# Shared / private memory in MB unless KAMAILIO_SHM_MB / KAMAILIO_PKG_MB say otherwise.
DEFAULT_SHM_MB=64
DEFAULT_PKG_MB=8

die() { echo "kamailio.sh: $*" >&2; exit 1; }

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

# Dies unless $KAMAILIO is there (saying which apt PACKAGES to install); makes DIR.
prepare_start() { # packages
    [[ -x $KAMAILIO ]] || die "kamailio not found (apt-get install -y $1)"
    mkdir -p "$DIR"
}

# Dies unless PORT is empty (none asked for) or a port number nothing listens on.
check_port() { # port
    [[ -z $1 ]] && return 0
    [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)) || die "bad port: $1"
    port_open "$1" && die "port $1 is in use"
    return 0
}

# The PID in PIDFILE if that process is still our Kamailio. A PID reused by another
# process is never ours: its command line must be Kamailio started with this
# directory (-w DIR) and this config (-f CFG).
our_pid() { # pidfile cfg
    local pid cmdline
    [[ -f $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r /proc/$pid/cmdline ]]; then
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline") || return 1
        [[ $cmdline == *"-w $DIR "* && $cmdline == *"-f $2 "* ]] || return 1
    fi
    echo "$pid"
}

# TERM to each PID's process group at once (to the PID alone when it leads none),
# KILL after 5 s to any still there.
stop_pids() { # pid...
    local pid i alive
    for pid in "$@"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for i in $(seq 1 50); do
        alive=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# Stops the Kamailio of PIDFILE (see our_pid) and removes the file; prints the PID
# stopped, or returns 1 when none was running.
stop_instance() { # pidfile cfg
    local pid
    pid=$(our_pid "$1" "$2") || { rm -f "$1"; return 1; }
    rm -f "$1"
    stop_pids "$pid"
    echo "$pid"
}

# `kamailio -c` on ARGS, its output in CHECKLOG; on failure shows it and dies with MESSAGE.
check_config() { # checklog message
    if ! "$KAMAILIO" -c "${ARGS[@]}" >"$1" 2>&1; then
        cat "$1" >&2
        die "$2"
    fi
}

# Starts "$KAMAILIO" "${ARGS[@]}" in its own process group (setsid: stopping it ends
# exactly it and its children; -DD: no daemonizing, so the PID stays the one started),
# its PID in PIDFILE, its log (stderr) in LOG, runtime files in RUNDIR; waits up to
# SECONDS for the command READY... to succeed. Returns 2 when Kamailio exited because
# a port could not be bound (retry with others); dies, naming it NAME, when it exited
# otherwise or was not ready in time (then stopped).
launch() { # name pidfile log rundir seconds ready...
    local name=$1 pidfile=$2 log=$3 rundir=$4 seconds=$5 pid i
    shift 5
    mkdir -p "$rundir"
    : >"$log"
    setsid "$KAMAILIO" "${ARGS[@]}" -DD -E -w "$DIR" -Y "$rundir" \
        -m "${KAMAILIO_SHM_MB:-$DEFAULT_SHM_MB}" -M "${KAMAILIO_PKG_MB:-$DEFAULT_PKG_MB}" \
        </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
    for i in $(seq 1 $((seconds * 10))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            if grep -qiE "address already in use|bind.*failed|cannot bind" "$log"; then
                return 2
            fi
            tail -n 30 "$log" >&2
            die "$name exited during start-up (log: $log)"
        fi
        if "$@"; then
            return 0
        fi
        sleep 0.1
    done
    rm -f "$pidfile"
    stop_pids "$pid"
    tail -n 30 "$log" >&2
    die "$name did not get ready within $seconds s (log: $log)"
}

# Runs START... with COUNT different ports — the first one PORT when given, else a free
# one; the others random — up to 8 times while it returns 2 (a port was taken); sets
# PORTS to the ports it started on, or dies.
start_on_ports() { # port count start...
    local fixed=$1 count=$2 attempt rc p
    shift 2
    for attempt in 1 2 3 4 5 6 7 8; do
        PORTS=("${fixed:-$(free_port)}")
        while ((${#PORTS[@]} < count)); do
            p=$(random_port)
            [[ " ${PORTS[*]} " == *" $p "* ]] || PORTS+=("$p")
        done
        rc=0; "$@" "${PORTS[@]}" || rc=$?
        [[ $rc == 0 ]] && return 0
    done
    die "could not bind the ports (logs in $DIR)"
}

cmd_stop() {
    local pid
    if pid=$(stop_instance "$PIDFILE" "$CFG"); then
        echo "stopped (pid $pid)"
    else
        echo "not running"
    fi
}

cmd_status() {
    local pid
    if pid=$(our_pid "$PIDFILE" "$CFG"); then
        echo "running: pid $pid, ws://127.0.0.1:$(cat "$PORTFILE")/sip"
    else
        echo "not running"
        return 1
    fi
}

main() {
    case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: $0 start [PORT] | stop | status" ;;
    esac
}
