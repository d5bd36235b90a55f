#!/usr/bin/env bash
# The benchmarks of issue "Performance" (`cargo xtask bench` runs this after
# building pkg/): parse speed (Node and native), download size, memory per
# registered client, CPU per registration and start-up, imsip against JsSIP
# 3.13.8 and SIP.js 0.21.2. Prints ONE table on stdout (progress on stderr) and
# writes target/bench/report.md and target/bench/report.json; every step's full
# output is in target/bench/logs/. A benchmark prints figures and ratios: no
# figure fails the run (a step that cannot run at all does, after the table).
#
# Usage: benches/run.sh
# Environment:
#   BENCH_CLIENTS   registered clients per library for memory and CPU (default 1000)
#   BENCH_CORE      kamailio (default; tests/interop/kamailio.sh) or devcore
#                   (target/debug/imsip-devcore with a generated users file);
#                   when Kamailio cannot start, devcore is used and the report says so
# Every client talks to 127.0.0.1 only; each step is bounded by `timeout`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
LOGS=$OUT/logs
N=${BENCH_CLIENTS:-1000}
CORE=${BENCH_CORE:-kamailio}
mkdir -p "$LOGS"
rm -f "$OUT"/*.json "$OUT/report.md"
# report.mjs ignores criterion results older than this run.
export BENCH_STARTED_MS=$(($(date +%s) * 1000))
FAILED=()

say() { echo "bench: $*" >&2; }
step() { # name timeout-seconds command...
  local name=$1 limit=$2
  shift 2
  say "$name ..."
  if timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1; then
    return 0
  fi
  say "$name FAILED (see target/bench/logs/$name.log):"
  tail -n 5 "$LOGS/$name.log" | sed 's/^/  /' >&2
  FAILED+=("$name")
  return 1
}

# ── prerequisites: pkg/ and the JS libraries ──
if [ ! -f pkg/imsip.js ] || [ ! -f pkg/imsip_core_bg.wasm ]; then
  step build-package 900 bash js/build.sh || exit 1
fi
if [ ! -x benches/js/node_modules/.bin/esbuild ] ||
   [ benches/js/package-lock.json -nt benches/js/node_modules/.package-lock.json ]; then
  step npm-ci 300 bash -c 'cd benches/js && npm ci --no-audit --no-fund' || exit 1
fi

# ── 1. parse: native criterion bench, then Node (imsip vs JsSIP vs SIP.js) ──
step parse-native 600 cargo bench --bench parse -- --warm-up-time 1 --measurement-time 3
step parse-node 180 node benches/js/parse.mjs --json "$OUT/parse.json"

# ── 2. size ──
step size 300 bash benches/size.sh --json "$OUT/size.json"

# ── the SIP core for 3–5 ──
CORE_NAME=
URL=
DEVCORE_PID=
TMP=$(mktemp -d)
export IMSIP_INTEROP_DIR=$OUT/kamailio # our own Kamailio instance, not the tests'
cleanup() {
  if [ "$CORE_NAME" = kamailio ]; then
    bash tests/interop/kamailio.sh stop >/dev/null 2>&1 || true
  fi
  if [ -n "$DEVCORE_PID" ]; then
    kill "$DEVCORE_PID" 2>/dev/null || true
    wait "$DEVCORE_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$CORE" = kamailio ] && [ -x tests/interop/kamailio.sh ]; then
  say "starting Kamailio (tests/interop/kamailio.sh) ..."
  if URL=$(timeout 60 bash tests/interop/kamailio.sh start 2>"$LOGS/kamailio-start.log"); then
    CORE_NAME=kamailio
    CORE_DESC="Kamailio $(kamailio -v 2>/dev/null | sed -n 's/^version: kamailio \([0-9.]*\).*/\1/p' | head -1) (tests/interop)"
  else
    say "Kamailio did not start (target/bench/logs/kamailio-start.log): using imsip-devcore"
    URL=
  fi
fi
USERS=2000 # Kamailio's load-test users: user0000..user1999
if [ -z "$URL" ]; then
  # The dev core with the same kind of users: user0000.. (≥ 2000), pw-userNNNN.
  USERS=$(( 2 * N > 2000 ? 2 * N : 2000 ))
  {
    echo 'domain = "imsip.test"'
    echo 'realm = "imsip.test"'
    for ((i = 0; i < USERS; i++)); do
      printf '[[user]]\naor = "sip:user%04d@imsip.test"\nprivate_id = "user%04d"\npassword = "pw-user%04d"\n' "$i" "$i" "$i"
    done
  } >"$TMP/users.toml"
  [ -x target/debug/imsip-devcore ] || step build-devcore 900 cargo build -p imsip-devcore
  PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  RUST_LOG=warn target/debug/imsip-devcore --listen "127.0.0.1:$PORT" --db "$TMP/devcore.sqlite" \
    --users "$TMP/users.toml" >"$LOGS/devcore.log" 2>&1 &
  DEVCORE_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
  done
  URL="ws://127.0.0.1:$PORT/sip"
  CORE_NAME=devcore
  CORE_DESC="imsip-devcore (target/debug)"
fi
say "core: $CORE_DESC at $URL"
printf '{ "name": "%s", "description": "%s", "url": "%s", "clients": %d }\n' \
  "$CORE_NAME" "$CORE_DESC" "$URL" "$N" >"$OUT/core.json"

# ── 3 + 4. memory per registered client and CPU per registration ──
# imsip uses user0000.., JsSIP the next N users (wrapping round at $USERS).
CLIENTS=(node --expose-gc benches/js/clients.mjs --url "$URL" --n "$N" --users "$USERS")
step clients-ws 180 "${CLIENTS[@]}" --lib ws --json "$OUT/clients-ws.json"
step clients-imsip 180 "${CLIENTS[@]}" --lib imsip --first 0 --json "$OUT/clients-imsip.json"
step clients-jssip 180 "${CLIENTS[@]}" --lib jssip --first "$((N % USERS))" --json "$OUT/clients-jssip.json"

# ── 5. start-up in headless Chromium ──
step startup 180 node benches/js/startup.mjs --url "$URL" --runs 7 --first "$((USERS - 10))" --json "$OUT/startup.json"

# ── the table ──
node benches/js/report.mjs "$OUT"
if [ ${#FAILED[@]} -gt 0 ]; then
  say "steps that could not run: ${FAILED[*]}"
  exit 1
fi
