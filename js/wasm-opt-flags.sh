# Sourced by js/build.sh (the package's wasm) and benches/size.sh (its named copy for
# twiggy): the one list of wasm-opt flags, so both modules are optimised alike.
# shellcheck shell=bash
WASM_OPT_FLAGS=(
  # Functions that differ only in constants become one (about 1 KB here).
  --merge-similar-functions
  # Functions with one caller stay functions (LLVM already inlined what it judged
  # worth it). Inlined, the module is 14 KB smaller raw but 8 KB larger gzipped:
  # merged bodies renumber their locals, and repeated code shapes stop repeating
  # byte for byte (issue 14, measured with benches/size.sh).
  --one-caller-inline-max-function-size 0
  # Loads and stores at `pointer + constant` keep the constant in the instruction's
  # offset (−0.8 KB gzipped). Sound because nothing lives in the module's first 1 KiB:
  # the Rust wasm target puts its 1 MiB stack first (growing down towards 0) and
  # static data above it, so only a stack already 1023 KiB deep could reach there.
  --low-memory-unused
  -Oz --converge
  # The features the Rust wasm target enables by default (Rust ≥ 1.82).
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-multivalue --enable-reference-types
)
