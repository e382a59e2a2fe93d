// Histograms (HdrHistogram, µs) merged across client processes, and the end-of-run output: a
// readable table on stdout and a JSON file under load/results/.
import * as hdr from 'hdr-histogram-js';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { execSync } from 'node:child_process';

export const newHistogram = () =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

export const encodeHistogram = (h) => hdr.encodeIntoCompressedBase64(h);

/** Adds encoded histograms (from workers) into one. */
export function mergeHistograms(encoded) {
  const total = newHistogram();
  for (const e of encoded) if (e) total.add(hdr.decodeFromCompressedBase64(e));
  return total;
}

/** p50/p99/p99.9/max in ms of a µs histogram. */
export function percentiles(h) {
  const ms = (v) => Math.round(v / 10) / 100;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

export function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(execSync('cat /proc/cpuinfo').toString())?.[1];
  return {
    cpus: os.cpus().length,
    cpuModel: cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    loadAvg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Prints rows as an aligned table. */
export function table(title, rows) {
  if (rows.length === 0) return;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) => (v === undefined || v === null ? '' : typeof v === 'number' ? fmt(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [`\n${title}`, line(columns), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`];
  for (const r of rows) out.push(line(columns.map((c) => cell(r[c]))));
  process.stdout.write(`${out.join('\n')}\n`);
}

const fmt = (v) => (Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Writes the run's JSON next to the others and says where. */
export function writeResult(name, result) {
  const dir = new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir);
  writeFileSync(file, JSON.stringify({ scenario: name, at: new Date().toISOString(), machine: machine(), ...result }, null, 2));
  process.stdout.write(`\nresult: ${file.pathname}\n`);
}

export function progress(text) {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}
