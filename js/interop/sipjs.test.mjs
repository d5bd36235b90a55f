// Interop in Node 20 with SIP.js 0.21.2 (a real peer client, its public API: UserAgent,
// Registerer, Messager, delegate.onMessage; no onInvite) as the peer of an ImClient:
//  1. On imsip-devcore: both register (SIP.js with digest auth as bob), MESSAGEs both
//     ways, UTF-8 bodies byte-exact with their Content-Type.
//  2. sendMessage with `imdn` to SIP.js: SIP.js as shipped takes any body, so the
//     message/cpim envelope reaches its onMessage as it is (200, a messageId, no
//     receipt ever); an app that takes text/plain only (415, Accept: text/plain) gets
//     the same text again as plain at once, and plain from then on (no messageId).
//  3. A text over largeMessageThreshold: large-message mode is tried (INVITE), SIP.js
//     with no onInvite answers 486, the text arrives whole as one MESSAGE;
//     startChat to SIP.js rejects `rejected` 486.
//  4. Scenario 1 through the interop Kamailio (tests/interop/kamailio.sh) and through the
//     deployment Kamailio (deploy/kamailio: 401 to REGISTER, 407 to every other request);
//     each skipped with the reason when kamailio, a module or sqlite3 is missing.
//  5. The deployment's IM Server acting on settings for a SIP.js sender: an offline
//     ImClient with offlineDelivery gets SIP.js's MESSAGE (202) at its next REGISTER,
//     `deferred`, byte-exact.
// Every wait is bounded (expectEvent / withTimeout); each test has its own core.
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/interop/sipjs.test.mjs
//   (IMSIP_DEVCORE and IMSIP_PKG point at another build: js/test-lib/devcore.mjs, client.mjs)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { Messager, Registerer, RegistererState, UserAgent } from 'sip.js';
import { expectEvent, fmt, loadImsip, recordEvents, root } from '../test-lib/client.mjs';
import { USERS, startDevcore } from '../test-lib/devcore.mjs';
import {
  deployKamailioRuns, kamailioClient, kamailioRuns, missingDeployKamailio, missingKamailio,
} from '../test-lib/kamailio.mjs';
import { freePort, waitForPort, withTimeout } from '../test-lib/net.mjs';
import { removeTempDir } from '../test-lib/tmp.mjs';

const { ImClient, ImError } = await loadImsip();
globalThis.WebSocket ??= WebSocket; // SIP.js's Transport uses the global

const EVENTS = ['connection', 'registration', 'message', 'imdn', 'trace'];
/** Liveness bound of every wait (far above any expected one; not a timing check). */
const MS = 15_000;

/** Cleanups of test `t`, run when it ends in reverse order, each awaited (clients, then the core, then its directory). */
function cleanups(t) {
  const fns = [];
  t.after(async () => { for (const f of fns.reverse()) await f(); });
  return (f) => fns.push(f);
}

/** imsip-devcore with a fresh database in a temporary directory, both gone at `onCleanup`; its ws:// URL. */
async function devcore(onCleanup) {
  const dir = mkdtempSync(path.join(tmpdir(), 'imsip-sipjs-'));
  onCleanup(() => removeTempDir(dir));
  const port = await freePort();
  const core = startDevcore({ port, db: path.join(dir, 'db.sqlite') });
  onCleanup(() => core.stop());
  await waitForPort(port);
  return `ws://127.0.0.1:${port}/sip`;
}

/** An ImClient of devcore user `user` for test `t`, its events recorded (recordEvents), closed at `onCleanup`. */
function imClient(t, onCleanup, server, user, extra = {}) {
  const c = recordEvents(new ImClient({ server, ...USERS[user], publishPolicy: 'never', webSocket: WebSocket, ...extra }), EVENTS);
  c.test = t;
  onCleanup(() => c.close());
  return c;
}

/** SIP.js's frames of one direction ('in' or 'out'), each as what it starts with: 'INVITE', 'SIP/2.0 486', ... */
const wire = (peer, direction) => peer.ev.wire.filter((f) => f.direction === direction)
  .map((f) => f.text.split('\r\n', 1)[0].replace(/^(\S+) \S+ SIP\/2\.0$/, '$1').replace(/^(SIP\/2\.0 \d+).*/, '$1'));

/**
 * SIP.js 0.21.2 as `user` on `server` for test `t`: a UserAgent with a Registerer and
 * delegate.onMessage (no onInvite: SIP.js answers INVITEs 486 by itself). Each MESSAGE
 * its onMessage gets is recorded as a `message` event of the returned EventTarget
 * (`{ from, to, contentType, contentLength, body, answered }`, see recordEvents) and
 * accepted, or rejected with what `refuse(detail)` returns. Its SIP frames (traceSip)
 * are `wire` events (`{ direction: 'in' | 'out', text }`); its log's errors and warnings
 * are kept in `peer.complaints`. `register()` / `unregister()` resolve on
 * the Registerer's state; `send(to, text, contentType?)` resolves with the final status.
 * Stopped when `t` ends, before the core (SIP.js's graceful stop: an un-REGISTER if still
 * registered, which also ends its refresh timers).
 */
function sipjsPeer(t, onCleanup, server, user, { refuse = () => null } = {}) {
  const peer = recordEvents(new EventTarget(), ['message', 'wire']);
  peer.test = t;
  peer.aor = USERS[user].aor;
  peer.complaints = [];
  const ua = new UserAgent({
    uri: UserAgent.makeURI(peer.aor),
    transportOptions: { server, traceSip: true },
    authorizationUsername: peer.aor.replace(/^sip:/, ''), // the private id devcore expects (users.toml)
    authorizationPassword: USERS[user].password,
    logBuiltinEnabled: false,
    logConnector: (level, category, label, content) => {
      const m = /^(Sending|Received) WebSocket (?:text )?message:\n\n([\s\S]*)\n$/.exec(content);
      if (m) peer.dispatchEvent(new CustomEvent('wire', { detail: { direction: m[1] === 'Sending' ? 'out' : 'in', text: m[2] } }));
      else if (level === 'error' || level === 'warn') peer.complaints.push(`${level} ${category}: ${content}`);
    },
    delegate: {
      onMessage: (message) => {
        const r = message.request;
        const detail = {
          from: r.from.uri.toString(),
          to: r.to.uri.toString(),
          contentType: r.getHeader('Content-Type'),
          contentLength: Number(r.getHeader('Content-Length')),
          body: r.body,
        };
        const refusal = refuse(detail);
        if (refusal) message.reject(refusal);
        else message.accept();
        detail.answered = refusal?.statusCode ?? 200;
        peer.dispatchEvent(new CustomEvent('message', { detail }));
      },
    },
  });
  const registerer = new Registerer(ua);
  onCleanup(() => withTimeout(ua.stop(), MS, 'SIP.js to stop'));
  const state = (want, what) => new Promise((resolve, reject) => {
    const on = (s) => {
      if (s !== want) return;
      registerer.stateChange.removeListener(on);
      resolve();
    };
    registerer.stateChange.addListener(on);
    const refused = (res) => reject(new Error(`SIP.js ${what} refused: ${res.message.statusCode} ${res.message.reasonPhrase}`));
    const go = want === RegistererState.Registered
      ? registerer.register({ requestDelegate: { onReject: refused } })
      : registerer.unregister({ requestDelegate: { onReject: refused } });
    go.catch(reject);
  });
  peer.register = async () => {
    await withTimeout(ua.start(), MS, 'SIP.js to connect');
    await withTimeout(state(RegistererState.Registered, 'REGISTER'), MS, 'SIP.js to register');
  };
  peer.unregister = () => withTimeout(state(RegistererState.Unregistered, 'un-REGISTER'), MS, 'SIP.js to unregister');
  peer.send = (to, text, contentType = 'text/plain') => withTimeout(new Promise((resolve, reject) => {
    new Messager(ua, UserAgent.makeURI(to), text, contentType).message({
      requestDelegate: {
        onAccept: (res) => resolve(res.message.statusCode),
        onReject: (res) => reject(new Error(`SIP.js MESSAGE refused: ${res.message.statusCode} ${res.message.reasonPhrase}`)),
      },
    }).catch(reject);
  }), MS, 'SIP.js MESSAGE to be answered');
  return peer;
}

/** `c`'s frames of one direction (its recorded `trace` events) whose first line starts with `start`. */
const framesOf = (c, direction, start) => c.ev.trace
  .filter((f) => f.direction === direction && f.text.startsWith(start)).map((f) => f.text);

/** Asserts that `got` (a string as SIP.js or the ImClient read it) is `want`, byte for byte as UTF-8. */
function sameBytes(got, want, what) {
  assert.equal(got, want, what);
  assert.ok(Buffer.from(got, 'utf8').equals(Buffer.from(want, 'utf8')), `${what}: byte-exact`);
}

/**
 * Both registered: ImClient `alice` → SIP.js `peer` and back, UTF-8 bodies byte-exact,
 * Content-Types as sent; neither side sees anything else.
 */
async function exchangeScenario(alice, peer) {
  // ImClient → SIP.js: text/plain;charset=UTF-8 as it is (no imdn: no CPIM).
  const text = 'grüße an SIP.js 👋 — ünïcødé\r\nzweite Zeile: 日本語 ✓ é (e\u0301)';
  const r = await withTimeout(alice.sendMessage(peer.aor, text), MS, 'sendMessage to SIP.js');
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.messageId, undefined);
  assert.equal(r.largeMessage, undefined);
  const got = await expectEvent(peer, 'message', () => true, { ms: MS, what: 'MESSAGE at SIP.js' });
  assert.equal(got.from, 'sip:alice@imsip.test');
  assert.equal(got.to, peer.aor);
  assert.equal(got.contentType, 'text/plain;charset=UTF-8');
  assert.equal(got.contentLength, Buffer.byteLength(text, 'utf8'), 'Content-Length counts UTF-8 bytes');
  sameBytes(got.body, text, 'the body SIP.js read');

  // SIP.js → ImClient: SIP.js's Messager, its default Content-Type (text/plain).
  const back = 'héllo from SIP.js ✓ 日本語 🚀';
  const arrived = expectEvent(alice, 'message', (m) => m.from === peer.aor, { ms: MS, what: 'MESSAGE from SIP.js' });
  assert.equal(await peer.send('sip:alice@imsip.test', back), 200);
  const m = await arrived;
  assert.equal(m.from, peer.aor);
  assert.equal(m.to, 'sip:alice@imsip.test');
  assert.equal(m.contentType, 'text/plain');
  sameBytes(m.body, back, 'the body the ImClient read');
  // A plain MESSAGE asks for no receipt: no id, no receipt sent back.
  assert.equal(m.messageId, undefined);
  assert.equal(m.imdn, undefined);
  assert.equal(m.deferred, false);

  assert.equal(peer.ev.message.length, 1, `SIP.js got only our one MESSAGE: ${fmt(peer.ev.message)}`);
  assert.equal(alice.ev.message.length, 1, `the ImClient got only SIP.js's MESSAGE: ${fmt(alice.ev.message)}`);
  // One MESSAGE went (sent again with credentials when a core challenges it: the same
  // Call-ID); a receipt would be another request, with another Call-ID.
  const callIds = framesOf(alice, 'out', 'MESSAGE ').map((f) => /^Call-ID: (.*)\r$/m.exec(f)?.[1]);
  assert.equal(new Set(callIds).size, 1, `nothing but our text went (no receipt): ${callIds}`);
}

/** SIP.js un-REGISTERs (the core answers it) and logged no error or warning during the test. */
async function finish(peer) {
  await peer.unregister();
  assert.deepEqual(peer.complaints, [], "SIP.js's log");
}

/** The parts of a message/cpim body (RFC 3862): message headers, content headers, content. */
function splitCpim(body) {
  const [head, rest] = [body.slice(0, body.indexOf('\r\n\r\n')), body.slice(body.indexOf('\r\n\r\n') + 4)];
  const [mime, content] = [rest.slice(0, rest.indexOf('\r\n\r\n')), rest.slice(rest.indexOf('\r\n\r\n') + 4)];
  const lines = (s) => s.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  return { headers: Object.fromEntries(lines(head)), contentHeaders: Object.fromEntries(lines(mime)), content };
}

/**
 * `alice` sent one INVITE (an MSRP offer) to SIP.js `peer`, which (no onInvite) answered
 * it 100 then 486 by itself; the 486 reached alice, who ACKed it, and SIP.js got the
 * core's ACK of its 486 (its INVITE server transaction completes). The INVITE's text.
 */
async function inviteRefused(alice, peer) {
  const invites = framesOf(alice, 'out', 'INVITE ');
  assert.equal(invites.length, 1, 'one INVITE');
  assert.match(invites[0], /^m=message 9 TCP\/WSS\/MSRP \*\r$/m);
  assert.deepEqual(wire(peer, 'in').filter((s) => s === 'INVITE'), ['INVITE']);
  assert.deepEqual(wire(peer, 'out').filter((s) => /^SIP\/2\.0 [1-6]/.test(s) && s !== 'SIP/2.0 200'), ['SIP/2.0 100', 'SIP/2.0 486']);
  const refusals = framesOf(alice, 'in', 'SIP/2.0 486');
  assert.equal(refusals.length, 1, 'the 486 reached us');
  assert.match(refusals[0], /^CSeq: 1 INVITE\r$/m);
  assert.equal(framesOf(alice, 'out', 'ACK ').length, 1, 'we ACKed the 486');
  const ack = await expectEvent(peer, 'wire', (f) => f.direction === 'in' && f.text.startsWith('ACK '),
    { ms: MS, what: "the core's ACK of SIP.js's 486" });
  assert.match(ack.text, /^CSeq: 1 ACK\r$/m);
  return invites[0];
}

/** Registered devcore, ImClient alice and SIP.js bob for test `t`. */
async function devcorePair(t, peerOptions) {
  const onCleanup = cleanups(t);
  const server = await devcore(onCleanup);
  const peer = sipjsPeer(t, onCleanup, server, 'bob', peerOptions);
  await peer.register();
  const alice = imClient(t, onCleanup, server, 'alice');
  await withTimeout(alice.register(), MS, 'ImClient to register');
  return { alice, peer };
}

test('SIP.js and ImClient register on devcore and exchange MESSAGEs both ways, UTF-8 byte-exact', async (t) => {
  const { alice, peer } = await devcorePair(t);
  // SIP.js authenticated (digest) as bob@imsip.test: 401, then 200.
  assert.deepEqual(wire(peer, 'in').slice(0, 2), ['SIP/2.0 401', 'SIP/2.0 200']);
  const registers = peer.ev.wire.filter((f) => f.direction === 'out' && f.text.startsWith('REGISTER '));
  assert.equal(registers.length, 2);
  assert.match(registers[1].text, /^Authorization: Digest .*username="bob@imsip\.test"/m);
  await exchangeScenario(alice, peer);
  await finish(peer);
});

test('sendMessage with imdn to SIP.js as shipped: the CPIM envelope arrives as it is, 200 with a messageId', async (t) => {
  const { alice, peer } = await devcorePair(t);
  const text = 'receipt, SIP.js? ✓✓ ünïcødé';
  const r = await withTimeout(alice.sendMessage(peer.aor, text, { imdn: ['delivery'] }), MS, 'sendMessage to SIP.js');
  // SIP.js takes any body: our client cannot know the receipt will never come.
  assert.equal(r.status, 200, fmt(r));
  assert.match(r.messageId, /^[A-Za-z0-9_-]{16,}$/, fmt(r));
  const got = await expectEvent(peer, 'message', () => true, { ms: MS, what: 'MESSAGE at SIP.js' });
  assert.equal(got.contentType, 'message/cpim');
  assert.equal(got.answered, 200);
  assert.equal(got.contentLength, Buffer.byteLength(got.body, 'utf8'));
  const cpim = splitCpim(got.body);
  assert.equal(cpim.headers.From, '<sip:alice@imsip.test>');
  assert.equal(cpim.headers.To, `<${peer.aor}>`);
  assert.equal(cpim.headers.NS, 'imdn <urn:ietf:params:imdn>');
  assert.equal(cpim.headers['imdn.Message-ID'], r.messageId);
  assert.equal(cpim.headers['imdn.Disposition-Notification'], 'positive-delivery, negative-delivery');
  assert.match(cpim.headers.DateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(cpim.contentHeaders['Content-Type'], 'text/plain;charset=UTF-8');
  sameBytes(cpim.content, text, 'the CPIM content SIP.js read');
  assert.equal(peer.ev.message.length, 1);
  await finish(peer);
});

test('sendMessage with imdn to a SIP.js app taking text/plain only: refused 415, sent again as plain, plain from then on', async (t) => {
  // What a SIP.js app that renders text only would do with anything else (RFC 3261 §21.4.13).
  const refuse = (m) => (/^text\/plain\b/i.test(m.contentType ?? '') ? null : { statusCode: 415, extraHeaders: ['Accept: text/plain'] });
  const { alice, peer } = await devcorePair(t, { refuse });
  const text = 'nur Text, bitte ✓ 👋';
  const r = await withTimeout(alice.sendMessage(peer.aor, text, { imdn: ['delivery'] }), MS, 'sendMessage to SIP.js');
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.messageId, undefined, 'no receipts will come: no id');
  const refused = await expectEvent(peer, 'message', () => true, { ms: MS, what: 'the CPIM MESSAGE' });
  assert.equal(refused.contentType, 'message/cpim');
  assert.equal(refused.answered, 415);
  const plain = await expectEvent(peer, 'message', () => true, { after: 1, ms: MS, what: 'the plain MESSAGE' });
  assert.equal(plain.contentType, 'text/plain;charset=UTF-8');
  assert.equal(plain.answered, 200);
  sameBytes(plain.body, text, 'the plain body SIP.js read');
  const in415 = framesOf(alice, 'in', 'SIP/2.0 415');
  assert.equal(in415.length, 1);
  assert.match(in415[0], /^Accept: text\/plain\r$/m, 'the 415 reached us with its Accept');

  // The next message with imdn goes plain at once.
  const text2 = 'zweite ✓';
  const r2 = await withTimeout(alice.sendMessage(peer.aor, text2, { imdn: ['delivery', 'display'] }), MS, 'second sendMessage');
  assert.equal(r2.status, 200);
  assert.equal(r2.messageId, undefined);
  const second = await expectEvent(peer, 'message', () => true, { after: 2, ms: MS, what: 'the second MESSAGE' });
  assert.equal(second.contentType, 'text/plain;charset=UTF-8');
  sameBytes(second.body, text2, 'the second body');
  assert.equal(peer.ev.message.length, 3);
  const out = framesOf(alice, 'out', 'MESSAGE ');
  assert.deepEqual(out.map((f) => /^Content-Type: (.*)\r$/m.exec(f)?.[1]),
    ['message/cpim', 'text/plain;charset=UTF-8', 'text/plain;charset=UTF-8'], 'one CPIM MESSAGE only, ever');
  await finish(peer);
});

test('a text over largeMessageThreshold to SIP.js: the INVITE is refused 486, the text arrives whole as one MESSAGE', async (t) => {
  const { alice, peer } = await devcorePair(t);
  const long = Array.from({ length: 60 }, (_, i) => `${String(i).padStart(2, '0')} grüße 👋 ünïcødé 日本`).join('\n');
  assert.ok(Buffer.byteLength(long, 'utf8') > 1300, 'over the default threshold');
  const r = await withTimeout(alice.sendMessage(peer.aor, long), 30_000, 'sendMessage of the long text');
  assert.equal(r.status, 200, fmt(r));
  assert.equal(r.largeMessage, undefined, 'sent as a MESSAGE after all');
  const got = await expectEvent(peer, 'message', () => true, { ms: MS, what: 'the long MESSAGE at SIP.js' });
  assert.equal(got.contentType, 'text/plain;charset=UTF-8');
  assert.equal(got.contentLength, Buffer.byteLength(long, 'utf8'));
  sameBytes(got.body, long, 'the long body SIP.js read');
  assert.equal(peer.ev.message.length, 1, 'one MESSAGE');

  // Large-message mode was tried first: SIP.js (no onInvite) answered its INVITE 486.
  const invite = await inviteRefused(alice, peer);
  assert.match(invite, /^Accept-Contact: .*\+g\.oma\.sip-im\.large-message/m);
  assert.equal(framesOf(alice, 'out', 'MESSAGE ').length, 1, 'then one MESSAGE');
  await finish(peer);
});

test('startChat to SIP.js (no onInvite) rejects `rejected` with status 486', async (t) => {
  const { alice, peer } = await devcorePair(t);
  await assert.rejects(withTimeout(alice.startChat(peer.aor), MS, 'startChat to settle'),
    (e) => e instanceof ImError && e.code === 'rejected' && e.status === 486 && e.reason === 'Busy Here', 'rejected 486');
  const invite = await inviteRefused(alice, peer);
  assert.doesNotMatch(invite, /large-message/, 'a chat session, not a large message');
  assert.equal(framesOf(alice, 'out', 'MESSAGE ').length, 0, 'nothing else went');
  await finish(peer);
});

const kamailioMissing = missingKamailio({ modules: ['websocket'], apt: 'apt-get install -y kamailio kamailio-websocket-modules' });
const { start: startKamailio } = kamailioRuns({
  script: path.join(root, 'tests', 'interop', 'kamailio.sh'),
  logRoot: path.join(root, 'target', 'interop-kamailio'),
  dirEnv: 'IMSIP_INTEROP_DIR',
  prefix: 'sipjs',
});

/**
 * SIP.js as bob and an ImClient as alice, both registered on the Kamailio that `start`
 * (a kamailioRuns start) starts for test `t`. The users and passwords are devcore's:
 * both Kamailio set-ups have the same ones.
 */
async function kamailioPair(t, start) {
  const onCleanup = cleanups(t); // first: SIP.js stops before Kamailio does (t.after hooks run in order)
  const k = await start(t, 'exchange');
  const peer = sipjsPeer(t, onCleanup, k.url, 'bob');
  await peer.register();
  const alice = kamailioClient(t, k, 'alice', { ...USERS.alice, publishPolicy: 'never' });
  await withTimeout(alice.register(), MS, 'ImClient to register');
  return { alice, peer };
}

test('SIP.js and ImClient through Kamailio: both register, MESSAGEs both ways, UTF-8 byte-exact',
  { skip: kamailioMissing ?? false }, async (t) => {
  const { alice, peer } = await kamailioPair(t, startKamailio);
  await exchangeScenario(alice, peer);
  await finish(peer);
});

const deployMissing = missingDeployKamailio();
const { start: startDeployKamailio } = deployKamailioRuns({ prefix: 'sipjs' });

test('SIP.js and ImClient through the deployment Kamailio (401 to REGISTER, 407 to every other request): MESSAGEs both ways',
  { skip: deployMissing ?? false }, async (t) => {
  const { alice, peer } = await kamailioPair(t, startDeployKamailio);
  await exchangeScenario(alice, peer);
  // Both were challenged as the deployment challenges everyone: SIP.js's REGISTER 401,
  // its MESSAGE 407 (and it answered both); the ImClient's MESSAGE 407 too.
  const peerIn = wire(peer, 'in');
  assert.ok(peerIn.includes('SIP/2.0 401'), `SIP.js's REGISTER was challenged: ${peerIn.join(', ')}`);
  assert.ok(peerIn.includes('SIP/2.0 407'), `SIP.js's MESSAGE was challenged: ${peerIn.join(', ')}`);
  const aliceChallenges = framesOf(alice, 'in', 'SIP/2.0 407').filter((f) => /^CSeq: \d+ MESSAGE\r$/m.test(f));
  assert.equal(aliceChallenges.length, 1, "the ImClient's MESSAGE was challenged once");
  await finish(peer);
});

test('the deployment stores a SIP.js MESSAGE for an offline ImClient with offline delivery (202) and delivers it deferred at its next REGISTER',
  { skip: deployMissing ?? false }, async (t) => {
  const onCleanup = cleanups(t); // first: SIP.js stops before Kamailio does
  const k = await startDeployKamailio(t, 'deferred');
  // alice turns offline delivery on in her IM service settings, then goes offline.
  const alice = kamailioClient(t, k, 'alice', { ...USERS.alice, publishPolicy: 'never' });
  await withTimeout(alice.register(), MS, 'ImClient to register');
  await withTimeout(alice.publishServiceSettings({ offlineDelivery: true }), MS, 'the settings to be published');
  await withTimeout(alice.unregister(), MS, 'ImClient to unregister');
  alice.close();

  const peer = sipjsPeer(t, onCleanup, k.url, 'bob');
  await peer.register();
  const text = 'stored for later — grüße 👋 日本語';
  assert.equal(await peer.send('sip:alice@imsip.test', text), 202, 'msilo took it (202 Accepted)');

  const again = kamailioClient(t, k, 'alice-again', { ...USERS.alice, publishPolicy: 'never' });
  const arrived = expectEvent(again, 'message', () => true, { ms: 30_000, what: 'the stored MESSAGE at alice' });
  arrived.catch(() => {}); // awaited below
  await withTimeout(again.register(), MS, 'ImClient to register again');
  const m = await arrived;
  assert.equal(m.from, peer.aor);
  assert.equal(m.contentType, 'text/plain');
  sameBytes(m.body, text, 'the stored body');
  // Delivered later: the IM Server's Date (the original time) makes it deferred.
  assert.equal(m.deferred, true, fmt(m));
  assert.match(m.dateTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, fmt(m));
  assert.equal(again.ev.message.length, 1, fmt(again.ev.message));
  await finish(peer);
});
