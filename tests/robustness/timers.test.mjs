// A timer that fires a little early must not stop the client (issue "Robustness",
// found while injecting faults).
//
// Node's setTimeout measures time with libuv's cached loop clock (whole ms, taken at
// the start of the loop iteration), so measured with performance.now() a timer
// often fires a fraction of a millisecond — under load a few ms — before its delay.
// The binding arms one timer for the user agent's next wake-up `at` and feeds
// Input::Timeout when it fires, with now = floor(performance.now()). When that is
// still < at, nothing is due; the core then re-arms only if the next wake-up
// *changed*, which it has not, so no timer is left at all: reconnection, refresh,
// keep-alive and Timer F stop until some frame happens to arrive.
//
// This file runs in its own process because it replaces globalThis.setTimeout
// (every timer fires EARLY_MS early) for the second test.
//
//   node --test tests/robustness/timers.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, loadImsip, freePort, sleep } from './lib.mjs';

const { ImClient } = await loadImsip();
const EARLY_MS = 2;
const realSetTimeout = globalThis.setTimeout;

/** Reconnect attempts of a client against a closed port during `ms`, and timer statistics. */
async function reconnectAttempts(ms) {
  const port = await freePort(); // nothing listens there
  const c = new ImClient({
    server: `ws://127.0.0.1:${port}/sip`, aor: 'sip:alice@imsip.test', password: 'x', publishPolicy: 'never',
    reconnect: { minDelay: 0.05, maxDelay: 0.1 }, webSocket: WebSocket,
  });
  let attempts = 0;
  let last = performance.now();
  c.addEventListener('connection', (e) => {
    if (e.detail.state === 'connecting') { attempts++; last = performance.now(); }
  });
  c.register().catch(() => {});
  await new Promise((r) => realSetTimeout(r, ms));
  const idle = Math.round(performance.now() - last);
  c.close();
  return { attempts, idle };
}

test('observed: how often Node fires a setTimeout before its delay (performance.now clock)', async (t) => {
  let early = 0;
  const n = 400;
  for (let i = 0; i < n; i++) {
    const d = 1 + (i % 7);
    const at = performance.now();
    await new Promise((r) => realSetTimeout(() => { if (performance.now() - at < d) early++; r(); }, d));
  }
  t.diagnostic(`${early} of ${n} timers fired before their delay had elapsed`);
  // Informative only: the next test makes the condition deterministic.
});

test('every timer firing 2 ms early: the client keeps reconnecting (backoff 50–100 ms)', async (t) => {
  globalThis.setTimeout = (fn, ms, ...args) => realSetTimeout(fn, Math.max(0, (ms ?? 0) - EARLY_MS), ...args);
  try {
    const { attempts, idle } = await reconnectAttempts(3000);
    t.diagnostic(`${attempts} reconnect attempts in 3 s; the last one ${idle} ms before the end`);
    // 3 s / ≤ 100 ms per attempt: well over 20 when the timer is always re-armed.
    assert.ok(attempts >= 20, `only ${attempts} reconnect attempts in 3 s (none for the last ${idle} ms): the timer was lost`);
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
});

test('unpatched timers: the client keeps reconnecting for 3 s (fails when a natural early firing loses the timer)', async (t) => {
  const { attempts, idle } = await reconnectAttempts(3000);
  t.diagnostic(`${attempts} reconnect attempts in 3 s; the last one ${idle} ms before the end`);
  assert.ok(attempts >= 20 && idle < 500, `only ${attempts} reconnect attempts in 3 s (none for the last ${idle} ms): the timer was lost`);
  await sleep(0);
});
