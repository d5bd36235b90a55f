// The imsip demo page: the seed's flow D.1 (REGISTER, 401, REGISTER, 200, PUBLISH, 200), live.
// Plain ES modules; the only import is the package built by wasm-pack into ../pkg/.
import init, { ImClient, ImError, version } from '../pkg/imsip.js';

const $ = (id) => document.getElementById(id);
const wsDefault = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host || '127.0.0.1:8088'}/sip`;

// The default users of devcore's users file (devcore/users.toml).
const PRESETS = {
  alice: { aor: 'sip:alice@imsip.test', username: 'alice@imsip.test', authKind: 'digest', password: 'alice-secret', to: 'sip:bob@imsip.test' },
  bob: { aor: 'sip:bob@imsip.test', username: 'bob@imsip.test', authKind: 'digest', password: 'bob-secret', to: 'sip:alice@imsip.test' },
  carol: {
    aor: 'sip:carol@imsip.test', username: 'carol@imsip.test', authKind: 'aka',
    k: '465b5ce8b199b49faa5f0a2ee238a6bc', op: 'cdc202d5123e20f62b6d676ac72cb318', amf: 'b9b9', to: 'sip:alice@imsip.test',
  },
};

// What each ImError code means to a person.
const EXPLAIN = {
  auth_failed: 'The core refused these credentials: check the private identity and the password (or AKA keys).',
  network_auth_failed: 'The network failed IMS AKA authentication (MAC mismatch): the core does not know these keys.',
  timeout: 'The core did not answer in time.',
  transport: 'The connection to the core was lost or could not be opened: is the core running at this address?',
  rejected: 'The core rejected the request',
  barred: 'The recipient has incoming session barring active: the IM Server refuses messages to them',
  unsupported_event: 'The core does not support IM service settings (event package service-settings).',
  invalid_state: 'Not possible right now',
  bad_input: 'Please check the form',
  bad_response: 'The core answered something unusable (for example settings XML it sent was rejected).',
};

let client = null;
let expiresAt = null;
const trace = [];

function showError(err) {
  const box = $('error');
  if (!err) { box.hidden = true; box.textContent = ''; return; }
  const code = err instanceof ImError || err?.code ? err.code : null;
  let text = code ? (EXPLAIN[code] ?? err.message) : String(err?.message ?? err);
  if (code === 'rejected' && err.status === 403 && /barring/i.test(err.message + (err.reason ?? ''))) {
    text = `${EXPLAIN.barred} (${err.status} ${err.reason ?? ''}).`;
  } else if (code === 'rejected' && err.status === 413) {
    text = `The recipient refuses a message this large (${err.status} ${err.reason ?? ''}).`;
  } else if (code === 'rejected' && err.status) text += `: ${err.status} ${err.reason ?? ''}.`;
  else if (code === 'invalid_state' || code === 'bad_input') text += `: ${err.message}`;
  box.innerHTML = '';
  const strong = document.createElement('strong');
  strong.textContent = code ? `${code.replace(/_/g, ' ')} — ` : 'error — ';
  box.append(strong, document.createTextNode(text));
  box.hidden = false;
}

function setPill(el, state, label) {
  el.dataset.state = state;
  el.textContent = label ?? state;
}

function applyPreset(name) {
  const p = PRESETS[name];
  if (!p) return;
  $('server').value = $('server').value || wsDefault;
  $('aor').value = p.aor;
  $('username').value = p.username;
  document.querySelector(`input[name=authKind][value=${p.authKind}]`).checked = true;
  $('password').value = p.password ?? '';
  $('aka-k').value = p.k ?? '';
  $('aka-op').value = p.op ?? '';
  $('aka-opc').value = '';
  $('aka-amf').value = p.amf ?? '';
  $('chat-to').value = p.to;
  toggleAuthFields();
  sessionStorage.setItem('imsip-demo-preset', name);
}

function toggleAuthFields() {
  const aka = document.querySelector('input[name=authKind]:checked').value === 'aka';
  $('aka-fields').hidden = !aka;
  $('digest-fields').hidden = aka;
}

// The instance id persists per AoR across page loads: a reload replaces its earlier
// binding (RFC 5626 §6). Each load registers with a fresh Call-ID, so no reload, however
// quick, re-uses a CSeq.
function persisted(aor) {
  const key = `imsip-demo-ids:${aor}`;
  let ids = JSON.parse(localStorage.getItem(key) || 'null');
  if (!ids || !ids.instanceId) {
    ids = { instanceId: `urn:uuid:${crypto.randomUUID()}` };
    localStorage.setItem(key, JSON.stringify(ids));
  }
  return { instanceId: ids.instanceId };
}

function options() {
  const aor = $('aor').value.trim();
  // One registration for every tab of the demo (a SharedWorker), per server + AoR.
  const opts = { server: $('server').value.trim(), aor, publishPolicy: 'never', share: 'tabs', ...persisted(aor) };
  const username = $('username').value.trim();
  if (username) opts.username = username;
  if (document.querySelector('input[name=authKind]:checked').value === 'aka') {
    const aka = { k: $('aka-k').value.trim() };
    for (const [f, id] of [['op', 'aka-op'], ['opc', 'aka-opc'], ['amf', 'aka-amf']]) {
      const v = $(id).value.trim();
      if (v) aka[f] = v;
    }
    opts.aka = aka;
  } else {
    opts.password = $('password').value;
  }
  return opts;
}

function label(text, protocol) {
  const first = text.slice(0, text.indexOf('\r\n') >>> 0 || text.length);
  // MSRP: the whole first line, "MSRP <transaction> SEND" or "MSRP <transaction> 200 OK".
  if (protocol === 'msrp') return first.trim();
  if (/^\s*$/.test(text)) return 'keep-alive';
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(first);
  if (m) return `${m[1]} ${m[2]}`.trim();
  return first.split(' ')[0];
}

// One arrow per frame: SIP frames between the client and the SIP/IP core, MSRP frames
// (trace events with protocol 'msrp': the chunks of a file, the messages of a chat
// session) to the MSRP relay, in their own colour.
function addTrace({ direction, text, at, protocol }) {
  const msrp = protocol === 'msrp';
  const entry = { direction, text, at: at ?? Date.now(), label: label(text, protocol), protocol: msrp ? 'msrp' : 'sip' };
  trace.push(entry);
  const li = document.createElement('li');
  const keepalive = entry.label === 'keep-alive';
  li.className = `arrow ${direction === 'out' ? 'out' : 'in'}${keepalive ? ' keepalive' : ''}${msrp ? ' msrp' : ''}`;
  li.dataset.label = entry.label;
  li.dataset.protocol = entry.protocol;
  li.title = msrp ? `MSRP, ${direction === 'out' ? 'to' : 'from'} the relay` : `SIP, ${direction === 'out' ? 'to' : 'from'} the SIP/IP core`;
  li.tabIndex = 0;
  const time = new Date(entry.at).toLocaleTimeString([], { hour12: false });
  li.innerHTML = `<span class="t"></span><span class="line"><span class="lbl"></span></span>`;
  li.querySelector('.t').textContent = time;
  li.querySelector('.lbl').textContent = entry.label;
  const show = () => {
    document.querySelectorAll('.ladder .selected').forEach((e) => e.classList.remove('selected'));
    li.classList.add('selected');
    $('frame').textContent = keepalive ? '(CRLF keep-alive, RFC 5626)' : text;
  };
  li.addEventListener('click', show);
  li.addEventListener('keydown', (e) => { if (e.key === 'Enter') show(); });
  // Follow the ladder when it was at its end; scroll the ladder only, never the page
  // (a page that jumps to the ladder at every frame would hide the chat being read).
  const ladder = $('ladder');
  const atEnd = ladder.scrollHeight - ladder.scrollTop - ladder.clientHeight < 8;
  ladder.append(li);
  if (atEnd) ladder.scrollTop = ladder.scrollHeight;
}

function setBusy(on) {
  for (const id of ['publish', 'fetch', 'remove', 'send', 'unregister', 'history-fetch', 'send-file', 'start-session']) $(id).disabled = !on;
}

function readSettingsForm() {
  return {
    entity: $('aor').value.trim(),
    incomingSessionBarring: $('set-isb').checked,
    visibility: $('set-vis').checked,
    offlineDelivery: $('set-offline').checked,
    history: { active: $('set-hist').checked },
    ...(currentSettings?.extensions ? { extensions: currentSettings.extensions } : {}),
  };
}

let currentSettings = null;
function showSettings(s, note) {
  currentSettings = s;
  // None at the server: the defaults (nothing barred, offline delivery and history off).
  $('set-isb').checked = !!s?.incomingSessionBarring;
  $('set-vis').checked = s?.visibility ?? false;
  $('set-offline').checked = s?.offlineDelivery ?? false;
  $('set-hist').checked = !!s?.history?.active;
  $('settings-note').textContent = note;
}

function badgeFor(b) {
  const tag = document.createElement('span');
  tag.className = `badge ${b}`;
  tag.textContent = b === 'msrp' ? 'MSRP' : b;
  tag.title = {
    deferred: 'Stored by the IM Server while you were offline; the time is when it was sent.',
    stored: 'The recipient is offline: the IM Server stored it (202 Accepted) and delivers it when they register.',
    msrp: 'Large-message mode: sent in an MSRP session through the relay, not in a SIP MESSAGE.',
  }[b] ?? b;
  return tag;
}

// One chat line. `badge`: 'stored' (202: the IM Server keeps it for an offline
// user), or 'deferred' (it waited at the IM Server for us; the time shown is when it
// was sent). Returns the <li>.
function addMessage({ from, displayName, body, deferred, dateTime }, mine = false, badge = null, list = $('messages')) {
  const li = document.createElement('li');
  li.className = mine ? 'mine' : 'theirs';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = mine ? 'me' : (displayName ? `${displayName} <${from}>` : from);
  const at = document.createElement('time');
  const when = dateTime ? new Date(dateTime) : new Date();
  at.textContent = when.toLocaleTimeString([], { hour12: false });
  if (dateTime) at.dateTime = dateTime;
  const p = document.createElement('p');
  // A binary body (a file in large-message mode, a binary pager body) is shown by its size.
  p.textContent = typeof body === 'string' ? body : `(${body.length} bytes)`;
  li.append(who, at);
  const b = badge ?? (deferred ? 'deferred' : null);
  if (b) li.append(badgeFor(b));
  li.append(p);
  // Follow the conversation when it was already at its end (the list scrolls, not the page).
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
  list.append(li);
  if (atEnd) list.scrollTop = list.scrollHeight;
  return li;
}

// Receipts of our own messages (RFC 5438 IMDN): sending → sent (✓, the MESSAGE got
// its 2xx) → delivered (✓✓) → displayed (✓✓ "read"); failed (✗) on a negative delivery
// notification or when the send itself failed. A receipt only ever moves forward: a
// "delivered" may overtake its own 200, and a display proves delivery.
const RECEIPTS = {
  sending: { rank: 0, mark: '…', label: 'sending' },
  sent: { rank: 1, mark: '✓', label: 'sent' },
  failed: { rank: 2, mark: '✗', label: 'failed' },
  delivered: { rank: 3, mark: '✓✓', label: 'delivered' },
  displayed: { rank: 4, mark: '✓✓', label: 'read' },
};
const sentByMessageId = new Map(); // messageId → the <li> of our message
const earlyReceipts = new Map(); // messageId → { state, note }, for a receipt that beat sendMessage's answer

function setReceipt(li, state, note = '') {
  const tick = li.querySelector('.receipt');
  const now = RECEIPTS[tick.dataset.receipt];
  if (now && RECEIPTS[state].rank <= now.rank) return;
  const { mark, label } = RECEIPTS[state];
  tick.dataset.receipt = state;
  if (state === 'failed') {
    // note: the notification's status (failed, error) or why the send failed.
    tick.textContent = `${mark} ${note}`;
    tick.title = `not delivered: ${note}`;
    tick.setAttribute('aria-label', `failed: ${note}`);
  } else {
    tick.textContent = mark;
    tick.title = note ? `${label} ${note}` : label;
    tick.setAttribute('aria-label', label);
  }
}

function addOwnMessage(to, body, list = $('messages')) {
  const li = addMessage({ from: to, body }, true, null, list);
  const tick = document.createElement('span');
  tick.className = 'receipt';
  tick.setAttribute('role', 'img');
  li.querySelector('time').after(tick);
  setReceipt(li, 'sending');
  return li;
}

function onImdn({ messageId, kind, status, at }) {
  let state = null;
  if (kind === 'delivery' && status === 'delivered') state = 'delivered';
  else if (kind === 'delivery' && (status === 'failed' || status === 'error')) state = 'failed';
  else if (kind === 'display' && status === 'displayed') state = 'displayed';
  if (!state) return; // processing, or a peer that will not say (forbidden)
  const note = state === 'failed' ? status : (at ? `at ${new Date(at).toLocaleTimeString([], { hour12: false })}` : '');
  const li = sentByMessageId.get(messageId);
  if (li) { setReceipt(li, state, note); return; }
  // Not ours yet (sendMessage has not answered), or another tab's message: keep a few.
  const seen = earlyReceipts.get(messageId);
  if (seen && RECEIPTS[seen.state].rank >= RECEIPTS[state].rank) return;
  earlyReceipts.set(messageId, { state, note });
  if (earlyReceipts.size > 256) earlyReceipts.delete(earlyReceipts.keys().next().value);
}

// Display receipts: a message is "displayed" when it is on screen (half of it, or a
// good part of a long one) while the page is visible; one that arrives in a hidden
// tab waits until the tab is shown. markDisplayed sends the receipt once (and nothing
// when its sender did not ask for one); every tab of the shared client may call it.
const incoming = new WeakMap(); // <li> → its message event's detail
const onScreen = new Set();
const seenObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const visible = e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= 64);
    e.target.dataset.onscreen = String(visible);
    if (visible) onScreen.add(e.target);
    else onScreen.delete(e.target);
  }
  markSeen();
}, { threshold: [0, 0.1, 0.25, 0.5, 0.75, 1] });

function markSeen() {
  if (document.visibilityState !== 'visible' || !client) return;
  for (const li of onScreen) {
    const detail = incoming.get(li);
    onScreen.delete(li);
    seenObserver.unobserve(li);
    li.dataset.seen = 'true';
    client.markDisplayed(detail).catch(() => { /* unregistered meanwhile: nothing to do */ });
  }
}
document.addEventListener('visibilitychange', markSeen);

function addIncoming(detail) {
  // A file, or a text too long for a pager MESSAGE that someone typed: the latter is
  // a chat line like any other (with the MSRP badge, and a download link when long).
  const typed = typeof detail.body === 'string' && /^text\/plain\b/i.test(detail.contentType ?? 'text/plain');
  if (detail.largeMessage && !typed) { addIncomingFile(detail); return; }
  const li = addMessage(detail, false, detail.largeMessage ? 'msrp' : null);
  if (detail.largeMessage && detail.body.length > INLINE_TEXT) {
    li.append(downloadLink(detail, new TextEncoder().encode(detail.body), 'text/plain'));
  }
  if (detail.messageId && detail.imdn?.includes('display')) {
    li.dataset.messageId = detail.messageId;
    incoming.set(li, detail);
    seenObserver.observe(li);
  }
}

// Typing (RFC 3994): our keystrokes go to setComposing (the client decides what to
// send); the peer's state, from `composing` events, shows under the chat.
const typing = new Map(); // peer URI (as compared) → 'active' | 'idle'
let composingTo = null;
const sameUri = (uri) => uri.trim().replace(/^<|>$/g, '').replace(/^sips?:/i, '').replace(/[;?].*$/, '').toLowerCase();
const peer = () => $('chat-to').value.trim();

function showTyping() {
  const p = peer();
  const active = p !== '' && typing.get(sameUri(p)) === 'active';
  const box = $('typing');
  box.dataset.state = active ? 'active' : 'idle';
  box.textContent = active ? `${sameUri(p).split('@')[0]} is typing…` : '';
}

function sendTyping(to, active) {
  if (!client || !to) return;
  composingTo = active ? to : null;
  client.setComposing(to, active).catch(() => { /* a typing indication is best effort */ });
}

// A short reason a send failed: the status of the refusal, or the error code.
const whyNot = (e) => (e?.status ? `${e.status} ${e.reason ?? ''}`.trim() : (e?.code ?? 'not sent').replace(/_/g, ' '));
/** Keeps a list at its end when it was there before `change` (the list scrolls, not the page). */
function following(list, change) {
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
  const r = change();
  if (atEnd) list.scrollTop = list.scrollHeight;
  return r;
}

// Files: OMA IM large-message mode. sendLargeMessage opens an MSRP session through the
// relay for one message; it resolves when the receiver's success report came back.
// Incoming ones are `message` events with largeMessage: a file entry with a download link
// (a typed text over the threshold is a chat line: addIncoming).
function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
const exactSize = (n) => `${n.toLocaleString('en')} bytes`;

/** A file line in the conversation: name (ours only: the wire carries none), size, type. */
function fileEntry({ from, displayName, name, size, contentType }, mine) {
  const list = $('messages');
  return following(list, () => {
    const li = addMessage({ from, displayName, body: '' }, mine);
    li.classList.add('file');
    li.dataset.size = String(size);
    li.dataset.contentType = contentType;
    li.querySelector('time').after(badgeFor('msrp'));
    const p = li.querySelector('p');
    p.className = 'file-info';
    p.textContent = `📎 ${name ? `${name} · ` : ''}${formatSize(size)} · ${contentType}`;
    p.title = exactSize(size);
    return li;
  });
}

function setFileState(li, state, text) {
  li.dataset.state = state;
  li.querySelector('.file-status').textContent = text;
}

async function sendFile(to, file) {
  const contentType = file.type || 'application/octet-stream';
  const li = fileEntry({ from: to, name: file.name, size: file.size, contentType }, true);
  const bar = document.createElement('progress');
  bar.max = Math.max(file.size, 1);
  bar.value = 0;
  bar.setAttribute('aria-label', `Sending ${file.name}`);
  const status = document.createElement('span');
  status.className = 'file-status';
  status.setAttribute('role', 'status');
  li.append(bar, status);
  setFileState(li, 'sending', 'sending…');
  // onProgress gets this transfer's progress events only (not another send's, nor another tab's).
  const onProgress = ({ bytesSent, total }) => {
    if (li.dataset.state !== 'sending') return;
    bar.max = Math.max(total, 1);
    bar.value = bytesSent;
    setFileState(li, 'sending', `sending… ${total ? Math.floor((100 * bytesSent) / total) : 100}%`);
  };
  try {
    const r = await client.sendLargeMessage(to, file, { contentType, onProgress });
    bar.value = bar.max;
    setFileState(li, 'delivered', `delivered (${exactSize(r.bytes ?? file.size)})`);
  } catch (e) {
    setFileState(li, 'failed', `not delivered: ${whyNot(e)}`);
    throw e;
  }
}

/** A download name: the wire carries no file name, so the sender, the time and the type's usual extension. */
function fileName(from, contentType) {
  const sub = (contentType.split(';')[0].split('/')[1] ?? '').trim().toLowerCase();
  const ext = { plain: 'txt', 'octet-stream': 'bin', jpeg: 'jpg', 'svg+xml': 'svg' }[sub] ?? (/^[a-z0-9]{1,8}$/.test(sub) ? sub : 'bin');
  const stamp = new Date().toISOString().replace(/\..*$/, '').replace(/[-:]/g, '').replace('T', '-');
  return `${sameUri(from).split('@')[0]}-${stamp}.${ext}`;
}

const INLINE_TEXT = 4000; // text bodies up to this many characters also show in the conversation

function addIncomingFile(detail) {
  const { body, contentType = 'application/octet-stream' } = detail;
  const text = typeof body === 'string';
  const bytes = text ? new TextEncoder().encode(body) : body;
  const li = fileEntry({ ...detail, contentType, size: bytes.length }, false);
  following($('messages'), () => {
    if (text && body.length <= INLINE_TEXT) {
      const q = document.createElement('p');
      q.className = 'file-text';
      q.textContent = body;
      li.append(q);
    }
    li.append(downloadLink(detail, bytes, contentType));
  });
}

function downloadLink(detail, bytes, contentType) {
  const a = document.createElement('a');
  a.className = 'download';
  a.href = URL.createObjectURL(new Blob([bytes], { type: contentType }));
  a.download = fileName(detail.from, contentType);
  a.textContent = `Download (${formatSize(bytes.length)})`;
  a.setAttribute('aria-label', `Download the ${contentType} file of ${exactSize(bytes.length)} from ${detail.from}`);
  return a;
}

// Chat sessions (OMA IM session mode): an INVITE sets up an MSRP session; messages,
// typing and delivery reports go inside it. Each session has its own tab and panel.
let sessionSeq = 0;
const sessionViews = new Set();

function selectSession(view) {
  for (const v of sessionViews) {
    const on = v === view;
    v.tab.setAttribute('aria-selected', String(on));
    v.tab.tabIndex = on ? 0 : -1;
    v.panel.hidden = !on;
  }
  delete view.tab.dataset.unread;
}

/** A tab and a panel for a session with `peerUri` (not started yet: attach one). */
function sessionView(peerUri) {
  const n = ++sessionSeq;
  const who = sameUri(peerUri).split('@')[0];
  const tab = document.createElement('button');
  tab.type = 'button';
  tab.className = 'session-tab';
  tab.id = `session-tab-${n}`;
  tab.setAttribute('role', 'tab');
  tab.setAttribute('aria-controls', `session-${n}`);
  tab.textContent = who;
  const panel = document.createElement('section');
  panel.className = 'session';
  panel.id = `session-${n}`;
  panel.setAttribute('role', 'tabpanel');
  panel.setAttribute('aria-labelledby', tab.id);
  panel.dataset.peer = peerUri;
  panel.innerHTML = `
    <div class="session-head"><h3></h3><span class="session-state" role="status"></span>
      <button type="button" class="session-close">Close session</button></div>
    <ol class="messages session-messages" aria-live="polite"></ol>
    <p class="typing session-typing" data-state="idle" aria-live="polite"></p>
    <form class="session-form">
      <label>Message <textarea class="session-text" rows="2"></textarea></label>
      <div class="buttons"><button type="submit" class="primary session-send">Send</button></div>
    </form>`;
  panel.querySelector('h3').textContent = `Session with ${peerUri}`;
  panel.querySelector('.session-close').setAttribute('aria-label', `Close the chat session with ${peerUri}`);
  panel.querySelector('.session-text').setAttribute('aria-label', `Message to ${peerUri} in this session`);
  const view = {
    tab, panel, peer: peerUri, who, session: null,
    list: panel.querySelector('.session-messages'),
    typing: panel.querySelector('.session-typing'),
    text: panel.querySelector('.session-text'),
    sent: new Map(), // messageId → <li> of our message
    early: new Map(), // messageId → report that beat send()'s answer
  };
  tab.addEventListener('click', () => selectSession(view));
  $('session-tabs').append(tab);
  $('sessions').append(panel);
  sessionViews.add(view);
  $('sessions-note').hidden = true;
  selectSession(view);
  panel.querySelector('.session-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendInSession(view);
  });
  view.text.addEventListener('input', () => {
    view.session?.setComposing(view.text.value !== '').catch(() => { /* best effort */ });
  });
  const close = panel.querySelector('.session-close');
  close.addEventListener('click', () => {
    if (view.state === 'open') run(close, () => view.session.close());
    else if (view.state === 'inviting') {
      // Still ringing: startChat's signal cancels the invitation (CANCEL); its promise
      // then rejects `cancelled` and startSession shows it.
      setSessionState(view, 'cancelling', 'cancelling…');
      view.abort?.abort();
    } else removeSessionView(view); // ended, failed or cancelled: the button removes the tab
  });
  setSessionState(view, 'starting', '');
  return view;
}

function removeSessionView(view) {
  sessionViews.delete(view);
  view.tab.remove();
  view.panel.remove();
  const next = [...sessionViews].pop();
  if (next) selectSession(next);
  else $('sessions-note').hidden = false;
}

// States of a view: inviting / joining → open → ended; failed when it never opened;
// inviting → cancelling → cancelled when we gave up while it rang.
const SESSION_OVER = new Set(['ended', 'failed', 'cancelled']);
function setSessionState(view, state, text) {
  view.state = state;
  view.panel.dataset.state = state;
  view.tab.dataset.state = state;
  view.panel.querySelector('.session-state').textContent = text;
  const open = state === 'open';
  for (const el of view.panel.querySelectorAll('.session-form textarea, .session-form button')) el.disabled = !open;
  const close = view.panel.querySelector('.session-close');
  // Open: BYE; inviting: CANCEL; over: removes the tab. Nothing to stop while joining or cancelling.
  close.disabled = !open && state !== 'inviting' && !SESSION_OVER.has(state);
  close.textContent = SESSION_OVER.has(state) ? 'Remove' : 'Close session';
  close.title = state === 'inviting' ? 'Cancel the invitation (CANCEL)' : '';
  if (!open) showSessionTyping(view, false);
}

function showSessionTyping(view, active) {
  view.typing.dataset.state = active ? 'active' : 'idle';
  view.typing.textContent = active ? `${view.who} is typing…` : '';
}

function sessionBody(body, contentType) {
  return typeof body === 'string' ? body : `(${exactSize(body.length)} of ${contentType})`;
}

function attachSession(view, session) {
  view.session = session;
  session.addEventListener('message', (e) => {
    const { body, contentType } = e.detail;
    showSessionTyping(view, false); // a message ends the typing that announced it
    following(view.list, () => addMessage({ from: session.peer, body: sessionBody(body, contentType) }, false, null, view.list));
    if (view.panel.hidden) view.tab.dataset.unread = 'true';
  });
  session.addEventListener('composing', (e) => showSessionTyping(view, e.detail.state === 'active'));
  session.addEventListener('report', (e) => {
    const { messageId, status, code, reason } = e.detail;
    const state = status === 'delivered' ? 'delivered' : 'failed';
    const note = state === 'failed' ? [code, reason].filter(Boolean).join(' ') || 'failed' : '(MSRP success report)';
    const li = view.sent.get(messageId);
    if (li) setReceipt(li, state, note);
    else view.early.set(messageId, { state, note });
  });
  session.addEventListener('ended', (e) => setSessionState(view, 'ended', `session ended (${e.detail.reason})`));
  if (session.state === 'ended') setSessionState(view, 'ended', 'session ended');
  else setSessionState(view, 'open', 'open');
}

async function sendInSession(view) {
  const body = view.text.value;
  if (!body || view.state !== 'open') return;
  const li = following(view.list, () => addOwnMessage(view.peer, body, view.list));
  view.text.value = '';
  try {
    const { messageId } = await view.session.send(body);
    setReceipt(li, 'sent', '(sent in the session)');
    li.dataset.messageId = messageId;
    view.sent.set(messageId, li);
    const early = view.early.get(messageId);
    if (early) {
      view.early.delete(messageId);
      setReceipt(li, early.state, early.note);
    }
  } catch (e) {
    setReceipt(li, 'failed', whyNot(e));
    showError(e);
  }
}

async function startSession(to) {
  const view = sessionView(to);
  view.abort = new AbortController();
  setSessionState(view, 'inviting', 'inviting…');
  try {
    attachSession(view, await client.startChat(to, { signal: view.abort.signal }));
  } catch (e) {
    if (e?.code === 'cancelled') {
      setSessionState(view, 'cancelled', 'cancelled'); // we gave up: no error to show
      return;
    }
    setSessionState(view, 'failed', e.status ? `declined (${e.status} ${e.reason ?? ''})`.replace(' )', ')') : `not started: ${whyNot(e)}`);
    throw e;
  } finally {
    view.abort = null;
  }
}

// Why an invitation shown here went away before it was accepted here (invitationended).
const INVITATION_ENDED = {
  cancelled: 'cancelled: the caller gave up',
  local: 'declined in another tab', // declined here: the item went at the click
  answered: 'accepted in another tab',
  failed: 'failed: the invitation was lost',
  remote: 'ended by the caller',
  transport: 'ended: the connection was lost',
};
const invitationItems = new Map(); // chat → its <li> in #invitations

function onInvitationEnded({ chat, reason }) {
  const li = invitationItems.get(chat);
  invitationItems.delete(chat);
  if (!li?.isConnected) return; // answered here (the item went at the click)
  li.dataset.state = 'ended';
  li.dataset.reason = reason;
  li.querySelector('.accept')?.remove();
  li.querySelector('.decline')?.remove();
  const text = li.querySelector('.invitation-text');
  text.textContent = text.textContent.replace(/ invites you /, ' invited you ');
  const why = document.createElement('span');
  why.className = 'invitation-status';
  why.setAttribute('role', 'status');
  why.textContent = INVITATION_ENDED[reason] ?? `ended (${reason})`;
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'dismiss';
  dismiss.textContent = 'Dismiss';
  dismiss.setAttribute('aria-label', `Dismiss the ended invitation from ${li.dataset.from}`);
  dismiss.addEventListener('click', () => li.remove());
  li.append(why, dismiss);
}

function onInvitation(inv) {
  const li = document.createElement('li');
  li.className = 'invitation';
  li.dataset.from = inv.from;
  li.dataset.chat = String(inv.chat);
  li.dataset.state = 'ringing';
  invitationItems.set(inv.chat, li);
  const who = inv.displayName ? `${inv.displayName} <${inv.from}>` : inv.from;
  const p = document.createElement('span');
  p.className = 'invitation-text';
  p.textContent = `${who} invites you to a chat session`;
  const accept = document.createElement('button');
  accept.type = 'button';
  accept.className = 'primary accept';
  accept.textContent = 'Accept';
  accept.setAttribute('aria-label', `Accept the chat session with ${inv.from}`);
  const decline = document.createElement('button');
  decline.type = 'button';
  decline.className = 'decline';
  decline.textContent = 'Decline';
  decline.setAttribute('aria-label', `Decline the chat session with ${inv.from}`);
  li.append(p, accept, decline);
  $('invitations').append(li);
  accept.addEventListener('click', async () => {
    showError(null);
    invitationItems.delete(inv.chat);
    li.remove();
    const view = sessionView(inv.from);
    setSessionState(view, 'joining', 'joining…');
    try {
      attachSession(view, await inv.accept());
    } catch (e) {
      setSessionState(view, 'failed', `not joined: ${whyNot(e)}`);
      showError(e);
    }
  });
  decline.addEventListener('click', async () => {
    showError(null);
    invitationItems.delete(inv.chat);
    li.remove();
    await inv.reject(603).catch(showError);
  });
}

/** The client is being replaced or closed: its sessions and invitations go with it. */
function dropSessions() {
  $('invitations').innerHTML = '';
  invitationItems.clear();
  for (const v of sessionViews) if (!SESSION_OVER.has(v.state)) setSessionState(v, 'ended', 'session ended (client closed)');
}

setInterval(() => {
  if (!expiresAt) return;
  const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  $('reg-countdown').textContent = `${left} s`;
}, 1000);

/** No client any more (replaced, or refused): the status shows none, not the last one's. */
function showNoClient() {
  setPill($('reg-state'), 'unregistered', 'not registered');
  setPill($('conn-state'), 'disconnected');
  expiresAt = null;
  $('reg-countdown').textContent = '—';
  $('reg-facts').hidden = true;
  $('unregister').disabled = true;
  setBusy(false);
}

async function register(ev) {
  ev.preventDefault();
  showError(null);
  try {
    if (client) { client.close(); dropSessions(); client = null; showNoClient(); }
    client = new ImClient(options());
  } catch (e) {
    showError(e);
    return;
  }
  client.addEventListener('trace', (e) => addTrace(e.detail));
  client.addEventListener('connection', (e) => setPill($('conn-state'), e.detail.state));
  client.addEventListener('registration', (e) => {
    const d = e.detail;
    const labels = {
      registered: 'registered', registering: 'registering…', unregistered: 'not registered',
      retrying: `retrying in ${Math.ceil(d.retryIn ?? 0)} s`, unregistering: 'unregistering…', failed: 'registration failed',
    };
    setPill($('reg-state'), d.state, labels[d.state] ?? d.state);
    // Nothing to unregister once unregistered (or failed for good).
    $('unregister').disabled = d.state === 'unregistered' || d.state === 'failed';
    if (d.state === 'registered') {
      expiresAt = Date.now() + (d.expires ?? 0) * 1000;
      $('reg-countdown').textContent = `${d.expires ?? 0} s`;
      $('reg-facts').hidden = false;
      $('reg-route').textContent = (d.serviceRoute ?? []).join(', ') || '—';
      $('reg-assoc').textContent = (d.associatedUris ?? []).join(', ') || '—';
      setBusy(true);
    } else {
      expiresAt = null;
      $('reg-countdown').textContent = '—';
      setBusy(false);
    }
    if (d.error && d.state === 'failed') showError(d.error);
  });
  client.addEventListener('message', (e) => addIncoming(e.detail));
  client.addEventListener('invitation', (e) => onInvitation(e.detail));
  client.addEventListener('invitationended', (e) => onInvitationEnded(e.detail));
  client.addEventListener('imdn', (e) => onImdn(e.detail));
  client.addEventListener('composing', (e) => {
    typing.set(sameUri(e.detail.from), e.detail.state);
    showTyping();
  });
  let firstSettings = true;
  client.addEventListener('servicesettings', (e) => {
    const s = e.detail.settings;
    const f = readSettingsForm();
    // The NOTIFY that echoes our own PUBLISH changes nothing: keep the note.
    const same = s && !!s.incomingSessionBarring === f.incomingSessionBarring && !!s.visibility === f.visibility
      && !!s.offlineDelivery === f.offlineDelivery && !!s.history?.active === f.history.active;
    if (same) currentSettings = s;
    else if (!s) showSettings(null, 'The settings were removed on the server.');
    // The watch's first NOTIFY is what the server keeps, not someone's change.
    else showSettings(s, firstSettings ? 'Loaded from the server.' : 'Updated from the server (another client changed them).');
    firstSettings = false;
  });
  $('register').disabled = true;
  try {
    await client.register();
    $('unregister').disabled = false;
    // Watch settings so changes from another tab appear live.
    client.watchServiceSettings().catch(showError);
  } catch (e) {
    showError(e);
  } finally {
    $('register').disabled = false;
  }
}

async function run(button, action) {
  showError(null);
  button.disabled = true;
  try { await action(); } catch (e) { showError(e); } finally { button.disabled = !client; }
}

$('signin-form').addEventListener('submit', register);
$('unregister').addEventListener('click', async () => {
  showError(null);
  $('unregister').disabled = true; // stays so once unregistered: Register is the way back
  try {
    await client.unregister();
    $('settings-note').textContent = '';
    $('reg-facts').hidden = true;
  } catch (e) {
    showError(e);
    $('unregister').disabled = !client;
  }
});
$('settings-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  run($('publish'), async () => {
    const r = await client.publishServiceSettings(readSettingsForm());
    $('settings-note').textContent = `Published (SIP-ETag ${r.etag}, expires in ${r.expires} s).`;
  });
});
$('fetch').addEventListener('click', () => run($('fetch'), async () => {
  const s = await client.fetchServiceSettings();
  showSettings(s, s ? 'Fetched from the IM server.' : 'The IM server has no settings for you yet.');
}));
$('history-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  run($('history-fetch'), async () => {
    const peer = $('history-with').value.trim();
    const list = $('history');
    list.innerHTML = '';
    const messages = await client.fetchHistory(peer ? { with: peer, limit: 100 } : { limit: 100 });
    for (const m of messages) {
      addMessage({ from: m.peer, body: m.body, dateTime: m.time }, m.direction === 'sent', null, list);
    }
    $('history-note').textContent = messages.length
      ? `${messages.length} message(s) kept by the IM Server.`
      : 'The IM Server keeps no history for you (turn "Conversation history" on and publish).';
  });
});
$('remove').addEventListener('click', () => run($('remove'), async () => {
  await client.removeServiceSettings();
  $('settings-note').textContent = 'Removed from the IM server.';
}));
$('chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if ($('chat-text').value.trim() === '') return; // nothing to say: no empty bubble
  run($('send'), async () => {
    const to = peer();
    const body = $('chat-text').value;
    const li = addOwnMessage(to, body);
    composingTo = null; // the message ends our typing at the peer by itself
    let r;
    try {
      r = await client.sendMessage(to, body, { imdn: ['delivery', 'display'] });
    } catch (e) {
      setReceipt(li, 'failed', e.status ? `${e.status} ${e.reason ?? ''}`.trim() : (e.code ?? 'not sent').replace(/_/g, ' '));
      throw e;
    }
    if (r.status === 202) li.querySelector('.receipt').after(badgeFor('stored'));
    if (r.largeMessage) li.querySelector('.receipt').after(badgeFor('msrp')); // above the threshold: MSRP
    setReceipt(li, 'sent', `(${r.status} ${r.reason})`);
    // In large-message mode the promise resolves on the receiver's MSRP success
    // REPORT (no IMDN travels): that is its delivery.
    if (r.largeMessage) setReceipt(li, 'delivered', '(MSRP success report)');
    if (r.messageId) {
      li.dataset.messageId = r.messageId;
      sentByMessageId.set(r.messageId, li);
      const early = earlyReceipts.get(r.messageId);
      if (early) {
        earlyReceipts.delete(r.messageId);
        setReceipt(li, early.state, early.note);
      }
    }
    $('chat-text').value = '';
  });
});
$('chat-text').addEventListener('input', () => sendTyping(peer(), $('chat-text').value !== ''));
$('file-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const file = $('file-input').files[0];
  if (!file) { showError(new ImError('bad_input', 'choose a file first')); return; }
  run($('send-file'), async () => {
    const sending = sendFile(peer(), file);
    $('file-input').value = '';
    await sending;
  });
});
$('start-session').addEventListener('click', () => run($('start-session'), () => startSession(peer())));
$('chat-to').addEventListener('input', () => {
  if (composingTo && composingTo !== peer()) sendTyping(composingTo, false);
  showTyping();
});
document.querySelectorAll('[data-preset]').forEach((b) => b.addEventListener('click', () => applyPreset(b.dataset.preset)));
document.querySelectorAll('input[name=authKind]').forEach((r) => r.addEventListener('change', toggleAuthFields));
$('show-keepalive').addEventListener('change', (e) => $('ladder').classList.toggle('with-keepalive', e.target.checked));
$('show-msrp').addEventListener('change', (e) => $('ladder').classList.toggle('without-msrp', !e.target.checked));
$('clear-trace').addEventListener('click', () => { trace.length = 0; $('ladder').innerHTML = ''; $('frame').textContent = ''; });
$('save-trace').addEventListener('click', () => {
  const far = (t) => (t.protocol === 'msrp' ? 'MSRP relay' : 'SIP/IP Core');
  const text = trace.map((t) => `--- ${t.direction === 'out' ? `IM Client → ${far(t)}` : `${far(t)} → IM Client`} ${new Date(t.at).toISOString()} ${t.label}\n${t.text}`).join('\n\n');
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  a.download = `imsip-trace-${new Date().toISOString().replace(/[:.]/g, '-')}.txt`;
  a.click();
  URL.revokeObjectURL(a.href);
});
window.addEventListener('beforeunload', () => client?.close());

await init();
$('version').textContent = `imsip ${version()}`;
$('server').value = wsDefault;
applyPreset(new URLSearchParams(location.search).get('user') || sessionStorage.getItem('imsip-demo-preset') || 'alice');
document.body.dataset.ready = 'true';
