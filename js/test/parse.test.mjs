// parseMessage through the package (pkg/, or IMSIP_PKG): every field of the result,
// the lazily-read index against the Rust parser's own answers, and the inputs where
// a field's text is not a plain slice of the input (non-ASCII before a field, folded
// headers, quoted display names, canonical IPv6, a body cut inside a character).
//
//   js/build.sh && node --test js/test/parse.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const entry = process.env.IMSIP_PKG ?? path.join(root, 'pkg', 'imsip.js');
const { default: init, parseMessage, ImError } = await import(pathToFileURL(entry).href);
await init();

const response401 = 'SIP/2.0 401 Unauthorized\r\n' +
  'Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;rport=50123;received=192.0.2.4\r\n' +
  'v: SIP/2.0/WS [2001:db8::1]:8080;branch=z9hG4bK2;rport\r\n' +
  'From: "A \\"quoted\\" name" <sip:alice@imsip.test>;tag=4fa3\r\nTo: <sip:alice@imsip.test>;tag=x\r\n' +
  'Call-ID: apb03a0s09dkjdfglkj49111\r\nCSeq: 1 REGISTER\r\n' +
  'WWW-Authenticate: Digest realm="imsip.test", nonce="abc"\r\n' +
  'Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 6\r\n\r\nhéllo';

test('a response: every field', () => {
  const m = parseMessage(response401);
  assert.equal(m.kind, 'response');
  assert.equal(m.status, 401);
  assert.equal(m.reason, 'Unauthorized');
  assert.equal(m.method, undefined);
  assert.equal(m.uri, undefined);
  assert.equal(m.callId, 'apb03a0s09dkjdfglkj49111');
  assert.deepEqual(m.cseq, { seq: 1, method: 'REGISTER' });
  assert.deepEqual(m.from, { uri: 'sip:alice@imsip.test', tag: '4fa3', display: 'A "quoted" name' });
  assert.deepEqual(m.to, { uri: 'sip:alice@imsip.test', tag: 'x', display: null });
  assert.deepEqual(m.via, [
    { transport: 'WSS', host: 'df7jal23ls0d.invalid', port: null, branch: 'z9hG4bKnashds7', received: '192.0.2.4', rport: 50123 },
    { transport: 'WS', host: '[2001:db8::1]', port: 8080, branch: 'z9hG4bK2', received: null, rport: true },
  ]);
  assert.equal(m.headers.length, 9);
  assert.deepEqual(m.headers[1], ['v', 'SIP/2.0/WS [2001:db8::1]:8080;branch=z9hG4bK2;rport']);
  assert.deepEqual(m.headers[5], ['CSeq', '1 REGISTER']);
  assert.deepEqual(m.headers[6], ['WWW-Authenticate', 'Digest realm="imsip.test", nonce="abc"']);
  assert.equal(m.contentType, 'text/plain;charset=UTF-8');
  assert.equal(m.body, 'héllo');
  // Read twice: the same objects (cached), and the object serialises in full.
  assert.equal(m.via, m.via);
  assert.equal(m.from, m.from);
  const plain = JSON.parse(JSON.stringify(m));
  assert.equal(plain.kind, 'response');
  assert.equal(plain.status, 401);
  assert.equal(plain.body, 'héllo');
  assert.equal(plain.headers.length, 9);
  assert.equal(Object.prototype.toString.call(m), '[object SipMessage]');
});

test('a request with compact headers, no body', () => {
  const m = parseMessage('MESSAGE sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n' +
    'f: <sip:alice@imsip.test>;tag=1\r\nt: sip:bob@imsip.test\r\ni: c1\r\nCSeq: 7 MESSAGE\r\n\r\n');
  assert.equal(m.kind, 'request');
  assert.equal(m.method, 'MESSAGE');
  assert.equal(m.uri, 'sip:bob@imsip.test');
  assert.equal(m.status, undefined);
  assert.equal(m.reason, undefined);
  assert.equal(m.callId, 'c1');
  assert.deepEqual(m.cseq, { seq: 7, method: 'MESSAGE' });
  assert.equal(m.to.tag, null);
  assert.equal(m.to.uri, 'sip:bob@imsip.test');
  assert.equal(m.contentType, null);
  assert.equal(m.body, '');
  assert.equal(JSON.parse(JSON.stringify(m)).method, 'MESSAGE');
});

test('fields after non-ASCII text, folded headers, a body cut inside a character', () => {
  // 'Ünïcødé 😀' before every other field shifts UTF-16 offsets away from byte offsets.
  const m = parseMessage('MESSAGE sip:bob@imsip.test SIP/2.0\r\n' +
    'From: "Ünïcødé😀" <sip:alice@imsip.test>;tag=t1\r\n' +
    'Via: SIP/2.0/WS a.invalid\r\n ;branch=z9hG4bKfolded\r\n' +
    'To: <sip:bob@imsip.test>\r\nSubject: 😀 ✓\r\nCall-ID: c2\r\nCSeq: 9 MESSAGE\r\n' +
    'Subject: first line\r\n\tsecond line\r\n' +
    'Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 9\r\n\r\nçà 😀 – trailing');
  assert.deepEqual(m.from, { uri: 'sip:alice@imsip.test', tag: 't1', display: 'Ünïcødé😀' });
  assert.equal(m.callId, 'c2');
  assert.deepEqual(m.headers[3], ['Subject', '😀 ✓']);
  assert.equal(m.via[0].branch, 'z9hG4bKfolded');
  assert.equal(m.via[0].host, 'a.invalid');
  assert.deepEqual(m.headers.find(([n, v]) => n === 'Subject' && v.startsWith('first')), ['Subject', 'first line second line']);
  assert.deepEqual(m.headers.find(([n]) => n === 'Via'), ['Via', 'SIP/2.0/WS a.invalid ;branch=z9hG4bKfolded']);
  // Content-Length 9 bytes: "çà " is 5, the emoji 4.
  assert.equal(m.body, 'çà 😀');
  const cut = parseMessage('MESSAGE sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n' +
    'From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 3\r\n\r\né😀');
  assert.equal(cut.body, 'é\ufffd');
});

test('an IPv6 sent-by printed in canonical form, several Vias on one line', () => {
  const m = parseMessage('SIP/2.0 200 OK\r\n' +
    'Via: SIP/2.0/WSS [2001:DB8:0:0::7];branch=z9hG4bKa, SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKb;received=2001:db8::9\r\n' +
    'From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n');
  assert.equal(m.via.length, 2);
  assert.equal(m.via[0].host, '[2001:db8::7]');
  assert.equal(m.via[0].branch, 'z9hG4bKa');
  assert.equal(m.via[1].transport, 'TCP');
  assert.equal(m.via[1].host, '192.0.2.1');
  assert.equal(m.via[1].port, 5060);
  assert.equal(m.via[1].received, '2001:db8::9');
});

test('results stay intact when later messages are parsed', () => {
  const a = parseMessage(response401);
  const texts = readdirSync(path.join(root, 'benches/corpus')).filter((f) => f.endsWith('.sip'))
    .map((f) => readFileSync(path.join(root, 'benches/corpus', f), 'utf8'));
  const parsed = texts.map((t) => parseMessage(t));
  for (const m of parsed) {
    assert.ok(m.callId.length > 0);
    assert.ok(m.via[0].branch.startsWith('z9hG4bK'));
    assert.ok(Number.isInteger(m.cseq.seq));
  }
  // Every header is its line (none is folded in the corpus): name before the colon,
  // value after it, trimmed.
  for (const [i, m] of parsed.entries()) {
    const head = texts[i].slice(0, texts[i].search(/\r?\n\r?\n/));
    const lines = head.split(/\r?\n/).slice(1);
    assert.equal(m.headers.length, lines.length);
    lines.forEach((line, k) => {
      const colon = line.indexOf(':');
      assert.deepEqual(m.headers[k], [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
    });
  }
  assert.equal(a.callId, 'apb03a0s09dkjdfglkj49111');
  assert.equal(a.via[1].host, '[2001:db8::1]');
});

test('what a user agent cannot use is refused with bad_input', () => {
  for (const bad of [
    '',
    'hello',
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\r\n',
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: nope\r\n\r\n',
    'SIP/2.0 200 OK\r\nContent-Length: 99\r\n\r\nshort',
  ]) {
    assert.throws(() => parseMessage(bad), (e) => {
      assert.ok(e instanceof ImError, JSON.stringify(bad));
      assert.equal(e.code, 'bad_input');
      assert.match(e.message, /^invalid SIP message/);
      return true;
    });
  }
  assert.throws(() => parseMessage(42), (e) => e instanceof ImError && e.code === 'bad_input');
  // The parser still works after the errors.
  assert.equal(parseMessage(response401).status, 401);
});
