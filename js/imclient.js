// The JS face of imsip: ImClient (an EventTarget), ImError, and the codec exports.
// Thin by design: every SIP decision is made by the Rust core (src/ua) behind
// ImClientCore; this file only turns its callbacks into DOM events and its errors
// into ImError instances.
import {
  ImClientCore,
  parseMessage as wasmParseMessage,
  encodeServiceSettings as wasmEncodeServiceSettings,
  decodeServiceSettings as wasmDecodeServiceSettings,
  version as wasmVersion,
} from './imsip_core.js';

/** Every error this package throws or rejects with. `code` is stable; branch on it. */
export class ImError extends Error {
  constructor(code, message, init) {
    super(message, init && init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'ImError';
    this.code = code;
    if (init && init.status !== undefined) this.status = init.status;
    if (init && init.reason !== undefined) this.reason = init.reason;
  }
}

// The core throws Error objects carrying `code` (src/js/error.rs); give them the
// ImError prototype so the stack of the original throw is kept.
function asImError(e) {
  if (e instanceof ImError) return e;
  if (e instanceof Error && typeof e.code === 'string') {
    Object.setPrototypeOf(e, ImError.prototype);
    return e;
  }
  // Anything else is a bug (a WebAssembly trap), not the caller's fault.
  const text = e instanceof Error ? e.message : String(e);
  return new ImError('invalid_state', `imsip internal error: ${text}`, { cause: e });
}

function rethrow(e) {
  throw asImError(e);
}

const settle = (promise) => promise.then(undefined, rethrow);

/** An OMA IM client over SIP over WebSocket. See imsip.d.ts for the API. */
export class ImClient extends EventTarget {
  #core;

  constructor(options) {
    super();
    const emit = (type, detail) => {
      if (detail.error !== undefined) asImError(detail.error);
      this.dispatchEvent(new CustomEvent(type, { detail }));
    };
    try {
      this.#core = new ImClientCore(options, emit);
    } catch (e) {
      rethrow(e);
    }
  }

  register() {
    return settle(this.#core.register());
  }

  unregister() {
    return settle(this.#core.unregister());
  }

  publishServiceSettings(settings, options) {
    return settle(this.#core.publishServiceSettings(settings, options));
  }

  removeServiceSettings() {
    return settle(this.#core.removeServiceSettings());
  }

  fetchServiceSettings() {
    return settle(this.#core.fetchServiceSettings());
  }

  watchServiceSettings() {
    return settle(this.#core.watchServiceSettings());
  }

  unwatchServiceSettings() {
    return settle(this.#core.unwatchServiceSettings());
  }

  sendMessage(to, body, options) {
    return settle(this.#core.sendMessage(to, body, options));
  }

  close() {
    this.#core.close();
  }

  get instanceId() {
    return this.#core.instanceId;
  }

  get callId() {
    return this.#core.callId;
  }

  get akaSqn() {
    return this.#core.akaSqn;
  }

  get registration() {
    return this.#core.registration;
  }
}

function needString(value, name) {
  if (typeof value !== 'string') throw new ImError('bad_input', `invalid input: ${name}: must be a string`);
}

/** Parses one SIP message (one WebSocket frame). */
export function parseMessage(text) {
  needString(text, 'text');
  let json;
  try {
    json = wasmParseMessage(text);
  } catch (e) {
    rethrow(e);
  }
  return JSON.parse(json);
}

/** Encodes a settings object as application/service-settings+xml. */
export function encodeServiceSettings(settings) {
  try {
    return wasmEncodeServiceSettings(settings);
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
