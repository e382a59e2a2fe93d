// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by file, top first.
// usage: node load/profile-top.mjs <file.cpuprofile> [rows] [from-s to-s]
// from-s/to-s: only the samples in that window of the monotonic clock (the seconds a bench prints
// as "phase … from monotonic"; V8 stamps samples with the same clock).
import { readFileSync } from 'node:fs';

const [file, rowsArg, fromArg, toArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const rows = Number(rowsArg ?? 25);
const fromUs = fromArg === undefined ? -Infinity : Number(fromArg) * 1e6;
const toUs = toArg === undefined ? Infinity : Number(toArg) * 1e6;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
let at = profile.startTime;
for (const [i, id] of profile.samples.entries()) {
  at += dt[i] ?? 0;
  if (at >= fromUs && at < toUs) self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const short = (url) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, 'nm/')
    .replace(/.*\/dist\//, 'dist/');
const fn = new Map();
const files = new Map();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const key = `${functionName || '(anonymous)'} ${short(url)}:${lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = url
    ? short(url)
        .split(':')[0]
        .replace(/^(nm\/(@[^/]+\/)?[^/]+).*/, '$1')
    : functionName;
  files.set(f, (files.get(f) ?? 0) + us);
}
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, rows);
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
console.log('\nself time by function');
for (const [k, us] of top(fn)) console.log(`${pct(us)}  ${k}`);
console.log('\nself time by file / package');
for (const [k, us] of top(files)) console.log(`${pct(us)}  ${k}`);
