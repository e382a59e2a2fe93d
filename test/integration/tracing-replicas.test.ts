import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, noScaleServers, replicaSockets, scaleEnv, startReplicas, waitUntil, type ReplicaSet } from '../helpers/replicas.js';
import type { TestUser } from '../helpers/server.js';

// Tracing across replicas: two processes export OTLP/HTTP (JSON) to a receiver run here; a send
// on replica A and its delivery on replica B are one trace. Tracing off, the bus carries no trace.

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A plain OTLP/HTTP receiver: every span of every JSON export, with the service that sent it. */
async function otlpReceiver(): Promise<{ server: Server; url: string; spans: (OtlpSpan & { port: string })[] }> {
  const spans: (OtlpSpan & { port: string })[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const parsed = JSON.parse(body);
      for (const rs of parsed.resourceSpans ?? []) {
        const service = rs.resource?.attributes?.find((a: { key: string }) => a.key === 'service.name')?.value?.stringValue ?? '';
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ ...s, port: service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

describe.skipIf(noScaleServers)('tracing across two replicas', () => {
  let set: ReplicaSet;
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  const { sockets, on } = replicaSockets(() => set);
  const redis = new Redis(scaleEnv.redisUrl ?? '', { lazyConnect: true });
  const payloads: string[] = [];

  beforeAll(async () => {
    receiver = await otlpReceiver();
    await redis.connect();
    await redis.psubscribe('banyan:g:*');
    redis.on('pmessage', (_pattern, _channel, payload: string) => payloads.push(payload));
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await set?.stop();
    await killAll();
    redis.disconnect();
    receiver?.server.close();
  });

  const sendAcross = async () => {
    const [a, b] = (await Promise.all([set.user(), set.user()])) as [TestUser, TestUser];
    const res = await set.replicas[0]!.http('POST', '/v1/groups', { token: a.token, body: { name: 'traced', members: [b.id] } });
    expect(res.status).toBe(201);
    const group = res.body.group.id as string;
    const [sa, sb] = await Promise.all([on(0, a), on(1, b)]);
    const ack = await sa.request({ type: 'send', group, clientMsgId: 'm1', text: 'hello' });
    expect(ack.type).toBe('ack');
    await sb.next((f) => f.type === 'event' && f.group === group && f.seq === ack.seq);
    return { group, seq: ack.seq as number };
  };
  const payloadOf = (seq: number, text: string) => payloads.find((p) => p.includes(`"text":"${text}"`) && p.includes(`${seq}\n`));

  it('with tracing off, the bus message carries no traceparent', async () => {
    set = await startReplicas(2);
    const { seq } = await sendAcross();
    await waitUntil(() => payloadOf(seq, 'hello') !== undefined, 30_000, 'the message on Redis');
    expect(payloadOf(seq, 'hello')!.startsWith(`${seq}\n\n\n{`)).toBe(true);
    await set.stop();
  });

  it("one send is one trace: replica B's delivery span is a child of replica A's publish, under A's send span", async () => {
    payloads.length = 0;
    set = await startReplicas(2, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'replica' } });
    const [a, b] = set.replicas as [(typeof set.replicas)[0], (typeof set.replicas)[0]];
    const { seq } = await sendAcross();
    await waitUntil(() => payloadOf(seq, 'hello') !== undefined, 30_000, 'the message on Redis');
    const traceparent = /^t00-([\da-f]{32})-([\da-f]{16})-01\n/.exec(payloadOf(seq, 'hello')!);
    expect(traceparent).not.toBeNull();
    const [, traceId, publishSpanId] = traceparent!;
    // Spans leave each replica in batches (every few seconds) or when it stops: stop both.
    for (const r of [a, b]) r.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
    await waitUntil(() => receiver.spans.filter((s) => s.traceId === traceId && s.name === 'deliver').length >= 2, 30_000, 'the spans');
    const inTrace = receiver.spans.filter((s) => s.traceId === traceId);
    const send = inTrace.find((s) => s.name === 'ws send');
    const publish = inTrace.find((s) => s.spanId === publishSpanId);
    expect(send).toBeDefined();
    expect(publish).toMatchObject({ name: 'bus publish', parentSpanId: send!.spanId });
    // Both replicas deliver it (A to its own socket, B to the other member), each as the publish's child.
    const deliveries = inTrace.filter((s) => s.name === 'deliver');
    expect(deliveries.map((d) => d.parentSpanId)).toEqual([publishSpanId, publishSpanId]);
    expect(inTrace.some((s) => s.name === 'db statement')).toBe(true);
  });
});
