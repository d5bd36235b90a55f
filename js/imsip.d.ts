/// <reference lib="dom" />
// Types of the imsip package (hand-written; the wasm-bindgen declarations of the
// low-level ImClientCore are not part of the public surface).

// ───────────────────────────── initialisation ─────────────────────────────

/** What `init` accepts: the module's location or bytes (as wasm-bindgen's `web` target). */
export type InitInput =
  | RequestInfo
  | URL
  | Response
  | BufferSource
  | WebAssembly.Module;

/**
 * Loads the WebAssembly module (the `web` build). Call once before anything else.
 * In Node the module is read from disk when `module_or_path` is not given.
 * In the `bundler` build this resolves at once.
 */
export default function init(options?: { module_or_path?: InitInput | Promise<InitInput> }): Promise<void>;

/** Synchronous initialisation from the module's bytes or a compiled module. */
export function initSync(options: { module: BufferSource | WebAssembly.Module }): void;

// ───────────────────────────── errors ─────────────────────────────

/** Stable error codes: branch on these, not on messages. */
export type ImErrorCode =
  /** Credentials refused (a new challenge after our answer) or no usable challenge. */
  | 'auth_failed'
  /** IMS AKA: the network failed to authenticate (MAC mismatch in AUTN). */
  | 'network_auth_failed'
  /** No final response in time (Timer F), or no NOTIFY after a SUBSCRIBE. */
  | 'timeout'
  /** The WebSocket closed or failed before the operation finished. */
  | 'transport'
  /** The core answered with a final non-2xx response: see `status` and `reason`. */
  | 'rejected'
  /** The core does not support the service-settings event package (489/501/405). */
  | 'unsupported_event'
  /** Not possible now (client closed, nothing published to remove, ...). */
  | 'invalid_state'
  /** A bad option or argument; the message names the field. */
  | 'bad_input'
  /** The core answered something unusable (bad XML, malformed header). */
  | 'bad_response'
  /** Given up by the app: a chat invitation cancelled while it rang (`startChat`'s `signal`, `close()`). */
  | 'cancelled';

/** Every rejection and every throw of this package. Never carries a password or key. */
export class ImError extends Error {
  constructor(code: ImErrorCode, message: string, init?: { status?: number; reason?: string; cause?: unknown });
  readonly name: 'ImError';
  readonly code: ImErrorCode;
  /** SIP status code, when a response caused the error. */
  readonly status?: number;
  /** SIP reason phrase, when a response caused the error (`rejected`). */
  readonly reason?: string;
  /** Retry-After seconds of the response, when given. */
  readonly retryAfter?: number;
}

// ───────────────────────────── service settings ─────────────────────────────

/** `<hist-settings><hist-activation type active/>`: conversation history. */
export interface HistorySettings {
  active: boolean;
  /** Which history is meant (operator-defined unsigned integer). */
  type?: number;
}

/**
 * The document a settings object was decoded from, carried so that a
 * read-modify-write keeps what the typed fields cannot hold (other entities,
 * unknown elements and attributes). Opaque: pass it back unchanged.
 */
export interface SettingsExtensions {
  /** The whole `application/service-settings+xml` document. */
  xml: string;
}

/**
 * The OMA IM service settings of ONE entity (the AoR), as decoded. A field that is
 * absent means the element is absent from the document.
 */
export interface ServiceSettings {
  /** The entity's AoR (`<entity id>`). */
  entity: string;
  /** `<incoming-session-barring active>`: incoming sessions barred. */
  incomingSessionBarring?: boolean;
  /** `<vis-status active>`: visible to others. */
  visibility?: boolean;
  /** `<offline-delivery active>`: messages stored while offline. */
  offlineDelivery?: boolean;
  history?: HistorySettings;
  /** `<session-mode>` text. */
  sessionMode?: string;
  /** `<pager-large-mode>` text. */
  pagerLargeMode?: string;
  /** `<service-id>` text. */
  serviceId?: string;
  /** `<active>` boolean. */
  active?: boolean;
  /** The original document (always present on decoded settings). */
  extensions?: SettingsExtensions;
}

/**
 * Settings to publish. `entity` defaults to the client's AoR. When `extensions` is
 * given, that document is decoded, the typed fields are set on the entity (a field
 * left out removes its element) and the document is re-encoded; otherwise a new
 * one-entity document is written.
 */
export interface ServiceSettingsInit extends Omit<ServiceSettings, 'entity'> {
  entity?: string;
}

// ───────────────────────────── options ─────────────────────────────

/** A WebSocket implementation (the browser's, or the `ws` package in Node < 22). */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
}

/** A WebSocket constructor: called as `new webSocket(server, 'sip')`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** IMS AKA keys (Milenage runs in WebAssembly). Hex strings. */
export interface AkaOptions {
  /** Subscriber key K: 32 hex digits. */
  k: string;
  /** Operator variant key OP: 32 hex digits (give `op` or `opc`). */
  op?: string;
  /** OPc: 32 hex digits (give `op` or `opc`). */
  opc?: string;
  /** Authentication management field: 4 hex digits (default `8000`). */
  amf?: string;
  /** The last accepted sequence number (up to 12 hex digits; persist `client.akaSqn`). */
  sqn?: string;
}

interface ImClientOptionsBase {
  /**
   * `ws://` or `wss://` URL of the SIP core (subprotocol `sip`), or several of the same
   * core in order of preference, all `ws://` or all `wss://`: a connection that fails
   * before it opens, or before a REGISTER succeeded on it, is followed (after the
   * `reconnect` backoff) by one to the next URL, round the list; after a connection
   * that registered is lost, the next attempt goes to the first again. The
   * `connection` event names the URL.
   */
  server: string | string[];
  /**
   * REGISTER's Request-URI when the registrar's domain is not the AoR's: a sip: or
   * sips: URI without a user part, e.g. `sip:ims.example.net` (default: `sip:` and the
   * AoR's domain, 3GPP TS 24.229 §5.1.1.2.1).
   */
  registrar?: string;
  /** Public identity (address of record), e.g. `sip:alice@example.net`. */
  aor: string;
  /** Display name in From and P-Preferred-Identity: one line, no control characters. */
  displayName?: string;
  /**
   * Product tokens (`name/version`) and `(comments)` appended to
   * `IM-client/OMA1.0 imsip/<version>` (RFC 3261 §20.41), e.g. `'MyApp/1.2 (web)'`.
   */
  userAgent?: string;
  /** Requested registration expiry in seconds (default 600). */
  expires?: number;
  /**
   * `+sip.instance` URN (`urn:uuid:…`, RFC 5626 §4.1); random when absent. **Persist `client.instanceId`** and pass it
   * back: a reload then replaces its earlier binding (same instance, same Contact)
   * instead of leaving a stale one (RFC 5626 §6). It is the only value to persist.
   */
  instanceId?: string;
  /**
   * Call-ID of the registration (`word` or `word@word`, RFC 3261 §25.1). Not needed:
   * each client registers with a fresh one.
   * When given and the registrar refuses it with 500 (an earlier page's higher CSeq),
   * the client switches to a fresh Call-ID at once.
   */
  callId?: string;
  /**
   * CRLF keep-alive interval in seconds; 0 turns it off (default 30). A `Flow-Timer`
   * from the registrar replaces it. Pongs are only required when the registrar
   * negotiated outbound (RFC 5626 §4.4.1).
   */
  keepAliveInterval?: number;
  /**
   * Seconds a WebSocket may take to open (1 to 3600, default 10), the SIP one and each
   * MSRP relay's: a socket that has neither opened nor failed by then is closed and
   * counts as failed (SIP: the `reconnect` backoff, then a new attempt; MSRP: the
   * large message or chat fails `transport`, or `sendMessage` sends a MESSAGE).
   */
  connectTimeout?: number;
  /**
   * Backoff in seconds for reconnecting and re-registering: after n consecutive
   * failures the wait is min(maxDelay, minDelay·2^n), randomised to 50–100 %; the count
   * resets only when a REGISTER succeeds (RFC 5626 §4.5). Defaults 0.5 and 30; the
   * RFC's own values are 30 and 1800.
   */
  reconnect?: { minDelay?: number; maxDelay?: number };
  /**
   * Content types accepted in incoming MESSAGEs (`'text/plain'`, `'message/*'`);
   * others are answered 415 with `Accept`. Default: every type.
   */
  accept?: string[];
  /**
   * Seconds a request waits for its final response (Timer F), and app work waits for
   * a registration in progress, before failing with `timeout` (default 32).
   */
  requestTimeout?: number;
  /**
   * Answer delivery-notification requests by itself: a message whose sender asked
   * for `delivery` gets `<delivered/>` once it is dispatched as a `message` event
   * (RFC 5438). Default true.
   */
  autoDelivery?: boolean;
  /**
   * The refresh, in seconds, announced in our "active" typing indications (RFC 3994
   * §3.2; 60 to 3600, default 120): while typing goes on, "active" is sent again a
   * tenth of it before it lapses, never more often.
   */
  composingRefresh?: number;
  /** Seconds without `setComposing(to, true)` after which "idle" is sent (default 15). */
  composingIdleTimeout?: number;
  /** Settings that `register()` publishes according to `publishPolicy`. */
  serviceSettings?: ServiceSettingsInit;
  /**
   * What `register()` does about service settings after the 200:
   * `'if-absent'` (default) fetches the server's and publishes `serviceSettings` only
   * when it has none; `'always'` publishes them; `'never'` does nothing.
   */
  publishPolicy?: 'if-absent' | 'always' | 'never';
  /**
   * The MSRP relay of large messages and chat sessions (RFC 7977: a browser reaches
   * MSRP only through a relay, authenticating with the SIP password, RFC 4976): its
   * `ws://`/`wss://` URL, opened with subprotocol `msrp`, or `{ url, uri }` when its
   * MSRP URI is not `msrp(s)://host:port;ws` of the URL. Default: the server's origin
   * with path `/msrp` (imsip-devcore's relay; Kamailio with `sub_protocols` 3 takes any
   * path). AKA-only clients have no MSRP (`invalid_state`; invitations are refused 488).
   */
  msrpRelay?: string | { url: string; uri?: string };
  /** `sendMessage` bodies above this many bytes go in large-message mode (default 1300). */
  largeMessageThreshold?: number;
  /**
   * The largest incoming large message or chat message, in bytes (default 16 MiB): our
   * SDP's `a=max-size`; a larger one is refused 413.
   */
  maxLargeMessageSize?: number;
  /**
   * Header fields on every request and response the client writes (REGISTER and its
   * refreshes, PUBLISH, SUBSCRIBE, MESSAGE, INVITE, ACK, BYE, CANCEL, our answers),
   * `'Name: value'` each, in order, after a `sendMessage`'s own `extraHeaders`: what a
   * core may require on everything (JsSIP's `extra_headers`), e.g.
   * `['P-Access-Network-Info: IEEE-802.11', 'X-Tenant: acme']`. Refused `bad_input`
   * like `sendMessage`'s, and also for the fields REGISTER, PUBLISH, SUBSCRIBE and
   * answers carry (Expires, Event, Accept, Allow, Supported, Unsupported,
   * SIP-If-Match, Warning, Content-Disposition), and a list over 16 KiB written out
   * (every request carries it, and must fit in a 64 KiB frame).
   */
  extraHeaders?: string[];
  /** WebSocket constructor to use instead of the global one (e.g. `ws` in Node < 22). */
  webSocket?: WebSocketConstructor;
  /**
   * `'tabs'`: every tab of this origin with the same `server` and `aor` shares one
   * client (one WebSocket, one registration) run by the package's SharedWorker
   * (`imworker.js`, next to `imsip.js`). The first tab's options make the client; each
   * tab's `ImClient` has the same API and events. Where there is no SharedWorker (Node,
   * Chrome on Android, older Safari), with a `webSocket` constructor, or when the
   * worker cannot start, the client runs in this tab as without the option: see
   * `shared`.
   */
  share?: 'tabs';
}

/** Digest with a password. */
export interface PasswordOptions extends ImClientOptionsBase {
  /** Private identity for authentication (default: user@host of `aor`). */
  username?: string;
  password: string;
  ha1?: never;
  aka?: never;
}

/** Digest with a precomputed MD5 HA1 (answers MD5 challenges only). */
export interface Ha1Options extends ImClientOptionsBase {
  username?: string;
  /** `MD5(username:realm:password)`: 32 hex digits. */
  ha1: string;
  password?: never;
  aka?: never;
}

/** IMS AKA (AKAv1-MD5 / AKAv2-MD5). */
export interface AkaClientOptions extends ImClientOptionsBase {
  username?: string;
  aka: AkaOptions;
  password?: never;
  ha1?: never;
}

/** No credentials (a core that does not challenge). */
export interface NoAuthOptions extends ImClientOptionsBase {
  username?: never;
  password?: never;
  ha1?: never;
  aka?: never;
}

/** `new ImClient(options)`. Unknown keys are refused at run time too (`bad_input`). */
export type ImClientOptions = PasswordOptions | Ha1Options | AkaClientOptions | NoAuthOptions;

export interface HistoryQuery {
  /** Only the conversation with this peer (a SIP URI). */
  with?: string;
  /** Only messages at or after this time (a Date, or milliseconds since the epoch). */
  since?: Date | number;
  /** At most this many, the most recent (1 to 10000). */
  limit?: number;
}

export interface HistoryMessage {
  /** The IM Server's id of the message. */
  id: string;
  /** Sent by this user, or received. */
  direction: 'sent' | 'received';
  /** The other party's URI. */
  peer: string;
  /** When the IM Server relayed or stored it (RFC 3339 UTC, e.g. `2026-11-29T23:05:00Z`). */
  time: string;
  contentType: string;
  /** The body byte for byte: a string when it is UTF-8, else its bytes (a binary body). */
  body: string | Uint8Array;
}

// ───────────────────────────── events ─────────────────────────────

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface ConnectionDetail {
  state: ConnectionState;
  /** Seconds until the next attempt, when `disconnected` and reconnecting. */
  retryIn?: number;
  /** The core's URL this connection is (or, `disconnected`, was) to: one of `server`. */
  server: string;
}

/**
 * `retrying`: a REGISTER failed in a way worth retrying (408, 480, 500, 503, 504, a
 * Retry-After, no answer, the connection lost) and the client tries again by itself
 * after `retryIn` seconds. `failed`: failed for good (credentials refused, 403, 404,
 * another final refusal); nothing happens until `register()` is called again.
 */
export type RegistrationState =
  | 'unregistered'
  | 'registering'
  | 'registered'
  | 'retrying'
  | 'unregistering'
  | 'failed';

/** What the registrar returned in its 200 (RFC 3608, RFC 7315, RFC 5627). */
export interface RegistrationInfo {
  /** Granted expiry in seconds. */
  expires: number;
  /** Every contact bound to the AoR. */
  contacts: string[];
  /** Service-Route URIs. */
  serviceRoute: string[];
  /** P-Associated-URI values. */
  associatedUris: string[];
  /** Our public GRUU, when assigned. */
  pubGruu?: string;
}

export interface RegistrationDetail extends Omit<RegistrationInfo, 'expires'> {
  state: RegistrationState;
  expires?: number;
  /** Why, when `state` is `failed` or `retrying`, or the flow was lost. */
  error?: ImError;
  /** Seconds until the next attempt, when `retrying`. */
  retryIn?: number;
}

/**
 * The service-settings publication (RFC 3903): `retrying` when a refresh failed and
 * is retried before the server forgets the document; `lost` when it expired first or
 * was refused for good (publish again to restore it); `removed` by the app.
 */
export type PublicationState = 'published' | 'retrying' | 'lost' | 'removed';

export interface PublicationDetail {
  state: PublicationState;
  /** SIP-ETag, when `published`. */
  etag?: string;
  /** Granted expiry in seconds, when `published`. */
  expires?: number;
  /** Seconds until the next attempt, when `retrying`. */
  retryIn?: number;
  /** Why, when `retrying` or `lost`. */
  error?: ImError;
}

export interface MessageDetail {
  /** Sender URI. */
  from: string;
  displayName?: string;
  /** To URI. */
  to: string;
  /** Content-Type (default `text/plain`). */
  contentType: string;
  /**
   * The body: a string when its bytes are UTF-8 (text, JSON, XML, ...), else a
   * `Uint8Array` of them (a binary body, which arrives in a binary WebSocket frame,
   * RFC 7118 §4.2).
   */
  body: string | Uint8Array;
  /**
   * Stored by the IM Server while this user was offline and delivered now (the MESSAGE
   * carries a `Date` header with the original time: see README, "IM Server").
   */
  deferred: boolean;
  /**
   * When it was sent, RFC 3339 UTC: the CPIM `DateTime` of a `message/cpim` message,
   * else the MESSAGE's `Date` (for a deferred message: when it was sent).
   */
  dateTime?: string;
  /**
   * The message's `imdn.Message-ID` (RFC 5438), when its sender named it: pass the
   * detail (or this id) to `markDisplayed()`.
   */
  messageId?: string;
  /**
   * The notifications its sender asked for, when any. `delivery` is answered by the
   * client itself (option `autoDelivery`); `display` is the app's, with `markDisplayed()`.
   */
  imdn?: ImdnKind[];
  /**
   * Every header field of the MESSAGE, `[name, value]` as received and in order: a
   * sender's `extraHeaders` (`X-...`) are here.
   */
  headers: [string, string][];
  /** Absent: a pager-mode MESSAGE (`detail.largeMessage` tells the two kinds apart). */
  largeMessage?: false;
}

/** A message that came in large-message mode (an MSRP session of its own). */
export interface LargeMessageDetail {
  from: string;
  displayName?: string;
  to: string;
  contentType: string;
  /** A string for `text/*` types (UTF-8), the bytes otherwise. */
  body: string | Uint8Array;
  deferred: false;
  largeMessage: true;
  /** Pager-mode fields a large message never has. */
  dateTime?: undefined;
  messageId?: undefined;
  imdn?: undefined;
  headers?: undefined;
}

/** More of a large message was taken by the relay. */
export interface ProgressDetail {
  /** Names the transfer (one per `sendLargeMessage`). */
  transfer: number;
  /** Set when the transfer has an `onProgress`: what ties these events to it. */
  tag?: string;
  /** The recipient. */
  to: string;
  bytesSent: number;
  total: number;
}

/** A peer invites this client to a chat session. */
export interface InvitationDetail {
  /** The session's id (the ChatSession's `id` once accepted). */
  chat: number;
  from: string;
  displayName?: string;
  /** Our relay grants a path, then our 200 goes; resolves once the caller's ACK came. */
  accept(): Promise<ChatSession>;
  /** Declines (486 Busy Here, 603 Decline: the default). */
  reject(status?: number): Promise<void>;
}

/** An invitation this client showed ended before it was accepted here. */
export interface InvitationEndedDetail {
  chat: number;
  /**
   * `cancelled`: the caller gave up; `local`: declined (here or in another tab);
   * `answered`: accepted in another tab of a shared client; `failed`: the flow was lost.
   */
  reason: 'cancelled' | 'local' | 'answered' | 'failed' | 'remote' | 'transport';
}

export interface SendLargeMessageOptions {
  /** The body's type (default `text/plain;charset=UTF-8`). */
  contentType?: string;
  /** Called with each `progress` event of this transfer. */
  onProgress?: (progress: ProgressDetail) => void;
}

/** Which notification: delivery (RFC 5438 positive/negative delivery), display, processing. */
export type ImdnKind = 'delivery' | 'display' | 'processing';

/** A disposition notification about a message this client sent with `imdn`. */
export interface ImdnDetail {
  /**
   * The message the notification is about: the `messageId` `sendMessage` resolved with
   * when this client sent it. Not checked against what this client sent — another
   * device of the same user may have (and a shared client's tabs all get it).
   */
  messageId: string;
  /** Who sent the notification (the recipient, or an IM Server for `processing`). */
  from: string;
  kind: ImdnKind;
  /**
   * `delivered` / `failed` (delivery), `displayed` (display), `processed` / `stored`
   * (processing: an IM Server holds it; not a delivery), `forbidden` / `error` (any).
   */
  status: 'delivered' | 'failed' | 'displayed' | 'processed' | 'stored' | 'forbidden' | 'error';
  /** When, RFC 3339 UTC (the notification's CPIM DateTime, else when it arrived). */
  at: string;
}

/** A peer's typing state (RFC 3994). */
export interface ComposingDetail {
  /** The peer's URI. */
  from: string;
  /**
   * `active`: typing. `idle`: stopped, said so, sent its message, or its refresh lapsed
   * (the client times an `active` out by itself).
   */
  state: 'active' | 'idle';
  /** When the peer was last active (sent with `idle`), RFC 3339 UTC. */
  lastActive?: string;
  /** What is being composed (`text/plain`, `audio`...), when said. */
  contentType?: string;
}

export interface ServiceSettingsDetail {
  /** `null`: a NOTIFY said the settings are gone (removed at the server, or expired there). */
  settings: ServiceSettings | null;
  /** A NOTIFY of `watchServiceSettings()`, or adopted by the `'if-absent'` policy. */
  source: 'notify' | 'adopted';
}

export interface TraceDetail {
  direction: 'in' | 'out';
  /**
   * The whole frame (never contains a password: digest sends only hashes). MSRP frames'
   * binary bodies are shown by their size.
   */
  text: string;
  /** `'msrp'` for a frame of an MSRP session; absent for SIP. */
  protocol?: 'msrp';
  /** When, in milliseconds since the epoch (`Date.now()`). */
  at: number;
}

export interface WatchTerminatedDetail {
  /** The Subscription-State reason, lower-cased; absent when a refresh failed. */
  reason?: string;
  /** Whether the client subscribes again by itself (RFC 6665 §4.1.3). */
  resubscribe: boolean;
  /** Seconds it waits first (`retry-after`), when given. */
  retryAfter?: number;
}

export type PolicyDetail =
  | { outcome: 'published'; etag: string }
  | { outcome: 'adopted' }
  | { outcome: 'nothing-to-publish' }
  | { outcome: 'failed'; error: ImError };

export interface DroppedDetail {
  /** Why a frame from the core was not used. */
  reason: string;
}

export interface ImClientEventMap {
  connection: CustomEvent<ConnectionDetail>;
  registration: CustomEvent<RegistrationDetail>;
  message: CustomEvent<MessageDetail | LargeMessageDetail>;
  progress: CustomEvent<ProgressDetail>;
  invitation: CustomEvent<InvitationDetail>;
  invitationended: CustomEvent<InvitationEndedDetail>;
  imdn: CustomEvent<ImdnDetail>;
  composing: CustomEvent<ComposingDetail>;
  servicesettings: CustomEvent<ServiceSettingsDetail>;
  trace: CustomEvent<TraceDetail>;
  watchterminated: CustomEvent<WatchTerminatedDetail>;
  publication: CustomEvent<PublicationDetail>;
  policy: CustomEvent<PolicyDetail>;
  dropped: CustomEvent<DroppedDetail>;
}

// ───────────────────────────── the client ─────────────────────────────

export interface PublishResult {
  /** SIP-ETag of the publication. */
  etag: string;
  /** Granted expiry in seconds. */
  expires: number;
}

export interface WatchResult {
  /** Granted subscription expiry in seconds. */
  expires: number;
}

export interface MessageResult {
  status: number;
  reason: string;
  /** With `imdn`: the message's `imdn.Message-ID`, which its `imdn` events name. */
  messageId?: string;
  /** Sent in large-message mode (the body was over `largeMessageThreshold`). */
  largeMessage?: true;
  /** With `largeMessage`: the body's size. */
  bytes?: number;
}

export interface LargeMessageResult {
  /** 200: the receiver's success report covers the whole body. */
  status: 200;
  reason: string;
  largeMessage: true;
  bytes: number;
}

export interface ChatMessageDetail {
  /** The MSRP Message-ID. */
  messageId: string;
  contentType: string;
  /** A string for `text/*` types, the bytes otherwise. */
  body: string | Uint8Array;
}

export interface ChatComposingDetail {
  /** `active` lapses by itself after the peer's refresh; a message from the peer ends it. */
  state: 'active' | 'idle';
  /** RFC 3339 UTC, when said. */
  lastActive?: string;
}

export interface ChatReportDetail {
  /** The `messageId` that `send` resolved with. */
  messageId: string;
  /** `delivered`: the peer's success report; `failed`: an error after the relay took it. */
  status: 'delivered' | 'failed';
  code?: number;
  reason?: string;
}

export interface ChatEndedDetail {
  /**
   * `local`: `close()`; `remote`: the peer's BYE; `cancelled`: the caller gave up before
   * it was answered; `transport`: the MSRP connection was lost (a BYE went); `failed`:
   * the SIP session failed (no ACK, the flow lost).
   */
  reason: 'local' | 'remote' | 'cancelled' | 'transport' | 'failed';
}

export interface ChatSessionEventMap {
  message: CustomEvent<ChatMessageDetail>;
  composing: CustomEvent<ChatComposingDetail>;
  report: CustomEvent<ChatReportDetail>;
  ended: CustomEvent<ChatEndedDetail>;
}

/**
 * A chat session (OMA IM session mode: an INVITE set up an MSRP session both sides
 * write into). Events that come before the task that made it ends wait for it, so
 * listeners added right after `await` miss nothing.
 */
export class ChatSession extends EventTarget {
  private constructor();
  /** The session's id. */
  readonly id: number;
  /** The other side's URI. */
  readonly peer: string;
  readonly state: 'open' | 'ended';
  addEventListener<K extends keyof ChatSessionEventMap>(
    type: K,
    listener: ((this: ChatSession, ev: ChatSessionEventMap[K]) => void) | { handleEvent(ev: ChatSessionEventMap[K]): void } | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ChatSessionEventMap>(
    type: K,
    listener: ((this: ChatSession, ev: ChatSessionEventMap[K]) => void) | { handleEvent(ev: ChatSessionEventMap[K]): void } | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Sends a message (a string as `text/plain;charset=UTF-8`, or bytes with
   * `contentType`); resolves once the relay took it. A `report` event follows.
   */
  send(body: string | ArrayBuffer | ArrayBufferView, options?: { contentType?: string }): Promise<{ messageId: string }>;
  /** The user is typing (`true`, on every keystroke) or stopped: RFC 3994 in the session. */
  setComposing(active: boolean): Promise<void>;
  /** Ends the session (BYE); resolves once it is answered. */
  close(): Promise<void>;
}

export interface SendMessageOptions {
  /** The body's type (default `text/plain;charset=UTF-8`). */
  contentType?: string;
  /**
   * Notifications to ask for (RFC 5438): the body then goes in `message/cpim` with an
   * `imdn.Message-ID`; without it the body is sent as it is (what JsSIP and SIP.js
   * peers read). `delivery` asks for positive and negative delivery; the RFC's names
   * `positive-delivery` and `negative-delivery` are accepted too.
   */
  imdn?: Array<ImdnKind | 'positive-delivery' | 'negative-delivery'>;
  /**
   * Header fields added to the MESSAGE, `'Name: value'` each (as in JsSIP and SIP.js),
   * in order, kept on an authenticated retry. Refused `bad_input`: a name that is not
   * a token or that the client writes itself (Via, From, To, Call-ID, CSeq,
   * Max-Forwards, Contact, Route, Record-Route, Content-Type, Content-Length,
   * Authorization, Proxy-Authorization, Accept-Contact, P-Preferred-Identity,
   * User-Agent), a value with a line break or another control character. A message with
   * extra headers always goes as a MESSAGE, never in large-message mode.
   */
  extraHeaders?: string[];
}

export class ImClient extends EventTarget {
  /** Checks the options (throws `ImError` `bad_input` naming the field). Sends nothing yet. */
  constructor(options: ImClientOptions);

  addEventListener<K extends keyof ImClientEventMap>(
    type: K,
    listener: ((this: ImClient, ev: ImClientEventMap[K]) => void) | { handleEvent(ev: ImClientEventMap[K]): void } | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ImClientEventMap>(
    type: K,
    listener: ((this: ImClient, ev: ImClientEventMap[K]) => void) | { handleEvent(ev: ImClientEventMap[K]): void } | null,
    options?: boolean | EventListenerOptions,
  ): void;

  /** Registers (connecting first); resolves on the 200. */
  register(): Promise<RegistrationInfo>;
  /** Removes our binding (Expires 0). */
  unregister(): Promise<void>;
  /** Publishes settings (PUBLISH, modify when already published). */
  publishServiceSettings(settings: ServiceSettingsInit, options?: { expires?: number }): Promise<PublishResult>;
  /** Removes our publication. */
  removeServiceSettings(): Promise<void>;
  /** One-shot SUBSCRIBE: the server's settings, `null` when it has none. */
  fetchServiceSettings(): Promise<ServiceSettings | null>;
  /** Ongoing SUBSCRIBE: `servicesettings` events follow. */
  watchServiceSettings(): Promise<WatchResult>;
  /**
   * The conversation history the IM Server keeps while the user's history setting is
   * active (one-shot SUBSCRIBE `Event: im-history`); oldest first. A message kept in
   * its CPIM envelope (one sent with receipts) is given as its content, as the
   * `message` event gives it. A core without history rejects with `unsupported_event`.
   */
  fetchHistory(query?: HistoryQuery): Promise<HistoryMessage[]>;
  /** Ends the watch. */
  unwatchServiceSettings(): Promise<void>;
  /**
   * Pager-mode MESSAGE (`text/plain;charset=UTF-8` unless `contentType`); a body over
   * `largeMessageThreshold` bytes goes in large-message mode instead (see
   * `sendLargeMessage`; `imdn` is not asked for then), or as a MESSAGE after all when
   * the relay or the peer cannot do it (the result then has no `largeMessage`).
   */
  sendMessage(to: string, body: string | Uint8Array, options?: SendMessageOptions): Promise<MessageResult>;
  /**
   * OMA IM large-message mode: an INVITE with `+g.oma.sip-im.large-message` sets up an
   * MSRP session through the relay that carries `body` in chunks, then BYE. Resolves
   * once the receiver's success report arrived (`progress` events meanwhile). Rejects
   * `rejected` (status 413: larger than the peer's `a=max-size`; the peer's SIP or
   * MSRP status otherwise), `transport` (the relay's socket dropped), `timeout`,
   * `auth_failed` (the relay refused the credentials).
   */
  sendLargeMessage(to: string, body: string | ArrayBuffer | ArrayBufferView | Blob, options?: SendLargeMessageOptions): Promise<LargeMessageResult>;
  /**
   * Invites `to` to a chat session; resolves once accepted (rejects `rejected` with the
   * status when declined). `signal` cancels the invitation while it rings (CANCEL; the
   * promise rejects `cancelled`).
   */
  startChat(to: string, options?: { signal?: AbortSignal }): Promise<ChatSession>;
  /**
   * The user saw this message (a `message` event's detail, or its `messageId`): sends
   * the display notification its sender asked for, once. `sent: false` when none was
   * due (not asked for, sent already, or unknown to this client).
   */
  markDisplayed(message: MessageDetail | LargeMessageDetail | string): Promise<{ sent: boolean }>;
  /**
   * The user is typing to `to` (`true`: call it on every keystroke, it sends only what
   * RFC 3994 asks for) or stopped (`false`). Sending a message ends it by itself. A
   * peer that refuses typing indications (415) gets none more. Nothing is sent while
   * unregistered.
   */
  setComposing(to: string, active: boolean): Promise<void>;
  /**
   * Replaces the `extraHeaders` option (`'Name: value'` each, refused `bad_input` as
   * there) for every request and response sent from now on; the registrar sees them at
   * the next REGISTER (a refresh, or `register()` now). In a shared client, for every tab.
   */
  setExtraHeaders(headers: string[]): Promise<void>;
  /**
   * Pending operations reject (`invalid_state`); the socket closes; the timer stops.
   * Shared (`shared === true`): this tab leaves; when the last tab leaves, the shared
   * client unregisters, then closes.
   */
  close(): void;

  /**
   * `true` when the client runs in the shared worker of `share: 'tabs'`; `false` when
   * it runs here (no `share`, or no SharedWorker: it turns `false` if the worker could
   * not start, and the client then runs in this tab).
   */
  readonly shared: boolean;

  /** The `+sip.instance` URN in use (persist it; pass back as `instanceId`). */
  readonly instanceId: string;
  /** The registration Call-ID (persist it; pass back as `callId`). */
  readonly callId: string;
  /** The last accepted AKA SQN as 12 hex digits (persist it; pass back as `aka.sqn`). */
  readonly akaSqn: string | undefined;
  /** The current registration state and the registrar's last answer. */
  readonly registration: Omit<RegistrationDetail, 'error'>;
}

// ───────────────────────────── codecs ─────────────────────────────

export interface ParsedNameAddr {
  uri: string;
  tag: string | null;
  display: string | null;
}

export interface ParsedVia {
  /** Upper-cased: `WS`, `WSS`, `UDP`, `TCP`, `TLS`, ... */
  transport: string;
  host: string;
  port: number | null;
  branch: string | null;
  received: string | null;
  /** `null` when absent, `true` when present without a value. */
  rport: number | true | null;
}

interface ParsedCommon {
  readonly callId: string;
  readonly cseq: { seq: number; method: string };
  readonly from: ParsedNameAddr;
  readonly to: ParsedNameAddr;
  /** Every Via, top first. */
  readonly via: ParsedVia[];
  /** Every header line as `[name as received, value]`, in order (folded lines joined). */
  readonly headers: [string, string][];
  /** The Content-Type value, `null` when absent. */
  readonly contentType: string | null;
  /** The body as UTF-8 text (Content-Length is counted in bytes). */
  readonly body: string;
  /** Every field as a plain object. */
  toJSON(): object;
}

export interface ParsedRequest extends ParsedCommon {
  readonly kind: 'request';
  readonly method: string;
  /** The Request-URI. */
  readonly uri: string;
}

export interface ParsedResponse extends ParsedCommon {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
}

export type ParsedMessage = ParsedRequest | ParsedResponse;

/**
 * Parses one SIP message; throws `ImError` `bad_input` when it is not usable (framing,
 * start line, Call-ID, CSeq, From, To or a Via the user agent could not read).
 * The result's fields are read-only getters computed on first read from an index of
 * offsets into `text` (nothing else crosses from WebAssembly); `JSON.stringify` and
 * `toJSON()` give a plain object with every field.
 */
export function parseMessage(text: string): ParsedMessage;

/** Encodes settings as `application/service-settings+xml` (`entity` required). */
export function encodeServiceSettings(settings: ServiceSettingsInit & { entity: string }): string;

/** Decodes `application/service-settings+xml` for `aor` (or the first entity). */
export function decodeServiceSettings(xml: string, aor?: string): ServiceSettings;

/** The package version. */
export function version(): string;
