// Shared helpers of the robustness suite (tests/robustness/): the built package,
// `ws` from js/node_modules, imsip-devcore started and killed by PID on a free
// loopback port, a freezable TCP proxy, event waiters, users files, Milenage.
// Loopback only; nothing here rebuilds anything.
import { spawn } from 'node:child_process';
import { createHash, createCipheriv } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'js', 'package.json'));
/** `ws` 8.x as installed by js/package-lock.json. */
export const { WebSocket, WebSocketServer } = require('ws');

export const bin = process.env.IMSIP_DEVCORE ?? path.join(root, 'target', 'debug', 'imsip-devcore');
export const entry = process.env.IMSIP_PKG ?? path.join(root, 'pkg', 'imsip.js');

/** The package (init() done). */
export async function loadImsip() {
  const m = await import(pathToFileURL(entry).href);
  await m.default();
  return m;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function waitForPort(port, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** Writes a devcore users file with userFIRST..userLAST (passwords pw-userNNNN). */
export function writeUsers(file, count, extra = '') {
  const lines = ['domain = "imsip.test"', 'realm = "imsip.test"', ''];
  for (let i = 0; i < count; i++) {
    const u = `user${String(i).padStart(4, '0')}`;
    lines.push('[[user]]', `aor = "sip:${u}@imsip.test"`, `password = "pw-${u}"`, '');
  }
  writeFileSync(file, lines.join('\n') + extra);
}

/**
 * imsip-devcore on 127.0.0.1:port with `db`. `stderr`: 'ignore', 'pipe' (collected
 * in core.log) or a file descriptor. Stopped by PID only (kill9 / stop).
 */
export function startDevcore({ port, db, users, args = [], rustLog = 'warn', stderr = 'ignore' }) {
  if (!existsSync(bin)) throw new Error(`build devcore first (cargo build -p imsip-devcore): ${bin}`);
  const argv = ['--listen', `127.0.0.1:${port}`, '--db', db, ...(users ? ['--users', users] : []), ...args];
  const p = spawn(bin, argv, { cwd: root, stdio: ['ignore', 'ignore', stderr], env: { ...process.env, RUST_LOG: rustLog } });
  const core = {
    proc: p,
    pid: p.pid,
    log: '',
    exited: new Promise((resolve) => p.once('exit', (code, signal) => resolve({ code, signal }))),
    alive: true,
    /** SIGKILL, resolves when the process is gone. */
    async kill9() {
      if (core.alive) p.kill('SIGKILL');
      await core.exited;
    },
    async stop() {
      if (core.alive) p.kill('SIGTERM');
      const t = setTimeout(() => core.alive && p.kill('SIGKILL'), 3000);
      await core.exited;
      clearTimeout(t);
    },
  };
  p.once('exit', () => { core.alive = false; });
  if (stderr === 'pipe') p.stderr.on('data', (d) => { core.log += d.toString('utf8'); });
  return core;
}

/**
 * A TCP proxy 127.0.0.1:listen → 127.0.0.1:target. `freeze()` stops forwarding in
 * both directions on every current connection without closing anything (the
 * sockets are paused: bytes stay in the kernel buffers); connections made later
 * pass normally. `thaw()` resumes the frozen ones.
 */
export async function startProxy(target) {
  const pairs = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(target, '127.0.0.1');
    const pair = { down, up, frozen: false, pendingClose: false };
    pairs.add(pair);
    const end = () => {
      if (pair.frozen) { pair.pendingClose = true; return; }
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    const fwd = (from, to) => {
      from.on('data', (d) => { if (!to.destroyed) to.write(d); });
      from.on('close', end);
      from.on('error', end);
    };
    fwd(down, up);
    fwd(up, down);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const proxy = {
    port: server.address().port,
    get connections() { return pairs.size; },
    freeze() {
      for (const p of pairs) { p.frozen = true; p.down.pause(); p.up.pause(); }
    },
    thaw() {
      for (const p of [...pairs]) {
        if (!p.frozen) continue;
        p.frozen = false;
        p.down.resume();
        p.up.resume();
        if (p.pendingClose) { pairs.delete(p); p.down.destroy(); p.up.destroy(); }
      }
    },
    /** Destroys every connection (both sides). */
    cut() {
      for (const p of pairs) { p.down.destroy(); p.up.destroy(); }
      pairs.clear();
    },
    close() {
      proxy.cut();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return proxy;
}

/** Resolves with the detail of the next `type` event matching `pred`, or rejects after `ms`. */
export function next(target, type, pred = () => true, ms = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      reject(new Error(`no matching ${type} event in ${ms} ms`));
    }, ms);
    const on = (e) => {
      if (!pred(e.detail)) return;
      clearTimeout(timer);
      target.removeEventListener(type, on);
      resolve(e.detail);
    };
    target.addEventListener(type, on);
  });
}

/** `p` or a rejection `Error('hung: …')` after `ms`. */
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`hung: ${what} not settled in ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

export const md5 = (s) => createHash('md5').update(s).digest('hex');
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

// ───────────── Milenage (3GPP TS 35.206) with node:crypto AES-128 ─────────────

const aes = (k, x) => {
  const c = createCipheriv('aes-128-ecb', k, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(x), c.final()]);
};
const xor = (a, b) => Buffer.from(a.map((v, i) => v ^ b[i]));
const rotBytes = (x, n) => Buffer.concat([x.subarray(n), x.subarray(0, n)]);
const cst = (last) => { const b = Buffer.alloc(16); b[15] = last; return b; };

/** OPc, RES (f2), CK (f3), IK (f4), AK (f5) for K/OP (hex) and RAND (Buffer). */
export function milenage(kHex, opHex, rand) {
  const k = Buffer.from(kHex, 'hex');
  const op = Buffer.from(opHex, 'hex');
  const opc = xor(aes(k, op), op);
  const temp = aes(k, xor(rand, opc));
  const out = (r, c) => xor(aes(k, xor(rotBytes(xor(temp, opc), r), cst(c))), opc);
  const out2 = out(0, 1);
  return {
    opc: opc.toString('hex'),
    res: out2.subarray(8, 16).toString('hex'),
    ak: out2.subarray(0, 6).toString('hex'),
    ck: out(4, 2).toString('hex'),
    ik: out(8, 4).toString('hex'),
  };
}
