// Raw SIP for the Node test suites: digest (RFC 2617 MD5, qop=auth) computed here,
// header look-ups, and a SIP-over-WebSocket client that writes its frames by hand, to
// see exactly what a core sends and answers without imsip in between.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';

export const md5 = (s) => createHash('md5').update(s).digest('hex');
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** A Digest challenge's parameters (names in lower case). */
export function challengeParams(value) {
  assert.match(value, /^Digest /i);
  return Object.fromEntries([...value.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)].map((m) => [m[1].toLowerCase(), m[2] ?? m[3]]));
}

/** RFC 2617 MD5 qop=auth answer to `challenge` (nc 1, a fresh cnonce: what imsip computes), as a header value. */
export function digestAnswer(challenge, method, uri, user, password) {
  const p = challengeParams(challenge);
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const ha1 = md5(`${user}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  const response = md5(`${ha1}:${p.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", `
    + `response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
}

/** A header's value in a SIP message (first occurrence), or undefined. */
export function header(msg, name) {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(msg.split('\r\n\r\n')[0]);
  return m?.[1];
}

/** A response's status code. */
export const status = (response) => Number(response.split(' ', 2)[1]);

/** A 200 OK to `request` (its Vias, From, To, Call-ID and CSeq). */
export function okResponse(request) {
  const vias = request.split('\r\n\r\n')[0].split('\r\n').filter((l) => /^Via:/i.test(l));
  return ['SIP/2.0 200 OK', ...vias, ...['From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${header(request, h)}`),
    'Content-Length: 0', '', ''].join('\r\n');
}

/**
 * A raw SIP-over-WebSocket client of `user`@`domain` for test `t` (closed when `t`
 * ends): `send` writes one request and resolves with its final response; `request`
 * does the same, answering a 401/407 once with `password`. Every request it receives
 * is kept in `incoming` and answered 200 (ACK excepted); every other frame (responses,
 * CRLF pongs) goes to `frames`. `waitFrame(pred, what, list = frames)` takes the first
 * frame of `list` matching `pred` out of it, waiting for one if need be; `keepAlive()`
 * resolves when a CRLF keep-alive was answered.
 */
export async function rawSipClient(t, url, { user, domain, password = `${user}-secret` }) {
  const ws = new WebSocket(url, 'sip');
  const frames = [];
  const incoming = [];
  const waiters = new Set();
  const aor = `sip:${user}@${domain}`;
  ws.on('message', (data) => {
    const text = data.toString();
    if (/^[A-Z]+ \S+ SIP\/2\.0\r\n/.test(text)) {
      incoming.push(text);
      if (!text.startsWith('ACK ')) ws.send(okResponse(text));
    } else {
      frames.push(text);
    }
    for (const w of waiters) w();
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  t.after(() => ws.close());
  assert.equal(ws.protocol, 'sip');
  /** The first frame of `list` matching `pred` (removed from it), within `ms`. */
  const waitFrame = (pred, what, list = frames, ms = 10_000) => new Promise((resolve, reject) => {
    const look = () => {
      const i = list.findIndex(pred);
      if (i < 0) return false;
      waiters.delete(look);
      clearTimeout(timer);
      resolve(list.splice(i, 1)[0]);
      return true;
    };
    const timer = setTimeout(() => { waiters.delete(look); reject(new Error(`no ${what} within ${ms} ms`)); }, ms);
    if (!look()) waiters.add(look);
  });
  const callId = randomBytes(10).toString('hex');
  let cseq = 0;
  /** Sends one request; resolves with its final response (provisional ones skipped). */
  const send = async (method, ruri, { to = ruri, headers = [], body = '', callid = callId } = {}) => {
    cseq += 1;
    const text = [
      `${method} ${ruri} SIP/2.0`,
      `Via: SIP/2.0/WS raw.invalid;branch=z9hG4bK${randomBytes(8).toString('hex')}`,
      'Max-Forwards: 70',
      `From: <${aor}>;tag=raw${user}`,
      `To: <${to}>`,
      `Call-ID: ${callid}`,
      `CSeq: ${cseq} ${method}`,
      ...headers,
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    const mine = (f) => f.startsWith('SIP/2.0 ') && !/^SIP\/2\.0 1\d\d /.test(f)
      && header(f, 'Call-ID') === callid && header(f, 'CSeq') === `${cseq} ${method}`;
    const response = waitFrame(mine, `final response to ${method} (CSeq ${cseq})`);
    ws.send(text);
    return response;
  };
  /** `send`, answering a 401/407 once with our credentials. */
  const request = async (method, ruri, opts = {}) => {
    const first = await send(method, ruri, opts);
    const code = status(first);
    if (code !== 401 && code !== 407) return first;
    const [ask, answer] = code === 401 ? ['WWW-Authenticate', 'Authorization'] : ['Proxy-Authenticate', 'Proxy-Authorization'];
    const credentials = digestAnswer(header(first, ask), method, ruri, user, password);
    return send(method, ruri, { ...opts, headers: [...(opts.headers ?? []), `${answer}: ${credentials}`] });
  };
  /** RFC 5626 §4.4.1 keep-alive over a WebSocket: sends CRLF CRLF; resolves on the CRLF pong. */
  const keepAlive = () => {
    const pong = waitFrame((f) => f === '\r\n', 'CRLF pong');
    ws.send('\r\n\r\n');
    return pong;
  };
  return { ws, aor, send, request, waitFrame, keepAlive, incoming };
}
