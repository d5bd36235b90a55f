// Orders the functions of a wasm module so that similar ones sit next to each other,
// for gzip (issue 14: the package's size is counted gzipped).
//
// gzip finds repeats only within its 32 KiB window, and the code section is
// thousands of small functions in the order LLVM emitted them. Putting functions
// with the same signature and the same instruction pairs side by side lets the
// compressor reuse one for the next: −4.7 KB gzipped here, for nothing at run time
// (the same code, at other indices). The idea is lld's `--bp-compression-sort`
// (ELF and Mach-O only), done here with a simpler greedy chain.
//
// How: each function's body, printed by binaryen, becomes a set of pairs of
// consecutive instruction tokens, summarised by a 64-value MinHash; starting from
// the first function, the chain goes on to the unplaced function with the most equal
// MinHash values (plus a bonus for the same signature), ties to the earlier index.
// Deterministic: same input, same output.
//
// Usage: node js/order-functions.mjs IN.wasm OUT.wasm
// Run wasm-opt on OUT again afterwards (js/build.sh does): binaryen's reading and
// writing leave a few scratch locals that only its optimiser removes. The order
// survives wasm-opt, whose passes do not move functions.
import binaryen from 'binaryen';
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node js/order-functions.mjs IN.wasm OUT.wasm');
  process.exit(64);
}

const MINHASHES = 64;
const SHINGLE = 2; // tokens per shingle: pairs measured best here (single tokens: +0.7 KB, triples: +1.1 KB)
const SAME_SIGNATURE_BONUS = 32; // in MinHash matches; 0: +1.3 KB, 64: +0.2 KB

const module = binaryen.readBinary(readFileSync(input));
// The features js/wasm-opt-flags.sh enables, and no others: with every feature on,
// binaryen would write the imports in a newer encoding that browsers refuse.
const F = binaryen.Features;
module.setFeatures(F.MutableGlobals | F.NontrappingFPToInt | F.SignExt | F.BulkMemory |
  F.BulkMemoryOpt | F.Multivalue | F.ReferenceTypes | F.CallIndirectOverlong);

const fnv = (text, seed) => {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
};

const total = module.getNumFunctions();
const exports = module.getNumExports();
const functions = [];
for (let i = 0; i < module.getNumFunctions(); i++) {
  const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
  if (info.module) continue; // an import: not in the code section
  const tokens = binaryen.emitText(info.body).match(/\(?[a-z0-9_.$-]+/g) ?? [];
  const shingles = new Set();
  for (let j = 0; j + SHINGLE <= tokens.length; j++) {
    shingles.add(tokens.slice(j, j + SHINGLE).join(' '));
  }
  const minhash = new Uint32Array(MINHASHES).fill(0xffffffff);
  for (const s of shingles) {
    for (let h = 0; h < MINHASHES; h++) {
      const v = fnv(s, Math.imul(h + 1, 0x9e3779b1));
      if (v < minhash[h]) minhash[h] = v;
    }
  }
  functions.push({ index: i, info, minhash, signature: `${info.params}/${info.results}` });
}

const similarity = (a, b) => {
  let same = 0;
  for (let h = 0; h < MINHASHES; h++) if (a.minhash[h] === b.minhash[h]) same++;
  return same + (a.signature === b.signature ? SAME_SIGNATURE_BONUS : 0);
};

const order = [];
const left = new Set(functions);
let current = functions[0];
while (current) {
  left.delete(current);
  order.push(current);
  let best = null;
  let bestScore = -1;
  for (const f of left) {
    const s = similarity(current, f);
    if (s > bestScore || (s === bestScore && f.index < best.index)) {
      best = f;
      bestScore = s;
    }
  }
  current = best;
}

// Re-adding a function appends it: removing and re-adding each in the new order
// rebuilds the code section in that order. Calls, exports and the table refer to
// functions by name, so they follow.
for (const { info } of order) {
  module.removeFunction(info.name);
  module.addFunction(info.name, info.params, info.results, info.vars, info.body);
}
if (module.getNumFunctions() !== total || module.getNumExports() !== exports ||
    order.length !== functions.length || !module.validate()) {
  console.error('order-functions: the reordered module lost a function or does not validate');
  process.exit(1);
}
writeFileSync(output, module.emitBinary());
module.dispose();
