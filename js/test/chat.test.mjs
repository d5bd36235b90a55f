// Chat semantics in pager mode end to end (issue 16): two ImClients of the built
// package (pkg/) through imsip-devcore: typing indications (RFC 3994), a message in
// CPIM asking for delivery and display notifications (RFC 5438) and both ticks, a
// plain reply; and an app that does not read typing indications is not broken by
// them. The scenario is js/test-lib/chat.mjs, also run against Kamailio.
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/test/chat.test.mjs
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { loadImsip, recordEvents } from '../test-lib/client.mjs';
import { chatScenario } from '../test-lib/chat.mjs';
import { USERS, devcoreForFile } from '../test-lib/devcore.mjs';

const { ImClient } = await loadImsip();

const devcore = devcoreForFile('chat');
const { clients } = devcore;

function client(t, user) {
  const c = recordEvents(new ImClient({ server: devcore.server, publishPolicy: 'never', webSocket: WebSocket, ...USERS[user] }), ['message', 'imdn', 'composing']);
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
