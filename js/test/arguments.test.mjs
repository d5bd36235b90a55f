// Arguments the core cannot read (a getter or proxy trap that throws, a detached buffer,
// a symbol or a function where data belongs): each call is refused `bad_input` naming
// the part, and the client goes on working. Before, such an argument threw its own
// error from inside the WebAssembly core, which skipped the core's cleanup: the client
// stayed "busy" for every later call. The built package (pkg/) against imsip-devcore.
//
//   cargo build -p imsip-devcore && js/build.sh && node --test js/test/arguments.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { loadImsip, next } from '../test-lib/client.mjs';
import { USERS, devcoreForFile } from '../test-lib/devcore.mjs';

const { ImClient, ImError, encodeServiceSettings } = await loadImsip();

const devcore = devcoreForFile('js-args');
const { clients } = devcore;

/** An object whose every read, key listing and `in` throws. */
const trap = () => new Proxy({}, {
  get() { throw new Error('get trap'); },
  has() { throw new Error('has trap'); },
  ownKeys() { throw new Error('ownKeys trap'); },
});
/** `base` with an enumerable `key` whose getter throws. */
function throwingGetter(key, base = {}) {
  const o = { ...base };
  delete o[key];
  return Object.defineProperty(o, key, { enumerable: true, get() { throw new Error(`getter ${key}`); } });
}
/** A Uint8Array whose buffer was transferred away. */
function detached() {
  const buffer = new ArrayBuffer(8);
  const view = new Uint8Array(buffer);
  structuredClone(buffer, { transfer: [buffer] });
  return view;
}

function client(user) {
  const c = new ImClient({ server: devcore.server, publishPolicy: 'never', webSocket: WebSocket, ...USERS[user] });
  clients.push(c);
  return c;
}

/** `e` is a bad_input ImError whose message names `path` (and says why). */
function refused(path, why) {
  return (e) => {
    assert.ok(e instanceof ImError, `an ImError, not ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, 'bad_input', e.message);
    assert.ok(e.message.startsWith(`invalid input: ${path}: cannot be read: `), e.message);
    if (why) assert.match(e.message, why);
    return true;
  };
}

test('the constructor: an option that cannot be read is refused naming it; nothing is left behind', () => {
  const base = { server: devcore.server, webSocket: WebSocket, ...USERS.alice };
  const cases = [
    ['options', trap(), /ownKeys trap/],
    ['aor', throwingGetter('aor', base), /getter aor/],
    ['serviceSettings.visibility', { ...base, serviceSettings: throwingGetter('visibility') }, /getter visibility/],
    ['aka.k', { server: devcore.server, aor: USERS.alice.aor, aka: throwingGetter('k') }, /getter k/],
    ['msrpRelay', { ...base, msrpRelay: trap() }, /ownKeys trap/],
    ['server', { ...base, server: Symbol('ws') }],
    ['expires', { ...base, expires: () => 3600 }],
    ['webSocket', { ...base, webSocket: Symbol('ws') }],
    ['share', throwingGetter('share', base), /getter share/],
  ];
  for (const [path, options, why] of cases) assert.throws(() => new ImClient(options), refused(path, why), path);
  // What the core itself refuses is still refused in its own words.
  assert.throws(() => new ImClient({ ...base, expirse: 60 }), (e) => e.code === 'bad_input' && /did you mean expires/.test(e.message));
});

test('commands: an argument that cannot be read is refused naming it, and the client goes on working', async () => {
  const alice = client('alice');
  const bob = client('bob');
  await Promise.all([alice.register(), bob.register()]);
  const bobUri = USERS.bob.aor;
  const cases = [
    ['options', () => alice.sendMessage(bobUri, 'hi', trap()), /ownKeys trap/],
    ['options.imdn', () => alice.sendMessage(bobUri, 'hi', throwingGetter('imdn')), /getter imdn/],
    ['body', () => alice.sendMessage(bobUri, detached()), /detached/],
    ['to', () => alice.sendMessage(Symbol('bob'), 'hi')],
    ['settings', () => alice.publishServiceSettings(trap()), /ownKeys trap/],
    ['settings.visibility', () => alice.publishServiceSettings(throwingGetter('visibility')), /getter visibility/],
    ['options.expires', () => alice.publishServiceSettings({ visibility: true }, throwingGetter('expires')), /getter expires/],
    ['query', () => alice.fetchHistory(trap())],
    ['message', () => alice.markDisplayed(trap()), /has trap/],
    ['to', () => alice.setComposing(trap(), true)],
    ['headers', () => alice.setExtraHeaders(trap())],
    ['options', () => alice.sendLargeMessage(bobUri, 'x', trap()), /has trap/],
    ['body', () => alice.sendLargeMessage(bobUri, detached()), /detached/],
    ['body', () => alice.sendLargeMessage(bobUri, Object.create(Blob.prototype))],
    ['options', () => alice.startChat(bobUri, trap()), /ownKeys trap/],
  ];
  for (const [path, call, why] of cases) {
    let result;
    try {
      result = call();
    } catch (e) {
      assert.fail(`${path}: threw ${e?.constructor?.name} instead of returning a rejected promise: ${e?.message}`);
    }
    await assert.rejects(result, refused(path, why), path);
    // The client is not left busy: a round trip to the core works at once.
    assert.equal(await alice.fetchServiceSettings(), null, `after the refused ${path}`);
  }
  // startChat's options readable but wrong: refused like the other commands' options,
  // before any INVITE (they were ignored and the invitation went).
  for (const [options, why] of [
    [42, /^invalid input: options: must be an object$/],
    [{ zzz: 1 }, /^invalid input: options\.zzz: unknown field; expected one of signal$/],
    [{ signal: 5 }, /^invalid input: options\.signal: must be an AbortSignal$/],
  ]) {
    await assert.rejects(alice.startChat(bobUri, options), (e) => e instanceof ImError && e.code === 'bad_input' && why.test(e.message));
  }
  const arrived = next(bob, 'message', (d) => d.body === 'after every refusal ✓');
  await alice.sendMessage(bobUri, 'after every refusal ✓');
  await arrived;
  // Bytes are passed as they are (not cloned with their whole buffer): a small view of
  // a big buffer sends the view's bytes.
  const big = new Uint8Array(1 << 20);
  big.set(new TextEncoder().encode('just these'), 100);
  const viewed = next(bob, 'message', (d) => d.body === 'just these');
  await alice.sendMessage(bobUri, big.subarray(100, 110), { contentType: 'text/plain;charset=UTF-8' });
  await viewed;
  assert.equal(alice.registration.state, 'registered');
});

test('encodeServiceSettings: a settings object that cannot be read is refused naming the part', () => {
  assert.throws(() => encodeServiceSettings(trap()), refused('settings', /ownKeys trap/));
  assert.throws(() => encodeServiceSettings(throwingGetter('visibility', { entity: 'sip:a@imsip.test' })), refused('settings.visibility'));
  assert.match(encodeServiceSettings({ entity: 'sip:a@imsip.test', visibility: true }), /service-settings/);
  // Readable but not settings: the entity is an AoR, strings are XML text (a control
  // character was dropped silently before).
  for (const [settings, why] of [
    [{ entity: 'not a uri' }, /^invalid input: settings\.entity: must be a sip:, sips: or tel: URI/],
    [{ entity: 'sip:a@imsip.test\0' }, /^invalid input: settings\.entity: /],
    [{ entity: 'sip:a@imsip.test', sessionMode: 'a\0b' }, /^invalid input: settings\.sessionMode: has a control character/],
    [{ entity: 'sip:a@imsip.test', serviceId: 'x\u0001' }, /^invalid input: settings\.serviceId: /],
  ]) {
    assert.throws(() => encodeServiceSettings(settings), (e) => e instanceof ImError && e.code === 'bad_input' && why.test(e.message), JSON.stringify(settings));
  }
  assert.match(encodeServiceSettings({ entity: 'tel:+15550100', sessionMode: 'tab\tok' }), /tab\tok|tab&#9;ok/);
});

test('an app webSocket class whose sockets throw: a failed connect or a dropped event, never a stuck client', async () => {
  // Each throws where the core touches the socket: its constructor, a property the
  // core sets, the `data` of the events it hands back. Before, the setter's error
  // unwound through the core and every later call was "the client is busy".
  class ThrowingConstructor { constructor() { throw new Error('constructor'); } }
  class ThrowingSetter extends WebSocket {
    set onopen(_handler) { throw new Error('onopen setter'); }
  }
  for (const [name, webSocket] of [['constructor', ThrowingConstructor], ['setter', ThrowingSetter]]) {
    const c = new ImClient({ server: devcore.server, publishPolicy: 'never', webSocket, ...USERS.alice, reconnect: { minDelay: 0.05, maxDelay: 0.1 } });
    clients.push(c);
    const states = [];
    c.addEventListener('connection', (e) => states.push(e.detail.state));
    // The connect fails, as for a refused URL: register() rejects `transport` ...
    await assert.rejects(c.register(), (e) => e instanceof ImError && e.code === 'transport', name);
    assert.deepEqual(states.slice(0, 2), ['connecting', 'disconnected'], name);
    // ... and the client is not left busy: the next command runs (and fails the same way).
    await assert.rejects(c.register(), (e) => e instanceof ImError && e.code === 'transport', `${name}, again`);
    c.close();
  }

  // Every frame first comes as an event whose `data` getter throws, then as itself.
  class ThrowingData extends WebSocket {
    set onmessage(handler) {
      super.onmessage = (event) => {
        handler({ get data() { throw new Error('data getter'); } });
        handler(event);
      };
    }
  }
  const c = new ImClient({ server: devcore.server, publishPolicy: 'never', webSocket: ThrowingData, ...USERS.alice });
  clients.push(c);
  const unreadable = [];
  c.addEventListener('trace', (e) => { if (e.detail.text === '(message event without readable data)') unreadable.push(e.detail); });
  const reg = await c.register();
  assert.ok(reg.expires > 0);
  assert.ok(unreadable.length >= 1, 'the unreadable event was traced');
  assert.equal(await c.fetchServiceSettings(), null);
  c.close();
});
