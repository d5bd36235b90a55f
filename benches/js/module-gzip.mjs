// Where the gzipped bytes of the wasm's code are, by crate and imsip module: the
// function bodies of each group (benches/js/wasm-groups.mjs) gzipped on their own,
// then scaled so the groups add up to the whole code section gzipped. An estimate:
// gzip finds repeats across groups too, which this charges to neither. Used by
// benches/size.sh on the named copy of pkg/'s module.
// Usage: node module-gzip.mjs NAMED.wasm [max-rows]
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { groupOf } from './wasm-groups.mjs';

const bytes = readFileSync(process.argv[2]);
const limit = Number(process.argv[3]) || Infinity;
let at = 8; // after the magic number and version
function leb() {
  let value = 0;
  let shift = 0;
  let b;
  do {
    b = bytes[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return value;
}
function skipName() {
  const len = leb();
  at += len;
}
function skipLimits() {
  const flags = bytes[at++];
  leb();
  if (flags & 1) leb();
}

let importedFunctions = 0;
const bodies = [];
const names = new Map();
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  const end = at + size;
  if (id === 2) { // imports: functions imported shift the function indices
    for (let n = leb(); n > 0; n--) {
      skipName();
      skipName();
      const kind = bytes[at++];
      if (kind === 0) { leb(); importedFunctions++; } else if (kind === 1) { at++; skipLimits(); } else if (kind === 2) skipLimits();
      else at += 2; // global: type, mutability
    }
  } else if (id === 10) { // code
    for (let n = leb(); n > 0; n--) {
      const len = leb();
      bodies.push(bytes.subarray(at, at + len));
      at += len;
    }
  } else if (id === 0) { // custom: the name section's function names
    const nameLen = leb();
    const section = bytes.subarray(at, at + nameLen).toString();
    at += nameLen;
    while (section === 'name' && at < end) {
      const sub = bytes[at++];
      const subEnd = leb() + at;
      if (sub === 1) {
        for (let n = leb(); n > 0; n--) {
          const index = leb();
          const len = leb();
          names.set(index, bytes.subarray(at, at + len).toString());
          at += len;
        }
      }
      at = subEnd;
    }
  }
  at = end;
}
if (names.size === 0) {
  console.log('(no name section: no breakdown)');
  process.exit(0);
}
const groups = new Map();
bodies.forEach((body, i) => {
  const name = names.get(i + importedFunctions);
  const key = name === undefined ? 'other (unnamed, std impls)' : groupOf(name);
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(body);
});
const gz = (parts) => gzipSync(Buffer.concat(parts), { level: 9 }).length;
const whole = gz(bodies);
const rows = [...groups].map(([key, parts]) => [key, parts.reduce((s, p) => s + p.length, 0), gz(parts)]);
const sum = rows.reduce((s, r) => s + r[2], 0);
console.log(`code section: ${bodies.reduce((s, b) => s + b.length, 0)} B, ${whole} B gzipped`);
for (const [key, raw, alone] of rows.sort((a, b) => b[2] - a[2]).slice(0, limit)) {
  const share = (alone * whole) / sum;
  console.log(`${(share / 1024).toFixed(1).padStart(6)} KB  ${String(raw).padStart(7)} B raw, ${(alone / raw).toFixed(2)} alone  ${key}`);
}
