// imsip-devcore for the Node test suites: started on a loopback port, stopped by PID.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { removeTempDir } from './tmp.mjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { root } from './client.mjs';
import { freePort, waitForPort } from './net.mjs';

/** The dev core's binary: target/debug/imsip-devcore (cargo build -p imsip-devcore), or $IMSIP_DEVCORE. */
export const bin = process.env.IMSIP_DEVCORE ?? path.join(root, 'target', 'debug', 'imsip-devcore');

/**
 * imsip-devcore on 127.0.0.1:port with `db`. `stderr`: 'ignore', 'inherit', 'pipe'
 * (collected in core.log) or a file descriptor. Stopped by PID only (kill9 / stop).
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
    /** SIGTERM (SIGKILL after 3 s), resolves when the process is gone. */
    async stop() {
      if (core.alive) p.kill('SIGTERM');
      const t = setTimeout(() => core.alive && p.kill('SIGKILL'), 3000);
      await core.exited;
      clearTimeout(t);
    },
  };
  p.once('exit', () => { core.alive = false; });
  if (stderr === 'pipe') {
    p.stderr.on('data', (d) => { core.log += d.toString('utf8'); });
    /** Resolves when the whole log has been read (the process gone, its stderr closed). */
    core.logComplete = new Promise((resolve) => p.stderr.once('close', resolve));
  }
  return core;
}

/** Users of the dev core's default users file (devcore/users.toml), as ImClient options. */
export const USERS = {
  alice: { aor: 'sip:alice@imsip.test', password: 'alice-secret' },
  bob: { aor: 'sip:bob@imsip.test', password: 'bob-secret' },
  carol: {
    aor: 'sip:carol@imsip.test',
    aka: { k: '465b5ce8b199b49faa5f0a2ee238a6bc', op: 'cdc202d5123e20f62b6d676ac72cb318', amf: 'b9b9' },
  },
};

/**
 * One devcore for the tests of a file: started before them (fresh database in a
 * temporary directory named `imsip-<prefix>-…`), stopped after them, when the clients
 * pushed on `clients` are closed first. The returned object's `port` and `server`
 * (`ws://127.0.0.1:PORT/sip`) are set once it listens.
 */
export function devcoreForFile(prefix) {
  const shared = { port: 0, server: '', clients: [] };
  let dir;
  let core;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), `imsip-${prefix}-`));
    shared.port = await freePort();
    shared.server = `ws://127.0.0.1:${shared.port}/sip`;
    core = startDevcore({
      port: shared.port, db: path.join(dir, 'devcore.sqlite'), stderr: process.env.IMSIP_E2E_LOG ? 'inherit' : 'ignore',
    });
    await waitForPort(shared.port);
  });
  after(async () => {
    for (const c of shared.clients) c.close();
    await core?.stop();
    if (dir) removeTempDir(dir);
  });
  return shared;
}
