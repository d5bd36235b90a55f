// Receipts and typing on the demo page (issue 16), as two people would use it: alice and
// bob each in their own browser context (so each has its own SharedWorker client), in
// headless Chromium (Debian's /usr/bin/chromium via playwright-core). devcore serves the
// page and pkg/; the same flow runs with devcore as the SIP core and with the deployment
// Kamailio (deploy/kamailio/; the page's Server field points at it), skipped with the
// reason when Kamailio is missing.
//
// The flow: alice types → bob sees "alice is typing…"; alice sends → bob sees the message
// and the typing line goes; alice's ticks go sending → sent → delivered → displayed
// ("read") because bob's page is visible and the message on screen. Then a message that
// arrives while bob's page says it is hidden (document.visibilityState forced to
// 'hidden' in the page, with its visibilitychange event) stays "delivered" until the page
// is visible again, and one that arrives while bob's chat is scrolled out of view stays
// "delivered" until he scrolls to it. Bob types and clears his input → alice sees him
// typing, then not. A text over the large-message threshold (sent over MSRP) is a chat line at
// bob's too, not a file. Screenshots go to target/e2e/ (and docs/demo.png with
// IMSIP_DEMO_SHOT=1).
//
// Every wait is for something on a page, bounded by a generous timeout; none sleeps. A
// "not displayed yet" is decided without waiting: the page records that the message
// was on screen (data-onscreen) in the same step that would have marked it displayed
// (data-seen), and alice's "delivered" tick comes after bob's client received it.
//
//   cargo build -p imsip-devcore && bash js/build.sh && (cd tests/e2e && npm ci && node --test chat.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, removeTempDir } from './browser.mjs';
import { freePort, waitForHttp } from '../../js/test-lib/net.mjs';
import { startDevcore } from '../../js/test-lib/devcore.mjs';
import { deployKamailioRuns, missingDeployKamailio } from '../../js/test-lib/kamailio.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'target', 'e2e');
mkdirSync(shots, { recursive: true });
const WAIT = 30_000; // upper bound of any wait on a page
const PHONE = { width: 390, height: 844 };

const kamailioMissing = missingDeployKamailio();
const { start: startKamailio } = deployKamailioRuns({ prefix: 'e2e-chat' });



let core, browser, base;
/** The devcore database's directory, removed at the end. */
let tempDir;

before(async () => {
  assert.ok(existsSync(path.join(root, 'pkg', 'imsip.js')), 'build the package first (js/build.sh)');
  const port = await freePort();
  tempDir = mkdtempSync(path.join(tmpdir(), 'imsip-e2e-chat-'));
  const db = path.join(tempDir, 'devcore.sqlite');
  // This repository's page and package, whichever tree the binary was built in.
  core = startDevcore({ port, db, stderr: 'inherit', args: ['--www', path.join(root, 'www'), '--pkg', path.join(root, 'pkg')] });
  base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await core?.stop();
  if (tempDir) removeTempDir(tempDir);
});

/**
 * The demo page as `user` in a browser context of its own, registered at `server` (the
 * page's default, devcore, when not given). Page errors and console errors go to `errors`.
 */
async function signIn(t, user, errors, server, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${user}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${user}: ${e.message}`));
  await page.goto(`${base}/?user=${user}`);
  await page.waitForSelector('body[data-ready=true]').catch((e) => { throw new Error(`${e.message}\n${errors.join('\n')}`); });
  if (server) await page.fill('#server', server);
  await page.click('#register');
  await page.waitForSelector('#reg-state[data-state=registered]');
  // Every change of a tick, in order: [message text, state].
  await page.evaluate(() => {
    window.receiptLog = [];
    new MutationObserver((records) => {
      for (const r of records) {
        window.receiptLog.push([r.target.closest('li').querySelector('p').textContent, r.target.dataset.receipt]);
      }
    }).observe(document.getElementById('messages'), { subtree: true, attributes: true, attributeFilter: ['data-receipt'] });
  });
  return page;
}

const own = (page, text) => page.locator('#messages li.mine', { hasText: text });
const theirs = (page, text) => page.locator('#messages li.theirs', { hasText: text });
const tick = (page, text) => own(page, text).locator('.receipt');

/** The states the tick of our message `text` went through, in order. */
async function receipts(page, text) {
  return (await page.evaluate(() => window.receiptLog)).filter(([t]) => t === text).map(([, state]) => state);
}

async function send(page, text) {
  await page.fill('#chat-text', text);
  await page.click('#send');
  await tick(page, text).and(page.locator('[data-receipt=sent], [data-receipt=delivered], [data-receipt=displayed]')).waitFor();
}

/** What document.visibilityState says in `page`, with its visibilitychange event ('hidden', or null: the real one). */
function forceVisibility(page, state) {
  return page.evaluate((s) => {
    if (s) {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    } else {
      delete document.visibilityState;
      delete document.hidden;
    }
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

async function chatFlow(alice, bob, name) {
  assert.equal(await alice.inputValue('#chat-to'), 'sip:bob@imsip.test');
  assert.equal(await bob.inputValue('#chat-to'), 'sip:alice@imsip.test');
  // Bob (on a phone) looks at his chat: it fills his screen, and new messages appear on it.
  const toChat = () => bob.evaluate(() => document.getElementById('chat').scrollIntoView({ block: 'start' }));
  await toChat();

  // Alice types: bob sees it.
  await alice.locator('#chat-text').pressSequentially('Lunch at 12');
  await bob.waitForSelector('#typing[data-state=active]');
  assert.equal(await bob.textContent('#typing'), 'alice is typing…');
  await bob.screenshot({ path: path.join(shots, `chat-${name}-typing.png`), fullPage: true });

  // Alice sends: bob has the message and the typing line goes (the message ends it).
  const first = 'Lunch at 12? ✓✓ means read';
  await alice.fill('#chat-text', first);
  await alice.click('#send');
  await theirs(bob, first).waitFor();
  await bob.waitForSelector('#typing[data-state=idle]');
  assert.equal(await bob.textContent('#typing'), '');
  assert.match(await theirs(bob, first).locator('.who').textContent(), /sip:alice@imsip\.test/);

  // Bob's page is visible and the message on screen: delivered, then read.
  await tick(alice, first).and(alice.locator('[data-receipt=displayed]')).waitFor();
  assert.equal(await theirs(bob, first).getAttribute('data-seen'), 'true');
  assert.equal(await tick(alice, first).getAttribute('aria-label'), 'read');
  assert.match(await tick(alice, first).getAttribute('title'), /^read at \S/);
  assert.equal(await tick(alice, first).textContent(), '✓✓');
  assert.deepEqual(await receipts(alice, first), ['sending', 'sent', 'delivered', 'displayed']);

  // Bob types, then clears his input: alice sees him typing, then not.
  await bob.locator('#chat-text').pressSequentially('Sure');
  await alice.waitForSelector('#typing[data-state=active]');
  assert.equal(await alice.textContent('#typing'), 'bob is typing…');
  // Alice's MESSAGE in the ladder: message/cpim asking for both notifications.
  const messages = alice.locator('#ladder .arrow.out[data-label=MESSAGE]');
  for (let i = 0; i < await messages.count(); i++) {
    await messages.nth(i).click();
    if ((await alice.textContent('#frame')).includes('message/cpim')) break;
  }
  assert.match(await alice.textContent('#frame'), /Content-Type: message\/cpim[^]*imdn\.Disposition-Notification: positive-delivery, ?negative-delivery, ?display/i);
  await alice.evaluate(() => { const f = document.getElementById('frame'); f.scrollTop = f.scrollHeight; });
  await alice.screenshot({ path: path.join(shots, `chat-${name}-ticks.png`), fullPage: true });
  if (name === 'devcore' && process.env.IMSIP_DEMO_SHOT) {
    await alice.screenshot({ path: path.join(root, 'docs', 'demo.png'), fullPage: true });
  }
  await bob.fill('#chat-text', '');
  await alice.waitForSelector('#typing[data-state=idle]');

  // Bob's page hidden: the message arrives, is on screen, is delivered, and is not read.
  await toChat();
  await forceVisibility(bob, 'hidden');
  const second = 'Sent while your tab was hidden';
  await send(alice, second);
  await theirs(bob, second).and(bob.locator('[data-onscreen=true]')).waitFor();
  await tick(alice, second).and(alice.locator('[data-receipt=delivered]')).waitFor();
  assert.equal(await theirs(bob, second).getAttribute('data-seen'), null, 'not marked displayed while hidden');
  assert.equal(await tick(alice, second).getAttribute('data-receipt'), 'delivered');
  // Visible again: read.
  await forceVisibility(bob, null);
  await tick(alice, second).and(alice.locator('[data-receipt=displayed]')).waitFor();
  assert.equal(await theirs(bob, second).getAttribute('data-seen'), 'true');

  // Bob's chat scrolled out of view: delivered, not read, until he scrolls to it.
  await bob.evaluate(() => window.scrollTo(0, 0));
  assert.ok((await bob.locator('#messages').boundingBox()).y > PHONE.height, 'the chat is below the fold at the top of the page');
  const third = 'Below the fold';
  await send(alice, third);
  await theirs(bob, third).and(bob.locator('[data-onscreen=false]')).waitFor();
  await tick(alice, third).and(alice.locator('[data-receipt=delivered]')).waitFor();
  assert.equal(await theirs(bob, third).getAttribute('data-seen'), null, 'not marked displayed off screen');
  assert.equal(await tick(alice, third).getAttribute('data-receipt'), 'delivered');
  await theirs(bob, third).scrollIntoViewIfNeeded();
  await tick(alice, third).and(alice.locator('[data-receipt=displayed]')).waitFor();
  await bob.screenshot({ path: path.join(shots, `chat-${name}-bob.png`), fullPage: true });

  // Each tick went forward one step at a time (a "delivered" that beats the 200 still
  // shows "sent" first), never failed.
  for (const text of [second, third]) {
    assert.deepEqual(await receipts(alice, text), ['sending', 'sent', 'delivered', 'displayed'], text);
  }

  // A typed text over the large-message threshold (1300 bytes) goes over MSRP, and is
  // still a chat line at bob's, shown whole, not a file to download.
  const long = `Minutes of the meeting: ${'the plan stands, '.repeat(120)}end.`;
  await alice.fill('#chat-text', long);
  await alice.click('#send');
  await tick(alice, long).and(alice.locator('[data-receipt=delivered]')).waitFor();
  assert.equal(await own(alice, long).locator('.badge.msrp').count(), 1);
  await theirs(bob, long).waitFor();
  assert.equal(await theirs(bob, long).locator('p').textContent(), long);
  assert.equal(await theirs(bob, long).locator('.badge.msrp').count(), 1);
  assert.equal(await theirs(bob, long).locator('a.download').count(), 0, 'under 4000 characters: no download link');
  assert.equal(await bob.locator('#messages li.theirs.file').count(), 0, 'not shown as a file');
}

const unexpected = (errors) => errors.filter((e) => !/WebSocket|net::/.test(e));

test('typing and receipts on the demo page, devcore', async (t) => {
  const errors = [];
  const alice = await signIn(t, 'alice', errors);
  const bob = await signIn(t, 'bob', errors, undefined, PHONE);
  await chatFlow(alice, bob, 'devcore');
  assert.deepEqual(unexpected(errors), []);
});

test('typing and receipts on the demo page, the deployment Kamailio', async (t) => {
  if (kamailioMissing) return t.skip(kamailioMissing);
  const k = await startKamailio(t, 'demo');
  const errors = [];
  const alice = await signIn(t, 'alice', errors, k.url);
  const bob = await signIn(t, 'bob', errors, k.url, PHONE);
  assert.equal(await alice.inputValue('#server'), k.url);
  await chatFlow(alice, bob, 'kamailio');
  assert.deepEqual(unexpected(errors), []);
});
