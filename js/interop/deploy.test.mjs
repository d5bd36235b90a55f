// The JS package against the DEPLOYMENT Kamailio 5.6 (deploy/kamailio/): SIP/IP core
// and OMA IM Server in one configuration, state in SQLite, authentication on (401 to
// REGISTER, 407 to every other request from a local user), and the published service
// settings taking effect.
//  0. raw frames (no imsip): 401 → 200 REGISTER; 407 to PUBLISH; a settings document
//     with a PREFIXED namespace and `active=" 1 "` bars incoming MESSAGE and INVITE
//     (403 with `Warning: 399 imsip.test "incoming session barring active"`), also after
//     a refresh; 423 under 60 s; 412 on a stale SIP-If-Match; 415 on a wrong
//     Content-Type; 400 for a document that is not well-formed; Expires: 0 removes and a MESSAGE
//     then reaches the raw client; 404 for an unknown user; 489 for an unknown event package;
//     CRLF keep-alive answered;
//  a. the seed flow with default options: register() resolves and the 'if-absent'
//     policy publishes; a second client of the same user adopts the stored settings;
//  b. barring: alice publishes incomingSessionBarring → bob's MESSAGE to alice rejects
//     with `rejected` / 403 (and the Warning); alice's own MESSAGE to bob still goes;
//  c. deferred: carol publishes offlineDelivery, unregisters and closes; bob's two
//     MESSAGEs get 202; carol's new client receives both, in order, each `deferred`
//     with `dateTime` (the original time, from the Date header Kamailio's msilo adds);
//  d. offline delivery off (published false, or no settings): a MESSAGE to a user who
//     is not registered rejects with 480; an unknown user 404;
//  e. chat content, raw frames: to an offline user with offline delivery, a composing
//     indication (bare, and in CPIM) gets 480 and is never delivered; a message/cpim
//     message asking for IMDNs, an IMDN in CPIM and chat text quoting a composing
//     Content-Type get 202 and arrive at the next REGISTER byte for byte with
//     `Content-Type: message/cpim`, in order, with Date.
// Each test has its own Kamailio and database in target/deploy-kamailio/run-<node
// pid>/<test>/, with kamailio.log and <client>.wire (every frame) left there until the
// next run. No fixed sleeps: every wait is for an event or a frame, bounded by a
// generous timeout. Skipped (with the reason) when kamailio, one of its modules or
// the sqlite3 CLI is missing.
//
//   bash js/build.sh && node --test js/interop/deploy.test.mjs
//   (IMSIP_PKG=/path/to/pkg/imsip.js picks another build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { expectEvent, fmt, received } from '../test-lib/client.mjs';
import { deployKamailioRuns, kamailioClient, missingDeployKamailio } from '../test-lib/kamailio.mjs';
import { challengeParams, header, rawSipClient, status } from '../test-lib/sip.mjs';

globalThis.WebSocket ??= WebSocket;

const DOMAIN = 'imsip.test';
const SETTINGS_XML = 'application/service-settings+xml';
const NS = 'urn:oma:xml:im:service-settings';

const skipReason = missingDeployKamailio();

// A deployment Kamailio and database per test in target/deploy-kamailio/run-<pid>/<slug>/.
const { start: startKamailio } = deployKamailioRuns();

/** An ImClient of `user` (password `<user>-secret`); see kamailioClient. */
const mk = (t, k, label, user, options) => kamailioClient(t, k, label, { aor: `sip:${user}@${DOMAIN}`, password: `${user}-secret`, ...options });

// ───────────────────────── raw frames ─────────────────────────

/**
 * A raw SIP-over-WebSocket client of `user` (password `<user>-secret`; see
 * rawSipClient) with its `contact` and `register()`.
 */
async function rawClient(t, url, user) {
  const c = await rawSipClient(t, url, { user, domain: DOMAIN });
  c.contact = `<sip:${user}-raw@raw.invalid;transport=ws>`;
  c.register = () => c.request('REGISTER', `sip:${DOMAIN}`, {
    to: c.aor,
    headers: [`Contact: ${c.contact};+sip.instance="<urn:uuid:${randomUUID()}>"`, 'Expires: 600', 'Allow: MESSAGE, OPTIONS, INVITE, ACK, BYE'],
  });
  return c;
}

test('raw frames: auth, a prefixed-namespace document bars MESSAGE and INVITE with the Warning, 412/415/404/489, removal, keep-alive', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'raw');
  const alice = await rawClient(t, k.url, 'alice');
  const bob = await rawClient(t, k.url, 'bob');

  const unauthenticated = await alice.send('REGISTER', `sip:${DOMAIN}`, { to: alice.aor, headers: [`Contact: ${alice.contact}`] });
  assert.equal(status(unauthenticated), 401, unauthenticated);
  const www = challengeParams(header(unauthenticated, 'WWW-Authenticate'));
  assert.equal(www.realm, DOMAIN);
  assert.equal(www.qop, 'auth');
  const reg = await alice.register();
  assert.equal(status(reg), 200, reg);
  assert.equal(status(await bob.register()), 200);

  // A document with a prefixed namespace, `active="1"`, and another entity that must not count.
  const doc = `<?xml version="1.0" encoding="UTF-8"?>
<s:service-settings xmlns:s="${NS}">
  <s:entity id="sip:someone-else@${DOMAIN}"><s:deferred-settings><s:offline-delivery active="true"/></s:deferred-settings></s:entity>
  <s:entity id="${alice.aor}"><s:isb-settings><s:incoming-session-barring active=" 1 "/></s:isb-settings></s:entity>
</s:service-settings>`;
  const publishHeaders = ['Event: service-settings', 'Expires: 600', `Content-Type: ${SETTINGS_XML}`];
  const unchallenged = await alice.send('PUBLISH', alice.aor, { headers: publishHeaders, body: doc });
  assert.equal(status(unchallenged), 407, `PUBLISH without credentials:\n${unchallenged}`);
  const published = await alice.request('PUBLISH', alice.aor, { headers: publishHeaders, body: doc });
  assert.equal(status(published), 200, published);
  assert.ok(header(published, 'SIP-ETag'), published);
  assert.equal(header(published, 'Expires'), '600');
  // A refresh (SIP-If-Match, no body) keeps the document under a new entity-tag.
  const refreshed = await alice.request('PUBLISH', alice.aor, {
    headers: ['Event: service-settings', 'Expires: 600', `SIP-If-Match: ${header(published, 'SIP-ETag')}`],
  });
  assert.equal(status(refreshed), 200, refreshed);
  const etag = header(refreshed, 'SIP-ETag');
  assert.ok(etag && etag !== header(published, 'SIP-ETag'), refreshed);
  const brief = await alice.request('PUBLISH', alice.aor, {
    headers: ['Event: service-settings', 'Expires: 10', `Content-Type: ${SETTINGS_XML}`], body: doc,
  });
  assert.equal(status(brief), 423, brief);
  assert.equal(header(brief, 'Min-Expires'), '60');

  const wrongType = await alice.request('PUBLISH', alice.aor, {
    headers: ['Event: service-settings', 'Content-Type: text/plain'], body: 'barring please',
  });
  assert.equal(status(wrongType), 415, wrongType);
  assert.equal(header(wrongType, 'Accept'), SETTINGS_XML);
  const broken = await alice.request('PUBLISH', alice.aor, {
    headers: ['Event: service-settings', `Content-Type: ${SETTINGS_XML}`], body: `<service-settings xmlns="${NS}"><entity>`,
  });
  assert.equal(status(broken), 400, broken);
  const stale = await alice.request('PUBLISH', alice.aor, { headers: ['Event: service-settings', 'SIP-If-Match: not-the-etag'] });
  assert.equal(status(stale), 412, stale);
  // An event package the IM Server does not serve (im-history has its own test file).
  const unknownEvent = await alice.request('SUBSCRIBE', alice.aor, {
    headers: ['Event: presence', 'Expires: 0', `Contact: ${alice.contact}`], callid: randomUUID(),
  });
  assert.equal(status(unknownEvent), 489, unknownEvent);

  const warning = `399 ${DOMAIN} "incoming session barring active"`;
  const barredMessage = await bob.request('MESSAGE', alice.aor, { headers: ['Content-Type: text/plain'], body: 'barred?' });
  assert.equal(status(barredMessage), 403, barredMessage);
  assert.equal(header(barredMessage, 'Warning'), warning, barredMessage);
  const sdp = 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=message 9 TCP/WS/MSRP *\r\na=accept-types:text/plain\r\n';
  const barredInvite = await bob.request('INVITE', alice.aor, {
    headers: [`Contact: ${bob.contact}`, 'Content-Type: application/sdp'], body: sdp, callid: randomUUID(),
  });
  assert.equal(status(barredInvite), 403, barredInvite);
  assert.equal(header(barredInvite, 'Warning'), warning, barredInvite);
  assert.equal(alice.incoming.length, 0, `nothing reached alice: ${alice.incoming.join('\n')}`);
  // The barred user's own traffic is not barred.
  const fromAlice = await alice.request('MESSAGE', bob.aor, { headers: ['Content-Type: text/plain'], body: 'out' });
  assert.equal(status(fromAlice), 200, fromAlice);
  const atBob = await bob.waitFrame((f) => f.startsWith('MESSAGE '), 'the MESSAGE at bob', bob.incoming);
  assert.equal(header(atBob, 'P-Asserted-Identity'), `<${alice.aor}>`, atBob);
  assert.equal(header(atBob, 'Date'), undefined, `a live MESSAGE has no Date:\n${atBob}`);

  // Removal (Expires: 0 with the entity-tag): MESSAGEs reach alice again, a sender's Date is dropped.
  const removed = await alice.request('PUBLISH', alice.aor, { headers: ['Event: service-settings', 'Expires: 0', `SIP-If-Match: ${etag}`] });
  assert.equal(status(removed), 200, removed);
  assert.equal(header(removed, 'Expires'), '0');
  const again = await bob.request('MESSAGE', alice.aor, {
    headers: ['Content-Type: text/plain', 'Date: Sat, 01 Jan 2000 00:00:00 GMT'], body: 'not barred',
  });
  assert.equal(status(again), 200, again);
  const atAlice = await alice.waitFrame((f) => f.startsWith('MESSAGE '), 'the MESSAGE at alice', alice.incoming);
  assert.ok(atAlice.endsWith('\r\n\r\nnot barred'), atAlice);
  assert.equal(header(atAlice, 'Date'), undefined, `the sender's Date is removed:\n${atAlice}`);

  const unknown = await bob.request('MESSAGE', `sip:nobody@${DOMAIN}`, { headers: ['Content-Type: text/plain'], body: '?' });
  assert.equal(status(unknown), 404, unknown);

  // CRLF keep-alive (RFC 5626 §4.4.1 over a WebSocket): answered with CRLF.
  await alice.keepAlive();
});

// ───────────────────────── a–d: the package's ImClient ─────────────────────────

test('a. seed flow with default options: register() resolves, the if-absent policy publishes; a second client adopts', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'seed');
  const serviceSettings = { visibility: true, incomingSessionBarring: false };
  const alice = mk(t, k, 'alice', 'alice', { serviceSettings });
  const reg = await alice.register();
  assert.ok(reg.expires > 0, fmt(reg));
  const policy = await expectEvent(alice, 'policy', () => true, { ms: 45_000 });
  assert.ok(['published', 'adopted'].includes(policy.outcome), `policy outcome: ${fmt(policy)}`);
  assert.equal(policy.outcome, 'published', 'a fresh database has no settings: the policy publishes');

  const tab2 = mk(t, k, 'alice-2', 'alice', { serviceSettings: { incomingSessionBarring: true } });
  await tab2.register();
  const second = await expectEvent(tab2, 'policy', () => true, { ms: 45_000 });
  assert.equal(second.outcome, 'adopted', `the stored settings are adopted: ${fmt(second)}`);
  const fetched = await tab2.fetchServiceSettings();
  assert.equal(fetched?.entity, `sip:alice@${DOMAIN}`, fmt(fetched));
  assert.equal(fetched.incomingSessionBarring, false, fmt(fetched));
  assert.equal(fetched.visibility, true, fmt(fetched));
});

test('b. barring: bob\'s MESSAGE to alice is refused 403 with the Warning; alice\'s own MESSAGE to bob goes through', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'barring');
  const alice = mk(t, k, 'alice', 'alice', { publishPolicy: 'never' });
  const bob = mk(t, k, 'bob', 'bob', { publishPolicy: 'never' });
  await alice.register();
  await bob.register();
  const pub = await alice.publishServiceSettings({ entity: `sip:alice@${DOMAIN}`, incomingSessionBarring: true });
  assert.ok(pub.etag, fmt(pub));

  await assert.rejects(bob.sendMessage(`sip:alice@${DOMAIN}`, 'x'), (e) => {
    assert.equal(e.code, 'rejected', fmt(e));
    assert.equal(e.status, 403, fmt(e));
    return true;
  });
  const refusal = received(bob, 'SIP/2.0 403 ');
  assert.equal(refusal.length, 1, refusal.join('\n'));
  assert.equal(header(refusal[0], 'Warning'), `399 ${DOMAIN} "incoming session barring active"`, refusal[0]);
  assert.equal(alice.ev.message.length, 0, `nothing reached alice: ${fmt(alice.ev.message)}`);

  const got = expectEvent(bob, 'message', (m) => m.body === 'from a barred user', { what: 'the MESSAGE at bob' });
  got.catch(() => {}); // awaited below, once the send resolved
  const r = await alice.sendMessage(`sip:bob@${DOMAIN}`, 'from a barred user');
  assert.equal(r.status, 200, fmt(r));
  const m = await got;
  assert.equal(m.from, `sip:alice@${DOMAIN}`);
  assert.equal(m.deferred, false, fmt(m));
});

test('c. deferred: MESSAGEs to an offline user with offline delivery get 202 and arrive at the next REGISTER, in order, with their time', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'deferred');
  const carol = mk(t, k, 'carol', 'carol', { publishPolicy: 'never' });
  await carol.register();
  await carol.publishServiceSettings({ offlineDelivery: true });
  await carol.unregister();
  carol.close();

  const bob = mk(t, k, 'bob', 'bob', { publishPolicy: 'never' });
  await bob.register();
  const sentFrom = Math.floor(Date.now() / 1000) * 1000; // Date has whole seconds
  const first = await bob.sendMessage(`sip:carol@${DOMAIN}`, 'first, stored');
  const second = await bob.sendMessage(`sip:carol@${DOMAIN}`, 'second, stored');
  assert.equal(first.status, 202, fmt(first));
  assert.equal(second.status, 202, fmt(second));
  const storedBy = Date.now();

  const carol2 = mk(t, k, 'carol-2', 'carol', { publishPolicy: 'never' });
  const both = expectEvent(carol2, 'message', () => carol2.ev.message.length >= 2, { ms: 30_000, what: 'two stored MESSAGEs at carol' });
  both.catch(() => {}); // awaited below
  await carol2.register();
  await both;
  const messages = carol2.ev.message;
  assert.deepEqual(messages.map((m) => m.body), ['first, stored', 'second, stored'], fmt(messages));
  for (const m of messages) {
    assert.equal(m.from, `sip:bob@${DOMAIN}`, fmt(m));
    assert.equal(m.contentType, 'text/plain;charset=UTF-8', fmt(m));
    // The client side: Date header → deferred + dateTime (RFC 3339 UTC).
    assert.equal(m.deferred, true, `deferred: ${fmt(m)}`);
    assert.equal(typeof m.dateTime, 'string', `dateTime: ${fmt(m)}`);
    assert.match(m.dateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, fmt(m));
    // The ORIGINAL time: when bob sent it, not when it was delivered.
    const at = Date.parse(m.dateTime);
    assert.ok(at >= sentFrom && at <= storedBy, `${m.dateTime} lies between sending and the 202s: ${fmt(m)}`);
  }
  const frames = received(carol2, 'MESSAGE ');
  assert.equal(frames.length, 2, frames.join('\n'));
  for (const f of frames) assert.match(header(f, 'Date') ?? '', /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/, f);

  // Delivered means gone from the store: a third MESSAGE now goes live, with no Date.
  const live = expectEvent(carol2, 'message', (m) => m.body === 'live', { what: 'the live MESSAGE at carol' });
  live.catch(() => {}); // awaited below
  const third = await bob.sendMessage(`sip:carol@${DOMAIN}`, 'live');
  assert.equal(third.status, 200, fmt(third));
  const m3 = await live;
  assert.equal(m3.deferred, false, fmt(m3));
  assert.equal(m3.dateTime, undefined, fmt(m3));
});

test('d. without offline delivery a MESSAGE to a user who is not registered gets 480; an unknown user 404', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'unavailable');
  const carol = mk(t, k, 'carol', 'carol', { publishPolicy: 'never' });
  await carol.register();
  await carol.publishServiceSettings({ offlineDelivery: false });
  await carol.unregister();
  carol.close();

  const bob = mk(t, k, 'bob', 'bob', { publishPolicy: 'never' });
  await bob.register();
  for (const [to, code] of [[`sip:carol@${DOMAIN}`, 480], [`sip:user0007@${DOMAIN}`, 480], [`sip:nobody@${DOMAIN}`, 404]]) {
    await assert.rejects(bob.sendMessage(to, 'anyone there?'), (e) => {
      assert.equal(e.code, 'rejected', `${to}: ${fmt(e)}`);
      assert.equal(e.status, code, `${to}: ${fmt(e)}`);
      return true;
    });
  }
});

test('e. chat content: a composing indication to an offline user is 480 and never stored; CPIM (an IMDN request, an IMDN) is stored and delivered byte-exact', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'chat-content');
  const carolAor = `sip:carol@${DOMAIN}`;
  const carol = await rawClient(t, k.url, 'carol');
  assert.equal(status(await carol.register()), 200);
  const doc = `<?xml version="1.0" encoding="UTF-8"?>
<service-settings xmlns="${NS}"><entity id="${carolAor}"><deferred-settings><offline-delivery active="true"/></deferred-settings></entity></service-settings>`;
  const published = await carol.request('PUBLISH', carolAor, {
    headers: ['Event: service-settings', 'Expires: 600', `Content-Type: ${SETTINGS_XML}`], body: doc,
  });
  assert.equal(status(published), 200, published);
  const gone = await carol.request('REGISTER', `sip:${DOMAIN}`, { to: carolAor, headers: ['Contact: *', 'Expires: 0'] });
  assert.equal(status(gone), 200, gone);
  carol.ws.close();

  const bob = await rawClient(t, k.url, 'bob');
  assert.equal(status(await bob.register()), 200);
  const send = (contentType, body) => bob.request('MESSAGE', carolAor, { headers: [`Content-Type: ${contentType}`], body });

  // RFC 3994 composing indications: stale by the time carol is back, so never stored.
  const isComposing = '<?xml version="1.0" encoding="UTF-8"?>\n'
    + '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><refresh>60</refresh></isComposing>';
  const bare = await send('application/im-iscomposing+xml', isComposing);
  assert.equal(status(bare), 480, `a bare composing indication:\n${bare}`);
  const cpimEnvelope = (lines, contentType, body) => [...lines, '', `Content-Type: ${contentType}`,
    `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
  const wrappedComposing = cpimEnvelope([`From: <sip:bob@${DOMAIN}>`, `To: <${carolAor}>`, 'DateTime: 2026-11-29T23:05:00Z'],
    'application/im-iscomposing+xml', isComposing);
  const wrapped = await send('message/cpim', wrappedComposing);
  assert.equal(status(wrapped), 480, `a composing indication in CPIM:\n${wrapped}`);
  const bareLf = await send('message/cpim', wrappedComposing.replaceAll('\r\n', '\n'));
  assert.equal(status(bareLf), 480, `a composing indication in CPIM with LF line ends:\n${bareLf}`);

  // A chat message in CPIM asking for IMDNs (RFC 5438), non-ASCII text and a line break
  // in it, and an IMDN in CPIM: both stored (202), delivered as sent.
  const chat = cpimEnvelope([
    `From: Bob <sip:bob@${DOMAIN}>`, `To: <${carolAor}>`, 'DateTime: 2026-11-29T23:05:00Z',
    'NS: imdn <urn:ietf:params:imdn>', 'imdn.Message-ID: 7kQ2s9xZ',
    'imdn.Disposition-Notification: positive-delivery, display',
  ], 'text/plain;charset=UTF-8', 'héllo 🚀\r\n— stored for carol');
  const imdnDoc = '<?xml version="1.0" encoding="UTF-8"?>\n<imdn xmlns="urn:ietf:params:xml:ns:imdn">'
    + '<message-id>34jk324j</message-id><datetime>2026-11-29T22:00:00Z</datetime>'
    + `<recipient-uri>sip:bob@${DOMAIN}</recipient-uri>`
    + '<delivery-notification><status><delivered/></status></delivery-notification></imdn>';
  const notification = cpimEnvelope([
    `From: <sip:bob@${DOMAIN}>`, `To: <${carolAor}>`, 'DateTime: 2026-11-29T23:06:00Z',
    'NS: imdn <urn:ietf:params:imdn>', 'imdn.Message-ID: n0tIfy1',
  ], 'message/imdn+xml\r\nContent-Disposition: notification', imdnDoc);
  // Chat text that only quotes such a header in its body is chat (the header must be the
  // encapsulated object's own).
  const quoting = cpimEnvelope([`From: <sip:bob@${DOMAIN}>`, `To: <${carolAor}>`], 'text/plain',
    'typing indications look like this:\r\nContent-Type: application/im-iscomposing+xml\r\n');
  const stored = [['chat', chat], ['IMDN', notification], ['quoting chat', quoting]];
  for (const [what, body] of stored) {
    const r = await send('message/cpim', body);
    assert.equal(status(r), 202, `${what} in CPIM:\n${r}`);
  }

  const carol2 = await rawClient(t, k.url, 'carol');
  assert.equal(status(await carol2.register()), 200);
  const messages = [];
  for (const [what] of stored) {
    messages.push(await carol2.waitFrame((f) => f.startsWith('MESSAGE '), `the stored ${what}`, carol2.incoming, 30_000));
  }
  const bodyOf = (f) => f.slice(f.indexOf('\r\n\r\n') + 4);
  stored.forEach(([what, body], i) => {
    assert.equal(bodyOf(messages[i]), body, `${what} (stored #${i + 1}; no composing indication before it), byte for byte:\n${messages[i]}`);
  });
  for (const [f, body] of messages.map((m, i) => [m, stored[i][1]])) {
    assert.equal(header(f, 'Content-Type'), 'message/cpim', f);
    assert.equal(Number(header(f, 'Content-Length')), Buffer.byteLength(body), f);
    assert.match(header(f, 'Date') ?? '', /GMT$/, `stored messages carry Date:\n${f}`);
    assert.equal(header(f, 'X-Imsip-Content-Type'), undefined, f);
  }
  // Nothing else was stored: a live MESSAGE now is the next (and last) request carol gets.
  const live = await send('text/plain', 'live');
  assert.equal(status(live), 200, live);
  const next = await carol2.waitFrame((f) => f.startsWith('MESSAGE '), 'the live MESSAGE', carol2.incoming);
  assert.ok(next.endsWith('\r\n\r\nlive'), next);
  assert.equal(header(next, 'Date'), undefined, next);
  assert.deepEqual(carol2.incoming, [], 'no composing indication was delivered');
});

test('raw frames: what a client cannot make the core do — a forged in-dialog request, a second store, a foreign PUBLISH or REGISTER; OPTIONS says what it takes; an unknown method is 501', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'hardening');
  const bob = await rawClient(t, k.url, 'bob');
  assert.equal(status(await bob.register()), 200);
  const bobFlow = `sip:127.0.0.1:${bob.ws._socket.localPort};transport=ws`;
  const frame = (method, ruri, lines, body = '') => [
    `${method} ${ruri} SIP/2.0`, `Via: SIP/2.0/WS forged.invalid;branch=z9hG4bK${randomUUID().slice(0, 12)}`, 'Max-Forwards: 70',
    ...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ].join('\r\n');

  // 1. "In a dialog" by a made-up To tag and this core's own Route, to bob's flow, as alice,
  // with no credentials: no such dialog here, 481, and bob gets nothing.
  const mallory = await rawSipClient(t, k.url, { user: 'mallory', domain: 'other.test' });
  for (const method of ['MESSAGE', 'INVITE']) {
    const callId = randomUUID();
    const answered = mallory.waitFrame((f) => f.startsWith('SIP/2.0 ') && !/^SIP\/2\.0 1\d\d /.test(f) && header(f, 'Call-ID') === callId, `the answer to the forged ${method}`);
    mallory.ws.send(frame(method, bobFlow, [
      `Route: <sip:127.0.0.1:${k.port};transport=ws;lr>`, `From: <sip:alice@${DOMAIN}>;tag=f1`, `To: <${bob.aor}>;tag=forged`,
      `Call-ID: ${callId}`, `CSeq: 1 ${method}`, 'Contact: <sip:m@forged.invalid;transport=ws>', 'Content-Type: text/plain',
    ], 'forged'));
    assert.equal(status(await answered), 481, method);
    assert.ok(!bob.incoming.some((f) => header(f, 'Call-ID') === callId), `the forged ${method} reached bob`);
  }

  // 2. A retransmission (the same branch) of a MESSAGE stored for offline carol gets the
  // same 202 and is not stored again: carol gets it once.
  const carol = await rawClient(t, k.url, 'carol');
  assert.equal(status(await carol.register()), 200);
  const doc = `<?xml version="1.0" encoding="UTF-8"?><service-settings xmlns="${NS}"><entity id="${carol.aor}"><deferred-settings><offline-delivery active="true"/></deferred-settings></entity></service-settings>`;
  const published = await carol.request('PUBLISH', carol.aor, { headers: ['Event: service-settings', 'Expires: 600', `Content-Type: ${SETTINGS_XML}`], body: doc });
  assert.equal(status(published), 200, published);
  assert.equal(status(await carol.request('REGISTER', `sip:${DOMAIN}`, { to: carol.aor, headers: [`Contact: ${carol.contact}`, 'Expires: 0'] })), 200);
  const callId = randomUUID();
  const once = frame('MESSAGE', carol.aor, [`From: <sip:someone@other.test>;tag=o1`, `To: <${carol.aor}>`, `Call-ID: ${callId}`, 'CSeq: 1 MESSAGE', 'Content-Type: text/plain'], 'just once');
  for (let i = 0; i < 2; i++) {
    const answered = mallory.waitFrame((f) => f.startsWith('SIP/2.0 ') && !/^SIP\/2\.0 1\d\d /.test(f) && header(f, 'Call-ID') === callId, `answer ${i + 1}`);
    mallory.ws.send(once);
    assert.equal(status(await answered), 202);
  }
  const carol2 = await rawClient(t, k.url, 'carol');
  assert.equal(status(await carol2.register()), 200);
  await carol2.waitFrame((f) => f.startsWith('MESSAGE ') && f.endsWith('just once'), 'the stored MESSAGE', carol2.incoming);
  // What msilo delivers goes in order: a marker stored after it arrives after any second copy.
  const marker = await mallory.send('MESSAGE', carol2.aor, { headers: ['Content-Type: text/plain'], body: 'marker' });
  assert.equal(status(marker), 200, marker);
  await carol2.waitFrame((f) => f.startsWith('MESSAGE ') && f.endsWith('marker'), 'the marker', carol2.incoming);
  assert.ok(!carol2.incoming.some((f) => f.endsWith('just once')), 'stored once, delivered once');

  // 3. PUBLISH and SUBSCRIBE of another domain's AoR, never challenged: 403, nothing stored.
  const evil = 'sip:user1@evil.test';
  for (const method of ['PUBLISH', 'SUBSCRIBE']) {
    const r = await mallory.send(method, `sip:user1@${DOMAIN}`, {
      to: evil, headers: ['Event: service-settings', 'Expires: 600', 'Contact: <sip:m@forged.invalid;transport=ws>', ...(method === 'PUBLISH' ? [`Content-Type: ${SETTINGS_XML}`] : [])],
      body: method === 'PUBLISH' ? doc : '',
    });
    assert.equal(status(r), 403, r);
  }
  // 4. REGISTER for another domain, or a To of another domain: 404 (RFC 3261 §10.3), no challenge.
  for (const [ruri, to] of [['sip:other.test', bob.aor], [`sip:${DOMAIN}`, evil]]) {
    const r = await bob.send('REGISTER', ruri, { to, headers: [`Contact: ${bob.contact}`] });
    assert.equal(status(r), 404, `${ruri} / ${to}:\n${r}`);
  }
  // 5. OPTIONS to the server says what it takes (§11.2); an unknown method is 501, a known
  // one it does not allow 405, both with Allow.
  const options = await bob.request('OPTIONS', `sip:${DOMAIN}`);
  assert.equal(status(options), 200, options);
  assert.match(header(options, 'Allow') ?? '', /MESSAGE/, options);
  assert.match(header(options, 'Accept') ?? '', /application\/service-settings\+xml/, options);
  const foo = await bob.request('FOOBAR', `sip:${DOMAIN}`);
  assert.equal(status(foo), 501, foo);
  const info = await bob.request('INFO', `sip:${DOMAIN}`);
  assert.equal(status(info), 405, info);
  assert.match(header(info, 'Allow') ?? '', /INVITE/, info);
});
