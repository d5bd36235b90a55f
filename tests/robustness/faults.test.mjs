// Fault injection end to end (issue "Robustness", item 1): the built package (pkg/)
// in Node 20 against imsip-devcore (target/debug), over loopback only.
//
//  * devcore killed with SIGKILL and restarted on the same port with the same --db
//    during a registration, a PUBLISH in flight, a MESSAGE in flight (relayed to a
//    peer that never answers) and an idle registered period: every pending promise
//    settles exactly once, `disconnected` is emitted, the client reconnects with
//    backoff (0.2–1 s) and re-registers by itself, its publication is restored,
//    and no MESSAGE the app sent is silently lost or delivered twice;
//  * a WebSocket server that never answers: register() rejects with `timeout`
//    (Timer F, shortened to 2 s with requestTimeout);
//  * keep-alive pongs stop (a TCP proxy that freezes the flow): with
//    keepAliveInterval 1 the flow (outbound negotiated with devcore, so pongs are
//    required: RFC 5626 §4.4.1) is declared dead (pings out, no pong in), then the
//    client reconnects and re-registers;
//  * a request over 64 KiB from a fake server: answered 513, a `dropped` event, the connection lives.
//
// The three last run alongside the killed-core sequence (each has its own server).
//
//   node --test tests/robustness/faults.test.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { removeTempDir } from '../../js/test-lib/tmp.mjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  WebSocket, WebSocketServer, loadImsip, freePort, waitForPort, startDevcore, startProxy,
  writeUsers, withTimeout,
} from './lib.mjs';

const { ImClient, ImError, parseMessage } = await loadImsip();

const dir = mkdtempSync(path.join(tmpdir(), 'imsip-robust-faults-'));
const usersFile = path.join(dir, 'users.toml');
writeUsers(usersFile, 20);
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
  removeTempDir(dir);
});

const user = (i) => `user${String(i).padStart(4, '0')}`;
const aorOf = (i) => `sip:${user(i)}@imsip.test`;
const RECONNECT = { minDelay: 0.2, maxDelay: 1 };

/** Every sendMessage of every client, for the final "none lost, none twice" check. */
const allSent = [];
/** Every message received, by body. */
const received = new Map();
/** Every client, by AoR. */
const clients = new Map();

/** An ImClient for userNNNN with every event recorded and tracked operations. */
function mk(i, server, extra = {}) {
  const c = new ImClient({
    server, aor: aorOf(i), password: `pw-${user(i)}`, publishPolicy: 'never',
    reconnect: RECONNECT, webSocket: WebSocket, ...extra,
  });
  c.name = user(i);
  clients.set(aorOf(i), c);
  c.ev = {};
  for (const t of ['connection', 'registration', 'message', 'trace', 'dropped', 'policy', 'servicesettings']) {
    c.ev[t] = [];
    c.addEventListener(t, (e) => { c.ev[t].push({ ...e.detail, t: Date.now() }); changed(); });
  }
  c.addEventListener('message', (e) => { received.set(e.detail.body, (received.get(e.detail.body) ?? 0) + 1); changed(); });
  /** Tracks `p`: resolves with { outcome: 'resolved' | error code, value | error, settles }. */
  c.track = (what, p) => {
    const rec = { what, settles: 0, outcome: undefined };
    rec.done = p.then(
      (value) => { rec.settles++; rec.outcome = 'resolved'; rec.value = value; changed(); return rec; },
      (error) => {
        rec.settles++;
        rec.error = error;
        rec.outcome = error instanceof ImError ? error.code : `not an ImError: ${error}`;
        changed();
        return rec;
      },
    );
    return rec;
  };
  c.send = (to, body) => {
    const rec = c.track(`MESSAGE ${c.name}→${to} ${body}`, c.sendMessage(to, body));
    rec.body = body;
    rec.to = to;
    rec.from = c;
    allSent.push(rec);
    return rec;
  };
  cleanup.push(() => c.close());
  return c;
}

/**
 * Waiting without sleeping: every recorded event, settled operation and frame held
 * by a frozen proxy calls `changed()`, which re-checks the predicates of the pending
 * `until`s. No outcome depends on how long anything takes; `ms` only bounds a wait
 * for something that never comes.
 */
const waiters = new Set();
function changed() {
  for (const check of [...waiters]) check();
}

/** Resolves once `pred()` is true (checked now and on every change); fails after `ms`. */
function until(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    function check() {
      let ok;
      try {
        ok = pred();
      } catch (e) {
        ok = e;
      }
      if (!ok) return;
      waiters.delete(check);
      clearTimeout(timer);
      if (ok instanceof Error) reject(ok); else resolve();
    }
    waiters.add(check);
    check();
  });
}

/** The connection states of `c` since `mark`. */
const statesSince = (c, mark) => c.ev.connection.slice(mark.connection).map((d) => d.state);

/**
 * Resolves once, after the loss at `mark`, a reconnect attempt has failed: the core
 * is down and the client knows it (`disconnected`, `connecting`, `disconnected`).
 */
function attemptFailed(c, mark, ms = 10_000) {
  return until(() => {
    const s = statesSince(c, mark);
    const down = s.indexOf('disconnected');
    const retry = s.indexOf('connecting', down + 1);
    return down >= 0 && retry > down && s.indexOf('disconnected', retry + 1) > retry;
  }, ms, `${c.name}: a reconnect attempt meeting the closed port`);
}

/** Kills `core` (SIGKILL) as soon as `c` traces out a frame starting with `start`. */
function killOnTraceOut(c, start, core, delayMs = 0) {
  return new Promise((resolve) => {
    const on = (e) => {
      if (e.detail.direction !== 'out' || !e.detail.text.startsWith(start)) return;
      c.removeEventListener('trace', on);
      const go = () => core.kill9().then(resolve);
      if (delayMs) setTimeout(go, delayMs); else go();
    };
    c.addEventListener('trace', on);
  });
}

/**
 * After a kill at index marks `mark` (lengths of the event arrays): `disconnected`
 * with a retryIn in (0, maxDelay], a reconnect attempt, `connected`, and
 * `registered` again, all by the client alone.
 */
async function assertRecovered(c, mark, ms = 20_000) {
  await until(() => c.ev.registration.slice(mark.registration).some((d) => d.state === 'registered'), ms,
    `${c.name} re-registered`).catch((e) => {
    const brief = (f) => `${f.direction} ${f.text.split('\r\n')[0] || JSON.stringify(f.text)}`;
    e.message += `\n connection: ${JSON.stringify(c.ev.connection.slice(mark.connection))}` +
      `\n registration: ${JSON.stringify(c.ev.registration.slice(mark.registration).map((d) => [d.state, d.error?.code]))}` +
      `\n trace since the fault: ${c.ev.trace.slice(mark.trace).map(brief).join(' | ')}`;
    const last = c.ev.connection.at(-1);
    if (last?.state === 'disconnected' && Date.now() - last.t > last.retryIn * 1000 + 2000) {
      e.message += `\n no reconnect attempt ${Date.now() - last.t} ms after retryIn ${last.retryIn} s: ` +
        'the client lost its timer (see timers.test.mjs)';
    }
    throw e;
  });
  const conn = c.ev.connection.slice(mark.connection);
  const states = conn.map((d) => d.state);
  assert.ok(states.includes('disconnected'), `${c.name}: disconnected emitted (${states})`);
  for (const d of conn.filter((x) => x.state === 'disconnected')) {
    assert.ok(d.retryIn > 0 && d.retryIn <= RECONNECT.maxDelay + 1e-9, `${c.name}: retryIn ${d.retryIn} within backoff`);
  }
  const firstDown = states.indexOf('disconnected');
  assert.ok(states.indexOf('connecting', firstDown) > firstDown, `${c.name}: reconnect attempted (${states})`);
  assert.equal(states.at(-1), 'connected', `${c.name}: connected at the end (${states})`);
  assert.equal(c.registration.state, 'registered');
  return conn;
}

/** Waits for `disconnected` after `mark`. */
const disconnected = (c, mark) => until(() => c.ev.connection.slice(mark.connection).some((d) => d.state === 'disconnected'),
  10_000, `${c.name} disconnected`);

const markOf = (c) => Object.fromEntries(Object.entries(c.ev).map(([k, v]) => [k, v.length]));

/** The 2xx to the first PUBLISH traced out after `mark` (the client's restoring refresh). */
async function publishRestored(c, mark, ms = 10_000) {
  await until(() => {
    const tr = c.ev.trace.slice(mark.trace);
    const i = tr.findIndex((f) => f.direction === 'out' && f.text.startsWith('PUBLISH '));
    return i >= 0 && tr.slice(i + 1).some((f) => f.direction === 'in' && /^SIP\/2\.0 2\d\d [^\r]*\r\n[\s\S]*CSeq: *\d+ PUBLISH/i.test(f.text));
  }, ms, `${c.name}: PUBLISH after recovery answered 2xx`);
}

const pick = (s) => s && { visibility: s.visibility, offlineDelivery: s.offlineDelivery, sessionMode: s.sessionMode };

describe('robustness: faults', { concurrency: true }, () => {
  describe('devcore killed (SIGKILL) and restarted on the same port and database', { concurrency: 1 }, () => {
    let port;
    let db;
    let core;
    let server;
    const restart = async () => {
      core = startDevcore({ port, db, users: usersFile });
      cleanup.push(() => core.kill9());
      await waitForPort(port);
    };
    before(async () => {
      port = await freePort();
      db = path.join(dir, 'kill.sqlite');
      server = `ws://127.0.0.1:${port}/sip`;
      await restart();
    });

    test('during registration (right after the first REGISTER is traced out)', async (t) => {
      const a = mk(0, server);
      const mark = markOf(a);
      const killed = killOnTraceOut(a, 'REGISTER ', core);
      const reg = a.track('register', a.register());
      await withTimeout(killed, 10_000, 'kill');
      await disconnected(a, mark);
      const r = await withTimeout(reg.done, 10_000, 'register()');
      t.diagnostic(`register(): ${r.outcome}`);
      assert.ok(['transport', 'resolved'].includes(r.outcome), `register() settled: ${r.outcome}`);
      await attemptFailed(a, mark);
      await restart();
      const conn = await assertRecovered(a, mark);
      assert.ok(conn.filter((d) => d.state === 'connecting').length >= 2, 'retried with backoff while the core was down');
      assert.equal(reg.settles, 1);
      // Publishing works after recovery and the core has it.
      await a.publishServiceSettings({ visibility: true, offlineDelivery: false });
      assert.deepEqual(pick(await a.fetchServiceSettings()), { visibility: true, offlineDelivery: false, sessionMode: undefined });
    });

    test('during a PUBLISH in flight', async (t) => {
      const a = mk(2, server);
      await a.register();
      const s1 = { visibility: true, offlineDelivery: true };
      const s2 = { visibility: false, offlineDelivery: true, sessionMode: 'pager' };
      await a.publishServiceSettings(s1);
      const mark = markOf(a);
      const killed = killOnTraceOut(a, 'PUBLISH ', core);
      const pub = a.track('publish', a.publishServiceSettings(s2));
      await withTimeout(killed, 10_000, 'kill');
      const r = await withTimeout(pub.done, 10_000, 'publishServiceSettings()');
      t.diagnostic(`publishServiceSettings(): ${r.outcome}`);
      assert.ok(['transport', 'resolved'].includes(r.outcome), `publish settled: ${r.outcome}`);
      await disconnected(a, mark);
      await restart();
      await assertRecovered(a, mark);
      await publishRestored(a, mark);
      const got = pick(await a.fetchServiceSettings());
      const want = r.outcome === 'resolved' ? [pick(s2)] : [pick(s1), pick(s2)];
      assert.ok(want.some((w) => JSON.stringify(w) === JSON.stringify(got)),
        `fetched ${JSON.stringify(got)} is what was published (${r.outcome})`);
      // And a new modification goes through.
      const s3 = { visibility: true, offlineDelivery: false, sessionMode: 'large' };
      await a.publishServiceSettings(s3);
      assert.deepEqual(pick(await a.fetchServiceSettings()), pick(s3));
      assert.equal(pub.settles, 1);
    });

    test('during a MESSAGE in flight (relayed to a peer that never answers), plus messages sent while down', async (t) => {
      const proxy = await startProxy(port, { onChange: changed });
      cleanup.push(() => proxy.close());
      const a = mk(4, server);
      const b = mk(5, `ws://127.0.0.1:${proxy.port}/sip`, { keepAliveInterval: 0 });
      const c = mk(6, server);
      await Promise.all([a.register(), b.register(), c.register()]);
      a.publishServiceSettings({ visibility: true, offlineDelivery: true });
      await until(() => a.ev.trace.some((f) => f.direction === 'in' && /CSeq: *\d+ PUBLISH/.test(f.text)), 5000, 'publish');
      proxy.freeze(); // b is registered but will never answer: devcore's relay waits
      const mark = markOf(a);
      const markC = markOf(c);
      const before = [1, 2, 3].map((n) => a.send(aorOf(6), `fault-msg before #${n} ✓ ünï`));
      const stuck = a.send(aorOf(5), 'fault-msg to the frozen peer 👋');
      // Kill while the relay to b waits: devcore forwarded the MESSAGE (the frozen
      // proxy holds it on its way to b).
      await until(() => proxy.held('core').includes('to the frozen peer'), 10_000, 'the MESSAGE relayed towards b');
      await core.kill9();
      await disconnected(a, mark);
      const s = await withTimeout(stuck.done, 10_000, 'sendMessage() to the frozen peer');
      assert.equal(s.outcome, 'transport', 'the relayed MESSAGE rejects with transport when the core dies');
      for (const m of before) {
        const o = await withTimeout(m.done, 10_000, m.what);
        assert.ok(['resolved', 'transport'].includes(o.outcome), `${m.what}: ${o.outcome}`);
      }
      // Sent while the core is down: queued or refused, but settled.
      const during = [1, 2].map((n) => a.send(aorOf(6), `fault-msg during outage #${n} 日本語`));
      await attemptFailed(a, mark);
      await restart();
      await assertRecovered(a, mark);
      await assertRecovered(c, markC);
      await publishRestored(a, mark);
      for (const m of during) {
        const o = await withTimeout(m.done, 40_000, m.what);
        t.diagnostic(`sent during the outage: ${o.outcome}`);
        assert.ok(['resolved', 'transport', 'timeout', 'rejected'].includes(o.outcome), `${m.what}: ${o.outcome}`);
      }
      const after = [1, 2, 3].map((n) => a.send(aorOf(6), `fault-msg after #${n} ✓`));
      for (const m of after) assert.equal((await withTimeout(m.done, 10_000, m.what)).outcome, 'resolved');
      t.diagnostic(`before the kill: ${before.map((m) => m.outcome).join(', ')}`);
      assert.deepEqual(pick(await a.fetchServiceSettings()), { visibility: true, offlineDelivery: true, sessionMode: undefined });
      proxy.thaw();
      b.close();
    });

    test('during an idle registered period', async () => {
      const a = mk(7, server);
      const c = mk(8, server);
      await Promise.all([a.register(), c.register()]);
      const s = { visibility: false, offlineDelivery: true, sessionMode: 'idle' };
      // Idle: both registered and the PUBLISH answered, nothing in flight.
      await a.publishServiceSettings(s);
      const mark = markOf(a);
      const markC = markOf(c);
      await core.kill9();
      await disconnected(a, mark);
      await attemptFailed(a, mark);
      await restart();
      await assertRecovered(a, mark);
      await assertRecovered(c, markC);
      await publishRestored(a, mark);
      const down = a.ev.registration.slice(mark.registration).find((d) => d.state !== 'registered');
      assert.ok(down && down.error instanceof ImError && down.error.code === 'transport', 'the registration event says why');
      assert.deepEqual(pick(await a.fetchServiceSettings()), pick(s));
      const m = a.send(aorOf(8), 'fault-msg after idle kill ✓');
      assert.equal((await withTimeout(m.done, 10_000, m.what)).outcome, 'resolved');
    });

    test('every MESSAGE the app sent settled exactly once; every resolved one arrived once, none twice', async () => {
      assert.ok(allSent.length > 0);
      for (const m of allSent) await withTimeout(m.done, 40_000, m.what);
      // A barrier, not a wait: once every MESSAGE has settled, each sender sends its
      // recipient one more through the core. A duplicate the core still had for that
      // recipient would reach it first, on the same connection.
      const paths = new Map(allSent.filter((m) => m.to !== aorOf(5)).map((m) => [m.to, m.from]));
      for (const [to, from] of paths) {
        // The last restart dropped every flow: both ends registered again first.
        await until(() => [from, clients.get(to)].every((x) => x.registration.state === 'registered'), 20_000,
          `${from.name} and ${to} registered again`);
        const marker = `fault-msg barrier ${from.name}→${to}`;
        await withTimeout(from.sendMessage(to, marker), 10_000, marker);
        await until(() => received.has(marker), 10_000, `${marker} delivered`);
      }
      for (const m of allSent) {
        assert.equal(m.settles, 1, m.what);
        if (m.outcome === 'resolved' && m.to !== aorOf(5)) assert.equal(received.get(m.body), 1, `${m.what} delivered once`);
      }
      for (const [body, n] of received) assert.equal(n, 1, `received ${n} times: ${body}`);
    });
  });

  test('a server that accepts the WebSocket and never answers: register() rejects with timeout (Timer F, requestTimeout 2)', async (t) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (ps) => (ps.has('sip') ? 'sip' : false) });
    await new Promise((r) => wss.once('listening', r));
    cleanup.push(() => new Promise((r) => { for (const s of wss.clients) s.terminate(); wss.close(() => r()); }));
    const frames = [];
    wss.on('connection', (s) => s.on('message', (d) => frames.push(String(d))));
    // requestTimeout 2: Timer F's 32 s shortened, the same code path (RFC 3261 §17.1.2.2).
    const c = mk(9, `ws://127.0.0.1:${wss.address().port}/sip`, { requestTimeout: 2 });
    const t0 = Date.now();
    const reg = c.track('register', c.register());
    const r = await withTimeout(reg.done, 30_000, 'register() against a silent server (the transaction timer lost? see timers.test.mjs)');
    t.diagnostic(`register() rejected after ${Date.now() - t0} ms`);
    assert.equal(r.outcome, 'timeout');
    assert.ok(r.error instanceof ImError && r.error instanceof Error);
    assert.ok(frames.some((f) => f.startsWith('REGISTER ')), 'the REGISTER reached the server');
    // No answer is worth retrying (RFC 5626 §4.5): the client says so and goes on.
    const last = c.ev.registration.at(-1);
    assert.equal(last.state, 'retrying');
    assert.equal(last.error.code, 'timeout');
    assert.ok(last.retryIn > 0);
    assert.equal(reg.settles, 1);
    c.close();
  });

  test('a server that accepts TCP and never answers the WebSocket upgrade: each connect is given up after connectTimeout and retried', async () => {
    const held = [];
    const server = net.createServer((s) => { held.push(s); changed(); }); // reads nothing, answers nothing
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => { for (const s of held) s.destroy(); server.close(() => r()); }));
    const c = mk(11, `ws://127.0.0.1:${server.address().port}/sip`, { connectTimeout: 1 });
    const reg = c.track('register', c.register());
    // Without the deadline the first attempt would hang for as long as the socket
    // stays open; with it: connecting → given up → disconnected with a retry → again.
    await until(() => held.length >= 2 && c.ev.connection.filter((e) => e.state === 'disconnected').length >= 2,
      20_000, 'two abandoned connect attempts');
    const states = c.ev.connection.map((e) => e.state);
    assert.deepEqual(states.slice(0, 4), ['connecting', 'disconnected', 'connecting', 'disconnected'], states.join());
    assert.ok(c.ev.connection.filter((e) => e.state === 'disconnected').every((e) => e.retryIn > 0), 'each is retried');
    // Like any loss, the first abandoned connect fails what was pending, once; the
    // registration goes on retrying by itself.
    const r = await withTimeout(reg.done, 5_000, 'register()');
    assert.equal(r.outcome, 'transport');
    assert.equal(r.settles, 1);
    assert.equal(c.ev.registration.at(-1).state, 'retrying');
    c.close();
  });

  test('keep-alive pongs stop (frozen TCP proxy): the flow is declared dead, then recovery', async (t) => {
    const port = await freePort();
    const core = startDevcore({ port, db: path.join(dir, 'ka.sqlite'), users: usersFile });
    cleanup.push(() => core.kill9());
    await waitForPort(port);
    const proxy = await startProxy(port, { onChange: changed });
    cleanup.push(() => proxy.close());
    const c = mk(10, `ws://127.0.0.1:${proxy.port}/sip`, { keepAliveInterval: 1 });
    await c.register();
    await c.publishServiceSettings({ visibility: true, offlineDelivery: false });
    const keepAlive = (f) => /^(\r\n)+$/.test(f.text);
    const pings = (frames) => frames.filter((f) => f.direction === 'out' && keepAlive(f)).length;
    const pongs = (frames) => frames.filter((f) => f.direction === 'in' && keepAlive(f)).length;
    await until(() => pongs(c.ev.trace) >= 1, 20_000, 'a keep-alive ping answered before the freeze');
    const mark = markOf(c);
    const t0 = Date.now();
    proxy.freeze(); // current flow only; new connections pass
    await until(() => statesSince(c, mark).includes('disconnected'), 40_000, 'the frozen flow declared dead');
    // When (keepAliveInterval + the 10 s pong timeout, RFC 5626 §4.4.1) is tests/flow.rs's
    // to check, on a manual clock; here: why. Pings went out after the freeze and the
    // proxy holds them: none reached the core, so no pong could come.
    t.diagnostic(`flow declared dead ${Date.now() - t0} ms after the freeze`);
    assert.ok(pings(c.ev.trace.slice(mark.trace)) >= 1, 'pings sent on the frozen flow');
    // (Masked WebSocket frames, RFC 6455 §5.3: their bytes, not their text.)
    assert.ok(proxy.held('client').length > 0, 'the proxy holds the unanswered pings');
    await assertRecovered(c, mark);
    await publishRestored(c, mark);
    proxy.thaw();
    assert.deepEqual(pick(await c.fetchServiceSettings()), { visibility: true, offlineDelivery: false, sessionMode: undefined });
    c.close();
  });

  test('a request over 64 KiB from the server: answered 513, a dropped event, the connection survives', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (ps) => (ps.has('sip') ? 'sip' : false) });
    await new Promise((r) => wss.once('listening', r));
    cleanup.push(() => new Promise((r) => { for (const s of wss.clients) s.terminate(); wss.close(() => r()); }));
    let sock;
    let closed = false;
    const answers = [];
    wss.on('connection', (s) => {
      sock = s;
      s.on('close', () => { closed = true; });
      s.on('message', (d) => {
        const text = String(d);
        if (!text.startsWith('REGISTER ')) { answers.push(text); changed(); return; }
        const req = parseMessage(text);
        const h = (n) => req.headers.filter(([k]) => k.toLowerCase() === n.toLowerCase()).map(([, v]) => v);
        // First an oversize (70 KiB body) but otherwise well-formed MESSAGE …
        const big = 'é'.repeat(35 * 1024);
        s.send(['MESSAGE sip:x@imsip.test SIP/2.0', 'Via: SIP/2.0/WS fake.invalid;branch=z9hG4bKbig1', 'Max-Forwards: 70',
          'From: <sip:srv@imsip.test>;tag=b1', 'To: <sip:x@imsip.test>', 'Call-ID: big-1', 'CSeq: 1 MESSAGE',
          'Content-Type: text/plain;charset=UTF-8', `Content-Length: ${Buffer.byteLength(big)}`, '', big].join('\r\n'));
        // … then the 200 to the REGISTER.
        const contact = h('Contact')[0].replace(/;expires=\d+/i, '');
        s.send(['SIP/2.0 200 OK', ...h('Via').map((v) => `Via: ${v}`), `From: ${h('From')[0]}`, `To: ${h('To')[0]};tag=srv`,
          `Call-ID: ${req.callId}`, `CSeq: ${req.cseq.seq} REGISTER`, `Contact: ${contact};expires=600`, 'Content-Length: 0', '', ''].join('\r\n'));
      });
    });
    const c = new ImClient({ server: `ws://127.0.0.1:${wss.address().port}/sip`, aor: aorOf(11), publishPolicy: 'never', webSocket: WebSocket });
    cleanup.push(() => c.close());
    const dropped = [];
    const conn = [];
    const got = [];
    c.addEventListener('dropped', (e) => dropped.push(e.detail));
    c.addEventListener('connection', (e) => conn.push(e.detail.state));
    c.addEventListener('message', (e) => { got.push(e.detail.body); changed(); });
    const reg = await withTimeout(c.register(), 10_000, 'register() after an oversize frame');
    assert.ok(reg.expires > 0);
    assert.equal(dropped.length, 1, JSON.stringify(dropped));
    assert.match(dropped[0].reason, /exceeds|limit|large/i);
    // The flow still carries traffic both ways.
    const body = 'small after big ✓';
    sock.send(['MESSAGE sip:x@imsip.test SIP/2.0', 'Via: SIP/2.0/WS fake.invalid;branch=z9hG4bKsmall1', 'Max-Forwards: 70',
      'From: <sip:srv@imsip.test>;tag=s1', `To: <${aorOf(11)}>`, 'Call-ID: small-1', 'CSeq: 1 MESSAGE',
      'Content-Type: text/plain;charset=UTF-8', `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
    await until(() => got.length === 1 && answers.some((a) => /^SIP\/2\.0 200 [^\r]*\r\n[\s\S]*Call-ID: small-1/.test(a)), 5000, 'MESSAGE answered');
    assert.deepEqual(got, [body]);
    // The big one was answered (RFC 3261 §21.5.14) before the small one, on the same socket.
    assert.ok(answers.some((a) => /^SIP\/2\.0 513 Message Too Large\r\n[\s\S]*Call-ID: big-1\r\n/.test(a)), answers.join('\n---\n'));
    assert.deepEqual(conn, ['connecting', 'connected']);
    assert.equal(closed, false);
    assert.equal(sock.readyState, WebSocket.OPEN);
    c.close();
  });
});
