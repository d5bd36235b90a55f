// MSRP through one client shared by every tab (`share: 'tabs'`), in headless Chromium
// (Debian's /usr/bin/chromium via playwright-core) against imsip-devcore and its relay.
//
// alice has two tabs of one browser context: one SharedWorker, one client, which
// carries the MSRP sessions (README, "Large messages and chat sessions (MSRP)" and
// "One client for every tab"). bob is an ImClient in Node (`ws`). The README's claims
// checked here:
//   - bob invites alice: both tabs see `invitation`; the tab that accepts gets the
//     ChatSession (messages both ways, a `report` delivered); the other gets
//     `invitationended` with reason `answered` and no ChatSession;
//   - `sendLargeMessage` from the other tab with a Blob (read in the tab, its bytes
//     cross to the worker) and `onProgress`: bob gets it byte-exact;
//   - the accepting tab closes the session: bob sees `ended`, `remote`;
//   - `startChat(to, { signal })` from a tab: aborted while it rings it rejects
//     `cancelled` (bob sees `invitationended`, `cancelled`); answered, the session is
//     that tab's.
//
// devcore serves tests/e2e/shared-test.html (from a temp `--www` directory) and pkg/
// (build it first: bash js/build.sh). No outcome is decided by sleeping: every wait is
// for an event or a page's state, with a generous upper bound.
//
//   cargo build -p imsip-devcore && bash js/build.sh && (cd tests/e2e && npm ci && node --test shared-msrp.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { launchChromium, removeTempDir } from './browser.mjs';
import { noise } from './noise.mjs';
import { freePort, waitForHttp } from '../../js/test-lib/net.mjs';
import { startDevcore, USERS } from '../../js/test-lib/devcore.mjs';
import { loadImsip, next } from '../../js/test-lib/client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
assert.ok(existsSync(path.join(root, 'pkg', 'imsip.js')), 'build the package first: bash js/build.sh');
const { ImClient } = await loadImsip();

const WAIT = 30_000; // upper bound of any wait
const LARGE = 200 * 1024; // the large message's size
const ALICE = 'sip:alice@imsip.test';
const BOB = 'sip:bob@imsip.test';

const dir = mkdtempSync(path.join(tmpdir(), 'imsip-shared-msrp-'));
const www = path.join(dir, 'www');
mkdirSync(www);
copyFileSync(path.join(here, 'shared-test.html'), path.join(www, 'shared-test.html'));

let core;
let base;
let browser;
/** alice's tabs share this context's SharedWorker. */
let context;
let tab1;
let tab2;
/** bob, in Node: his own client, not shared. */
let bob;
const pageErrors = [];

/**
 * The test page as alice, with recorders: `invites` (chat id → invitation detail, to
 * accept or reject later), `log` (invitation / invitationended of the client, in order),
 * `sessions` (the ChatSessions this tab got, each with every event it dispatched) and
 * `adopt(session)` (records a session's events; call it in the task that got it).
 */
async function openTab(name) {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  await page.goto(`${base}/shared-test.html?user=alice`);
  await page.waitForSelector('body[data-ready=true]', { state: 'attached' });
  await page.evaluate(() => {
    window.invites = new Map();
    window.log = [];
    window.sessions = [];
    client.addEventListener('invitation', (e) => {
      invites.set(e.detail.chat, e.detail);
      log.push({ type: 'invitation', chat: e.detail.chat, from: e.detail.from });
    });
    client.addEventListener('invitationended', (e) => log.push({ type: 'invitationended', ...e.detail }));
    window.adopt = (session) => {
      const record = { session, events: [] };
      for (const type of ['message', 'report', 'composing', 'ended']) {
        session.addEventListener(type, (e) => record.events.push({ type, ...e.detail }));
      }
      sessions.push(record);
      return { index: sessions.length - 1, id: session.id, peer: session.peer, state: session.state };
    };
    window.sessionEvents = (i, type) => sessions[i].events.filter((e) => e.type === type);
  });
  return page;
}

/** Waits until `fn(arg)` is true in the page (polled; no fixed delay). */
const until = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: WAIT, polling: 50 });

before(async () => {
  const port = await freePort();
  core = startDevcore({
    port, db: path.join(dir, 'devcore.sqlite'), stderr: process.env.IMSIP_E2E_LOG ? 'inherit' : 'ignore',
    args: ['--www', www, '--pkg', path.join(root, 'pkg')],
  });
  base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/shared-test.html`);
  browser = await launchChromium();
  context = await browser.newContext();

  // alice: tab 1 registers the shared client; tab 2 joins it (the registration is replayed).
  tab1 = await openTab('tab1');
  assert.equal(await tab1.evaluate(() => client.shared), true, 'tab 1 runs the client in the SharedWorker');
  await tab1.evaluate(() => client.register());
  tab2 = await openTab('tab2');
  assert.equal(await tab2.evaluate(() => client.shared), true, 'tab 2 runs the client in the SharedWorker');
  await until(tab2, () => client.registration.state === 'registered');
  assert.equal(await tab2.evaluate(() => client.instanceId), await tab1.evaluate(() => client.instanceId), 'one client');

  bob = new ImClient({ server: `ws://127.0.0.1:${port}/sip`, ...USERS.bob, publishPolicy: 'never', webSocket: WebSocket });
  await bob.register();
});

after(async () => {
  await bob?.unregister().catch(() => {});
  bob?.close();
  await context?.close();
  await browser?.close();
  await core?.stop();
  removeTempDir(dir);
  assert.deepEqual(pageErrors.filter((e) => !/WebSocket|net::/.test(e)), []);
});

test('bob invites: both tabs see it, tab 1 accepts and chats, tab 2 gets invitationended (answered) and sends bob a large Blob; tab 1 closes', async () => {
  // ── (1) The invitation reaches both tabs.
  const starting = bob.startChat(ALICE);
  for (const tab of [tab1, tab2]) await until(tab, () => log.some((e) => e.type === 'invitation'));
  const [shown1] = await tab1.evaluate(() => log);
  const [shown2] = await tab2.evaluate(() => log);
  assert.deepEqual(shown1, { type: 'invitation', chat: shown1.chat, from: BOB });
  assert.deepEqual(shown2, shown1, 'the same invitation in both tabs');
  const chat = shown1.chat;

  // Tab 1 accepts: its ChatSession, open, with bob; bob's startChat resolves.
  const mine = await tab1.evaluate((id) => invites.get(id).accept().then((s) => adopt(s)), chat);
  assert.deepEqual(mine, { index: 0, id: chat, peer: BOB, state: 'open' });
  const theirs = await starting;
  assert.equal(theirs.peer, ALICE);
  assert.equal(theirs.state, 'open');

  // Tab 2: `invitationended`, `answered`, and no ChatSession.
  await until(tab2, () => log.some((e) => e.type === 'invitationended'));
  assert.deepEqual(await tab2.evaluate(() => log), [shown1, { type: 'invitationended', chat, reason: 'answered' }]);
  assert.equal(await tab2.evaluate(() => sessions.length), 0, 'tab 2 has no ChatSession');
  // Tab 1 saw only its invitation (answered here: no invitationended).
  assert.deepEqual(await tab1.evaluate(() => log), [shown1]);

  // Messages both ways; tab 1's message is reported delivered, and so is bob's.
  const bobGot = next(theirs, 'message', () => true, WAIT);
  const bobReport = next(theirs, 'report', () => true, WAIT);
  const sent = await tab1.evaluate(() => sessions[0].session.send('hello bob, from tab 1'));
  assert.equal(typeof sent.messageId, 'string');
  assert.equal((await bobGot).body, 'hello bob, from tab 1');
  const { messageId: bobsId } = await theirs.send('hello alice, from bob');
  await until(tab1, () => sessionEvents(0, 'message').length === 1);
  const [aliceGot] = await tab1.evaluate(() => sessionEvents(0, 'message'));
  assert.equal(aliceGot.body, 'hello alice, from bob');
  assert.equal(aliceGot.messageId, bobsId);
  await until(tab1, () => sessionEvents(0, 'report').length === 1);
  assert.deepEqual(
    (await tab1.evaluate(() => sessionEvents(0, 'report'))).map(({ type, messageId, status }) => ({ type, messageId, status })),
    [{ type: 'report', messageId: sent.messageId, status: 'delivered' }],
  );
  const report = await bobReport;
  assert.equal(report.messageId, bobsId);
  assert.equal(report.status, 'delivered');
  // Nothing of the session surfaced in tab 2 meanwhile.
  assert.equal(await tab2.evaluate(() => sessions.length), 0);
  assert.equal((await tab2.evaluate(() => log)).length, 2);

  // A late accept in tab 2 (its invitation was answered in tab 1) gives no ChatSession.
  const late = await tab2.evaluate((id) => invites.get(id).accept().then(
    (s) => ({ session: s.id, state: s.state }),
    (e) => ({ error: { name: e.name, code: e.code } }),
  ), chat);
  assert.deepEqual(late, { error: { name: 'ImError', code: 'invalid_state' } }, 'a late accept in tab 2 rejects');

  // ── (2) Tab 2 sends bob a ~200 KB Blob in large-message mode, with onProgress.
  const bytes = noise(LARGE);
  const arrived = next(bob, 'message', (d) => d.largeMessage, WAIT);
  const result = await tab2.evaluate(async (b64) => {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const blob = new Blob([raw], { type: 'application/octet-stream' });
    window.progress = [];
    const r = await client.sendLargeMessage('sip:bob@imsip.test', blob, {
      contentType: 'application/octet-stream',
      onProgress: (p) => progress.push({ ...p }),
    });
    return { result: r, progress };
  }, bytes.toString('base64'));
  assert.equal(result.result.largeMessage, true);
  assert.equal(result.result.bytes, LARGE);
  const { progress } = result;
  assert.ok(progress.length > 1, `progress events came: ${progress.length}`);
  assert.ok(progress.every((p, i) => i === 0 || p.bytesSent >= progress[i - 1].bytesSent), 'progress only grows');
  assert.ok(progress.every((p) => p.to === BOB && p.total === LARGE), JSON.stringify(progress[0]));
  assert.equal(progress.at(-1).bytesSent, LARGE);
  const got = await arrived;
  assert.equal(got.from, ALICE);
  assert.equal(got.contentType, 'application/octet-stream');
  assert.ok(got.body instanceof Uint8Array, 'a binary body arrives as a Uint8Array');
  assert.equal(got.body.length, LARGE);
  assert.ok(Buffer.from(got.body).equals(bytes), 'bob got the Blob byte-exact');
  // The chat session is still open through the transfer.
  assert.equal(await tab1.evaluate(() => sessions[0].session.state), 'open');

  // ── (3) Tab 1 closes the session: ended `local` there, `remote` at bob.
  const bobEnded = next(theirs, 'ended', () => true, WAIT);
  await tab1.evaluate(() => sessions[0].session.close());
  assert.equal((await bobEnded).reason, 'remote');
  assert.equal(theirs.state, 'ended');
  await until(tab1, () => sessionEvents(0, 'ended').length === 1);
  assert.deepEqual(await tab1.evaluate(() => sessionEvents(0, 'ended')), [{ type: 'ended', reason: 'local' }]);
  assert.equal(await tab1.evaluate(() => sessions[0].session.state), 'ended');
  // Tab 2 got nothing more.
  assert.equal((await tab2.evaluate(() => log)).length, 2);
  assert.equal(await tab2.evaluate(() => sessions.length), 0);
});

test('startChat(to, { signal }) from a tab: aborted while it rings it rejects cancelled; answered, the session is that tab\'s', async () => {
  const invitations = [];
  const onInvitation = (e) => invitations.push(e.detail);
  bob.addEventListener('invitation', onInvitation);
  try {
    // Aborted while bob's side rings.
    const ringing = next(bob, 'invitation', () => true, WAIT);
    await tab2.evaluate(() => {
      window.ringing = new AbortController();
      window.starting = client.startChat('sip:bob@imsip.test', { signal: ringing.signal })
        .then((s) => ({ session: s.id }), (e) => ({ error: { name: e.name, code: e.code } }));
    });
    const invitation = await ringing;
    assert.equal(invitation.from, ALICE);
    const gone = next(bob, 'invitationended', () => true, WAIT);
    await tab2.evaluate(() => ringing.abort());
    assert.deepEqual(await tab2.evaluate(() => starting), { error: { name: 'ImError', code: 'cancelled' } });
    assert.deepEqual(await gone, { chat: invitation.chat, reason: 'cancelled' });

    // Answered: tab 2's ChatSession, messages both ways; tab 1 has no part in it.
    const second = next(bob, 'invitation', (d) => d.chat !== invitation.chat, WAIT);
    await tab2.evaluate(() => {
      window.ringing = new AbortController();
      window.starting = client.startChat('sip:bob@imsip.test', { signal: ringing.signal }).then((s) => adopt(s));
    });
    const theirs = await (await second).accept();
    const mine = await tab2.evaluate(() => starting);
    assert.equal(typeof mine.id, 'number');
    assert.deepEqual(mine, { index: 0, id: mine.id, peer: BOB, state: 'open' });
    const bobGot = next(theirs, 'message', () => true, WAIT);
    await tab2.evaluate(() => sessions[0].session.send('from tab 2'));
    assert.equal((await bobGot).body, 'from tab 2');
    await theirs.send('to tab 2');
    await until(tab2, () => sessionEvents(0, 'message').length === 1 && sessionEvents(0, 'report').length === 1);
    assert.equal((await tab2.evaluate(() => sessionEvents(0, 'message')))[0].body, 'to tab 2');
    assert.equal((await tab2.evaluate(() => sessionEvents(0, 'report')))[0].status, 'delivered');
    // An abort once the session is open changes nothing.
    await tab2.evaluate(() => ringing.abort());
    assert.equal(await tab2.evaluate(() => sessions[0].session.state), 'open');
    assert.equal(await tab1.evaluate(() => sessions.length), 1, 'tab 1 has only its own, earlier session');

    // bob ends it: tab 2's session ends `remote`.
    await theirs.close();
    await until(tab2, () => sessionEvents(0, 'ended').length === 1);
    assert.equal((await tab2.evaluate(() => sessionEvents(0, 'ended')))[0].reason, 'remote');
    assert.equal(invitations.length, 2);
  } finally {
    bob.removeEventListener('invitation', onInvitation);
  }
});
