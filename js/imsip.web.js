// Entry of the `web` build (pkg/imsip.js): call `await init()` once before use.
import wasmInit, { initSync as wasmInitSync } from './imsip_core.js';

export * from './imclient.js';

const isNode =
  typeof process === 'object' && process !== null && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string';

/**
 * Loads the WebAssembly module. In a page or a worker it is fetched next to this
 * file (or from `module_or_path`); in Node, where fetch() cannot read files, it is
 * read from disk when no `module_or_path` is given.
 */
export default async function init(options) {
  let arg = options;
  if (arg === undefined && isNode) {
    // process.getBuiltinModule (Node 20.16+), not `import('node:fs/promises')`: an
    // import names a module that bundlers for the browser try to resolve and fail
    // on (webpack 5, esbuild), or split the shared worker's bundle over (Vite 6/7);
    // the minifier removes the comments that told some of them to skip it. Through
    // globalThis: a free `process.…` makes Parcel install a `process` polyfill.
    const fs = globalThis.process.getBuiltinModule('node:fs');
    arg = { module_or_path: fs.readFileSync(new URL('./imsip_core_bg.wasm', import.meta.url)) };
  }
  await wasmInit(arg);
}

/** Synchronous initialisation from the module's bytes or a compiled `WebAssembly.Module`. */
export function initSync(options) {
  wasmInitSync(options);
}
