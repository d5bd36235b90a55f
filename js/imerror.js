// ImError: the one definition. The core (src/js/error.rs) constructs it through
// wasm-bindgen's import of this module, and imclient.js re-exports the same class
// (js/build.sh points its import at the copy wasm-bindgen places in snippets/), so
// `instanceof ImError` holds for every error the package throws or rejects with.

/** Every error this package throws or rejects with. `code` is stable; branch on it. */
export class ImError extends Error {
  constructor(code, message, init) {
    super(message, init && init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'ImError';
    this.code = code;
    if (init && init.status !== undefined) this.status = init.status;
    if (init && init.reason !== undefined) this.reason = init.reason;
    if (init && init.retryAfter !== undefined) this.retryAfter = init.retryAfter;
  }
}
