// parseMessage throughput in Node: imsip (pkg/, built by js/build.sh) against JsSIP's
// parser, over the project's parse corpus (benches/corpus/*.sip).
// Usage: node js/bench/parse.mjs        (a benchmark: prints numbers, asserts nothing)
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const imsip = await import(path.join(root, 'pkg/imsip.js'));
await imsip.default();

const dir = path.join(root, 'benches/corpus');
const corpus = readdirSync(dir).filter((f) => f.endsWith('.sip')).sort()
  .map((f) => readFileSync(path.join(dir, f), 'utf8').replace(/\r?\n/g, '\r\n'));

const require = createRequire(import.meta.url);
let jssip = null;
try {
  const Parser = require('jssip/lib/Parser');
  jssip = (t) => Parser.parseMessage(t, null);
} catch { /* JsSIP not installed: skip it */ }

function bench(name, fn) {
  for (let i = 0; i < 2000; i++) for (const m of corpus) fn(m);   // warm up
  let n = 0;
  const t0 = process.hrtime.bigint();
  const until = t0 + 1_000_000_000n;
  let t = t0;
  while (t < until) {
    for (let i = 0; i < 100; i++) for (const m of corpus) fn(m);
    n += 100 * corpus.length;
    t = process.hrtime.bigint();
  }
  const ns = Number(t - t0) / n;
  console.log(`${name.padEnd(34)} ${(ns / 1000).toFixed(2).padStart(7)} µs/message  ${(1e9 / ns / 1000).toFixed(0).padStart(5)} k msg/s`);
}

bench('imsip parseMessage', imsip.parseMessage);
if (jssip) bench('JsSIP Parser.parseMessage', jssip);
