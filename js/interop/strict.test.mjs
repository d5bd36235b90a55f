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
//     authenticated retry;
//  e. a text above the large-message threshold: the edge has no MSRP relay (its
//     websocket module takes `sip` only), so it goes as one MESSAGE (407 answered)
//     and bob gets it whole; startChat rejects with a typed ImError.
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
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { WebSocket } from 'ws';
import { expectEvent, fmt, root } from '../test-lib/client.mjs';
import { freePort } from '../test-lib/net.mjs';
import { kamailioClient as mk, kamailioRuns, missingKamailio } from '../test-lib/kamailio.mjs';
import { challengeParams, digestAnswer, header, rawSipClient, status } from '../test-lib/sip.mjs';

globalThis.WebSocket ??= WebSocket;

const skipReason = missingKamailio({
  modules: ['outbound'],
  apt: 'apt-get install -y kamailio kamailio-websocket-modules kamailio-outbound-modules',
});

// A strict Kamailio pair per test in target/interop/strict/run-<pid>/<slug>/.
const { start: startKamailio } = kamailioRuns({
  script: path.join(root, 'tests', 'interop', 'strict', 'kamailio.sh'),
  logRoot: process.env.IMSIP_INTEROP_DIR ?? path.join(root, 'target', 'interop', 'strict'),
  dirEnv: 'IMSIP_INTEROP_DIR',
});

/** Frames the client sent whose first line starts with `method`. */
const sent = (c, method) => c.ev.trace.filter((f) => f.direction === 'out' && f.text.startsWith(`${method} `));

/** The outcome of each promise, as text, for an assertion message. */
const outcomes = (labels, settled) => settled.map((s, i) =>
  `${labels[i]}: ${s.status === 'fulfilled' ? `ok ${fmt(s.value)}` : `${s.reason?.code ?? 'error'} ${s.reason?.status ?? ''} ${s.reason?.message ?? s.reason}`}`).join('\n  ');

// ───────────────────────── 0. raw frames, no imsip ─────────────────────────

test('raw frames: 401 to REGISTER, outbound 200 with flow token, 407 to every request on the registered flow', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'raw');
  const c = await rawSipClient(t, k.url, { user: 'alice', domain: 'imsip.test' });

  const aor = 'sip:alice@imsip.test';
  const registrar = 'sip:imsip.test';
  const register = [
    `Contact: <sip:raw-alice@raw.invalid;transport=ws;ob>;+sip.instance="<urn:uuid:${randomUUID()}>";reg-id=1`,
    'Expires: 600',
    'Supported: outbound, path',
  ];

  const r401 = await c.send('REGISTER', registrar, { to: aor, headers: register });
  assert.equal(status(r401), 401, r401);
  const www = header(r401, 'WWW-Authenticate');
  const wwwParams = challengeParams(www);
  assert.equal(wwwParams.realm, 'imsip.test');
  assert.equal(wwwParams.qop, 'auth');
  assert.ok(!wwwParams.algorithm || wwwParams.algorithm.toUpperCase() === 'MD5', www);

  const wrong = await c.send('REGISTER', registrar, {
    to: aor, headers: [...register, `Authorization: ${digestAnswer(www, 'REGISTER', registrar, 'alice', 'not-the-password')}`],
  });
  assert.equal(status(wrong), 401, `a wrong password gets another 401:\n${wrong}`);
  const www2 = header(wrong, 'WWW-Authenticate');
  assert.notEqual(challengeParams(www2).nonce, wwwParams.nonce, 'a new nonce');

  const r200 = await c.send('REGISTER', registrar, {
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
    const r = await c.send(method, ruri, opts);
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
  const wrongMsg = await c.send('MESSAGE', 'sip:bob@imsip.test', {
    to: 'sip:bob@imsip.test',
    headers: ['Content-Type: text/plain', `Proxy-Authorization: ${digestAnswer(challenges[2], 'MESSAGE', 'sip:bob@imsip.test', 'alice', 'not-the-password')}`],
    body: 'hello?',
  });
  assert.equal(status(wrongMsg), 407, wrongMsg);

  // Authenticated, the MESSAGE gets through the proxy: bob is not registered.
  const toBob = await c.send('MESSAGE', 'sip:bob@imsip.test', {
    to: 'sip:bob@imsip.test',
    headers: ['Content-Type: text/plain', `Proxy-Authorization: ${digestAnswer(challenges[0], 'MESSAGE', 'sip:bob@imsip.test', 'alice', 'alice-secret')}`],
    body: 'hello?',
  });
  assert.equal(status(toBob), 404, toBob);

  // An authenticated SUBSCRIBE from an outbound client (RFC 5626 §5.3.2: ;ob in the
  // Contact, and Kamailio's outbound module also wants Supported: outbound): the
  // edge Record-Routes with a flow token (Kamailio puts it in the user part, no ;ob
  // in Record-Route), so the NOTIFY comes back over this flow.
  const notify = c.waitFrame((f) => f.startsWith('NOTIFY ') && header(f, 'Event') === 'service-settings', 'NOTIFY over the flow', c.incoming);
  const sub = await c.send('SUBSCRIBE', aor, {
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
  assert.match(header(n, 'Subscription-State') ?? '', /^terminated/, n); // answered 200 by rawSipClient

  // CRLF keep-alive (RFC 5626 §4.4.1 over a WebSocket): answered with CRLF.
  await c.keepAlive();
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
  // With header fields on everything: each 401/407 retry keeps them, Kamailio relays them.
  const alice = mk(t, k, 'alice', { aor: 'sip:alice@imsip.test', password: 'alice-secret', publishPolicy: 'never', extraHeaders: ['X-Tenant: t1'] });
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
  for (const m of bob.ev.message) {
    assert.equal(m.from, 'sip:alice@imsip.test');
    assert.deepEqual(m.headers.filter(([n]) => n === 'X-Tenant'), [['X-Tenant', 't1']]);
  }
  const requests = alice.ev.trace.filter((f) => f.direction === 'out' && /^[A-Z]+ /.test(f.text));
  assert.ok(requests.length >= 10, 'REGISTER ×2, and each of the five with its 407 retry');
  for (const f of requests) assert.match(f.text, /\r\nX-Tenant: t1\r\n/, f.text.split('\r\n', 1)[0]);
});

test('b2. server: [a dead URL, the edge]: register() waits for the second URL and resolves; a MESSAGE goes', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'failover');
  const dead = `ws://127.0.0.1:${await freePort()}/sip`;
  const alice = mk(t, k, 'alice', { aor: 'sip:alice@imsip.test', password: 'alice-secret', publishPolicy: 'never', server: [dead, k.url] });
  const bob = mk(t, k, 'bob', { aor: 'sip:bob@imsip.test', password: 'bob-secret', publishPolicy: 'never' });
  await bob.register();
  const reg = await alice.register();
  assert.ok(reg.expires > 0, fmt(reg));
  assert.deepEqual(alice.ev.connection.map((d) => `${d.state} ${d.server}`).slice(0, 4),
    [`connecting ${dead}`, `disconnected ${dead}`, `connecting ${k.url}`, `connected ${k.url}`]);
  const got = expectEvent(bob, 'message', (d) => d.body === 'after failover', { ms: 45_000 });
  assert.equal((await alice.sendMessage('sip:bob@imsip.test', 'after failover')).status, 200);
  await got;
});

test('c. Kamailio restarted on the same port: disconnected, then re-registered by itself; a MESSAGE afterwards resolves', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'restart');
  // With header fields on everything: each 401/407 retry keeps them, Kamailio relays them.
  const alice = mk(t, k, 'alice', { aor: 'sip:alice@imsip.test', password: 'alice-secret', publishPolicy: 'never', extraHeaders: ['X-Tenant: t1'] });
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

test('e. no MSRP relay at the edge: a large text arrives whole as one MESSAGE; startChat rejects typed', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'no-msrp');
  // With header fields on everything: each 401/407 retry keeps them, Kamailio relays them.
  const alice = mk(t, k, 'alice', { aor: 'sip:alice@imsip.test', password: 'alice-secret', publishPolicy: 'never', extraHeaders: ['X-Tenant: t1'] });
  const bob = mk(t, k, 'bob', { aor: 'sip:bob@imsip.test', password: 'bob-secret', publishPolicy: 'never' });
  await bob.register();
  await alice.register();
  const body = 'ü'.repeat(1000) + ' — the end'; // 2000+ bytes: above the 1300-byte threshold
  const got = expectEvent(bob, 'message', (m) => m.body === body, { ms: 30_000, what: 'the large text at bob' });
  const r = await alice.sendMessage('sip:bob@imsip.test', body);
  assert.equal(r.status, 200, fmt(r));
  await got;
  assert.equal(sent(alice, 'INVITE').length, 0, 'no INVITE without a relay');
  assert.ok(sent(alice, 'MESSAGE').length >= 2, 'the MESSAGE, then again with credentials after 407');
  await assert.rejects(alice.startChat('sip:bob@imsip.test'), (e) => {
    assert.equal(e.name, 'ImError', String(e));
    assert.equal(e.code, 'transport', fmt(e));
    return true;
  });
  assert.equal(alice.registration.state, 'registered');
});
