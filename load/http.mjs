// http: autocannon against the HTTP API of one Banyan process: sign-in (scrypt, slow by design),
// GET /v1/me, a history page, and POST messages (each with a fresh clientMsgId). The reads are
// also run against the floor server (load/peers/floor-server.mjs, same database, same rows),
// alternating Banyan and floor `--rounds` times, so each ratio comes from neighbouring runs.
import autocannon from 'autocannon';
import { args, list, sample, sleep } from './lib/run.mjs';
import { cpuBetween, secondsBetween } from './lib/proc.mjs';
import { progress, table, writeResult } from './lib/report.mjs';
import { mintToken } from './lib/admin.mjs';
import { ADMIN, SECRET, USER_PREFIX, seed, startBanyan, startFloor } from './lib/targets.mjs';
import postgres from 'postgres';
import { DATABASE_URL } from './lib/targets.mjs';

const o = args(
  'http',
  {
    processes: { type: 'string' },
    connections: { type: 'string' },
    'duration-s': { type: 'string' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    profile: { type: 'string' },
    // banyan-before: the build in BENCH_BEFORE_ROOT (before/after comparisons).
    system: { type: 'string' },
  },
  { processes: '1', connections: '50', 'duration-s': '8', only: 'me,history,history-ann,history-older,post,login', rounds: '1' },
);

const target = await startBanyan({
  replicas: Number(o.processes),
  ...(o.profile ? { profileDir: o.profile } : {}),
  ...(o.system === 'banyan-before' ? { name: o.system, banyanRoot: `${process.env.BENCH_BEFORE_ROOT.replace(/\/$/, '')}/` } : {}),
});
const floor = await startFloor({ processes: 1, port: target.ports.at(-1) + 1 });
const results = [];
try {
  await seed({ users: 1000, announcement: true, chatGroupSize: 10 });
  const base = `http://127.0.0.1:${target.ports[0]}`;
  const token = await mintToken(SECRET, `${USER_PREFIX}0`);
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  // History to read, in the announcement group (1,001 members) and in a busy group of all 1,000
  // users: 200 messages each through the API, and reactions on them (in SQL: the reaction limits
  // are per user and group).
  const db = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await db`insert into groups (id, kind, name, created_by, member_count) values ('g-bench-busy', 'group', 'Bench busy', ${`${USER_PREFIX}0`}, 1000)`;
  await db`insert into members (group_id, user_id, role)
    select 'g-bench-busy', ${USER_PREFIX}::text || i, case when i = 0 then 'owner' else 'member' end from generate_series(0, 999) i`;
  const adminAuth = { authorization: `Bearer ${await mintToken(SECRET, ADMIN)}`, 'content-type': 'application/json' };
  for (const [group, headers] of [
    ['g-bench-ann', adminAuth],
    ['g-bench-busy', auth],
  ]) {
    for (let i = 0; i < 200; i++) {
      await fetch(`${base}/v1/groups/${group}/messages`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ clientMsgId: `h${Date.now()}-${i}`, text: `message ${i} ${'x'.repeat(80)}` }),
      });
    }
    await db`insert into reactions (group_id, message_seq, user_id, emoji)
      select ${group}::text, e.seq, ${USER_PREFIX}::text || u, case when u % 3 = 0 then '👍' else '🙏' end
      from events e, generate_series(0, 9) u where e.group_id = ${group} and e.kind = 'message' on conflict do nothing`;
  }
  await db.end();
  // Readers as an app open makes them: each connection a different member (reads of one user run one at a time).
  const readers = await Promise.all(Array.from({ length: Number(o.connections) }, (_, i) => mintToken(SECRET, `${USER_PREFIX}${i}`)));
  let nextReader = 0;
  const perReader = (client) => client.setHeaders({ authorization: `Bearer ${readers[nextReader++ % readers.length]}` });
  const username = `bench${Date.now().toString(36)}`;
  await fetch(`${base}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'password-123' }),
  });

  const scenarios = {
    // scrypt costs ~0.2 s of CPU here: few connections, or none would finish within the run.
    login: {
      connections: 4,
      method: 'POST',
      path: '/v1/sessions',
      body: JSON.stringify({ username, password: 'password-123' }),
      headers: { 'content-type': 'application/json' },
    },
    me: { method: 'GET', path: '/v1/me', setupClient: perReader },
    // The newest page of a busy group (served from memory) and of an announcement group (from
    // memory but for its reaction counts, which change without an event until tallied).
    history: { method: 'GET', path: '/v1/groups/g-bench-busy/messages?limit=50', setupClient: perReader },
    'history-ann': { method: 'GET', path: '/v1/groups/g-bench-ann/messages?limit=50', setupClient: perReader },
    // An older page: always from the database.
    'history-older': { method: 'GET', path: '/v1/groups/g-bench-busy/messages?limit=50&before=100', setupClient: perReader },
    post: {
      method: 'POST',
      path: '/v1/groups/g-bench-c0/messages',
      headers: auth,
      body: JSON.stringify({ clientMsgId: `p${Date.now()}-[<id>]`, text: 'x'.repeat(100) }),
      idReplacement: true,
    },
  };
  const floorBase = `http://127.0.0.1:${floor.ports[0]}`;
  const runs = [];
  for (const name of list(o.only)) {
    for (let round = 0; round < Number(o.rounds); round++) {
      runs.push({ name, system: target.name, base, pids: target.pids });
      if (name === 'me' || name.startsWith('history')) runs.push({ name, system: 'floor', base: floorBase, pids: floor.pids });
    }
  }
  for (const { name, system, base: url, pids } of runs) {
    const s = scenarios[name];
    progress(`http ${name} on ${system}: ${s.connections ?? o.connections} connections for ${o['duration-s']} s`);
    const from = sample(pids);
    const r = await autocannon({
      url: `${url}${s.path}`,
      method: s.method,
      headers: s.headers,
      body: s.body,
      idReplacement: s.idReplacement ?? false,
      ...(s.setupClient ? { setupClient: s.setupClient } : {}),
      connections: s.connections ?? Number(o.connections),
      duration: Number(o['duration-s']),
    });
    const to = sample(pids);
    if (process.env.DEBUG_HTTP)
      console.log(JSON.stringify({ requests: r.requests, errors: r.errors, timeouts: r.timeouts, statusCodeStats: r.statusCodeStats }));
    results.push({
      scenario: name,
      system,
      connections: s.connections ?? Number(o.connections),
      requestsPerS: Math.round(r.requests.average),
      p50ms: r.latency.p50,
      p99ms: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      serverCpuPct: Math.round(cpuBetween(from, to) / secondsBetween(from, to) / 1e4),
      serverUsPerRequest: Math.round(cpuBetween(from, to) / Math.max(1, r.requests.total)),
    });
    await sleep(500);
  }
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const [{ n }] = await sql`select count(*)::int as n from events where group_id = 'g-bench-ann' and kind = 'message'`;
  await sql.end();
  progress(`messages stored in g-bench-ann: ${n}`);
} finally {
  await target.stop();
  await floor.stop();
}
table(`http: ${o.connections} connections, ${o['duration-s']} s each, ${o.processes} Banyan process(es)`, results);
writeResult('http', { parameters: { connections: Number(o.connections), durationS: Number(o['duration-s']) }, results });
process.exit(0);
