// The JS package against the DEPLOYMENT Kamailio 5.6 (deploy/kamailio/): SIP/IP core
// and OMA IM Server in one configuration, state in SQLite, authentication on (401 to
// REGISTER, 407 to every other request from a local user), and the published service
// settings taking effect.
//  0. raw frames (no imsip): 401 → 200 REGISTER; 407 to PUBLISH; a settings document
//     with a PREFIXED namespace and `active=" 1 "` bars incoming MESSAGE and INVITE
//     (403 with `Warning: 399 imsip.test "incoming session barring active"`), also after
//     a refresh; 423 under 60 s; 412 on a stale SIP-If-Match; 415 on a wrong
//     Content-Type; 400 for a document that is not well-formed; Expires: 0 removes and a MESSAGE
//     then reaches the raw client; 404 for an unknown user; 489 for Event: im-history;
//     CRLF keep-alive answered;
//  a. the seed flow with default options: register() resolves and the 'if-absent'
//     policy publishes; a second client of the same user adopts the stored settings;
//  b. barring: alice publishes incomingSessionBarring → bob's MESSAGE to alice rejects
//     with `rejected` / 403 (and the Warning); alice's own MESSAGE to bob still goes;
//  c. deferred: carol publishes offlineDelivery, unregisters and closes; bob's two
//     MESSAGEs get 202; carol's new client receives both, in order, each `deferred`
//     with `dateTime` (the original time, from the Date header Kamailio's msilo adds);
//  d. offline delivery off (published false, or no settings): a MESSAGE to a user who
//     is not registered rejects with 480; an unknown user 404.
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
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
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
// This run's directory: concurrent runs never share files. Directories of runs whose
// process is gone are removed at start, after stopping any Kamailio a killed run left
// behind (by the PID in its own files).
const runDir = path.join(logRoot, `run-${process.pid}`);
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
for (const name of existsSync(logRoot) ? readdirSync(logRoot) : []) {
  const m = /^run-(\d+)$/.exec(name);
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
const SETTINGS_XML = 'application/service-settings+xml';
const NS = 'urn:oma:xml:im:service-settings';

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
  for (const mod of ['websocket', 'db_sqlite', 'xmlops', 'msilo', 'sqlops', 'auth_db']) {
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

/** A deployment Kamailio for test `t` in target/deploy-kamailio/run-<pid>/<slug>/; stopped when `t` ends. */
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

/** Frames the client received whose first line starts with `start`. */
const received = (c, start) => c.ev.trace.filter((f) => f.direction === 'in' && f.text.startsWith(start)).map((f) => f.text);

// ───────────────────────── raw frames ─────────────────────────

const md5 = (s) => createHash('md5').update(s).digest('hex');

/** A Digest challenge's parameters. */
function challengeParams(value) {
  assert.match(value, /^Digest /i);
  return Object.fromEntries([...value.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)].map((m) => [m[1].toLowerCase(), m[2] ?? m[3]]));
}

/** RFC 2617 MD5 qop=auth answer to `challenge` (nc 1, a fresh cnonce), as a header value. */
function digestAnswer(challenge, method, uri, user, password) {
  const p = challengeParams(challenge);
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const ha1 = md5(`${user}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const response = md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", `
    + `response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

/** A header's value in a SIP message (first occurrence), or undefined. */
function header(msg, name) {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(msg.split('\r\n\r\n')[0]);
  return m?.[1];
}

const status = (response) => Number(response.split(' ', 2)[1]);

/**
 * A raw SIP-over-WebSocket client of `user` (password `<user>-secret`): sends
 * requests, answering each challenge once; answers every request it receives with
 * 200 (kept in `incoming`).
 */
async function rawClient(t, url, user) {
  const ws = new WebSocket(url, 'sip');
  const frames = [];
  const incoming = [];
  const waiters = new Set();
  const aor = `sip:${user}@${DOMAIN}`;
  const contact = `<sip:${user}-raw@raw.invalid;transport=ws>`;
  ws.on('message', (data) => {
    const text = data.toString();
    if (/^[A-Z]+ \S+ SIP\/2\.0\r\n/.test(text)) {
      incoming.push(text);
      if (!text.startsWith('ACK ')) {
        const vias = text.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^Via:/i.test(l));
        ws.send(['SIP/2.0 200 OK', ...vias, ...['From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(text, h)}`),
          'Content-Length: 0', '', ''].join('\r\n'));
      }
    } else {
      frames.push(text);
    }
    for (const w of waiters) w();
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  t.after(() => ws.close());
  assert.equal(ws.protocol, 'sip');
  /** The first frame matching `pred` (removed from the queue), within `ms`. */
  const waitFrame = (pred, what, list = frames, ms = 10_000) => new Promise((resolve, reject) => {
    const look = () => {
      const i = list.findIndex(pred);
      if (i < 0) return false;
      waiters.delete(look);
      clearTimeout(timer);
      resolve(list.splice(i, 1)[0]);
      return true;
    };
    const timer = setTimeout(() => { waiters.delete(look); reject(new Error(`no ${what} within ${ms} ms`)); }, ms);
    if (!look()) waiters.add(look);
  });
  const callId = randomBytes(10).toString('hex');
  let cseq = 0;
  /** Sends one request; resolves with its final response (provisional ones skipped). */
  const send = async (method, ruri, { to = ruri, headers = [], body = '', callid = callId } = {}) => {
    cseq += 1;
    const text = [
      `${method} ${ruri} SIP/2.0`,
      `Via: SIP/2.0/WS raw.invalid;branch=z9hG4bK${randomBytes(8).toString('hex')}`,
      'Max-Forwards: 70',
      `From: <${aor}>;tag=raw${user}`,
      `To: <${to}>`,
      `Call-ID: ${callid}`,
      `CSeq: ${cseq} ${method}`,
      ...headers,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    const mine = (f) => f.startsWith('SIP/2.0 ') && !/^SIP\/2\.0 1\d\d /.test(f)
      && header(f, 'Call-ID') === callid && header(f, 'CSeq') === `${cseq} ${method}`;
    const response = waitFrame(mine, `final response to ${method} (CSeq ${cseq})`);
    ws.send(text);
    return response;
  };
  /** `send`, answering a 401/407 once with our credentials. */
  const request = async (method, ruri, opts = {}) => {
    const first = await send(method, ruri, opts);
    const code = status(first);
    if (code !== 401 && code !== 407) return first;
    const [ask, answer] = code === 401 ? ['WWW-Authenticate', 'Authorization'] : ['Proxy-Authenticate', 'Proxy-Authorization'];
    const credentials = digestAnswer(header(first, ask), method, ruri, user, `${user}-secret`);
    return send(method, ruri, { ...opts, headers: [...(opts.headers ?? []), `${answer}: ${credentials}`] });
  };
  const register = () => request('REGISTER', `sip:${DOMAIN}`, {
    to: aor,
    headers: [`Contact: ${contact};+sip.instance="<urn:uuid:${randomUUID()}>"`, 'Expires: 600', 'Allow: MESSAGE, OPTIONS, INVITE, ACK, BYE'],
  });
  return { ws, aor, contact, send, request, register, waitFrame, incoming };
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
  const history = await alice.request('SUBSCRIBE', alice.aor, {
    headers: ['Event: im-history', 'Expires: 0', `Contact: ${alice.contact}`], callid: randomUUID(),
  });
  assert.equal(status(history), 489, history);

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
  const pong = alice.waitFrame((f) => f === '\r\n', 'CRLF pong');
  alice.ws.send('\r\n\r\n');
  await pong;
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
