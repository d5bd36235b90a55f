#!/usr/bin/env bash
# Builds the npm package `imsip` twice from one release wasm build:
#   pkg/          --target web      (call `await init()`; Node reads the .wasm itself)
#   pkg-bundler/  --target bundler  (webpack/vite/rollup instantiate it on import)
# Each: wasm-pack (wasm-opt off in Cargo.toml) → wasm-opt -Oz from npm `binaryen`
# (never Debian's; flags in js/wasm-opt-flags.sh) → functions ordered for gzip
# (js/order-functions.mjs) → wasm-opt again → short import/export names
# (js/minify-names.mjs) → the JS shim and types copied in → package.json patched.
# Layout of each: imsip.js + imsip.d.ts (the entry: js/imsip.{web,bundler}.js and
# js/imsip.d.ts), imclient.js (js/imclient.js), imworker.js (js/imworker.js: the
# shared worker of `share: 'tabs'`, which imports ./imsip.js), imsip_core.js +
# imsip_core_bg.wasm (wasm-bindgen's output).
#
# Usage: js/build.sh [--dev]    (--dev: unoptimised, no wasm-opt; for iterating)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE=--release
[ "${1:-}" = "--dev" ] && PROFILE=--dev

# Tools from js/package-lock.json: binaryen (wasm-opt), typescript, ws.
if [ ! -x js/node_modules/.bin/wasm-opt ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
  (cd js && npm ci --no-audit --no-fund)
fi
export PATH="$ROOT/js/node_modules/.bin:$PATH"
# shellcheck source=js/wasm-opt-flags.sh
source js/wasm-opt-flags.sh
case "$(command -v wasm-opt)" in
  "$ROOT/js/node_modules/.bin/wasm-opt") ;;
  *) echo "build.sh: wasm-opt is not the npm binaryen one" >&2; exit 1 ;;
esac

# The release wasm on a pinned nightly when it is installed (.ci/run installs it):
# std rebuilt for size (-Zbuild-std, optimize_for_size) with panic=immediate-abort,
# so no panic message, location or formatting code is left in the module. It is
# built in its own target directory (other flags, other toolchain). Without that
# toolchain (or with IMSIP_STABLE=1) the same code builds on stable, ~19 KB larger
# gzipped. Install: rustup toolchain install nightly-2026-05-20 --profile minimal \
#   --component rust-src --target wasm32-unknown-unknown
NIGHTLY=nightly-2026-05-20
CARGO_EXTRA=()
if [ "$PROFILE" = --release ] && [ "${IMSIP_STABLE:-0}" != 1 ] &&
   sysroot=$(rustup run "$NIGHTLY" rustc --print sysroot 2>/dev/null) &&
   [ -d "$sysroot/lib/rustlib/src/rust/library" ] &&
   [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  export RUSTUP_TOOLCHAIN=$NIGHTLY
  export CARGO_TARGET_DIR=$ROOT/target/nightly
  # sha2: its loop (compact) software backend, not the unrolled one.
  # LLVM's inline threshold 10 (measured 0, 5, 8, 10, 12, 15, 25 and the default): −3.5 KB
  # gzipped, and parsing in Node 8 % faster (benches/js/parse.mjs: 11.8 against 12.8 µs);
  # 0 costs speed (14 µs), 25 size (+0.6 KB). docs/performance-notes.md has the table.
  export RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none -Cllvm-args=-inline-threshold=10 --cfg sha2_backend_soft=\"compact\" --cfg aes_backend_soft=\"compact\""
  # core and alloc at opt-level 3, as the prebuilt std is: rebuilt at our "z" their
  # string searching and UTF-8 checks made parsing in Node 35 % slower, for 0.5 KB.
  CARGO_EXTRA=(. -- -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
    --config profile.release.package.core.opt-level=3 --config profile.release.package.alloc.opt-level=3)
  echo "build.sh: release wasm on $NIGHTLY (build-std, panic=immediate-abort)"
else
  echo "build.sh: wasm on stable ($NIGHTLY with rust-src and wasm32 is not installed, or IMSIP_STABLE=1)"
fi

package() { # target out-dir entry-file
  local target=$1 out=$2 entry=$3
  rm -rf "$out"
  wasm-pack build "$PROFILE" --target "$target" --out-dir "$out" --out-name imsip_core "${CARGO_EXTRA[@]}"
  if [ "$PROFILE" = --release ]; then
    # js/wasm-opt-flags.sh: the flags (benches/size.sh's named copy uses them too).
    # --strip-producers / --strip-target-features: metadata sections no loader reads.
    wasm-opt "${WASM_OPT_FLAGS[@]}" --strip-producers --strip-target-features \
      "$out/imsip_core_bg.wasm" -o "$out/imsip_core_bg.wasm.opt"
    # Similar functions side by side for gzip (js/order-functions.mjs: −6 KB), then
    # wasm-opt once more to tidy what binaryen's re-reading left (the order stays).
    node js/order-functions.mjs "$out/imsip_core_bg.wasm.opt" "$out/imsip_core_bg.wasm.ordered"
    wasm-opt "${WASM_OPT_FLAGS[@]}" "$out/imsip_core_bg.wasm.ordered" -o "$out/imsip_core_bg.wasm"
    rm "$out/imsip_core_bg.wasm.opt" "$out/imsip_core_bg.wasm.ordered"
    # Short import and export names in the module and its glue (js/minify-names.mjs:
    # wasm-bindgen's hashed names do not compress).
    node js/minify-names.mjs "$out"
  fi
  # imclient.js re-exports the ImError the core constructs: the copy of js/imerror.js
  # that wasm-bindgen placed in snippets/ (one module, one class).
  local imerror
  imerror=$(cd "$out" && find snippets -path '*/js/imerror.js' | head -n 1)
  [ -n "$imerror" ] || { echo "build.sh: no snippets/*/js/imerror.js in $out" >&2; exit 1; }
  sed "s#from './imerror.js'#from './$imerror'#" js/imclient.js >"$out/imclient.js"
  grep -q "from './$imerror'" "$out/imclient.js" || { echo "build.sh: imclient.js import not rewritten" >&2; exit 1; }
  cp "js/$entry" "$out/imsip.js"
  if [ "$target" = bundler ]; then
    # The bundler entry has a top-level await (the wasm instantiated on import): the
    # worker loads it with a dynamic import, so its `connect` listener is there first.
    sed -e "/^import \* as entry from '.\/imsip.js';\$/d" \
      -e "s#^const load = () => Promise.resolve(entry);\$#const load = () => import('./imsip.js');#" \
      js/imworker.js >"$out/imworker.js"
    grep -q "^const load = () => import('./imsip.js');\$" "$out/imworker.js" &&
      ! grep -q "^import \* as entry" "$out/imworker.js" ||
      { echo "build.sh: imworker.js not rewritten for the bundler build" >&2; exit 1; }
  else
    cp js/imworker.js "$out/imworker.js"
  fi
  cp js/imsip.d.ts "$out/imsip.d.ts"
  cp js/README.md "$out/README.md"
  node js/patch-package.mjs "$out" "$target"
  if [ "$PROFILE" = --release ]; then
    # The package ships minified ES modules (names kept, so stack traces and
    # `constructor.name` read as in js/): about 8 KB less gzipped as shipped
    # (issue 14). Imports, exports and `new URL(..., import.meta.url)` stay as
    # written, so bundlers see the same module graph. `--dev` keeps them readable.
    # wasm-bindgen's glue (imsip_core*.js) is minified without --keep-names: its
    # classes and functions are internal (the package's own, in imclient.js, keep
    # theirs), and keeping each name cost 0.6 KB gzipped.
    local f keep
    while IFS= read -r f; do
      keep=--keep-names
      case "$(basename "$f")" in imsip_core.js | imsip_core_bg.js) keep= ;; esac
      esbuild "$f" --minify $keep --format=esm --log-level=warning \
        --outfile="$f" --allow-overwrite
    done < <(find "$out" -name '*.js')
  fi
}

package web pkg imsip.web.js
package bundler pkg-bundler imsip.bundler.js

for d in pkg pkg-bundler; do
  printf '%-12s wasm %7d B (gzip -9 %6d B)   JS glue+shim gzip -9 %5d B\n' "$d" \
    "$(wc -c <"$d/imsip_core_bg.wasm")" "$(gzip -9c "$d/imsip_core_bg.wasm" | wc -c)" \
    "$(cat "$d"/imsip_core*.js "$d/imclient.js" "$d/imsip.js" | gzip -9c | wc -c)"
done
