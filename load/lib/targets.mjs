// The systems under test, started as child processes on 127.0.0.1: Banyan replicas
// (`node dist/main.js start`), and the peers of load/peers/. Each returns {flavor, urls, pids, stop}.
import postgres from 'postgres';
import { progress } from './report.mjs';
import { sleep, startProcess, stopProcess, waitFor } from './proc.mjs';

export const SECRET = process.env.BENCH_JWT_SECRET ?? 'bench-secret-bench-secret-bench-secret-0123456789';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/banyan_perf';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN = 'bench-admin';
/** /metrics answers only with this bearer token (METRICS_TOKEN); idle.mjs reads the heap there. */
export const METRICS_TOKEN = process.env.BENCH_METRICS_TOKEN ?? 'bench-metrics-token-0123456789';
export const USER_PREFIX = 'bu';

const root = new URL('../../', import.meta.url).pathname;

const basePort = Number(process.env.BENCH_BASE_PORT ?? 9300);
/**
 * Node flags for every server under test: a full GC on SIGUSR2 (see gc-on-signal.cjs), and any in
 * BENCH_SERVER_FLAGS (space-separated, e.g. `--trace-gc` to see each collection's pause).
 */
const gcFlags = [
  '--expose-gc',
  '--require',
  `${root}load/lib/gc-on-signal.cjs`,
  ...(process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean),
];

async function healthy(port, path) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return res.status < 500;
  } catch {
    return false;
  }
}

async function startAll(name, count, spawnOne, healthPath, firstPort = basePort) {
  const ports = Array.from({ length: count }, (_, i) => firstPort + i);
  const children = ports.map((port, i) => spawnOne(port, i));
  for (const port of ports) {
    if (!(await waitFor(() => healthy(port, healthPath), 90_000, 100))) throw new Error(`${name} on ${port} did not start`);
  }
  progress(`${name}: ${count} process(es) on ports ${ports.join(', ')}`);
  return {
    urls: ports.map((p) => `ws://127.0.0.1:${p}`),
    ports,
    pids: children.map((c) => c.pid),
    children,
    stop: async () => {
      await Promise.all(children.map((c) => stopProcess(c, 'SIGTERM', 15_000)));
      await sleep(200);
    },
  };
}

/** Banyan replicas; with more than one, they share the Redis bus. `port`: the first one's (else BENCH_BASE_PORT). */
export async function startBanyan({ replicas, env = {}, profileDir, port, name = 'banyan', banyanRoot = root }) {
  const t = await startAll(
    'banyan',
    replicas,
    (port, i) =>
      startProcess(
        `banyan${i}`,
        process.execPath,
        [...gcFlags, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), `${banyanRoot}dist/main.js`, 'start'],
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          DATABASE_URL,
          JWT_SECRET: SECRET,
          METRICS_TOKEN,
          LOG_LEVEL: 'warn',
          RATE_LIMIT_PER_S: '100000',
          RATE_LIMIT_BURST: '100000',
          USER_RATE_LIMIT_PER_S: '100000',
          USER_RATE_LIMIT_BURST: '100000',
          SOCKETS_PER_USER: '100000',
          // Benchmarks call from one address as fast as they can.
          HTTP_RATE_ADDRESS: '1000000/1',
          HTTP_RATE_ADDRESS_ALL: '1000000/1',
          HTTP_RATE_USER: '1000000/1',
          SIGNIN_RATE_ADDRESS: '1000000/1',
          SIGNIN_RATE_USERNAME: '1000000/1',
          // History pages of one user as fast as they come (the per-user read budget).
          READ_BUDGET_ROWS_PER_S: '10000000',
          READ_BUDGET_BURST_ROWS: '100000000',
          READ_BUDGET_BYTES_PER_S: '1073741824',
          READ_BUDGET_BURST_BYTES: '17179869184',
          DRAIN_TIMEOUT_MS: '2000',
          // The replicas run on this machine and share its DATA_DIR (files are not what is measured).
          ...(replicas > 1 ? { REDIS_URL, STORAGE_SHARED: 'on' } : { REDIS_URL: '' }),
          ...env,
        },
      ),
    '/healthz',
    port,
  );
  return { flavor: 'banyan', name, ...t };
}

/** A peer server from load/peers/, `processes` processes, same secret and admin as Banyan's. */
async function startPeer({ flavor, name, prefix, script, processes, redisUrl, firstPort }) {
  const t = await startAll(
    name,
    processes,
    (port, i) =>
      startProcess(`${prefix}${i}`, process.execPath, [...gcFlags, `${root}load/peers/${script}`], {
        PORT: String(port),
        JWT_SECRET: SECRET,
        REDIS_URL: redisUrl,
        ADMIN,
        DATABASE_URL,
      }),
    '/healthz',
    firstPort,
  );
  return { flavor, name, ...t };
}

/** Socket.IO 4 with the Redis adapter (always), websocket transport only. */
export const startSocketIo = ({ processes }) =>
  startPeer({ flavor: 'socketio', name: 'socket.io', prefix: 'sio', script: 'socketio-server.mjs', processes, redisUrl: REDIS_URL });

/** The floor: a minimal `ws` broadcast server (Redis pub/sub between processes when > 1). */
export const startWsFloor = ({ processes }) =>
  startPeer({ flavor: 'ws', name: 'ws', prefix: 'ws', script: 'ws-server.mjs', processes, redisUrl: processes > 1 ? REDIS_URL : '' });

/**
 * The floor for session starts and HTTP reads (load/peers/floor-server.mjs): uWS, jose and
 * postgres.js doing Banyan's reads on the same database, nothing else. Speaks Banyan's protocol
 * for what it serves, so the load clients treat it as Banyan.
 */
export const startFloor = ({ processes, port }) =>
  startPeer({ flavor: 'banyan', name: 'floor', prefix: 'floor', script: 'floor-server.mjs', processes, redisUrl: '', firstPort: port });

export function startTarget(system, count, options = {}) {
  // BENCH_PROFILE_DIR: each Banyan process writes a V8 CPU profile there when it stops (not when killed).
  const profile = process.env.BENCH_PROFILE_DIR ? { profileDir: process.env.BENCH_PROFILE_DIR } : {};
  if (system === 'banyan') return startBanyan({ replicas: count, ...profile, ...options });
  if (system === 'floor') return startFloor({ processes: count });
  // An older build, for before/after in one run: BENCH_BEFORE_ROOT is a work tree of it, built.
  if (system === 'banyan-before') {
    if (!process.env.BENCH_BEFORE_ROOT) throw new Error('banyan-before needs BENCH_BEFORE_ROOT (a built work tree of the older commit)');
    return startBanyan({ replicas: count, ...options, name: system, banyanRoot: `${process.env.BENCH_BEFORE_ROOT.replace(/\/$/, '')}/` });
  }
  if (system === 'socketio') return startSocketIo({ processes: count });
  if (system === 'ws') return startWsFloor({ processes: count });
  throw new Error(`unknown system ${system}`);
}

/**
 * Seeds PostgreSQL directly (the endpoints for communities live on other branches): users
 * bu0..bu<n-1>, and either one announcement group with all of them plus the admin, or chat
 * groups of `groupSize`. Earlier bench groups (ids g-bench-*) are dropped first.
 */
export async function seed({ users, announcement = false, chatGroupSize = 0 }) {
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql`delete from groups where id like 'g-bench-%'`;
    await sql`insert into users (id, name) select ${USER_PREFIX} || i, ${USER_PREFIX} || i from generate_series(0, ${users - 1}::int) i on conflict do nothing`;
    await sql`insert into users (id, name) values (${ADMIN}, ${ADMIN}) on conflict do nothing`;
    if (announcement) {
      await sql`insert into groups (id, kind, name, created_by, member_count) values ('g-bench-ann', 'announcement', 'Bench announcements', ${ADMIN}, ${users + 1})`;
      await sql`insert into members (group_id, user_id, role) values ('g-bench-ann', ${ADMIN}, 'owner')`;
      await sql`insert into members (group_id, user_id, role) select 'g-bench-ann', ${USER_PREFIX} || i, 'member' from generate_series(0, ${users - 1}::int) i`;
    }
    if (chatGroupSize > 0) {
      const groups = Math.ceil(users / chatGroupSize);
      await sql`insert into groups (id, kind, name, created_by, member_count)
        select 'g-bench-c' || g, 'group', 'Bench chat ' || g, ${USER_PREFIX} || (g * ${chatGroupSize}), ${chatGroupSize}
        from generate_series(0, ${groups - 1}::int) g`;
      await sql`insert into members (group_id, user_id, role)
        select 'g-bench-c' || (i / ${chatGroupSize}), ${USER_PREFIX} || i, case when i % ${chatGroupSize} = 0 then 'owner' else 'member' end
        from generate_series(0, ${users - 1}::int) i`;
    }
    await vacuumAnalyze(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * The tables a seed rewrites, vacuumed and analyzed as autovacuum keeps a running database's. This
 * machine's PostgreSQL runs with autovacuum off (CI's conf.d/90-ci.conf): each run's deleted rows
 * stayed, and after two runs a 2,000-member group's member scan read 144,000 dead rows (14 ms).
 */
export async function vacuumAnalyze(sql) {
  await sql`vacuum (analyze) members, groups, users, events, notify_outbox, message_stats`;
}

export async function countEvents(groupLike) {
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select count(*)::int as n from events where group_id like ${groupLike} and kind = 'message'`;
    return row.n;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
