// Sums `twiggy top --format csv` rows (stdin) by crate, and by module inside
// imsip (imsip::ua, imsip::message, ...), largest first. Used by benches/size.sh.
// Usage: twiggy top --format csv X.wasm | node twiggy-crates.mjs [max-rows]
import { readFileSync } from 'node:fs';
import { groupOf } from './wasm-groups.mjs';

const lines = readFileSync(0, 'utf8').split('\n').slice(1).filter(Boolean);
const sums = new Map();
let total = 0;
for (const line of lines) {
  // Name may be quoted and contain commas; the four numeric fields come last.
  const fields = line.split(',');
  const shallow = Number(fields[fields.length - 4]);
  const name = fields.slice(0, fields.length - 4).join(',').replace(/^"|"$/g, '').replace(/""/g, '"');
  if (!Number.isFinite(shallow) || name.includes('subsection') || name.startsWith('Σ')) continue;
  total += shallow;
  let key;
  if (name.startsWith('data segment')) key = 'data segments (.rodata, ...)';
  else {
    if (name.startsWith('import ')) {
      sums.set('imports (JS functions)', (sums.get('imports (JS functions)') || 0) + shallow);
      continue;
    }
    key = groupOf(name);
  }
  sums.set(key, (sums.get(key) || 0) + shallow);
}
const limit = Number(process.argv[2]) || Infinity;
for (const [k, v] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
  console.log(`${String(v).padStart(9)} B ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}
