// The JS package against the STRICT Kamailio 5.6 set-up (tests/interop/strict/):
// an RFC 5626 outbound edge proxy for WebSocket clients in front of a registrar that
// authenticates like Kamailio's default script with WITH_AUTH — 401 to REGISTER, 407
// with a fresh nonce to EVERY other request from a local user, no trust of the
// registered flow or of the source address.
//  0. raw frames (no imsip): REGISTER → 401; authenticated REGISTER with ;ob,
//     reg-id, +sip.instance and `Supported: outbound, path` → 200 with
//     `Require: outbound` and a flow token in Path; MESSAGE, OPTIONS, PUBLISH and
//     SUBSCRIBE on that registered flow → 407, each with a new nonce; a wrong
//     password → another 401/407; an authenticated MESSAGE to an unregistered user
//     → 404; an authenticated SUBSCRIBE with ;ob → its NOTIFY comes back over the
//     flow (flow token in Record-Route); CRLF keep-alive answered;
//  a. the seed flow with default options: register() resolves and the
//     'if-absent' policy publishes (or adopts) the given serviceSettings;
//  b. five requests in flight at once right after register (three MESSAGEs, a
//     PUBLISH, a fetch): all resolve, the peer gets the three MESSAGEs;
//  c. Kamailio stopped and started again on the same port: `disconnected`, then the
//     client reconnects and re-registers by itself and a MESSAGE afterwards resolves;
//  d. a wrong password: register() rejects with `auth_failed` after exactly one
//     authenticated retry.
// Each test has its own Kamailio pair on a free port; logs and every frame each
// client sent and received stay in target/interop/strict/run-<pid>/<test>/ (until
// the next run). No fixed sleeps:
// every wait is for an event or a frame, bounded by a generous timeout. Skipped
// (with the reason) when kamailio or its outbound module is not installed.
//
//   bash js/build.sh && node --test js/interop/strict.test.mjs
//   (IMSIP_PKG=/path/to/pkg/imsip.js picks another build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';

const execFile = promisify(execFileCb);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const entry = process.env.IMSIP_PKG ?? path.join(root, 'pkg', 'imsip.js');
if (!existsSync(entry)) throw new Error(`build the package first (bash js/build.sh): ${entry}`);
const { default: init, ImClient } = await import(pathToFileURL(entry).href);
await init();
globalThis.WebSocket ??= WebSocket;

const script = path.join(root, 'tests', 'interop', 'strict', 'kamailio.sh');
const logRoot = process.env.IMSIP_INTEROP_DIR ?? path.join(root, 'target', 'interop', 'strict');
// This run's directory: concurrent runs (two sessions, CI and a developer) never share
// pid files. Directories of runs whose process is gone are removed at start, after
// stopping any Kamailio a killed run left behind (by the PIDs in its own files).
const runDir = path.join(logRoot, `run-${process.pid}`);
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
for (const name of existsSync(logRoot) ? readdirSync(logRoot) : []) {
  const m = /^run-(\d+)$/.exec(name);
  if (!m || alive(Number(m[1]))) continue;
  const stale = path.join(logRoot, name);
  for (const slug of readdirSync(stale)) {
    try {
      execFileSync('bash', [script, 'stop'],
        { env: { ...process.env, IMSIP_INTEROP_DIR: path.join(stale, slug) }, stdio: 'ignore' });
    } catch { /* not a Kamailio directory */ }
  }
  rmSync(stale, { recursive: true, force: true });
}
const RECONNECT = { minDelay: 0.2, maxDelay: 1 };
const EVENTS = ['connection', 'registration', 'policy', 'message', 'trace'];

/** Why the tests cannot run here, or null: the kamailio binary and its outbound module. */
function missing() {
  const bin = process.env.KAMAILIO
    ?? ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio'].find((p) => existsSync(p));
  if (!bin || !existsSync(bin)) {
    return 'kamailio not installed (apt-get install -y kamailio kamailio-websocket-modules kamailio-outbound-modules)';
  }
  let dirs = [];
  try {
    const info = execFileSync(bin, ['-I'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /Default paths to modules:\s*(\S+)/.exec(info);
    if (m) dirs = m[1].split(':');
  } catch { /* an old binary without -I: fall through */ }
  if (!dirs.some((d) => existsSync(path.join(d, 'outbound.so')))) {
    return `Kamailio's outbound module is missing (apt-get install -y kamailio-outbound-modules; looked in ${dirs.join(', ') || 'nowhere'})`;
  }
  return null;
}
const skipReason = missing();

/** A strict Kamailio pair for test `t` in target/interop/strict/run-<pid>/<slug>/; stopped when `t` ends. */
async function startKamailio(t, slug) {
  const dir = path.join(runDir, slug);
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, IMSIP_INTEROP_DIR: dir };
  const run = async (...args) => (await execFile('bash', [script, ...args], { env, encoding: 'utf8' })).stdout;
  const url = /ws:\/\/\S+/.exec(await run('start'))[0];
  const k = {
    dir,
    url,
    port: Number(new URL(url).port),
    stop: () => run('stop'),
    start: async (port) => /ws:\/\/\S+/.exec(await run('start', String(port)))[0],
  };
  t.after(() => k.stop());
  return k;
}

/** An ImClient with every event recorded in `c.ev[type]`; its frames go to <dir>/<label>.wire when `t` ends. */
function mk(t, k, label, options) {
  const c = new ImClient({ server: k.url, reconnect: RECONNECT, webSocket: WebSocket, ...options });
  c.test = t;
  c.ev = {};
  for (const type of EVENTS) {
    c.ev[type] = [];
    c.addEventListener(type, (e) => c.ev[type].push(e.detail));
  }
  t.after(() => {
    c.close();
    const wire = c.ev.trace.map((f) => `${f.direction === 'out' ? '>>>' : '<<<'} ${new Date(f.at).toISOString()}\n${f.text}`);
    writeFileSync(path.join(k.dir, `${label}.wire`), wire.join('\n\n'));
  });
  return c;
}

const fmt = (d) => JSON.stringify(d, (key, v) => (v instanceof Error ? { code: v.code, status: v.status, message: v.message } : v));

/**
 * The first `type` event of `c` at index ≥ `after` (already recorded or still to
 * come) matching `pred`; rejects after `ms` listing what did arrive. The wait ends
 * with the test at the latest (no timer outlives it).
 */
function expectEvent(c, type, pred, { after = 0, ms = 20_000, what = `${type} event` } = {}) {
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

/** Frames the client sent whose first line starts with `method`. */
const sent = (c, method) => c.ev.trace.filter((f) => f.direction === 'out' && f.text.startsWith(`${method} `));

/** The outcome of each promise, as text, for an assertion message. */
const outcomes = (labels, settled) => settled.map((s, i) =>
  `${labels[i]}: ${s.status === 'fulfilled' ? `ok ${fmt(s.value)}` : `${s.reason?.code ?? 'error'} ${s.reason?.status ?? ''} ${s.reason?.message ?? s.reason}`}`).join('\n  ');

// ───────────────────────── 0. raw frames, no imsip ─────────────────────────

const md5 = (s) => createHash('md5').update(s).digest('hex');

/** A Digest challenge's parameters. */
function challengeParams(value) {
  assert.match(value, /^Digest /i);
  return Object.fromEntries([...value.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)].map((m) => [m[1].toLowerCase(), m[2] ?? m[3]]));
}

/** RFC 2617 MD5 qop=auth answer to `challenge` (what imsip computes), as a header value. */
function digestAnswer(challenge, method, uri, user, password) {
  const p = challengeParams(challenge);
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const ha1 = md5(`${user}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const response = md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", `
    + `response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

/** A header's value in a SIP message (first occurrence), or undefined. */
function header(msg, name) {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(msg.split('\r\n\r\n')[0]);
  return m?.[1];
}

/** A raw SIP-over-WebSocket connection: send a request, wait for its final response. */
async function rawConnection(url) {
  const ws = new WebSocket(url, 'sip');
  const frames = [];
  const waiters = new Set();
  ws.on('message', (data) => {
    const text = data.toString();
    frames.push(text);
    for (const w of waiters) w(text);
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  assert.equal(ws.protocol, 'sip');
  const waitFrame = (pred, what, ms = 10_000) => new Promise((resolve, reject) => {
    const hit = frames.find(pred);
    if (hit) { frames.splice(frames.indexOf(hit), 1); resolve(hit); return; }
    const w = (text) => {
      if (!pred(text)) return;
      waiters.delete(w);
      clearTimeout(timer);
      frames.splice(frames.indexOf(text), 1);
      resolve(text);
    };
    const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no ${what} within ${ms} ms`)); }, ms);
    waiters.add(w);
  });
  const callId = randomBytes(10).toString('hex');
  let cseq = 0;
  return {
    ws,
    waitFrame,
    /** Sends a request; resolves with its final response (provisional ones skipped). */
    async request(method, ruri, { to, headers = [], body = '' } = {}) {
      cseq += 1;
      const text = [
        `${method} ${ruri} SIP/2.0`,
        `Via: SIP/2.0/WS raw.invalid;branch=z9hG4bK${randomBytes(8).toString('hex')}`,
        'Max-Forwards: 70',
        'From: <sip:alice@imsip.test>;tag=raw1',
        `To: <${to}>`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ${method}`,
        ...headers,
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n');
      const mine = (f) => f.startsWith('SIP/2.0 ') && !/^SIP\/2\.0 1\d\d /.test(f)
        && header(f, 'Call-ID') === callId && header(f, 'CSeq') === `${cseq} ${method}`;
      const response = waitFrame(mine, `final response to ${method} (CSeq ${cseq})`);
      ws.send(text);
      return response;
    },
  };
}

const status = (response) => Number(response.split(' ', 2)[1]);

test('raw frames: 401 to REGISTER, outbound 200 with flow token, 407 to every request on the registered flow', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'raw');
  const c = await rawConnection(k.url);
  t.after(() => c.ws.close());

  const aor = 'sip:alice@imsip.test';
  const registrar = 'sip:imsip.test';
  const register = [
    `Contact: <sip:raw-alice@raw.invalid;transport=ws;ob>;+sip.instance="<urn:uuid:${randomUUID()}>";reg-id=1`,
    'Expires: 600',
    'Supported: outbound, path',
  ];

  const r401 = await c.request('REGISTER', registrar, { to: aor, headers: register });
  assert.equal(status(r401), 401, r401);
  const www = header(r401, 'WWW-Authenticate');
  const wwwParams = challengeParams(www);
  assert.equal(wwwParams.realm, 'imsip.test');
  assert.equal(wwwParams.qop, 'auth');
  assert.ok(!wwwParams.algorithm || wwwParams.algorithm.toUpperCase() === 'MD5', www);

  const wrong = await c.request('REGISTER', registrar, {
    to: aor, headers: [...register, `Authorization: ${digestAnswer(www, 'REGISTER', registrar, 'alice', 'not-the-password')}`],
  });
  assert.equal(status(wrong), 401, `a wrong password gets another 401:\n${wrong}`);
  const www2 = header(wrong, 'WWW-Authenticate');
  assert.notEqual(challengeParams(www2).nonce, wwwParams.nonce, 'a new nonce');

  const r200 = await c.request('REGISTER', registrar, {
    to: aor, headers: [...register, `Authorization: ${digestAnswer(www2, 'REGISTER', registrar, 'alice', 'alice-secret')}`],
  });
  assert.equal(status(r200), 200, r200);
  const require = header(r200, 'Require');
  const pathHeader = header(r200, 'Path');
  t.diagnostic(`200 to REGISTER: Require: ${require} | Path: ${pathHeader} | Flow-Timer: ${header(r200, 'Flow-Timer')}`);
  t.diagnostic(`200 to REGISTER: Contact: ${header(r200, 'Contact')}`);
  assert.match(require ?? '', /\boutbound\b/i, r200);
  // The edge's Path: a flow token as user part, loose routing, and ;ob.
  assert.match(pathHeader ?? '', /^<sip:[A-Za-z0-9+/=_-]{8,}@127\.0\.0\.1:\d+;lr;ob>$/, r200);
  assert.match(header(r200, 'Contact') ?? '', /;reg-id=1/);

  // Every request from the registered flow is challenged, each with a nonce of its own.
  const nonces = new Set([wwwParams.nonce, challengeParams(www2).nonce]);
  const requests = [
    ['MESSAGE', 'sip:bob@imsip.test', { to: 'sip:bob@imsip.test', headers: ['Content-Type: text/plain'], body: 'hello?' }],
    ['OPTIONS', 'sip:bob@imsip.test', { to: 'sip:bob@imsip.test' }],
    ['OPTIONS', 'sip:imsip.test', { to: 'sip:imsip.test' }],
    ['PUBLISH', aor, { to: aor, headers: ['Event: service-settings', 'Expires: 600', 'Content-Type: application/service-settings+xml'], body: '<x/>' }],
    ['SUBSCRIBE', aor, { to: aor, headers: ['Event: service-settings', 'Expires: 0', 'Contact: <sip:raw-alice@raw.invalid;transport=ws;ob>'] }],
    ['MESSAGE', 'sip:bob@imsip.test', { to: 'sip:bob@imsip.test', headers: ['Content-Type: text/plain'], body: 'again?' }],
  ];
  const challenges = [];
  for (const [method, ruri, opts] of requests) {
    const r = await c.request(method, ruri, opts);
    assert.equal(status(r), 407, `${method} ${ruri} on the registered flow:\n${r}`);
    const challenge = header(r, 'Proxy-Authenticate');
    const p = challengeParams(challenge);
    assert.equal(p.realm, 'imsip.test');
    assert.equal(p.qop, 'auth');
    assert.ok(!nonces.has(p.nonce), `${method}: a fresh nonce, not one seen before (${p.nonce})`);
    nonces.add(p.nonce);
    challenges.push(challenge);
  }

  // A wrong password on a MESSAGE: another 407 (Kamailio never says 403 here).
  const wrongMsg = await c.request('MESSAGE', 'sip:bob@imsip.test', {
    to: 'sip:bob@imsip.test',
    headers: ['Content-Type: text/plain', `Proxy-Authorization: ${digestAnswer(challenges[2], 'MESSAGE', 'sip:bob@imsip.test', 'alice', 'not-the-password')}`],
    body: 'hello?',
  });
  assert.equal(status(wrongMsg), 407, wrongMsg);

  // Authenticated, the MESSAGE gets through the proxy: bob is not registered.
  const toBob = await c.request('MESSAGE', 'sip:bob@imsip.test', {
    to: 'sip:bob@imsip.test',
    headers: ['Content-Type: text/plain', `Proxy-Authorization: ${digestAnswer(challenges[0], 'MESSAGE', 'sip:bob@imsip.test', 'alice', 'alice-secret')}`],
    body: 'hello?',
  });
  assert.equal(status(toBob), 404, toBob);

  // An authenticated SUBSCRIBE from an outbound client (RFC 5626 §5.3.2: ;ob in the
  // Contact, and Kamailio's outbound module also wants Supported: outbound): the
  // edge Record-Routes with a flow token (Kamailio puts it in the user part, no ;ob
  // in Record-Route), so the NOTIFY comes back over this flow.
  const notify = c.waitFrame((f) => f.startsWith('NOTIFY ') && header(f, 'Event') === 'service-settings', 'NOTIFY over the flow');
  const sub = await c.request('SUBSCRIBE', aor, {
    to: aor,
    headers: ['Event: service-settings', 'Expires: 0', 'Supported: outbound',
      'Contact: <sip:raw-alice@raw.invalid;transport=ws;ob>',
      `Proxy-Authorization: ${digestAnswer(challenges[1], 'SUBSCRIBE', aor, 'alice', 'alice-secret')}`],
  });
  assert.equal(status(sub), 200, sub);
  t.diagnostic(`200 to SUBSCRIBE: Record-Route: ${header(sub, 'Record-Route')}`);
  assert.match(header(sub, 'Record-Route') ?? '', /^<sip:[A-Za-z0-9+/=_-]{8,}@127\.0\.0\.1:\d+;[^>]*\blr\b/, sub);
  assert.match(header(sub, 'Contact') ?? '', /^<sip:127\.0\.0\.1:\d+>$/, sub);
  const n = await notify;
  assert.match(header(n, 'Subscription-State') ?? '', /^terminated/, n);
  const vias = n.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^Via:/i.test(l));
  c.ws.send(['SIP/2.0 200 OK', ...vias, ...['From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(n, h)}`),
    'Content-Length: 0', '', ''].join('\r\n'));

  // CRLF keep-alive (RFC 5626 §4.4.1 over a WebSocket): answered with CRLF.
  const pong = c.waitFrame((f) => f === '\r\n', 'CRLF pong');
  c.ws.send('\r\n\r\n');
  await pong;
});

// ───────────────────────── a–d: the package's ImClient ─────────────────────────

test('a. seed flow with default options: register() resolves, the if-absent policy publishes', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'seed');
  const alice = mk(t, k, 'alice', {
    aor: 'sip:alice@imsip.test',
    password: 'alice-secret',
    serviceSettings: { visibility: true, incomingSessionBarring: false },
  });
  const reg = await alice.register();
  assert.ok(reg.expires > 0, fmt(reg));
  const policy = await expectEvent(alice, 'policy', () => true, { ms: 45_000 });
  assert.ok(['published', 'adopted'].includes(policy.outcome), `policy outcome: ${fmt(policy)}`);
});

test('b. five requests in flight at once right after register all resolve; bob gets the three MESSAGEs', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'concurrent');
  const alice = mk(t, k, 'alice', { aor: 'sip:alice@imsip.test', password: 'alice-secret', publishPolicy: 'never' });
  const bob = mk(t, k, 'bob', { aor: 'sip:bob@imsip.test', password: 'bob-secret', publishPolicy: 'never' });
  await bob.register();
  await alice.register();

  const bobGotThree = expectEvent(bob, 'message', () => bob.ev.message.length >= 3, { ms: 45_000, what: 'third MESSAGE at bob' });
  bobGotThree.catch(() => {}); // awaited below, only once the sends resolved
  const labels = ['sendMessage a', 'sendMessage b', 'publishServiceSettings', 'fetchServiceSettings', 'sendMessage c'];
  const settled = await Promise.allSettled([
    alice.sendMessage('sip:bob@imsip.test', 'a'),
    alice.sendMessage('sip:bob@imsip.test', 'b'),
    alice.publishServiceSettings({ visibility: true, incomingSessionBarring: true }),
    alice.fetchServiceSettings(),
    alice.sendMessage('sip:bob@imsip.test', 'c'),
  ]);
  assert.ok(settled.every((s) => s.status === 'fulfilled'), `every request resolves:\n  ${outcomes(labels, settled)}`);
  for (const i of [0, 1, 4]) assert.equal(settled[i].value.status, 200, outcomes(labels, settled));
  assert.ok(settled[2].value.etag, outcomes(labels, settled));

  await bobGotThree;
  assert.deepEqual(bob.ev.message.map((m) => m.body).sort(), ['a', 'b', 'c']);
  for (const m of bob.ev.message) assert.equal(m.from, 'sip:alice@imsip.test');
});

test('c. Kamailio restarted on the same port: disconnected, then re-registered by itself; a MESSAGE afterwards resolves', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'restart');
  const alice = mk(t, k, 'alice', { aor: 'sip:alice@imsip.test', password: 'alice-secret', publishPolicy: 'never' });
  const bob = mk(t, k, 'bob', { aor: 'sip:bob@imsip.test', password: 'bob-secret', publishPolicy: 'never' });
  await bob.register();
  await alice.register();

  const mark = (c) => ({ connection: c.ev.connection.length, registration: c.ev.registration.length });
  const before = { alice: mark(alice), bob: mark(bob) };
  const down = [alice, bob].map((c, i) => expectEvent(c, 'connection', (d) => d.state === 'disconnected',
    { after: Object.values(before)[i].connection, what: `'disconnected' at ${i ? 'bob' : 'alice'}` }));
  await k.stop();
  await Promise.all(down);

  const back = [alice, bob].map((c, i) => expectEvent(c, 'registration', (d) => d.state === 'registered',
    { after: Object.values(before)[i].registration, ms: 60_000, what: `'registered' at ${i ? 'bob' : 'alice'} after the restart` }));
  back.forEach((p) => p.catch(() => {})); // awaited below
  assert.equal(await k.start(k.port), k.url);
  await Promise.all(back);

  const got = expectEvent(bob, 'message', (m) => m.body === 'after the restart', { what: 'the MESSAGE at bob' });
  got.catch(() => {}); // awaited below, once the MESSAGE resolved
  const r = await alice.sendMessage('sip:bob@imsip.test', 'after the restart');
  assert.equal(r.status, 200);
  await got;
});

test('d. wrong password: register() rejects with auth_failed after exactly one authenticated retry', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'wrong-password');
  const eve = mk(t, k, 'eve', { aor: 'sip:alice@imsip.test', password: 'wrong-password', publishPolicy: 'never' });
  await assert.rejects(eve.register(), (e) => {
    assert.equal(e.code, 'auth_failed', fmt(e));
    return true;
  });
  const registers = sent(eve, 'REGISTER');
  assert.equal(registers.length, 2, `one REGISTER, then exactly one authenticated retry (sent ${registers.length})`);
  assert.ok(!/^Authorization:/im.test(registers[0].text), 'the first REGISTER carries no credentials');
  assert.match(registers[1].text, /^Authorization: Digest /im);
});
