#!/usr/bin/env bash
# Runs each fuzz target for N seconds (default 60), one after the other, and prints
# executions and crashes per target.
#
#   fuzz/run.sh [seconds] [target...]      e.g. fuzz/run.sh 300 parse_message ua_frames
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The growing
# corpus lives in fuzz/corpus/<target> (git-ignored); hand-written seeds in fuzz/seeds/,
# plus, for parse_message, tests/corpus/hostile and ../shared/corpora (when present).
# Crashes land in fuzz/artifacts/<target>/; reproduce one with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-...
# FUZZ_SANITIZER=none builds without AddressSanitizer: the crate forbids unsafe code,
# so ASan mostly costs time (2-4x fewer executions); the default keeps it.
# FUZZ_RUN_FLAGS adds cargo-fuzz run flags, e.g. --no-trace-compares (no comparison
# tracing: ~2x the executions of ua_frames, whose time is mostly libFuzzer's compare
# hooks; mutations are then guided by coverage only, the checks are the same).
# FUZZ_LIBFUZZER_ARGS adds libFuzzer flags, e.g. -max_len=640 (shorter step lists for
# ua_frames: more executions per second; 640 bytes is still dozens of steps).
# Exit status: 0 when no target crashed, 1 otherwise, 2 when the build failed.
set -u
san=(--sanitizer "${FUZZ_SANITIZER:-address}")
cd "$(dirname "$0")"
secs=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
if [ $# -gt 0 ]; then targets=("$@"); else
  targets=(parse_message parse_uri challenge settings aka_nonce ua_frames cpim imdn iscomposing im_history msrp sdp)
fi
mkdir -p artifacts
cargo +nightly fuzz build "${san[@]}" >artifacts/build.log 2>&1 || { cat artifacts/build.log; exit 2; }
failed=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  dirs=("corpus/$t")
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  if [ "$t" = parse_message ]; then
    for d in ../tests/corpus/hostile ../../shared/corpora/rfc4475 ../../shared/corpora/rfc5118; do
      [ -d "$d" ] && dirs+=("$d")
    done
  fi
  before=$(find "artifacts/$t" -type f | wc -l)
  log="artifacts/$t.log"
  echo "== $t: ${secs}s"
  cargo +nightly fuzz run "${san[@]}" ${FUZZ_RUN_FLAGS:-} "$t" "${dirs[@]}" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_LIBFUZZER_ARGS:-} >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  after=$(find "artifacts/$t" -type f | wc -l)
  crashes=$((after - before))
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  line="$t: ${execs:-?} execs, ${crashes} new crash file(s), exit $rc ($cov)"
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    line="$line -- see fuzz/$log"
    grep -m3 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | sed 's/^/    /'
  fi
  echo "$line"
  summary+=("$line")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
