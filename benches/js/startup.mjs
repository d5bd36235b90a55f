// Start-up (issue: Performance, item 5): from page load to the first REGISTER
// frame sent, in headless Chromium (playwright-core, /usr/bin/chromium). A tiny
// page served here (node:http on 127.0.0.1, with pkg/ at /pkg/), with the preload
// hints README recommends (modulepreload for the three modules, preload of the
// wasm, so that the four fetches start together rather than one after another),
// imports ../pkg/imsip.js, calls init(), creates an ImClient and registers against the
// core at --url; the figure is performance.now() (milliseconds since navigation
// start) at the first 'trace' event with direction 'out'. Each run uses a new
// browser context (empty HTTP cache); the median of the runs is the figure. Each
// run also loads an empty page with a module script (no imsip) the same way: the
// browser's own floor, reported beside it.
// A benchmark: prints and writes figures, asserts nothing.
//
// Usage: node benches/js/startup.mjs --url ws://127.0.0.1:P/sip [--runs 7] [--first 1990] [--json FILE]
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const url = arg('--url');
const runs = Number(arg('--runs', '7'));
const first = Number(arg('--first', '1990'));
if (!url) {
  console.error('usage: node startup.mjs --url ws://127.0.0.1:PORT/sip [--runs N]');
  process.exit(64);
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>imsip start-up</title>
<link rel="modulepreload" href="../pkg/imsip.js">
<link rel="modulepreload" href="../pkg/imclient.js">
<link rel="modulepreload" href="../pkg/imsip_core.js">
<link rel="preload" href="../pkg/imsip_core_bg.wasm" as="fetch" type="application/wasm" crossorigin>
<script type="module">
  import init, { ImClient } from '../pkg/imsip.js';
  const q = new URLSearchParams(location.search);
  const user = q.get('user');
  const r = (window.__startup = {});
  try {
    r.scriptMs = performance.now();
    await init();
    r.initMs = performance.now();
    const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'));
    if (wasm) r.wasmFetchedMs = wasm.responseEnd;
    const client = new ImClient({
      server: q.get('ws'),
      aor: 'sip:' + user + '@imsip.test',
      username: user,
      password: 'pw-' + user,
      keepAliveInterval: 0,
      publishPolicy: 'never',
    });
    client.addEventListener('trace', (e) => {
      if (e.detail.direction === 'out' && r.firstOutMs === undefined) {
        r.firstOutMs = performance.now();
        r.firstLine = e.detail.text.split('\\r\\n', 1)[0];
      }
    });
    await client.register();
    r.registeredMs = performance.now();
    client.close();
  } catch (e) {
    r.error = String(e && e.message || e);
  }
  r.done = true;
</script>
`;

// The browser's own share: the same navigation to a page whose module script only
// reads the clock (no imsip). Its median is reported as the floor.
const EMPTY = `<!doctype html>
<meta charset="utf-8">
<title>empty</title>
<script type="module">window.__startup = { scriptMs: performance.now(), done: true };</script>
`;

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };
const server = http.createServer(async (req, res) => {
  const p = new URL(req.url, 'http://x').pathname;
  try {
    if (p === '/bench/startup.html' || p === '/bench/empty.html') {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-store' });
      res.end(p === '/bench/empty.html' ? EMPTY : PAGE);
      return;
    }
    if (p.startsWith('/pkg/') && !p.includes('..')) {
      const body = await readFile(path.join(root, p));
      res.writeHead(200, { 'content-type': TYPES[path.extname(p)] || 'application/octet-stream' });
      res.end(body);
      return;
    }
  } catch { /* 404 below */ }
  res.writeHead(404);
  res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const samples = [];
const floors = [];
let failure = null;
try {
  for (let i = 0; i < runs; i++) {
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/bench/empty.html`);
      await page.waitForFunction(() => window.__startup && window.__startup.done, null, { timeout: 30_000 });
      floors.push(await page.evaluate(() => window.__startup.scriptMs));
      await context.close();
    }
    const context = await browser.newContext();
    const page = await context.newPage();
    const user = `user${String((first + i) % 10000).padStart(4, '0')}`;
    await page.goto(`${base}/bench/startup.html?ws=${encodeURIComponent(url)}&user=${user}`);
    await page.waitForFunction(() => window.__startup && window.__startup.done, null, { timeout: 30_000 });
    const r = await page.evaluate(() => window.__startup);
    await context.close();
    if (r.error || r.firstOutMs === undefined) {
      failure = r.error || 'no frame sent';
      break;
    }
    samples.push(r);
  }
} finally {
  await browser.close();
  server.close();
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};
const result = {
  runs: samples.length,
  firstOutMs: median(samples.map((s) => s.firstOutMs)),
  scriptMs: median(samples.map((s) => s.scriptMs)),
  wasmFetchedMs: median(samples.map((s) => s.wasmFetchedMs)),
  initMs: median(samples.map((s) => s.initMs)),
  registeredMs: median(samples.map((s) => s.registeredMs)),
  emptyPageScriptMs: median(floors),
  firstRunFirstOutMs: samples.length ? samples[0].firstOutMs : null,
  samples: samples.map((s) => s.firstOutMs),
  firstLine: samples.length ? samples[0].firstLine : null,
  error: failure,
};
if (failure) console.log(`start-up: failed: ${failure}`);
if (samples.length) {
  console.log(`start-up (median of ${samples.length}, new context each): first frame out ${result.firstOutMs.toFixed(1)} ms ` +
    `(module script running ${result.scriptMs.toFixed(1)}, wasm fetched ${result.wasmFetchedMs.toFixed(1)}, ` +
    `init done ${result.initMs.toFixed(1)} ms, registered ${result.registeredMs.toFixed(1)} ms); ` +
    `empty page's module script at ${result.emptyPageScriptMs.toFixed(1)} ms; ` +
    `samples ${result.samples.map((x) => x.toFixed(1)).join(' ')}; first frame: ${result.firstLine}`);
}
const json = arg('--json');
if (json) await writeFile(json, JSON.stringify(result, null, 2));
