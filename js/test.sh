#!/usr/bin/env bash
# Every test of the JavaScript binding, in order:
#   1. wasm-bindgen-test suite (tests/js.rs) in Node and in headless Chromium, with the
#      plain `wasm-pack test --node` and `wasm-pack test --headless --chrome`
#   2. the package build (js/build.sh; skipped with IMSIP_SKIP_BUILD=1 when the caller
#      just built it)
#   3. TypeScript: js/types/example.ts compiles with --strict, js/types/wrong.ts must not
#   4. end to end in Node against imsip-devcore (js/test/*.test.mjs), then interop with
#      JsSIP, SIP.js, a killed core and Kamailio (js/interop/)
#   5. npm pack → install the tarball in a fresh project → import by name, tsc against
#      the installed types, the end-to-end suite again against the installed copy
#      and esbuild bundles it and its shared worker for the browser
#   6. the bundler build imports in Node (--experimental-wasm-modules)
# Cargo runs one command at a time (2-core machines shared with other builds).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ ! -x js/node_modules/.bin/tsc ] || [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
  (cd js && npm ci --no-audit --no-fund)
fi
export PATH="$ROOT/js/node_modules/.bin:$PATH"
step() { printf '\n== js/test.sh: %s\n' "$*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The suite is tests/js.rs; tests/js_browser.rs is the same file as a module under
# `run_in_browser`. `wasm-pack test --node` runs tests/js.rs and skips js_browser,
# `--headless --chrome` the reverse; both build every test target for wasm32, where the
# native-only ones are empty. A skipped binary still exits 0, so check what ran: the
# `test result` of the suite's own binary must count every #[wasm_bindgen_test] in it.
# (The doc tests also print `ok. N passed` on wasm32, vacuously: the runner finds no
# wasm-bindgen tests in them.)
wasm_tests=$(grep -c '^[[:space:]]*#\[wasm_bindgen_test\]' tests/js.rs)
wasm_pack_test() { # <test file that must run> <wasm-pack test flags...>
  local file=$1 ran
  shift
  wasm-pack test "$@" 2>&1 | tee "$tmp/wasm-pack.log"
  ran=$(awk -v file="$file" '
    /^ +(Running|Doc-tests) / { inside = ($1 == "Running" && $2 == file) } # cargo, indented
    inside && /^test result: ok\. [0-9]+ passed/ { print $4 }' "$tmp/wasm-pack.log")
  if [ -z "$ran" ] || [ "$ran" -lt "$wasm_tests" ]; then
    echo "wasm-pack test $*: ${ran:-no} tests of $file ran, $wasm_tests expected" >&2
    exit 1
  fi
  echo "wasm-pack test $*: $ran tests of $file ran ($wasm_tests expected)"
}
step "wasm-bindgen-test in Node"
wasm_pack_test tests/js.rs --node

step "wasm-bindgen-test in headless Chromium"
wasm_pack_test tests/js_browser.rs --headless --chrome

# Firefox too: Debian's firefox-esr with geckodriver from crates.io (cargo install
# geckodriver; wasm-pack would download it from GitHub otherwise).
step "wasm-bindgen-test in headless Firefox"
wasm_pack_test tests/js_browser.rs --headless --firefox

if [ "${IMSIP_SKIP_BUILD:-0}" != 1 ]; then
  step "package build"
  js/build.sh
fi

step "TypeScript: the whole API compiles (--strict), every @ts-expect-error is an error"
tsc -p js/types
step "TypeScript: a misspelt option and a wrong event detail field do not compile"
if out=$(tsc -p js/types/tsconfig.wrong.json); then
  echo "js/types/wrong.ts compiled, but it must not" >&2
  exit 1
fi
echo "$out"
grep -Eq "wrong.ts\(8,[0-9]+\): error TS(2353|2561)" <<<"$out" || { echo "no error for the misspelt option" >&2; exit 1; }
grep -Eq "wrong.ts\(11,[0-9]+\): error TS(2339|2551)" <<<"$out" || { echo "no error for the detail field" >&2; exit 1; }

step "dev core for the end-to-end tests"
cargo build -p imsip-devcore

step "end to end in Node against imsip-devcore (pkg/)"
node --test js/test/*.test.mjs

step "interop: JsSIP and SIP.js peers, core killed mid-session, the API against Kamailio"
node --test js/interop/

step "npm pack, install in a fresh project"
(cd pkg && npm pack --silent --pack-destination "$tmp" >/dev/null)
tarball=$(ls "$tmp"/imsip-*.tgz)
tar -tzf "$tarball" | sed 's/^/  /'
mkdir "$tmp/app"
cp js/pack/smoke.mjs js/pack/smoke.ts js/pack/tsconfig.json "$tmp/app/"
ws_version=$(node -p "require('./js/node_modules/ws/package.json').version")
(cd "$tmp/app" &&
  printf '{ "name": "imsip-pack-test", "private": true, "type": "module" }\n' >package.json &&
  npm install --silent --no-audit --no-fund --prefer-offline "$tarball" "ws@$ws_version" &&
  node smoke.mjs &&
  tsc -p tsconfig.json)
IMSIP_PKG="$tmp/app/node_modules/imsip/imsip.js" node --test js/test/*.test.mjs

step "the installed package bundles for the browser (esbuild, as an app would)"
# The web entry once held import('node:fs/promises'), which webpack 5 and esbuild
# could not bundle (README, "Bundlers"): the app and the shared worker must bundle
# for the browser with nothing marked external, and import no node: module.
printf "import init, { ImClient } from 'imsip';\nawait init();\nexport { ImClient };\n" >"$tmp/app/page.js"
(cd "$tmp/app" &&
  "$ROOT/js/node_modules/.bin/esbuild" page.js node_modules/imsip/imworker.js --bundle --format=esm \
    --platform=browser --outdir=dist --entry-names='[name]' --log-level=warning &&
  ! grep -lE "(import ?\(?|from ?)[\"']node:" dist/page.js dist/imworker.js)

step "the bundler build imports in Node"
node --experimental-wasm-modules --no-warnings --input-type=module -e "
  const m = await import('$ROOT/pkg-bundler/imsip.js');
  await m.default();
  if (m.version() !== '$(node -p "require('./pkg/package.json').version")') throw new Error('version');
  if (m.parseMessage('SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n').status !== 200) throw new Error('parse');
  console.log('pkg-bundler: ok');
"

step "all JS binding tests passed"
