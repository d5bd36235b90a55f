// Secrets never leak (issue "Robustness", item 2). A whole session against
// imsip-devcore run with RUST_LOG=debug (every SIP message logged): digest with a
// password and with a precomputed HA1, a wrong password, IMS AKA (carol, Milenage
// test set 1 keys; AKAv1-MD5 on one core, AKAv2-MD5 on a second), wrong AKA keys,
// publish / fetch / watch / MESSAGE both ways, unregister, and bad options that
// carry secrets. Collected: every trace text, every event detail (JSON.stringify,
// and String/message/stack/inspect of any error in it), every resolved value, every
// rejection and throw (message, String(err), stack, JSON, util.inspect), the
// clients themselves (util.inspect, registration, akaSqn) and devcore's stderr.
// None may contain a password, an HA1 (MD5 and SHA-256, computed here), K, OP, OPc
// or the AKA RES, CK, IK, AK, the AKA HA1 or the AKAv2 password — computed here
// with Milenage (node:crypto AES) from every RAND the core sent, checked against
// 3GPP TS 35.208 test set 1 first. Hex values are searched in both cases and as
// base64 of their bytes.
//
//   node --test tests/robustness/secrets.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { removeTempDir } from '../../js/test-lib/tmp.mjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  WebSocket, loadImsip, freePort, waitForPort, startDevcore, next, withTimeout, milenage, md5, sha256,
} from './lib.mjs';

const { ImClient, ImError } = await loadImsip();

const REALM = 'imsip.test';
const K = '465b5ce8b199b49faa5f0a2ee238a6bc';
const OP = 'cdc202d5123e20f62b6d676ac72cb318';
const WRONG_K = '00112233445566778899aabbccddeeff';
const WRONG_PASSWORD = 'Wr0ng-pa55word-for-alice';
const PASSWORDS = { alice: 'alice-secret', bob: 'bob-secret' };

const dir = mkdtempSync(path.join(tmpdir(), 'imsip-robust-secrets-'));
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
  removeTempDir(dir);
});

/** Everything observable, as [where, text]. */
const seen = [];
const note = (where, v) => seen.push([where, typeof v === 'string' ? v : inspect(v, { depth: 8, showHidden: true })]);
function noteError(where, e) {
  note(`${where}: message`, String(e?.message));
  note(`${where}: String`, String(e));
  note(`${where}: stack`, String(e?.stack));
  note(`${where}: JSON`, JSON.stringify(e));
  note(`${where}: inspect`, inspect(e, { depth: 8, showHidden: true }));
}

const clients = [];
function mk(server, opts) {
  const c = new ImClient({ server, publishPolicy: 'never', webSocket: WebSocket, ...opts });
  const label = opts.aor + (opts.ha1 ? ' (ha1)' : '') + (opts.aka ? ' (aka)' : '');
  for (const t of ['connection', 'registration', 'message', 'servicesettings', 'trace', 'watchterminated', 'policy', 'dropped']) {
    c.addEventListener(t, (e) => {
      note(`${label} ${t} event`, JSON.stringify(e.detail));
      if (t === 'trace') note(`${label} trace text`, e.detail.text);
      if (e.detail?.error !== undefined) noteError(`${label} ${t} event error`, e.detail.error);
    });
  }
  clients.push([label, c]);
  cleanup.push(() => c.close());
  return c;
}
/** Awaits `p`, noting its value or its error; returns { value } or { error }. */
async function run(where, p) {
  try {
    const value = await withTimeout(p, 40_000, where);
    note(`${where} value`, JSON.stringify(value));
    return { value };
  } catch (error) {
    noteError(where, error);
    return { error };
  }
}

async function core(extraArgs, name) {
  const port = await freePort();
  const c = startDevcore({ port, db: path.join(dir, `${name}.sqlite`), args: extraArgs, rustLog: 'debug', stderr: 'pipe' });
  cleanup.push(() => c.stop());
  await waitForPort(port);
  return { core: c, server: `ws://127.0.0.1:${port}/sip` };
}

const cores = [];

test('Milenage here matches 3GPP TS 35.208 test set 1 (so the computed RES/CK/IK are right)', () => {
  const m = milenage(K, OP, Buffer.from('23553cbe9637a89d218ae64dae47bf35', 'hex'));
  assert.deepEqual(m, {
    opc: 'cd63cb71954a9f4e48a5994e37a02baf', res: 'a54211d5e3ba50bf', ak: 'aa689c648370',
    ck: 'b40ba9a3c58b2a05bbf0d987b21bf8cb', ik: 'f769bcd751044604127672711c6d3441',
  });
});

test('a whole session: digest, HA1, wrong password, AKAv1, wrong AKA keys, publish, watch, MESSAGE', async () => {
  const a = await core(['--digest-algorithms', 'SHA-256,MD5'], 'v1');
  cores.push(a.core);
  const { server } = a;
  const alice = mk(server, { aor: 'sip:alice@imsip.test', password: PASSWORDS.alice, displayName: 'Alice' });
  const bob = mk(server, { aor: 'sip:bob@imsip.test', password: PASSWORDS.bob });
  const carol = mk(server, { aor: 'sip:carol@imsip.test', aka: { k: K, op: OP, amf: 'b9b9' } });
  const ha1 = md5(`alice@imsip.test:${REALM}:${PASSWORDS.alice}`);
  const alice2 = mk(server, { aor: 'sip:alice@imsip.test', ha1 });

  assert.ok((await run('alice register', alice.register())).value);
  assert.ok((await run('bob register', bob.register())).value);
  assert.ok((await run('carol register', carol.register())).value);
  assert.ok((await run('alice (ha1) register', alice2.register())).value);
  note('carol akaSqn', String(carol.akaSqn));

  assert.ok((await run('bob watch', bob.watchServiceSettings())).value);
  assert.ok((await run('alice publish', alice.publishServiceSettings({ visibility: true, offlineDelivery: true }))).value);
  assert.ok((await run('alice fetch', alice.fetchServiceSettings())).value);
  assert.ok((await run('carol publish', carol.publishServiceSettings({ visibility: false }))).value);

  const toBob = next(bob, 'message');
  assert.ok((await run('alice → bob', alice.sendMessage('sip:bob@imsip.test', 'héllo ✓'))).value);
  await toBob;
  const toAlice = next(alice, 'message');
  assert.ok((await run('carol → alice', carol.sendMessage('sip:alice@imsip.test', 'from AKA 👋'))).value);
  await toAlice;
  assert.ok((await run('alice (ha1) → carol', alice2.sendMessage('sip:carol@imsip.test', 'ha1 → aka'))).value);
  assert.ok((await run('bob → nobody', bob.sendMessage('sip:nobody@imsip.test', 'x'))).error, 'a rejection too');

  const mallory = mk(server, { aor: 'sip:alice@imsip.test', password: WRONG_PASSWORD });
  const wrong = await run('wrong password register', mallory.register());
  assert.equal(wrong.error?.code, 'auth_failed');
  const eve = mk(server, { aor: 'sip:carol@imsip.test', aka: { k: WRONG_K, op: OP, amf: 'b9b9' } });
  const wrongK = await run('wrong K register', eve.register());
  assert.ok(wrongK.error instanceof ImError, `wrong K: ${wrongK.error?.code}`);
  note('wrong K code', wrongK.error.code);
  console.log(`# wrong K: ${wrongK.error.code}; wrong password: ${wrong.error.code}`);

  await run('bob unwatch', bob.unwatchServiceSettings());
  await run('alice remove', alice.removeServiceSettings());
  for (const c of [alice, bob, carol, alice2]) await run('unregister', c.unregister());
  await run('after close', (() => { alice.close(); return alice.register(); })());
});

test('AKAv2-MD5 and SHA-512-256 on a second core', async () => {
  const b = await core(['--aka-algorithms', 'AKAv2-MD5', '--digest-algorithms', 'SHA-512-256'], 'v2');
  cores.push(b.core);
  const carol = mk(b.server, { aor: 'sip:carol@imsip.test', aka: { k: K, op: OP, amf: 'b9b9' } });
  const bob = mk(b.server, { aor: 'sip:bob@imsip.test', password: PASSWORDS.bob });
  assert.ok((await run('carol v2 register', carol.register())).value);
  assert.ok((await run('bob sha-512-256 register', bob.register())).value);
  assert.ok((await run('carol v2 → bob', carol.sendMessage('sip:bob@imsip.test', 'akav2'))).value);
  const eve = mk(b.server, { aor: 'sip:carol@imsip.test', aka: { k: WRONG_K, op: OP, amf: 'b9b9' } });
  assert.ok((await run('wrong K v2', eve.register())).error);
  for (const c of [carol, bob]) await run('unregister', c.unregister());
});

test('bad options that carry secrets: the bad_input message names the field, never the value', () => {
  const server = 'ws://127.0.0.1:9/sip';
  const attempts = {
    'k too long': { aor: 'sip:carol@imsip.test', aka: { k: `${K}0`, op: OP } },
    'op not hex': { aor: 'sip:carol@imsip.test', aka: { k: K, op: `${OP.slice(0, 31)}z` } },
    'op and opc': { aor: 'sip:carol@imsip.test', aka: { k: K, op: OP, opc: milenage(K, OP, Buffer.alloc(16)).opc } },
    'password and ha1': { aor: 'sip:alice@imsip.test', password: PASSWORDS.alice, ha1: md5(`alice@imsip.test:${REALM}:${PASSWORDS.alice}`) },
    'misspelt password key': { aor: 'sip:alice@imsip.test', pasword: PASSWORDS.alice },
    'password not a string': { aor: 'sip:alice@imsip.test', password: { secret: PASSWORDS.alice } },
    'ha1 too short': { aor: 'sip:alice@imsip.test', ha1: md5(`alice@imsip.test:${REALM}:${PASSWORDS.alice}`).slice(1) },
  };
  for (const [what, opts] of Object.entries(attempts)) {
    assert.throws(() => new ImClient({ server, webSocket: WebSocket, ...opts }), (e) => {
      noteError(`bad option (${what})`, e);
      return e instanceof ImError && e.code === 'bad_input';
    }, what);
  }
});

test('no password, HA1, K, OP, OPc, RES, CK, IK, AK, AKA HA1 or AKAv2 password in anything observed', async () => {
  // Every log line: the cores stopped and their stderr read to the end.
  await Promise.all(cores.map(async (c) => { await c.stop(); await c.logComplete; }));
  for (const [label, c] of clients) {
    note(`${label} inspect`, c);
    note(`${label} registration`, JSON.stringify(c.registration));
  }
  for (const c of cores) note('devcore stderr (RUST_LOG=debug)', c.log);
  assert.ok(cores.every((c) => c.log.includes('REGISTER sip:')), 'devcore logged the SIP messages (debug)');

  const secrets = [];
  const add = (name, v) => secrets.push([name, v]);
  const addHex = (name, hex) => {
    add(name, hex.toLowerCase());
    add(`${name} (upper)`, hex.toUpperCase());
    add(`${name} (base64)`, Buffer.from(hex, 'hex').toString('base64'));
  };
  for (const [u, pw] of Object.entries({ ...PASSWORDS, 'alice (wrong)': WRONG_PASSWORD })) {
    const user = `${u.split(' ')[0]}@imsip.test`;
    add(`${u} password`, pw);
    addHex(`${u} HA1 MD5`, md5(`${user}:${REALM}:${pw}`));
    addHex(`${u} HA1 SHA-256`, sha256(`${user}:${REALM}:${pw}`));
    addHex(`${u} HA1 SHA-512-256`, createHash('sha512-256').update(`${user}:${REALM}:${pw}`).digest('hex'));
  }
  // Every RAND the cores sent in an AKA challenge (nonce = base64(RAND ‖ AUTN ‖ …)).
  const rands = new Set();
  for (const [, text] of seen) {
    for (const m of text.matchAll(/nonce=\\?"([A-Za-z0-9+/=]{40,})\\?"[^\r\n]*?algorithm=AKAv[12]-MD5|algorithm=AKAv[12]-MD5[^\r\n]*?nonce=\\?"([A-Za-z0-9+/=]{40,})\\?"/g)) {
      const raw = Buffer.from(m[1] ?? m[2], 'base64');
      if (raw.length >= 32) rands.add(raw.subarray(0, 16).toString('hex'));
    }
  }
  assert.ok(rands.size >= 4, `AKA challenges seen: ${rands.size}`);
  for (const [kname, k] of [['K', K], ['wrong K', WRONG_K]]) {
    addHex(kname, k);
    const opc = milenage(k, OP, Buffer.alloc(16)).opc;
    addHex(`OPc (${kname})`, opc);
    for (const rand of rands) {
      const m = milenage(k, OP, Buffer.from(rand, 'hex'));
      for (const f of ['res', 'ck', 'ik', 'ak']) addHex(`${f.toUpperCase()} (${kname}, RAND ${rand})`, m[f]);
      const res = Buffer.from(m.res, 'hex');
      addHex(`AKAv1 HA1 (${kname})`, createHash('md5').update(Buffer.concat([Buffer.from(`carol@imsip.test:${REALM}:`), res])).digest('hex'));
      const v2pw = createHmac('md5', Buffer.concat([res, Buffer.from(m.ik, 'hex'), Buffer.from(m.ck, 'hex')]))
        .update('http-digest-akav2-password').digest('base64');
      add(`AKAv2 password (${kname})`, v2pw);
      addHex(`AKAv2 HA1 (${kname})`, md5(`carol@imsip.test:${REALM}:${v2pw}`));
    }
  }
  addHex('OP', OP);

  // The RES / AKAv2 password computed here is the one the client used: its digest
  // response to every AKA challenge of carol with the right K recomputes from it.
  let verified = 0;
  for (const [where, text] of seen) {
    if (!where.endsWith('trace text') || !where.includes('carol') || !text.startsWith('REGISTER ')) continue;
    const auth = /^(?:Proxy-)?Authorization: *Digest ([^\r]*algorithm=AKAv([12])-MD5[^\r]*)/im.exec(text);
    if (!auth) continue;
    const p = Object.fromEntries([...auth[1].matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((m) => [m[1], m[2] ?? m[3]]));
    const raw = Buffer.from(p.nonce, 'base64');
    const m = milenage(K, OP, raw.subarray(0, 16));
    const res = Buffer.from(m.res, 'hex');
    const pw = auth[2] === '1' ? res : Buffer.from(createHmac('md5', Buffer.concat([res, Buffer.from(m.ik, 'hex'), Buffer.from(m.ck, 'hex')]))
      .update('http-digest-akav2-password').digest('base64'));
    const ha1 = createHash('md5').update(Buffer.concat([Buffer.from(`${p.username}:${p.realm}:`), pw])).digest('hex');
    const ha2 = md5(`REGISTER:${p.uri}`);
    const expect = p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
    if (expect === p.response) verified++;
  }
  assert.ok(verified >= 2, `AKAv1 and AKAv2 responses recomputed from the RES here: ${verified}`);

  const leaks = [];
  for (const [name, secret] of secrets) {
    for (const [where, text] of seen) {
      const i = text.indexOf(secret);
      if (i >= 0) leaks.push(`${name} in ${where}: …${text.slice(Math.max(0, i - 60), i + secret.length + 20)}…`);
    }
  }
  // The search itself finds every secret when it is there.
  const planted = secrets.map(([, v]) => v).join(' ');
  assert.equal(secrets.filter(([, v]) => planted.indexOf(v) >= 0).length, secrets.length);
  const bytes = seen.reduce((n, [, t]) => n + t.length, 0);
  console.log(`# secrets: ${verified} AKA responses verified;  ${secrets.length} secret strings (${rands.size} AKA RANDs) searched in ${seen.length} texts (${bytes} chars)`);
  assert.deepEqual([...new Set(leaks)].slice(0, 20), []);
});
