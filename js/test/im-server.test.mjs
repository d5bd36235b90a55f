// The IM Server acting on the settings it stores (issue: "An IM Server that acts on
// the settings it stores"), end to end: the built package (pkg/) against
// imsip-devcore on a free loopback port, restarted once on the same database.
//
//   barring    a user's incoming-session-barring → MESSAGEs to them get 403 + Warning
//   deferred   offline-delivery → 202 while offline, stored in SQLite (survives a
//              restart), delivered in order with the original time when they register
//   history    hist-activation → both directions kept; fetchHistory() reads them back
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/test/im-server.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { removeTempDir } from '../test-lib/tmp.mjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { loadImsip } from '../test-lib/client.mjs';
import { USERS, startDevcore } from '../test-lib/devcore.mjs';
import { freePort, waitForPort } from '../test-lib/net.mjs';

const { ImClient, ImError } = await loadImsip();

let dir;
let port;
let core = null;
let server;
const clients = [];

function startCore() {
  core = startDevcore({
    port,
    db: path.join(dir, 'devcore.sqlite'),
    rustLog: process.env.RUST_LOG ?? 'warn',
    stderr: process.env.IMSIP_E2E_LOG ? 'inherit' : 'ignore',
  });
  return waitForPort(port);
}

async function stopCore() {
  const c = core;
  core = null;
  await c.stop();
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'imsip-im-server-'));
  port = await freePort();
  server = `ws://127.0.0.1:${port}/sip`;
  await startCore();
});

after(async () => {
  for (const c of clients) c.close();
  if (core) await stopCore();
  if (dir) removeTempDir(dir);
});

function client(user, extra = {}) {
  const c = new ImClient({ server, publishPolicy: 'never', webSocket: WebSocket, ...USERS[user], ...extra });
  c.messages = [];
  c.addEventListener('message', (e) => c.messages.push(e.detail));
  clients.push(c);
  return c;
}

/** Resolves once `c` has received `n` messages (or rejects after `ms`). */
function received(c, n, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (c.messages.length >= n) {
        clearTimeout(timer);
        c.removeEventListener('message', check);
        resolve(c.messages);
      }
    };
    const timer = setTimeout(() => reject(new Error(`${c.messages.length} of ${n} messages in ${ms} ms`)), ms);
    c.addEventListener('message', check);
    check();
  });
}

async function settings(c, entity, fields) {
  await c.publishServiceSettings({ entity, ...fields });
}

test('barring: MESSAGEs to a barred user are refused 403 with a Warning; their own go out', async () => {
  const alice = client('alice');
  const bob = client('bob');
  await alice.register();
  await bob.register();
  await settings(alice, USERS.alice.aor, { incomingSessionBarring: true });
  await assert.rejects(bob.sendMessage(USERS.alice.aor, 'let me in'), (e) => {
    assert.ok(e instanceof ImError);
    assert.equal(e.code, 'rejected');
    assert.equal(e.status, 403);
    assert.match(e.reason, /barr/i);
    return true;
  });
  assert.equal(alice.messages.length, 0, 'nothing reached alice');
  // Her own outgoing traffic is unaffected.
  const r = await alice.sendMessage(USERS.bob.aor, 'I can still write');
  assert.equal(r.status, 200);
  assert.equal((await received(bob, 1))[0].body, 'I can still write');
  // Lifting the barring lets messages through again.
  await settings(alice, USERS.alice.aor, { incomingSessionBarring: false });
  await bob.sendMessage(USERS.alice.aor, 'now?');
  assert.equal((await received(alice, 1))[0].body, 'now?');
  alice.close();
  bob.close();
});

test('deferred: stored while offline (202), kept across a restart, delivered in order with the original time', async () => {
  const carol = client('carol');
  await carol.register();
  await settings(carol, USERS.carol.aor, { offlineDelivery: true });
  await carol.unregister();
  carol.close();
  const bob = client('bob');
  await bob.register();
  const before = Date.now();
  const sent = [];
  for (const body of ['first', 'second — ünïcode', 'third']) {
    const r = await bob.sendMessage(USERS.carol.aor, body);
    assert.equal(r.status, 202, 'stored, not delivered');
    sent.push(body);
  }
  bob.close();
  // devcore restarts on the same database: the stored messages survive.
  await stopCore();
  await startCore();
  const carol2 = client('carol');
  await carol2.register();
  const got = await received(carol2, 3);
  assert.deepEqual(got.map((m) => m.body), sent, 'in order');
  for (const m of got) {
    assert.equal(m.deferred, true);
    assert.equal(m.from, USERS.bob.aor);
    const t = Date.parse(m.dateTime);
    assert.ok(Number.isFinite(t), m.dateTime);
    assert.ok(t >= Math.floor(before / 1000) * 1000 - 1000 && t <= Date.now(), `original time ${m.dateTime}`);
  }
  // Delivered once: they were removed after the 2xx.
  carol2.close();
  const carol3 = client('carol');
  await carol3.register();
  await carol3.sendMessage(USERS.carol.aor, 'ping myself');
  const mine = await received(carol3, 1);
  assert.deepEqual(mine.map((m) => m.body), ['ping myself'], 'no second delivery');
  carol3.close();
});

test('without offline delivery a MESSAGE to an unregistered user is 480; to an unknown user 404', async () => {
  const bob = client('bob');
  await bob.register();
  await assert.rejects(bob.sendMessage(USERS.alice.aor, 'anyone?'), (e) => e.code === 'rejected' && e.status === 480);
  await assert.rejects(bob.sendMessage('sip:nobody@imsip.test', 'anyone?'), (e) => e.code === 'rejected' && e.status === 404);
  bob.close();
});

test('history: both directions kept while active; fetchHistory reads them back', async () => {
  const alice = client('alice');
  const bob = client('bob');
  await alice.register();
  await bob.register();
  await settings(alice, USERS.alice.aor, { history: { active: true } });
  await alice.sendMessage(USERS.bob.aor, 'hello bob');
  await bob.sendMessage(USERS.alice.aor, 'hello alice');
  await received(alice, 1);
  const all = await alice.fetchHistory({ with: USERS.bob.aor });
  const mine = all.slice(-2);
  assert.deepEqual(mine.map((m) => [m.direction, m.body]), [['sent', 'hello bob'], ['received', 'hello alice']]);
  for (const m of mine) {
    assert.equal(m.peer, USERS.bob.aor);
    assert.ok(Number.isFinite(Date.parse(m.time)));
    assert.ok(m.id);
  }
  assert.equal((await alice.fetchHistory({ with: USERS.bob.aor, limit: 1 })).length, 1);
  assert.equal((await alice.fetchHistory({ since: Date.now() + 3_600_000 })).length, 0);
  // since: a Date's range (±8.64e15 ms), and not before the epoch.
  assert.equal((await alice.fetchHistory({ since: 8.64e15 })).length, 0);
  for (const since of [1e20, -1, new Date(NaN), Infinity]) {
    await assert.rejects(alice.fetchHistory({ since }), (e) => e.code === 'bad_input' && /^invalid input: query\.since: /.test(e.message), String(since));
  }
  // Bob's history is off: nothing is kept for him.
  assert.deepEqual(await bob.fetchHistory(), []);
  // Switching it off keeps what was kept, and adds nothing.
  await settings(alice, USERS.alice.aor, { history: { active: false } });
  await alice.sendMessage(USERS.bob.aor, 'not kept');
  const after = await alice.fetchHistory({ with: USERS.bob.aor });
  assert.deepEqual(after.map((m) => m.body).slice(-2), ['hello bob', 'hello alice']);
  alice.close();
  bob.close();
});
