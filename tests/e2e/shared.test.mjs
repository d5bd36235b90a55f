// One client for every tab (`share: 'tabs'`: a SharedWorker holds one WebSocket and one
// registration) and the page lifecycle (resume, offline/online, pagehide), in headless
// Chromium (Debian's /usr/bin/chromium via playwright-core) against imsip-devcore.
//
// devcore serves tests/e2e/shared-test.html from a temp `--www` directory and the
// package from pkg/ (build it first: bash js/build.sh). What happens at the core is read
// from devcore's log: `flow opened/closed conn=N` (WebSockets), `registration updated
// conn=N aor=… contacts=K` (bindings of the AoR after each REGISTER) and
// `← ping, → pong conn=N` (CRLF keep-alives). Each test registers its own user, so the
// binding counts are its own. No outcome is decided by sleeping; every wait is for an
// event, with a generous upper bound.
//
//   cargo build -p imsip-devcore && bash js/build.sh && (cd tests/e2e && npm ci && node --test shared.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { freePort, waitForHttp } from '../../js/test-lib/net.mjs';
import { removeTempDir, spawnChromium, stopChromium } from './browser.mjs';
import { WebSocket } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = path.join(root, 'target', 'debug', 'imsip-devcore');
if (!existsSync(bin)) execFileSync('cargo', ['build', '-p', 'imsip-devcore'], { cwd: root, stdio: 'inherit' });
const entry = path.join(root, 'pkg', 'imsip.js');
assert.ok(existsSync(entry), 'build the package first: bash js/build.sh');
const { default: init, ImClient, ImError } = await import(pathToFileURL(entry).href);
await init();

const LONG = 60_000; // upper bound of any wait (the heartbeat drops a tab after ~15-20 s)
// Waits poll on a timer: after the lifecycle and network emulation, requestAnimationFrame
// (Playwright's default polling) may not run again in this headless page, so a condition
// that was false at the first look would never be looked at again (a flake seen in CI).
const POLL = { polling: 50 };
const USERS = ['bob', 'two', 'close', 'last', 'trace', 'settings', 'frozen', 'resume', 'unshared', 'offline', 'noworker', 'node', 'busy'];



const dir = mkdtempSync(path.join(tmpdir(), 'imsip-shared-'));
const www = path.join(dir, 'www');
mkdirSync(www);
copyFileSync(path.join(here, 'shared-test.html'), path.join(www, 'shared-test.html'));
const usersFile = path.join(dir, 'users.toml');
writeFileSync(usersFile, `domain = "imsip.test"\nrealm = "imsip.test"\n${
  USERS.map((u) => `\n[[user]]\naor = "sip:${u}@imsip.test"\npassword = "${u}-secret"\n`).join('')}`);

/**
 * One devcore process and what it logged, line by line. `start()` again after
 * `stop()` restarts it on the same port and database.
 */
class Core {
  constructor(name, pkg = path.join(root, 'pkg')) {
    this.db = path.join(dir, `${name}.sqlite`);
    this.pkg = pkg;
    this.lines = [];
    this.waiters = new Set();
  }

  async start() {
    this.port ??= await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.server = `ws://127.0.0.1:${this.port}/sip`;
    this.proc = spawn(bin, ['--listen', `127.0.0.1:${this.port}`, '--db', this.db, '--users', usersFile,
      '--www', www, '--pkg', this.pkg], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', RUST_LOG: 'info,imsip_devcore=debug' },
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
    let rest = '';
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop();
      for (const line of parts) {
        // eslint-disable-next-line no-control-regex
        this.lines.push(line.replace(/\x1b\[[0-9;]*m/g, ''));
        if (process.env.IMSIP_E2E_LOG) process.stderr.write(`devcore: ${line}\n`);
      }
      for (const w of this.waiters) w();
    });
    await waitForHttp(`${this.base}/shared-test.html`);
  }

  async stop() {
    this.proc.kill('SIGTERM');
    await this.exited;
  }

  /** Where the log is now: pass it as `from` to look only at what comes later. */
  mark() {
    return this.lines.length;
  }

  /** Every match of `re` in the lines from `from` on. */
  matches(re, from = 0) {
    return this.lines.slice(from).map((l) => re.exec(l)).filter(Boolean);
  }

  /** The first match of `re` from `from` on, waiting for it (at most `ms`). */
  waitFor(re, from = 0, ms = LONG) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = re.exec(this.lines[i]);
          if (m) {
            cleanup();
            resolve(m);
            return;
          }
        }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`devcore never logged ${re}`)); }, ms);
      const cleanup = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }
}

const flowOpened = /flow opened conn=(\d+)/;
const flowClosed = (conn) => new RegExp(`flow closed conn=${conn} `);
const bindings = (user, conn = '\\d+') => new RegExp(`registration updated conn=(${conn}) aor=sip:${user}@imsip\\.test contacts=(\\d+)`);
const ping = (conn) => new RegExp(`← ping, → pong conn=${conn}$`);

let core;
let browser;
/** The Chromium this file started (`spawnChromium`). */
let chromiumInstance;
/** Every test's tabs are pages of this one context (one origin, one profile: one SharedWorker per name). */
let defaultContext;
/** bob, in Node: sends to the tabs' AoRs. */
let bob;
const nodeClients = [];
const pageErrors = [];

before(async () => {
  core = new Core('shared');
  await core.start();
  // Chromium is started here and Playwright attaches with `noDefaults`: pages of the
  // default context then get no focus emulation, which would keep them visible, and
  // Chromium freezes only a hidden page (Page.setWebLifecycleState 'frozen' would do
  // nothing). Launch arguments: browser.mjs's CHROMIUM_ARGS.
  const port = await freePort();
  chromiumInstance = spawnChromium(path.join(dir, 'chromium'), port);
  await waitForHttp(`http://127.0.0.1:${port}/json/version`);
  browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`, { noDefaults: true, isLocal: true });
  defaultContext = browser.contexts()[0];
  bob = nodeClient('bob');
  await bob.register();
});

after(async () => {
  for (const c of nodeClients) c.close();
  // Chromium's own shutdown (its helper processes go with it), then the process.
  if (browser) await (await browser.newBrowserCDPSession()).send('Browser.close').catch(() => {});
  await browser?.close();
  if (chromiumInstance) await stopChromium(chromiumInstance);
  await core?.stop();
  removeTempDir(dir);
  // The test without imworker.js expects its 404.
  assert.deepEqual(pageErrors.filter((e) => !/WebSocket|net::/.test(e) && !/^user=noworker: .*404/.test(e)), []);
});

/** A client in Node (no SharedWorker there: `share: 'tabs'` runs it unshared). */
function nodeClient(user, on = core) {
  const c = new ImClient({
    server: on.server, aor: `sip:${user}@imsip.test`, password: `${user}-secret`, publishPolicy: 'never',
    webSocket: WebSocket, share: 'tabs',
  });
  nodeClients.push(c);
  return c;
}

/** A test's tabs: pages of the default context, closed together by `close()`. */
function newContext() {
  const pages = [];
  return {
    async newPage() {
      const page = await defaultContext.newPage();
      pages.push(page);
      return page;
    },
    newCDPSession: (page) => defaultContext.newCDPSession(page),
    async close() {
      for (const page of pages) if (!page.isClosed()) await page.close();
    },
  };
}

async function openTab(context, query, on = core) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${query}: ${m.text()}`); });
  page.on('pageerror', (e) => pageErrors.push(`${query}: ${e.message}`));
  await page.goto(`${on.base}/shared-test.html?${query}`);
  await page.waitForSelector('body[data-ready=true]', { state: 'attached', timeout: 30_000 });
  return page;
}

/** Waits until the page has `count` events of `type` (with `detail.state === state`, when given). */
function waitEvents(page, type, { state, count = 1, body } = {}) {
  return page.waitForFunction(
    ([t, s, n, b]) => events.filter((e) => e.type === t && (s === null || e.detail?.state === s)
      && (b === null || e.detail?.body === b)).length >= n,
    [type, state ?? null, count, body ?? null],
    { timeout: LONG, polling: 50 },
  );
}

const eventsOf = (page, type, body) =>
  page.evaluate(([t, b]) => events.filter((e) => e.type === t && (b === null || e.detail?.body === b)), [type, body ?? null]);

test('Node has no SharedWorker: share "tabs" gives an unshared client that works', async () => {
  const c = nodeClient('node');
  assert.equal(c.shared, false);
  const info = await c.register();
  assert.equal(info.contacts.length, 1);
  await c.unregister();
  c.close();
});

test('two tabs share one WebSocket and one registration; a late tab has the state at once; a MESSAGE reaches each tab once', async () => {
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=two');
  assert.equal(await a.evaluate(() => client.shared), true);
  const info = await a.evaluate(() => client.register());
  assert.equal(info.contacts.length, 1);
  const [, conn] = await core.waitFor(bindings('two'), start);

  // The late tab: `registration` (registered) and `connection` (connected) at once,
  // without calling register(); the getters are the shared client's.
  const b = await openTab(context, 'user=two');
  await waitEvents(b, 'registration', { state: 'registered' });
  await waitEvents(b, 'connection', { state: 'connected' });
  assert.deepEqual((await eventsOf(b, 'registration')).map((e) => e.detail.state), ['registered']);
  assert.equal(await b.evaluate(() => client.shared), true);
  assert.equal(await b.evaluate(() => client.registration.state), 'registered');
  assert.equal(await b.evaluate(() => client.instanceId), await a.evaluate(() => client.instanceId));
  assert.equal(await b.evaluate(() => client.callId), await a.evaluate(() => client.callId));

  // An argument that cannot be sent to the worker (a proxy whose traps throw) is
  // refused bad_input naming it, as unshared (js/test/arguments.test.mjs).
  const refused = await b.evaluate(() => client.sendMessage('sip:bob@imsip.test', 'x',
    new Proxy({}, { ownKeys() { throw new Error('trap'); } })).then(() => 'resolved', (e) => `${e.code} ${e.message}`));
  assert.match(refused, /^bad_input invalid input: options: cannot be read: /);

  // A command from the second tab runs on the shared client.
  const sent = await b.evaluate(() => client.sendMessage('sip:bob@imsip.test', 'from tab b'));
  assert.equal(sent.status, 200);
  // setExtraHeaders from a tab changes what the shared client sends (for every tab).
  const tagged = new Promise((resolve) => bob.addEventListener('message', (e) => {
    if (e.detail.body === 'from tab a, tagged by tab b') resolve(e.detail);
  }));
  await b.evaluate(() => client.setExtraHeaders(['X-Tab: b']));
  assert.equal((await a.evaluate(() => client.sendMessage('sip:bob@imsip.test', 'from tab a, tagged by tab b'))).status, 200);
  assert.deepEqual((await tagged).headers.filter(([n]) => n === 'X-Tab'), [['X-Tab', 'b']]);

  // At the core: one WebSocket for both tabs (bob's opened before `start`), one
  // binding; a third client of the same AoR sees exactly one contact besides its own.
  assert.equal(core.matches(flowOpened, start).length, 1, 'one WebSocket for two tabs');
  const third = nodeClient('two');
  const seen = await third.register();
  assert.equal(seen.contacts.length, 2, `the shared binding and the third client's: ${seen.contacts.join(' | ')}`);
  await third.unregister();
  third.close();

  // bob → the shared AoR: both tabs get it once. The second MESSAGE is the marker:
  // each tab receives events in order, so once it is there the first one came once.
  assert.equal((await bob.sendMessage('sip:two@imsip.test', 'hello tabs')).status, 200);
  assert.equal((await bob.sendMessage('sip:two@imsip.test', 'marker')).status, 200);
  for (const page of [a, b]) {
    await waitEvents(page, 'message', { body: 'marker' });
    assert.equal((await eventsOf(page, 'message', 'hello tabs')).length, 1);
  }
  assert.deepEqual(core.matches(bindings('two', conn), start).map((m) => m[2]), ['1'], 'one REGISTER, one binding');
  await context.close();
});

test('closing one tab keeps the registration; close() in the last tab unregisters', async () => {
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=close');
  const b = await openTab(context, 'user=close');
  await a.evaluate(() => client.register());
  await waitEvents(b, 'registration', { state: 'registered' });
  const [, conn] = await core.waitFor(bindings('close'), start);

  // The tab goes away (pagehide, not persisted): the other keeps the registration.
  await b.close();
  assert.equal((await bob.sendMessage('sip:close@imsip.test', 'still there?')).status, 200);
  await waitEvents(a, 'message', { body: 'still there?' });
  const sent = await a.evaluate(() => client.sendMessage('sip:bob@imsip.test', 'yes'));
  assert.equal(sent.status, 200);
  assert.deepEqual(core.matches(bindings('close'), start).map((m) => m[2]), ['1'], 'no REGISTER since');

  // close() in the last tab: the worker unregisters, then closes the WebSocket.
  const unregistered = core.mark();
  await a.evaluate(() => client.close());
  const [, , left] = await core.waitFor(bindings('close', conn), unregistered);
  assert.equal(left, '0');
  await core.waitFor(flowClosed(conn), unregistered);
  await assert.rejects(bob.sendMessage('sip:close@imsip.test', 'gone?'), (e) => e instanceof ImError && e.status === 480);
  // The page's client is closed: commands reject, nothing throws, and its state says
  // so, as an unshared client's does after close().
  const after = await a.evaluate(() => client.register().then(() => 'resolved', (e) => e.code));
  assert.equal(after, 'invalid_state');
  assert.equal(await a.evaluate(() => client.registration.state), 'unregistered');
  await context.close();
});

test('the last tab closing (pagehide) unregisters the shared client', async () => {
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=last');
  await a.evaluate(() => client.register());
  const [, conn] = await core.waitFor(bindings('last'), start);
  const closing = core.mark();
  await a.close();
  const [, , left] = await core.waitFor(bindings('last', conn), closing);
  assert.equal(left, '0');
  await core.waitFor(flowClosed(conn), closing);
  await context.close();
});

test('trace events go only to the tabs that listen', async () => {
  const context = newContext();
  const a = await openTab(context, 'user=trace');
  const b = await openTab(context, 'user=trace');
  await a.evaluate(() => {
    window.traces = [];
    window.onTrace = (e) => traces.push(e.detail);
    client.addEventListener('trace', onTrace);
  });
  await a.evaluate(() => client.register());
  await waitEvents(b, 'registration', { state: 'registered' });
  assert.equal((await bob.sendMessage('sip:trace@imsip.test', 'one')).status, 200);
  await waitEvents(a, 'message', { body: 'one' });
  await waitEvents(b, 'message', { body: 'one' });
  // a: the REGISTERs, their answers and the MESSAGE, before the `message` event.
  const traced = await a.evaluate(() => traces.map((t) => t.text.split('\r\n')[0]));
  assert.ok(traced.some((l) => l.startsWith('REGISTER ')), traced.join(' | '));
  assert.ok(traced.some((l) => l.startsWith('MESSAGE ')), traced.join(' | '));
  // b listens to no trace: none dispatched there, before or after its `message`.
  assert.equal((await b.evaluate(() => dispatched)).filter((t) => t === 'trace').length, 0);

  // a stops listening: the next MESSAGE comes with no trace before it.
  await a.evaluate(() => client.removeEventListener('trace', onTrace));
  const before = (await a.evaluate(() => dispatched)).length;
  assert.equal((await bob.sendMessage('sip:trace@imsip.test', 'two')).status, 200);
  await waitEvents(a, 'message', { body: 'two' });
  const since = (await a.evaluate(() => dispatched)).slice(before);
  assert.deepEqual(since.filter((t) => t === 'trace'), [], since.join(' '));

  // A `once` listener: it gets one trace, then the tab stops them (the second
  // command is posted after the tab said so: none of its frames comes).
  const once = await a.evaluate(async () => {
    let got = 0;
    client.addEventListener('trace', () => { got += 1; }, { once: true });
    await client.sendMessage('sip:bob@imsip.test', 'three');
    const mark = dispatched.length;
    await client.sendMessage('sip:bob@imsip.test', 'four');
    return { got, after: dispatched.slice(mark) };
  });
  assert.equal(once.got, 1);
  assert.deepEqual(once.after.filter((t) => t === 'trace'), []);
  await context.close();
});

test('a late tab gets the last service settings at once', async () => {
  const context = newContext();
  const a = await openTab(context, 'user=settings');
  await a.evaluate(async () => {
    await client.register();
    await client.publishServiceSettings({ visibility: false, offlineDelivery: true });
    await client.watchServiceSettings();
  });
  await waitEvents(a, 'servicesettings');
  const b = await openTab(context, 'user=settings');
  await waitEvents(b, 'servicesettings');
  const [event] = await eventsOf(b, 'servicesettings');
  assert.equal(event.detail.settings.visibility, false);
  assert.equal(event.detail.settings.offlineDelivery, true);
  await context.close();
});

test('a webSocket constructor cannot cross to the worker: the client runs in the tab', async () => {
  const context = newContext();
  const a = await openTab(context, 'user=noworker');
  const shared = await a.evaluate(() => {
    const c = new client.constructor({
      server: `ws://${location.host}/sip`, aor: 'sip:noworker@imsip.test', password: 'noworker-secret', share: 'tabs', webSocket: WebSocket,
    });
    c.close();
    return c.shared;
  });
  assert.equal(shared, false);
  await context.close();
});

test('the worker cannot start (no imworker.js): the tab runs its own client, commands already made included', async () => {
  const pkg = path.join(dir, 'pkg-noworker');
  execFileSync('cp', ['-r', path.join(root, 'pkg'), pkg]);
  rmSync(path.join(pkg, 'imworker.js'));
  const own = new Core('noworker', pkg);
  await own.start();
  const context = newContext();
  try {
    const a = await openTab(context, 'user=noworker', own);
    // The page's client has fallen back by now; a new one registers at once, before
    // the worker's failure is known: the request runs in the tab when it is.
    const r = await a.evaluate(async () => {
      const c = new client.constructor({
        server: `ws://${location.host}/sip`, aor: 'sip:noworker@imsip.test', password: 'noworker-secret', share: 'tabs',
      });
      const atFirst = c.shared;
      const info = await c.register();
      return { atFirst, now: c.shared, contacts: info.contacts.length, state: c.registration.state };
    });
    assert.deepEqual(r, { atFirst: true, now: false, contacts: 1, state: 'registered' });
    assert.equal(await a.evaluate(() => client.shared), false);
    await own.waitFor(bindings('noworker'));
  } finally {
    await context.close();
    await own.stop();
  }
});

test('a frozen tab is dropped by the heartbeat (the last: unregistered), and comes back when it resumes', async () => {
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=frozen');
  await a.evaluate(() => client.register());
  const [, conn] = await core.waitFor(bindings('frozen'), start);
  const cdp = await context.newCDPSession(a);
  const frozen = core.mark();
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  // The tab answers no ping: after 3 missed heartbeats the worker unregisters.
  const [, , left] = await core.waitFor(bindings('frozen', conn), frozen);
  assert.equal(left, '0');
  await core.waitFor(flowClosed(conn), frozen);
  const resumed = core.mark();
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  // On `resume` the tab speaks to the worker, which asks it to open again; the app
  // had registered, so the new client registers (a new WebSocket).
  await core.waitFor(flowOpened, resumed);
  const [, , back] = await core.waitFor(bindings('frozen'), resumed);
  assert.equal(back, '1');
  await waitEvents(a, 'registration', { state: 'registered', count: 2 });
  assert.deepEqual(await a.evaluate(() => pageEvents), ['freeze', 'resume']);
  await context.close();
});

test('a tab busy past the heartbeat (paused in the debugger) that never called register() is registered again when it runs', async () => {
  // Tab A registers; tab B joins the registered client without calling register().
  // B's JS is paused (a long task or a breakpoint: not frozen, so no resume event):
  // it answers no ping and the worker drops it; A leaves, so the client unregisters.
  // When B runs again it answers the pings it had queued: that pong was ignored (B
  // never got an event again), and B, which never called register(), was reopened
  // unregistered without a word.
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=busy');
  await a.evaluate(() => client.register());
  const [, conn] = await core.waitFor(bindings('busy'), start);
  const b = await openTab(context, 'user=busy');
  await waitEvents(b, 'registration', { state: 'registered' });
  const cdp = await context.newCDPSession(b);
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.pause');
  const paused = core.mark();
  await a.evaluate(() => client.close());
  const [, , left] = await core.waitFor(bindings('busy', conn), paused);
  assert.equal(left, '0');
  const resumed = core.mark();
  await cdp.send('Debugger.resume');
  await core.waitFor(flowOpened, resumed);
  const [, , back] = await core.waitFor(bindings('busy'), resumed);
  assert.equal(back, '1');
  await b.waitForFunction(() => client.registration.state === 'registered', null, { timeout: LONG, polling: 50 });
  await context.close();
});

test('unshared: resume, offline and online reach the core (checkFlow, setOnline); pagehide unregisters', async () => {
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=unshared&share=0');
  assert.equal(await a.evaluate(() => client.shared), false);
  await a.evaluate(() => client.register());
  const [, conn] = await core.waitFor(bindings('unshared'), start);
  const hasLifecycle = await a.evaluate(() => coreHasLifecycle);
  const cdp = await context.newCDPSession(a);

  const resumed = core.mark();
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  await a.waitForFunction(() => pageEvents.includes('resume'), null, POLL);
  assert.deepEqual(await a.evaluate(() => coreCalls), [['checkFlow']]);
  // With the core's checkFlow (keepAliveInterval is 0: no other pings), a CRLF ping.
  if (hasLifecycle) await core.waitFor(ping(conn), resumed);

  await cdp.send('Network.enable');
  const net = (offline) => cdp.send('Network.emulateNetworkConditions', {
    offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  await net(true);
  await a.waitForFunction(() => pageEvents.includes('offline'), null, POLL);
  await net(false);
  await a.waitForFunction(() => pageEvents.includes('online'), null, POLL);
  assert.deepEqual(await a.evaluate(() => coreCalls),
    [['checkFlow'], ['setOnline', false], ['setOnline', true], ['checkFlow']]);
  // (Chromium's offline emulation also closes the page's WebSocket: the client may
  // be on a new flow now.)
  await a.waitForFunction(() => client.registration.state === 'registered'
    && events.filter((e) => e.type === 'connection').at(-1)?.detail.state === 'connected', null, { ...POLL, timeout: LONG })
    .catch(async (e) => {
      // Say where the client stood: its last connection and registration events.
      const last = await a.evaluate(() => JSON.stringify(events
        .filter((x) => x.type === 'connection' || x.type === 'registration').slice(-8)));
      const now = await a.evaluate(() => JSON.stringify(client.registration) ?? 'undefined');
      throw new Error(`${e.message}\nlast connection/registration events: ${last}\nclient.registration: ${now}`);
    });

  // The page goes away: a best-effort unregister before the socket closes.
  const closing = core.mark();
  await a.close();
  const [, , left] = await core.waitFor(bindings('unshared'), closing);
  assert.equal(left, '0');
  await context.close();
});

test('shared: a resumed tab makes the worker check the flow at once', async (t) => {
  const context = newContext();
  const start = core.mark();
  const a = await openTab(context, 'user=resume');
  if (!(await a.evaluate(() => coreHasLifecycle))) {
    t.skip('the built core has no checkFlow/setOnline yet');
    await context.close();
    return;
  }
  await a.evaluate(() => client.register());
  const [, conn] = await core.waitFor(bindings('resume'), start);
  const cdp = await context.newCDPSession(a);
  const resumed = core.mark();
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  // keepAliveInterval is 0: the only ping is checkFlow's; the tab was not dropped.
  await core.waitFor(ping(conn), resumed);
  assert.equal(core.matches(flowOpened, resumed).length, 0);
  await context.close();
});

for (const shared of [true, false]) {
  test(`${shared ? 'shared' : 'unshared'}: offline, no reconnect attempt until online; online reconnects at once`, async (t) => {
    // A core of its own: it is stopped and started again.
    const own = new Core(`offline-${shared}`);
    await own.start();
    const context = newContext();
    try {
      // A reconnect delay of at most 0.2 s: online, the client would retry many times
      // while the core is down and while it is back but the page is offline.
      const a = await openTab(context, `user=offline&minDelay=0.1&maxDelay=0.2${shared ? '' : '&share=0'}`, own);
      if (!(await a.evaluate(() => coreHasLifecycle))) {
        t.skip('the built core has no checkFlow/setOnline yet');
        return;
      }
      assert.equal(await a.evaluate(() => client.shared), shared);
      await a.evaluate(() => client.register());
      const cdp = await context.newCDPSession(a);
      await cdp.send('Network.enable');
      const net = (offline) => cdp.send('Network.emulateNetworkConditions', {
        offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
      });
      await net(true);
      await a.waitForFunction(() => pageEvents.includes('offline'), null, POLL);
      const connects = () => a.evaluate(() => events.filter((e) => e.type === 'connection' && e.detail.state === 'connecting').length);
      const before = await connects();
      // The core goes away: the flow is lost while offline.
      await own.stop();
      await waitEvents(a, 'connection', { state: 'disconnected' });
      const restarted = own.mark();
      await own.start();
      // Offline: no attempt is scheduled — the client says so (the last `disconnected`
      // has no retryIn; the core's own tests step time to show none comes), and none
      // has been made.
      await a.waitForFunction(() => {
        const c = events.filter((e) => e.type === 'connection');
        const last = c.at(-1);
        return last && last.detail.state === 'disconnected' && last.detail.retryIn === undefined;
      }, null, { timeout: LONG, polling: 50 });
      assert.equal(await connects(), before, 'no connection attempt while offline');
      assert.equal(own.matches(flowOpened, restarted).length, 0);
      // Online: a new flow at once and the registration is restored.
      const connected = (await a.evaluate(() => events.filter((e) => e.type === 'connection' && e.detail.state === 'connected').length));
      await net(false);
      await waitEvents(a, 'connection', { state: 'connected', count: connected + 1 });
      await own.waitFor(flowOpened, restarted);
      await own.waitFor(bindings('offline'), restarted);
    } finally {
      await context.close();
      await own.stop();
    }
  });
}
