import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../src/platform/net/address-guard.js';
import { ownDatabase } from '../helpers/own-database.js';
import { LocalPushService } from '../helpers/push-service.js';
import { waitUntil } from '../helpers/replicas.js';
import { startServer, storageModes, type TestServer, type TestUser } from '../helpers/server.js';
import { sleep, tokenUser } from '../helpers/users.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

// docs/protocol.md §8 Notifications: one community's webhooks that accept and never answer must
// not delay another community's webhooks, nor anyone's pushes (per-community and per-endpoint
// slots, a circuit breaker, fair claiming, pushes in a lane of their own).

const TIMEOUT_MS = 10_000;
/** Webhook requests one community may have in flight (WEBHOOK_COMMUNITY_CONCURRENCY). */
const COMMUNITY_SLOTS = 16;

describe.each(storageModes())('webhook and push isolation (%s)', (mode) => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let push: LocalPushService;
  let database: Awaited<ReturnType<typeof ownDatabase>> | undefined;
  let n = 0;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    receiver.hang('/stall/');
    push = await LocalPushService.start();
    if (mode === 'postgres') database = await ownDatabase('hookiso');
    server = await startServer({
      mode,
      env: {
        ...(database ? { DATABASE_URL: database.url } : {}),
        WEBHOOK_ALLOW_PRIVATE: 'on',
        WEBHOOK_COMMUNITY_CONCURRENCY: String(COMMUNITY_SLOTS),
        PUSH_TIMEOUT_MS: String(TIMEOUT_MS),
        PUSH_COALESCE_MS: '0',
      },
    });
    push.expectVapidKey((await server.http('GET', '/v1/push/vapid-key')).body.publicKey);
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await push?.stop();
    await database?.drop();
  });

  async function community(label: string) {
    const admin = await tokenUser(server, `${label}admin`);
    const c = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: label } })).body.community;
    return { admin, id: c.id as string };
  }
  const hook = async (admin: TestUser, communityId: string, path: string) => {
    const r = await server.http('POST', `/v1/communities/${communityId}/webhooks`, {
      token: admin.token,
      body: { url: receiver.url + path, events: ['announcement', 'message', 'mention'] },
    });
    expect(r.status).toBe(201);
    receiver.expect(path, r.body.secret);
  };
  const announce = async (admin: TestUser, communityId: string, text: string) => {
    const r = await server.http('POST', `/v1/communities/${communityId}/announcements`, {
      token: admin.token,
      body: { clientMsgId: `a${n++}`, text },
    });
    expect(r.status).toBe(201);
  };

  it('20 stalling webhooks of one community delay neither another community’s webhook nor its members’ pushes', async () => {
    const abuser = await community('stall');
    for (let i = 0; i < 20; i++) await hook(abuser.admin, abuser.id, `/stall/${i}`);
    const good = await community('bridge');
    await hook(good.admin, good.id, '/sms');
    // An offline member of the good community with a push subscription: every announcement pushes them.
    const code = (await server.http('POST', `/v1/communities/${good.id}/invites`, { token: good.admin.token, body: {} })).body.code;
    const member = await tokenUser(server, 'bridgemember');
    expect((await server.http('POST', `/v1/invites/${code}/join`, { token: member.token })).status).toBeLessThan(300);
    const sub = push.subscribe();
    expect(
      (await server.http('POST', '/v1/push/subscriptions', { token: member.token, body: { endpoint: sub.endpoint, keys: sub.keys } }))
        .status,
    ).toBe(201);

    /** For each of `rounds` announcements of the good community: ms until its webhook and its push arrived. */
    const measure = async (rounds: number) => {
      const times = { webhook: [] as number[], push: [] as number[] };
      for (let i = 0; i < rounds; i++) {
        const before = { hooks: receiver.at('/sms').length, pushes: push.deliveredTo(sub.id).length };
        const sent = Date.now();
        await announce(good.admin, good.id, `meeting ${n}`);
        const arrived = { hook: 0, push: 0 };
        await waitUntil(
          () => {
            if (!arrived.hook && receiver.at('/sms').length > before.hooks) arrived.hook = Date.now();
            if (!arrived.push && push.deliveredTo(sub.id).length > before.pushes) arrived.push = Date.now();
            return arrived.hook > 0 && arrived.push > 0;
          },
          3 * TIMEOUT_MS,
          `the good community's webhook and push ${i}`,
        );
        times.webhook.push(arrived.hook - sent);
        times.push.push(arrived.push - sent);
        // Kept: pacing (one announcement a second, as people post), not a wait for something to arrive.
        await sleep(1000);
      }
      return times;
    };
    const quiet = await measure(3);

    // The attack: announcements in the abuser's community, each owing 20 stalling deliveries, on and on.
    let attacking = true;
    const attack = (async () => {
      while (attacking) {
        await announce(abuser.admin, abuser.id, 'stall');
        // Kept: the attack's pace, not a wait for something to arrive.
        await sleep(500);
      }
    })();
    try {
      // The stalled requests hold every slot of the abuser's community before the good one is measured.
      const stalled = () => receiver.received.filter((r) => r.path.startsWith('/stall/')).length;
      await waitUntil(() => stalled() >= COMMUNITY_SLOTS, 10_000, 'the abuser community’s slots all taken by stalled requests');
      const attacked = await measure(3);
      const report = `quiet ${JSON.stringify(quiet)}, attacked ${JSON.stringify(attacked)}`;
      // The target is 2 s; on a machine so busy that quiet deliveries take longer, twice the quiet
      // time, and never as long as the stall (PUSH_TIMEOUT_MS): nothing waited for a stalled request.
      const bound = (quietMs: number[]) => Math.min(TIMEOUT_MS, Math.max(2000, 2 * Math.max(...quietMs)));
      expect(Math.max(...attacked.webhook), `the good community's webhook: ${report}`).toBeLessThan(bound(quiet.webhook));
      // Pushes are not queued behind webhooks.
      expect(Math.max(...attacked.push), `the good community's push: ${report}`).toBeLessThan(bound(quiet.push));
      for (const d of receiver.at('/sms')) expect(d.verified).toBe(true);
    } finally {
      attacking = false;
      await attack;
    }
  }, 90_000);

  const subscribe = async (user: TestUser, endpoint: string, keys: unknown) =>
    expect((await server.http('POST', '/v1/push/subscriptions', { token: user.token, body: { endpoint, keys } })).status).toBe(201);

  it('members whose push endpoints never answer delay no one else’s pushes', async () => {
    const admin = await tokenUser(server, 'pushadmin');
    const c = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Volunteers' } })).body.community;
    const code = (await server.http('POST', `/v1/communities/${c.id}/invites`, { token: admin.token, body: {} })).body.code;
    const join = async (label: string) => {
      const u = await tokenUser(server, label);
      expect((await server.http('POST', `/v1/invites/${code}/join`, { token: u.token })).status).toBeLessThan(300);
      return u;
    };
    const member = await join('pushmember');
    const sub = push.subscribe();
    await subscribe(member, sub.endpoint, sub.keys);

    /** For each of `rounds` announcements, one a second: ms until the member's push arrived. */
    const measure = async (rounds: number) => {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const before = push.deliveredTo(sub.id).length;
        const sent = Date.now();
        const r = await server.http('POST', `/v1/communities/${c.id}/announcements`, {
          token: admin.token,
          body: { clientMsgId: `p${n++}`, text: `shift ${n}` },
        });
        expect(r.status).toBe(201);
        await waitUntil(() => push.deliveredTo(sub.id).length > before, 3 * TIMEOUT_MS, `the member's push ${i}`);
        times.push(Date.now() - sent);
        // Kept: pacing (one announcement a second), not a wait for something to arrive.
        await sleep(1000);
      }
      return times;
    };
    const quiet = await measure(2);
    // Three members (more than a replica's push loops) whose devices point at an endpoint that
    // accepts and never answers: every announcement owes them pushes that stall for the timeout.
    for (let i = 0; i < 3; i++) {
      const stalling = await join(`pushstall${i}`);
      for (let d = 0; d < 3; d++) await subscribe(stalling, `${receiver.url}/stall/push${i}-${d}`, push.subscribe().keys);
    }
    const attacked = await measure(6);
    const bound = Math.min(TIMEOUT_MS, Math.max(2000, 2 * Math.max(...quiet)));
    expect(Math.max(...attacked), `quiet ${quiet}, attacked ${attacked}`).toBeLessThan(bound + 2000);
    expect(receiver.received.some((r) => r.path.startsWith('/stall/push'))).toBe(true);
  }, 120_000);
});

describe('refused webhook targets', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { WEBHOOK_ALLOW_PRIVATE: 'off' } });
  });
  afterAll(async () => server?.stop());

  it('a name that resolves to a private address and one that does not resolve fail at once, with one and the same lastError', async () => {
    // This machine's own name resolves (through /etc/hosts) to one of its private addresses.
    const internal = hostname();
    const resolved = await lookup(internal, { all: true });
    expect(
      resolved.every((a) => isPrivateAddress(a.address)),
      `${internal} resolves to private addresses only`,
    ).toBe(true);

    const admin = await tokenUser(server, 'probeadmin');
    const c = (await server.http('POST', '/v1/communities', { token: admin.token, body: { name: 'Probe' } })).body.community;
    const ids: string[] = [];
    for (const url of [`https://${internal}:9/hook`, 'https://no-such-host.invalid/hook']) {
      const r = await server.http('POST', `/v1/communities/${c.id}/webhooks`, {
        token: admin.token,
        body: { url, events: ['announcement'] },
      });
      expect(r.status, url).toBe(201);
      ids.push(r.body.id);
    }
    expect(
      (await server.http('POST', `/v1/communities/${c.id}/announcements`, { token: admin.token, body: { clientMsgId: 'p', text: 'hi' } }))
        .status,
    ).toBe(201);
    const log = async (id: string) =>
      (await server.http('GET', `/v1/communities/${c.id}/webhooks/${id}/deliveries`, { token: admin.token })).body.deliveries[0];
    await waitUntil(async () => (await log(ids[0]!))?.attempts >= 1 && (await log(ids[1]!))?.attempts >= 1, 15_000, 'one attempt each');
    const [a, b] = [await log(ids[0]!), await log(ids[1]!)];
    for (const d of [a, b]) expect(d).toMatchObject({ status: 'failed', attempts: 1, lastStatus: null, nextAttemptAt: null });
    expect(a.lastError).toBe(b.lastError);
    expect(a.lastError).not.toContain(internal);
  }, 30_000);
});
