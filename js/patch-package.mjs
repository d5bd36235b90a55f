// Turns wasm-pack's package.json into the `imsip` package's: the shim (imsip.js)
// is the entry, the hand-written imsip.d.ts the types.
// Usage: node js/patch-package.mjs OUT_DIR TARGET
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [out, target] = process.argv.slice(2);
const file = join(out, 'package.json');
const gen = JSON.parse(readFileSync(file, 'utf8'));

const files = [
  'imsip.js',
  'imsip.d.ts',
  'imclient.js',
  'imworker.js',
  'imsip_core.js',
  'imsip_core.d.ts',
  'imsip_core_bg.wasm',
  'imsip_core_bg.wasm.d.ts',
  'README.md',
];
if (existsSync(join(out, 'imsip_core_bg.js'))) files.push('imsip_core_bg.js');
if (existsSync(join(out, 'snippets'))) files.push('snippets/');
for (const f of files) {
  if (!existsSync(join(out, f))) throw new Error(`${out}/${f} is missing`);
}

const pkg = {
  name: 'imsip',
  version: gen.version,
  description: gen.description,
  license: gen.license ?? 'MIT OR Apache-2.0',
  keywords: gen.keywords,
  type: 'module',
  main: 'imsip.js',
  module: 'imsip.js',
  types: 'imsip.d.ts',
  exports: {
    '.': { types: './imsip.d.ts', default: './imsip.js' },
    './imsip_core_bg.wasm': './imsip_core_bg.wasm',
    './package.json': './package.json',
  },
  files,
  // wasm-pack's list: the bundler glue instantiates the module on import.
  sideEffects: gen.sideEffects ?? ['./snippets/*'],
  // process.getBuiltinModule (imsip.js reads the wasm from disk with it in Node).
  engines: { node: '>=20.16' },
  imsip: { target },
};
for (const k of Object.keys(pkg)) if (pkg[k] === undefined) delete pkg[k];
writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
