// files: attachments and search on one Banyan process over PostgreSQL (loopback only, bounded).
// 1. memory: server RSS before and at its peak while `uploads` uploads of `upload-mib` MiB each run
//    at once, streamed from this process in 64 KiB chunks; and the upload throughput.
// 2. search: seeds `messages` messages across `groups` groups straight into PostgreSQL (English and
//    Hindi words), the searching user in `member-of` of them; then `queries` searches one after
//    another through the API: p50/p99 per kind of term, and the search indexes' size.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { mintToken } from './lib/admin.mjs';
import { rssBytes, sleep } from './lib/proc.mjs';
import { newHistogram, percentiles, progress, table, writeResult } from './lib/report.mjs';
import { args, list } from './lib/run.mjs';
import { DATABASE_URL, SECRET, startBanyan } from './lib/targets.mjs';

const o = args(
  'files',
  {
    only: { type: 'string' },
    uploads: { type: 'string' },
    'upload-mib': { type: 'string' },
    messages: { type: 'string' },
    groups: { type: 'string' },
    'member-of': { type: 'string' },
    queries: { type: 'string' },
    keep: { type: 'boolean' },
  },
  {
    only: 'memory,search',
    uploads: '10',
    'upload-mib': '25',
    messages: '1000000',
    groups: '1000',
    'member-of': '50',
    queries: '200',
    'timeout-s': '900',
  },
);

// Chat-like text: words drawn with a Zipf-like (log-uniform rank) law from a 3,000-word vocabulary
// of placeholder words, with the words searched for placed at known ranks (1 = most frequent).
const VOCABULARY = 3000;
const placed = {
  meeting: 2,
  volunteer: 5,
  स्वयंसेवक: 10,
  school: 20,
  बैठक: 50,
  library: 100,
  मासिक: 200,
  धर्म: 300,
  worksheet: 500,
  training: 800,
  zephyrine: 2900,
};
const vocabulary = Array.from({ length: VOCABULARY }, (_, i) => `w${i}`);
for (const [word, rank] of Object.entries(placed)) vocabulary[rank - 1] = word;

const dataDir = mkdtempSync(join(tmpdir(), 'banyan-bench-files-'));
const target = await startBanyan({
  replicas: 1,
  env: {
    DATA_DIR: dataDir,
    SEARCH_RATE: '1000000/1',
    UPLOAD_QUOTA_BYTES: String(64 * 2 ** 30),
    MAX_UPLOAD_BYTES: String(Number(o['upload-mib']) * 2 ** 20),
  },
});
const base = `http://127.0.0.1:${target.ports[0]}`;
const pid = target.children[0].pid;
const result = {};
try {
  if (list(o.only).includes('memory')) result.memory = await memory();
  if (list(o.only).includes('search')) result.search = await search();
} finally {
  await target.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
writeResult('files', { options: o, ...result });

async function memory() {
  const count = Number(o.uploads);
  const size = Number(o['upload-mib']) * 2 ** 20;
  const token = await mintToken(SECRET, 'bench-uploader');
  await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await sleep(500);
  const before = rssBytes(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 20);
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  progress(`memory: ${count} uploads of ${o['upload-mib']} MiB at once`);
  const started = process.hrtime.bigint();
  const statuses = await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise((resolve, reject) => {
          const req = request(`${base}/v1/attachments?name=big-${i}.bin`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          });
          req.on('error', reject);
          let sent = 0;
          const pump = () => {
            while (sent < size) {
              const n = Math.min(chunk.length, size - sent);
              sent += n;
              if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return req.once('drain', pump);
            }
            req.end();
          };
          pump();
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  const row = {
    uploads: count,
    mib: Number(o['upload-mib']),
    ok: statuses.filter((s) => s === 201).length,
    seconds: Math.round(seconds * 100) / 100,
    'MiB/s': Math.round(((count * size) / 2 ** 20 / seconds) * 10) / 10,
    'rss before MiB': Math.round(before / 2 ** 20),
    'rss peak MiB': Math.round(peak / 2 ** 20),
  };
  table('uploads at once (server RSS)', [row]);
  return row;
}

async function search() {
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const messages = Number(o.messages);
  const groups = Number(o.groups);
  const memberOf = Number(o['member-of']);
  const user = 'bench-searcher';
  try {
    progress(`search: seeding ${messages} messages across ${groups} groups`);
    await sql`delete from groups where id like 'gs-%'`;
    await sql`vacuum events`;
    await sql`insert into users (id, name) values (${user}, 'searcher'), ('bench-poster', 'poster') on conflict do nothing`;
    await sql`insert into groups (id, kind, name, created_by, last_seq)
      select 'gs-' || i, 'group', 'search ' || i, 'bench-poster', ceil(${messages}::numeric / ${groups}::int) from generate_series(1, ${groups}::int) i`;
    await sql`insert into members (group_id, user_id, role) select 'gs-' || i, ${user}, 'member' from generate_series(1, ${memberOf}::int) i`;
    const seededAt = process.hrtime.bigint();
    // Eight words per message, drawn as above.
    const batch = 100_000;
    for (let from = 0; from < messages; from += batch) {
      await sql`insert into events (group_id, seq, ts, sender_id, kind, text, data)
        select 'gs-' || (n % ${groups}::int + 1), n / ${groups}::int + 1, now() - make_interval(secs => ${messages}::int - n), 'bench-poster', 'message',
          (select string_agg(v[floor(exp(((abs(hashint4(n * 8 + k)) % 1000000) / 1000000.0) * ln(${VOCABULARY}::int)))::int], ' ')
             from generate_series(0, 7) k),
          '{"mentions":[]}'::jsonb
        from generate_series(${from}::int, ${Math.min(messages, from + batch) - 1}::int) n, (select ${sql.array(vocabulary)}::text[] as v) vocab`;
      progress(`  ${Math.min(messages, from + batch)} messages`);
    }
    await sql`vacuum analyze events`;
    const seedSeconds = Number(process.hrtime.bigint() - seededAt) / 1e9;
    const [sizes] = await sql`select pg_relation_size('events_search') as fts, pg_relation_size('events_text_trgm') as trgm,
      pg_total_relation_size('events') as events_total, (select count(*) from events) as rows`;
    const token = await mintToken(SECRET, user);
    const kinds = {
      'most common word (rank 2)': ['meeting'],
      'common word (rank 5–20)': ['volunteers', 'school'],
      'word of rank 100–800': ['library', 'worksheet', 'training'],
      'rare word (rank 2900)': ['zephyrine'],
      'two words': ['school library'],
      'hindi word (rank 10, 50)': ['स्वयंसेवक', 'बैठक'],
      'hindi two words': ['मासिक धर्म'],
      'mixed scripts': ['स्वयंसेवक library'],
      'no match': ['nonexistentword'],
    };
    const rows = [];
    const perKind = Math.max(1, Math.floor(Number(o.queries) / Object.keys(kinds).length));
    for (const [kind, terms] of Object.entries(kinds)) {
      const h = newHistogram();
      let found = 0;
      for (let i = 0; i < perKind + 5; i++) {
        const q = terms[i % terms.length];
        const t0 = process.hrtime.bigint();
        const res = await fetch(`${base}/v1/search?q=${encodeURIComponent(q)}&limit=20`, { headers: { authorization: `Bearer ${token}` } });
        const body = await res.json();
        const us = Number((process.hrtime.bigint() - t0) / 1000n);
        if (res.status !== 200) throw new Error(`search ${q}: ${res.status} ${JSON.stringify(body)}`);
        if (i >= 5) h.recordValue(us); // five warm-up queries per kind
        found = body.results.length;
      }
      rows.push({ kind, results: found, ...percentiles(h) });
    }
    table(`search over ${sizes.rows} events, user in ${memberOf} of ${groups} groups (ms, through the API)`, rows);
    const mib = (b) => Math.round((Number(b) / 2 ** 20) * 10) / 10;
    const index = {
      'seed s': Math.round(seedSeconds),
      'events rows': Number(sizes.rows),
      'fts index MiB': mib(sizes.fts),
      'trigram index MiB': mib(sizes.trgm),
      'events total MiB': mib(sizes.events_total),
    };
    table('indexes', [index]);
    return { queries: rows, index };
  } finally {
    // --keep leaves the seeded groups for EXPLAIN; the next run replaces them.
    if (!o.keep) await sql`delete from groups where id like 'gs-%'`.catch(() => undefined);
    await sql.end();
  }
}
