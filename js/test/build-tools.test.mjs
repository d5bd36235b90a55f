// The package build's post-processing (js/build.sh, issue 14) on small modules whose
// every byte is known: js/minify-names.mjs renames imports of each kind and the
// exports in the module and in a glue written the way wasm-bindgen writes it, and
// the result still links; js/order-functions.mjs keeps every function and export.
//
//   node --test js/test/build-tools.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';
import { removeTempDir } from '../test-lib/tmp.mjs';

const js = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GLUE = './imsip_core_bg.js';
const HASHED = '__wbg_get_0123456789abcdef';

// A function, a table, a memory and a global imported from the glue module (every
// import description the rewriter must step over), and exports the glue calls.
const MODULE = `(module
  (import "${GLUE}" "${HASHED}" (func $get (param i32) (result i32)))
  (import "${GLUE}" "__wbindgen_table" (table 1 funcref))
  (import "${GLUE}" "__wbindgen_memory0" (memory 1 2))
  (import "${GLUE}" "__wbindgen_base" (global $base i32))
  (func $twice (export "parseTwice") (param i32) (result i32)
    (i32.mul (call $get (local.get 0)) (i32.const 2)))
  (func $plus (export "__wbindgen_plus_base") (param i32) (result i32)
    (i32.add (local.get 0) (global.get $base)))
  (func (export "unused_by_glue") (result i32) (i32.const 7)))`;

const glue = `let wasm;
export function parseTwice(x) { return wasm.parseTwice(x); }
export function plusBase(x) { return wasm.__wbindgen_plus_base(x); }
export function imports(memory, table) {
  return { "${GLUE}": {
    ${HASHED}: function(x) { return x + 1; },
    __wbindgen_table: table,
    __wbindgen_memory0: memory,
    __wbindgen_base: new WebAssembly.Global({ value: 'i32' }, 100),
  } };
}
export function setWasm(exports) { wasm = exports; }
`;
const types = `export interface InitOutput {
  readonly parseTwice: (a: number) => number;
  readonly __wbindgen_plus_base: (a: number) => number;
}
`;

function workDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'imsip-build-tools-'));
  t.after(() => removeTempDir(dir));
  return dir;
}

function emit(text) {
  const m = binaryen.parseText(text);
  m.setFeatures(binaryen.Features.MVP | binaryen.Features.MutableGlobals);
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

test('minify-names: every import kind and the called exports get short names, and the module still links', async (t) => {
  const dir = workDir(t);
  writeFileSync(path.join(dir, 'imsip_core_bg.wasm'), emit(MODULE));
  writeFileSync(path.join(dir, 'imsip_core.js'), glue);
  writeFileSync(path.join(dir, 'imsip_core.d.ts'), types);
  execFileSync(process.execPath, [path.join(js, 'minify-names.mjs'), dir]);

  const wasm = new WebAssembly.Module(readFileSync(path.join(dir, 'imsip_core_bg.wasm')));
  // Named in the order the module lists them (binaryen writes memories first).
  const importNames = WebAssembly.Module.imports(wasm).map((i) => `${i.module} ${i.name} ${i.kind}`);
  assert.deepEqual(importNames, [`${GLUE} $0 memory`, `${GLUE} $1 table`, `${GLUE} $2 global`, `${GLUE} $3 function`]);
  const exportNames = WebAssembly.Module.exports(wasm).map((e) => e.name);
  assert.deepEqual(exportNames, ['$4', '$5', 'unused_by_glue'], 'an export the glue never mentions keeps its name');

  const rewritten = readFileSync(path.join(dir, 'imsip_core.js'), 'utf8');
  assert.ok(!rewritten.includes(HASHED) && !rewritten.includes('__wbindgen_'), rewritten);
  assert.match(rewritten, /export function parseTwice\(x\) \{ return wasm\.\$4\(x\); \}/, 'the package keeps its own export names');
  assert.match(readFileSync(path.join(dir, 'imsip_core.d.ts'), 'utf8'), /readonly \$4: .*\n {2}readonly \$5:/);

  const g = await import(path.join(dir, 'imsip_core.js'));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const table = new WebAssembly.Table({ initial: 1, element: 'anyfunc' });
  const instance = new WebAssembly.Instance(wasm, g.imports(memory, table));
  g.setWasm(instance.exports);
  assert.equal(g.parseTwice(20), 42);
  assert.equal(g.plusBase(1), 101);
});

test('minify-names: an import the glue does not provide fails the build, and nothing is written', (t) => {
  const dir = workDir(t);
  const before = emit(MODULE);
  writeFileSync(path.join(dir, 'imsip_core_bg.wasm'), before);
  writeFileSync(path.join(dir, 'imsip_core.js'), glue.replace(`${HASHED}: `, 'somethingElse: '));
  const run = spawnSync(process.execPath, [path.join(js, 'minify-names.mjs'), dir], { encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(run.stderr, new RegExp(`import ${HASHED}: not found in the glue`));
  assert.deepEqual(readFileSync(path.join(dir, 'imsip_core_bg.wasm')), Buffer.from(before));
});

test('order-functions: functions of one signature end up side by side, every function and export is kept, the module computes the same, and the order is the same each run', (t) => {
  const dir = workDir(t);
  const functions = Array.from({ length: 12 }, (_, i) => i % 3 === 0
    ? `(func (export "f${i}") (param i32) (result i32) (i32.add (local.get 0) (i32.const ${i})))`
    : `(func (export "f${i}") (param i64) (result i64) (i64.mul (local.get 0) (i64.const ${i})))`);
  const input = path.join(dir, 'in.wasm');
  const output = path.join(dir, 'out.wasm');
  writeFileSync(input, emit(`(module ${functions.join('\n')})`));
  execFileSync(process.execPath, [path.join(js, 'order-functions.mjs'), input, output]);
  const before = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(input))).exports;
  const after = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(output))).exports;
  assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
  for (let i = 0; i < 12; i++) {
    const arg = i % 3 === 0 ? 5 : 5n;
    assert.equal(after[`f${i}`](arg), before[`f${i}`](arg), `f${i}`);
  }
  // In the input the i32 functions are every third one; the chain groups each
  // signature in one run (which comes first depends on the start the script keeps).
  const m = binaryen.readBinary(readFileSync(output));
  const signatures = Array.from({ length: m.getNumFunctions() },
    (_, i) => binaryen.getFunctionInfo(m.getFunctionByIndex(i)).params === binaryen.i32 ? 'i32' : 'i64');
  m.dispose();
  const runs = signatures.filter((s, i) => i === 0 || s !== signatures[i - 1]);
  assert.equal(runs.length, 2, `one run per signature: ${signatures}`);
  assert.equal(signatures.filter((s) => s === 'i32').length, 4);
  const again = path.join(dir, 'again.wasm');
  execFileSync(process.execPath, [path.join(js, 'order-functions.mjs'), input, again]);
  assert.deepEqual(readFileSync(again), readFileSync(output), 'deterministic');
});
