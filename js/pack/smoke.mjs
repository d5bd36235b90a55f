// Run by js/test.sh inside a fresh project that installed the packed tarball: the
// package resolves by name, initialises in Node without arguments, and exports
// what its types say.
import assert from 'node:assert/strict';
import init, * as imsip from 'imsip';

await init();
assert.deepEqual(
  Object.keys(imsip).sort(),
  ['ChatSession', 'ImClient', 'ImError', 'decodeServiceSettings', 'default', 'encodeServiceSettings', 'initSync', 'parseMessage', 'version'],
);
assert.match(imsip.version(), /^\d+\.\d+\.\d+/);
const m = imsip.parseMessage(
  'MESSAGE sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n' +
    'From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n' +
    'Content-Length: 6\r\n\r\nhéllo',
);
assert.equal(m.method, 'MESSAGE');
assert.equal(m.body, 'héllo');
assert.throws(() => new imsip.ImClient({ server: 'wss://x/sip', aor: 'sip:a@b', expire: 1 }), (e) => {
  assert.ok(e instanceof imsip.ImError);
  assert.equal(e.code, 'bad_input');
  return true;
});
const xml = imsip.encodeServiceSettings({ entity: 'sip:a@b', visibility: true });
assert.equal(imsip.decodeServiceSettings(xml).visibility, true);
console.log(`imsip ${imsip.version()} installed from the tarball works`);
