// Chat semantics in pager mode (issue 16) through the DEPLOYMENT Kamailio
// (deploy/kamailio/: 401 to REGISTER, 407 to every other request, MESSAGEs relayed to
// the registered contact): the same scenario as js/test/chat.test.mjs on devcore
// (js/test-lib/chat.mjs): typing both ways, a CPIM message asking for delivery and
// display notifications and both ticks, a plain reply. Kamailio relays the CPIM,
// IMDN and isComposing bodies untouched; each request is challenged 407 as Kamailio does, and none is refused.
// Skipped (with the reason) when kamailio, one of its modules or sqlite3 is missing.
//
//   bash js/build.sh && node --test js/interop/deploy-chat.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { chatScenario } from '../test-lib/chat.mjs';
import { deployKamailioRuns, kamailioClient, missingDeployKamailio } from '../test-lib/kamailio.mjs';

globalThis.WebSocket ??= WebSocket;

const skipReason = missingDeployKamailio();
const { start: startKamailio } = deployKamailioRuns({ prefix: 'chat' });
const mk = (t, k, user) => kamailioClient(t, k, user, {
  aor: `sip:${user}@imsip.test`, password: `${user}-secret`, publishPolicy: 'never',
});

test('typing, a message with delivery and display ticks, and a plain reply through Kamailio', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'chat');
  const alice = mk(t, k, 'alice');
  const bob = mk(t, k, 'bob');
  await Promise.all([alice.register(), bob.register()]);
  await chatScenario(alice, bob);
  // Kamailio challenged (407), the clients answered, and nothing was refused.
  for (const c of [alice, bob]) {
    const answers = c.ev.trace.filter((f) => f.direction === 'in' && f.text.startsWith('SIP/2.0 ')).map((f) => f.text.split('\r\n', 1)[0]);
    assert.ok(answers.some((a) => a.startsWith('SIP/2.0 407')), answers.join('\n'));
    const refused = answers.filter((a) => !/^SIP\/2\.0 (1\d\d|2\d\d|401|407) /.test(a));
    assert.deepEqual(refused, [], 'no request refused');
  }
});
