// Uses the whole public API of `imsip` as an app would; compiled with
// `tsc --strict --noEmit` (js/types/tsconfig.json) and never run.
import init, {
  ChatSession,
  ImClient,
  ImError,
  decodeServiceSettings,
  encodeServiceSettings,
  initSync,
  parseMessage,
  version,
} from 'imsip';
import type {
  ComposingDetail,
  ConnectionState,
  ImClientOptions,
  ImErrorCode,
  ImdnDetail,
  ImdnKind,
  LargeMessageResult,
  MessageResult,
  ParsedMessage,
  PublishResult,
  RegistrationInfo,
  RegistrationState,
  ServiceSettings,
  ServiceSettingsInit,
  TraceDetail,
  WatchResult,
} from 'imsip';

const server = 'wss://core.example.net/sip';
const aor = 'sip:alice@example.net';

export async function whole(bytes: Uint8Array): Promise<void> {
  await init();
  await init({ module_or_path: new URL('https://cdn.example.net/imsip_core_bg.wasm') });
  initSync({ module: bytes });

  const options: ImClientOptions = {
    server,
    aor,
    username: 'alice@example.net',
    password: 'secret',
    displayName: 'Alice',
    userAgent: 'MyApp/1.0',
    expires: 600,
    instanceId: 'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    callId: 'a84b4c76e66710',
    keepAliveInterval: 30,
    connectTimeout: 10,
    reconnect: { minDelay: 0.5, maxDelay: 30 },
    serviceSettings: { visibility: true, history: { active: true } },
    publishPolicy: 'if-absent',
    extraHeaders: ['P-Access-Network-Info: IEEE-802.11'],
    webSocket: WebSocket,
  };
  const client = new ImClient(options);
  new ImClient({ server, aor, ha1: '0123456789abcdef0123456789abcdef' }).close();
  new ImClient({
    server,
    aor,
    aka: { k: '465b5ce8b199b49faa5f0a2ee238a6bc', op: 'cdc202d5123e20f62b6d676ac72cb318', amf: 'b9b9', sqn: '20' },
  }).close();
  new ImClient({ server, aor, aka: { k: '465b5ce8b199b49faa5f0a2ee238a6bc', opc: 'cd63cb71954a9f4e48a5994e37a02baf' } }).close();
  new ImClient({ server, aor, publishPolicy: 'never' }).close();
  // One client for every tab of the origin (a SharedWorker), where the browser has one.
  const everyTab = new ImClient({ server, aor, password: 'secret', share: 'tabs' });
  const shared: boolean = everyTab.shared;
  void shared;
  everyTab.close();

  client.addEventListener('connection', (e) => {
    const state: ConnectionState = e.detail.state;
    const retry: number | undefined = e.detail.retryIn;
    void state, retry;
  });
  const onRegistration = (e: CustomEvent<{ state: RegistrationState }>) => void e.detail.state;
  client.addEventListener('registration', onRegistration);
  client.removeEventListener('registration', onRegistration);
  client.addEventListener('registration', (e) => {
    const d = e.detail;
    const code: ImErrorCode | undefined = d.error?.code;
    const routes: string[] = d.serviceRoute;
    void d.state, d.expires, d.associatedUris, d.contacts, d.pubGruu, code, routes;
  });
  client.addEventListener('message', (e) => {
    const { from, displayName, to, contentType, body, deferred, dateTime } = e.detail;
    void from.toUpperCase(), displayName?.trim(), to, contentType, body.length;
    const when: string | undefined = deferred ? dateTime : undefined;
    void when;
    // A MESSAGE has every header field; a large message none.
    const conversation: string | undefined =
      e.detail.headers?.find(([name]) => name.toLowerCase() === 'x-conversation')?.[1];
    void conversation;
  });
  client.addEventListener('servicesettings', (e) => {
    const s: ServiceSettings | null = e.detail.settings; // null: removed at the server
    void s?.visibility, e.detail.source === 'notify';
  });
  client.addEventListener('trace', (e) => {
    const t: TraceDetail = e.detail;
    void (t.direction === 'in' ? t.text : new Date(t.at));
  });
  client.addEventListener('policy', (e) => {
    if (e.detail.outcome === 'failed') void e.detail.error.code;
    if (e.detail.outcome === 'published') void e.detail.etag;
  });
  client.addEventListener('watchterminated', (e) => void e.detail.reason);
  client.addEventListener('dropped', (e) => void e.detail.reason);
  client.addEventListener('message', { handleEvent: (e) => void e.detail.body }, { once: true });

  try {
    const reg: RegistrationInfo = await client.register();
    void reg.expires, reg.contacts, reg.serviceRoute, reg.associatedUris;
    const settings: ServiceSettingsInit = {
      incomingSessionBarring: false,
      visibility: true,
      offlineDelivery: true,
      history: { active: true, type: 1 },
      sessionMode: 'enabled',
      pagerLargeMode: 'enabled',
      serviceId: 'org.openmobilealliance:IM-session',
      active: true,
    };
    const pub: PublishResult = await client.publishServiceSettings(settings, { expires: 3600 });
    void pub.etag, pub.expires;
    const current: ServiceSettings | null = await client.fetchServiceSettings();
    if (current) await client.publishServiceSettings({ ...current, visibility: false });
    const history = await client.fetchHistory({ with: 'sip:bob@example.net', since: new Date(0), limit: 50 });
    for (const m of history) void m.id, m.direction === 'sent', m.peer, m.time, m.contentType, m.body;
    await client.fetchHistory();
    client.addEventListener('publication', (e) => {
      const p = e.detail;
      void p.state === 'lost', p.etag, p.expires, p.retryIn, p.error?.code;
    });
    client.addEventListener('watchterminated', (e) => {
      void e.detail.resubscribe, e.detail.retryAfter;
    });
    const watch: WatchResult = await client.watchServiceSettings();
    void watch.expires;
    await client.unwatchServiceSettings();
    await client.removeServiceSettings();
    const sent: MessageResult = await client.sendMessage('sip:bob@example.net', 'héllo', { contentType: 'text/plain' });
    void sent.status, sent.reason;
    await client.sendMessage('sip:bob@example.net', new Uint8Array([104, 105]));
    await client.sendMessage('sip:bob@example.net', 'tagged', { extraHeaders: ['X-Conversation: c-42'] });
    await client.unregister();
  } catch (e) {
    if (e instanceof ImError) {
      const code: ImErrorCode = e.code;
      const status: number | undefined = e.status;
      void code, status, e.reason, e.retryAfter, e.message, e.stack;
    }
  } finally {
    client.close();
  }
  const ids: [string, string, string | undefined] = [client.instanceId, client.callId, client.akaSqn];
  void ids, client.registration.state;

  const m: ParsedMessage = parseMessage('SIP/2.0 200 OK\r\n\r\n');
  if (m.kind === 'request') void m.method.toLowerCase(), m.uri;
  else void (m.status + 1), m.reason;
  void m.callId, m.cseq.seq, m.cseq.method, m.from.tag, m.to.display, m.contentType, m.body;
  for (const v of m.via) void v.transport, v.host, v.port, v.branch, v.received, v.rport;
  for (const [name, value] of m.headers) void name, value;

  const xml: string = encodeServiceSettings({ entity: aor, visibility: true });
  const back: ServiceSettings = decodeServiceSettings(xml, aor);
  const first: ServiceSettings = decodeServiceSettings(xml);
  void back.extensions?.xml, first.entity, version().length;
  new ImError('bad_input', 'made by the app');

  // ── chat: receipts and typing ──
  const sent: MessageResult = await client.sendMessage('sip:bob@example.net', 'lunch?', { imdn: ['delivery', 'display'] });
  const id: string | undefined = sent.messageId;
  client.addEventListener('imdn', (e) => {
    const d: ImdnDetail = e.detail;
    const tick: 'delivered' | 'failed' | 'displayed' | 'processed' | 'stored' | 'forbidden' | 'error' = d.status;
    void [d.messageId === id, d.kind, tick, d.at, d.from];
  });
  client.addEventListener('message', async (e) => {
    const asked: ImdnKind[] | undefined = e.detail.imdn;
    const { sent: shown }: { sent: boolean } = await client.markDisplayed(e.detail);
    void [asked, shown, e.detail.messageId, await client.markDisplayed('some-id')];
  });
  client.addEventListener('composing', (e) => {
    const c: ComposingDetail = e.detail;
    void [c.from, c.state === 'active', c.lastActive, c.contentType];
  });
  await client.setComposing('sip:bob@example.net', true);
  new ImClient({ server, aor, autoDelivery: false, composingRefresh: 90, composingIdleTimeout: 10 });

  // Large messages and chat sessions over MSRP (issue 18).
  new ImClient({ server, aor, password: 'x', msrpRelay: 'wss://relay.example.net/msrp', largeMessageThreshold: 4096, maxLargeMessageSize: 1 << 24 });
  new ImClient({ server, aor, password: 'x', msrpRelay: { url: 'wss://relay.example.net/msrp', uri: 'msrps://relay.example.net:443;ws' } });
  const file = new Blob([new Uint8Array([1, 2, 3])], { type: 'application/octet-stream' });
  const big: LargeMessageResult = await client.sendLargeMessage('sip:bob@example.net', file, {
    contentType: file.type,
    onProgress: (p) => void (p.bytesSent / p.total),
  });
  client.addEventListener('invitationended', (e) => void (e.detail.reason === 'cancelled' ? e.detail.chat : 0));
  const ringing = new AbortController();
  void client.startChat('sip:carol@example.net', { signal: ringing.signal });
  ringing.abort();
  const cancelledCode: ImErrorCode = 'cancelled';
  void cancelledCode;
  const bytesSent: number = big.bytes;
  client.addEventListener('progress', (e) => void (e.detail.bytesSent / e.detail.total));
  client.addEventListener('message', (e) => {
    if ('largeMessage' in e.detail && e.detail.largeMessage) {
      const body: string | Uint8Array = e.detail.body;
      void body;
    }
  });
  client.addEventListener('invitation', async (e) => {
    const { from, chat } = e.detail;
    if (from.endsWith('@spam.example')) {
      await e.detail.reject(603);
      return;
    }
    const session: ChatSession = await e.detail.accept();
    void chat;
    session.addEventListener('message', (m) => void m.detail.body);
  });
  const chat = await client.startChat('sip:bob@example.net');
  chat.addEventListener('composing', (e) => void (e.detail.state === 'active'));
  chat.addEventListener('report', (e) => void (e.detail.status === 'delivered' ? e.detail.messageId : e.detail.code));
  chat.addEventListener('ended', (e) => void (e.detail.reason === 'remote'));
  await chat.setComposing(true);
  const { messageId: chatMessageId }: { messageId: string } = await chat.send('hello');
  await chat.send(new Uint8Array([0xff]), { contentType: 'application/octet-stream' });
  await chat.send(new ArrayBuffer(4), { contentType: 'application/octet-stream' });
  await client.sendLargeMessage('sip:bob@example.net', new DataView(new ArrayBuffer(8)), { contentType: 'application/octet-stream' });
  const open: 'open' | 'ended' = chat.state;
  await chat.close();
  void [bytesSent, chatMessageId, open, chat.id, chat.peer];

  // ── what must NOT compile ──
  // @ts-expect-error a misspelt option
  new ImClient({ server, aor, pasword: 'secret' });
  // @ts-expect-error a wrong event detail field
  client.addEventListener('registration', (e) => void e.detail.stat);
  // @ts-expect-error a misspelt event name
  client.addEventListener('registraton', () => {});
  // @ts-expect-error a password and an HA1 together
  new ImClient({ server, aor, password: 'a', ha1: 'b' });
  // @ts-expect-error AKA keys are hex strings
  new ImClient({ server, aor, aka: { k: 1 } });
  // @ts-expect-error an unknown error code
  const wrongCode: ImErrorCode = 'auth_failure';
  // @ts-expect-error a settings field of the wrong type
  void client.publishServiceSettings({ visibility: 'yes' });
  // @ts-expect-error encodeServiceSettings needs the entity
  encodeServiceSettings({ visibility: true });
  // @ts-expect-error a message body is text or bytes
  void client.sendMessage('sip:bob@example.net', 42);
  // @ts-expect-error the publish policy is one of three
  new ImClient({ server, aor, publishPolicy: 'sometimes' });
  // @ts-expect-error sharing is between tabs only
  new ImClient({ server, aor, share: 'windows' });
  // @ts-expect-error receipts are delivery, display or processing
  void client.sendMessage('sip:bob@example.net', 'x', { imdn: ['read'] });
  // @ts-expect-error extra headers are 'Name: value' strings
  void client.sendMessage('sip:bob@example.net', 'x', { extraHeaders: { 'X-A': 'b' } });
  // @ts-expect-error the client's extra headers are 'Name: value' strings too
  new ImClient({ server, aor, extraHeaders: 'X-A: b' });
  // @ts-expect-error typing is on or off
  void client.setComposing('sip:bob@example.net', 'yes');
  // @ts-expect-error a chat session is made by startChat or accept()
  new ChatSession();
  // @ts-expect-error a large message's body is text, bytes or a Blob
  void client.sendLargeMessage('sip:bob@example.net', 42);
  // @ts-expect-error `shared` is read-only
  client.shared = true;
  void wrongCode;
}
