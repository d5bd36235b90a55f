// Memory per registered client and CPU per registration (issue: Performance,
// items 3 and 4), one library per process:
//   imsip   ImClient (pkg/imsip.js) with `webSocket` from `ws`, keep-alive off,
//           publishPolicy 'never' (a REGISTER only, as JsSIP does)
//   jssip   JsSIP 3.13.8 UA (global.WebSocket = ws, JsSIP.WebSocketInterface)
//   ws      a bare `ws` socket (subprotocol sip), no SIP: the floor
// Each client is its own user (userNNNN / pw-userNNNN, realm imsip.test) and does
// REGISTER → 401 → REGISTER → 200 against the core at --url (loopback only).
//
// Method: the first W clients (warm-up: code loaded, JIT warm) are registered,
// then gc() and a baseline; then the other N−W register (at most C at once) and
// process.cpuUsage() over that phase / (N−W) is the CPU per registration; then
// gc() and memory again: (heapUsed + external) / (N−W) per client. In Node 20
// `external` already includes arrayBuffers and the WebAssembly.Memory of imsip
// (one Memory shared by every client of the instance), so neither is added
// again; the growth of that Memory is reported on its own.
// A benchmark: prints and writes figures, asserts nothing.
//
// Usage: node --expose-gc benches/js/clients.mjs --lib imsip|jssip|ws --url ws://127.0.0.1:P/sip
//          [--n 1000] [--first 0] [--users 2000] [--concurrency 50] [--json FILE]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const lib = arg('--lib');
const url = arg('--url');
const n = Number(arg('--n', '1000'));
const first = Number(arg('--first', '0'));
const concurrency = Number(arg('--concurrency', '50'));
const warm = Math.max(1, Math.min(20, Math.floor(n / 10)));
if (!['imsip', 'jssip', 'ws'].includes(lib) || !url || !(n > warm)) {
  console.error('usage: node --expose-gc clients.mjs --lib imsip|jssip|ws --url ws://... [--n N>1]');
  process.exit(64);
}
if (typeof gc !== 'function') {
  console.error('clients.mjs: run with node --expose-gc');
  process.exit(64);
}
const REGISTER_TIMEOUT_MS = 30_000;
const users = Number(arg('--users', '2000')); // the core has user0000..user(users-1)
const user = (i) => `user${String((first + i) % users).padStart(4, '0')}`;

const withTimeout = (p, what) => Promise.race([
  p,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${REGISTER_TIMEOUT_MS} ms`)),
    REGISTER_TIMEOUT_MS).unref()),
]);

// ── the three ways of making a client; each resolves when registered (or open) ──
let wasmMemory = null;
let makeClient;
if (lib === 'imsip') {
  const imsip = await import(path.join(root, 'pkg/imsip.js'));
  await imsip.default();
  // The same module instance pkg/imsip.js loaded: its init returns the exports at once.
  const core = await import(path.join(root, 'pkg/imsip_core.js'));
  wasmMemory = (await core.default()).memory;
  makeClient = async (i) => {
    const u = user(i);
    const c = new imsip.ImClient({
      server: url,
      aor: `sip:${u}@imsip.test`,
      username: u, // the digest user JsSIP sends too (Kamailio takes either form)
      password: `pw-${u}`,
      keepAliveInterval: 0,
      publishPolicy: 'never',
      webSocket: WebSocket,
    });
    await withTimeout(c.register(), u);
    return c;
  };
} else if (lib === 'jssip') {
  globalThis.WebSocket = WebSocket;
  const require = createRequire(import.meta.url);
  const JsSIP = require('jssip');
  JsSIP.debug.disable();
  makeClient = (i) => {
    const u = user(i);
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(url)],
      uri: `sip:${u}@imsip.test`,
      password: `pw-${u}`,
      register: true,
      register_expires: 600,
      session_timers: false,
    });
    const done = new Promise((resolve, reject) => {
      ua.on('registered', () => resolve(ua));
      ua.on('registrationFailed', (e) => reject(new Error(`${u}: ${e.cause}`)));
    });
    ua.start();
    return withTimeout(done, u);
  };
} else {
  makeClient = (i) => withTimeout(new Promise((resolve, reject) => {
    const s = new WebSocket(url, 'sip');
    s.on('open', () => resolve(s));
    s.on('error', reject);
  }), `socket ${i}`);
}

async function registerRange(from, to, clients) {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      clients.push(await makeClient(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, to - from) }, worker));
}

function settle() {
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return { ...m, wasm: wasmMemory ? wasmMemory.buffer.byteLength : 0 };
}

const clients = [];
await registerRange(0, warm, clients);
await new Promise((r) => setTimeout(r, 200));
const m0 = settle();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await registerRange(warm, n, clients);
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
await new Promise((r) => setTimeout(r, 500)); // let pending callbacks run
const m1 = settle();

const measured = n - warm;
const per = (k) => (m1[k] - m0[k]) / measured;
const result = {
  lib,
  url,
  clients: n,
  measured,
  warmUp: warm,
  concurrency,
  perClient: {
    heapUsed: per('heapUsed'),
    external: per('external'),
    arrayBuffers: per('arrayBuffers'),
    wasm: per('wasm'),
    rss: per('rss'),
  },
  wasmMemoryBytes: m1.wasm,
  cpuMsPerRegistration: (cpu.user + cpu.system) / 1000 / measured,
  wallMsTotal: wallMs,
};
result.perClient.total = result.perClient.heapUsed + result.perClient.external;

const kb = (b) => (b / 1024).toFixed(2);
console.log(`${lib}: ${measured} clients measured (${warm} warm-up first, ${concurrency} at once), ${(wallMs / 1000).toFixed(1)} s`);
console.log(`  per client: ${kb(result.perClient.total)} KB = heap ${kb(result.perClient.heapUsed)} + external ${kb(result.perClient.external)} (of which arrayBuffers ${kb(result.perClient.arrayBuffers)}, wasm Memory ${kb(result.perClient.wasm)}); rss ${kb(result.perClient.rss)}`);
if (wasmMemory) console.log(`  wasm Memory: ${kb(m1.wasm)} KB (shared by all clients)`);
console.log(`  CPU: ${result.cpuMsPerRegistration.toFixed(3)} ms per ${lib === 'ws' ? 'connection' : 'registration'}`);
const json = arg('--json');
if (json) writeFileSync(json, JSON.stringify(result, null, 2));

for (const c of clients) {
  try {
    if (lib === 'jssip') c.stop(); else c.close();
  } catch { /* closing anyway */ }
}
setTimeout(() => process.exit(0), 300).unref();
