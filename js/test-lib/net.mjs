// Loopback helpers of the Node test suites (js/test/, js/interop/, tests/robustness/):
// a free port, waiting until something listens (TCP or HTTP), bounding a promise.
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after `ms`. */
export async function waitForPort(port, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** Resolves once `url` answers 2xx to a GET; rejects after `ms`. */
export async function waitForHttp(url, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error(`${url} did not come up`);
}

/** `p` or a rejection `Error('hung: …')` after `ms`. */
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`hung: ${what} not settled in ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}
