import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPushService } from '../helpers/push-service.js';
import { PrivateRedis, waitUntil } from '../helpers/replicas.js';
import { createGroup, startServer, type TestServer } from '../helpers/server.js';
import { tokenUser } from '../helpers/users.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// The metrics operators watch (platform/obs/metrics.ts), scraped from /metrics after real traffic: each
// family the traffic touched shows a non-zero value. A private redis-server, restarted once, gives
// the bus a reconnect to count.

const METRICS_TOKEN = 'metrics-token-of-this-test';

/** Each sample line of the scrape: `name{labels} value`. */
function samples(text: string): { name: string; labels: string; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.lastIndexOf(' ');
      const brace = line.indexOf('{');
      const series = line.slice(0, space);
      const name = brace >= 0 && brace < space ? series.slice(0, brace) : series;
      return { name, labels: series.slice(name.length), value: Number(line.slice(space + 1)) };
    });
}

describe('metrics', () => {
  let redis: PrivateRedis;
  let server: TestServer;
  let push: LocalPushService;
  let receiver: WebhookReceiver;
  const sockets: TestSocket[] = [];

  const scrape = async () => {
    const r = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(r.status).toBe(200);
    return samples(await r.text());
  };
  /** The sum of a family's samples whose labels contain `labels`. */
  const total = (all: ReturnType<typeof samples>, name: string, labels = '') =>
    all.filter((s) => s.name === name && s.labels.includes(labels)).reduce((sum, s) => sum + s.value, 0);

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    push = await LocalPushService.start();
    receiver = await WebhookReceiver.start();
    server = await startServer({
      env: { METRICS_TOKEN, REDIS_URL: redis.url, WEBHOOK_ALLOW_PRIVATE: 'on', PUSH_COALESCE_MS: '200' },
    });
    push.expectVapidKey((await server.http('GET', '/v1/push/vapid-key')).body.publicKey);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await server?.stop();
    await push?.stop();
    await receiver?.stop();
    await redis?.stop();
  });

  it('HTTP by route pattern, database, bus, sockets, pushes, webhooks and bus reconnects count what traffic made', async () => {
    const admin = await tokenUser(server, 'admin');
    const reader = await tokenUser(server, 'reader');
    const offline = await tokenUser(server, 'offline');
    const sub = push.subscribe();
    const subscribed = await server.http('POST', '/v1/push/subscriptions', {
      token: offline.token,
      body: { endpoint: sub.endpoint, keys: sub.keys },
    });
    expect(subscribed.status).toBe(201);
    const community = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Org' } })).body.community;
    const hook = await server.http('POST', `/v1/communities/${community.id}/webhooks`, {
      token: admin.token,
      body: { url: `${receiver.url}/m`, events: ['member'] },
    });
    expect(hook.status).toBe(201);
    receiver.expect('/m', hook.body.secret);
    const code = (await server.http('POST', `/v1/communities/${community.id}/invites`, { token: admin.token, body: {} })).body.code;
    expect((await server.http('POST', `/v1/invites/${code}/join`, { token: reader.token })).status).toBeLessThan(300);

    const group = await createGroup(server, admin, [reader, offline]);
    expect((await server.http('GET', `/v1/groups/${group}`, { token: admin.token })).status).toBe(200);
    const socket = await connect(server.wsUrl, reader.token);
    sockets.push(socket);
    await socket.next((f) => f.type === 'ready');
    const sent = await server.http('POST', `/v1/groups/${group}/messages`, {
      token: admin.token,
      body: { clientMsgId: 'm1', text: 'hello' },
    });
    expect(sent.status).toBe(201);
    await socket.next((f) => f.type === 'event' && f.seq === sent.body.seq);
    await waitUntil(() => push.deliveredTo(sub.id).length === 1, 10_000, 'the offline member pushed');
    await waitUntil(() => receiver.at('/m').length >= 1, 10_000, 'the member webhook delivered');

    const all = await scrape();
    const httpCount = (labels: string) => total(all, 'banyan_http_request_duration_seconds_count', labels);
    // Route patterns, never raw paths: no group id in any label.
    expect(httpCount('route="GET /v1/groups/:id",status="200"')).toBeGreaterThanOrEqual(1);
    expect(httpCount('route="POST /v1/groups/:id/messages",status="201"')).toBe(1);
    expect(all.filter((s) => s.labels.includes(group))).toEqual([]);
    expect(total(all, 'banyan_db_statement_duration_seconds_count')).toBeGreaterThan(0);
    expect(total(all, 'banyan_db_transaction_duration_seconds_count')).toBeGreaterThan(0);
    expect(total(all, 'banyan_bus_published_total')).toBeGreaterThan(0);
    expect(total(all, 'banyan_bus_received_total')).toBeGreaterThan(0);
    expect(total(all, 'banyan_sockets_open')).toBe(1);
    expect(total(all, 'banyan_pushes_total', 'outcome="sent"')).toBe(1);
    expect(total(all, 'banyan_webhook_deliveries_total', 'outcome="delivered"')).toBeGreaterThanOrEqual(1);
    // Families present even where this traffic made nothing (no backlog left, no slow consumer, no conflict).
    for (const name of ['banyan_outbox_backlog', 'banyan_slow_consumers_total', 'banyan_db_conflict_retries_total']) {
      expect(all.some((s) => s.name === name)).toBe(true);
    }
    expect(total(all, 'banyan_outbox_backlog', 'kind="notifications"')).toBe(0);

    // Redis goes away and comes back: both bus connections count their reconnect.
    expect(total(all, 'banyan_bus_reconnects_total')).toBe(0);
    await redis.stop();
    await redis.start();
    await waitUntil(
      async () => {
        const now = await scrape();
        return (
          total(now, 'banyan_bus_reconnects_total', 'connection="publisher"') >= 1 &&
          total(now, 'banyan_bus_reconnects_total', 'connection="subscriber"') >= 1
        );
      },
      15_000,
      'bus reconnects counted',
    );
  });
});
