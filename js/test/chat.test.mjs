// Chat semantics in pager mode end to end (issue 16): two ImClients of the built
// package (pkg/) through imsip-devcore: typing indications (RFC 3994), a message in
// CPIM asking for delivery and display notifications (RFC 5438) and both ticks, a
// plain reply; and an app that does not read typing indications is not broken by
// them. The scenario is js/test-lib/chat.mjs, also run against Kamailio.
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/test/chat.test.mjs
import { test, before, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { loadImsip, recordEvents } from '../test-lib/client.mjs';
import { chatScenario } from '../test-lib/chat.mjs';
import { USERS, startDevcore } from '../test-lib/devcore.mjs';
import { freePort, waitForPort } from '../test-lib/net.mjs';

const { ImClient } = await loadImsip();

let dir;
let core;
let server;
const clients = [];

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'imsip-chat-'));
  const port = await freePort();
  server = `ws://127.0.0.1:${port}/sip`;
  core = startDevcore({ port, db: path.join(dir, 'devcore.sqlite'), stderr: process.env.IMSIP_E2E_LOG ? 'inherit' : 'ignore' });
  await waitForPort(port);
});

after(async () => {
  for (const c of clients) c.close();
  await core?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function client(t, user) {
  const c = recordEvents(new ImClient({ server, publishPolicy: 'never', webSocket: WebSocket, ...USERS[user] }), ['message', 'imdn', 'composing']);
  c.test = t;
  clients.push(c);
  return c;
}

test('typing, a message with delivery and display ticks, and a plain reply through devcore', async (t) => {
  const alice = client(t, 'alice');
  const bob = client(t, 'bob');
  await Promise.all([alice.register(), bob.register()]);
  await chatScenario(alice, bob);
  for (const c of [alice, bob]) await c.unregister();
});
