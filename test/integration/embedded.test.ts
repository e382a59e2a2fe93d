import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyPgliteTemplate } from '../helpers/pglite.js';
import { httpRequest } from '../helpers/server.js';
import { connect, type Frame } from '../helpers/ws-client.js';

// The standalone path a newcomer takes: `node dist/main.js start` with nothing but a data
// directory (PGlite on disk, a generated JWT secret), stopped and started again.

const main = join(process.cwd(), 'dist/main.js');

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; stderr: string }>;
}

/** Starts the CLI with exactly `env`; resolves once it logs the port it listens on. */
function start(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [main, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'banyan listening' in 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n').find((l) => l.includes('"banyan listening"'));
      if (!line) return;
      clearTimeout(timer);
      resolve({ child, url: `http://127.0.0.1:${JSON.parse(line).port}`, exited });
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${stderr}`));
    });
  });
}

describe('embedded mode (node dist/main.js start)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'banyan-embedded-'));
  const children: ChildProcess[] = [];
  const dirs = [dataDir];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('needs only DATA_DIR and PORT, and keeps data, accounts and the token secret across a restart', { timeout: 120_000 }, async () => {
    // The migrated embedded database of the global setup, as a first start would leave it (a fresh
    // PGlite takes ~10 s to create, far more on a busy machine); the JWT secret is not in it.
    copyPgliteTemplate(dataDir);
    expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
    const env = { DATA_DIR: dataDir, PORT: '0' };
    const first = await start(env);
    children.push(first.child);
    const signUp = await httpRequest(first.url, 'POST', '/v1/accounts', {
      body: { username: 'standalone', password: 'password-123', name: 'Solo' },
    });
    expect(signUp.status).toBe(201);
    const { token, user } = signUp.body;
    const group = await httpRequest(first.url, 'POST', '/v1/groups', { token, body: { name: 'Persistent' } });
    expect(group.status).toBe(201);
    const groupId = group.body.group.id as string;
    const socket = await connect(`${first.url.replace('http', 'ws')}/v1/ws`, token);
    const ack = await socket.request({ type: 'send', group: groupId, clientMsgId: 'keep', text: 'still here after a restart' });
    expect(ack.type).toBe('ack');

    expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(true);
    first.child.kill('SIGTERM');
    const [closed, exit] = await Promise.all([socket.closed, first.exited]);
    expect(closed.code).toBe(1001); // drained, not dropped
    expect(exit.code).toBe(0);

    const second = await start(env);
    children.push(second.child);
    // The old token still verifies: the generated secret was kept in DATA_DIR.
    const history = await httpRequest(second.url, 'GET', `/v1/groups/${groupId}/messages`, { token });
    expect(history.status).toBe(200);
    expect(history.body.messages).toEqual([
      expect.objectContaining({ seq: ack.seq, ts: ack.ts, sender: user.id, text: 'still here after a restart', clientMsgId: 'keep' }),
    ]);
    const signIn = await httpRequest(second.url, 'POST', '/v1/sessions', { body: { username: 'standalone', password: 'password-123' } });
    expect(signIn).toMatchObject({ status: 200, body: { user } });
    // Idempotency survives the restart too.
    const again = await httpRequest(second.url, 'POST', `/v1/groups/${groupId}/messages`, {
      token,
      body: { clientMsgId: 'keep', text: 'still here after a restart' },
    });
    expect(again.body).toEqual({ group: groupId, seq: ack.seq, ts: ack.ts });
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  /** A data directory of its own holding the migrated database, removed after the file. */
  const freshDataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'banyan-embedded-'));
    copyPgliteTemplate(dir);
    dirs.push(dir);
    return dir;
  };

  it('refuses a second server on the same DATA_DIR at once, with one line naming the directory and the holder', {
    timeout: 120_000,
  }, async () => {
    const dir = freshDataDir();
    const first = await start({ DATA_DIR: dir, PORT: '0' });
    children.push(first.child);
    const child = spawn(process.execPath, [main, 'start'], { env: { DATA_DIR: dir, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr.trimEnd().split('\n')).toEqual([
      `banyan: DATA_DIR ${dir} is in use by process ${first.child.pid} (lock file ${join(dir, 'banyan.lock')}): one server per data directory`,
    ]);
    // The first one is untouched and still serves.
    expect((await httpRequest(first.url, 'GET', '/readyz')).status).toBe(200);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    // Released on a clean exit.
    expect(existsSync(join(dir, 'banyan.lock'))).toBe(false);
  });

  it("keeps every acknowledged message across kill -9 during sends, and takes over the dead holder's lock", {
    timeout: 120_000,
  }, async () => {
    const dir = freshDataDir();
    const env = { DATA_DIR: dir, PORT: '0' };
    const first = await start(env);
    children.push(first.child);
    const signUp = await httpRequest(first.url, 'POST', '/v1/accounts', {
      body: { username: 'crash', password: 'password-123', name: 'Crash' },
    });
    const { token } = signUp.body;
    const group = await httpRequest(first.url, 'POST', '/v1/groups', { token, body: { name: 'Crash' } });
    const groupId = group.body.group.id as string;
    const socket = await connect(`${first.url.replace('http', 'ws')}/v1/ws`, token);
    const acked: Frame[] = [];
    // Eight senders in flight, so commits are batched as in real use; killed while they send.
    let n = 0;
    const sender = async () => {
      while (socket.closeInfo === undefined) {
        const id = `m${n++}`;
        const reply = await socket
          .request({ type: 'send', id, group: groupId, clientMsgId: id, text: `message ${id}` })
          .catch(() => undefined);
        if (reply?.type === 'ack') acked.push({ ...reply, clientMsgId: id });
      }
    };
    const senders = Array.from({ length: 8 }, sender);
    while (acked.length < 150) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    await Promise.all([first.exited, ...senders]);
    expect(Number(readFileSync(join(dir, 'banyan.lock'), 'utf8'))).toBe(first.child.pid);

    const second = await start(env);
    children.push(second.child);
    const stored = new Map<string, number>();
    for (let before: number | undefined; ; ) {
      const page = await httpRequest(second.url, 'GET', `/v1/groups/${groupId}/messages?limit=100${before ? `&before=${before}` : ''}`, {
        token,
      });
      expect(page.status).toBe(200);
      for (const m of page.body.messages) stored.set(m.clientMsgId, m.seq);
      if (page.body.messages.length < 100) break;
      before = Math.min(...page.body.messages.map((m: Frame) => m.seq));
    }
    expect(acked.length).toBeGreaterThanOrEqual(150);
    for (const ack of acked) expect(stored.get(ack.clientMsgId), ack.clientMsgId).toBe(ack.seq);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('exits non-zero with one clear line naming a bad variable', async () => {
    const child = spawn(process.execPath, [main, 'start'], { env: { DATA_DIR: dataDir, PORT: 'abc' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^banyan: invalid PORT="abc": /)]);
  });
});
