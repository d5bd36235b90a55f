// imsip-devcore for the Node test suites: started on a loopback port, stopped by PID.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { root } from './client.mjs';

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
  if (stderr === 'pipe') p.stderr.on('data', (d) => { core.log += d.toString('utf8'); });
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
