// Entry of the `bundler` build (pkg-bundler/imsip.js): the bundler instantiates the
// WebAssembly module on import, so init() only exists to keep code portable
// between the two builds.
export * from './imclient.js';

/** Nothing to do in the bundler build; resolves at once. */
export default async function init() {}

/** Nothing to do in the bundler build. */
export function initSync() {}
