// End to end in Node 20: the built package (pkg/, the `web` build; IMSIP_PKG may point
// at another entry) against the dev SIP core (imsip-devcore, started here on a free
// loopback port with a fresh database), with the `ws` package injected as WebSocket.
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/test/*.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { removeTempDir } from '../test-lib/tmp.mjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { loadImsip, next } from '../test-lib/client.mjs';
import { USERS, startDevcore } from '../test-lib/devcore.mjs';
import { freePort, waitForPort } from '../test-lib/net.mjs';

const { ImClient, ImError } = await loadImsip();

let core;
let dir;
let server;
const clients = [];

before(async () => {
  const port = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'imsip-js-e2e-'));
  core = startDevcore({
    port,
    db: path.join(dir, 'devcore.sqlite'),
    rustLog: process.env.RUST_LOG ?? 'warn',
    stderr: process.env.IMSIP_E2E_LOG ? 'inherit' : 'ignore',
  });
  server = `ws://127.0.0.1:${port}/sip`;
  await waitForPort(port);
});

after(async () => {
  for (const c of clients) c.close();
  if (core) await core.stop();
  if (dir) removeTempDir(dir);
});

/** A client with every event recorded in `events[type]`. */
function client(user, extra = {}) {
  const c = new ImClient({ server, publishPolicy: 'never', webSocket: WebSocket, ...USERS[user], ...extra });
  c.events = {};
  for (const t of ['connection', 'registration', 'message', 'servicesettings', 'trace', 'policy', 'dropped']) {
    c.events[t] = [];
    c.addEventListener(t, (e) => c.events[t].push(e.detail));
  }
  clients.push(c);
  return c;
}

test('alice registers with digest; every frame is traced, the password never', async () => {
  const alice = client('alice', { displayName: 'Alice', userAgent: 'imsip-e2e/1' });
  const reg = await alice.register();
  assert.ok(reg.expires > 0, 'granted expiry');
  assert.ok(reg.contacts.length >= 1, 'our contact is bound');
  assert.ok(Array.isArray(reg.serviceRoute) && Array.isArray(reg.associatedUris));
  assert.deepEqual(alice.events.connection.map((d) => d.state), ['connecting', 'connected']);
  assert.equal(alice.events.registration.at(-1).state, 'registered');
  assert.equal(alice.registration.state, 'registered');
  const out = alice.events.trace.filter((t) => t.direction === 'out');
  const inn = alice.events.trace.filter((t) => t.direction === 'in');
  assert.match(out[0].text, /^REGISTER sip:imsip\.test SIP\/2\.0\r\n/);
  assert.match(out[0].text, /User-Agent: IM-client\/OMA1\.0 imsip\/[^ ]+ imsip-e2e\/1/);
  assert.match(inn[0].text, /^SIP\/2\.0 401 /);
  assert.match(inn.at(-1).text, /^SIP\/2\.0 200 /);
  for (const t of alice.events.trace) {
    assert.ok(!t.text.includes('alice-secret'), 'no password on the wire');
    assert.equal(typeof t.at, 'number');
  }
  await alice.unregister();
  assert.equal(alice.events.registration.at(-1).state, 'unregistered');
  alice.close();
});

test('a wrong password rejects with auth_failed', async () => {
  const mallory = client('alice', { password: 'not-the-password' });
  await assert.rejects(mallory.register(), (e) => {
    assert.ok(e instanceof ImError && e instanceof Error);
    assert.equal(e.code, 'auth_failed');
    assert.ok(!e.message.includes('not-the-password'));
    return true;
  });
  const last = mallory.events.registration.at(-1);
  assert.equal(last.state, 'failed');
  assert.ok(last.error instanceof ImError);
  assert.equal(last.error.code, 'auth_failed');
  mallory.close();
});

test('service settings: publish, fetch, modify keeping unknown content, watch, remove', async () => {
  const alice = client('alice');
  await alice.register();
  const published = await alice.publishServiceSettings(
    { visibility: true, offlineDelivery: true, history: { active: true, type: 1 } },
    { expires: 600 },
  );
  assert.equal(typeof published.etag, 'string');
  assert.ok(published.expires > 0 && published.expires <= 600);

  const fetched = await alice.fetchServiceSettings();
  assert.equal(fetched.entity, 'sip:alice@imsip.test');
  assert.equal(fetched.visibility, true);
  assert.equal(fetched.offlineDelivery, true);
  assert.deepEqual(fetched.history, { active: true, type: 1 });
  assert.equal(typeof fetched.extensions.xml, 'string');

  // A second client of alice watches; alice modifies (read-modify-write with an
  // element the typed fields do not know): the watcher sees the change.
  const watcher = client('alice');
  await watcher.register();
  const watched = await watcher.watchServiceSettings();
  assert.ok(watched.expires > 0);
  const xml = fetched.extensions.xml.replace('</entity>', '<x:note xmlns:x="urn:example:x">keep</x:note></entity>');
  const change = next(watcher, 'servicesettings', (d) => d.settings.visibility === false);
  const modified = await alice.publishServiceSettings({ ...fetched, visibility: false, extensions: { xml } });
  assert.notEqual(modified.etag, published.etag);
  const seen = await change;
  assert.equal(seen.source, 'notify');
  assert.equal(seen.settings.offlineDelivery, true, 'untouched fields kept');
  assert.match(seen.settings.extensions.xml, /<x:note xmlns:x="urn:example:x">keep<\/x:note>/);

  await alice.removeServiceSettings();
  assert.equal(await alice.fetchServiceSettings(), null);
  assert.equal(await watcher.unwatchServiceSettings(), undefined, "Promise<void> (imsip.d.ts)");
  await Promise.all([alice.unregister(), watcher.unregister()]);
  alice.close();
  watcher.close();
});

test('MESSAGE both ways between alice and bob, UTF-8 bodies', async () => {
  const alice = client('alice', { displayName: 'Alice' });
  const bob = client('bob', { displayName: 'Bob' });
  await Promise.all([alice.register(), bob.register()]);

  const toBob = next(bob, 'message');
  const sent = await alice.sendMessage('sip:bob@imsip.test', 'héllo Bob — ✓ 👋');
  assert.ok(sent.status >= 200 && sent.status < 300, `${sent.status} ${sent.reason}`);
  const got = await toBob;
  assert.equal(got.body, 'héllo Bob — ✓ 👋');
  assert.equal(got.from, 'sip:alice@imsip.test');
  assert.match(got.contentType, /^text\/plain/);

  const toAlice = next(alice, 'message');
  await bob.sendMessage('sip:alice@imsip.test', new TextEncoder().encode('grüße zurück'), {
    contentType: 'text/plain;charset=UTF-8',
  });
  const back = await toAlice;
  assert.equal(back.body, 'grüße zurück');
  assert.equal(back.from, 'sip:bob@imsip.test');

  // A binary body (not UTF-8) goes byte-exact in a binary frame both ways (RFC 7118 §4.2),
  // and comes out as a Uint8Array; a UTF-8 body of any type stays a string.
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x80]);
  const gotBinary = next(bob, 'message', (d) => d.contentType === 'application/octet-stream');
  assert.equal((await alice.sendMessage('sip:bob@imsip.test', bytes, { contentType: 'application/octet-stream' })).status, 200);
  const binary = await gotBinary;
  assert.ok(binary.body instanceof Uint8Array, typeof binary.body);
  assert.deepEqual([...binary.body], [...bytes]);
  assert.ok(alice.events.trace.some((f) => f.direction === 'out' && f.text.startsWith('MESSAGE ') && f.text.endsWith('(8 bytes of binary body)')));
  const gotJson = next(bob, 'message', (d) => d.contentType === 'application/json');
  await alice.sendMessage('sip:bob@imsip.test', new TextEncoder().encode('{"a":"ü"}'), { contentType: 'application/json' });
  assert.equal((await gotJson).body, '{"a":"ü"}');

  // The app's own header fields, JsSIP's `extraHeaders` form, through the core to the peer.
  const tagged = next(bob, 'message', (d) => d.body === 'with headers');
  await alice.sendMessage('sip:bob@imsip.test', 'with headers', { extraHeaders: ['X-Conversation: c-42', 'Subject:  lunch? '] });
  const withHeaders = await tagged;
  assert.deepEqual(withHeaders.headers.filter(([n]) => n === 'X-Conversation' || n === 'Subject'),
    [['X-Conversation', 'c-42'], ['Subject', 'lunch?']]);
  assert.ok(withHeaders.headers.some(([n]) => n === 'Call-ID'));
  for (const [extraHeaders, why] of [
    [['Via: SIP/2.0/WS x.invalid'], /Via is written by the client itself/],
    [['X-Smuggle: a\r\nVia: evil'], /one line/],
    [['no colon'], /'Name: value'/],
    ['X-Not: an array', /options\.extraHeaders: must be an array of strings/],
  ]) {
    await assert.rejects(alice.sendMessage('sip:bob@imsip.test', 'x', { extraHeaders }),
      (e) => e.code === 'bad_input' && why.test(e.message), String(extraHeaders));
  }

  await assert.rejects(alice.sendMessage('not a uri', 'x'), { name: 'ImError', code: 'bad_input' });
  await Promise.all([alice.unregister(), bob.unregister()]);
  alice.close();
  bob.close();
});

test('a MESSAGE over the 64 KiB a frame may carry is refused bad_input at once and never sent', async () => {
  // Pager mode forced (no large-message mode below 1 MB): cores refuse such a frame
  // (devcore 513, RFC 3261 §21.5.14; others drop it); the client does not send it.
  const alice = client('alice', { largeMessageThreshold: 1_000_000 });
  await alice.register();
  await assert.rejects(alice.sendMessage('sip:bob@imsip.test', 'x'.repeat(100_000)),
    (e) => e instanceof ImError && e.code === 'bad_input' && /over the 65536/.test(e.message));
  const small = await alice.sendMessage('sip:alice@imsip.test', 'still fine');
  assert.equal(small.status, 200);
  alice.close();
});

test('carol registers with IMS AKA (Milenage in WebAssembly)', async () => {
  const carol = client('carol');
  const reg = await carol.register();
  assert.ok(reg.expires > 0);
  assert.match(carol.akaSqn, /^[0-9a-f]{12}$/);
  assert.notEqual(carol.akaSqn, '000000000000', 'a sequence number was accepted');
  await carol.unregister();
  carol.close();
});

test('close rejects pending work with invalid_state; bad options throw bad_input', async () => {
  const alice = client('alice');
  const pending = alice.register();
  alice.close();
  await assert.rejects(pending, { code: 'invalid_state' });
  await assert.rejects(alice.fetchServiceSettings(), { code: 'invalid_state' });
  assert.throws(() => new ImClient({ server, aor: 'sip:alice@imsip.test', pasword: 'x' }), (e) => {
    assert.ok(e instanceof ImError);
    assert.equal(e.code, 'bad_input');
    assert.match(e.message, /pasword.*did you mean password/);
    return true;
  });
});

test('options copied into requests are refused bad_input unless well-formed; extraHeaders go on every request', async () => {
  const base = { server, aor: 'sip:alice@imsip.test', password: 'x', webSocket: WebSocket };
  for (const [extra, why] of [
    [{ displayName: 'Alice\r\nX-Evil: 1' }, /^invalid input: displayName: /],
    [{ userAgent: 'app/1\r\nX-Evil: 1' }, /^invalid input: userAgent: /],
    [{ userAgent: 'app:1' }, /^invalid input: userAgent: /],
    [{ instanceId: 'urn:uuid:x";evil=1' }, /^invalid input: instanceId: /],
    [{ callId: 'a b' }, /^invalid input: callId: /],
    [{ extraHeaders: ['Expires: 60'] }, /^invalid input: extraHeaders: Expires is written by the client itself/],
    [{ extraHeaders: ['X-Token: a\nEvent: x'] }, /^invalid input: extraHeaders: a header value must be one line/],
    [{ extraHeaders: ['no colon'] }, /^invalid input: extraHeaders: each must be 'Name: value'/],
    [{ extraHeaders: 'X-A: 1' }, /^invalid input: extraHeaders: must be an array of strings/],
    [{ registrar: 'sip:alice@imsip.test' }, /^invalid input: registrar: must be a sip: or sips: URI without a user part/],
    [{ registrar: 'imsip.test' }, /^invalid input: registrar: /],
    // The server itself, not the MSRP relay made from it, is named.
    [{ server: 'ws://a\r\n/sip' }, /^invalid input: server: /],
    [{ server: 'wss:///sip' }, /^invalid input: server: /],
  ]) {
    assert.throws(() => new ImClient({ ...base, ...extra }),
      (e) => e instanceof ImError && e.code === 'bad_input' && why.test(e.message), JSON.stringify(extra));
  }

  const alice = client('alice', { extraHeaders: ['X-Tenant: t1', 'P-Access-Network-Info:  IEEE-802.11 '], registrar: ' sip:IMSIP.test ' });
  const bob = client('bob');
  await Promise.all([alice.register(), bob.register()]);
  const got = next(bob, 'message', (d) => d.body === 'tenant');
  await alice.sendMessage('sip:bob@imsip.test', 'tenant', { extraHeaders: ['X-Conversation: c-1'] });
  assert.deepEqual((await got).headers.filter(([n]) => n.startsWith('X-') || n.startsWith('P-Access')),
    [['X-Conversation', 'c-1'], ['X-Tenant', 't1'], ['P-Access-Network-Info', 'IEEE-802.11']]);
  // Replaced at run time: the next MESSAGE carries the new list; a refused list changes nothing.
  await assert.rejects(alice.setExtraHeaders(['Event: x']), (e) => e.code === 'bad_input' && /Event is written by the client itself/.test(e.message));
  await assert.rejects(alice.setExtraHeaders('X-A: 1'), (e) => e.code === 'bad_input' && /^invalid input: headers: must be an array of strings/.test(e.message));
  // A list every request carries may take a quarter of the 64 KiB frame at most.
  await assert.rejects(alice.setExtraHeaders([`X-Token: ${'t'.repeat(20000)}`]), (e) => e.code === 'bad_input' && /at most a quarter of max_frame_size/.test(e.message));
  await alice.setExtraHeaders(['X-Tenant: t2']);
  const got2 = next(bob, 'message', (d) => d.body === 'tenant 2');
  await alice.sendMessage('sip:bob@imsip.test', 'tenant 2');
  assert.deepEqual((await got2).headers.filter(([n]) => n.startsWith('X-') || n.startsWith('P-Access')), [['X-Tenant', 't2']]);
  await alice.setExtraHeaders(['X-Tenant: t1', 'P-Access-Network-Info: IEEE-802.11']);
  await alice.unregister();
  const out = alice.events.trace.filter((t) => t.direction === 'out' && /^[A-Z]+ /.test(t.text))
    .filter((t) => !t.text.includes('\r\nX-Tenant: t2\r\n'));
  assert.deepEqual([...new Set(out.map((t) => t.text.split(' ', 1)[0]))], ['REGISTER', 'MESSAGE']);
  for (const t of out) {
    assert.match(t.text, /\r\nX-Tenant: t1\r\nP-Access-Network-Info: IEEE-802\.11\r\n/, t.text.split('\r\n', 1)[0]);
  }
  const registers = out.filter((t) => t.text.startsWith('REGISTER '));
  assert.ok(registers.length >= 3, 'register (with its 401 retry) and unregister');
  for (const t of registers) assert.match(t.text, /^REGISTER sip:IMSIP\.test SIP\/2\.0\r\n/, 'the registrar option');
  alice.close();
  bob.close();
});

test('several server URLs: a URL nobody answers is followed by the next; the connection event names each', async () => {
  const dead = `ws://127.0.0.1:${await freePort()}/sip`;
  const alice = client('alice', { server: [dead, server], reconnect: { minDelay: 0.05, maxDelay: 0.1 } });
  const reg = await alice.register();
  assert.ok(reg.expires > 0);
  const seen = alice.events.connection.map((d) => `${d.state} ${d.server}`);
  assert.deepEqual(seen, [`connecting ${dead}`, `disconnected ${dead}`, `connecting ${server}`, `connected ${server}`]);
  assert.equal((await alice.sendMessage('sip:alice@imsip.test', 'via the second URL')).status, 200);
  alice.close();
  const base = { aor: 'sip:alice@imsip.test', password: 'x', webSocket: WebSocket };
  for (const s of [[], [server, 'wss://127.0.0.1:1/sip'], [server, 42], 'http://127.0.0.1/sip', undefined]) {
    assert.throws(() => new ImClient({ ...base, server: s }),
      (e) => e.code === 'bad_input' && /^invalid input: server/.test(e.message), String(s));
  }
});

test('a core that is not there: transport errors, then reconnect attempts', async () => {
  const port = await freePort();
  const lost = client('alice', { server: `ws://127.0.0.1:${port}/sip`, reconnect: { minDelay: 0.05, maxDelay: 0.1 } });
  await assert.rejects(lost.register(), { code: 'transport' });
  const retry = lost.events.connection.find((d) => d.state === 'disconnected');
  assert.ok(retry.retryIn > 0 && retry.retryIn <= 0.1);
  // Every event is recorded from the start (a listener added before this one), so a
  // reconnect attempt that happened before this line is not missed: wait for a second
  // 'connecting', checked on each connection event.
  await new Promise((resolve, reject) => {
    const attempted = () => lost.events.connection.filter((d) => d.state === 'connecting').length >= 2;
    const done = () => { clearTimeout(bound); lost.removeEventListener('connection', on); };
    const on = () => { if (attempted()) { done(); resolve(); } };
    const bound = setTimeout(() => { done(); reject(new Error(`no reconnect attempt: ${JSON.stringify(lost.events.connection)}`)); }, 10_000);
    lost.addEventListener('connection', on);
    on();
  });
  lost.close();
});

test('close() ends the WebSocket with 1000, a normal closure (RFC 6455 §7.4.1), not 1005', async () => {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'sip' });
  await new Promise((r) => wss.once('listening', r));
  try {
    const closed = new Promise((resolve) => {
      wss.on('connection', (socket) => socket.on('close', (code) => resolve(code)));
    });
    // Open at both ends once the REGISTER arrived (a socket closed while still
    // connecting is aborted, 1006, whatever the code).
    const opened = new Promise((resolve) => wss.once('connection', (socket) => socket.once('message', resolve)));
    const client = new ImClient({
      server: `ws://127.0.0.1:${wss.address().port}/sip`, aor: USERS.alice.aor, password: 'x', webSocket: WebSocket,
    });
    client.register().catch(() => {}); // never answered: the flow is what is looked at
    await opened;
    client.close();
    assert.equal(await closed, 1000);
  } finally {
    wss.close();
  }
});
