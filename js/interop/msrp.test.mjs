// Large messages and chat sessions over MSRP (issue 18) through Kamailio: the interop
// core (tests/interop/kamailio.cfg) relays the INVITE sessions between registered
// WebSocket users and is the MSRP relay (msrp module, websocket sub_protocols 3, AUTH
// with the SIP users' digest). The scenarios are those run through devcore's relay
// (js/test-lib/msrp.mjs): 1 MiB byte-exact in large-message mode, sendMessage
// switching by itself, a chat session with 100 messages each way, typing and
// reports, BYE from either side. The client's options are the defaults: the relay is
// the server's origin (Kamailio takes MSRP on the same port). Skipped (with the
// reason) when kamailio or its websocket/msrp modules are missing.
//
//   bash js/build.sh && node --test js/interop/msrp.test.mjs
import { test } from 'node:test';
import path from 'node:path';
import { WebSocket } from 'ws';
import { root } from '../test-lib/client.mjs';
import { kamailioClient, kamailioRuns, missingKamailio } from '../test-lib/kamailio.mjs';
import {
  abortedChatScenario, chatSessionScenario, cuttingRelay, droppedTransferScenario, largeMessageScenario,
} from '../test-lib/msrp.mjs';

globalThis.WebSocket ??= WebSocket;

const skipReason = missingKamailio({
  modules: ['websocket', 'msrp', 'rr', 'nathelper'],
  apt: 'apt-get install -y kamailio kamailio-websocket-modules',
});
const { start: startKamailio } = kamailioRuns({
  script: path.join(root, 'tests', 'interop', 'kamailio.sh'),
  logRoot: path.join(root, 'target', 'interop-kamailio'),
  dirEnv: 'IMSIP_INTEROP_DIR',
  prefix: 'msrp',
});

async function pair(t, slug, { cutAfter } = {}) {
  const k = await startKamailio(t, slug);
  // Kamailio takes MSRP on its SIP port (websocket sub_protocols 3), any path.
  const relay = cutAfter === undefined ? undefined : await cuttingRelay(t, k.url.replace(/\/sip$/, '/msrp'), cutAfter);
  const made = ['alice', 'bob'].map((user) => kamailioClient(t, k, user, {
    aor: `sip:${user}@imsip.test`, password: `${user}-secret`, publishPolicy: 'never',
    ...(user === 'alice' && relay ? { msrpRelay: { url: relay, uri: `msrp://127.0.0.1:${k.port};ws` } } : {}),
  }));
  await Promise.all(made.map((c) => c.register()));
  return made;
}

test('a 1 MiB binary body in large-message mode through Kamailio arrives byte-exact', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'large');
  await largeMessageScenario(alice, bob);
});

test('a chat session through Kamailio: 100 messages each way, typing, reports, BYE from the caller', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'chat-caller-bye');
  await chatSessionScenario(alice, bob, { closer: 'alice' });
});

test('a chat session through Kamailio ended by the callee', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'chat-callee-bye');
  await chatSessionScenario(alice, bob, { closer: 'bob' });
});

test('an invitation cancelled through Kamailio while it rings', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'chat-cancel');
  await abortedChatScenario(alice, bob);
});

test('a relay connection dropped mid-transfer through Kamailio fails the transfer (transport), and the next one goes', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'drop', { cutAfter: 40 });
  await droppedTransferScenario(alice, bob);
});
