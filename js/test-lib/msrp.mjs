// The MSRP scenarios of issue 18, run by js/test/msrp.test.mjs (devcore's relay) and
// js/interop/msrp.test.mjs (Kamailio's msrp module): two registered ImClients of the
// built package, `alice` and `bob`.
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer, loadImsip } from './client.mjs';
import { freePort } from './net.mjs';

const { ImError } = await loadImsip();

/** The next `type` event of `target` that passes `filter`. */
export function nextEvent(target, type, filter = () => true, ms = 60_000) {
  // Bounded, so that a lost event fails the test with what the client saw instead of
  // hanging the run (a liveness bound, far above any expected wait; not a timing check).
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      const seen = (target.ev?.trace ?? []).slice(-30)
        .map((f) => `  ${f.direction} ${f.text.split('\r\n', 1)[0]}`).join('\n');
      reject(new Error(`no '${type}' event in ${ms / 1000} s${seen ? `; the last frames:\n${seen}` : ''}`));
    }, ms);
    const on = (e) => {
      if (!filter(e.detail)) return;
      clearTimeout(timer);
      target.removeEventListener(type, on);
      resolve(e.detail);
    };
    target.addEventListener(type, on);
  });
}

/** `promise`, or a rejection naming `what` (with `client`'s last frames) after `ms`. */
export function within(promise, client, what, ms = 60_000) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const seen = (client.ev?.trace ?? []).slice(-30)
        .map((f) => `  ${f.direction} ${f.text.split('\r\n', 1)[0]}`).join('\n');
      reject(new Error(`no ${what} in ${ms / 1000} s${seen ? `; the last frames:\n${seen}` : ''}`));
    }, ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** 1 MiB of every byte value, in an order that shows a misplaced chunk. */
export function mebibyte() {
  const body = new Uint8Array(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 11)) & 0xff;
  return body;
}

/**
 * A 1 MiB binary body in large-message mode, byte-exact, with progress events; then a
 * long text through `sendMessage`, which switches to large-message mode by itself.
 */
export async function largeMessageScenario(alice, bob) {
  const body = mebibyte();
  const progress = [];
  let events = 0;
  const countEvents = () => events++;
  alice.addEventListener('progress', countEvents);
  const arrived = nextEvent(bob, 'message', (d) => d.largeMessage);
  const result = await alice.sendLargeMessage('sip:bob@imsip.test', body, {
    contentType: 'application/octet-stream',
    onProgress: (p) => progress.push(p),
  });
  alice.removeEventListener('progress', countEvents);
  assert.equal(events, progress.length, 'onProgress gets the progress events of its transfer');
  assert.equal(result.largeMessage, true);
  assert.equal(result.bytes, body.length);
  const got = await arrived;
  assert.equal(got.from, 'sip:alice@imsip.test');
  assert.equal(got.contentType, 'application/octet-stream');
  assert.ok(got.body instanceof Uint8Array, 'a binary body arrives as a Uint8Array');
  assert.equal(got.body.length, body.length);
  assert.ok(Buffer.from(got.body).equals(Buffer.from(body)), 'the body arrived byte-exact');
  assert.ok(progress.length > 1, 'progress events came');
  assert.ok(progress.every((p, i) => i === 0 || p.bytesSent >= progress[i - 1].bytesSent), 'progress only grows');
  assert.equal(progress.at(-1).bytesSent, body.length);
  assert.equal(progress.at(-1).total, body.length);

  // An ArrayBuffer (a FileReader's result) and other views go as their bytes.
  const buffer = new Float64Array([1.5, -2.25]).buffer;
  const arrivedBuffer = nextEvent(bob, 'message', (d) => d.largeMessage);
  await alice.sendLargeMessage('sip:bob@imsip.test', buffer, { contentType: 'application/octet-stream' });
  assert.deepEqual([...new Float64Array((await arrivedBuffer).body.slice().buffer)], [1.5, -2.25]);

  // Above the threshold (1300 bytes by default) sendMessage goes in large-message mode.
  // Alice was typing: the message ends it at bob at once (RFC 3994 §3.3), as a
  // MESSAGE does — not when alice's idle notice comes 15 s later.
  const typing = nextEvent(bob, 'composing', (d) => d.from === 'sip:alice@imsip.test' && d.state === 'active');
  await alice.setComposing('sip:bob@imsip.test', true);
  await typing;
  const order = [];
  const onComposing = (e) => order.push(`composing ${e.detail.state}`);
  const onMessage = (e) => { if (e.detail.largeMessage) order.push('message'); };
  bob.addEventListener('composing', onComposing);
  bob.addEventListener('message', onMessage);
  const text = 'é'.repeat(2000);
  const arrivedText = nextEvent(bob, 'message', (d) => d.largeMessage);
  const sent = await alice.sendMessage('sip:bob@imsip.test', text);
  assert.equal(sent.largeMessage, true);
  const gotText = await arrivedText;
  bob.removeEventListener('composing', onComposing);
  bob.removeEventListener('message', onMessage);
  assert.deepEqual(order, ['composing idle', 'message'], 'typing ends with the message');
  assert.equal(gotText.body, text, 'a text/* body arrives as a string');
  assert.match(gotText.contentType, /^text\/plain/);
}

/**
 * A chat session: invitation accepted, 100 messages each way in order with typing
 * indications, delivery reports, then BYE from `closer`.
 */
export async function chatSessionScenario(alice, bob, { closer = 'alice' } = {}) {
  const invited = nextEvent(bob, 'invitation');
  const starting = alice.startChat('sip:bob@imsip.test');
  const invitation = await invited;
  assert.equal(invitation.from, 'sip:alice@imsip.test');
  const [a, b] = await Promise.all([starting, invitation.accept()]);
  assert.equal(a.peer, 'sip:bob@imsip.test');
  assert.equal(b.peer, 'sip:alice@imsip.test');
  assert.equal(a.state, 'open');

  // A content type that is not one type/subtype line: refused naming the option, nothing sent.
  await assert.rejects(a.send('x', { contentType: 'a/b\r\nX: y' }),
    (e) => e.code === 'bad_input' && /^invalid input: options\.contentType: /.test(e.message));

  const typing = nextEvent(b, 'composing', (d) => d.state === 'active');
  await a.setComposing(true);
  await typing;

  const N = 100;
  const gotByBob = [];
  const gotByAlice = [];
  const bobHasAll = new Promise((resolve) => {
    b.addEventListener('message', (e) => { gotByBob.push(e.detail.body); if (gotByBob.length === N) resolve(); });
  });
  const aliceHasAll = new Promise((resolve) => {
    a.addEventListener('message', (e) => { gotByAlice.push(e.detail.body); if (gotByAlice.length === N) resolve(); });
  });
  const reports = [];
  a.addEventListener('report', (e) => reports.push(e.detail));
  // A message ends alice's typing for bob.
  const idle = nextEvent(b, 'composing', (d) => d.state === 'idle');
  const sends = [];
  for (let i = 0; i < N; i++) {
    sends.push(a.send(`from alice ${i}`));
    sends.push(b.send(`from bob ${i}`));
  }
  const results = await Promise.all(sends);
  assert.ok(results.every((r) => typeof r.messageId === 'string' && r.messageId.length > 0));
  await Promise.all([bobHasAll, aliceHasAll, idle]);
  assert.deepEqual(gotByBob, Array.from({ length: N }, (_, i) => `from alice ${i}`));
  assert.deepEqual(gotByAlice, Array.from({ length: N }, (_, i) => `from bob ${i}`));
  await until(() => reports.length === N);
  assert.ok(reports.every((r) => r.status === 'delivered'), 'every message reported delivered');

  // OMA IM clients wrap session messages in CPIM (RFC 3862): the event carries its content.
  const cpim = 'From: <sip:alice@imsip.test>\r\nTo: <sip:bob@imsip.test>\r\nDateTime: 2026-11-30T05:00:00Z\r\n\r\n'
    + 'Content-Type: text/plain;charset=UTF-8\r\n\r\nwrapped hi';
  const wrapped = nextEvent(b, 'message');
  await a.send(cpim, { contentType: 'message/cpim' });
  const w = await wrapped;
  assert.match(w.contentType, /^text\/plain/);
  assert.equal(w.body, 'wrapped hi');

  // BYE from either side: both see `ended`.
  const [closing, other] = closer === 'alice' ? [a, b] : [b, a];
  const endedHere = nextEvent(closing, 'ended');
  const endedThere = nextEvent(other, 'ended');
  await closing.close();
  assert.equal((await endedHere).reason, 'local');
  assert.equal((await endedThere).reason, 'remote');
  assert.equal(other.state, 'ended');
  await assert.rejects(other.send('too late'), (e) => e instanceof ImError && e.code === 'invalid_state');
}

/** An invitation declined: the caller's startChat rejects with the status. */
export async function declinedChatScenario(alice, bob) {
  const invited = nextEvent(bob, 'invitation');
  const starting = alice.startChat('sip:bob@imsip.test');
  const invitation = await invited;
  await invitation.reject(486);
  await assert.rejects(starting, (e) => e instanceof ImError && e.code === 'rejected' && e.status === 486);
}

/** Polls `check` each macrotask (no clock involved) until it holds. */
export async function until(check) {
  while (!check()) await new Promise((r) => setImmediate(r));
}

/**
 * startChat with an AbortSignal: aborted while it rings, it rejects `cancelled` and the
 * callee's invitation ends (`invitationended`, reason `cancelled`).
 */
export async function abortedChatScenario(alice, bob) {
  const ringing = new AbortController();
  const invited = nextEvent(bob, 'invitation');
  const starting = alice.startChat('sip:bob@imsip.test', { signal: ringing.signal });
  starting.catch(() => {}); // awaited below; an early rejection must not go unhandled
  // A startChat that fails before bob is invited fails the test at once, with its error.
  const invitation = await Promise.race([invited, starting.then((v) => {
    throw new Error(`startChat resolved before bob was invited: ${JSON.stringify(v)}`);
  })]);
  const ended = nextEvent(bob, 'invitationended');
  ringing.abort();
  await assert.rejects(within(starting, alice, 'startChat to settle after the abort'),
    (e) => e instanceof ImError && e.code === 'cancelled');
  const gone = await ended;
  assert.equal(gone.chat, invitation.chat);
  assert.equal(gone.reason, 'cancelled');
  await assert.rejects(invitation.accept(), (e) => e instanceof ImError && e.code === 'invalid_state');
}

/**
 * A relay in front of `upstream` (an MSRP relay's WebSocket URL) that cuts its first
 * connection, both ways, once the client has sent `cutAfter` frames; later
 * connections pass untouched. Closed when test `t` ends.
 */
export async function cuttingRelay(t, upstream, cutAfter) {
  const port = await freePort();
  const wss = new WebSocketServer({ port, host: '127.0.0.1', handleProtocols: () => 'msrp' });
  let connections = 0;
  wss.on('connection', (client) => {
    const first = connections++ === 0;
    const up = new WebSocket(upstream, 'msrp');
    const held = [];
    let sent = 0;
    up.on('open', () => { for (const [m, binary] of held.splice(0)) up.send(m, { binary }); });
    up.on('message', (data, isBinary) => client.readyState === 1 && client.send(data, { binary: isBinary }));
    client.on('message', (data, isBinary) => {
      sent++;
      if (first && sent > cutAfter) {
        client.terminate();
        up.terminate();
        return;
      }
      if (up.readyState === 1) up.send(data, { binary: isBinary });
      else held.push([data, isBinary]);
    });
    client.on('close', () => up.close());
    up.on('close', () => client.close());
    up.on('error', () => client.terminate());
  });
  await new Promise((r) => wss.once('listening', r));
  t.after(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }));
  return `ws://127.0.0.1:${port}/msrp`;
}

/**
 * alice's relay (a cuttingRelay) drops her WebSocket mid-transfer: sendLargeMessage
 * rejects `transport` with part of the body acknowledged, bob sees nothing of it, and
 * the next large message goes through a fresh connection.
 */
export async function droppedTransferScenario(alice, bob) {
  let progressed = 0;
  const large = [];
  const onMessage = (e) => { if (e.detail.largeMessage) large.push(e.detail); };
  bob.addEventListener('message', onMessage);
  await assert.rejects(
    alice.sendLargeMessage('sip:bob@imsip.test', mebibyte(), {
      contentType: 'application/octet-stream',
      onProgress: (p) => { progressed = p.bytesSent; },
    }),
    (e) => e instanceof ImError && e.code === 'transport',
  );
  assert.ok(progressed > 0 && progressed < 1024 * 1024, `cut mid-transfer (${progressed} bytes acknowledged)`);
  const body = new Uint8Array(5000).fill(7);
  const arrived = nextEvent(bob, 'message', (d) => d.largeMessage);
  await alice.sendLargeMessage('sip:bob@imsip.test', body, { contentType: 'application/octet-stream' });
  assert.equal((await arrived).body.length, 5000);
  bob.removeEventListener('message', onMessage);
  assert.equal(large.length, 1, 'only the second message arrived');
}
