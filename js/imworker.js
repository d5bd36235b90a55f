// The shared worker behind `new ImClient({ ...options, share: 'tabs' })`: one real
// ImClient — one WebSocket, one registration — for every tab of an origin that uses
// the same `server` + `aor`. js/imclient.js starts it as
//   new SharedWorker(new URL('./imworker.js', import.meta.url), { type: 'module', name: 'imsip:' + server + ' ' + aor })
// so each server + aor has its own worker; the worker still keys its clients by
// server + aor. It imports the package entry next to it: the `web` build fetches the
// wasm next to that, the `bundler` build instantiates it on import.
//
// The protocol, one MessagePort per tab (tab → worker):
//   { t: 'open', options, register?, trace? }  the tab's options (the only message that
//                                            carries credentials); `register` and
//                                            `trace` when it opens again after a drop
//   { t: 'call', id, method, args }          a command (imclient.js's COMMANDS)
//   { t: 'life', what }                      'check' | 'online' | 'offline' (page lifecycle)
//   { t: 'trace', on }                       the tab has `trace` listeners, or none now
//   { t: 'pong' }                            the answer to a ping
//   { t: 'close' }                           the tab leaves (close(), or pagehide)
// worker → tab:
//   { t: 'opened', state, replay }           attached; `replay`: the last `connection`,
//                                            `registration` and `servicesettings` events
//   { t: 'event', type, detail, errors?, state? }   an event of the shared client;
//                                            `errors`: the detail's ImError fields as data
//   { t: 'result', id, value | error, state }
//   { t: 'ping' }                            every HEARTBEAT_MS
//   { t: 'reattach' }                        the worker dropped this tab and its client is
//                                            gone: send `open` again (what came meanwhile waits)
//   { t: 'fatal', error }                    no client here (the module or the client
//                                            failed): the tab runs its own
// `state` is what the getters return: { instanceId, callId, akaSqn, registration }.
// Nothing sent to a tab carries a password or key.
import * as entry from './imsip.js';

// The package entry, as a promise. In the `bundler` build js/build.sh replaces this
// line and the import above with `const load = () => import('./imsip.js');`: there
// the entry instantiates the wasm on import (top-level await), and with a static
// import the `connect` listener below would only be added once that finished — the
// first tab's `connect` came before and was lost (its register() never resolved).
const load = () => Promise.resolve(entry);

/** The worker pings every attached tab this often (milliseconds). */
const HEARTBEAT_MS = 5000;
/**
 * A tab that has answered none of this many pings is dropped: it crashed, was
 * discarded, or is frozen (a frozen tab that resumes is taken back). When the last
 * tab goes, the client unregisters and closes.
 */
const HEARTBEAT_MISSES = 3;

const LIFECYCLE = Symbol.for('imsip.lifecycle');
/** Set once the entry is loaded: the client class and the commands a tab may call. */
let ImClient;
let COMMANDS;
/** The events a tab that joins late receives at once (the last of each). */
const REPLAYED = ['connection', 'registration', 'servicesettings'];

const ready = load().then(async (m) => {
  await m.default();
  ImClient = m.ImClient;
  COMMANDS = new Set(ImClient[Symbol.for('imsip.commands')]);
});

/** server + aor → Host. */
const hosts = new Map();
/** An attached port → { host, seen } (`seen`: when it last said anything). */
const tabs = new Map();
/** Every port that opened once → { key, trace }: kept after a drop, to take it back. */
const known = new WeakMap();
/** A port whose `open` is in progress, or that was asked to `reattach` → messages held. */
const waiting = new Map();

const keyOf = (options) => `${options.server} ${options.aor}`;
const now = () => performance.now();

function errorData(e) {
  const d = { code: typeof e?.code === 'string' ? e.code : 'invalid_state', message: String(e?.message ?? e) };
  for (const k of ['status', 'reason', 'retryAfter']) if (e?.[k] !== undefined) d[k] = e[k];
  return d;
}

function snapshot(client) {
  return {
    instanceId: client.instanceId, callId: client.callId, akaSqn: client.akaSqn, registration: client.registration,
  };
}

/** The ImClient of one server + aor, and the tabs that use it. */
class Host {
  constructor(key, options) {
    this.key = key;
    this.ports = new Set();
    /** type → the last event message of REPLAYED types. */
    this.last = new Map();
    /** The unregister-then-close promise once the last tab left. */
    this.closing = null;
    /** Lifecycle hints gathered from the tabs, applied once per task. */
    this.online = undefined;
    this.check = false;
    this.lifeScheduled = false;
    const host = this;
    // Every event the client dispatches, whatever its type, goes to the tabs.
    this.client = new (class extends ImClient {
      // `chat` and `invitation` go to the tabs as they are: each tab's ImClient makes
      // its own ChatSessions and invitation handlers.
      get [Symbol.for('imsip.rawEvents')]() {
        return true;
      }

      dispatchEvent(event) {
        host.#forward(event.type, event.detail);
        return super.dispatchEvent(event);
      }
    })(options);
  }

  #forward(type, detail) {
    if (this.client === undefined) return; // dispatched while constructing: no tab yet
    const message = { t: 'event', type, detail };
    if (detail !== null && typeof detail === 'object') {
      for (const [k, v] of Object.entries(detail)) {
        if (v instanceof Error) {
          message.errors ??= {};
          message.errors[k] = errorData(v);
          message.detail = { ...message.detail, [k]: undefined };
        }
      }
    }
    if (type === 'trace') {
      for (const port of this.ports) if (known.get(port)?.trace) port.postMessage(message);
      return;
    }
    message.state = snapshot(this.client);
    if (REPLAYED.includes(type)) this.last.set(type, message);
    for (const port of this.ports) port.postMessage(message);
  }

  attach(port) {
    this.ports.add(port);
    tabs.set(port, { host: this, seen: now() });
    const replay = REPLAYED.filter((t) => this.last.has(t)).map((t) => this.last.get(t));
    port.postMessage({ t: 'opened', state: snapshot(this.client), replay });
  }

  /** A hint from a tab; several tabs saying the same at once make one call. */
  lifecycle(what) {
    if (what === 'check') this.check = true;
    else this.online = what === 'online';
    if (this.lifeScheduled) return;
    this.lifeScheduled = true;
    setTimeout(() => {
      const { online, check } = this;
      this.online = undefined;
      this.check = false;
      this.lifeScheduled = false;
      if (this.closing) return;
      if (online === false) this.client[LIFECYCLE]('offline');
      else if (online === true) this.client[LIFECYCLE]('online');
      else if (check) this.client[LIFECYCLE]('check');
    }, 0);
  }

  /** The last tab left: unregister (a binding no tab can serve must not stay), then close. */
  close() {
    this.closing = (async () => {
      try {
        await this.client.unregister();
      } catch {
        // Best effort: the binding then expires at the registrar.
      }
      this.client.close();
      if (hosts.get(this.key) === this) hosts.delete(this.key);
    })();
  }
}

async function open(port, { options, register, trace }) {
  if (!waiting.has(port)) waiting.set(port, []);
  const key = keyOf(options);
  let host = hosts.get(key);
  // A client still unregistering would remove the binding of a new one: wait for it.
  while (host?.closing) {
    await host.closing;
    host = hosts.get(key);
  }
  if (!waiting.has(port)) return; // the tab left meanwhile
  if (!host) {
    try {
      host = new Host(key, options);
    } catch (e) {
      waiting.delete(port);
      port.postMessage({ t: 'fatal', error: errorData(e) });
      return;
    }
    hosts.set(key, host);
  }
  known.set(port, { key, trace: !!trace });
  if (!tabs.has(port)) host.attach(port);
  const state = host.client.registration.state;
  if (register && (state === 'unregistered' || state === 'failed')) {
    host.client.register().catch(() => {}); // the outcome reaches the tabs as events
  }
  const held = waiting.get(port) ?? [];
  waiting.delete(port);
  for (const m of held) receive(port, m);
}

function detach(port) {
  waiting.delete(port);
  const tab = tabs.get(port);
  if (!tab) return;
  tabs.delete(port);
  tab.host.ports.delete(port);
  if (tab.host.ports.size === 0) tab.host.close();
}

function receive(port, m) {
  if (m === null || typeof m !== 'object') return;
  const tab = tabs.get(port);
  if (tab) tab.seen = now();
  if (m.t === 'open') {
    open(port, m);
    return;
  }
  if (m.t === 'close') {
    detach(port);
    return;
  }
  // A pong of an attached tab only says it is alive (`seen` above). One of a tab the
  // heartbeat dropped says it is back: a tab busy for a while (a long task, a
  // breakpoint) is not frozen, sends nothing else, and answers the pings it had
  // queued — taken as speaking again, or it would never get an event any more.
  if (m.t === 'pong' && tab) return;
  if (waiting.has(port)) {
    if (m.t !== 'pong') waiting.get(port).push(m);
    return;
  }
  if (!tab) {
    // A tab the heartbeat dropped speaks again (it was frozen or busy): back in at
    // once while its client runs, else it must open again.
    const info = known.get(port);
    const host = info && hosts.get(info.key);
    if (host && !host.closing) {
      host.attach(port);
    } else {
      waiting.set(port, m.t === 'pong' ? [] : [m]);
      port.postMessage({ t: 'reattach' });
      return;
    }
  }
  if (m.t === 'pong') return;
  handle(port, tabs.get(port).host, m);
}

function handle(port, host, m) {
  switch (m.t) {
    case 'call': {
      const reply = (r) => port.postMessage({ t: 'result', id: m.id, ...r, state: snapshot(host.client) });
      if (!COMMANDS.has(m.method)) {
        reply({ error: { code: 'bad_input', message: `invalid input: no command ${String(m.method)}` } });
        return;
      }
      host.client[Symbol.for('imsip.run')](m.method, Array.isArray(m.args) ? m.args : []).then(
        (value) => reply({ value }),
        (e) => reply({ error: errorData(e) }),
      );
      return;
    }
    case 'life':
      if (m.what === 'check' || m.what === 'online' || m.what === 'offline') host.lifecycle(m.what);
      return;
    case 'trace': {
      const info = known.get(port);
      if (info) info.trace = !!m.on;
      return;
    }
    default:
  }
}

// The heartbeat. The worker pings and the tab answers from its message handler:
// a hidden tab's own timers may run once a minute (Chrome's intensive throttling),
// its message handler does not wait; a frozen, discarded or crashed tab answers
// nothing.
setInterval(() => {
  const t = now();
  for (const [port, tab] of tabs) {
    if (t - tab.seen > HEARTBEAT_MS * HEARTBEAT_MISSES) detach(port);
    else port.postMessage({ t: 'ping' });
  }
}, HEARTBEAT_MS);

// Registered before anything is awaited, so no tab's first message is missed;
// messages wait for the module in the order they came.
self.addEventListener('connect', (e) => {
  const port = e.ports[0];
  port.onmessage = (event) => {
    ready.then(
      () => receive(port, event.data),
      (err) => port.postMessage({ t: 'fatal', error: errorData(err) }),
    );
  };
});
