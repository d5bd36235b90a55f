// The JS package's fetchHistory() against the DEPLOYMENT Kamailio 5.6 (deploy/kamailio/):
// the OMA IM history setting (`<hist-settings><hist-activation active="true"/>`) kept by
// the IM Server in its `history` table and read back with the one-shot
// `SUBSCRIBE Event: im-history` of src/im/history.rs.
//  - alice publishes history on; alice → bob (two bindings: one row, not two) and
//    bob → alice; fetchHistory({ with: bob }) gives both, sent then received, with
//    RFC 3339 times and the body as sent (markup characters and CR included); the 200
//    to the SUBSCRIBE has Expires: 0 and a To tag, the NOTIFY is terminated with the
//    history Content-Type; limit: 1 gives the most recent; since in the future none;
//  - bob (no settings) gets an empty history, not an error;
//  - a MESSAGE to offline carol (offline delivery and history on) gets 202 and is in
//    alice's history as 'sent'; when carol registers and it is delivered, carol's history
//    has it as 'received', at the time it was stored;
//  - alice switches history off: the rows stay, new MESSAGEs either way add none;
//  - chat only (its own Kamailio): composing indications and IMDNs, bare or in CPIM,
//    relayed live or stored for an offline user and delivered later, are in nobody's
//    history; chat in CPIM (given back as its content) and plain chat are.
// Its own Kamailio and database in target/deploy-kamailio/history-<node pid>/<test>/ (the
// log and each client's frames, <client>.wire, left there until the next run). No fixed
// sleeps: every wait is for an event, a response or a condition, bounded by a generous
// timeout. Skipped (with the reason) when kamailio, one of its modules or sqlite3 is
// missing.
//
//   bash js/build.sh && node --test js/interop/deploy-history.test.mjs
//   (IMSIP_PKG=/path/to/pkg/imsip.js picks another build)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { expectEvent, fmt, received } from '../test-lib/client.mjs';
import { deployKamailioRuns, kamailioClient, missingDeployKamailio } from '../test-lib/kamailio.mjs';
import { header } from '../test-lib/sip.mjs';

globalThis.WebSocket ??= WebSocket;

// This run's directory (not deploy.test.mjs's run-<pid>): concurrent runs never share files.
const { start: startKamailio } = deployKamailioRuns({ prefix: 'history' });

const DOMAIN = 'imsip.test';
const ALICE = `sip:alice@${DOMAIN}`;
const BOB = `sip:bob@${DOMAIN}`;
const CAROL = `sip:carol@${DOMAIN}`;
const HISTORY_XML = 'application/vnd.imsip.im-history+xml';
const TEXT = 'text/plain;charset=UTF-8';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

const skipReason = missingDeployKamailio();

/** An ImClient of `user` (password `<user>-secret`, publishPolicy 'never'); see kamailioClient. */
const mk = (t, k, label, user, options) => kamailioClient(t, k, label, {
  aor: `sip:${user}@${DOMAIN}`, password: `${user}-secret`, publishPolicy: 'never', ...options,
});

/**
 * `fetch()` again until `pred` holds for its result (a row the core adds when a
 * client's 2xx reaches it, which may come after the client's own event), within `ms`.
 */
async function fetchUntil(fetch, pred, what, ms = 20_000) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    last = await fetch();
    if (pred(last)) return last;
    if (Date.now() > until) throw new Error(`${what} not within ${ms} ms; last: ${fmt(last)}`);
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
}

/** A history as [direction, peer, body] rows. */
const rows = (h) => h.map((m) => [m.direction, m.peer, m.body]);

test('history: kept while active (relayed and stored), fetchHistory with/limit/since, empty for others, kept after switching off', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'history');

  // carol: offline delivery and history on, then gone.
  const carol = mk(t, k, 'carol', 'carol');
  await carol.register();
  await carol.publishServiceSettings({ offlineDelivery: true, history: { active: true } });
  await carol.unregister();
  carol.close();

  const alice = mk(t, k, 'alice', 'alice');
  const bob = mk(t, k, 'bob', 'bob');
  const bob2 = mk(t, k, 'bob-2', 'bob');
  await alice.register();
  await bob.register();
  await bob2.register();
  await alice.publishServiceSettings({ history: { active: true } });

  // Markup characters and a CR LF: the document escapes them, the client gets them back.
  const first = 'hello bob & <co> "quoted" \'single\'\r\nsecond line, h\u00e9llo \u20ac';
  const atBob = expectEvent(bob, 'message', (m) => m.body === first, { what: 'the MESSAGE at bob' });
  const atBob2 = expectEvent(bob2, 'message', (m) => m.body === first, { what: 'the MESSAGE at bob-2' });
  atBob.catch(() => {});
  atBob2.catch(() => {}); // awaited below
  const sent = await alice.sendMessage(BOB, first);
  assert.equal(sent.status, 200, fmt(sent));
  await atBob;
  await atBob2; // forked to both bindings: both answered 200, one row
  const atAlice = expectEvent(alice, 'message', (m) => m.body === 'hello alice', { what: 'the MESSAGE at alice' });
  atAlice.catch(() => {}); // awaited below
  const reply = await bob.sendMessage(ALICE, 'hello alice');
  assert.equal(reply.status, 200, fmt(reply));
  await atAlice;

  // The rows are written before the 2xx is relayed: there when sendMessage resolved.
  const h = await alice.fetchHistory({ with: BOB });
  assert.deepEqual(rows(h), [['sent', BOB, first], ['received', BOB, 'hello alice']], fmt(h));
  for (const m of h) {
    assert.equal(m.contentType, TEXT, fmt(m));
    assert.match(m.time, RFC3339, fmt(m));
    assert.ok(Number.isFinite(Date.parse(m.time)), fmt(m));
    assert.match(m.id, /^\d+$/, fmt(m));
  }
  assert.ok(Date.parse(h[0].time) <= Date.parse(h[1].time), fmt(h));
  assert.ok(Number(h[0].id) < Number(h[1].id), fmt(h));

  // On the wire: 200 (Expires: 0, To tag, Contact), then one terminated NOTIFY.
  const notify = received(alice, 'NOTIFY ').find((f) => header(f, 'Event') === 'im-history');
  assert.ok(notify, 'a NOTIFY with Event: im-history');
  assert.equal(header(notify, 'Subscription-State'), 'terminated;reason=timeout', notify);
  assert.equal(header(notify, 'Content-Type'), HISTORY_XML, notify);
  const doc = notify.split('\r\n\r\n').slice(1).join('\r\n\r\n');
  assert.ok(doc.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<im-history xmlns="urn:imsip:params:xml:ns:im-history">'), doc);
  assert.ok(doc.includes('&amp; &lt;co&gt; &quot;quoted&quot;'), doc);
  assert.ok(doc.includes('&#13;\nsecond line'), doc);
  const ok = received(alice, 'SIP/2.0 200 ').find((f) => header(f, 'Call-ID') === header(notify, 'Call-ID')
    && /SUBSCRIBE$/.test(header(f, 'CSeq') ?? ''));
  assert.ok(ok, `the 200 to the history SUBSCRIBE:\n${notify}`);
  assert.equal(header(ok, 'Expires'), '0', ok);
  assert.match(header(ok, 'To') ?? '', /;tag=/, ok);
  assert.ok(header(ok, 'Contact'), ok);

  // limit: the most recent; since: at or after.
  assert.deepEqual(rows(await alice.fetchHistory({ with: BOB, limit: 1 })), [['received', BOB, 'hello alice']]);
  assert.deepEqual(await alice.fetchHistory({ since: Date.now() + 86_400_000 }), []);
  assert.deepEqual(rows(await alice.fetchHistory({ since: 0 })), rows(h));
  assert.deepEqual(rows(await alice.fetchHistory()), rows(h));
  assert.deepEqual(await alice.fetchHistory({ with: CAROL }), []);

  // bob has no settings: nothing kept, an empty history (not an error).
  assert.deepEqual(await bob.fetchHistory(), []);
  assert.deepEqual(await bob.fetchHistory({ with: ALICE }), []);

  // To offline carol: stored (202), and 'sent' in alice's history at once.
  const stored = await alice.sendMessage(CAROL, 'for carol, later');
  assert.equal(stored.status, 202, fmt(stored));
  const toCarol = await alice.fetchHistory({ with: CAROL });
  assert.deepEqual(rows(toCarol), [['sent', CAROL, 'for carol, later']], fmt(toCarol));
  assert.equal(toCarol[0].contentType, TEXT, fmt(toCarol));
  assert.deepEqual(rows(await alice.fetchHistory()), [...rows(h), ...rows(toCarol)]);

  // carol comes back: the stored MESSAGE is delivered and kept as 'received' in her
  // history, at the time it was stored (the row comes with her 200, after her event).
  const carol2 = mk(t, k, 'carol-2', 'carol');
  const deferred = expectEvent(carol2, 'message', (m) => m.body === 'for carol, later', { ms: 30_000, what: 'the stored MESSAGE at carol' });
  deferred.catch(() => {}); // awaited below
  await carol2.register();
  const delivered = await deferred;
  assert.equal(delivered.deferred, true, fmt(delivered));
  const carolHistory = await fetchUntil(() => carol2.fetchHistory({ with: ALICE }), (l) => l.length > 0, "the delivered MESSAGE in carol's history");
  assert.deepEqual(rows(carolHistory), [['received', ALICE, 'for carol, later']], fmt(carolHistory));
  assert.equal(carolHistory[0].time, toCarol[0].time, `stored time: ${fmt(carolHistory)} / ${fmt(toCarol)}`);
  assert.equal(carolHistory[0].contentType, TEXT, fmt(carolHistory));

  // alice switches history off: what was kept stays, nothing more is added.
  await alice.publishServiceSettings({ history: { active: false } });
  const r1 = await alice.sendMessage(BOB, 'not kept');
  assert.equal(r1.status, 200, fmt(r1));
  const late = expectEvent(alice, 'message', (m) => m.body === 'not kept either', { what: 'the late MESSAGE at alice' });
  late.catch(() => {}); // awaited below
  const r2 = await bob.sendMessage(ALICE, 'not kept either');
  assert.equal(r2.status, 200, fmt(r2));
  await late;
  // carol (online now, history on) keeps it; alice does not.
  const atCarol = expectEvent(carol2, 'message', (m) => m.body === 'live to carol', { what: 'the live MESSAGE at carol' });
  atCarol.catch(() => {}); // awaited below
  const r3 = await alice.sendMessage(CAROL, 'live to carol');
  assert.equal(r3.status, 200, fmt(r3));
  await atCarol;
  const after = await alice.fetchHistory();
  assert.deepEqual(after.map((m) => [m.id, ...rows([m])[0]]), [...h, ...toCarol].map((m) => [m.id, ...rows([m])[0]]), fmt(after));
  const carolAfter = await carol2.fetchHistory();
  assert.deepEqual(rows(carolAfter), [['received', ALICE, 'for carol, later'], ['received', ALICE, 'live to carol']], fmt(carolAfter));
});

test('history keeps every body byte for byte: binary (NUL, bytes that are not UTF-8), control characters and U+FFFE/U+FFFF in base64', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'bytes');
  const alice = mk(t, k, 'alice', 'alice');
  const bob = mk(t, k, 'bob', 'bob');
  await alice.register();
  await bob.register();
  await alice.publishServiceSettings({ history: { active: true } });
  const binary = new Uint8Array([0, 0xff, 0x01, 0x3c, 0x80, 0x00, 0x41]);
  const bell = 'ring \u0007 the bell';
  const plain = 'plain <text> & \u00e9';
  const nonChars = 'x\uffff y\ufffe'; // UTF-8, but not XML 1.0 characters: base64 too
  const sameBody = (a, b) => (typeof a === 'string' ? a === b : typeof b !== 'string' && Buffer.from(a).equals(Buffer.from(b)));
  for (const [body, contentType] of [[binary, 'application/octet-stream'], [bell, TEXT], [plain, TEXT], [nonChars, TEXT]]) {
    const at = expectEvent(bob, 'message', (m) => sameBody(m.body, body), { what: `${fmt(body)} at bob` });
    at.catch(() => {}); // awaited below
    const r = await alice.sendMessage(BOB, body, { contentType });
    assert.equal(r.status, 200, fmt(r));
    await at;
  }
  const h = await alice.fetchHistory({ with: BOB });
  assert.equal(h.length, 4, fmt(h));
  assert.ok(h[0].body instanceof Uint8Array, fmt(h[0]));
  assert.deepEqual([...h[0].body], [...binary], fmt(h[0]));
  assert.equal(h[0].contentType, 'application/octet-stream', fmt(h[0]));
  assert.equal(h[1].body, bell, fmt(h[1]));
  assert.equal(h[2].body, plain, fmt(h[2]));
  assert.equal(h[3].body, nonChars, fmt(h[3]));
  // On the wire: base64 for the two XML cannot carry, the plain one as text.
  const notify = received(alice, 'NOTIFY ').find((f) => header(f, 'Event') === 'im-history');
  assert.equal(notify.match(/ encoding="base64">/g)?.length, 3, notify);
  assert.ok(notify.includes('plain &lt;text&gt; &amp; \u00e9</message>'), notify);
});

/** A CPIM envelope (RFC 3862) from `from` to `to` around `body` of `contentType`, with `headers` (IMDN ones). */
const cpim = (from, to, contentType, body, headers = []) => [
  `From: <${from}>`, `To: <${to}>`, 'DateTime: 2026-11-29T23:05:00Z', ...headers,
  '', `Content-Type: ${contentType}`, `Content-Length: ${Buffer.byteLength(body)}`, '', body,
].join('\r\n');
const imdnId = (id) => ['NS: imdn <urn:ietf:params:imdn>', `imdn.Message-ID: ${id}`];

/** How many 200s to MESSAGEs client `c` has sent. */
const messagesAnswered = (c) => c.ev.trace.filter((f) => f.direction === 'out' && f.text.startsWith('SIP/2.0 200 ')
  && / MESSAGE$/.test(header(f.text, 'CSeq') ?? '')).length;

// The rows' contents only: how the client shows a composing indication or an IMDN
// (events of their own) is not this test's business, the 200 it answers with is.
test('history keeps chat only: no composing indication or IMDN (bare or in CPIM), relayed or stored', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'chat-only');
  const carol = mk(t, k, 'carol', 'carol');
  await carol.register();
  await carol.publishServiceSettings({ offlineDelivery: true, history: { active: true } });
  await carol.unregister();
  carol.close();
  const alice = mk(t, k, 'alice', 'alice');
  const bob = mk(t, k, 'bob', 'bob');
  await alice.register();
  await bob.register();
  await alice.publishServiceSettings({ history: { active: true } });
  await bob.publishServiceSettings({ history: { active: true } });

  const composing = '<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>';
  const imdn = '<?xml version="1.0" encoding="UTF-8"?>\n<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>34jk324j</message-id>'
    + '<datetime>2026-11-29T22:00:00Z</datetime><display-notification><status><displayed/></status></display-notification></imdn>';
  const notification = (to, id) => cpim(BOB, to, 'message/imdn+xml\r\nContent-Disposition: notification', imdn, imdnId(id));
  const chat = cpim(BOB, ALICE, TEXT, 'kept: chat in CPIM', imdnId('m-1'));
  const live = [
    ['application/im-iscomposing+xml', composing],
    ['message/cpim', cpim(BOB, ALICE, 'application/im-iscomposing+xml', composing)],
    ['message/imdn+xml', imdn],
    ['message/cpim', notification(ALICE, 'n-1')],
    ['message/cpim', chat],
  ];
  for (const [contentType, body] of live) {
    const r = await bob.sendMessage(ALICE, body, { contentType });
    assert.equal(r.status, 200, `${contentType}: ${fmt(r)}`);
  }
  // Rows are written before the 2xx is relayed: complete once the last send resolved.
  // The chat message is kept in its CPIM envelope; fetchHistory gives its content
  // (as the `message` event does).
  const aliceHistory = await alice.fetchHistory();
  assert.deepEqual(rows(aliceHistory), [['received', BOB, 'kept: chat in CPIM']]);
  assert.equal(aliceHistory[0].contentType, TEXT, fmt(aliceHistory));
  assert.deepEqual(rows(await bob.fetchHistory()), [['sent', ALICE, 'kept: chat in CPIM']]);

  // To offline carol: an IMDN and a chat message are stored (202); the IMDN is nobody's history.
  const stored = [['message/cpim', notification(CAROL, 'n-2')], [TEXT, 'kept: stored for carol']];
  for (const [contentType, body] of stored) {
    const r = await bob.sendMessage(CAROL, body, { contentType });
    assert.equal(r.status, 202, `${contentType}: ${fmt(r)}`);
  }
  assert.deepEqual(rows(await bob.fetchHistory({ with: CAROL })), [['sent', CAROL, 'kept: stored for carol']]);
  const carol2 = mk(t, k, 'carol-2', 'carol');
  const both = expectEvent(carol2, 'trace', () => messagesAnswered(carol2) >= 2, { ms: 30_000, what: 'both stored MESSAGEs answered by carol' });
  both.catch(() => {}); // awaited below
  await carol2.register();
  await both;
  const frames = received(carol2, 'MESSAGE ');
  assert.deepEqual(frames.map((f) => f.slice(f.indexOf('\r\n\r\n') + 4)), stored.map(([, body]) => body), frames.join('\n'));
  // The IMDN was answered first: once the chat message's row is there, the IMDN's would be.
  const carolHistory = await fetchUntil(() => carol2.fetchHistory(), (l) => l.length > 0, "the stored chat message in carol's history");
  assert.deepEqual(rows(carolHistory), [['received', BOB, 'kept: stored for carol']], fmt(carolHistory));
});
