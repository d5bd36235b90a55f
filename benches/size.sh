#!/usr/bin/env bash
# Download size (issue: Performance, item 2): gzip -9 bytes of what a browser
# downloads, every library treated alike: its JS bundled and minified by esbuild
# (`esbuild --bundle --minify --format=esm`; for JsSIP 3.13.8 and SIP.js 0.21.2 an
# entry re-exporting the library's main export, for imsip pkg/imsip.js), plus, for
# imsip, the wasm file it fetches. The package's files as shipped (unminified, each
# gzipped on its own) are listed too. Then the biggest functions of the wasm (twiggy).
#
# Usage: benches/size.sh [--check] [--json FILE]
#   --check   exit 1 when imsip's gzipped total exceeds BUDGET (a regression guard
#             for CI, not the target: the 45 KB target is printed separately)
#   --json    also write the figures as JSON (benches/run.sh reads them)
# Needs pkg/ (bash js/build.sh). 1 KB = 1024 bytes throughout.
set -euo pipefail

# Regression guard: the measured total rounded up to the next 5 KB (2026-11-25: 127.4 KB;
# 2026-11-29: 138.5 KB after the user agent's rebuild — per-realm credentials, registration,
# publication and subscription retries, the outbound rules, the UAS 415/481 rules;
# 143.9 KB with the IM Server's client side: history fetch and codec, SIP/RFC 3339 dates;
# 145.2 KB with the page-lifecycle probes, check_flow and set_online; 2026-11-30: 170.4 KB
# with chat (CPIM, IMDN, isComposing), then 145.6 KB after the cuts: no BTreeMap, sort or
# VecDeque in the wasm, one step runner for every command, no Debug formatting, and the
# release wasm on the pinned nightly of js/build.sh with panic=immediate-abort and sha2's
# compact backend); 153.1 KB with SIP INVITE sessions in the user agent (issue 18: the
# budget is set where MSRP lands; the JS API for sessions comes with the MSRP engine);
# 196.0 KB with MSRP: the codec and session engine, imsip::client, the JS API (issue 18).
# 237.4 KB with the design card's packages (issue 14 item 1): quick-xml under the settings
# reader, serde-wasm-bindgen with derived (de)serializers for options, settings objects and
# event details (its invalid-type error links f64 Display, 15.7 KB raw), after -Zfmt-debug=none.
# 223.1 KB after the code-shape cuts of the same day: plain loops instead of iterator chains
# collected per element type, one owned user-agent context instead of a struct of ten borrows
# rebuilt per call, IP addresses read and printed by the codec instead of core::net, one copy
# of the binding's object checks. 221.0 KB with byte helpers instead of core's string searchers;
# 213.9 KB with wasm-opt leaving single-caller functions uninlined (js/wasm-opt-flags.sh);
# 208.7 KB with --low-memory-unused and the functions ordered for gzip (js/order-functions.mjs);
# 205.6 KB with short import and export names (js/minify-names.mjs); 205.0 KB with the glue
# minified without --keep-names; 205.3 KB with connectTimeout (SIP and MSRP connect deadlines);
# 206.0 KB (205.99) with the arguments read as a structured clone before the core sees them (imclient.js).
# 207.8 KB with the user agent answering requests its codec refuses (400/505/513 from the header
# text, RFC 3261 §8.2, RFC 4475 §3.1.2; imsip::message::refusal, shared with devcore).
# 207.1 KB with the sockets touched only through Reflect (no MessageEvent/BinaryType imports).
# 208.5 KB as shipped, 207.7 bundled (the guarded figure), with extraHeaders and the incoming headers.
# 209.3 KB as shipped, 208.5 bundled, with binary bodies sent byte-exact in binary frames (RFC 7118 §4.2:
# they were corrupted as text before): the guard goes to 209 for that fix.
# 209.9 KB as shipped, 209.0 bundled (over 209 by bytes), with the options copied into requests checked
# (displayName, userAgent, instanceId, callId: they made malformed requests) and the client-wide
# extraHeaders (+1.0 KB), less the "did you mean" distance on bytes (−0.4 KB): the guard goes to 210.
# 210.8 KB as shipped, 209.9 bundled, with several server URLs (failover, +0.9 KB); 210.5 / 209.7 with
# the registrar option and the option helpers not inlined into options::read (−0.9 KB).
# 207.1 KB as shipped, 206.2 bundled, with LLVM's inline threshold at 10 (js/build.sh: −3.5 KB, and
# parsing faster): the guard goes down to 207. 207.3 / 206.5 KB with setExtraHeaders.
# 208.7 KB as shipped, 207.9 bundled, with the defects that probing with other clients, cores,
# corpora and the demo found (2026-11-30, eleventh session; +1.4 KB): the registration's own
# Contact among stale bindings, `registering`/`unregistering` events and the state after close,
# OPTIONS' Accept, a remove's 412, Vias of another version, history bodies byte for byte (base64)
# and without their CPIM envelope, BYE/CANCEL/480 at close, an MSRP 481 ending the session,
# settings removed at the server, typing ended by a large message, the JS arguments' checks.
# The guard goes to 208 for those fixes. 2026-12-01 (twelfth session): 208.3 KB as shipped, 207.5 bundled,
# with functions ordered by what gzip's window already holds (−1.8 KB) paying for most of that session's
# defect fixes (about +1.4 KB: registration against odd cores, MSRP body-less chunks, receipts, flow recovery,
# the shared worker's dropped tabs).
# Lower it when the package shrinks; raise it only with a reason in the commit. Measured
# on js/build.sh's nightly build (xtask and .ci/run install it).
BUDGET=208 # KB (1 KB = 1024 B); 205.0 after the cuts, 237.4 with quick-xml and serde-wasm-bindgen (issue 14)
TARGET=45  # KB: the performance issue's target (bundled and compared), reported, never enforced
SHIPPED_TARGET=85  # KB: issue 14's target, every file a page loads as shipped, reported, never enforced

cd "$(dirname "$0")/.."
ROOT=$PWD
CHECK=0
JSON=
while [ $# -gt 0 ]; do
  case "$1" in
    --check) CHECK=1 ;;
    --json) JSON=$2; shift ;;
    *) echo "usage: benches/size.sh [--check] [--json FILE]" >&2; exit 64 ;;
  esac
  shift
done

for f in imsip_core_bg.wasm imsip_core.js imclient.js imsip.js; do
  [ -f "pkg/$f" ] || { echo "size.sh: pkg/$f is missing: run bash js/build.sh" >&2; exit 1; }
done

# esbuild and the two libraries, from benches/js/package-lock.json.
if [ ! -x benches/js/node_modules/.bin/esbuild ] ||
   [ benches/js/package-lock.json -nt benches/js/node_modules/.package-lock.json ]; then
  (cd benches/js && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

OUT=target/bench/size
mkdir -p "$OUT"
gz() { gzip -9c "$1" | wc -c; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

# ── imsip ──
echo "imsip (pkg/, each file gzip -9):"
IMSIP_RAW=0
IMSIP_GZ=0
for f in imsip_core_bg.wasm imsip_core.js imclient.js imsip.js; do
  raw=$(wc -c <"pkg/$f")
  g=$(gz "pkg/$f")
  IMSIP_RAW=$((IMSIP_RAW + raw))
  IMSIP_GZ=$((IMSIP_GZ + g))
  printf '  %-20s %8d B  gzip %7d B\n' "$f" "$raw" "$g"
done
printf '  %-20s %8d B  gzip %7d B  (%s KB, as shipped)\n' total "$IMSIP_RAW" "$IMSIP_GZ" "$(kb "$IMSIP_GZ")"

# ── JsSIP and SIP.js, bundled as an application would ──
bundle() { # name entry-source out-file
  (cd benches/js && printf '%s\n' "$2" |
    node_modules/.bin/esbuild --bundle --minify --format=esm --log-level=warning) >"$3"
}
bundle JsSIP "export { default } from 'jssip';" "$OUT/jssip.min.js"
bundle SIP.js "export * from 'sip.js';" "$OUT/sipjs.min.js"
JSSIP_RAW=$(wc -c <"$OUT/jssip.min.js")
JSSIP_GZ=$(gz "$OUT/jssip.min.js")
SIPJS_RAW=$(wc -c <"$OUT/sipjs.min.js")
SIPJS_GZ=$(gz "$OUT/sipjs.min.js")
echo "esbuild --bundle --minify --format=esm:"
printf '  %-20s %8d B  gzip %7d B  (%s KB)\n' "JsSIP 3.13.8" "$JSSIP_RAW" "$JSSIP_GZ" "$(kb "$JSSIP_GZ")"
printf '  %-20s %8d B  gzip %7d B  (%s KB)\n' "SIP.js 0.21.2" "$SIPJS_RAW" "$SIPJS_GZ" "$(kb "$SIPJS_GZ")"
# imsip treated as JsSIP and SIP.js are: its JS (entry, shim, wasm-bindgen glue)
# bundled and minified by the same esbuild command, plus the wasm file it fetches.
# This is the compared total (and the one the target and budget apply to).
(cd benches/js && node_modules/.bin/esbuild "$ROOT/pkg/imsip.js" --bundle --minify --format=esm \
  --external:'node:*' --log-level=warning) >"$OUT/imsip.min.js"
SHIPPED_GZ=$IMSIP_GZ
WASM_RAW=$(wc -c <pkg/imsip_core_bg.wasm)
WASM_GZ=$(gz pkg/imsip_core_bg.wasm)
IMSIP_RAW=$((WASM_RAW + $(wc -c <"$OUT/imsip.min.js")))
IMSIP_GZ=$((WASM_GZ + $(gz "$OUT/imsip.min.js")))
printf '  %-20s %8d B  gzip %7d B  (%s KB: imsip_core_bg.wasm + JS bundle %d B gzip)\n' "imsip" \
  "$IMSIP_RAW" "$IMSIP_GZ" "$(kb "$IMSIP_GZ")" "$(gz "$OUT/imsip.min.js")"
awk -v i="$IMSIP_GZ" -v j="$JSSIP_GZ" -v s="$SIPJS_GZ" \
  'BEGIN { printf "imsip / JsSIP = %.2f   imsip / SIP.js = %.2f   (gzipped)\n", i / j, i / s }'

TARGET_MET=no
[ "$IMSIP_GZ" -le $((TARGET * 1024)) ] && TARGET_MET=yes
BUDGET_MET=no
[ "$IMSIP_GZ" -le $((BUDGET * 1024)) ] && BUDGET_MET=yes
echo "target: ≤ $TARGET KB gzipped: $TARGET_MET ($(kb "$IMSIP_GZ") KB)"
SHIPPED_MET=no
[ "$SHIPPED_GZ" -le $((SHIPPED_TARGET * 1024)) ] && SHIPPED_MET=yes
echo "target (issue 14): ≤ $SHIPPED_TARGET KB gzipped as shipped: $SHIPPED_MET ($(kb "$SHIPPED_GZ") KB)"
echo "budget (regression guard, bundled): ≤ $BUDGET KB: $BUDGET_MET ($(kb "$IMSIP_GZ") KB)"

# ── what the wasm is made of ──
TWIGGY=$(command -v twiggy || echo "$HOME/.cargo/bin/twiggy")
NAMED=
if [ ! -x "$TWIGGY" ]; then
  echo "(twiggy is not installed: no per-function breakdown; cargo install twiggy)"
else
  # pkg/'s module has no name section after wasm-opt, so twiggy names only
  # code[N]. When the raw cargo output of the same build is still in target/, a
  # copy is made the same way (wasm-bindgen, js/wasm-opt-flags.sh) with names kept (-g);
  # it is used when its code is the same size as pkg/'s.
  # js/build.sh builds on the pinned nightly into target/nightly/ when it can,
  # else on stable into target/: the newer raw module is pkg/'s.
  RAW=target/wasm32-unknown-unknown/release/imsip.wasm
  NIGHTLY_RAW=target/nightly/wasm32-unknown-unknown/release/imsip.wasm
  if [ -f "$NIGHTLY_RAW" ] && { [ ! -f "$RAW" ] || [ "$NIGHTLY_RAW" -nt "$RAW" ]; }; then
    RAW=$NIGHTLY_RAW
  fi
  WASM_OPT=js/node_modules/.bin/wasm-opt
  # shellcheck source=js/wasm-opt-flags.sh
  source js/wasm-opt-flags.sh
  if [ -f "$RAW" ] && [ -x "$WASM_OPT" ] && command -v wasm-bindgen >/dev/null; then
    rm -rf "$OUT/named"
    if wasm-bindgen --target web --keep-debug --out-dir "$OUT/named" --out-name imsip_core "$RAW" 2>/dev/null &&
       "$WASM_OPT" "${WASM_OPT_FLAGS[@]}" -g "$OUT/named/imsip_core_bg.wasm" -o "$OUT/named.wasm" 2>/dev/null; then
      names=$("$TWIGGY" top --format csv "$OUT/named.wasm" |
        awk -F, '/subsection/ { s += $(NF-3) } END { print s + 0 }')
      stripped=$(($(wc -c <"$OUT/named.wasm") - names))
      pkgsize=$(wc -c <pkg/imsip_core_bg.wasm)
      diff=$((stripped - pkgsize)); diff=${diff#-}
      if [ $((diff * 100)) -le "$pkgsize" ]; then
        NAMED=$OUT/named.wasm
      else
        echo "(target/'s raw wasm is not pkg/'s build ($stripped vs $pkgsize B without names): no names)"
      fi
    fi
  fi
  echo
  echo "twiggy top -n 25 pkg/imsip_core_bg.wasm$([ -n "$NAMED" ] && echo "  (names from $NAMED, the same build with its name section)"):"
  "$TWIGGY" top -n 25 "${NAMED:-pkg/imsip_core_bg.wasm}"
  if [ -n "$NAMED" ]; then
    echo
    echo "by crate / imsip module (shallow bytes; name section excluded):"
    "$TWIGGY" top --format csv "$NAMED" | node benches/js/twiggy-crates.mjs 16
    echo
    echo "where the gzipped code is (each group's function bodies gzipped alone, scaled to the whole; an estimate):"
    node benches/js/module-gzip.mjs "$NAMED" 16
  fi
fi

if [ -n "$JSON" ]; then
  cat >"$JSON" <<EOF
{
  "imsip": { "raw": $IMSIP_RAW, "gzip": $IMSIP_GZ, "shippedGzip": $SHIPPED_GZ,
    "files": { $(for f in imsip_core_bg.wasm imsip_core.js imclient.js imsip.js; do
      printf '"%s": { "raw": %d, "gzip": %d }, ' "$f" "$(wc -c <"pkg/$f")" "$(gz "pkg/$f")"; done | sed 's/, $//') } },
  "JsSIP": { "raw": $JSSIP_RAW, "gzip": $JSSIP_GZ },
  "SIP.js": { "raw": $SIPJS_RAW, "gzip": $SIPJS_GZ },
  "targetKB": $TARGET, "budgetKB": $BUDGET
}
EOF
fi

if [ "$CHECK" = 1 ] && [ "$BUDGET_MET" = no ]; then
  echo "size.sh: imsip is $(kb "$IMSIP_GZ") KB gzipped, over the $BUDGET KB budget" >&2
  exit 1
fi
