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
// (every timer fires EARLY_MS early) for the first test.
//
//   node --test tests/robustness/timers.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, loadImsip, freePort } from './lib.mjs';

const { ImClient } = await loadImsip();
const EARLY_MS = 2;
const realSetTimeout = globalThis.setTimeout;

/** Reconnect attempts that show the client's timer is always re-armed. */
const ATTEMPTS = 20;

/**
 * Resolves when a client against a closed port (backoff 50–100 ms) has made
 * ATTEMPTS reconnect attempts. A lost timer means no further attempt ever comes, so
 * the bound (real timers, far above the ~2 s the attempts take) only fails that
 * case; nothing depends on how fast the attempts come.
 */
function reconnectAttempts(boundMs = 60_000) {
  return new Promise((resolve, reject) => {
    freePort().then((port) => { // nothing listens there
      const c = new ImClient({
        server: `ws://127.0.0.1:${port}/sip`, aor: 'sip:alice@imsip.test', password: 'x', publishPolicy: 'never',
        reconnect: { minDelay: 0.05, maxDelay: 0.1 }, webSocket: WebSocket,
      });
      let attempts = 0;
      const bound = realSetTimeout(() => {
        c.close();
        reject(new Error(`only ${attempts} reconnect attempts, then none for ${boundMs / 1000} s: the timer was lost`));
      }, boundMs);
      c.addEventListener('connection', (e) => {
        if (e.detail.state !== 'connecting' || ++attempts < ATTEMPTS) return;
        clearTimeout(bound);
        c.close();
        resolve(attempts);
      });
      c.register().catch(() => {});
    }, reject);
  });
}

test(`every timer firing ${EARLY_MS} ms early: the client keeps reconnecting (${ATTEMPTS} attempts)`, async () => {
  globalThis.setTimeout = (fn, ms, ...args) => realSetTimeout(fn, Math.max(0, (ms ?? 0) - EARLY_MS), ...args);
  try {
    assert.equal(await reconnectAttempts(), ATTEMPTS);
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
});

test(`unpatched timers: the client keeps reconnecting (${ATTEMPTS} attempts; fails when a natural early firing loses the timer)`, async () => {
  assert.equal(await reconnectAttempts(), ATTEMPTS);
});
