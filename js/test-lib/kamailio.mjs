// Kamailio for the Node test suites (js/interop/): whether it can run here, one
// instance per test started and stopped with a kamailio.sh script, and ImClients whose
// frames are left next to Kamailio's log.
import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WebSocket, loadImsip, recordEvents, root } from './client.mjs';

const execFile = promisify(execFileCb);
const { ImClient } = await loadImsip();

/**
 * Why Kamailio cannot run here, or null: the binary ($KAMAILIO, else /usr/sbin or
 * /usr/local/sbin) and each of `modules` in its module path; `apt` says how to install them.
 */
export function missingKamailio({ modules, apt }) {
  const bin = process.env.KAMAILIO
    ?? ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio'].find((p) => existsSync(p));
  if (!bin || !existsSync(bin)) return `kamailio not installed (${apt})`;
  let dirs = [];
  try {
    const info = execFileSync(bin, ['-I'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /Default paths to modules:\s*(\S+)/.exec(info);
    if (m) dirs = m[1].split(':');
  } catch { /* an old binary without -I: fall through */ }
  for (const mod of modules) {
    if (!dirs.some((d) => existsSync(path.join(d, `${mod}.so`)))) {
      return `Kamailio's ${mod} module is missing (${apt}; looked in ${dirs.join(', ') || 'nowhere'})`;
    }
  }
  return null;
}

/**
 * Why the deployment core (deploy/kamailio/) cannot run here, or null: kamailio, the
 * modules its kamailio.cfg loads, and the sqlite3 CLI its kamailio.sh makes the database with.
 */
export function missingDeployKamailio() {
  const reason = missingKamailio({
    modules: ['websocket', 'db_sqlite', 'xmlops', 'msilo', 'sqlops', 'auth_db', 'htable', 'msrp', 'nathelper', 'rr'],
    apt: 'apt-get install -y kamailio kamailio-websocket-modules kamailio-sqlite-modules kamailio-xml-modules sqlite3',
  });
  if (reason) return reason;
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'the sqlite3 CLI is missing (apt-get install -y sqlite3)';
  }
  return null;
}

/**
 * Kamailio instances run by `script` (start [PORT] | stop), each in its own directory
 * (passed in the environment variable `dirEnv`; `clearEnv` are left out of the
 * script's environment) under `<logRoot>/<prefix>-<node pid>/`: concurrent runs never
 * share files. Directories `<prefix>-<pid>` of runs whose process is gone are removed
 * now, after stopping any Kamailio a killed run left behind (by the PIDs in its own
 * files). `start(t, slug)` starts one for test `t` in `<run dir>/<slug>/`, stopped
 * when `t` ends.
 */
export function kamailioRuns({ script, logRoot, dirEnv, clearEnv = [], prefix = 'run' }) {
  const runDir = path.join(logRoot, `${prefix}-${process.pid}`);
  const alive = (pid) => {
    try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
  };
  for (const name of existsSync(logRoot) ? readdirSync(logRoot) : []) {
    const m = /^([\w.-]+)-(\d+)$/.exec(name);
    if (!m || m[1] !== prefix || alive(Number(m[2]))) continue;
    const stale = path.join(logRoot, name);
    for (const slug of readdirSync(stale)) {
      try {
        execFileSync('bash', [script, 'stop'],
          { env: { ...process.env, [dirEnv]: path.join(stale, slug) }, stdio: 'ignore' });
      } catch { /* not a Kamailio directory */ }
    }
    rmSync(stale, { recursive: true, force: true });
  }
  /** `{ dir, url, port, stop(), start(port) → url }`; `start` again after `stop` (a restart). */
  async function start(t, slug) {
    const dir = path.join(runDir, slug);
    mkdirSync(dir, { recursive: true });
    const env = { ...process.env, [dirEnv]: dir };
    for (const name of clearEnv) delete env[name];
    const run = async (...args) => (await execFile('bash', [script, ...args], { env, encoding: 'utf8' })).stdout;
    const url = /ws:\/\/\S+/.exec(await run('start'))[0];
    const k = {
      dir,
      url,
      port: Number(new URL(url).port),
      stop: () => run('stop'),
      start: async (port) => /ws:\/\/\S+/.exec(await run('start', String(port)))[0],
    };
    t.after(() => k.stop());
    return k;
  }
  return { start };
}

/**
 * kamailioRuns for the deployment core (deploy/kamailio/kamailio.sh): one Kamailio and
 * SQLite database per test under target/deploy-kamailio/<prefix>-<node pid>/.
 */
export function deployKamailioRuns({ prefix = 'run' } = {}) {
  return kamailioRuns({
    script: path.join(root, 'deploy', 'kamailio', 'kamailio.sh'),
    logRoot: path.join(root, 'target', 'deploy-kamailio'),
    dirEnv: 'IMSIP_DEPLOY_DIR',
    clearEnv: ['IMSIP_DEPLOY_DB', 'KAMAILIO_DB_URL'],
    prefix,
  });
}

const RECONNECT = { minDelay: 0.2, maxDelay: 1 };
const EVENTS = ['connection', 'registration', 'policy', 'message', 'imdn', 'composing', 'trace'];

/**
 * An ImClient on Kamailio `k` for test `t` (in `c.test`), every event recorded in
 * `c.ev[type]`; closed when `t` ends, its frames then written to <k.dir>/<label>.wire.
 */
export function kamailioClient(t, k, label, options) {
  const c = recordEvents(new ImClient({ server: k.url, reconnect: RECONNECT, webSocket: WebSocket, ...options }), EVENTS);
  c.test = t;
  t.after(() => {
    c.close();
    const wire = c.ev.trace.map((f) => `${f.direction === 'out' ? '>>>' : '<<<'} ${new Date(f.at).toISOString()}\n${f.text}`);
    writeFileSync(path.join(k.dir, `${label}.wire`), wire.join('\n\n'));
  });
  return c;
}
