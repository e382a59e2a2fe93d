import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyPgliteTemplate } from '../helpers/pglite.js';
import { generousLimits, httpRequest } from '../helpers/server.js';
import { range } from '../helpers/users.js';
import { connect, type Frame } from '../helpers/ws-client.js';

// README "Backups": `banyan backup` of a running embedded server under traffic, `banyan restore`
// into a new DATA_DIR, and a server there that serves everything acknowledged before the backup.

const main = join(process.cwd(), 'dist/main.js');
const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'banyan-backup-'));
  dirs.push(dir);
  return dir;
};

/** Exactly this environment: embedded storage (no DATABASE_URL), a JWT secret generated into DATA_DIR. */
const embeddedEnv = (dataDir: string) => ({ ...generousLimits, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });

interface Server {
  url: string;
  stop(): Promise<number | null>;
}

/** `banyan start`; resolves once it logs the port it listens on. */
function startServer(dataDir: string): Promise<Server> {
  const child = spawn(process.execPath, [main, 'start'], { env: embeddedEnv(dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'banyan listening' in 90 s; stderr: ${stderr}`)), 90_000);
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n').find((l) => l.includes('"banyan listening"'));
      if (!line) return;
      clearTimeout(timer);
      const stop = () => {
        child.kill('SIGTERM');
        return exited;
      };
      resolve({ url: `http://127.0.0.1:${JSON.parse(line).port}`, stop });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${stderr}`));
    });
  });
}

/** Runs a CLI command to its end. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

interface Sent {
  seq: number;
  clientMsgId: string;
  attachment: { id: string; sha256: string } | undefined;
}

const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A client that uploads a file and posts it, or posts text, until told to stop; records what was acknowledged. */
async function client(url: string, token: string, group: string, name: string, sent: Sent[], stop: () => boolean): Promise<void> {
  for (let n = 0; !stop(); n++) {
    const clientMsgId = `${name}-${n}`;
    let attachment: Sent['attachment'];
    const body: Frame = { clientMsgId, text: `${name} says ${n}` };
    if (n % 2 === 0) {
      const bytes = randomBytes(1024 + Math.floor(Math.random() * 64 * 1024));
      const res = await fetch(`${url}/v1/attachments?name=${clientMsgId}.bin`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      expect(res.status).toBe(201);
      const id = ((await res.json()) as Frame).attachment.id as string;
      attachment = { id, sha256: sha256(bytes) };
      body.attachments = [id];
    }
    const posted = await httpRequest(url, 'POST', `/v1/groups/${group}/messages`, { token, body });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    sent.push({ seq: posted.body.seq, clientMsgId, attachment });
  }
}

/** Every message of the group, through history pages (newest first, `before` the oldest seen). */
async function history(url: string, token: string, group: string): Promise<Map<number, Frame>> {
  const messages = new Map<number, Frame>();
  for (let before: number | undefined; ; ) {
    const page = await httpRequest(url, 'GET', `/v1/groups/${group}/messages?limit=100${before ? `&before=${before}` : ''}`, { token });
    expect(page.status).toBe(200);
    for (const m of page.body.messages as Frame[]) messages.set(m.seq, m);
    if (!page.body.hasMore) return messages;
    before = Math.min(...page.body.messages.map((m: Frame) => m.seq));
  }
}

/** The group's whole log through `sync` from 0: every event's seq, in order. */
async function logSeqs(url: string, token: string, group: string): Promise<number[]> {
  const socket = await connect(`${url.replace('http', 'ws')}/v1/ws`, token);
  const seqs: number[] = [];
  for (let after = 0; ; ) {
    const synced = await socket.request({ type: 'sync', groups: { [group]: after } }, 30_000);
    expect(synced.type).toBe('synced');
    const { events, hasMore } = synced.groups[group];
    for (const e of events as Frame[]) seqs.push(e.seq);
    if (!hasMore) break;
    after = seqs.at(-1)!;
  }
  await socket.close();
  return seqs;
}

describe('banyan backup and restore (embedded mode)', () => {
  it('backs up a running server mid-traffic; the restored server serves every acknowledged message and file, with a gapless log', {
    timeout: 300_000,
  }, async () => {
    const original = tempDir();
    copyPgliteTemplate(original);
    const first = await startServer(original);
    const users = [];
    for (const name of ['asha', 'ben', 'chitra', 'dev']) {
      const r = await httpRequest(first.url, 'POST', '/v1/accounts', {
        body: { username: `${name}${process.pid}`, password: 'password-123', name },
      });
      expect(r.status).toBe(201);
      users.push({ id: r.body.user.id as string, token: r.body.token as string });
    }
    const created = await httpRequest(first.url, 'POST', '/v1/groups', {
      token: users[0]!.token,
      body: { name: 'Volunteers', members: users.slice(1).map((u) => u.id) },
    });
    expect(created.status).toBe(201);
    const group = created.body.group.id as string;

    const sent: Sent[] = [];
    let stopping = false;
    const clients = users.map((u, i) => client(first.url, u.token, group, `c${i}`, sent, () => stopping));
    while (sent.length < 40) await new Promise((r) => setTimeout(r, 20));

    // Everything acknowledged before the backup starts must come back.
    const before = [...sent];
    const file = join(tempDir(), 'banyan.backup');
    const backup = await cli(['backup', file], { DATA_DIR: original });
    const duringBackup = sent.length - before.length;
    expect(backup, backup.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(backup.stdout).toContain(`written to ${file}`);
    while (sent.length < before.length + duringBackup + 10) await new Promise((r) => setTimeout(r, 20));
    stopping = true;
    await Promise.all(clients);
    // The server kept taking messages while it wrote the backup.
    expect(duringBackup).toBeGreaterThan(0);
    expect(await first.stop()).toBe(0);

    const restored = join(tempDir(), 'data');
    const restore = await cli(['restore', file], { DATA_DIR: restored });
    expect(restore, restore.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(readdirSync(restored).sort()).toEqual(['blobs', 'jwt-secret', 'pglite', 'uploads', 'vapid.json']);
    const second = await startServer(restored);

    // The old tokens verify: the generated JWT secret came back with the database.
    const messages = await history(second.url, users[1]!.token, group);
    for (const s of before) {
      const m = messages.get(s.seq);
      expect(m, `${s.clientMsgId} (seq ${s.seq})`).toMatchObject({ clientMsgId: s.clientMsgId });
      expect(m!.attachments?.map((a: Frame) => a.id)).toEqual(s.attachment ? [s.attachment.id] : undefined);
    }
    for (const s of before.filter((x) => x.attachment)) {
      // Downloaded by another member than the uploader: access comes from the restored log.
      const res = await fetch(`${second.url}/v1/attachments/${s.attachment!.id}`, {
        headers: { authorization: `Bearer ${users[3]!.token}` },
      });
      expect(res.status, s.clientMsgId).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer())), s.clientMsgId).toBe(s.attachment!.sha256);
    }
    const seqs = await logSeqs(second.url, users[2]!.token, group);
    expect(seqs).toEqual(range(1, seqs.length));
    expect(seqs.length).toBeGreaterThanOrEqual(Math.max(...before.map((s) => s.seq)));
    expect(await second.stop()).toBe(0);
  });

  it('refuses a DATA_DIR that is not empty with one line and exit 2, and changes nothing there', { timeout: 60_000 }, async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'notes.txt'), 'mine');
    const file = join(tempDir(), 'any.backup');
    writeFileSync(file, 'not even read');
    const restore = await cli(['restore', file], { DATA_DIR: dataDir });
    expect(restore.code).toBe(2);
    expect(restore.stderr.trimEnd().split('\n')).toEqual([
      `banyan: DATA_DIR ${dataDir} is not empty: restore goes into an empty directory (nothing was changed)`,
    ]);
    expect(readdirSync(dataDir)).toEqual(['notes.txt']);
  });

  it('refuses an archive cut short, leaving DATA_DIR empty', { timeout: 120_000 }, async () => {
    const original = tempDir();
    copyPgliteTemplate(original);
    const file = join(tempDir(), 'whole.backup');
    // No server: the CLI opens DATA_DIR itself.
    const backup = await cli(['backup', file], { DATA_DIR: original });
    expect(backup, backup.stderr).toMatchObject({ code: 0, stderr: '' });
    const cut = join(tempDir(), 'cut.backup');
    copyFileSync(file, cut);
    truncateSync(cut, Math.floor(statSync(file).size / 2));
    const dataDir = join(tempDir(), 'data');
    mkdirSync(dataDir);
    const restore = await cli(['restore', cut], { DATA_DIR: dataDir });
    expect(restore.code).toBe(2);
    expect(restore.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^banyan: cannot restore ${cut}: .*was left empty\\)$`)),
    ]);
    expect(readdirSync(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'banyan.lock'))).toBe(false);
  });
});
