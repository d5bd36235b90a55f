// Assembles the figures benches/run.sh collected in target/bench/*.json (and
// criterion's target/criterion/) into ONE table: printed on stdout, and written as
// target/bench/report.md and target/bench/report.json. Asserts nothing: `met?`
// only compares each figure with the issue's target.
//
// Usage: node benches/js/report.mjs target/bench
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.resolve(process.argv[2] || path.join(root, 'target/bench'));
const load = (name) => {
  const f = path.join(out, name);
  try {
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
  } catch {
    return null;
  }
};

// Native: criterion's estimate for the whole corpus (slope when it has one, as it prints).
function native() {
  const dir = path.join(root, 'target/criterion/parse');
  if (!existsSync(dir)) return null;
  for (const d of readdirSync(dir)) {
    const b = path.join(dir, d, 'new/benchmark.json');
    const e = path.join(dir, d, 'new/estimates.json');
    if (!existsSync(b) || !existsSync(e)) continue;
    const bench = JSON.parse(readFileSync(b, 'utf8'));
    if (!bench.throughput || !bench.throughput.Bytes) continue;
    if (statSync(e).mtimeMs < Number(process.env.BENCH_STARTED_MS || 0)) return null; // a previous run's
    const est = JSON.parse(readFileSync(e, 'utf8'));
    const ns = (est.slope || est.mean).point_estimate;
    return { id: bench.full_id, bytes: bench.throughput.Bytes, nsPerIteration: ns, mbPerS: (bench.throughput.Bytes / ns) * 1000 };
  }
  return null;
}

const parse = load('parse.json');
const size = load('size.json');
const core = load('core.json');
const cl = { imsip: load('clients-imsip.json'), jssip: load('clients-jssip.json'), ws: load('clients-ws.json') };
const startup = load('startup.json');
const nat = native();

const KB = 1024;
const f1 = (x) => (x == null || !Number.isFinite(x) ? null : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (x) => f1(x) ?? 'n/a';
// A target not met says by how much (`gap`).
const yesNo = (b, gap) => (b == null ? 'n/a' : b ? 'yes' : gap ? `no (${gap})` : 'no');

const rows = [];
const row = (metric, unit, imsip, jssip, sipjs, ratio, target, met, gap) =>
  rows.push({ metric, unit, imsip, jssip, sipjs, ratio, target, met, gap: met === false ? gap : undefined });

{
  const r = parse && parse.results;
  const x = r ? r.JsSIP.usPerMessage / r.imsip.usPerMessage : null;
  const y = r ? r['SIP.js'].usPerMessage / r.imsip.usPerMessage : null;
  row('parse in Node (6 corpus msgs, UA fields)', 'µs/msg', r && r.imsip.usPerMessage, r && r.JsSIP.usPerMessage,
    r && r['SIP.js'].usPerMessage, r ? `${f1(x)}× faster than JsSIP, ${f1(y)}× SIP.js` : null, '≥ 50× JsSIP', r ? x >= 50 : null,
    r ? `${f1(50 / x)}× short` : null);
}
row('parse, native Rust (criterion)', 'MB/s', nat && nat.mbPerS, null, null, null, '≥ 500 MB/s', nat ? nat.mbPerS >= 500 : null,
  nat ? `${Math.round(100 * (1 - nat.mbPerS / 500))} % short` : null);
{
  const g = size && { imsip: size.imsip.gzip / KB, jssip: size.JsSIP.gzip / KB, sipjs: size['SIP.js'].gzip / KB };
  row('download, gzip -9 (JS: esbuild --bundle --minify; imsip + its wasm)', 'KB', g && g.imsip, g && g.jssip, g && g.sipjs,
    g ? `${f1(g.imsip / g.jssip)}× JsSIP, ${f1(g.imsip / g.sipjs)}× SIP.js` : null, '≤ 45 KB', g ? g.imsip <= 45 : null,
    g ? `${f1(g.imsip / 45)}× over` : null);
}
{
  const i = cl.imsip && cl.imsip.perClient.total / KB;
  const j = cl.jssip && cl.jssip.perClient.total / KB;
  const w = cl.ws && cl.ws.perClient.total / KB;
  const parts = [];
  if (i != null && j != null) parts.push(`${f1(i / j)}× JsSIP`);
  if (w != null) parts.push(`bare ws floor ${f1(w)} KB`);
  row(`memory per registered client (heap+external, N=${core ? core.clients : '?'})`, 'KB', i, j, null,
    parts.join('; ') || null, '≤ 5 KB', i != null ? i <= 5 : null,
    i != null ? `${f1(i / 5)}× over` : null);
}
{
  const i = cl.imsip && cl.imsip.cpuMsPerRegistration;
  const j = cl.jssip && cl.jssip.cpuMsPerRegistration;
  const w = cl.ws && cl.ws.cpuMsPerRegistration;
  const parts = [];
  if (i != null && j != null) parts.push(`${f1(i / j)}× JsSIP`);
  if (w != null) parts.push(`ws connect alone ${f1(w)} ms`);
  row('client CPU per registration (connect, REGISTER/401/REGISTER/200)', 'ms', i, j, null, parts.join('; ') || null,
    '≤ 0.7 ms', i != null ? i <= 0.7 : null,
    i != null ? `${f1(i / 0.7)}× over` : null);
}
{
  const s = startup && startup.runs > 0 ? startup.firstOutMs : null;
  row('start-up to first REGISTER sent (headless Chromium, median)', 'ms', s, null, null,
    startup && startup.runs > 0
      ? `empty page's script at ${f1(startup.emptyPageScriptMs)} ms; wasm fetched ${f1(startup.wasmFetchedMs)}, init done ${f1(startup.initMs)}`
      : null,
    '< 50 ms', s != null ? s < 50 : null,
    s != null ? `${f1(s / 50)}× over` : null);
}

const header = ['metric', 'unit', 'imsip', 'JsSIP', 'SIP.js', 'ratio', 'target', 'met?'];
const cells = rows.map((r) => [r.metric, r.unit, cell(r.imsip), r.jssip == null ? '—' : cell(r.jssip),
  r.sipjs == null ? '—' : cell(r.sipjs), r.ratio ?? '—', r.target, yesNo(r.met, r.gap)]);
const numeric = new Set([2, 3, 4]);

// Plain text for the terminal.
const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c].length)));
const line = (r) => r.map((x, c) => (numeric.has(c) ? x.padStart(widths[c]) : x.padEnd(widths[c]))).join('  ');
const text = [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');

const date = new Date().toISOString().slice(0, 10);
const machine = `${os.cpus().length} cores (${(os.cpus()[0] || {}).model || 'cpu'}), Node ${process.versions.node}`;
const coreText = core ? `${core.description}, ${core.clients} clients per library` : 'no SIP core';
const md = [
  `# imsip benchmarks (${date})`,
  '',
  `Machine: ${machine}. Core: ${coreText}. Command: \`cargo xtask bench\` (\`bash benches/run.sh\`).`,
  '',
  `| ${header.join(' | ')} |`,
  `|${header.map((_, c) => (numeric.has(c) ? '---:' : '---')).join('|')}|`,
  ...cells.map((r) => `| ${r.join(' | ')} |`),
  '',
  'Notes:',
  parse ? `- Parse: best of 10 rounds after warm-up; medians ${['imsip', 'JsSIP', 'SIP.js'].map((k) => `${k} ${f1(parse.results[k].usPerMessageMedian)}`).join(', ')} µs/msg.` : '- Parse (Node): not measured.',
  nat ? `- Native: ${nat.id}: ${f1(nat.nsPerIteration / 1000)} µs for ${nat.bytes} bytes.` : '- Native: not measured.',
  size ? `- Size: imsip ${size.imsip.gzip} B = wasm + its JS bundled by esbuild like the others; the package's files as shipped (unminified, gzip -9 each): ${Object.entries(size.imsip.files).map(([k, v]) => `${k} ${v.gzip} B`).join(', ')} = ${size.imsip.shippedGzip} B; breakdown: \`bash benches/size.sh\`.` : '- Size: not measured.',
  cl.imsip ? `- Memory: imsip's wasm Memory is ${f1(cl.imsip.wasmMemoryBytes / KB)} KB for all ${cl.imsip.clients} clients (grew ${f1(cl.imsip.perClient.wasm / KB)} KB per client; inside \`external\`).` : '- Memory (imsip): not measured.',
  startup && startup.runs ? `- Start-up samples (ms): ${startup.samples.map((x) => f1(x)).join(', ')}; registered (200) at ${f1(startup.registeredMs)} ms.` : '- Start-up: not measured.',
  '',
].join('\n');

writeFileSync(path.join(out, 'report.md'), md);
writeFileSync(path.join(out, 'report.json'), JSON.stringify({
  date, machine, core, rows,
  details: { parse, native: nat, size, clients: cl, startup },
}, null, 2));
console.log(text);
console.log(`\n${machine}; core: ${coreText}. Report: target/bench/report.md, report.json`);
