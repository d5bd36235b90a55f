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

/** An OMA IM client over SIP over WebSocket. See imsip.d.ts for the API. */
export class ImClient extends EventTarget {
  #core;

  constructor(options) {
    super();
    const emit = (type, detail) => {
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

  fetchHistory(query) {
    return settle(this.#core.fetchHistory(query));
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
