#!/usr/bin/env bash
# The robustness suite (issue "Robustness"), every step bounded by `timeout`, loopback
# only, against the EXISTING builds (pkg/ from js/build.sh, target/debug/imsip-devcore
# from `cargo build -p imsip-devcore`; nothing is rebuilt here):
#   faults    node --test faults.test.mjs   devcore killed/restarted, silent server,
#                                            frozen keep-alive, oversize frame (< 2 min)
#   timers    node --test timers.test.mjs   a timer firing early must not stop the client
#   secrets   node --test secrets.test.mjs  no secret in traces, events, errors, devcore log
#   load      node load.mjs                 1000 clients + 10,000 MESSAGEs (figures only;
#                                            ~LOAD_SECONDS + 1 min; ROBUSTNESS_SKIP_LOAD=1 skips)
#   audit     cargo audit, when cargo-audit is installed (it is not by default: see below)
# Prints one summary; logs in target/robustness/. Exits non-zero when a test step fails
# (the load figures and the audit never fail the run).
#
# Usage: tests/robustness/run.sh
# Environment: LOAD_SECONDS (180), LOAD_CLIENTS (1000), LOAD_MESSAGES (10000),
#   LOAD_RATE (100/s), ROBUSTNESS_SKIP_LOAD=1, IMSIP_DEVCORE, IMSIP_PKG.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LOGS=$ROOT/target/robustness
mkdir -p "$LOGS"
SUMMARY=()
FAILED=0

say() { echo "robustness: $*" >&2; }
need() {
  if [ ! -e "$1" ]; then
    say "missing $1: $2"
    exit 2
  fi
}
need "${IMSIP_PKG:-pkg/imsip.js}" "build the package first (bash js/build.sh)"
need "${IMSIP_DEVCORE:-target/debug/imsip-devcore}" "build the dev core first (cargo build -p imsip-devcore)"
if [ ! -d js/node_modules/ws ]; then
  say "installing js/ dev dependencies (ws) from js/package-lock.json"
  (cd js && npm ci --no-audit --no-fund) >"$LOGS/npm-ci.log" 2>&1 || { say "npm ci failed (see $LOGS/npm-ci.log)"; exit 2; }
fi

# node_test NAME LIMIT FILE: a node:test file; the summary gets its pass/fail counts.
node_test() {
  local name=$1 limit=$2 file=$3 start=$SECONDS rc
  say "$name ..."
  timeout "$limit" node --test --test-reporter=spec "$file" >"$LOGS/$name.log" 2>&1
  rc=$?
  local pass fail
  pass=$(grep -Eo '^ℹ pass [0-9]+' "$LOGS/$name.log" | grep -Eo '[0-9]+' | tail -1)
  fail=$(grep -Eo '^ℹ fail [0-9]+' "$LOGS/$name.log" | grep -Eo '[0-9]+' | tail -1)
  local verdict=PASS
  if [ "$rc" = 124 ]; then verdict="FAIL (timed out after ${limit} s)"; elif [ "$rc" != 0 ]; then verdict=FAIL; fi
  [ "$verdict" = PASS ] || FAILED=1
  SUMMARY+=("$(printf '%-8s %-32s %s passed, %s failed, %3d s  (%s)' "$name" "$verdict" "${pass:-?}" "${fail:-?}" $((SECONDS - start)) "target/robustness/$name.log")")
  if [ "$verdict" != PASS ]; then
    # The failing tests' names and first error lines.
    sed '/^✖ failing tests/,$d' "$LOGS/$name.log" | grep -E '^\s*✖ |^\s+(error|Error|AssertionError)' | head -n 12 | sed 's/^/    /' >&2
  fi
}

node_test faults 150 tests/robustness/faults.test.mjs
node_test timers 60 tests/robustness/timers.test.mjs
node_test secrets 120 tests/robustness/secrets.test.mjs

if [ "${ROBUSTNESS_SKIP_LOAD:-0}" = 1 ]; then
  SUMMARY+=("load     skipped (ROBUSTNESS_SKIP_LOAD=1)")
else
  say "load (${LOAD_CLIENTS:-1000} clients, ${LOAD_SECONDS:-180} s) ..."
  start=$SECONDS
  if timeout $(( ${LOAD_SECONDS:-180} + 300 )) node --expose-gc tests/robustness/load.mjs >"$LOGS/load.md" 2>"$LOGS/load.log"; then
    line=$(grep -E '^Expected: ' "$LOGS/load.md" | sed 's/^Expected: [^.]*\. //')
    SUMMARY+=("$(printf '%-8s %-32s %s %3d s  (%s)' load "figures printed" "$line" $((SECONDS - start)) target/robustness/load.md)")
  else
    SUMMARY+=("$(printf '%-8s %-32s (%s)' load "DID NOT FINISH" target/robustness/load.log)")
    tail -n 5 "$LOGS/load.log" | sed 's/^/    /' >&2
  fi
fi

# cargo-audit is not installed by this script: `cargo install cargo-audit` compiles for
# more than 5 minutes on 2 cores, and `cargo audit` then clones its advisory database
# from GitHub, which these machines cannot reach. Run it when someone installed it.
if cargo audit --version >/dev/null 2>&1; then
  say "cargo audit ..."
  if timeout 120 cargo audit >"$LOGS/audit.log" 2>&1; then
    SUMMARY+=("audit    no advisories (target/robustness/audit.log)")
  else
    SUMMARY+=("audit    did not pass or could not fetch the advisory DB: $(grep -m1 -iE 'error|vulnerab' "$LOGS/audit.log")")
  fi
else
  SUMMARY+=("audit    skipped: cargo-audit not installed (needs the RustSec advisory DB from GitHub, unreachable here)")
fi

echo
echo "== robustness summary"
printf '%s\n' "${SUMMARY[@]}"
if [ -f "$LOGS/load.md" ] && [ "${ROBUSTNESS_SKIP_LOAD:-0}" != 1 ]; then
  sed -n '/^| figure/,/^$/p' "$LOGS/load.md"
fi
exit $FAILED
