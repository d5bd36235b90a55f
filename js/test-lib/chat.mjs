// The chat scenario of issue 16 (CPIM, IMDN, isComposing between two ImClients),
// run against any core: js/test/chat.test.mjs (devcore) and
// js/interop/deploy-chat.test.mjs (the deployment Kamailio). `alice` and `bob` are
// registered clients recording `message`, `imdn` and `composing` in `c.ev` (see
// recordEvents); every wait is for an event, bounded by expectEvent's timeout.
import assert from 'node:assert/strict';
import { expectEvent, fmt } from './client.mjs';

/** Typing, a message asking for delivery and display notifications, both ticks, and a plain reply. */
export async function chatScenario(alice, bob) {
  const aliceUri = 'sip:alice@imsip.test';
  const bobUri = 'sip:bob@imsip.test';

  // Typing: bob sees alice active.
  await alice.setComposing(bobUri, true);
  const active = await expectEvent(bob, 'composing', (c) => c.from === aliceUri && c.state === 'active');
  assert.equal(active.contentType, 'text/plain', fmt(active));

  // The message: CPIM with an id; it ends alice's typing at bob's by itself.
  const text = 'ticks ✓✓ and typing… 👀';
  const sent = await alice.sendMessage(bobUri, text, { imdn: ['delivery', 'display'] });
  assert.equal(sent.status, 200, fmt(sent));
  assert.match(sent.messageId, /^[A-Za-z0-9_-]{16,}$/, fmt(sent));
  const msg = await expectEvent(bob, 'message', (m) => m.messageId === sent.messageId);
  assert.equal(msg.body, text);
  assert.equal(msg.from, aliceUri);
  assert.equal(msg.contentType, 'text/plain;charset=UTF-8');
  assert.deepEqual(msg.imdn, ['delivery', 'display']);
  assert.match(msg.dateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await expectEvent(bob, 'composing', (c) => c.from === aliceUri && c.state === 'idle');

  // Delivered by itself (autoDelivery), displayed when bob's app says so.
  const delivered = await expectEvent(alice, 'imdn', (n) => n.messageId === sent.messageId && n.kind === 'delivery');
  assert.equal(delivered.status, 'delivered', fmt(delivered));
  assert.equal(delivered.from, bobUri);
  assert.equal(alice.ev.imdn.filter((n) => n.kind === 'display').length, 0, 'no display tick before markDisplayed');
  assert.deepEqual(await bob.markDisplayed(msg), { sent: true });
  const displayed = await expectEvent(alice, 'imdn', (n) => n.messageId === sent.messageId && n.kind === 'display');
  assert.equal(displayed.status, 'displayed');
  assert.deepEqual(await bob.markDisplayed(msg.messageId), { sent: false }, 'once only');

  // Bob types, stops; his reply without imdn is plain text with no id.
  await bob.setComposing(aliceUri, true);
  await expectEvent(alice, 'composing', (c) => c.from === bobUri && c.state === 'active');
  await bob.setComposing(aliceUri, false);
  const idle = await expectEvent(alice, 'composing', (c) => c.from === bobUri && c.state === 'idle');
  assert.match(idle.lastActive ?? '', /Z$/, fmt(idle));
  const reply = await bob.sendMessage(aliceUri, 'plain reply');
  assert.equal(reply.messageId, undefined);
  const plain = await expectEvent(alice, 'message', (m) => m.body === 'plain reply');
  assert.equal(plain.contentType, 'text/plain;charset=UTF-8');
  assert.equal(plain.messageId, undefined);
  assert.equal(plain.imdn, undefined);

  // Notifications and indications never show as chat text.
  for (const m of [...alice.ev.message, ...bob.ev.message]) {
    assert.doesNotMatch(m.contentType, /imdn|iscomposing|cpim/, fmt(m));
  }
}
