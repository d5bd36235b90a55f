// The JS face of imsip: ImClient (an EventTarget), ImError, and the codec exports.
// Thin by design: every SIP decision is made by the Rust core (src/ua) behind
// ImClientCore; this file only turns its callbacks into DOM events and its errors
// into ImError instances.
import {
  ImClientCore,
  parseBuffer as wasmParseBuffer,
  parseInput as wasmParseInput,
  parseSide as wasmParseSide,
  parseLayout as wasmParseLayout,
  wasmMemory,
  encodeServiceSettings as wasmEncodeServiceSettings,
  decodeServiceSettings as wasmDecodeServiceSettings,
  version as wasmVersion,
} from './imsip_core.js';

// The one ImError (js/imerror.js); js/build.sh points this import at the copy
// wasm-bindgen places in snippets/, the module the core constructs it from.
import { ImError } from './imerror.js';

export { ImError };

// Anything the core throws is an ImError already; anything else is a bug (a
// WebAssembly trap), not the caller's fault.
function asImError(e) {
  if (e instanceof ImError) return e;
  const text = e instanceof Error ? e.message : String(e);
  return new ImError('invalid_state', `imsip internal error: ${text}`, { cause: e });
}

function rethrow(e) {
  throw asImError(e);
}

const settle = (promise) => promise.then(undefined, rethrow);

// ── What the core is given: the caller's arguments, read once, here ──
// Every argument crosses into the core as a structured clone: own enumerable data, each
// getter run once, exactly what postMessage hands the shared worker. A getter or proxy
// trap that throws, a detached buffer, a symbol or a function where data belongs is the
// caller's bad input and is reported here, naming the part. Thrown from inside
// WebAssembly instead, a JS exception would skip the Rust code's cleanup on its way out
// (the client's borrowed state, the stack pointer): every later call would find the
// client busy.

/** A `bad_input` error: the argument at `path` could not be read (`why`). */
function unreadable(path, why) {
  return new ImError('bad_input', `invalid input: ${path}: cannot be read: ${why?.message ?? why}`, { cause: why });
}

/**
 * The first part of `value`, found at `path`, that cannot be read or cloned, as
 * `[path, why]`; or undefined. Path '' is the constructor's options, whose fields are
 * named alone and whose `webSocket` constructor is kept as given, not cloned.
 */
function firstUnreadable(value, path, depth = 0) {
  let why;
  try {
    structuredClone(value);
    return undefined;
  } catch (e) {
    why = e;
  }
  const here = path || 'options';
  if (depth < 8 && typeof value === 'object' && value !== null) {
    try {
      const list = Array.isArray(value);
      for (const key of Object.keys(value)) {
        const at = list ? `${here}[${key}]` : path ? `${path}.${key}` : key;
        let part;
        try {
          part = value[key];
        } catch (e) {
          return [at, e];
        }
        if (path === '' && key === 'webSocket' && typeof part === 'function') continue;
        const found = firstUnreadable(part, at, depth + 1);
        if (found) return found;
      }
    } catch (e) {
      return [here, e];
    }
  }
  return [here, why];
}

/** The `bad_input` error for `args` (named `names`) that could not be cloned (`e`). */
function argsError(args, names, e) {
  for (let i = 0; i < args.length; i++) {
    const found = firstUnreadable(args[i], names[i] ?? `argument ${i + 1}`);
    if (found) return unreadable(...found);
  }
  return unreadable('arguments', e);
}

/**
 * `args` as the core may read them, or a `bad_input` naming the part that cannot be: a
 * structured clone, but for bytes (a typed array or DataView argument), passed as they
 * are once their buffer is known to be attached. They have no getters to run, and a
 * clone would copy their whole buffer, however small the view.
 */
function readArgs(args, names) {
  let copy;
  try {
    copy = structuredClone(args.map((arg) => (ArrayBuffer.isView(arg) ? null : arg)));
    args.forEach((arg, i) => {
      if (!ArrayBuffer.isView(arg)) return;
      new Uint8Array(arg.buffer, 0, 0); // throws for a detached buffer
      copy[i] = arg;
    });
  } catch (e) {
    throw argsError(args, names, e);
  }
  return copy;
}

/**
 * The constructor's options read once: `share` (this shim's) apart, a `webSocket`
 * constructor kept as given, the rest cloned like a command's arguments. Anything but
 * a plain object goes to the core as it is, which refuses it in its own words.
 */
function readOptions(options) {
  let rest;
  let share;
  try {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) return { coreOptions: options };
    ({ share, ...rest } = options);
  } catch (e) {
    throw argsError([options], [''], e);
  }
  const webSocket = typeof rest.webSocket === 'function' ? rest.webSocket : undefined;
  if (webSocket) delete rest.webSocket;
  const coreOptions = readArgs([rest], [''])[0];
  if (webSocket) coreOptions.webSocket = webSocket;
  return { share, coreOptions };
}

/** Runs `f`, which reads the caller's `what`: a JS error doing so is a rejected `bad_input`. */
function reading(what, f) {
  try {
    return f();
  } catch (e) {
    return Promise.reject(e instanceof ImError ? e : unreadable(what, e));
  }
}

/** Runs `method` on `core` with `args` (read first unless `plain`: already a clone). */
function runOn(core, method, args, plain) {
  try {
    return settle(core[method](...(plain ? args : readArgs(args, COMMAND_ARGS[method] ?? []))));
  } catch (e) {
    return Promise.reject(asImError(e));
  }
}

// ── Sharing one client between the tabs of an origin (`share: 'tabs'`) ──
// The tab side of the protocol whose other side, and description, is js/imworker.js.

// Hooks for the package's own worker: registered symbols, reached through the
// package entry the worker imports; not API.
const LIFECYCLE = Symbol.for('imsip.lifecycle');

// The commands a tab forwards to the worker, and the only ones the worker runs, with
// the names of their arguments (an argument that cannot be read is named in the error).
const COMMAND_ARGS = Object.freeze({
  register: [], unregister: [], publishServiceSettings: ['settings', 'options'], removeServiceSettings: [],
  fetchServiceSettings: [], watchServiceSettings: [], unwatchServiceSettings: [], fetchHistory: ['query'],
  sendMessage: ['to', 'body', 'options'], markDisplayed: ['message'], setComposing: ['to', 'active'],
  setExtraHeaders: ['headers'],
  // The core's commands of large messages and chat sessions (ChatSession wraps the chat ones).
  sendLargeMessage: ['to', 'body', 'options'], startChat: ['to', 'options'], acceptChat: ['chat'],
  rejectChat: ['chat', 'status'], chatSend: ['chat', 'body', 'options'], chatComposing: ['chat', 'active'],
  closeChat: ['chat'],
});
const COMMANDS = Object.freeze(Object.keys(COMMAND_ARGS));
/** Runs one of COMMANDS as the core has it (the worker's way in; not API). */
const RUN = Symbol.for('imsip.run');
/** A client whose `chat` and `invitation` events stay raw (the worker's, which forwards them). */
const RAW_EVENTS = Symbol.for('imsip.rawEvents');
/** How the client hands a chat session its events. */
const DELIVER = Symbol('imsip.deliver');
/** At most this many chat ids keep events that came before their ChatSession. */
const EARLY_CHATS = 32;

/**
 * One MSRP chat session (OMA IM session mode): `client.startChat(to)` or an
 * invitation's `accept()` gives it. Events: `message`, `composing`, `report`, `ended`.
 */
export class ChatSession extends EventTarget {
  #run;
  #state = 'open';
  /** Events wait until the task that made the session is over, so its listeners are added first. */
  #held = true;
  #queue;

  constructor(run, chat, peer, early) {
    super();
    /** The session's id (the `chat` of the client's events). */
    this.id = chat;
    /** The other side's URI. */
    this.peer = peer;
    this.#run = run;
    this.#queue = early;
    setTimeout(() => {
      this.#held = false;
      const queued = this.#queue;
      this.#queue = [];
      for (const d of queued) this.#deliver(d);
    }, 0);
  }

  /** `'open'` until the `ended` event. */
  get state() {
    return this.#state;
  }

  /** Sends a message (a string as UTF-8 `text/plain`, or bytes with `contentType`); resolves `{ messageId }`. */
  send(body, options) {
    return reading('body', () => this.#run('chatSend', [this.id, bytesOf(body), options]));
  }

  /** The user is typing (`true`, on every keystroke) or stopped (`false`): RFC 3994 inside the session. */
  setComposing(active) {
    return this.#run('chatComposing', [this.id, active]);
  }

  /** Ends the session (BYE); resolves when it is answered. */
  close() {
    return this.#run('closeChat', [this.id]);
  }

  [DELIVER](d) {
    if (this.#held) this.#queue.push(d);
    else this.#deliver(d);
  }

  #deliver({ type, chat, ...detail }) {
    if (type === 'ended') this.#state = 'ended';
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  get [Symbol.toStringTag]() { return 'ChatSession'; }
}

/** An ImError from the plain data the worker sent (`{ code, message, status?, reason?, retryAfter? }`). */
function errorFrom(d) {
  return new ImError(d.code, d.message, { status: d.status, reason: d.reason, retryAfter: d.retryAfter });
}

const closedError = () => new ImError('invalid_state', 'not possible now: the client is closed');

/** An OMA IM client over SIP over WebSocket. See imsip.d.ts for the API. */
export class ImClient extends EventTarget {
  /** The client, when it runs in this JS context (`shared === false`). */
  #core = null;
  /** The shared worker's port, when the client runs there (`shared === true`). */
  #port = null;
  /** What the getters return while shared: the worker's client, as last reported. */
  #state = null;
  /** While shared: the options, to open again (after the worker dropped this tab) or to fall back. */
  #options = null;
  /** While shared: request id → { method, args, resolve, reject }. */
  #pending = new Map();
  #nextId = 1;
  /** While shared: the worker has answered `open` (after that, no silent fallback). */
  #opened = false;
  /** `register()` was called and `unregister()` not since: restored when the worker lost this tab. */
  #wantRegistered = false;
  /** While shared: `trace` listeners, listener → Map(capture → once); the worker sends traces only while any. */
  #traceListeners = new Map();
  #closed = false;
  /** Removes the page-lifecycle listeners. */
  #unlisten = null;
  /** Chat id → ChatSession. */
  #chats = new Map();
  /** `invitation` listeners, listener → captures: with none, invitations are declined at once. */
  #invitationListeners = new Map();
  /** Chat id → events that came before its ChatSession was made. */
  #early = new Map();
  /** Invitations shown to the app and not answered here: chat id → accepting (accept() called). */
  #invitations = new Map();
  /** startChat tags → the abort of their pending invitation, once its chat id is known. */
  #inviting = new Map();

  constructor(options) {
    super();
    // `share` is this shim's option: the core refuses unknown keys, so it never sees it.
    const { share, coreOptions } = readOptions(options);
    if (share !== undefined && share !== 'tabs') {
      throw new ImError('bad_input', "invalid input: share: must be 'tabs'");
    }
    if (share === 'tabs') this.#share(coreOptions);
    if (this.#port === null) this.#core = this.#makeCore(coreOptions);
    this.#listenLifecycle();
  }

  #makeCore(options, emit = (type, detail) => this.#dispatch(type, detail)) {
    try {
      return new ImClientCore(options, emit);
    } catch (e) {
      return rethrow(e);
    }
  }

  /**
   * Connects to the shared worker of `server` + `aor`, or leaves `#port` null (no
   * SharedWorker here, a `webSocket` constructor that cannot cross to the worker,
   * a worker that cannot start): the client then runs in this tab.
   */
  #share(options) {
    if (typeof SharedWorker !== 'function' || options.webSocket !== undefined) return;
    // The options are checked here, so a bad one throws as it would unshared; the
    // probe also gives the getters their first values.
    const probe = this.#makeCore(options, () => {});
    const state = {
      instanceId: probe.instanceId, callId: probe.callId, akaSqn: probe.akaSqn, registration: probe.registration,
    };
    probe.close();
    // The first tab's client keeps the instance id this tab reports until the worker answers.
    const sent = { ...options, instanceId: state.instanceId };
    let worker;
    try {
      // Literal URL and `type` (no parentheses in the options): what Vite and
      // webpack 5 recognise to bundle the worker with no configuration.
      worker = new SharedWorker(new URL('./imworker.js', import.meta.url), { type: 'module', name: 'imsip:' + options.server + ' ' + options.aor });
      worker.port.postMessage({ t: 'open', options: sent });
    } catch {
      return; // an opaque origin, a value that cannot be cloned: run in this tab
    }
    this.#port = worker.port;
    this.#state = state;
    this.#options = sent;
    // Fired when the worker script cannot load (not for its later errors).
    worker.addEventListener('error', () => { if (!this.#opened) this.#fallBack(); });
    this.#port.onmessage = (e) => this.#fromWorker(e.data);
  }

  #fromWorker(m) {
    if (this.#closed || this.#port === null) return;
    if (m.state) this.#state = m.state;
    switch (m.t) {
      case 'ping':
        this.#port.postMessage({ t: 'pong' });
        break;
      case 'opened':
        // The replayed events keep the state of now, not the one of their time.
        this.#opened = true;
        for (const e of m.replay) this.#dispatchShared(e);
        break;
      case 'event':
        this.#dispatchShared(m);
        break;
      case 'result': {
        const p = this.#pending.get(m.id);
        if (!p) break;
        this.#pending.delete(m.id);
        if (m.error) p.reject(errorFrom(m.error));
        else p.resolve(m.value);
        break;
      }
      case 'reattach': {
        // The worker dropped this tab (it was frozen or hidden in the back/forward
        // cache past the heartbeat) and its client is gone: open it again — and
        // register it again if this tab called register() or read the client as
        // registered (a tab that joined a registered client never called it, and
        // was left with an unregistered one without a word).
        const believed = this.#state?.registration?.state;
        const register = this.#wantRegistered || ['registered', 'registering', 'retrying'].includes(believed);
        this.#port.postMessage({
          t: 'open', options: this.#options, register, trace: this.#traceListeners.size > 0,
        });
        break;
      }
      case 'fatal':
        // The worker could not load the module or make the client: run here.
        this.#fallBack();
        break;
      default:
    }
  }

  /** Runs the client in this tab after all; requests not answered yet run here. */
  #fallBack() {
    const port = this.#port;
    if (port === null || this.#closed) return;
    port.onmessage = null;
    this.#port = null;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    let core;
    try {
      core = this.#makeCore(this.#options);
    } catch (e) {
      for (const p of pending) p.reject(e);
      this.#closed = true;
      return;
    }
    this.#core = core;
    this.#options = null;
    this.#state = null;
    this.#traceListeners.clear();
    if (typeof navigator === 'object' && navigator.onLine === false) this[LIFECYCLE]('offline');
    for (const p of pending) runOn(core, p.method, p.args).then(p.resolve, p.reject);
    if (this.#wantRegistered && !pending.some((p) => p.method === 'register')) {
      core.register().catch(() => {}); // the outcome arrives as `registration` events
    }
  }

  /** Dispatches an event from the worker; `once` trace listeners stop counting after it. */
  #dispatchShared({ type, detail, errors }) {
    for (const [k, d] of Object.entries(errors ?? {})) detail[k] = errorFrom(d);
    const once = [];
    if (type === 'trace') {
      for (const [listener, byCapture] of this.#traceListeners) {
        for (const [capture, isOnce] of byCapture) if (isOnce) once.push([listener, capture]);
      }
    }
    this.#dispatch(type, detail);
    for (const [listener, capture] of once) this.#untrackTrace(listener, capture);
  }

  /** Dispatches a core event: chat events go to their ChatSession, invitations get accept/reject. */
  #dispatch(type, detail) {
    if (this[RAW_EVENTS] !== true) {
      if (type === 'chat') {
        this.#toSession(detail);
        return;
      }
      if (type === 'invitation') {
        const id = detail.chat;
        this.#invitations.set(id, false);
        detail.accept = () => {
          this.#invitations.set(id, true);
          const done = () => this.#invitations.delete(id);
          return this.#run('acceptChat', [id]).then((r) => { done(); return this.#session(r); }, (e) => { done(); throw e; });
        };
        detail.reject = (status) => this.#run('rejectChat', [id, status]);
        // Nobody to ask (an app of pager messages only): 480 Temporarily Unavailable
        // at once rather than a caller left ringing (RFC 3261 §21.4.18).
        if (this.#invitationListeners.size === 0 && this.#port === null) {
          detail.reject(480).catch(() => {});
          return;
        }
      }
    }
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #toSession(detail) {
    if (detail.type === 'inviting') {
      this.#inviting.get(detail.tag)?.(detail.chat);
      return;
    }
    // An invitation shown here ended, or was answered elsewhere (another tab of a
    // shared client): `invitationended`, and its events are not kept.
    if (this.#invitations.get(detail.chat) === false) {
      this.#invitations.delete(detail.chat);
      const reason = detail.type === 'ended' ? detail.reason : 'answered';
      this.dispatchEvent(new CustomEvent('invitationended', { detail: { chat: detail.chat, reason } }));
      return;
    }
    if (detail.type === 'opened') return; // the ChatSession comes with the accept/startChat result
    const session = this.#chats.get(detail.chat);
    if (session) {
      if (detail.type === 'ended') this.#chats.delete(detail.chat);
      session[DELIVER](detail);
      return;
    }
    // Its ChatSession is made when the promise of startChat/accept settles: keep the
    // events till then (a few sessions' worth: a shared client's other tabs' are never claimed).
    let early = this.#early.get(detail.chat);
    if (!early) {
      if (this.#early.size >= EARLY_CHATS) this.#early.delete(this.#early.keys().next().value);
      this.#early.set(detail.chat, (early = []));
    }
    if (early.length < 1024) early.push(detail);
  }

  /** The ChatSession of `{ chat, peer }` (what startChat and accept resolve with in the core). */
  #session({ chat, peer }) {
    const existing = this.#chats.get(chat);
    if (existing) return existing;
    const early = this.#early.get(chat) ?? [];
    this.#early.delete(chat);
    const session = new ChatSession((method, args) => this.#run(method, args), chat, peer, early);
    if (!early.some((d) => d.type === 'ended')) this.#chats.set(chat, session);
    return session;
  }

  // While shared, the worker sends `trace` events (every frame) only to tabs that listen.
  addEventListener(type, listener, options) {
    super.addEventListener(type, listener, options);
    if (type === 'invitation' && listener) {
      const capture = typeof options === 'boolean' ? options : !!options?.capture;
      if (!this.#invitationListeners.has(listener)) this.#invitationListeners.set(listener, new Set());
      this.#invitationListeners.get(listener).add(capture);
    }
    if (type === 'trace' && listener && this.#port !== null) this.#trackTrace(listener, options);
  }

  removeEventListener(type, listener, options) {
    super.removeEventListener(type, listener, options);
    if (type === 'invitation' && listener) {
      const captures = this.#invitationListeners.get(listener);
      captures?.delete(typeof options === 'boolean' ? options : !!options?.capture);
      if (captures?.size === 0) this.#invitationListeners.delete(listener);
    }
    if (type === 'trace' && listener && this.#port !== null) {
      this.#untrackTrace(listener, typeof options === 'boolean' ? options : !!options?.capture);
    }
  }

  #trackTrace(listener, options) {
    const o = typeof options === 'object' && options !== null ? options : {};
    const capture = typeof options === 'boolean' ? options : !!o.capture;
    if (o.signal?.aborted) return;
    let byCapture = this.#traceListeners.get(listener);
    if (byCapture?.has(capture)) return; // EventTarget keeps the first registration
    if (!byCapture) this.#traceListeners.set(listener, (byCapture = new Map()));
    byCapture.set(capture, !!o.once);
    o.signal?.addEventListener('abort', () => this.#untrackTrace(listener, capture), { once: true });
    if (this.#traceListeners.size === 1 && byCapture.size === 1) this.#post({ t: 'trace', on: true });
  }

  #untrackTrace(listener, capture) {
    const byCapture = this.#traceListeners.get(listener);
    if (!byCapture?.delete(capture)) return;
    if (byCapture.size === 0) this.#traceListeners.delete(listener);
    if (this.#traceListeners.size === 0) this.#post({ t: 'trace', on: false });
  }

  #post(message) {
    if (this.#port !== null && !this.#closed) this.#port.postMessage(message);
  }

  /** A command: run by the core here, or forwarded to the shared worker. */
  #run(method, args, plain) {
    if (this.#port === null) return runOn(this.#core, method, args, plain);
    if (this.#closed) return Promise.reject(closedError());
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.#port.postMessage({ t: 'call', id, method, args });
      } catch (e) {
        // What postMessage cannot clone, the core would not read either (readArgs).
        reject(argsError(args, COMMAND_ARGS[method] ?? [], e));
        return;
      }
      this.#pending.set(id, { method, args, resolve, reject });
    });
  }

  register() {
    this.#wantRegistered = true;
    return this.#run('register', []);
  }

  unregister() {
    this.#wantRegistered = false;
    return this.#run('unregister', []);
  }

  publishServiceSettings(settings, options) {
    return this.#run('publishServiceSettings', [settings, options]);
  }

  removeServiceSettings() {
    return this.#run('removeServiceSettings', []);
  }

  fetchServiceSettings() {
    return this.#run('fetchServiceSettings', []);
  }

  watchServiceSettings() {
    return this.#run('watchServiceSettings', []);
  }

  fetchHistory(query) {
    return this.#run('fetchHistory', [query]);
  }

  unwatchServiceSettings() {
    // Promise<void> (imsip.d.ts): the core's outcome is a subscription's, expires 0.
    return this.#run('unwatchServiceSettings', []).then(() => undefined);
  }

  sendMessage(to, body, options) {
    return this.#run('sendMessage', [to, body, options]);
  }

  markDisplayed(message) {
    return reading('message', () => {
      // Only the id crosses to a shared worker (a detail may hold a Uint8Array body).
      const id = typeof message === 'object' && message !== null && 'messageId' in message ? message.messageId : message;
      return this.#run('markDisplayed', [id === undefined ? message : id]);
    });
  }

  setComposing(to, active) {
    return this.#run('setComposing', [to, active]);
  }

  /** Replaces the `extraHeaders` option for what is sent from now on. */
  setExtraHeaders(headers) {
    return this.#run('setExtraHeaders', [headers]);
  }

  /**
   * OMA IM large-message mode: an MSRP session carries `body` (string, Uint8Array or
   * Blob); `options.onProgress(detail)` gets this transfer's `progress` events.
   */
  sendLargeMessage(to, body, options) {
    let coreOptions = options;
    let onProgress;
    try {
      if (options !== null && typeof options === 'object' && 'onProgress' in options) {
        ({ onProgress, ...coreOptions } = options);
        if (typeof onProgress !== 'function') {
          return Promise.reject(new ImError('bad_input', 'invalid input: options.onProgress: must be a function'));
        }
      }
    } catch (e) {
      return Promise.reject(unreadable('options', e));
    }
    let stop = () => {};
    if (onProgress !== undefined) {
      const tag = newTag();
      coreOptions = { ...coreOptions, tag };
      const listener = (e) => { if (e.detail.tag === tag) onProgress(e.detail); };
      this.addEventListener('progress', listener);
      stop = () => this.removeEventListener('progress', listener);
    }
    const send = (bytes) => this.#run('sendLargeMessage', [to, bytes, coreOptions]);
    const sending = reading('body', () => (typeof Blob === 'function' && body instanceof Blob
      ? body.arrayBuffer().then((b) => send(new Uint8Array(b)), (e) => { throw unreadable('body', e); })
      : send(bytesOf(body))));
    return sending.finally(stop);
  }

  /**
   * Invites `to` to a chat session (OMA IM session mode); resolves with its ChatSession
   * once accepted. `options.signal` (an AbortSignal) cancels the invitation while it
   * rings: the promise then rejects `cancelled`.
   */
  startChat(to, options) {
    return reading('options', () => this.#startChat(to, options));
  }

  #startChat(to, options) {
    // Its one option is the shim's (the core's `tag` is internal): checked here as
    // the core checks the others' (an object, known keys).
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      return Promise.reject(new ImError('bad_input', 'invalid input: options: must be an object'));
    }
    const unknownKey = Object.keys(options ?? {}).find((k) => k !== 'signal');
    if (unknownKey !== undefined) {
      return Promise.reject(new ImError('bad_input', `invalid input: options.${unknownKey}: unknown field; expected one of signal`));
    }
    const signal = options?.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object'
        || typeof signal.addEventListener !== 'function' || typeof signal.aborted !== 'boolean')) {
      return Promise.reject(new ImError('bad_input', 'invalid input: options.signal: must be an AbortSignal'));
    }
    if (signal === undefined) return this.#run('startChat', [to]).then((r) => this.#session(r));
    if (signal?.aborted) return Promise.reject(new ImError('cancelled', 'cancelled: the signal was aborted'));
    const tag = newTag();
    let chat = null;
    const abort = () => { if (chat !== null) this.#run('closeChat', [chat]).catch(() => {}); };
    // The core names the chat (a `chat` event of type `inviting`) before startChat returns.
    this.#inviting.set(tag, (id) => {
      chat = id;
      if (signal.aborted) abort();
    });
    signal.addEventListener('abort', abort, { once: true });
    const done = () => {
      this.#inviting.delete(tag);
      signal.removeEventListener('abort', abort);
    };
    return this.#run('startChat', [to, { tag }]).then((r) => { done(); return this.#session(r); }, (e) => { done(); throw e; });
  }

  /** One of COMMANDS, run as the core has it (for the worker; not API). */
  [RUN](method, args) {
    // From the worker's MessagePort: already a structured clone.
    return this.#run(method, args, true);
  }

  /**
   * Closes this client. Shared: this tab leaves (its pending requests reject); the
   * last tab to leave makes the worker unregister, then close the shared client.
   */
  close() {
    if (this.#port === null) {
      this.#core.close();
    } else if (!this.#closed) {
      this.#port.postMessage({ t: 'close' });
      this.#port.onmessage = null;
      for (const p of this.#pending.values()) p.reject(closedError());
      this.#pending.clear();
      // This tab keeps no registration up any more, as an unshared client after
      // close() (the worker's stays for the other tabs).
      this.#state = { ...this.#state, registration: { state: 'unregistered', contacts: [], serviceRoute: [], associatedUris: [] } };
    }
    this.#closed = true;
    this.#unlisten?.();
    this.#unlisten = null;
  }

  /** `true` when the client runs in the shared worker of `share: 'tabs'`. */
  get shared() {
    return this.#port !== null;
  }

  get instanceId() {
    return this.#port === null ? this.#core.instanceId : this.#state.instanceId;
  }

  get callId() {
    return this.#port === null ? this.#core.callId : this.#state.callId;
  }

  get akaSqn() {
    return this.#port === null ? this.#core.akaSqn : this.#state.akaSqn;
  }

  get registration() {
    return this.#port === null ? this.#core.registration : this.#state.registration;
  }

  // ── The page lifecycle: a page that was hidden, frozen, in the back/forward cache
  // or offline tells the client, which checks its flow at once instead of at its
  // next timer (shared: the worker's client, through the port).

  #listenLifecycle() {
    if (typeof window !== 'object' || window === null || typeof document !== 'object' || document === null) return;
    const offs = [];
    const on = (target, type, listener) => {
      target.addEventListener(type, listener);
      offs.push(() => target.removeEventListener(type, listener));
    };
    on(document, 'visibilitychange', () => {
      if (document.visibilityState === 'visible') this[LIFECYCLE]('check');
    });
    on(document, 'resume', () => this[LIFECYCLE]('check'));
    on(window, 'pageshow', (e) => {
      if (e.persisted) this[LIFECYCLE]('check');
    });
    on(window, 'online', () => this[LIFECYCLE]('online'));
    on(window, 'offline', () => this[LIFECYCLE]('offline'));
    // The page is going away for good (not into the back/forward cache): a
    // best-effort unregister (shared: only when this was the last tab).
    on(window, 'pagehide', (e) => {
      if (!e.persisted) this.#leave();
    });
    this.#unlisten = () => offs.forEach((off) => off());
    if (typeof navigator === 'object' && navigator.onLine === false) this[LIFECYCLE]('offline');
  }

  #leave() {
    if (this.#closed) return;
    // The REGISTER (Expires 0) is sent now; close() then lets the socket flush it.
    if (this.#port === null) this.#core.unregister().catch(() => {});
    this.close();
  }

  /**
   * `'check'`: verify the flow now and refresh an expired registration;
   * `'online'`: reconnect now if a flow is wanted, then check; `'offline'`: no
   * reconnect attempts until `'online'`. Called by the page-lifecycle listeners and,
   * for a shared client, by the worker (not API).
   */
  [LIFECYCLE](what) {
    if (this.#closed) return;
    if (this.#port !== null) {
      this.#post({ t: 'life', what });
      return;
    }
    const core = this.#core;
    // checkFlow / setOnline are newer than some cores this shim may load with.
    try {
      if (what !== 'check' && typeof core.setOnline === 'function') core.setOnline(what === 'online');
      if (what !== 'offline' && typeof core.checkFlow === 'function') core.checkFlow();
    } catch {
      // A hint from an event handler: nothing to report it to.
    }
  }

  /** The commands (for the worker; not API). */
  static get [Symbol.for('imsip.commands')]() {
    return COMMANDS;
  }
}

/** An ArrayBuffer or another typed-array view as the Uint8Array the core reads; anything else as it is. */
function bytesOf(body) {
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body) && !(body instanceof Uint8Array)) {
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
  return body;
}

/** A tag no other call of any tab uses: ties a call to its events. */
function newTag() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function needString(value, name) {
  if (typeof value !== 'string') throw new ImError('bad_input', `invalid input: ${name}: must be a string`);
}

// ── parseMessage: the wasm parser leaves an index of offsets into the caller's string;
// fields are sliced out when first read. The layout (word positions, markers) is the
// core's (src/js/parse.rs, `parseLayout()`), read once at the first parse.
let ABSENT, SIDE, RPORT_FLAG, W_FLAGS, W_STATUS, W_SEQ, W_METHOD, W_URI, W_REASON, W_CALL_ID,
  W_CSEQ_METHOD, W_FROM, W_TO, W_CONTENT_TYPE, W_BODY, W_VIAS, VIA_WORDS;

let memory = null;
let memoryBuffer = null;
let memoryWords = null;
// The wasm-side input buffer (address, capacity) and a byte view of it.
let inputAt = 0;
let inputCapacity = 0;
let inputBytes = null;
const encoder = new TextEncoder();

/** Re-makes the views over wasm memory after it grew (which detaches the old buffer). */
function refreshViews() {
  if (memory.buffer !== memoryBuffer) {
    memoryBuffer = memory.buffer;
    memoryWords = new Uint32Array(memoryBuffer);
    inputBytes = new Uint8Array(memoryBuffer, inputAt, inputCapacity);
  }
}

/** One parsed SIP message: read-only fields, each computed on first read. */
class SipMessage {
  #text;
  #side;
  #index;
  #cache = {};

  constructor(text, side, index) {
    this.#text = text;
    this.#side = side;
    this.#index = index;
  }

  #span(at) {
    const start = this.#index[at];
    if (start === ABSENT) return null;
    const end = this.#index[at + 1];
    // `>>> 0` keeps the offsets unsigned after masking off SIDE.
    return start & SIDE
      ? this.#side.slice((start & ~SIDE) >>> 0, (end & ~SIDE) >>> 0)
      : this.#text.slice(start, end);
  }

  #nameAddr(at) {
    return { uri: this.#span(at), tag: this.#span(at + 2), display: this.#span(at + 4) };
  }

  #cached(key, make) {
    const c = this.#cache;
    return key in c ? c[key] : (c[key] = make());
  }

  get kind() { return this.#index[W_FLAGS] & 1 ? 'request' : 'response'; }
  get method() { return this.#index[W_FLAGS] & 1 ? this.#cached('method', () => this.#span(W_METHOD)) : undefined; }
  get uri() { return this.#index[W_FLAGS] & 1 ? this.#cached('uri', () => this.#span(W_URI)) : undefined; }
  get status() { return this.#index[W_FLAGS] & 1 ? undefined : this.#index[W_STATUS]; }
  get reason() { return this.#index[W_FLAGS] & 1 ? undefined : this.#cached('reason', () => this.#span(W_REASON)); }
  get callId() { return this.#cached('callId', () => this.#span(W_CALL_ID)); }
  get cseq() {
    return this.#cached('cseq', () => ({ seq: this.#index[W_SEQ], method: this.#span(W_CSEQ_METHOD) }));
  }
  get from() { return this.#cached('from', () => this.#nameAddr(W_FROM)); }
  get to() { return this.#cached('to', () => this.#nameAddr(W_TO)); }
  get contentType() { return this.#cached('contentType', () => this.#span(W_CONTENT_TYPE)); }
  get body() { return this.#cached('body', () => this.#span(W_BODY)); }
  get via() {
    return this.#cached('via', () => {
      const ix = this.#index;
      const vias = [];
      for (let i = 0, at = W_VIAS + 1; i < ix[W_VIAS]; i++, at += VIA_WORDS) {
        const port = ix[at + 4];
        const rport = ix[at + 9];
        vias.push({
          transport: this.#span(at),
          host: this.#span(at + 2),
          port: port === ABSENT ? null : port,
          branch: this.#span(at + 5),
          received: this.#span(at + 7),
          rport: rport === ABSENT ? null : rport === RPORT_FLAG ? true : rport,
        });
      }
      return vias;
    });
  }
  get headers() {
    return this.#cached('headers', () => {
      const ix = this.#index;
      let at = W_VIAS + 1 + ix[W_VIAS] * VIA_WORDS;
      const count = ix[at++];
      const headers = [];
      for (let i = 0; i < count; i++, at += 4) headers.push([this.#span(at), this.#span(at + 2)]);
      return headers;
    });
  }

  /** A plain object with every field (what `JSON.stringify` writes). */
  toJSON() {
    const common = {
      callId: this.callId, cseq: this.cseq, from: this.from, to: this.to, via: this.via,
      headers: this.headers, contentType: this.contentType, body: this.body,
    };
    return this.kind === 'request'
      ? { kind: 'request', method: this.method, uri: this.uri, ...common }
      : { kind: 'response', status: this.status, reason: this.reason, ...common };
  }

  get [Symbol.toStringTag]() { return 'SipMessage'; }
}

/**
 * Parses one SIP message (one WebSocket frame). The message is parsed and
 * validated at once (a message the user agent could not use throws `bad_input`);
 * its fields are read lazily from an index (see SipMessage).
 */
export function parseMessage(text) {
  needString(text, 'text');
  if (memory === null) {
    memory = wasmMemory();
    ({
      ABSENT, SIDE, RPORT_FLAG, W_FLAGS, W_STATUS, W_SEQ, W_METHOD, W_URI, W_REASON, W_CALL_ID,
      W_CSEQ_METHOD, W_FROM, W_TO, W_CONTENT_TYPE, W_BODY, W_VIAS, VIA_WORDS,
    } = wasmParseLayout());
  }
  // UTF-8 needs at most 3 bytes per UTF-16 unit.
  const need = text.length * 3;
  if (need > inputCapacity) {
    inputCapacity = Math.max(need, 4096);
    inputAt = wasmParseBuffer(inputCapacity);
    memoryBuffer = null;
  }
  refreshViews();
  const { written } = encoder.encodeInto(text, inputBytes);
  let at;
  try {
    at = wasmParseInput(written);
  } catch (e) {
    rethrow(e);
  }
  // Parsing may have grown the memory (a new buffer).
  refreshViews();
  const first = at >>> 2;
  const index = memoryWords.slice(first, first + memoryWords[first]);
  return new SipMessage(text, index[W_FLAGS] & 2 ? wasmParseSide() : '', index);
}

/** Encodes a settings object as application/service-settings+xml. */
export function encodeServiceSettings(settings) {
  try {
    return wasmEncodeServiceSettings(readArgs([settings], ['settings'])[0]);
  } catch (e) {
    rethrow(e);
  }
}

/** Decodes application/service-settings+xml for the entity `aor` (or the first). */
export function decodeServiceSettings(xml, aor) {
  needString(xml, 'xml');
  if (aor !== undefined) needString(aor, 'aor');
  try {
    return wasmDecodeServiceSettings(xml, aor);
  } catch (e) {
    rethrow(e);
  }
}

/** The package version. */
export function version() {
  return wasmVersion();
}
