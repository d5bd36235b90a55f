// Orders the functions of a wasm module so that similar ones sit next to each other,
// for gzip (issue 14: the package's size is counted gzipped).
//
// gzip finds repeats only within its 32 KiB window, and the code section is
// thousands of small functions in the order LLVM emitted them. Putting functions
// whose bytes already occur in the window next lets the compressor reuse them; and
// functions with the same signature side by side also make the function section
// (one type index per function) a few long runs. Same code, other indices: nothing
// at run time. The idea is lld's `--bp-compression-sort` (ELF and Mach-O only),
// done here with a greedy chain.
//
// How:
// 1. Each function's body, printed by binaryen, becomes a set of pairs of consecutive
//    instruction tokens, summarised by a 64-value MinHash: a cheap similarity used
//    only to pick a few candidates for the next place.
// 2. The chain grows one function at a time. Of the CANDIDATES unplaced functions
//    most similar to the last one placed (MinHash matches, plus a bonus for the same
//    signature), it takes the one whose own bytes are best covered by the last
//    32 KiB placed (the share of its 4-byte strings already there: what gzip can
//    copy instead of spelling out), plus a little for the MinHash similarity to the
//    last one (near repeats cost gzip fewer bits than far ones). Pairwise similarity
//    alone (the first version of this script) ignores what the rest of the window
//    holds, and its result swung by ±600 bytes gzipped with the starting function.
// 3. The chain is built from STARTS starting functions; each order is laid out as
//    the module would be (function section, code, exports, table) and gzipped with
//    node's zlib; the smallest is kept. This does not remove the chaos, it takes the
//    best of several throws of it (zlib's pick is usually, not always, gzip's).
// Deterministic: same input, same output (no randomness; ties go to the lower index).
//
// Usage: node js/order-functions.mjs IN.wasm OUT.wasm
// Run wasm-opt on OUT again afterwards (js/build.sh does): binaryen's reading and
// writing leave a few scratch locals that only its optimiser removes. The order
// survives wasm-opt, whose passes do not move functions.
import binaryen from 'binaryen';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node js/order-functions.mjs IN.wasm OUT.wasm');
  process.exit(64);
}

// Measured on the imsip module (gzip -9 after the final wasm-opt, mean over starts):
const MINHASHES = 64;
const SHINGLE = 2; // tokens per MinHash shingle (pairs measured best for the old chain)
const SAME_SIGNATURE_BONUS = 32; // in MinHash matches, for ranking candidates
const CANDIDATES = 32; // 8: +0.7 KB, 64: +0.3 KB
const GRAM = 4; // bytes per string looked up in the window; 3: +0.3 KB, 5: +0.1 KB
const WINDOW = 32768; // gzip's window; 8 KiB and 16 KiB measured no better
const SIMILARITY_WEIGHT = 0.25; // of the MinHash share, added to the coverage share
const SIGNATURE_WEIGHT = 0.05; // added for the same signature; 0.2: +0.9 KB
const STARTS = 8; // chains built; each about 1 s here

const bytes = readFileSync(input);
const module = binaryen.readBinary(bytes);
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
const n = functions.length;

// ---- The module's own bytes: what gzip will see. ----------------------------------
// binaryen's defined functions are in code-section order, so functions[d] is body d.
const wasm = readWasm(bytes);
if (wasm.bodies.length !== n || wasm.imports + n !== total) {
  console.error('order-functions: the code section does not match binaryen\'s functions');
  process.exit(1);
}

// Each body's 4-byte strings, hashed; a call's target is written as its old index
// (a stand-in: calls to the same function look alike, whatever its new index).
const grams = wasm.bodies.map(({ pieces, targets }) => {
  const b = [];
  pieces.forEach((piece, j) => {
    for (const x of piece) b.push(x);
    if (j < targets.length) b.push(targets[j] >> 8 & 255, targets[j] & 255);
  });
  const g = new Int32Array(Math.max(0, b.length - GRAM + 1));
  for (let i = 0; i < g.length; i++) {
    let h = 0;
    for (let k = 0; k < GRAM; k++) h = Math.imul(h ^ b[i + k], 0x01000193) + k;
    g[i] = h;
  }
  return g;
});

// MinHash matches between every pair, once (n² bytes: 6 MB for 2,500 functions).
const similar = new Uint8Array(n * n);
for (let i = 0; i < n; i++) {
  const a = functions[i].minhash;
  for (let j = i + 1; j < n; j++) {
    const b = functions[j].minhash;
    let same = 0;
    for (let h = 0; h < MINHASHES; h++) if (a[h] === b[h]) same++;
    similar[i * n + j] = similar[j * n + i] = same;
  }
}

function chain(start) {
  const placed = new Uint8Array(n);
  const order = [];
  // The window: counts of the strings of the last WINDOW bytes' functions.
  const window = new Map();
  const inWindow = [];
  let windowBytes = 0;
  const enter = (d) => {
    for (const h of grams[d]) window.set(h, (window.get(h) ?? 0) + 1);
    inWindow.push(d);
    windowBytes += wasm.bodies[d].size;
    while (windowBytes - wasm.bodies[inWindow[0]].size >= WINDOW) {
      const old = inWindow.shift();
      windowBytes -= wasm.bodies[old].size;
      for (const h of grams[old]) {
        const c = window.get(h) - 1;
        if (c) window.set(h, c); else window.delete(h);
      }
    }
  };
  let current = start;
  while (current >= 0) {
    placed[current] = 1;
    order.push(current);
    enter(current);
    const sig = functions[current].signature;
    const row = current * n;
    const ranked = [];
    for (let j = 0; j < n; j++) {
      if (!placed[j]) {
        ranked.push([similar[row + j] + (functions[j].signature === sig ? SAME_SIGNATURE_BONUS : 0), j]);
      }
    }
    ranked.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    let best = -1;
    let bestScore = -Infinity;
    for (const [, j] of ranked.slice(0, CANDIDATES)) {
      let covered = 0;
      for (const h of grams[j]) if (window.has(h)) covered++;
      const score = covered / (grams[j].length + 1) +
        SIMILARITY_WEIGHT * similar[row + j] / MINHASHES +
        (functions[j].signature === sig ? SIGNATURE_WEIGHT : 0);
      if (score > bestScore) {
        best = j;
        bestScore = score;
      }
    }
    current = best;
  }
  return order;
}

let order = null;
let orderSize = Infinity;
for (let k = 0; k < STARTS; k++) {
  const candidate = chain(Math.floor(k * n / STARTS));
  const size = gzipSync(layOut(bytes, wasm, candidate), { level: 9 }).length;
  if (size < orderSize) {
    order = candidate;
    orderSize = size;
  }
}

// Re-adding a function appends it: removing and re-adding each in the new order
// rebuilds the code section in that order. Calls, exports and the table refer to
// functions by name, so they follow.
for (const d of order) {
  const { info } = functions[d];
  module.removeFunction(info.name);
  module.addFunction(info.name, info.params, info.results, info.vars, info.body);
}
if (module.getNumFunctions() !== total || module.getNumExports() !== exports ||
    order.length !== functions.length || new Set(order).size !== n || !module.validate()) {
  console.error('order-functions: the reordered module lost a function or does not validate');
  process.exit(1);
}
writeFileSync(output, module.emitBinary());
module.dispose();

// ---- A minimal wasm reader and writer, for measuring orders. ----------------------
// Only what an order changes is decoded: the function section, the code bodies split
// at function-index immediates (call, return_call, ref.func), exports and the table.
// Everything else is copied. Used only to estimate sizes: the module written above
// is binaryen's.

function readLeb(buf, at) {
  let value = 0;
  let shift = 0;
  let b;
  do {
    b = buf[at.p++];
    value |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return value >>> 0;
}

function pushLeb(value, out) {
  do {
    let b = value & 0x7f;
    value >>>= 7;
    if (value) b |= 0x80;
    out.push(b);
  } while (value);
}

function readWasm(buf) {
  const at = { p: 8 };
  const u32 = () => readLeb(buf, at);
  const skipLeb = () => { while (buf[at.p++] & 0x80); };
  const sections = [];
  const types = [];
  const bodies = [];
  let imports = 0;
  while (at.p < buf.length) {
    const id = buf[at.p++];
    const size = u32();
    const start = at.p;
    const end = start + size;
    sections.push({ id, start, end });
    if (id === 2) { // imports: count the functions, which take the first indices
      for (let i = u32(); i > 0; i--) {
        const skip = () => { const length = u32(); at.p += length; }; // (u32 moves at.p)
        skip(); // module name
        skip(); // field name
        const kind = buf[at.p++];
        if (kind === 0) { u32(); imports++; }
        else if (kind === 1) { at.p++; if (buf[at.p++] & 1) u32(); u32(); }
        else if (kind === 2) { if (buf[at.p++] & 1) u32(); u32(); }
        else at.p += 2; // global: type, mutability
      }
    } else if (id === 3) {
      for (let i = u32(); i > 0; i--) types.push(u32());
    } else if (id === 10) {
      for (let i = u32(); i > 0; i--) {
        const size = u32();
        const bodyStart = at.p;
        const bodyEnd = bodyStart + size;
        for (let l = u32(); l > 0; l--) { u32(); at.p++; } // locals
        const pieces = [];
        const targets = [];
        let last = bodyStart;
        while (at.p < bodyEnd) {
          const op = buf[at.p++];
          if (op === 0x10 || op === 0x12 || op === 0xd2) { // call, return_call, ref.func
            pieces.push(buf.subarray(last, at.p));
            targets.push(u32());
            last = at.p;
          } else if (op >= 0x02 && op <= 0x04) { // block type: a byte or an s33
            if (buf[at.p] === 0x40 || (buf[at.p] & 0xc0) === 0x40) at.p++; else skipLeb();
          } else if (op === 0x0c || op === 0x0d || (op >= 0x20 && op <= 0x26) ||
                     op === 0x41 || op === 0x42) skipLeb();
          else if (op === 0x0e) { for (let k = u32(); k >= 0; k--) u32(); } // br_table
          else if (op === 0x11 || op === 0x13) { u32(); u32(); }
          else if (op === 0x1c) { const k = u32(); at.p += k; } // select t*
          else if (op >= 0x28 && op <= 0x3e) { if (u32() & 0x40) u32(); u32(); } // memarg
          else if (op === 0x3f || op === 0x40 || op === 0xd0) at.p++;
          else if (op === 0x43) at.p += 4;
          else if (op === 0x44) at.p += 8;
          else if (op === 0xfc) {
            const sub = u32();
            if (sub === 8) { u32(); at.p++; }
            else if (sub === 10) at.p += 2;
            else if (sub === 11) at.p++;
            else if (sub === 12 || sub === 14) { u32(); u32(); }
            else if (sub >= 9) u32();
          } else if (op > 0xd2) throw new Error(`order-functions: opcode 0x${op.toString(16)} not read`);
        }
        if (at.p !== bodyEnd) throw new Error('order-functions: a body was misread');
        pieces.push(buf.subarray(last, bodyEnd));
        bodies.push({ pieces, targets, size });
      }
    }
    at.p = end;
  }
  return { imports, sections, types, bodies };
}

// The module's bytes with its functions in `order` (indices of bodies).
function layOut(buf, { imports, sections, types, bodies }, order) {
  const renumber = new Int32Array(imports + order.length);
  for (let i = 0; i < imports; i++) renumber[i] = i;
  order.forEach((d, k) => { renumber[imports + d] = imports + k; });
  const out = [buf.subarray(0, 8)];
  for (const { id, start, end } of sections) {
    const at = { p: start };
    const u32 = () => readLeb(buf, at);
    const b = [];
    if (id === 3) {
      pushLeb(order.length, b);
      for (const d of order) pushLeb(types[d], b);
    } else if (id === 10) {
      pushLeb(order.length, b);
      for (const d of order) {
        const { pieces, targets } = bodies[d];
        const body = [];
        pieces.forEach((piece, j) => {
          for (const x of piece) body.push(x);
          if (j < targets.length) pushLeb(renumber[targets[j]], body);
        });
        pushLeb(body.length, b);
        for (const x of body) b.push(x);
      }
    } else if (id === 7) { // exports
      pushLeb(u32(), b);
      while (at.p < end) {
        const nameStart = at.p;
        const length = u32();
        at.p += length;
        for (let j = nameStart; j < at.p; j++) b.push(buf[j]);
        const kind = buf[at.p++];
        b.push(kind);
        const index = u32();
        pushLeb(kind === 0 ? renumber[index] : index, b);
      }
    } else if (id === 9 && buf[start] === 1 && buf[start + 1] === 0) {
      // The table: one active segment of function indices (what rustc emits).
      b.push(1, 0);
      at.p += 2;
      const offsetStart = at.p; // i32.const N, end
      at.p++;
      readLeb(buf, at);
      at.p++;
      for (let j = offsetStart; j < at.p; j++) b.push(buf[j]);
      const count = u32();
      pushLeb(count, b);
      for (let k = 0; k < count; k++) pushLeb(renumber[u32()], b);
    } else {
      for (let j = start; j < end; j++) b.push(buf[j]); // copied as is
    }
    const header = [id];
    pushLeb(b.length, header);
    out.push(Uint8Array.from(header), Uint8Array.from(b));
  }
  return Buffer.concat(out);
}
