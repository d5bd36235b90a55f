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
//  - alice switches history off: the rows stay, new MESSAGEs either way add none.
// Its own Kamailio and database in target/deploy-kamailio/history-<node pid>/<test>/ (the
// log and each client's frames, <client>.wire, left there until the next run). No fixed
// sleeps: every wait is for an event, a response or a condition, bounded by a generous
// timeout. Skipped (with the reason) when kamailio, one of its modules or sqlite3 is
// missing.
//
//   bash js/build.sh && node --test js/interop/deploy-history.test.mjs
//   (IMSIP_PKG=/path/to/pkg/imsip.js picks another build)
//
// The helpers below (missing, startKamailio, mk, expectEvent, header, received) are
// copies of js/interop/deploy.test.mjs's, kept here while that file is refactored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCb, execFileSync } from 'node:child_process';
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

const script = path.join(root, 'deploy', 'kamailio', 'kamailio.sh');
const logRoot = path.join(root, 'target', 'deploy-kamailio');
// This run's directory (not deploy.test.mjs's run-<pid>): concurrent runs never share
// files. Directories of runs whose process is gone are removed at start, after stopping
// any Kamailio a killed run left behind (by the PID in its own files).
const runDir = path.join(logRoot, `history-${process.pid}`);
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
for (const name of existsSync(logRoot) ? readdirSync(logRoot) : []) {
  const m = /^history-(\d+)$/.exec(name);
  if (!m || alive(Number(m[1]))) continue;
  const stale = path.join(logRoot, name);
  for (const slug of readdirSync(stale)) {
    try {
      execFileSync('bash', [script, 'stop'],
        { env: { ...process.env, IMSIP_DEPLOY_DIR: path.join(stale, slug) }, stdio: 'ignore' });
    } catch { /* not a Kamailio directory */ }
  }
  rmSync(stale, { recursive: true, force: true });
}
const RECONNECT = { minDelay: 0.2, maxDelay: 1 };
const EVENTS = ['connection', 'registration', 'policy', 'message', 'trace'];
const DOMAIN = 'imsip.test';
const ALICE = `sip:alice@${DOMAIN}`;
const BOB = `sip:bob@${DOMAIN}`;
const CAROL = `sip:carol@${DOMAIN}`;
const HISTORY_XML = 'application/vnd.imsip.im-history+xml';
const TEXT = 'text/plain;charset=UTF-8';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** Why the tests cannot run here, or null: kamailio, the modules the config loads, sqlite3. */
function missing() {
  const bin = process.env.KAMAILIO
    ?? ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio'].find((p) => existsSync(p));
  const apt = 'apt-get install -y kamailio kamailio-websocket-modules kamailio-sqlite-modules kamailio-xml-modules sqlite3';
  if (!bin || !existsSync(bin)) return `kamailio not installed (${apt})`;
  let dirs = [];
  try {
    const info = execFileSync(bin, ['-I'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /Default paths to modules:\s*(\S+)/.exec(info);
    if (m) dirs = m[1].split(':');
  } catch { /* an old binary without -I: fall through */ }
  for (const mod of ['websocket', 'db_sqlite', 'xmlops', 'msilo', 'sqlops', 'auth_db', 'htable']) {
    if (!dirs.some((d) => existsSync(path.join(d, `${mod}.so`)))) {
      return `Kamailio's ${mod} module is missing (${apt}; looked in ${dirs.join(', ') || 'nowhere'})`;
    }
  }
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'the sqlite3 CLI is missing (apt-get install -y sqlite3)';
  }
  return null;
}
const skipReason = missing();

/** A deployment Kamailio for test `t` in target/deploy-kamailio/history-<pid>/<slug>/; stopped when `t` ends. */
async function startKamailio(t, slug) {
  const dir = path.join(runDir, slug);
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, IMSIP_DEPLOY_DIR: dir };
  delete env.IMSIP_DEPLOY_DB;
  delete env.KAMAILIO_DB_URL;
  const run = async (...args) => (await execFile('bash', [script, ...args], { env, encoding: 'utf8' })).stdout;
  const url = /ws:\/\/\S+/.exec(await run('start'))[0];
  t.after(() => run('stop'));
  return { dir, url };
}

/** An ImClient with every event recorded in `c.ev[type]`; its frames go to <dir>/<label>.wire when `t` ends. */
function mk(t, k, label, user, options) {
  const c = new ImClient({
    server: k.url,
    aor: `sip:${user}@${DOMAIN}`,
    password: `${user}-secret`,
    reconnect: RECONNECT,
    webSocket: WebSocket,
    publishPolicy: 'never',
    ...options,
  });
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

/** A header's value in a SIP message (first occurrence), or undefined. */
function header(msg, name) {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(msg.split('\r\n\r\n')[0]);
  return m?.[1];
}

/** Frames the client received whose first line starts with `start`. */
const received = (c, start) => c.ev.trace.filter((f) => f.direction === 'in' && f.text.startsWith(start)).map((f) => f.text);

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
