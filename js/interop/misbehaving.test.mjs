// The JS package's ImClient against a scripted SIP core that misbehaves the way real
// ones do (tests/misbehaving/core.mjs), in Node 20 over loopback:
//  1. a REGISTER refresh answered 503 (no Retry-After): 'retrying', then 'registered'
//     again, and a MESSAGE from the core afterwards reaches the app;
//  2. the same for 408, 500 and 504;
//  3. a PUBLISH refresh answered 500: publication 'retrying', then 'published', the
//     retry reaching the core while the entity is still alive there;
//  4. no pongs, outbound not negotiated: the flow is not declared dead (≥ 4 pings
//     counted at the core on one connection, no 'disconnected');
//  5. no pongs, `Require: outbound` + Flow-Timer: the client closes, reconnects and
//     re-registers;
//  6. a core that drops every REGISTER: reconnect delays keep growing to maxDelay;
//  7. a watch terminated by NOTIFY with each RFC 6665 §4.1.3 reason: resubscribe at
//     once (deactivated, timeout), after retry-after (probation, giveup), or never
//     (rejected, noresource);
//  8. a core with no MSRP relay (its WebSocket refuses the `msrp` subprotocol) and 501
//     to INVITE: a text above the large-message threshold arrives whole as one
//     MESSAGE, sendLargeMessage and startChat reject with a typed ImError, no INVITE
//     reaches the core, and the registration stays up.
// Every test asserts at the core (what it received) and in the client's events. No
// fixed sleeps: every wait is for an event or a fact at the core, bounded by a
// generous timeout. Each test has its own core on a free port; they run concurrently.
//
//   js/build.sh && node --test js/interop/misbehaving.test.mjs
//   (IMSIP_PKG=/path/to/pkg/imsip.js picks another build)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startCore } from '../../tests/misbehaving/core.mjs';
import { fmt, loadImsip, recordEvents } from '../test-lib/client.mjs';

const { ImClient, ImError } = await loadImsip();

const AOR = 'sip:alice@imsip.test';
const RECONNECT = { minDelay: 0.05, maxDelay: 0.4 };
const EVENTS = ['connection', 'registration', 'publication', 'message', 'servicesettings', 'watchterminated', 'dropped', 'trace'];

const states = (list) => list.map((d) => d.state);

/** A core for test `t`, closed when the test ends (after its clients). */
async function coreFor(t, options) {
  const core = await startCore(options);
  t.after(() => core.close());
  return core;
}

/** An ImClient on `core` with every event recorded in `c.ev[type]`; closed when `t` ends. */
function mk(t, core, extra = {}) {
  const c = recordEvents(new ImClient({
    server: core.url, aor: AOR, password: 'alice-secret', publishPolicy: 'never',
    reconnect: RECONNECT, webSocket: WebSocket, ...extra,
  }), EVENTS);
  t.after(() => c.close());
  return c;
}

/**
 * Resolves with `{ detail, index }` of the first `type` event at index ≥ `after`
 * (already recorded or still to come) matching `pred`. Rejects at once when an event
 * matching `failIf` comes first, and after `ms`. `.cancel()` stops waiting.
 */
function expectEvent(c, type, pred, { after = 0, ms = 15_000, failIf = () => false, what = `${type} event`, core } = {}) {
  let stop;
  const p = new Promise((resolve, reject) => {
    let i = after;
    const check = () => {
      const list = c.ev[type];
      for (; i < list.length; i++) {
        const d = list[i];
        if (pred(d)) { stop(); resolve({ detail: d, index: i }); return; }
        if (failIf(d)) {
          stop();
          reject(new Error(`waiting for ${what}, got ${type} ${fmt(d)}\n${type} events: ${fmt(list.slice(after))}`
            + (core ? `\nthe core saw:\n${core.summary()}` : '')));
          return;
        }
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no ${what} in ${ms} ms\n${type} events: ${fmt(c.ev[type].slice(after))}`
        + (core ? `\nthe core saw:\n${core.summary()}` : '')));
    }, ms);
    stop = () => { clearTimeout(timer); c.removeEventListener(type, check); };
    c.addEventListener(type, check);
    check();
  });
  p.cancel = () => stop();
  return p;
}

/** The first of `waits` to settle; the others are cancelled. */
async function first(...waits) {
  try {
    return await Promise.race(waits);
  } finally {
    for (const w of waits) w.cancel?.();
  }
}

/** Rejects with `message(value)` when `wait` resolves (a "this must not happen" wait). */
function mustNot(wait, message) {
  const p = wait.then((v) => { throw new Error(message(v)); });
  p.cancel = () => wait.cancel?.();
  return p;
}

const notRegistered = (d) => d.state === 'failed' || d.state === 'unregistered';

/**
 * Tests 1 and 2: the first REGISTER is accepted, the refresh answered `status`
 * without Retry-After, everything after that accepted.
 */
async function refreshAnsweredRecovers(t, scenario, status) {
  const core = await coreFor(t, { scenario });
  const c = mk(t, core);
  await c.register();
  const firstReg = c.ev.registration.findIndex((d) => d.state === 'registered');
  assert.ok(firstReg >= 0, `registered: ${fmt(c.ev.registration)}`);

  const retrying = await expectEvent(c, 'registration', (d) => d.state === 'retrying', {
    after: firstReg + 1, failIf: notRegistered, what: `registration 'retrying' after the refresh answered ${status}`, core,
  });
  // At the core: the refresh (same Call-ID, not an unregister) got `status`.
  const regs = core.of('REGISTER');
  assert.equal(regs[0].answered, 200);
  assert.equal(regs[1].answered, status, core.summary());
  assert.ok(regs[1].expires !== 0, 'the second REGISTER is a refresh, not an unregister');
  assert.equal(regs[1].callId, regs[0].callId, 'a refresh keeps the Call-ID (RFC 3261 §10.2.4)');
  // In the client: why and when.
  const d = retrying.detail;
  t.diagnostic(`retrying: ${fmt(d)}`);
  assert.ok(typeof d.retryIn === 'number' && d.retryIn > 0, `retryIn: ${fmt(d)}`);
  assert.ok(d.error instanceof ImError, `error is an ImError: ${fmt(d)}`);
  assert.equal(d.error.code, 'rejected');
  assert.equal(d.error.status, status);

  const again = await expectEvent(c, 'registration', (x) => x.state === 'registered', {
    after: retrying.index + 1, failIf: notRegistered, ms: 20_000, what: "registration 'registered' after 'retrying'", core,
  });
  // At the core: the retry is a REGISTER of the same binding, accepted.
  const retry = core.of('REGISTER').slice(2).find((r) => r.answered === 200);
  assert.ok(retry, `a REGISTER after the ${status} was accepted:\n${core.summary()}`);
  assert.ok(retry.expires !== 0);
  assert.equal(retry.callId, regs[0].callId);
  assert.ok(retry.cseq.seq > regs[1].cseq.seq, 'CSeq grows');
  // Nothing but 'retrying' (and perhaps 'registering') between the two 'registered'.
  const between = states(c.ev.registration.slice(firstReg + 1, again.index)).filter((s) => s !== 'registering');
  assert.deepEqual(between, ['retrying']);
  assert.equal(c.registration.state, 'registered');

  // A MESSAGE the core sends now reaches the app.
  const body = `after ${status} ✓ grüße`;
  const got = expectEvent(c, 'message', (m) => m.body === body, { what: 'the MESSAGE from the core' });
  const resp = await core.sendMessage({ body });
  assert.equal(resp.status, 200, 'the client accepted the MESSAGE');
  const m = (await got).detail;
  assert.equal(m.from, 'sip:peer@imsip.test');
  assert.equal(m.body, body);
}

describe('ImClient against a misbehaving core', { concurrency: true }, () => {
  test('1. refresh REGISTER answered 503 (no Retry-After): retrying, registered again, a MESSAGE arrives', async (t) => {
    await refreshAnsweredRecovers(t, 'refresh-503', 503);
  });

  describe('2. refresh REGISTER answered 408 / 500 / 504', { concurrency: true }, () => {
    for (const status of [408, 500, 504]) {
      test(`${status}: retrying, registered again, a MESSAGE arrives`, async (t) => {
        await refreshAnsweredRecovers(t, `refresh-${status}`, status);
      });
    }
  });

  test('3. PUBLISH refresh answered 500 then 200: retrying, published again, retried before the entity expired', async (t) => {
    const core = await coreFor(t, { scenario: 'publish-refresh-500' }); // entity granted 6 s; PUBLISH #2 → 500
    const granted = core.options.publishExpires;
    const c = mk(t, core);
    await c.register();
    const p = await c.publishServiceSettings({ visibility: true });
    const pubs = () => core.of('PUBLISH');
    assert.equal(p.etag, pubs()[0].etag);
    assert.equal(p.expires, granted);

    const lostOrRemoved = (d) => d.state === 'lost' || d.state === 'removed';
    const entityExpired = core.waitFor(() => core.expired.length > 0, 60_000, 'entity expiry');
    const retrying = await first(
      expectEvent(c, 'publication', (d) => d.state === 'retrying', {
        failIf: lostOrRemoved, ms: 30_000, what: "publication 'retrying' after the refresh answered 500", core,
      }),
      mustNot(entityExpired, () => `the entity expired at the core (${granted} s after the 200) with no 'retrying' event; `
        + `publication events: ${fmt(c.ev.publication)}\nthe core saw:\n${core.summary()}`),
    );
    // At the core: the refresh named our entity and got the 500.
    const refresh = pubs()[1];
    assert.equal(refresh.ifMatch, p.etag, 'the refresh carries SIP-If-Match');
    assert.equal(refresh.answered, 500);
    // In the client.
    const d = retrying.detail;
    t.diagnostic(`retrying: ${fmt(d)}`);
    assert.ok(typeof d.retryIn === 'number' && d.retryIn > 0, `retryIn: ${fmt(d)}`);
    assert.ok(d.error instanceof ImError, `error is an ImError: ${fmt(d)}`);
    assert.equal(d.error.code, 'rejected');
    assert.equal(d.error.status, 500);

    const again = await expectEvent(c, 'publication', (x) => x.state === 'published', {
      after: retrying.index + 1, failIf: lostOrRemoved, ms: 30_000, what: "publication 'published' after 'retrying'", core,
    });
    // At the core: the retry reached it while the entity was alive, and was accepted.
    const retry = pubs()[2];
    assert.ok(retry, core.summary());
    assert.equal(retry.ifMatch, p.etag, 'the retry refreshes the same entity');
    assert.equal(retry.entityLive, true, 'the retry arrived before the entity expired at the core');
    assert.equal(retry.answered, 200);
    assert.deepEqual(core.expired, [], 'no entity expired at the core');
    assert.equal(again.detail.etag, retry.etag, 'the event carries the new SIP-ETag');
  });

  test('4. no pongs, outbound not negotiated: the flow is not declared dead (≥ 4 pings on one connection)', async (t) => {
    const core = await coreFor(t, { scenario: 'no-pong' }); // REGISTER 200 without Require: outbound / Flow-Timer
    const c = mk(t, core, { keepAliveInterval: 1 });
    await c.register();
    const conn = core.connections[0];
    await first(
      core.waitFor(() => conn.pings >= 4, 40_000, '4 pings on the first connection'),
      mustNot(expectEvent(c, 'connection', (d) => d.state === 'disconnected', { ms: 41_000 }),
        (r) => `the client declared the flow dead after ${conn.pings} unanswered ping(s) though outbound was not `
          + `negotiated: ${fmt(r.detail)}; registration events: ${fmt(c.ev.registration)}`),
    );
    t.diagnostic(`pings counted at the core: ${conn.pings}`);
    // At the core: one connection, still open, never closed by the client.
    assert.equal(core.opens, 1);
    assert.equal(conn.closedAt, null);
    // In the client: never disconnected, still registered.
    assert.deepEqual(states(c.ev.connection), ['connecting', 'connected']);
    assert.equal(c.registration.state, 'registered');
  });

  test('5. no pongs with Require: outbound + Flow-Timer: the client closes, reconnects and re-registers', async (t) => {
    const core = await coreFor(t, { scenario: 'no-pong-outbound' });
    const c = mk(t, core, { keepAliveInterval: 1 });
    await c.register();
    const down = await expectEvent(c, 'connection', (d) => d.state === 'disconnected', {
      ms: 45_000, what: "connection 'disconnected' (flow declared dead)", core,
    });
    t.diagnostic(`disconnected: ${fmt(down.detail)} after ${core.connections[0].pings} ping(s)`);
    const mark = c.ev.registration.length;
    await expectEvent(c, 'registration', (d) => d.state === 'registered', {
      after: mark, ms: 20_000, failIf: (d) => d.state === 'failed', what: "'registered' after the reconnect", core,
    });
    // At the core: the first connection pinged, was closed by the client, and a
    // second connection registered.
    await core.waitFor(() => core.connections[0].closedAt !== null, 10_000, 'the first connection closed');
    assert.ok(core.connections[0].pings >= 1, 'the client pinged before giving up');
    assert.equal(core.connections[0].closedBy, 'client', 'the client closed the dead flow');
    assert.ok(core.opens >= 2, `a second connection: ${core.summary()}`);
    const reReg = core.of('REGISTER', (r) => r.conn >= 2 && r.answered === 200);
    assert.ok(reReg.length >= 1, `a REGISTER accepted on a new connection:\n${core.summary()}`);
    assert.equal(c.registration.state, 'registered');
  });

  test('8. no MSRP relay, INVITE not implemented: large text falls back to MESSAGE, MSRP calls fail typed', async (t) => {
    const core = await coreFor(t, {});
    const c = mk(t, core, { largeMessageThreshold: 1000 });
    await c.register();
    // Above the threshold: large-message mode is tried first; the relay socket is
    // refused before any SIP, so the body goes as one MESSAGE.
    const body = 'x'.repeat(1500) + ' — the end';
    const sent = await c.sendMessage('sip:bob@imsip.test', body);
    assert.equal(sent.status, 200, fmt(sent));
    const messages = core.of('MESSAGE');
    assert.equal(messages.length, 1, core.summary());
    assert.equal(messages[0].body, body, 'the MESSAGE carries the whole body');
    // Asked for explicitly, MSRP fails with a typed error, and nothing hangs.
    await assert.rejects(c.sendLargeMessage('sip:bob@imsip.test', 'y'.repeat(5000)), (e) => {
      assert.ok(e instanceof ImError, `an ImError: ${e}`);
      assert.equal(e.code, 'transport', fmt(e));
      return true;
    });
    await assert.rejects(c.startChat('sip:bob@imsip.test'), (e) => {
      assert.ok(e instanceof ImError, `an ImError: ${e}`);
      assert.equal(e.code, 'transport', fmt(e));
      return true;
    });
    assert.equal(core.count('INVITE'), 0, 'no INVITE without a relay path');
    assert.equal(c.registration.state, 'registered');
    assert.equal(core.of('MESSAGE').length, 1, 'sendLargeMessage never falls back by itself');
  });

  test('6. the core drops every REGISTER: reconnect delays keep growing up to maxDelay', async (t) => {
    const core = await coreFor(t, { scenario: 'drop-on-register' });
    const c = mk(t, core);
    c.register().catch(() => {}); // fails with `transport`; the client keeps trying by itself
    const N = 6;
    const downs = () => c.ev.connection.filter((d) => d.state === 'disconnected');
    await expectEvent(c, 'connection', (d) => d.state === 'disconnected' && downs().length >= N, {
      ms: 30_000, what: `${N} 'disconnected' events`, core,
    });
    c.close();
    const delays = downs().slice(0, N).map((d) => d.retryIn);
    t.diagnostic(`retryIn: ${delays.join(', ')} s`);
    // At the core: every connection carried a REGISTER, which was never answered:
    // the core closed it.
    assert.ok(core.opens >= N, core.summary());
    for (const conn of core.connections.slice(0, N)) {
      assert.equal(conn.closedBy, 'core', `c${conn.id} dropped by the core`);
      assert.equal(core.count('REGISTER', (r) => r.conn === conn.id), 1, `one REGISTER on c${conn.id}`);
    }
    assert.equal(core.count('REGISTER', (r) => r.answered !== null), 0, 'no REGISTER was ever answered');
    // In the client: delays never reset to minDelay; each at least half of
    // min(minDelay·2^i, maxDelay) (the 50–100 % jitter) and never above maxDelay.
    delays.forEach((v, i) => {
      const base = Math.min(RECONNECT.minDelay * 2 ** i, RECONNECT.maxDelay);
      assert.ok(typeof v === 'number' && v > 0, `retryIn #${i + 1} given: ${v}`);
      assert.ok(v <= RECONNECT.maxDelay + 1e-9, `retryIn #${i + 1} = ${v} s exceeds maxDelay`);
      assert.ok(v >= base / 2 - 1e-9,
        `retryIn #${i + 1} = ${v} s is below ${base / 2} s (half of ${base} s): the backoff went back to minDelay `
        + `although no REGISTER ever succeeded (all: ${delays.join(', ')})`);
    });
  });

  describe('7. a watch terminated by NOTIFY (RFC 6665 §4.1.3)', { concurrency: true }, () => {
    const cases = [
      { state: 'terminated;reason=deactivated', reason: 'deactivated', resubscribe: true },
      { state: 'terminated;reason=timeout', reason: 'timeout', resubscribe: true },
      { state: 'terminated;reason=probation;retry-after=1', reason: 'probation', resubscribe: true, retryAfter: 1 },
      { state: 'terminated;reason=giveup;retry-after=1', reason: 'giveup', resubscribe: true, retryAfter: 1 },
      { state: 'terminated;reason=rejected', reason: 'rejected', resubscribe: false },
      { state: 'terminated;reason=noresource', reason: 'noresource', resubscribe: false },
    ];
    for (const k of cases) {
      const how = !k.resubscribe ? 'the watch ends, no new SUBSCRIBE'
        : k.retryAfter ? `a new SUBSCRIBE after retry-after=${k.retryAfter}` : 'a new SUBSCRIBE at once';
      test(`${k.reason}: resubscribe ${k.resubscribe}; ${how}`, async (t) => {
        const core = await coreFor(t, { notifyStates: [k.state] });
        const c = mk(t, core);
        await c.register();
        await c.watchServiceSettings();
        const term = await expectEvent(c, 'watchterminated', () => true, { ms: 10_000, what: 'watchterminated', core });
        const d = term.detail;
        t.diagnostic(`watchterminated: ${fmt(d)}`);
        // At the core: the terminating NOTIFY was sent in the first dialog and accepted.
        await core.waitFor(() => core.responses.some((r) => r.of?.state === k.state && r.status === 200), 10_000,
          '200 to the terminating NOTIFY');
        const newSubs = () => core.of('SUBSCRIBE', (r) => r.subscription === 'new');
        assert.equal(newSubs().length >= 1, true);
        // A MESSAGE round trip after the client handled the NOTIFY: whatever it sends
        // at once is on the wire before this 200 (one ordered flow).
        const probe = await core.sendMessage({ body: `probe after ${k.reason}` });
        assert.equal(probe.status, 200);
        const subsAtProbe = newSubs().length;

        if (k.resubscribe) {
          if (k.retryAfter) assert.equal(subsAtProbe, 1, `no new SUBSCRIBE before retry-after=${k.retryAfter}`);
          await core.waitFor(() => newSubs().length >= 2, 15_000, 'new SUBSCRIBE (new dialog)');
          // The new subscription works: its NOTIFY reaches the app.
          await core.waitFor(() => core.responses.some((r) => r.of?.method === 'NOTIFY' && r.of.sub === newSubs()[1].sub
            && r.status === 200), 10_000, "200 to the new subscription's NOTIFY");
          await expectEvent(c, 'servicesettings', (s) => s.source === 'notify', {
            after: 1, what: "'servicesettings' from the new subscription", core,
          });
        } else {
          // End the scenario: unwatch (nothing left to end, so it may resolve or
          // refuse) and close; then count at the core.
          await c.unwatchServiceSettings().catch((e) => t.diagnostic(`unwatch: ${e.code}`));
          c.close();
          await core.waitFor(() => core.connections.every((x) => x.closedAt !== null), 10_000, 'every connection closed');
          assert.equal(newSubs().length, 1, `no new SUBSCRIBE after ${k.reason}:\n${core.summary()}`);
          assert.equal(core.count('SUBSCRIBE', (r) => r.expires !== 0), 1, 'one SUBSCRIBE with Expires > 0 in all');
        }
        // In the client's event.
        assert.equal(d.reason, k.reason);
        assert.equal(d.resubscribe, k.resubscribe, `watchterminated.resubscribe: ${fmt(d)}`);
        if (k.retryAfter !== undefined) assert.equal(d.retryAfter, k.retryAfter, `watchterminated.retryAfter: ${fmt(d)}`);
      });
    }
  });
});
