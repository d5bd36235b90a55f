// Large messages and chat sessions over MSRP (issue 18) end to end: two ImClients of
// the built package (pkg/) through imsip-devcore, whose relay at /msrp carries the
// MSRP sessions (RFC 4976 AUTH, RFC 7977). The scenarios are js/test-lib/msrp.mjs,
// also run through Kamailio (js/interop/msrp.test.mjs).
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/test/msrp.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocket } from 'ws';
import { loadImsip } from '../test-lib/client.mjs';
import { USERS, devcoreForFile } from '../test-lib/devcore.mjs';
import {
  abortedChatScenario, chatSessionScenario, cuttingRelay, declinedChatScenario, droppedTransferScenario, largeMessageScenario, nextEvent,
} from '../test-lib/msrp.mjs';

const { ImClient, ImError } = await loadImsip();

const devcore = devcoreForFile('msrp');
const { clients } = devcore;

/** A registered alice and bob, gone when test `t` ends (an invitation forks to every bob registered). */
async function pair(t, aliceOptions = {}, bobOptions = {}) {
  const made = ['alice', 'bob'].map((u) => new ImClient({
    server: devcore.server, publishPolicy: 'never', webSocket: WebSocket, ...USERS[u], ...(u === 'alice' ? aliceOptions : bobOptions),
  }));
  clients.push(...made);
  t.after(async () => {
    await Promise.all(made.map((c) => c.unregister().catch(() => {})));
    for (const c of made) c.close();
  });
  await Promise.all(made.map((c) => c.register()));
  return made;
}

test('a 1 MiB binary body in large-message mode arrives byte-exact; sendMessage switches by itself', async (t) => {
  const [alice, bob] = await pair(t);
  await largeMessageScenario(alice, bob);
});

test('a chat session: 100 messages each way with typing and reports, BYE from the caller', async (t) => {
  const [alice, bob] = await pair(t);
  await chatSessionScenario(alice, bob, { closer: 'alice' });
});

test('a chat session ended by the callee', async (t) => {
  const [alice, bob] = await pair(t);
  await chatSessionScenario(alice, bob, { closer: 'bob' });
});

test('a declined invitation rejects startChat with its status', async (t) => {
  const [alice, bob] = await pair(t);
  await declinedChatScenario(alice, bob);
});

test('a relay that drops the WebSocket mid-transfer fails the transfer cleanly (transport), and the next one goes', async (t) => {
  const relay = await cuttingRelay(t, `ws://127.0.0.1:${devcore.port}/msrp`, 40);
  const [alice, bob] = await pair(t, { msrpRelay: relay });
  await droppedTransferScenario(alice, bob);
});

test('a relay dropping the receiver mid-transfer fails the sender cleanly, nothing surfaces', async (t) => {
  // bob's socket is cut once he has answered a few chunks: his side ends the session
  // (BYE), alice's transfer fails with a typed error, bob gets no partial message.
  const relay = await cuttingRelay(t, `ws://127.0.0.1:${devcore.port}/msrp`, 12);
  const [alice, bob] = await pair(t, {}, { msrpRelay: relay });
  const large = [];
  bob.addEventListener('message', (e) => { if (e.detail.largeMessage) large.push(e.detail); });
  await assert.rejects(
    alice.sendLargeMessage('sip:bob@imsip.test', new Uint8Array(1024 * 1024), { contentType: 'application/octet-stream' }),
    (e) => e instanceof ImError && ['transport', 'rejected'].includes(e.code),
  );
  assert.equal(large.length, 0);
  // Both sides are usable again: a small one goes (bob's relay now lets it through).
  const arrived = nextEvent(bob, 'message', (d) => d.largeMessage);
  await alice.sendLargeMessage('sip:bob@imsip.test', new Uint8Array(3000).fill(1), { contentType: 'application/octet-stream' });
  assert.equal((await arrived).body.length, 3000);
});

test('startChat aborted while it rings rejects cancelled; the callee sees invitationended', async (t) => {
  const [alice, bob] = await pair(t);
  await abortedChatScenario(alice, bob);
});

test('without an invitation listener an invitation is declined at once (480)', async (t) => {
  const [alice, bob] = await pair(t);
  void bob;
  await assert.rejects(alice.startChat('sip:bob@imsip.test'), (e) => e instanceof ImError && e.code === 'rejected' && e.status === 480);
});

test('a relay whose WebSocket never opens: given up after connectTimeout; a large text goes as a MESSAGE, sendLargeMessage and startChat fail transport', async (t) => {
  // Accepts TCP and never answers the upgrade: the socket stays connecting.
  const held = [];
  const silent = net.createServer((s) => held.push(s));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { for (const s of held) s.destroy(); silent.close(() => r()); }));
  const relay = `ws://127.0.0.1:${silent.address().port}/msrp`;
  const [alice, bob] = await pair(t, { msrpRelay: relay, connectTimeout: 1 });
  const text = 'x'.repeat(2000); // above largeMessageThreshold (1300)
  const arrived = nextEvent(bob, 'message', (d) => d.body === text);
  const sent = await alice.sendMessage('sip:bob@imsip.test', text);
  assert.equal(sent.status, 200);
  assert.equal(sent.largeMessage, undefined, 'sent as a MESSAGE after all');
  assert.equal((await arrived).largeMessage, undefined);
  assert.equal(held.length, 1, 'the relay socket was tried first');
  await assert.rejects(alice.sendLargeMessage('sip:bob@imsip.test', new Uint8Array(4000)),
    (e) => e instanceof ImError && e.code === 'transport');
  await assert.rejects(alice.startChat('sip:bob@imsip.test'), (e) => e instanceof ImError && e.code === 'transport');
  assert.equal(held.length, 3);
});
