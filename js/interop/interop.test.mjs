// Interop in Node 20 with real peers:
//  1. JsSIP 3.13.8 (a real peer client) and an ImClient on imsip-devcore exchange
//     MESSAGEs both ways, UTF-8 bodies intact.
//  2. The core is killed mid-session: `disconnected`, pending promises reject with
//     `transport`, and after the core is back the client reconnects and re-registers.
//  3. The whole API against Kamailio 5.6 (tests/interop/kamailio.sh): register,
//     publish/modify/remove settings, fetch, MESSAGE both ways, unregister, wrong
//     password → auth_failed after exactly one retry.
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/interop/
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { removeTempDir } from '../test-lib/tmp.mjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { WebSocket } from 'ws';
import { loadImsip, next, root } from '../test-lib/client.mjs';
import { bin, startDevcore } from '../test-lib/devcore.mjs';
import { missingKamailio } from '../test-lib/kamailio.mjs';
import { freePort, waitForPort } from '../test-lib/net.mjs';

const require = createRequire(import.meta.url);
const { ImClient } = await loadImsip();
globalThis.WebSocket ??= WebSocket; // JsSIP's WebSocketInterface uses the global
const JsSIP = require('jssip');
JsSIP.debug.disable('JsSIP:*');

const cleanup = [];
// In reverse order, each awaited: a core is gone before its directory is removed.
after(async () => { for (const f of cleanup.reverse()) await f(); });

/** imsip-devcore on 127.0.0.1:`port` with the database `db`, killed when the file's tests end. */
function devcore(port, db) {
  const core = startDevcore({ port, db });
  cleanup.push(() => core.kill9());
  return core;
}

function imClient(server, aor, password, extra = {}) {
  const c = new ImClient({ server, aor, password, publishPolicy: 'never', webSocket: WebSocket, ...extra });
  c.frames = [];
  c.addEventListener('trace', (e) => c.frames.push(e.detail));
  cleanup.push(() => c.close());
  return c;
}

test('JsSIP and ImClient exchange MESSAGEs both ways on devcore, UTF-8 intact', async () => {
  assert.ok(existsSync(bin), 'cargo build -p imsip-devcore first');
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'imsip-interop-'));
  cleanup.push(() => removeTempDir(dir));
  devcore(port, path.join(dir, 'db.sqlite'));
  await waitForPort(port);
  const server = `ws://127.0.0.1:${port}/sip`;

  const jssip = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(server)],
    uri: 'sip:bob@imsip.test',
    authorization_user: 'bob@imsip.test',
    password: 'bob-secret',
    realm: 'imsip.test',
    register: true,
    session_timers: false,
  });
  const jssipReceived = [];
  let jssipGotOne;
  const jssipFirst = new Promise((resolve) => { jssipGotOne = resolve; });
  jssip.on('newMessage', (e) => {
    if (e.originator !== 'remote') return;
    jssipReceived.push({
      from: e.request.from.uri.toString(),
      body: e.request.body,
      contentType: e.request.getHeader('Content-Type'),
      ...(e.request.hasHeader('X-Conversation') ? { conversation: e.request.getHeader('X-Conversation') } : {}),
    });
    jssipGotOne();
  });
  const jssipRegistered = new Promise((resolve, reject) => {
    jssip.on('registered', resolve);
    jssip.on('registrationFailed', (e) => reject(new Error(`JsSIP registration failed: ${e.cause}`)));
  });
  jssip.start();
  cleanup.push(() => jssip.stop());
  await jssipRegistered;

  const alice = imClient(server, 'sip:alice@imsip.test', 'alice-secret');
  await alice.register();

  // ImClient → JsSIP
  // Without `imdn` the body goes as plain text (issue 16: JsSIP peers keep working).
  const r = await alice.sendMessage('sip:bob@imsip.test', 'grüße an JsSIP 👋 — ünïcødé');
  assert.equal(r.status, 200);
  assert.equal(r.messageId, undefined);
  await jssipFirst;
  assert.deepEqual(jssipReceived, [{
    from: 'sip:alice@imsip.test', body: 'grüße an JsSIP 👋 — ünïcødé', contentType: 'text/plain;charset=UTF-8',
  }]);

  // JsSIP → ImClient
  const got = next(alice, 'message');
  const sent = new Promise((resolve, reject) => {
    jssip.sendMessage('sip:alice@imsip.test', 'héllo from JsSIP ✓ 日本語', {
      eventHandlers: { succeeded: resolve, failed: (e) => reject(new Error(`JsSIP MESSAGE failed: ${e.cause}`)) },
    });
  });
  const m = await got;
  await sent;
  assert.equal(m.from, 'sip:bob@imsip.test');
  assert.equal(m.body, 'héllo from JsSIP ✓ 日本語');
  // A plain MESSAGE asks for no receipt: no id, nothing sent back but the 200.
  assert.equal(m.messageId, undefined);
  assert.equal(m.imdn, undefined);
  assert.equal(jssipReceived.length, 1, 'no receipt went to JsSIP');

  // The app's own header fields, both ways: JsSIP's `extraHeaders` in, ours out.
  const gotTagged = next(alice, 'message', (d) => d.body === 'tagged by JsSIP');
  jssip.sendMessage('sip:alice@imsip.test', 'tagged by JsSIP', { extraHeaders: ['X-Conversation: from-jssip'] });
  const tagged = await gotTagged;
  assert.deepEqual(tagged.headers.filter(([n]) => n === 'X-Conversation'), [['X-Conversation', 'from-jssip']]);
  const jssipTagged = new Promise((resolve) => jssip.on('newMessage', (e) => { if (e.originator === 'remote') resolve(e.request); }));
  await alice.sendMessage('sip:bob@imsip.test', 'tagged by imsip', { extraHeaders: ['X-Conversation: from-imsip'] });
  const request = await jssipTagged;
  assert.equal(request.body, 'tagged by imsip');
  assert.equal(request.getHeader('X-Conversation'), 'from-imsip');

  // A long text (over the 1300-byte threshold) tries large-message mode: JsSIP, with no
  // session handler, refuses the INVITE, and the same text goes as a MESSAGE instead.
  const long = 'ü'.repeat(1000); // 2000 bytes
  const gotLong = new Promise((resolve) => jssip.on('newMessage', (e) => { if (e.originator === 'remote') resolve(e.request.body); }));
  const rl = await alice.sendMessage('sip:bob@imsip.test', long);
  assert.equal(rl.status, 200);
  assert.equal(rl.largeMessage, undefined, 'sent as a MESSAGE');
  assert.equal(await gotLong, long);
  const invite = alice.frames.find((f) => f.direction === 'out' && f.text.startsWith('INVITE '));
  assert.ok(invite, 'large-message mode was tried first');
  assert.match(invite.text, /\+g\.oma\.sip-im\.large-message/);
});

test('core killed mid-session: disconnected, pending work rejects with transport, then re-registers by itself', async () => {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'imsip-kill-'));
  cleanup.push(() => removeTempDir(dir));
  const db = path.join(dir, 'db.sqlite');
  let core = devcore(port, db);
  await waitForPort(port);
  const alice = imClient(`ws://127.0.0.1:${port}/sip`, 'sip:alice@imsip.test', 'alice-secret', {
    reconnect: { minDelay: 0.2, maxDelay: 1 },
  });
  await alice.register();
  await alice.publishServiceSettings({ entity: 'sip:alice@imsip.test', visibility: true });

  const disconnected = next(alice, 'connection', (d) => d.state === 'disconnected');
  // Kill the core with a MESSAGE in flight (it may already be answered 404: either way it settles once).
  const pending = alice.sendMessage('sip:nobody-home@imsip.test', 'lost?').then(
    () => 'resolved',
    (e) => e.code,
  );
  await core.kill9();
  await disconnected;
  const outcome = await pending;
  assert.ok(['transport', 'rejected'].includes(outcome), `settled, never hangs: ${outcome}`);

  const reregistered = next(alice, 'registration', (d) => d.state === 'registered', 20_000);
  core = devcore(port, db);
  await waitForPort(port);
  const reg = await reregistered;
  assert.equal(reg.state, 'registered');
  // The publication survived (SQLite) and is still ours.
  const s = await alice.fetchServiceSettings();
  assert.equal(s.visibility, true);
});

const kamailioScript = path.join(root, 'tests', 'interop', 'kamailio.sh');
const kamailioMissing = missingKamailio({ modules: ['websocket'], apt: 'apt-get install -y kamailio kamailio-websocket-modules' });

test('the API against Kamailio', { skip: kamailioMissing ?? false }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'imsip-kam-'));
  const env = { ...process.env, IMSIP_INTEROP_DIR: dir };
  const out = execFileSync('bash', [kamailioScript, 'start'], { env, encoding: 'utf8' });
  cleanup.push(() => { execFileSync('bash', [kamailioScript, 'stop'], { env }); removeTempDir(dir); });
  const server = /ws:\/\/\S+/.exec(out)[0];

  const alice = imClient(server, 'sip:alice@imsip.test', 'alice-secret');
  const bob = imClient(server, 'sip:bob@imsip.test', 'bob-secret');
  const reg = await alice.register();
  assert.ok(reg.expires > 0);
  await bob.register();
  const labels = alice.frames.filter((f) => f.direction === 'out' || f.text.startsWith('SIP/2.0'))
    .map((f) => f.text.split(' ')[f.direction === 'out' ? 0 : 1]).filter((l) => l && l !== '\r\n\r\n');
  assert.deepEqual(labels.slice(0, 4), ['REGISTER', '401', 'REGISTER', '200']);

  const p1 = await alice.publishServiceSettings({ entity: 'sip:alice@imsip.test', incomingSessionBarring: true, visibility: false });
  assert.ok(p1.etag);
  const p2 = await alice.publishServiceSettings({ entity: 'sip:alice@imsip.test', incomingSessionBarring: false, visibility: true });
  assert.notEqual(p2.etag, p1.etag);
  const fetched = await alice.fetchServiceSettings();
  assert.equal(fetched.visibility, true);
  assert.equal(fetched.incomingSessionBarring, false);
  await alice.removeServiceSettings();
  assert.equal(await alice.fetchServiceSettings(), null);

  const toBob = next(bob, 'message');
  assert.equal((await alice.sendMessage('sip:bob@imsip.test', 'grüße 👋', { extraHeaders: ['X-Conversation: c-42'] })).status, 200);
  const atBob = await toBob;
  assert.equal(atBob.body, 'grüße 👋');
  // Kamailio relays the app's own header field unchanged (and its 407 retry kept it).
  assert.deepEqual(atBob.headers.filter(([n]) => n === 'X-Conversation'), [['X-Conversation', 'c-42']]);
  const toAlice = next(alice, 'message');
  await bob.sendMessage('sip:alice@imsip.test', 'ünïcødé ✓');
  assert.equal((await toAlice).body, 'ünïcødé ✓');
  // A binary body through Kamailio: a binary frame in, a binary frame out (RFC 7118 §4.2).
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x80]);
  const binaryAtAlice = next(alice, 'message', (d) => d.contentType === 'application/octet-stream');
  assert.equal((await bob.sendMessage('sip:alice@imsip.test', bytes, { contentType: 'application/octet-stream' })).status, 200);
  assert.deepEqual([...(await binaryAtAlice).body], [...bytes]);
  await alice.unregister();
  await bob.unregister();

  const eve = imClient(server, 'sip:alice@imsip.test', 'wrong-password');
  await assert.rejects(eve.register(), (e) => e.code === 'auth_failed');
  const registers = eve.frames.filter((f) => f.direction === 'out' && f.text.startsWith('REGISTER'));
  assert.equal(registers.length, 2, 'exactly one retry');
});
