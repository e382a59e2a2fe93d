// Child processes of a benchmark run and what /proc says about them. Every child is killed when
// the run ends, however it ends (normal exit, error, signal, hard timeout).
import { fork, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const children = new Set();
const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux x86-64

function killAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Ends the whole run after `ms`, whatever it is doing: a benchmark must stop by itself. */
export function hardTimeout(ms, name) {
  setTimeout(() => {
    process.stderr.write(`\n${name}: hard timeout after ${ms} ms, stopping\n`);
    process.exit(3);
  }, ms).unref();
}

function track(child, name) {
  children.add(child);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (!child.expectedExit && code !== 0) process.stderr.write(`[${name}] exited ${code ?? signal}\n`);
  });
  return child;
}

/** Starts a long-running server process; its output is prefixed and shown. */
export function startProcess(name, command, args, env) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (chunk) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => `[${name}] ${l}\n`)
      .join('');
  child.stdout.on('data', (c) => process.stderr.write(prefix(c)));
  child.stderr.on('data', (c) => process.stderr.write(prefix(c)));
  return track(child, name);
}

/** Forks a Node worker with an IPC channel. */
export function forkWorker(name, script, args = [], execArgv = []) {
  return track(fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }), name);
}

export async function stopProcess(child, signal = 'SIGTERM', graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.expectedExit = true;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** user+system CPU of a process (all its threads), in µs; 10 ms resolution. */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

/** CPU and memory of a set of processes, to diff between two points of a run. */
export function sample(pids) {
  return { at: process.hrtime.bigint(), cpu: pids.map((p) => cpuMicros(p)), rss: pids.map((p) => rssBytes(p)) };
}

/**
 * The whole machine's busy, stolen and total CPU time, in clock ticks of all cores (/proc/stat).
 * Stolen time is the hypervisor running something else while this machine's CPUs had work: not
 * counted as busy here, since no process of this machine used it.
 */
export function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const ticks = fields.map(Number);
  const idle = ticks[3] + ticks[4]; // idle + iowait
  const steal = ticks[7] ?? 0;
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - idle - steal, steal, total };
}

/**
 * CPU ticks so far of every process whose command is one of `commands` (PostgreSQL's backends,
 * redis-server), summed by command: where the machine's time goes besides the servers under test.
 * A process that exits between two samples loses its ticks and one that starts brings all of its
 * own: exact only while the processes stay (the servers' PostgreSQL connections stay open).
 */
export function ticksByCommand(commands) {
  const sums = Object.fromEntries(commands.map((c) => [c, 0]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!(command in sums)) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    sums[command] += Number(fields[11]) + Number(fields[12]);
  }
  return { at: process.hrtime.bigint(), sums };
}

/** Each command's share of one core between two `ticksByCommand` samples (100 = one core). */
export const commandPctBetween = (a, b) =>
  Object.fromEntries(
    Object.keys(a.sums).map((c) => [c, Math.round((((b.sums[c] - a.sums[c]) * TICK_US) / 1e4 / secondsBetween(a, b)) * 10) / 10]),
  );

/** Busy share of one core over an interval, as the per-process percentages (2 cores busy = 200). */
export const machineBusyPct = (a, b, cores) => Math.round(((b.busy - a.busy) / (b.total - a.total)) * cores * 1000) / 10;

/** Stolen share of the machine's CPU time over an interval, in the same unit (2 cores stolen = 200). */
export const machineStealPct = (a, b, cores) => Math.round(((b.steal - a.steal) / (b.total - a.total)) * cores * 1000) / 10;

export const cpuBetween = (a, b) => b.cpu.reduce((s, v, i) => s + v - a.cpu[i], 0);
export const secondsBetween = (a, b) => Number(b.at - a.at) / 1e9;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls until fn() is true or the time is up; returns whether it became true. */
export async function waitFor(fn, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(everyMs);
  }
  return false;
}

export const nowMicros = () => Number(process.hrtime.bigint() / 1000n);
