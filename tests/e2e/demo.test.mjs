// The demo page, tested as a person would use it: devcore serves the page, headless
// Chromium (Debian's /usr/bin/chromium via playwright-core) signs in, registers,
// publishes settings, reloads and fetches them back, chats with a second page, and
// the ladder shows the seed's flow D.1. Screenshots go to target/e2e/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, removeTempDir } from './browser.mjs';
import { once } from 'node:events';
import { freePort, waitForHttp } from '../../js/test-lib/net.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'target', 'e2e');
mkdirSync(shots, { recursive: true });



let core, browser, base;
const consoleErrors = [];
/** The devcore database's directory, removed at the end. */
let tempDir;

before(async () => {
  const port = await freePort();
  tempDir = mkdtempSync(path.join(tmpdir(), 'imsip-e2e-'));
  const db = path.join(tempDir, 'devcore.sqlite');
  const bin = path.join(root, 'target', 'debug', 'imsip-devcore');
  assert.ok(existsSync(bin), `build devcore first (cargo build -p imsip-devcore): ${bin}`);
  assert.ok(existsSync(path.join(root, 'pkg', 'imsip.js')), 'build the package first (js/build.sh)');
  // This repository's page and package, whichever tree the binary was built in.
  core = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--db', db, '--www', path.join(root, 'www'), '--pkg', path.join(root, 'pkg')],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`, 120_000);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (core && core.exitCode === null && core.signalCode === null) {
    const exited = once(core, 'exit');
    core.kill('SIGTERM');
    await exited;
  }
  if (tempDir) removeTempDir(tempDir);
});

async function openAs(user, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${user}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${user}: ${e.message}`));
  await page.goto(`${base}/?user=${user}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  return page;
}

async function register(page) {
  await page.click('#register');
  await page.waitForSelector('#reg-state[data-state=registered]', { timeout: 15_000 });
}

const labels = (page) => page.$$eval('#ladder .arrow:not(.keepalive)', (els) => els.map((e) => e.dataset.label));

function isSubsequence(needle, hay) {
  let i = 0;
  for (const h of hay) if (i < needle.length && h.startsWith(needle[i])) i += 1;
  return i === needle.length;
}

test('the seed flow D.1, settings persisted across a reload, chat between two pages', async () => {
  const alice = await openAs('alice');
  await register(alice);
  // Publish settings: incoming session barring on, visibility off.
  await alice.check('#set-isb');
  await alice.uncheck('#set-vis');
  await alice.click('#publish');
  await alice.waitForFunction(() => document.querySelector('#settings-note').textContent.startsWith('Published'));
  const flow = await labels(alice);
  assert.ok(
    isSubsequence(['REGISTER', '401', 'REGISTER', '200', 'PUBLISH', '200'], flow),
    `ladder shows REGISTER, 401, REGISTER, 200, PUBLISH, 200 in order: ${flow.join(' | ')}`,
  );
  // The full message text of an arrow, with the Authorization response but no password.
  const second = alice.locator('#ladder .arrow[data-label=REGISTER]').nth(1);
  await second.click();
  const text = await alice.textContent('#frame');
  assert.match(text, /Authorization: Digest .*response="[0-9a-f]{32}"/);
  assert.doesNotMatch(text, /alice-secret/);
  await alice.screenshot({ path: path.join(shots, 'demo-desktop.png'), fullPage: true });

  // Reload: settings come back from the IM server (SQLite).
  await alice.reload();
  await alice.waitForSelector('body[data-ready=true]');
  await register(alice);
  await alice.click('#fetch');
  await alice.waitForFunction(() => document.querySelector('#settings-note').textContent.startsWith('Fetched'));
  assert.equal(await alice.isChecked('#set-isb'), true);
  assert.equal(await alice.isChecked('#set-vis'), false);

  // A second page as bob; alice sends him a MESSAGE.
  const bob = await openAs('bob', { width: 390, height: 844 });
  await register(bob);
  await alice.fill('#chat-to', 'sip:bob@imsip.test');
  await alice.fill('#chat-text', 'grüße aus Zürich 👋');
  await alice.click('#send');
  await bob.waitForSelector('#messages li.theirs', { timeout: 10_000 });
  assert.match(await bob.textContent('#messages li.theirs p'), /grüße aus Zürich 👋/);
  assert.match(await bob.textContent('#messages li.theirs .who'), /sip:alice@imsip.test/);
  await bob.screenshot({ path: path.join(shots, 'demo-phone.png'), fullPage: true });

  // Wrong password: a clear message.
  const eve = await openAs('alice');
  await eve.fill('#password', 'wrong');
  await eve.click('#register');
  await eve.waitForSelector('#error:not([hidden])', { timeout: 15_000 });
  assert.match(await eve.textContent('#error'), /auth failed/);
  assert.deepEqual(consoleErrors.filter((e) => !/WebSocket|net::|401|403/.test(e)), []);
});
