// Shared helpers of the robustness suite (tests/robustness/): the built package,
// `ws` from js/node_modules, imsip-devcore started and killed by PID on a free
// loopback port, event waiters and digest hashes (all from js/test-lib/, the helpers
// of every Node test suite), plus a freezable TCP proxy, users files, Milenage.
// Loopback only; nothing here rebuilds anything.
import { createCipheriv } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';

export { WebSocket, WebSocketServer, root, entry, loadImsip, next } from '../../js/test-lib/client.mjs';
export { bin, startDevcore } from '../../js/test-lib/devcore.mjs';
export { sleep, freePort, waitForPort, withTimeout } from '../../js/test-lib/net.mjs';
export { md5, sha256 } from '../../js/test-lib/sip.mjs';

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
 * A TCP proxy 127.0.0.1:listen → 127.0.0.1:target. `freeze()` stops forwarding in
 * both directions on every current connection without closing anything: what
 * arrives is held in the proxy (`held(side)`: the bytes from the `client` or the
 * `core` side, as text) and a closing side is remembered; connections made later
 * pass normally. `thaw()` delivers what was held and resumes the frozen ones.
 * `onChange` is called whenever bytes are held, so a test can wait for the core
 * to have sent something without polling.
 */
export async function startProxy(target, { onChange = () => {} } = {}) {
  const pairs = new Set();
  const server = net.createServer((down) => {
    const up = net.connect(target, '127.0.0.1');
    // held.client: bytes from the client (down) for the core; held.core: the reverse.
    const pair = { down, up, frozen: false, pendingClose: false, held: { client: [], core: [] } };
    pairs.add(pair);
    const end = () => {
      if (pair.frozen) { pair.pendingClose = true; return; }
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    const fwd = (from, to, side) => {
      from.on('data', (d) => {
        if (pair.frozen) {
          pair.held[side].push(d);
          onChange();
        } else if (!to.destroyed) {
          to.write(d);
        }
      });
      from.on('close', end);
      from.on('error', end);
    };
    fwd(down, up, 'client');
    fwd(up, down, 'core');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const proxy = {
    port: server.address().port,
    get connections() { return pairs.size; },
    freeze() {
      for (const p of pairs) p.frozen = true;
    },
    /** What the frozen connections hold from `side` ('client' or 'core'), as text. */
    held(side) {
      return [...pairs].map((p) => Buffer.concat(p.held[side]).toString('latin1')).join('');
    },
    thaw() {
      for (const p of [...pairs]) {
        if (!p.frozen) continue;
        p.frozen = false;
        if (!p.up.destroyed) for (const d of p.held.client) p.up.write(d);
        if (!p.down.destroyed) for (const d of p.held.core) p.down.write(d);
        p.held = { client: [], core: [] };
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
