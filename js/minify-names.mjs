// Gives the wasm module's imports and exports short names, in the module and in
// wasm-bindgen's JS glue alike (issue 14: the package's size is counted gzipped).
//
// wasm-bindgen names each import after its JS function plus a 16-hex-digit hash
// (`__wbg_keys_105f5c0857898f84`) and each closure entry point after its Rust
// type (200-odd characters); every name is written twice, in the module's import
// or export section and in the glue that provides or calls it, and hashes do not
// compress. Emscripten shortens these names the same way by default
// (`MINIFY_WASM_IMPORTS_AND_EXPORTS`). The new names are `$0`, `$1`, ... in the
// order the module lists them: valid JS identifiers that the glue does not use.
//
// What is rewritten, and why that is all of it:
//   - imports, and exports with wasm-bindgen's names (`__wbg…`, `__wbindgen…`,
//     `__externref…`, or a 16-hex-digit hash): every occurrence in the glue
//     (import-object keys, `export function` in the bundler target's
//     imsip_core_bg.js, the JS wrapper of a closure entry point, `wasm.name` calls);
//   - the crate's own exports (`parseBuffer`, `imclientcore_new`, ...): where the
//     glue calls them, `wasm.name`, and where the types declare the module's
//     exports (`readonly name:` in InitOutput, `export const name:`); the JS
//     functions of the same name that the package exports keep it;
//   - `memory`, and exports the glue never mentions, keep their names.
// The script refuses (exit 1) when an import is not found in the glue, or a
// renamed name is still found there afterwards, so a wasm-bindgen with other glue
// fails the build instead of shipping a module whose imports do not resolve.
//
// Usage: node js/minify-names.mjs PKG_DIR   (rewrites PKG_DIR's imsip_core_bg.wasm,
// imsip_core.js, imsip_core_bg.js when present, imsip_core.d.ts, imsip_core_bg.wasm.d.ts)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node js/minify-names.mjs PKG_DIR');
  process.exit(64);
}
const fail = (msg) => {
  console.error(`minify-names: ${msg}`);
  process.exit(1);
};

// ── the module's sections ──
const wasmPath = path.join(dir, 'imsip_core_bg.wasm');
const wasm = readFileSync(wasmPath);
if (wasm.readUInt32LE(0) !== 0x6d736100 || wasm.readUInt32LE(4) !== 1) fail('not a wasm module');

const readU32 = (buf, at) => {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[at++];
    if (byte === undefined || shift > 28) fail('truncated LEB128');
    value |= (byte & 0x7f) << shift;
    shift += 7;
    if (!(byte & 0x80)) return [value >>> 0, at];
  }
};
const u32 = (value) => {
  const out = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
};
const nameBytes = (name) => {
  const bytes = Buffer.from(name, 'utf8');
  return Buffer.concat([u32(bytes.length), bytes]);
};
const readName = (buf, at) => {
  const [len, start] = readU32(buf, at);
  return [buf.toString('utf8', start, start + len), start + len];
};
// The length of an import's description after its kind byte (WebAssembly core
// spec §5.5.5): function type index, table (reftype + limits), memory limits,
// global (valtype + mutability), tag (attribute + type index).
const limitsEnd = (buf, at) => {
  const flags = buf[at++];
  [, at] = readU32(buf, at);
  if (flags & 1) [, at] = readU32(buf, at);
  return at;
};
const descEnd = (buf, kind, at) => {
  switch (kind) {
    case 0: return readU32(buf, at)[1];
    case 1: return limitsEnd(buf, at + 1);
    case 2: return limitsEnd(buf, at);
    case 3: return at + 2;
    case 4: return readU32(buf, at + 1)[1];
    default: return fail(`import kind ${kind}`);
  }
};

const sections = [];
for (let at = 8; at < wasm.length;) {
  const id = wasm[at];
  const [size, start] = readU32(wasm, at + 1);
  sections.push({ id, body: wasm.subarray(start, start + size) });
  at = start + size;
}

// First the names, then the glue, then the sections: an export the glue never
// mentions (wasm-bindgen's `__instance_terminated`, ...) keeps its name.
const walk = (section, onName) => {
  const body = section.body;
  let [count, at] = readU32(body, 0);
  const parts = [u32(count)];
  while (count--) {
    let module = null;
    let name;
    if (section.id === 2) [module, at] = readName(body, at);
    [name, at] = readName(body, at);
    const kind = body[at];
    const end = section.id === 2 ? descEnd(body, kind, at + 1) : readU32(body, at + 1)[1];
    if (module !== null) parts.push(nameBytes(module));
    parts.push(nameBytes(onName(name)), body.subarray(at, end));
    at = end;
  }
  return Buffer.concat(parts);
};
const imports = [];
const exports = [];
for (const section of sections) {
  if (section.id === 2) walk(section, (name) => (imports.push(name), name));
  if (section.id === 7) walk(section, (name) => (exports.push(name), name));
}

// ── the glue ──
const files = ['imsip_core.js', 'imsip_core_bg.js', 'imsip_core.d.ts', 'imsip_core_bg.wasm.d.ts']
  .map((f) => path.join(dir, f))
  .filter((f) => existsSync(f));
const texts = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const escape = (s) => s.replace(/[$]/g, '\\$');
const count = (re) => [...texts.values()].reduce((n, t) => n + (t.match(re)?.length ?? 0), 0);
const token = (name) => new RegExp(`(?<![\\w$])${escape(name)}(?![\\w$])`, 'g');
if (count(/(?<![\w$])\$\d+(?![\w$])/g)) fail('the glue already uses `$<digits>` names');

// wasm-bindgen's own names (its prefixes, or its 16-hex-digit hash) are replaced
// wherever they occur; the crate's exports (`parseBuffer`, `imclientcore_new`, ...)
// where the glue calls the module (`wasm.name`) and where its types declare the
// module's exports (`readonly name:` in InitOutput, `export const name:`).
const generated = (name) => /^(__wbg|__wbindgen|__externref)|[0-9a-f]{16}/.test(name);
const renames = new Map();
let next = 0;
const rename = (old, pattern, strict) => {
  if (!count(pattern)) return false;
  const short = `$${next++}`;
  // A function, not a string: `$1` in a replacement string means a capture group.
  for (const [f, t] of texts) texts.set(f, t.replace(pattern, () => short));
  if (count(strict)) fail(`${old}: still in the glue after renaming`);
  renames.set(old, short);
  return true;
};
for (const name of imports) {
  if (!generated(name)) fail(`import ${name}: not a wasm-bindgen name`);
  if (!rename(name, token(name), token(name))) fail(`import ${name}: not found in the glue`);
}
for (const name of exports) {
  if (name === 'memory' || renames.has(name)) continue;
  const calls = new RegExp(`(?<=(?:\\bwasm\\.|readonly |export const ))${escape(name)}(?![\\w$])`, 'g');
  if (generated(name)) rename(name, token(name), token(name));
  else rename(name, calls, calls);
}
for (const section of sections) {
  if (section.id === 2 || section.id === 7) {
    section.body = walk(section, (name) => renames.get(name) ?? name);
  }
}

for (const [f, t] of texts) writeFileSync(f, t);
const out = [wasm.subarray(0, 8)];
for (const { id, body } of sections) out.push(Buffer.from([id]), u32(body.length), body);
writeFileSync(wasmPath, Buffer.concat(out));
console.log(`minify-names: ${renames.size} imports and exports renamed in ${dir}`);
