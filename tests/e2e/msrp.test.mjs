// Files and chat sessions on the demo page (issue 18), both over MSRP, as two people would
// use them: alice and bob each in their own browser context (so each has its own
// SharedWorker client), in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core). devcore serves the page and pkg/; every flow runs with devcore as the
// SIP core and MSRP relay, then with the deployment Kamailio (deploy/kamailio/; the
// page's Server field points at it, and the client's default relay, the server's origin
// with path /msrp, is Kamailio's msrp module on the same port), skipped with the reason
// when Kamailio is missing.
//
// The flows: alice picks a 300 KB binary file in the page's file input and sends it
// (OMA IM large-message mode): her entry goes "sending… N%" → "delivered", bob's page
// shows a file entry of the right size whose download link gives the same bytes. Alice
// starts a chat session, bob accepts it; messages both ways with typing and delivery
// ticks; bob closes it and both panels say it ended. A second invitation bob declines
// ends in alice's panel as "declined (603 …)". A third one alice closes while it still
// rings (CANCEL): her panel says "cancelled", bob's invitation loses its Accept/Decline
// buttons and says "cancelled" (invitationended). Both ladders show the MSRP frames
// (SEND, REPORT) in their own lane next to the SIP ones (INVITE, BYE). What differs
// between the cores is checked in the ladders too: Kamailio wants proxy credentials on
// every request of a local user (it answered the page's SUBSCRIBE at sign-in 407, and
// each INVITE carries Proxy-Authorization answering that challenge), devcore takes an
// INVITE on the registered flow without credentials and never answers 407; bob sees one
// INVITE either way; the relay's Use-Path (in the 200 to each AUTH, first in the SDP's
// a=path) is devcore's msrps://HOST:PORT/<id>;ws or Kamailio's
// msrp://HOST:PORT/<session>;tcp.
//
// Every wait is for something on a page, bounded by a generous timeout; none sleeps.
//
//   cargo build -p imsip-devcore && bash js/build.sh && (cd tests/e2e && npm ci && node --test msrp.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, removeTempDir } from './browser.mjs';
import { noise } from './noise.mjs';
import { freePort, waitForHttp } from '../../js/test-lib/net.mjs';
import { startDevcore } from '../../js/test-lib/devcore.mjs';
import { deployKamailioRuns, missingDeployKamailio } from '../../js/test-lib/kamailio.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'target', 'e2e');
mkdirSync(shots, { recursive: true });
const WAIT = 30_000; // upper bound of any wait on a page
const FILE_SIZE = 300 * 1024;

const kamailioMissing = missingDeployKamailio();
const { start: startKamailio } = deployKamailioRuns({ prefix: 'e2e-msrp' });

let devcoreProc, browser, base;
/** Run at the end, before devcore stops: the Kamailio, when one was started. */
const cleanup = [];

/**
 * A core the flows run against: `name` (in screenshot names), alice and bob signed in
 * to it (one of each for every flow: their registrations stay as they are between
 * flows), their page errors, and what its ladders show that differs: whether it wants
 * proxy credentials on an INVITE (407) and the relay's Use-Path.
 */
async function signInBoth({ name, server, proxyAuth, usePath }) {
  const core = { name, server, proxyAuth, usePath, errors: [] };
  core.alice = await signIn(core, 'alice');
  core.bob = await signIn(core, 'bob');
  return core;
}

/** The demo page as `user` in a browser context of its own, registered at `core.server` (devcore when not given). */
async function signIn(core, user) {
  const { errors } = core;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${user}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${user}: ${e.message}`));
  await page.goto(`${base}/?user=${user}`);
  await page.waitForSelector('body[data-ready=true]').catch((e) => { throw new Error(`${e.message}\n${errors.join('\n')}`); });
  if (core.server) {
    await page.fill('#server', core.server);
    assert.equal(await page.inputValue('#server'), core.server);
  }
  await page.click('#register');
  await page.waitForSelector('#reg-state[data-state=registered]');
  return page;
}

let devcore, kamailio;
/** The devcore database's directory, removed at the end. */
let tempDir;

before(async () => {
  assert.ok(existsSync(path.join(root, 'pkg', 'imsip.js')), 'build the package first (js/build.sh)');
  const port = await freePort();
  tempDir = mkdtempSync(path.join(tmpdir(), 'imsip-e2e-msrp-'));
  const db = path.join(tempDir, 'devcore.sqlite');
  // This repository's page and package, whichever tree the binary was built in.
  devcoreProc = startDevcore({ port, db, stderr: 'inherit', args: ['--www', path.join(root, 'www'), '--pkg', path.join(root, 'pkg')] });
  base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`);
  browser = await launchChromium();
  devcore = await signInBoth({
    name: 'devcore',
    proxyAuth: false,
    usePath: new RegExp(`^msrps://127\\.0\\.0\\.1:${port}/[^/;\\s]+;ws$`),
  });
});

after(async () => {
  await browser?.close();
  for (const stop of cleanup.reverse()) await stop();
  await devcoreProc?.stop();
  if (tempDir) removeTempDir(tempDir);
});

/**
 * The deployment Kamailio with its alice and bob, started by the first flow that needs
 * it (the same one for every flow), stopped at the end of the file.
 */
function kamailioCore() {
  kamailio ??= (async () => {
    const k = await startKamailio({ after: (stop) => cleanup.push(stop) }, 'demo');
    return signInBoth({
      name: 'kamailio',
      server: k.url,
      proxyAuth: true,
      usePath: new RegExp(`^msrp://127\\.0\\.0\\.1:${k.port}/[^/;\\s]+;tcp$`),
    });
  })();
  return kamailio;
}

/** The labels of the ladder's arrows of `protocol` ('sip' | 'msrp') going `direction`. */
const ladder = (page, protocol, direction) =>
  page.$$eval(`#ladder .arrow.${direction}[data-protocol=${protocol}]`, (els) => els.map((e) => e.dataset.label));

/** How many arrows `page`'s ladder has: the frames of a flow are the ones after it. */
const ladderMark = (page) => page.locator('#ladder .arrow').count();

/**
 * The frames of `page`'s ladder from arrow `from` on, in order: { direction, protocol,
 * label, text }, each read from the frame view by clicking its arrow (in the page).
 */
const frames = (page, from) => page.evaluate((from) => [...document.querySelectorAll('#ladder .arrow')].slice(from).map((li) => {
  li.click();
  return {
    direction: li.classList.contains('out') ? 'out' : 'in',
    protocol: li.dataset.protocol,
    label: li.dataset.label,
    text: document.getElementById('frame').textContent,
  };
}), from);

const isInvite = (f) => f.protocol === 'sip' && /^INVITE /.test(f.text);
const inviteAnswer = (f) => f.protocol === 'sip' && /^CSeq: *\d+ INVITE\s*$/mi.test(f.text) && /^SIP\/2\.0 ([2-6]\d\d)\b/.exec(f.text)?.[1];

/**
 * The INVITE alice sent in a flow (her frames since `from`): one INVITE, answered
 * `final` with nothing before it. On a core that wants proxy credentials (Kamailio
 * answers every request of a local user 407, INVITE included) it carries
 * Proxy-Authorization answering that core's challenge: the 407 Kamailio gave the demo's
 * SUBSCRIBE at sign-in, which the client answers on its later requests (nc counting up),
 * so Kamailio has no 407 left for the INVITE; devcore takes an INVITE on the registered
 * flow as it is, without credentials and without a 407 ever. Her relay's Use-Path (the
 * 200 to her AUTH) is the core's, first in the INVITE's a=path.
 */
async function checkInvite(core, page, from, final) {
  await page.waitForFunction(([from, final]) => [...document.querySelectorAll('#ladder .arrow')].slice(from)
    .some((li) => li.matches('.in[data-protocol=sip]') && li.dataset.label.startsWith(`${final} `)), [from, final]);
  const all = await frames(page, 0);
  const seen = all.slice(from);
  const sipText = (fs) => fs.filter((f) => f.protocol === 'sip').map((f) => `${f.direction} ${f.label}`).join(', ');
  const invites = seen.filter((f) => f.direction === 'out' && isInvite(f));
  const answers = seen.filter((f) => f.direction === 'in').map(inviteAnswer).filter(Boolean);
  assert.equal(invites.length, 1, `alice's INVITEs: ${sipText(seen)}`);
  assert.deepEqual(answers, [final], `answers to alice's INVITE: ${sipText(seen)}`);
  const credentials = /^Proxy-Authorization: *Digest (.*?)\s*$/m.exec(invites[0].text)?.[1];
  const challenges = all.filter((f) => f.protocol === 'sip' && f.direction === 'in' && /^SIP\/2\.0 407 /.test(f.text));
  if (core.proxyAuth) {
    assert.ok(challenges.length > 0 && all.indexOf(challenges.at(-1)) < from, `${core.name}'s 407 before the flow: ${sipText(all)}`);
    const nonce = /^Proxy-Authenticate: *Digest .*\bnonce="([^"]+)"/m.exec(challenges.at(-1).text)?.[1];
    assert.ok(nonce, challenges.at(-1).text);
    assert.ok(credentials, `the INVITE carries Proxy-Authorization:\n${invites[0].text}`);
    assert.match(credentials, new RegExp(`\\bnonce="${reEscape(nonce)}"`), 'the INVITE answers the core\'s challenge');
    assert.match(credentials, /\brealm="imsip\.test"[^]*\buri="sip:bob@imsip\.test"/);
  } else {
    assert.equal(credentials, undefined, 'no credentials in the INVITE');
    assert.deepEqual(challenges, [], `no 407 from ${core.name}: ${sipText(all)}`);
  }
  const usePath = checkUsePath(core, seen);
  assert.match(invites[0].text, new RegExp(`^a=path:${reEscape(usePath)} \\S+\\s*$`, 'm'), 'the relay first in the offer\'s a=path');
  return usePath;
}

/**
 * The INVITE bob answered in a flow (his frames since `from`): exactly one came; when he
 * accepted, his relay's Use-Path is the core's, first in his answer's a=path.
 */
async function checkInvited(core, page, from, { accepted }) {
  const seen = await frames(page, from);
  const ladderText = seen.map((f) => `${f.direction} ${f.label}`).join(', ');
  assert.equal(seen.filter((f) => f.direction === 'in' && isInvite(f)).length, 1, `INVITEs to bob: ${ladderText}`);
  if (!accepted) return;
  const usePath = checkUsePath(core, seen);
  const ok = seen.find((f) => f.direction === 'out' && inviteAnswer(f) === '200');
  assert.ok(ok, `bob's 200 to the INVITE: ${ladderText}`);
  assert.match(ok.text, new RegExp(`^a=path:${reEscape(usePath)} \\S+\\s*$`, 'm'), 'the relay first in the answer\'s a=path');
}

/** The Use-Path of the one 200 to an AUTH in `seen`, checked to be the core's relay. */
function checkUsePath(core, seen) {
  const paths = seen.filter((f) => f.protocol === 'msrp' && f.direction === 'in' && /^MSRP \S+ 200\b/.test(f.text))
    .map((f) => /^Use-Path: *(.*?)\s*$/m.exec(f.text)?.[1]).filter(Boolean);
  assert.equal(paths.length, 1, `one AUTH accepted: ${JSON.stringify(paths)}`);
  assert.match(paths[0], core.usePath, `the ${core.name} relay's Use-Path`);
  return paths[0];
}

const reEscape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A screenshot's file name: devcore's as they always were, Kamailio's with its name. */
const shot = (core, what) => (core.name === 'devcore' ? `msrp-${what}.png` : `msrp-${core.name}-${what}.png`);

const unexpected = (core) => core.errors.filter((e) => !/WebSocket|net::/.test(e));

async function fileFlow(core) {
  const { alice, bob } = core;
  const [aliceFrom, bobFrom] = [await ladderMark(alice), await ladderMark(bob)];
  const bytes = noise(FILE_SIZE);
  // Every status line alice's entry shows, in order.
  await alice.evaluate(() => {
    window.fileLog = [];
    new MutationObserver(() => {
      const s = document.querySelector('#messages li.mine.file .file-status')?.textContent;
      if (s && window.fileLog.at(-1) !== s) window.fileLog.push(s);
    }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
  await alice.setInputFiles('#file-input', { name: 'noise.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await alice.click('#send-file');

  // Alice: delivered once bob's success report came back, the bar full.
  const mine = alice.locator('#messages li.mine.file');
  await mine.and(alice.locator('[data-state=delivered]')).waitFor().catch(async (e) => {
    // Where the transfer stood: the entry's status lines and the last MSRP frames.
    e.message += `\n status lines: ${JSON.stringify(await alice.evaluate(() => window.fileLog))}` +
      `\n last MSRP frames: ${JSON.stringify((await ladder(alice, 'msrp', 'in')).slice(-5))} (in), ` +
      `${JSON.stringify((await ladder(alice, 'msrp', 'out')).slice(-5))} (out)`;
    throw e;
  });
  assert.match(await mine.locator('.file-info').textContent(), /noise\.bin · 300 KB · application\/octet-stream/);
  assert.equal(await mine.locator('.file-status').textContent(), 'delivered (307,200 bytes)');
  assert.equal(await mine.locator('progress').evaluate((p) => p.value === p.max), true);
  const log = await alice.evaluate(() => window.fileLog);
  assert.equal(log.at(-1), 'delivered (307,200 bytes)');
  assert.ok(log.some((s) => /^sending… \d+%$/.test(s)), `progress shown: ${JSON.stringify(log)}`);
  assert.equal(await alice.inputValue('#file-input'), '', 'the input is cleared for the next file');

  // Bob: a file entry of the right size and type, whose download is the same bytes.
  const theirs = bob.locator('#messages li.theirs.file');
  await theirs.waitFor();
  assert.equal(await theirs.getAttribute('data-size'), String(FILE_SIZE));
  assert.equal(await theirs.getAttribute('data-content-type'), 'application/octet-stream');
  assert.match(await theirs.locator('.who').textContent(), /sip:alice@imsip\.test/);
  assert.match(await theirs.locator('.file-info').textContent(), /300 KB · application\/octet-stream/);
  assert.equal(await theirs.locator('.badge.msrp').textContent(), 'MSRP');
  const [download] = await Promise.all([bob.waitForEvent('download'), theirs.locator('a.download').click()]);
  assert.match(download.suggestedFilename(), /^alice-\d{8}-\d{6}\.bin$/);
  const got = readFileSync(await download.path());
  assert.equal(got.length, FILE_SIZE);
  assert.ok(got.equals(bytes), 'the downloaded bytes are the bytes sent');

  // The ladders: the chunks go out as MSRP SENDs next to the SIP frames; bob receives
  // them and alice has his success REPORT.
  const aliceOut = await ladder(alice, 'msrp', 'out');
  assert.ok(aliceOut.some((l) => /^MSRP \S+ SEND$/.test(l)), `alice's MSRP out: ${aliceOut.slice(0, 8)}`);
  assert.ok((await ladder(bob, 'msrp', 'in')).some((l) => /^MSRP \S+ SEND$/.test(l)));
  const aliceIn = await ladder(alice, 'msrp', 'in');
  assert.ok(aliceIn.some((l) => /^MSRP \S+ REPORT$/.test(l)), `alice's MSRP in: ${aliceIn.slice(0, 8)}`);
  assert.ok((await ladder(alice, 'sip', 'out')).includes('REGISTER'), 'SIP frames in the same ladder');
  // The core's answers to the INVITE, and its relay in both paths.
  await checkInvite(core, alice, aliceFrom, '200');
  await checkInvited(core, bob, bobFrom, { accepted: true });
  // A binary chunk, opened: its headers, its body summarised.
  await alice.locator('#ladder .arrow.msrp.out', { hasText: 'SEND' }).first().click();
  assert.match(await alice.textContent('#frame'), /^MSRP \S+ SEND\r?\n[^]*Byte-Range: 1-[^]*\(\d+ bytes of binary body\)/);
  // The MSRP lane can be hidden, like keep-alives.
  await alice.uncheck('#show-msrp');
  assert.equal(await alice.locator('#ladder .arrow.msrp').first().isVisible(), false);
  await alice.check('#show-msrp');
  await alice.screenshot({ path: path.join(shots, shot(core, 'file-alice')), fullPage: true });
  await bob.screenshot({ path: path.join(shots, shot(core, 'file-bob')), fullPage: true });
  assert.deepEqual(unexpected(core), []);
}

/** The session panel of `page` in state `state` (the newest one). */
const panel = (page, state) => page.locator(`#sessions .session[data-state=${state}]`).last();

async function say(from, to, text) {
  const mine = panel(from, 'open');
  await mine.locator('.session-text').pressSequentially(text.slice(0, 4));
  await panel(to, 'open').locator('.session-typing[data-state=active]').waitFor();
  await mine.locator('.session-text').fill(text);
  await mine.locator('.session-send').click();
  await panel(to, 'open').locator('li.theirs', { hasText: text }).waitFor();
  await mine.locator('li.mine', { hasText: text }).locator('.receipt[data-receipt=delivered]').waitFor();
}

async function sessionFlow(core) {
  const { alice, bob } = core;
  const [aliceFrom, bobFrom] = [await ladderMark(alice), await ladderMark(bob)];
  await alice.click('#start-session');
  await panel(alice, 'inviting').waitFor();
  const invitation = bob.locator('#invitations li.invitation[data-from="sip:alice@imsip.test"]');
  await invitation.waitFor();
  assert.match(await invitation.textContent(), /sip:alice@imsip\.test invites you to a chat session/);
  await invitation.getByRole('button', { name: 'Accept the chat session with sip:alice@imsip.test' }).click();
  const a = panel(alice, 'open');
  const b = panel(bob, 'open');
  await a.waitFor();
  await b.waitFor();
  assert.equal(await invitation.count(), 0, 'the invitation is answered');
  assert.equal(await a.locator('h3').textContent(), 'Session with sip:bob@imsip.test');
  assert.equal(await b.locator('h3').textContent(), 'Session with sip:alice@imsip.test');
  assert.equal(await alice.locator('#session-tabs [role=tab][aria-selected=true]').textContent(), 'bob');

  // Typing shows while the other types, and goes with the message.
  await a.locator('.session-text').pressSequentially('Hi B');
  await b.locator('.session-typing[data-state=active]').waitFor();
  assert.equal(await b.locator('.session-typing').textContent(), 'alice is typing…');
  await a.locator('.session-text').fill('Hi Bob, in a session');
  await a.locator('.session-send').click();
  await b.locator('li.theirs', { hasText: 'Hi Bob, in a session' }).waitFor();
  assert.equal(await b.locator('.session-typing').getAttribute('data-state'), 'idle');
  await a.locator('li.mine', { hasText: 'Hi Bob, in a session' }).locator('.receipt[data-receipt=delivered]').waitFor();

  // Bob types and clears his input: alice sees him typing, then not.
  await b.locator('.session-text').pressSequentially('Hm');
  await a.locator('.session-typing[data-state=active]').waitFor();
  assert.equal(await a.locator('.session-typing').textContent(), 'bob is typing…');
  await b.locator('.session-text').press('Backspace');
  await b.locator('.session-text').press('Backspace');
  await a.locator('.session-typing[data-state=idle]').waitFor();

  for (let i = 1; i <= 3; i++) {
    await say(bob, alice, `bob ${i}: héllo 👋`);
    await say(alice, bob, `alice ${i}: ✓✓ means delivered`);
  }
  // Each side has every message, in order.
  const texts = (p) => p.locator('.session-messages li p').allTextContents();
  const all = ['Hi Bob, in a session', ...[1, 2, 3].flatMap((i) => [`bob ${i}: héllo 👋`, `alice ${i}: ✓✓ means delivered`])];
  assert.deepEqual(await texts(a), all);
  assert.deepEqual(await texts(b), all);
  await alice.screenshot({ path: path.join(shots, shot(core, 'session-alice')), fullPage: true });

  // Bob closes: both panels say it ended, and why.
  await b.getByRole('button', { name: 'Close the chat session with sip:alice@imsip.test' }).click();
  const aEnded = panel(alice, 'ended');
  const bEnded = panel(bob, 'ended');
  await aEnded.waitFor();
  await bEnded.waitFor();
  assert.equal(await bEnded.locator('.session-state').textContent(), 'session ended (local)');
  assert.equal(await aEnded.locator('.session-state').textContent(), 'session ended (remote)');
  assert.equal(await aEnded.locator('.session-text').isDisabled(), true);
  assert.equal(await aEnded.locator('.session-close').textContent(), 'Remove');

  // The ladders: INVITE and BYE in SIP, the messages as MSRP SENDs.
  assert.ok((await ladder(alice, 'sip', 'out')).includes('INVITE'));
  assert.ok((await ladder(alice, 'sip', 'in')).includes('BYE'));
  assert.ok((await ladder(bob, 'sip', 'out')).includes('BYE'));
  assert.ok((await ladder(bob, 'msrp', 'in')).some((l) => /^MSRP \S+ SEND$/.test(l)));
  await checkInvite(core, alice, aliceFrom, '200');
  await checkInvited(core, bob, bobFrom, { accepted: true });
  await bob.screenshot({ path: path.join(shots, shot(core, 'session-bob')), fullPage: true });

  // Removing the ended tab leaves no session.
  await aEnded.locator('.session-close').click();
  assert.equal(await alice.locator('#sessions .session').count(), 0);
  assert.equal(await alice.locator('#sessions-note').isVisible(), true);
  assert.deepEqual(unexpected(core), []);
}

async function declineFlow(core) {
  const { alice, bob } = core;
  const [aliceFrom, bobFrom] = [await ladderMark(alice), await ladderMark(bob)];
  await alice.click('#start-session');
  const invitation = bob.locator('#invitations li.invitation');
  await invitation.waitFor();
  await invitation.getByRole('button', { name: /^Decline/ }).click();
  const failed = panel(alice, 'failed');
  await failed.waitFor();
  assert.match(await failed.locator('.session-state').textContent(), /^declined \(603\b/);
  assert.match(await alice.textContent('#error'), /rejected/);
  assert.equal(await bob.locator('#sessions .session[data-state=open]').count(), 0);
  assert.equal(await invitation.count(), 0);
  await checkInvite(core, alice, aliceFrom, '603');
  await checkInvited(core, bob, bobFrom, { accepted: false });
  // The only "errors" allowed: the 603 the page itself reports (as an alert, not the console).
  assert.deepEqual(unexpected(core), []);
}

async function cancelFlow(core) {
  const { alice, bob } = core;
  const [aliceFrom, bobFrom] = [await ladderMark(alice), await ladderMark(bob)];
  const bobSessions = await bob.locator('#sessions .session').count(); // the ended ones of earlier flows
  await alice.click('#start-session');
  const inviting = panel(alice, 'inviting');
  await inviting.waitFor();
  const invitation = bob.locator('#invitations li.invitation[data-from="sip:alice@imsip.test"]');
  await invitation.and(bob.locator('[data-state=ringing]')).waitFor();
  // The Close button of a session still ringing is enabled: it cancels the invitation.
  const close = inviting.getByRole('button', { name: 'Close the chat session with sip:bob@imsip.test' });
  assert.equal(await close.isEnabled(), true);
  await close.click();

  // Alice: the panel says cancelled, with no error (she gave up herself).
  const cancelled = panel(alice, 'cancelled');
  await cancelled.waitFor();
  assert.equal(await cancelled.locator('.session-state').textContent(), 'cancelled');
  assert.equal(await cancelled.locator('.session-text').isDisabled(), true);
  assert.equal(await cancelled.locator('.session-close').textContent(), 'Remove');
  assert.equal(await alice.locator('#error').isVisible(), false);

  // Bob: the invitation stays, greyed, without Accept/Decline, and says why.
  const ended = bob.locator('#invitations li.invitation[data-state=ended][data-reason=cancelled]');
  await ended.waitFor();
  assert.match(await ended.locator('.invitation-status').textContent(), /^cancelled\b/);
  assert.equal(await ended.getByRole('button', { name: /^(Accept|Decline)/ }).count(), 0);
  assert.equal(await bob.locator('#sessions .session').count(), bobSessions, 'no new session on bob\'s side');

  // The ladders: alice's CANCEL after her INVITE; bob received it.
  const aliceOut = await ladder(alice, 'sip', 'out');
  assert.ok(aliceOut.lastIndexOf('CANCEL') > aliceOut.lastIndexOf('INVITE'), `alice's SIP out: ${aliceOut.slice(-6)}`);
  assert.ok((await ladder(bob, 'sip', 'in')).includes('CANCEL'));
  // The INVITE ends 487 (RFC 3261 §9.2) once bob's answer to the CANCEL came through.
  await checkInvite(core, alice, aliceFrom, '487');
  await checkInvited(core, bob, bobFrom, { accepted: false });
  await alice.screenshot({ path: path.join(shots, shot(core, 'cancel-alice')), fullPage: true });
  await bob.screenshot({ path: path.join(shots, shot(core, 'cancel-bob')), fullPage: true });

  // Both clear up: bob dismisses the ended invitation, alice removes the tab.
  await ended.getByRole('button', { name: 'Dismiss the ended invitation from sip:alice@imsip.test' }).click();
  assert.equal(await bob.locator('#invitations li').count(), 0);
  await cancelled.locator('.session-close').click();
  assert.equal(await alice.locator('#sessions .session[data-state=cancelled]').count(), 0);
  assert.deepEqual(unexpected(core), []);
}

// Each flow with devcore (the names it always had), then with the deployment Kamailio.
const FLOWS = [
  ['a 300 KB file, sent from the file input, arrives whole and downloadable', fileFlow],
  ['a chat session: invited, accepted, messages both ways with typing and ticks, closed by bob', sessionFlow],
  ['a declined chat session ends in the inviter\'s panel with the status', declineFlow],
  ['a chat session cancelled by its inviter while it rings: both sides say cancelled', cancelFlow],
];
for (const [name, flow] of FLOWS) test(name, () => flow(devcore));
for (const [name, flow] of FLOWS) {
  test(`${name}, the deployment Kamailio`, async (t) => {
    if (kamailioMissing) return t.skip(kamailioMissing);
    await flow(await kamailioCore());
  });
}
