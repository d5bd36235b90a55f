// The package under test for the Node test suites (js/test/, js/interop/,
// tests/robustness/): where it is, loading it once, and waiting for its events.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built package's entry: pkg/imsip.js from js/build.sh, or $IMSIP_PKG. */
export const entry = process.env.IMSIP_PKG ?? path.join(root, 'pkg', 'imsip.js');
/** `ws` 8.x as installed by js/package-lock.json (Node 20 has no WebSocket of its own). */
export { WebSocket, WebSocketServer } from 'ws';

let loaded;
/** The package, init() done (loaded once per process). */
export function loadImsip() {
  loaded ??= (async () => {
    if (!existsSync(entry)) throw new Error(`build the package first (bash js/build.sh): ${entry}`);
    const m = await import(pathToFileURL(entry).href);
    await m.default();
    return m;
  })();
  return loaded;
}

/** An event detail as text for an assertion message (errors as their code, status and message). */
export const fmt = (d) => JSON.stringify(d, (key, v) => (v instanceof Error ? { code: v.code, status: v.status, message: v.message } : v));

/** Resolves with the detail of the next `type` event of `target` matching `pred`, or rejects after `ms`. */
export function next(target, type, pred = () => true, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      reject(new Error(`no matching ${type} event in ${ms} ms`));
    }, ms);
    const on = (e) => {
      if (!pred(e.detail)) return;
      clearTimeout(timer);
      target.removeEventListener(type, on);
      resolve(e.detail);
    };
    target.addEventListener(type, on);
  });
}

/** Records every event of `types` in `c.ev[type]` from now on; returns `c`. */
export function recordEvents(c, types) {
  c.ev = {};
  for (const type of types) {
    c.ev[type] = [];
    c.addEventListener(type, (e) => c.ev[type].push(e.detail));
  }
  return c;
}

/**
 * The first `type` event of `c` (recording with `recordEvents`, its test in `c.test`)
 * at index ≥ `after` (already recorded or still to come) matching `pred`; rejects after
 * `ms` listing what did arrive. The wait ends with the test at the latest (no timer
 * outlives it).
 */
export function expectEvent(c, type, pred, { after = 0, ms = 20_000, what = `${type} event` } = {}) {
  return new Promise((resolve, reject) => {
    let i = after;
    const check = () => {
      for (const list = c.ev[type]; i < list.length; i++) {
        if (pred(list[i])) {
          done();
          resolve(list[i]);
          return;
        }
      }
    };
    const listener = () => queueMicrotask(check);
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${what} within ${ms} ms; ${type} events: ${c.ev[type].slice(after).map(fmt).join(', ') || 'none'}`));
    }, ms);
    const done = () => { clearTimeout(timer); c.removeEventListener(type, listener); };
    c.test.after(done);
    c.addEventListener(type, listener);
    check();
  });
}

/** The text of each frame `c` received (its `trace` events, recorded) whose first line starts with `start`. */
export const received = (c, start) => c.ev.trace.filter((f) => f.direction === 'in' && f.text.startsWith(start)).map((f) => f.text);
