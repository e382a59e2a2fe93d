import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, track } from '../helpers/replicas.js';

// README's "Try it in 30 seconds" is run as written: its `sh` block in bash, from the repository
// root, on the embedded default (`npm start`, built by the global setup); what it prints is compared
// with the block after it. Only PORT and DATA_DIR come from the environment (a free port and a new
// directory), which the commands read (`${PORT:-8080}`, the server's settings), and TMPDIR (so
// that mktemp's file goes with the rest); nothing else of the test's environment reaches them (no
// DATABASE_URL or REDIS_URL: the README promises no setup).

const root = resolve(import.meta.dirname, '../..');
const SECTION = '## Try it in 30 seconds';

/** The section's fenced blocks, in order, as `{lang, body}`. */
function sectionBlocks(readme: string): { lang: string; body: string }[] {
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const rest = readme.slice(start + SECTION.length);
  const next = rest.search(/^## /m);
  const section = next < 0 ? rest : rest.slice(0, next);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

/** The commands (the `sh` block) and what they print (the block after it; `…` stands for anything on its line). */
function quickStart(readme: string) {
  const blocks = sectionBlocks(readme);
  const at = blocks.findIndex((b) => b.lang === 'sh');
  const commands = blocks[at]?.body;
  const expected = blocks[at + 1]?.body;
  if (!commands || !expected) throw new Error(`"${SECTION}" needs a sh block of commands and a block of their output after it`);
  return { commands, expected: expected.trimEnd().split('\n') };
}

/** Whether each printed line matches its expected line, `…` matching any run of characters. */
function printsAsExpected(expected: string[], printed: string[]): boolean {
  const pattern = (line: string) => new RegExp(`^${line.split('…').map(escapeRegExp).join('.*')}$`);
  return printed.length === expected.length && expected.every((line, i) => pattern(line).test(printed[i]!));
}
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('README quick start', () => {
  const { commands, expected } = quickStart(readFileSync(join(root, 'README.md'), 'utf8'));
  // The server's DATA_DIR, and the TMPDIR of the commands' mktemp: removed afterwards.
  const work = mkdtempSync(join(tmpdir(), 'banyan-quickstart-'));
  let stopAll = () => {};
  afterAll(async () => {
    stopAll();
    rmSync(work, { recursive: true, force: true });
  });

  it('the comparison tells a wrong output from the right one', () => {
    const right = [
      '{"type":"ready","user":{"id":"u_1","name":"Ben"},"sessionId":"s_1","groups":[{"id":"g_1","kind":"group","name":"Volunteers","communityId":null,"lastSeq":2,"pins":[]}]}',
      '{"type":"event","group":"g_1","seq":3,"ts":"t","sender":"u_2","kind":"message","clientMsgId":"c1","text":"hello","mentions":[]}',
    ];
    expect(printsAsExpected(expected, right)).toBe(true);
    expect(printsAsExpected(expected, [right[0]!])).toBe(false);
    expect(printsAsExpected(expected, [right[0]!, right[1]!.replace('"seq":3', '"seq":4')])).toBe(false);
    expect(printsAsExpected(expected, [right[0]!, right[1]!.replace('hello', 'hullo')])).toBe(false);
  });

  it('prints what the README says', { timeout: 300_000 }, async () => {
    const port = await freePort();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: work, PORT: String(port), DATA_DIR: join(work, 'data') };
    // Its own process group, so the server it starts in the background is stopped with it.
    const shell = spawn('bash', ['-c', commands], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    stopAll = () => {
      try {
        process.kill(-shell.pid!, 'SIGTERM');
      } catch {}
    };
    let stdout = '';
    let stderr = '';
    shell.stdout.on('data', (chunk) => (stdout += chunk));
    shell.stderr.on('data', (chunk) => (stderr += chunk));
    // The background server keeps the pipes open: the output is whole once the group is stopped.
    const closed = new Promise((r) => shell.once('close', r));
    const exited = track(shell);
    const deadline = setTimeout(stopAll, 270_000);
    const { code } = await exited;
    clearTimeout(deadline);
    stopAll();
    await closed;
    const printed = stdout.trimEnd().split('\n');
    expect(code, `the quick start did not finish by itself; it printed:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    expect(printsAsExpected(expected, printed), `expected:\n${expected.join('\n')}\nprinted:\n${stdout}\nstderr:\n${stderr}`).toBe(true);
  });
});
