// Load (issue "Robustness", item 3): LOAD_CLIENTS ImClients (default 1000), each its
// own user (a generated users file), registered against imsip-devcore in one Node
// process with expires 60 (so every client refreshes 3–6 times a run), for
// LOAD_SECONDS (default 180) after the last registration; meanwhile a storm of
// LOAD_MESSAGES MESSAGEs (default 10,000) between random pairs, UTF-8 bodies with a
// unique id, at LOAD_RATE per second (default 100) with at most LOAD_INFLIGHT
// (default 200) unanswered. Prints figures; asserts nothing (a benchmark-like
// script): sent / resolved / rejected / received / duplicated / lost, the
// registrations, and every 10 s Node's heap + external and devcore's VmRSS.
//
//   node --expose-gc tests/robustness/load.mjs        (gc() before each sample when exposed)
// Loopback only; devcore is started here (RUST_LOG=warn) and stopped by PID.
import { mkdtempSync, readFileSync } from 'node:fs';
import { removeTempDir } from '../../js/test-lib/tmp.mjs';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomInt, randomUUID } from 'node:crypto';
import { WebSocket, loadImsip, freePort, waitForPort, startDevcore, writeUsers, sleep, withTimeout } from './lib.mjs';

const env = (k, d) => Number(process.env[k] ?? d);
const N = env('LOAD_CLIENTS', 1000);
const SECONDS = env('LOAD_SECONDS', 180);
const MESSAGES = env('LOAD_MESSAGES', 10_000);
const RATE = env('LOAD_RATE', 100);
const INFLIGHT = env('LOAD_INFLIGHT', 200);
const EXPIRES = 60;
const SAMPLE_MS = 10_000;
const log = (...a) => console.error(`[load ${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...a);
const T0 = Date.now();

const { ImClient } = await loadImsip();
const dir = mkdtempSync(path.join(tmpdir(), 'imsip-robust-load-'));
const usersFile = path.join(dir, 'users.toml');
writeUsers(usersFile, N);
const port = await freePort();
const logFd = openSync(path.join(dir, 'devcore.log'), 'w');
const core = startDevcore({ port, db: path.join(dir, 'load.sqlite'), users: usersFile, stderr: logFd, rustLog: 'warn' });
const clients = [];
let exiting = false;
const stopAll = async () => {
  if (exiting) return;
  exiting = true;
  for (const c of clients) c.close();
  await core.stop();
  closeSync(logFd);
};
process.on('SIGINT', () => stopAll().then(() => process.exit(130)));
await waitForPort(port);
const server = `ws://127.0.0.1:${port}/sip`;

const rssKb = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${core.pid}/status`, 'utf8'))[1]);
  } catch { return NaN; }
};
const mem = () => {
  if (typeof gc === 'function') gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
};

// ── counters ──
const c = {
  sent: 0, resolved: 0, rejected: 0, rejectedBy: {}, received: 0, duplicated: 0, unexpected: 0,
  registerOut: 0, register200: 0, disconnects: 0, regEvents: {}, dropped: 0, probeReceived: 0,
};
const msgs = new Map(); // id → { from, to, outcome, got }
const user = (i) => `user${String(i).padStart(4, '0')}`;
const aor = (i) => `sip:${user(i)}@imsip.test`;

function makeClient(i) {
  const cl = new ImClient({
    server, aor: aor(i), password: `pw-${user(i)}`, expires: EXPIRES, publishPolicy: 'never',
    webSocket: WebSocket, reconnect: { minDelay: 0.5, maxDelay: 5 },
  });
  cl.index = i;
  cl.lastRegOk = 0;
  cl.lastRegOut = 0;
  cl.addEventListener('trace', (e) => {
    const { direction, text } = e.detail;
    if (direction === 'out' && text.startsWith('REGISTER ')) { c.registerOut++; cl.lastRegOut = Date.now(); }
    else if (direction === 'in' && text.startsWith('SIP/2.0 200') && /\r\nCSeq: *\d+ REGISTER\r\n/i.test(text)) {
      c.register200++;
      cl.lastRegOk = Date.now();
    }
  });
  cl.addEventListener('connection', (e) => { if (e.detail.state === 'disconnected') c.disconnects++; });
  cl.addEventListener('registration', (e) => { c.regEvents[e.detail.state] = (c.regEvents[e.detail.state] ?? 0) + 1; });
  cl.addEventListener('dropped', () => { c.dropped++; });
  cl.addEventListener('message', (e) => {
    if (e.detail.body.startsWith('probe ')) { c.probeReceived++; return; }
    const id = /\[load:([0-9a-f-]+)\]/.exec(e.detail.body)?.[1];
    const m = id && msgs.get(id);
    if (!m || m.to !== i || m.body !== e.detail.body) { c.unexpected++; return; }
    m.got++;
    if (m.got === 1) c.received++; else c.duplicated++;
  });
  clients.push(cl);
  return cl;
}

// ── samples every 10 s ──
const samples = [];
function sample(phase) {
  const m = mem();
  const s = {
    t: Math.round((Date.now() - T0) / 1000), phase, heapExt: m.heap + m.external, heap: m.heap, external: m.external,
    nodeRss: m.rss, coreRss: rssKb() * 1024, sent: c.sent, resolved: c.resolved, rejected: c.rejected,
    received: c.received, registered: clients.filter((x) => x.registration.state === 'registered').length,
    registerOut: c.registerOut, disconnects: c.disconnects,
  };
  samples.push(s);
  log(`${phase}: heap+ext ${mb(s.heapExt)} MB, devcore RSS ${mb(s.coreRss)} MB, registered ${s.registered}/${clients.length},`,
    `sent ${s.sent} resolved ${s.resolved} rejected ${s.rejected} received ${s.received}, REGISTER out ${s.registerOut}`);
}
const mb = (b) => (b / 1048576).toFixed(1);
let phase = 'register';
const sampler = setInterval(() => sample(phase), SAMPLE_MS);

// ── 1. register, 50 at a time ──
sample('start');
const tReg = Date.now();
let nextI = 0;
let regFailed = 0;
await Promise.all(Array.from({ length: 50 }, async () => {
  while (nextI < N) {
    const cl = makeClient(nextI++);
    try { await withTimeout(cl.register(), 40_000, `register ${cl.index}`); } catch (e) { regFailed++; log(`register ${cl.index}: ${e.code ?? e.message}`); }
  }
}));
const regSeconds = (Date.now() - tReg) / 1000;
log(`${N - regFailed}/${N} registered in ${regSeconds.toFixed(1)} s`);
sample('registered');

// ── 2. storm for SECONDS, the messages at RATE/s, at most INFLIGHT unanswered ──
phase = 'storm';
const tStorm = Date.now();
const tEnd = tStorm + SECONDS * 1000;
let inflight = 0;
const pending = new Set();
const texts = ['grüße', 'héllo ✓', '日本語のテキスト', 'emoji 👋🎉', 'ünïcødé — “quotes”', 'Ελληνικά', 'русский'];
function sendOne() {
  const from = randomInt(N);
  let to = randomInt(N - 1);
  if (to >= from) to++;
  const id = randomUUID();
  const body = `${texts[c.sent % texts.length]} [load:${id}] #${c.sent}`;
  const m = { from, to, body, outcome: undefined, got: 0, settles: 0 };
  msgs.set(id, m);
  c.sent++;
  inflight++;
  const p = clients[from].sendMessage(aor(to), body).then(
    (r) => { m.settles++; m.outcome = `resolved ${r.status}`; c.resolved++; },
    (e) => {
      m.settles++;
      const why = e.status ? `${e.code} ${e.status}` : e.code;
      m.outcome = why;
      c.rejected++;
      c.rejectedBy[why] = (c.rejectedBy[why] ?? 0) + 1;
    },
  ).finally(() => { inflight--; pending.delete(p); });
  pending.add(p);
}
let credit = 0;
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const now = Date.now();
    if (now >= tEnd) { clearInterval(tick); resolve(); return; }
    credit = Math.min(credit + RATE / 10, RATE); // 100 ms ticks
    while (credit >= 1 && c.sent < MESSAGES && inflight < INFLIGHT) { sendOne(); credit--; }
  }, 100);
});
const stormSeconds = (Date.now() - tStorm) / 1000;

// ── 3. settle: every promise, then deliveries ──
phase = 'settle';
log(`run over; waiting for ${pending.size} unanswered MESSAGEs`);
await Promise.race([Promise.allSettled([...pending]), sleep(45_000)]);
await sleep(3000);
sample('end');
clearInterval(sampler);

// ── 4. reachability probe: one MESSAGE to every client from its neighbour ──
// A client whose registration was not refreshed is unknown to the core (404) even
// though its own registration state still says 'registered'. Client i is probed by
// client i+1, from the last index down, so that a client is probed before it sends
// its own probe (any command runs its overdue timers, refreshing it first).
const now = Date.now();
const stale = clients.filter((x) => now - x.lastRegOk > EXPIRES * 1000);
const staleButRegistered = stale.filter((x) => x.registration.state === 'registered').length;
const staleSilent = stale.filter((x) => now - x.lastRegOut > EXPIRES * 1000).length;
const probe = { resolved: 0, rejectedBy: {}, unreachable: [] };
let probeNext = N - 1;
await Promise.all(Array.from({ length: 20 }, async () => {
  while (probeNext >= 0) {
    const i = probeNext--;
    try {
      await withTimeout(clients[(i + 1) % N].sendMessage(aor(i), `probe ✓ ${i}`), 40_000, `probe ${i}`);
      probe.resolved++;
    } catch (e) {
      const why = e.status ? `${e.code} ${e.status}` : (e.code ?? e.message);
      probe.rejectedBy[why] = (probe.rejectedBy[why] ?? 0) + 1;
      probe.unreachable.push(i);
    }
  }
}));
await sleep(1000);
const unreachableStale = probe.unreachable.filter((i) => stale.includes(clients[i])).length;
log(`probe: ${probe.resolved}/${N} reachable, ${probe.unreachable.length} not (${unreachableStale} of them stale)`);

// ── figures ──
const unsettled = [...msgs.values()].filter((m) => m.settles === 0).length;
const multiSettled = [...msgs.values()].filter((m) => m.settles > 1).length;
const lost = [...msgs.values()].filter((m) => m.outcome?.startsWith('resolved') && m.got === 0).length;
const deliveredButRejected = [...msgs.values()].filter((m) => m.outcome && !m.outcome.startsWith('resolved') && m.got > 0).length;
const notRegistered = clients.filter((x) => x.registration.state !== 'registered').length;

const row = (cells) => `| ${cells.join(' | ')} |`;
const out = [];
out.push('', `## Robustness load: ${N} ImClients on imsip-devcore, expires ${EXPIRES} s, ${stormSeconds.toFixed(0)} s run`, '');
out.push(row(['figure', 'value']), row(['---', '---:']));
const fig = (k, v) => out.push(row([k, v]));
fig('clients registered at start', `${N - regFailed} / ${N} (in ${regSeconds.toFixed(1)} s)`);
fig('MESSAGEs sent', c.sent);
fig('resolved (2xx)', c.resolved);
fig('rejected', `${c.rejected} ${JSON.stringify(c.rejectedBy)}`);
fig('never settled', unsettled);
fig('settled more than once', multiSettled);
fig('received (unique)', c.received);
fig('duplicated deliveries', c.duplicated);
fig('lost (resolved, never received)', lost);
fig('received although rejected at the sender', deliveredButRejected);
fig('unexpected MESSAGEs received', c.unexpected);
fig('REGISTER sent (incl. 401 retries) / 200s', `${c.registerOut} / ${c.register200}`);
fig('registration 200s per client per minute', (c.register200 / N / ((now - tReg) / 60000)).toFixed(2));
fig('clients not registered at the end', notRegistered);
fig(`clients without a REGISTER 200 in the last ${EXPIRES} s at the end of the run (binding expired at the core)`,
  `${stale.length} (${staleButRegistered} of them still say 'registered'; ${staleSilent} sent no REGISTER at all in that time)`);
fig('reachability probe after the run: MESSAGE to every client', `${probe.resolved} resolved, ${probe.unreachable.length} rejected ${JSON.stringify(probe.rejectedBy)}, ${unreachableStale} of those stale; ${c.probeReceived} received`);
fig('connection losses', c.disconnects);
fig('dropped frames', c.dropped);
out.push('', '### Memory every 10 s (Node after gc(): heapUsed + external; devcore: VmRSS)', '');
out.push(row(['t (s)', 'phase', 'Node heap+ext MB', 'heap MB', 'external MB', 'Node RSS MB', 'devcore RSS MB', 'registered', 'sent', 'received']));
out.push(row(Array(10).fill('---:')));
for (const s of samples) {
  out.push(row([s.t, s.phase, mb(s.heapExt), mb(s.heap), mb(s.external), mb(s.nodeRss), mb(s.coreRss), s.registered, s.sent, s.received]));
}
out.push('', '### Per minute of the run (from the last registration)', '');
out.push(row(['minute', 'Node heap+ext MB start → end', 'devcore RSS MB start → end']), row(['---:', '---', '---']));
const runSamples = samples.filter((s) => s.phase !== 'start' && s.phase !== 'register');
for (let m = 0; ; m++) {
  const inMin = runSamples.filter((s) => s.t * 1000 >= tStorm - T0 + m * 60_000 && s.t * 1000 < tStorm - T0 + (m + 1) * 60_000);
  if (!inMin.length) break;
  const a = inMin[0];
  const b = inMin.at(-1);
  out.push(row([m + 1, `${mb(a.heapExt)} → ${mb(b.heapExt)}`, `${mb(a.coreRss)} → ${mb(b.coreRss)}`]));
}
const first = runSamples[0];
const last = samples.at(-1);
if (first) {
  out.push('', `Node heap+ext: ${mb(first.heapExt)} MB at the start of the run → ${mb(last.heapExt)} MB at the end ` +
    `(${(((last.heapExt - first.heapExt) / first.heapExt) * 100).toFixed(1)} %); devcore RSS ${mb(first.coreRss)} → ${mb(last.coreRss)} MB.`);
}
out.push(`Expected: 0 lost, 0 duplicated, 0 never settled, every client reachable. Got: ${lost} lost, ${c.duplicated} duplicated, ${unsettled} never settled, ${probe.unreachable.length} of ${N} unreachable after the run.`);
console.log(out.join('\n'));

await stopAll();
removeTempDir(dir);
process.exit(0);
