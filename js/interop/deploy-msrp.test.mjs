// Large messages and chat sessions over MSRP (issue 18) through the DEPLOYMENT Kamailio
// (deploy/kamailio/: state in SQLite, 401 to REGISTER and 407 to every other request,
// the IM Server's settings taking effect). It relays the INVITE sessions between
// registered WebSocket users (record_route + nathelper's contact alias) and is the MSRP
// relay (msrp module, websocket sub_protocols 3 on the same port, AUTH checked against
// the `subscriber` table). The client's options are the defaults: the relay is the
// server's origin with path /msrp. The scenarios are those run through devcore's relay
// and the interop core (js/test-lib/msrp.mjs): 1 MiB byte-exact in large-message mode
// and sendMessage switching by itself; a chat session with 100 messages each way,
// typing and reports, BYE from the caller and from the callee; an invitation cancelled
// while it rings. Then what the deployment adds: bob's published incoming session
// barring refuses alice's startChat (403 with the Warning), and an INVITE to a user who
// is not registered gets 480 (never stored); and, with raw MSRP frames, the relay's AUTH
// takes the passwords of the `subscriber` table only (wrong password, unknown user:
// 401 again). Each test has its own Kamailio and
// database in target/deploy-kamailio/msrp-<node pid>/<test>/ with kamailio.log and
// <client>.wire. Skipped (with the reason) when kamailio, one of its modules or sqlite3
// is missing.
//
//   bash js/build.sh && node --test js/interop/deploy-msrp.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { fmt, loadImsip, received } from '../test-lib/client.mjs';
import { deployKamailioRuns, kamailioClient, missingDeployKamailio } from '../test-lib/kamailio.mjs';
import {
  abortedChatScenario, chatSessionScenario, largeMessageScenario, nextEvent,
} from '../test-lib/msrp.mjs';
import { challengeParams, digestAnswer, header } from '../test-lib/sip.mjs';

globalThis.WebSocket ??= WebSocket;

const { ImError } = await loadImsip();
const DOMAIN = 'imsip.test';

const skipReason = missingDeployKamailio();
const { start: startKamailio } = deployKamailioRuns({ prefix: 'msrp' });
const mk = (t, k, user) => kamailioClient(t, k, user, {
  aor: `sip:${user}@${DOMAIN}`, password: `${user}-secret`, publishPolicy: 'never',
});

async function pair(t, slug) {
  const k = await startKamailio(t, slug);
  const made = [mk(t, k, 'alice'), mk(t, k, 'bob')];
  await Promise.all(made.map((c) => c.register()));
  return made;
}

/** The SIP responses `c` received to its requests of `method` (first lines). */
const answers = (c, method) => c.ev.trace
  .filter((f) => f.direction === 'in' && f.text.startsWith('SIP/2.0 ') && header(f.text, 'CSeq')?.endsWith(` ${method}`))
  .map((f) => f.text.split('\r\n', 1)[0]);

test('a 1 MiB binary body in large-message mode through the deployment arrives byte-exact', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'large');
  await largeMessageScenario(alice, bob);
  // The INVITEs were challenged like every request (407), then accepted.
  const invites = answers(alice, 'INVITE');
  assert.ok(invites.some((a) => a.startsWith('SIP/2.0 407')), invites.join('\n'));
  assert.ok(invites.some((a) => a.startsWith('SIP/2.0 200')), invites.join('\n'));
});

test('a chat session through the deployment: 100 messages each way, typing, reports, BYE from the caller', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'chat-caller-bye');
  await chatSessionScenario(alice, bob, { closer: 'alice' });
});

test('a chat session through the deployment ended by the callee', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'chat-callee-bye');
  await chatSessionScenario(alice, bob, { closer: 'bob' });
});

test('an invitation cancelled through the deployment while it rings', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'chat-cancel');
  await abortedChatScenario(alice, bob);
});

test('incoming session barring: bob publishes it, alice\'s startChat is refused 403 with the Warning', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const [alice, bob] = await pair(t, 'barring');
  const pub = await bob.publishServiceSettings({ entity: `sip:bob@${DOMAIN}`, incomingSessionBarring: true });
  assert.ok(pub.etag, fmt(pub));
  let invited = false;
  const onInvitation = () => { invited = true; };
  bob.addEventListener('invitation', onInvitation);
  await assert.rejects(alice.startChat(`sip:bob@${DOMAIN}`), (e) => {
    assert.ok(e instanceof ImError, fmt(e));
    assert.equal(e.code, 'rejected', fmt(e));
    assert.equal(e.status, 403, fmt(e));
    return true;
  });
  const refusal = received(alice, 'SIP/2.0 403 ');
  assert.equal(refusal.length, 1, refusal.join('\n'));
  assert.match(header(refusal[0], 'CSeq'), / INVITE$/, refusal[0]);
  assert.equal(header(refusal[0], 'Warning'), `399 ${DOMAIN} "incoming session barring active"`, refusal[0]);
  bob.removeEventListener('invitation', onInvitation);
  assert.equal(invited, false, 'no invitation reached bob');

  // The barred user's own sessions still go.
  const ringing = nextEvent(alice, 'invitation');
  const starting = bob.startChat(`sip:alice@${DOMAIN}`);
  const [chat, accepted] = await Promise.all([starting, (await ringing).accept()]);
  assert.equal(chat.state, 'open');
  const ended = nextEvent(accepted, 'ended');
  await chat.close();
  assert.equal((await ended).reason, 'remote');
});

test('an INVITE to a user who is not registered gets 480 (never stored), an unknown user 404', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'offline');
  // carol keeps offline delivery on, then leaves: MESSAGEs would be stored, INVITEs are not.
  const carol = mk(t, k, 'carol');
  await carol.register();
  await carol.publishServiceSettings({ offlineDelivery: true });
  await carol.unregister();
  carol.close();
  const alice = mk(t, k, 'alice');
  await alice.register();
  await assert.rejects(alice.startChat(`sip:carol@${DOMAIN}`), (e) => {
    assert.equal(e.code, 'rejected', fmt(e));
    assert.equal(e.status, 480, fmt(e));
    return true;
  });
  await assert.rejects(alice.startChat(`sip:nobody@${DOMAIN}`), (e) => {
    assert.equal(e.code, 'rejected', fmt(e));
    assert.equal(e.status, 404, fmt(e));
    return true;
  });
});

/** A raw MSRP-over-WebSocket connection to `url` (RFC 7977): `auth(authorization)` → the response frame. */
async function rawMsrp(t, url) {
  const ws = new WebSocket(url, 'msrp');
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const frames = [];
  let waiting = null;
  ws.on('message', (data) => { frames.push(data.toString()); waiting?.(); });
  let n = 0;
  const relay = `msrp://${new URL(url).host};tcp`;
  return {
    relay,
    async auth(authorization) {
      const tid = `t${++n}x${process.pid}`;
      ws.send(['MSRP ' + tid + ' AUTH', `To-Path: ${relay}`, 'From-Path: msrp://raw.invalid:2855/rawsess;ws',
        ...(authorization ? [`Authorization: ${authorization}`] : []), `-------${tid}$`, ''].join('\r\n'));
      const mine = () => frames.find((f) => f.startsWith(`MSRP ${tid} `));
      while (!mine()) await new Promise((r) => { waiting = r; });
      return mine();
    },
  };
}

const msrpStatus = (frame) => Number(frame.split(' ', 3)[2]);

test('raw MSRP AUTH: a digest checked against the subscriber table (wrong password, unknown user: 401), then Use-Path', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const k = await startKamailio(t, 'auth');
  const c = await rawMsrp(t, k.url.replace(/\/sip$/, '/msrp'));
  const first = await c.auth();
  assert.equal(msrpStatus(first), 401, first);
  const challenge = header(first, 'WWW-Authenticate');
  assert.equal(challengeParams(challenge).realm, DOMAIN, first);

  const wrong = await c.auth(digestAnswer(challenge, 'AUTH', c.relay, `carol@${DOMAIN}`, 'not-the-password'));
  assert.equal(msrpStatus(wrong), 401, wrong);
  const unknown = await c.auth(digestAnswer(header(wrong, 'WWW-Authenticate'), 'AUTH', c.relay, `nobody@${DOMAIN}`, 'nobody-secret'));
  assert.equal(msrpStatus(unknown), 401, unknown);
  // carol: in the subscriber table only (no SIP registration, no client).
  const ok = await c.auth(digestAnswer(header(unknown, 'WWW-Authenticate'), 'AUTH', c.relay, `carol@${DOMAIN}`, 'carol-secret'));
  assert.equal(msrpStatus(ok), 200, ok);
  assert.match(header(ok, 'Use-Path'), new RegExp(`^msrp://127\\.0\\.0\\.1:${k.port}/\\S+;tcp$`), ok);
  assert.match(header(ok, 'Expires') ?? '', /^\d+$/, ok);
});
