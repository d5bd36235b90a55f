// A small scripted SIP core over WebSocket that misbehaves the way real ones do
// (STYLE.md, "Test against cores configured the way they ship"): 503/408/500/504 to a
// REGISTER refresh, 500 to a PUBLISH refresh, no keep-alive pongs, outbound with a
// Flow-Timer, a socket dropped on every REGISTER, NOTIFYs that terminate a watch with
// each RFC 6665 §4.1.3 reason.
//
// It speaks just enough SIP to drive a client: it parses requests by hand (request
// line, Via, From, To, Call-ID, CSeq, Contact, Expires, Event, SIP-If-Match,
// Content-Length, compact forms too) and answers from a per-scenario script. There is
// no authentication. It records every request, every response the client sent to the
// core's own requests and every connection, so that tests assert AT THE CORE, and it
// can send a MESSAGE to the client on demand.
//
// Default answers:
//   REGISTER   200 with the request's Contact plus ;expires=<granted>, and Expires
//              (granted = min(requested, grantedExpires)); Expires 0 → 200, no Contact
//   PUBLISH    200 with SIP-ETag and Expires (min(requested, publishExpires)). The core
//              keeps the entity until it expires; a SIP-If-Match naming an unknown or
//              expired entity-tag → 412 (RFC 3903 §6)
//   SUBSCRIBE  200 (To-tag, Contact, Expires), then a NOTIFY in the dialog:
//              Event: service-settings, Subscription-State: active;expires=N and an
//              application/service-settings+xml body (Expires 0 → terminated;reason=timeout)
//              After each NOTIFY the client accepts, the next of `notifyStates` (if any)
//              is sent in that dialog; a `terminated` one ends the dialog.
//   MESSAGE, OPTIONS → 200;  `\r\n\r\n` → `\r\n` (pong);  anything else → 501
//
// Knobs (options of startCore, all optional):
//   scenario          a preset name from `scenarios` (the other options override it)
//   grantedExpires    REGISTER expiry granted, s (default 3600)
//   publishExpires    PUBLISH expiry granted, s (default grantedExpires)
//   subscribeExpires  SUBSCRIBE expiry granted, s (default grantedExpires)
//   registerAnswers   [200, 503, {status: 503, retryAfter: 1}, ...] for the 1st, 2nd, ...
//                     REGISTER (past the end: 200), or (n, req) => answer | undefined
//   publishAnswers    the same for PUBLISH
//   noPong            never answer a CRLFCRLF ping
//   requireOutbound   REGISTER 200 carries `Require: outbound` and `Flow-Timer: flowTimer`
//   flowTimer         s (default 3)
//   dropOnRegister    terminate the TCP connection when a REGISTER arrives (true, or
//                     (n, req) => boolean)
//   notifyStates      Subscription-State values sent in sequence, e.g.
//                     ['terminated;reason=probation;retry-after=1']
//   notifyBody        send a settings document in `active` NOTIFYs (default true)
//   verbose           log every frame to stderr
//
// Loopback only (127.0.0.1), port 0 = chosen free by the kernel. Standalone:
//   node tests/misbehaving/core.mjs --scenario refresh-503 --port 8088 [--quiet]
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'js', 'package.json'));
/** `ws` 8.x as installed by js/package-lock.json (`cd js && npm ci`). */
const { WebSocketServer } = require('ws');

/** Named presets (the standalone `--scenario`, and what the tests start from). */
export const scenarios = {
  default: {},
  'refresh-503': { grantedExpires: 2, registerAnswers: [200, 503] },
  'refresh-408': { grantedExpires: 2, registerAnswers: [200, 408] },
  'refresh-500': { grantedExpires: 2, registerAnswers: [200, 500] },
  'refresh-504': { grantedExpires: 2, registerAnswers: [200, 504] },
  'publish-refresh-500': { publishExpires: 6, publishAnswers: [200, 500] },
  'no-pong': { noPong: true },
  'no-pong-outbound': { noPong: true, requireOutbound: true, flowTimer: 3 },
  'drop-on-register': { dropOnRegister: true },
  'notify-deactivated': { notifyStates: ['terminated;reason=deactivated'] },
  'notify-timeout': { notifyStates: ['terminated;reason=timeout'] },
  'notify-probation': { notifyStates: ['terminated;reason=probation;retry-after=1'] },
  'notify-giveup': { notifyStates: ['terminated;reason=giveup;retry-after=1'] },
  'notify-rejected': { notifyStates: ['terminated;reason=rejected'] },
  'notify-noresource': { notifyStates: ['terminated;reason=noresource'] },
  'notify-short': { notifyStates: ['active;expires=1'] },
};

const REASONS = {
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 412: 'Conditional Request Failed',
  423: 'Interval Too Brief', 480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist',
  489: 'Bad Event', 500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable',
  504: 'Server Time-out',
};

// RFC 3261 §7.3.3 and the event/refer extensions.
const COMPACT = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length',
  c: 'content-type', e: 'content-encoding', k: 'supported', s: 'subject', o: 'event',
  u: 'allow-events', r: 'refer-to', b: 'referred-by', x: 'session-expires',
};

export const SETTINGS_CONTENT_TYPE = 'application/service-settings+xml';

/** A small valid service-settings document for `aor`. */
export function settingsXml(aor, { visibility = true } = {}) {
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + '<service-settings xmlns="urn:oma:xml:im:service-settings">\n'
    + `  <entity id="${aor}">\n`
    + `    <vis-settings><vis-status active="${visibility}"/></vis-settings>\n`
    + '  </entity>\n'
    + '</service-settings>\n';
}

const token = (n = 10) => randomBytes(n).toString('hex').slice(0, n);

/**
 * Parses one SIP message (one WebSocket frame) minimally. Returns null when the
 * first line is neither a request line nor a status line.
 */
export function parseSip(text) {
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 4);
  const rawLines = head.split('\r\n');
  const first = rawLines.shift() ?? '';
  const lines = [];
  for (const l of rawLines) {
    if (/^[ \t]/.test(l) && lines.length) lines[lines.length - 1] += ' ' + l.trim();
    else if (l) lines.push(l);
  }
  const headers = [];
  for (const l of lines) {
    const colon = l.indexOf(':');
    if (colon < 0) continue;
    let name = l.slice(0, colon).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    headers.push([name, l.slice(colon + 1).trim()]);
  }
  const all = (name) => headers.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
  const one = (name) => all(name)[0];
  let m = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(first);
  const msg = { first, headers, all, header: one, body, text };
  if (m) {
    msg.kind = 'request';
    msg.method = m[1].toUpperCase();
    msg.uri = m[2];
  } else if ((m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(first))) {
    msg.kind = 'response';
    msg.status = Number(m[1]);
    msg.reason = m[2];
  } else {
    return null;
  }
  const cseq = /^(\d+)\s+(\S+)/.exec(one('cseq') ?? '');
  msg.cseq = cseq ? { seq: Number(cseq[1]), method: cseq[2].toUpperCase() } : null;
  msg.callId = one('call-id') ?? null;
  msg.branch = /;\s*branch=([^;,\s]+)/i.exec(one('via') ?? '')?.[1] ?? null;
  const exp = one('expires');
  msg.expires = exp !== undefined && /^\d+$/.test(exp) ? Number(exp) : null;
  return msg;
}

/** `tag` parameter of a From/To value. */
export const tagOf = (v) => /;\s*tag=([^;>\s]+)/i.exec(v ?? '')?.[1] ?? null;
/** The URI inside <...> (or up to the first ;) of a name-addr / Contact value. */
export const uriOf = (v) => (/<([^>]*)>/.exec(v ?? '')?.[1] ?? (v ?? '').split(';')[0].trim());
/** `expires` parameter of a Contact value (outside the <...>). */
const contactExpires = (v) => {
  const params = (v ?? '').replace(/^[^<]*<[^>]*>/, '');
  const m = /;\s*expires=(\d+)/i.exec(params);
  return m ? Number(m[1]) : null;
};
const stripExpiresParam = (v) => {
  const m = /^([^<]*<[^>]*>)(.*)$/.exec(v);
  return (m ? m[1] + m[2].replace(/;\s*expires=\d+/ig, '') : v.replace(/;\s*expires=\d+/ig, '')).trimEnd();
};

function normaliseAnswer(a) {
  if (a === undefined || a === null) return null;
  if (typeof a === 'number') return { status: a };
  return { ...a };
}

function scripted(answers, n, req) {
  if (typeof answers === 'function') return normaliseAnswer(answers(n, req));
  if (Array.isArray(answers)) return normaliseAnswer(answers[n - 1]);
  return null;
}

/**
 * Starts the core on 127.0.0.1. Resolves with the core object once it listens:
 *   url, port, options
 *   requests     [{ conn, n (per method, 1-based), method, uri, cseq, callId, branch,
 *                  expires, header(name), all(name), body, text, at, answered (last status
 *                  sent), answers[]; REGISTER: granted, dropped; PUBLISH: ifMatch,
 *                  entityLive (the If-Match entity was alive on arrival), etag, granted;
 *                  SUBSCRIBE: subscription ('new' | 'refresh' | 'unsubscribe' | 'fetch' |
 *                  'unknown-dialog' | 'bad-event'), sub (dialog id) }]
 *   responses    [{ conn, status, cseq, callId, at, of (the core's request record) }]
 *   connections  [{ id, openedAt, closedAt, closedBy: 'client' | 'core', pings, pongs,
 *                  contact }]
 *   opens, closes, expired (PUBLISH entities that expired), subs (live dialogs)
 *   count(method, pred), waitFor(pred, ms, what), sendMessage(opts), summary(), close()
 */
export async function startCore(options = {}) {
  const preset = options.scenario ? scenarios[options.scenario] : {};
  if (!preset) throw new Error(`unknown scenario ${options.scenario}; known: ${Object.keys(scenarios).join(', ')}`);
  const o = {
    port: 0,
    domain: 'imsip.test',
    grantedExpires: 3600,
    flowTimer: 3,
    notifyBody: true,
    ...preset,
    ...options,
  };
  o.publishExpires ??= o.grantedExpires;
  o.subscribeExpires ??= o.grantedExpires;

  const events = new EventEmitter();
  events.setMaxListeners(0);
  const requests = [];
  const responses = [];
  const connections = [];
  const expired = [];
  const timers = new Set();
  /** Cancel functions of pending waitFor()s. */
  const waiters = new Set();
  /** etag → { aor, body, timer, expiresAt } */
  const entities = new Map();
  /** `${callId} ${clientTag}` → subscription dialog */
  const subs = new Map();
  /** branch → { record, resolve, reject, timer } for the core's own requests */
  const outstanding = new Map();
  const perMethod = new Map();
  const notifyQueue = [...(o.notifyStates ?? [])];
  /** AoR → last published body */
  const published = new Map();
  let closing = false;

  const log = (line) => { if (o.verbose) process.stderr.write(`[core ${new Date().toISOString().slice(11, 23)}] ${line}\n`); };
  const changed = () => events.emit('change');
  const later = (ms, f) => {
    const t = setTimeout(() => { timers.delete(t); f(); }, ms);
    timers.add(t);
    return t;
  };
  const cancel = (t) => { if (t) { clearTimeout(t); timers.delete(t); } };

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: o.port,
    handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = wss.address().port;
  const coreUri = `sip:core@127.0.0.1:${port};transport=ws`;

  function send(conn, text) {
    if (conn.ws.readyState !== conn.ws.OPEN) {
      log(`c${conn.id} not open, not sent: ${text.split('\r\n')[0]}`);
      return false;
    }
    log(`c${conn.id} << ${JSON.stringify(text.length > 400 ? text.slice(0, 400) + '…' : text)}`);
    conn.ws.send(text);
    return true;
  }

  function build(first, headers, body = '') {
    const lines = [first];
    for (const [n, v] of headers) lines.push(`${n}: ${v}`);
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    return lines.join('\r\n');
  }

  /** A well-formed response to `req`: Via/From/To/Call-ID/CSeq copied, a To-tag added. */
  function reply(conn, req, status, extra = [], body = '', reason = REASONS[status] ?? 'Unknown') {
    const to = req.header('to') ?? '';
    if (!req.toTagSent) req.toTagSent = tagOf(to) ?? token();
    const headers = [
      ...req.all('via').map((v) => ['Via', v]),
      ['From', req.header('from') ?? ''],
      ['To', tagOf(to) ? to : `${to};tag=${req.toTagSent}`],
      ['Call-ID', req.callId ?? ''],
      ['CSeq', req.header('cseq') ?? ''],
      ['Server', 'imsip-misbehaving-core'],
      ...extra,
    ];
    req.answered = status;
    req.answers.push(status);
    send(conn, build(`SIP/2.0 ${status} ${reason}`, headers, body));
    changed();
  }

  /** Sends a request of the core's own; resolves with the client's final response. */
  function request(conn, { method, uri, headers, body = '', ms = 10_000, meta = {} }) {
    const branch = `z9hG4bK${token(16)}`;
    const record = { conn: conn.id, method, uri, branch, at: Date.now(), response: null, ...meta };
    const frame = build(`${method} ${uri} SIP/2.0`, [
      ['Via', `SIP/2.0/WS core.invalid;branch=${branch}`],
      ['Max-Forwards', '70'],
      ...headers,
    ], body);
    record.text = frame;
    return new Promise((resolve, reject) => {
      if (!send(conn, frame)) { reject(new Error(`${method}: connection c${conn.id} is not open`)); return; }
      const timer = later(ms, () => {
        outstanding.delete(branch);
        reject(new Error(`${method} to the client: no final response in ${ms} ms`));
      });
      outstanding.set(branch, { record, resolve, reject, timer, conn });
    });
  }

  // ───────────────────────────── REGISTER ─────────────────────────────
  function onRegister(conn, req) {
    const drop = typeof o.dropOnRegister === 'function' ? o.dropOnRegister(req.n, req) : o.dropOnRegister;
    if (drop) {
      req.dropped = true;
      changed();
      log(`c${conn.id} REGISTER #${req.n}: dropping the connection`);
      conn.closedBy = 'core';
      conn.ws.terminate();
      return;
    }
    const answer = scripted(o.registerAnswers, req.n, req);
    if (answer && answer.status !== 200) {
      const extra = answer.retryAfter !== undefined ? [['Retry-After', String(answer.retryAfter)]] : [];
      reply(conn, req, answer.status, [...extra, ...(answer.headers ?? [])], '', answer.reason);
      return;
    }
    const contact = req.header('contact');
    const requested = contactExpires(contact) ?? req.expires ?? 3600;
    if (requested === 0 || !contact) {
      conn.contact = null;
      reply(conn, req, 200, [['Expires', '0']]);
      return;
    }
    const granted = Math.min(requested, answer?.expires ?? o.grantedExpires);
    req.granted = granted;
    conn.contact = uriOf(contact);
    conn.aor = uriOf(req.header('to'));
    const extra = [['Contact', `${stripExpiresParam(contact)};expires=${granted}`], ['Expires', String(granted)]];
    if (o.requireOutbound) extra.push(['Require', 'outbound'], ['Flow-Timer', String(o.flowTimer)]);
    reply(conn, req, 200, [...extra, ...(answer?.headers ?? [])]);
  }

  // ───────────────────────────── PUBLISH (RFC 3903) ─────────────────────────────
  function onPublish(conn, req) {
    const ifMatch = req.header('sip-if-match') ?? null;
    req.ifMatch = ifMatch;
    req.entityLive = ifMatch ? entities.has(ifMatch) : null;
    const answer = scripted(o.publishAnswers, req.n, req);
    if (answer && answer.status !== 200) {
      const extra = answer.retryAfter !== undefined ? [['Retry-After', String(answer.retryAfter)]] : [];
      reply(conn, req, answer.status, [...extra, ...(answer.headers ?? [])], '', answer.reason);
      return;
    }
    if ((req.header('event') ?? '').split(';')[0].trim().toLowerCase() !== 'service-settings') {
      reply(conn, req, 489, [['Allow-Events', 'service-settings']]);
      return;
    }
    const aor = uriOf(req.header('to'));
    let entity = null;
    if (ifMatch) {
      entity = entities.get(ifMatch);
      if (!entity) {
        reply(conn, req, 412);
        return;
      }
      cancel(entity.timer);
      entities.delete(ifMatch);
    } else if (!req.body) {
      reply(conn, req, 400, [], '', 'Bad Request (initial PUBLISH without a body)');
      return;
    }
    const requested = req.expires ?? 3600;
    if (requested === 0) {
      published.delete(aor);
      reply(conn, req, 200, [['Expires', '0']]);
      return;
    }
    const granted = Math.min(requested, answer?.expires ?? o.publishExpires);
    const etag = `e${token(12)}`;
    const body = req.body || entity?.body;
    const e = { aor, body, etag, grantedAt: Date.now(), expiresAt: Date.now() + granted * 1000 };
    e.timer = later(granted * 1000, () => {
      entities.delete(etag);
      expired.push({ etag, aor, at: Date.now() });
      log(`entity ${etag} of ${aor} expired`);
      changed();
    });
    entities.set(etag, e);
    published.set(aor, body);
    req.etag = etag;
    req.granted = granted;
    reply(conn, req, 200, [['SIP-ETag', etag], ['Expires', String(granted)]]);
  }

  // ───────────────────────────── SUBSCRIBE / NOTIFY (RFC 6665) ─────────────────────────────
  function notify(sub, state, { body } = {}) {
    const conn = sub.conn;
    sub.notifyCseq += 1;
    const terminated = /^terminated/i.test(state);
    if (terminated) {
      sub.state = 'terminated';
      subs.delete(sub.key);
    }
    const withBody = body ?? (!terminated && o.notifyBody ? (published.get(sub.aor) ?? settingsXml(sub.aor)) : '');
    const headers = [
      ['From', `<${sub.aor}>;tag=${sub.coreTag}`],
      ['To', `${sub.clientFrom.replace(/;\s*tag=[^;>\s]+/i, '')};tag=${sub.clientTag}`],
      ['Call-ID', sub.callId],
      ['CSeq', `${sub.notifyCseq} NOTIFY`],
      ['Contact', `<${coreUri}>`],
      ['Event', 'service-settings'],
      ['Subscription-State', state],
    ];
    if (withBody) headers.push(['Content-Type', SETTINGS_CONTENT_TYPE]);
    const p = request(conn, { method: 'NOTIFY', uri: sub.target, headers, body: withBody, meta: { sub: sub.id, state } });
    sub.notifies.push({ state, at: Date.now() });
    changed();
    p.then((resp) => {
      if (resp.status >= 300) {
        // RFC 6665 §4.2.2: a failure response to NOTIFY ends the subscription.
        sub.state = 'terminated';
        subs.delete(sub.key);
        changed();
        return;
      }
      if (sub.state === 'active' && notifyQueue.length) notify(sub, notifyQueue.shift());
    }, (err) => log(`NOTIFY in ${sub.id}: ${err.message}`));
    return p;
  }

  function onSubscribe(conn, req) {
    if ((req.header('event') ?? '').split(';')[0].trim().toLowerCase() !== 'service-settings') {
      req.subscription = 'bad-event';
      reply(conn, req, 489, [['Allow-Events', 'service-settings']]);
      return;
    }
    const clientTag = tagOf(req.header('from'));
    const toTag = tagOf(req.header('to'));
    const requested = req.expires ?? 3600;
    const key = `${req.callId} ${clientTag}`;
    if (toTag) {
      const sub = subs.get(key);
      if (!sub || sub.coreTag !== toTag) {
        req.subscription = 'unknown-dialog';
        reply(conn, req, 481);
        return;
      }
      sub.conn = conn;
      req.sub = sub.id;
      if (requested === 0) {
        req.subscription = 'unsubscribe';
        reply(conn, req, 200, [['Contact', `<${coreUri}>`], ['Expires', '0']]);
        notify(sub, 'terminated;reason=timeout');
        return;
      }
      req.subscription = 'refresh';
      const granted = Math.min(requested, o.subscribeExpires);
      reply(conn, req, 200, [['Contact', `<${coreUri}>`], ['Expires', String(granted)]]);
      notify(sub, `active;expires=${granted}`);
      return;
    }
    const sub = {
      id: `s${subs.size + 1}-${token(4)}`,
      key,
      conn,
      callId: req.callId,
      clientTag,
      clientFrom: req.header('from'),
      coreTag: token(),
      aor: uriOf(req.header('to')),
      target: uriOf(req.header('contact')) || uriOf(req.header('from')),
      notifyCseq: 0,
      notifies: [],
      state: 'active',
    };
    req.toTagSent = sub.coreTag;
    req.sub = sub.id;
    if (requested === 0) {
      // A fetch (RFC 6665 §4.4.3): one NOTIFY with the state, then nothing.
      req.subscription = 'fetch';
      reply(conn, req, 200, [['Contact', `<${coreUri}>`], ['Expires', '0']]);
      const body = published.get(sub.aor) ?? (o.notifyBody ? settingsXml(sub.aor) : '');
      notify(sub, 'terminated;reason=timeout', { body });
      return;
    }
    req.subscription = 'new';
    subs.set(key, sub);
    const granted = Math.min(requested, o.subscribeExpires);
    reply(conn, req, 200, [['Contact', `<${coreUri}>`], ['Expires', String(granted)]]);
    notify(sub, `active;expires=${granted}`);
  }

  // ───────────────────────────── frames ─────────────────────────────
  function onFrame(conn, text) {
    if (text === '\r\n\r\n') {
      conn.pings += 1;
      changed();
      if (!o.noPong) send(conn, '\r\n');
      return;
    }
    if (/^(\r\n)+$/.test(text)) {
      conn.pongs += 1;
      changed();
      return;
    }
    log(`c${conn.id} >> ${JSON.stringify(text.length > 400 ? text.slice(0, 400) + '…' : text)}`);
    const msg = parseSip(text);
    if (!msg) {
      conn.garbage += 1;
      changed();
      return;
    }
    if (msg.kind === 'response') {
      const o2 = outstanding.get(msg.branch);
      const rec = { conn: conn.id, status: msg.status, reason: msg.reason, cseq: msg.cseq, callId: msg.callId, at: Date.now(), text };
      if (o2 && msg.status >= 200) {
        outstanding.delete(msg.branch);
        cancel(o2.timer);
        rec.of = o2.record;
        o2.record.response = rec;
        responses.push(rec);
        changed();
        o2.resolve(rec);
      } else {
        responses.push(rec);
        changed();
      }
      return;
    }
    const n = (perMethod.get(msg.method) ?? 0) + 1;
    perMethod.set(msg.method, n);
    const req = Object.assign(msg, { conn: conn.id, n, at: Date.now(), answered: null, answers: [] });
    requests.push(req);
    changed();
    switch (msg.method) {
      case 'REGISTER': return onRegister(conn, req);
      case 'PUBLISH': return onPublish(conn, req);
      case 'SUBSCRIBE': return onSubscribe(conn, req);
      case 'MESSAGE':
      case 'OPTIONS': return reply(conn, req, 200);
      case 'ACK': return undefined;
      default: return reply(conn, req, 501);
    }
  }

  wss.on('connection', (ws) => {
    const conn = {
      id: connections.length + 1, ws, openedAt: Date.now(), closedAt: null, closedBy: null,
      pings: 0, pongs: 0, garbage: 0, contact: null, aor: null,
    };
    connections.push(conn);
    log(`c${conn.id} open`);
    if (ws.protocol !== 'sip') {
      conn.closedBy = 'core';
      ws.close(1002, 'subprotocol sip required');
    }
    ws.on('message', (data) => onFrame(conn, String(data)));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      conn.closedAt = Date.now();
      conn.closedBy ??= 'client';
      conn.closeCode = code;
      log(`c${conn.id} closed by the ${conn.closedBy} (${code})`);
      for (const [b, x] of outstanding) {
        if (x.conn !== conn) continue;
        outstanding.delete(b);
        cancel(x.timer);
        x.reject(new Error(`${x.record.method} to the client: connection c${conn.id} closed`));
      }
      changed();
    });
    changed();
  });

  const core = {
    url: `ws://127.0.0.1:${port}/sip`,
    port,
    options: o,
    requests,
    responses,
    connections,
    expired,
    subs,
    events,
    get opens() { return connections.length; },
    get closes() { return connections.filter((c) => c.closedAt !== null).length; },
    /** The open connection opened last (or undefined). */
    get current() { return [...connections].reverse().find((c) => c.closedAt === null); },
    /** Requests of `method` (and `pred`). */
    of(method, pred = () => true) { return requests.filter((r) => r.method === method && pred(r)); },
    count(method, pred = () => true) { return core.of(method, pred).length; },
    /** One line per request and connection event, for failure messages. */
    summary() {
      const lines = [];
      for (const c of connections) lines.push(`c${c.id}: pings ${c.pings}, ${c.closedAt ? `closed by the ${c.closedBy}` : 'open'}`);
      for (const r of requests) {
        const extra = [r.subscription, r.ifMatch && `If-Match ${r.ifMatch}${r.entityLive ? '' : ' (dead)'}`, r.dropped && 'dropped']
          .filter(Boolean).join(', ');
        lines.push(`c${r.conn} ${r.method} #${r.n} CSeq ${r.cseq?.seq} Expires ${r.expires ?? '-'} → ${r.answers.join(',') || '-'}${extra ? ` (${extra})` : ''}`);
      }
      for (const r of responses) lines.push(`c${r.conn} ← ${r.status} to ${r.cseq?.method} ${r.of?.state ?? ''}`);
      for (const e of expired) lines.push(`entity ${e.etag} expired`);
      return lines.join('\n');
    },
    /**
     * Resolves when `pred()` holds (checked now and after every recorded change);
     * rejects after `ms` with `what` and the core's summary.
     */
    waitFor(pred, ms = 15_000, what = 'condition') {
      let done;
      const p = new Promise((resolve, reject) => {
        const check = () => {
          let v;
          try { v = pred(); } catch (e) { done(); reject(e); return; }
          if (v) { done(); resolve(v); }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`core: no ${what} in ${ms} ms; the core saw:\n${core.summary()}`));
        }, ms);
        done = () => { clearTimeout(timer); events.off('change', check); waiters.delete(done); };
        waiters.add(done);
        events.on('change', check);
        check();
      });
      /** Stops waiting: the promise then never settles. */
      p.cancel = () => done();
      return p;
    },
    /**
     * Sends a MESSAGE to the client on `conn` (default: the current connection), to
     * its registered Contact. Resolves with the client's final response record.
     */
    sendMessage({ body = 'hello', from = `sip:peer@${o.domain}`, contentType = 'text/plain;charset=UTF-8', conn, ms } = {}) {
      const c = conn ?? core.current;
      if (!c) return Promise.reject(new Error('sendMessage: no open connection'));
      const aor = c.aor ?? `sip:alice@${o.domain}`;
      return request(c, {
        method: 'MESSAGE',
        uri: c.contact ?? aor,
        ms,
        headers: [
          ['From', `<${from}>;tag=${token()}`],
          ['To', `<${aor}>`],
          ['Call-ID', `core-${token(16)}`],
          ['CSeq', '1 MESSAGE'],
          ['Content-Type', contentType],
        ],
        body,
      });
    },
    /** Sends a NOTIFY with `state` in the live dialog `subId` (tests may drive it by hand). */
    notify(subId, state, opts) {
      const sub = [...subs.values()].find((s) => s.id === subId);
      if (!sub) return Promise.reject(new Error(`no live subscription ${subId}`));
      return notify(sub, state, opts);
    },
    /** Closes every connection and the server; every timer is cleared. */
    close() {
      if (closing) return closing;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const w of [...waiters]) w();
      for (const [, x] of outstanding) x.reject(new Error('core closed'));
      outstanding.clear();
      closing = new Promise((resolve) => {
        for (const c of connections) if (c.closedAt === null) { c.closedBy ??= 'core'; c.ws.terminate(); }
        wss.close(() => resolve());
      });
      return closing;
    },
  };
  return core;
}

// ───────────────────────────── standalone ─────────────────────────────
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const arg = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  if (args.includes('--help')) {
    console.log(`usage: node tests/misbehaving/core.mjs [--scenario NAME] [--port N] [--quiet]\nscenarios: ${Object.keys(scenarios).join(', ')}`);
    process.exit(0);
  }
  const scenario = arg('scenario', 'default');
  const core = await startCore({ scenario, port: Number(arg('port', '0')), verbose: !args.includes('--quiet') });
  console.log(`misbehaving core (${scenario}) listening on ${core.url}`);
  const stop = async () => {
    await core.close();
    console.log(core.summary());
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
