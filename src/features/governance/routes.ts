import type { Governance } from './governance.js';
import { pageQuery, reportsQuery, seqParam, type HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { idParam, parseParam, parseQuery, type HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';

/** docs/protocol.md §8 "Privacy and safety": bans, mutes, reports. */
export function governanceRoutes(router: HttpRouter, governance: Governance, bodies: HttpBodies, limits: Pick<RateLimits, 'report'>) {
  const g = governance;
  const communityId = (params: { id: string }) => idParam(params.id, 'community');
  const groupId = (params: { id: string }) => idParam(params.id, 'group');

  router.authed('put', '/v1/communities/:id/bans/:userId', bodies.ban, { 204: null }, async ({ principal, params, body }) => {
    await g.ban(principal.userId, communityId(params), idParam(params.userId, 'user'), body.reason);
    return { status: 204 };
  });

  router.authed('del', '/v1/communities/:id/bans/:userId', undefined, { 204: null }, async ({ principal, params }) => {
    await g.unban(principal.userId, communityId(params), idParam(params.userId, 'ban'));
    return { status: 204 };
  });

  router.authed('get', '/v1/communities/:id/bans', undefined, { 200: 'bans', query: pageQuery }, async ({ principal, params, query }) => {
    const q = parseQuery(query, pageQuery);
    return {
      status: 200,
      body: (await g.bans(principal.userId, communityId(params), q.cursor, q.limit ?? 100)) satisfies HttpReply<'bans'>,
    };
  });

  router.authed('put', '/v1/groups/:id/mutes/:userId', bodies.mute, { 204: null }, async ({ principal, params, body }) => {
    await g.mute(principal.userId, groupId(params), idParam(params.userId, 'member'), body.forS);
    return { status: 204 };
  });

  router.authed('del', '/v1/groups/:id/mutes/:userId', undefined, { 204: null }, async ({ principal, params }) => {
    await g.unmute(principal.userId, groupId(params), idParam(params.userId, 'member'));
    return { status: 204 };
  });

  router.authed('post', '/v1/groups/:id/messages/:seq/report', bodies.report, { 202: 'reported' }, async ({ principal, params, body }) => {
    // Before anything is read: a member cannot make the server (or the admins) work per message of a long history.
    await limits.report(principal.userId);
    await g.report(principal.userId, groupId(params), parseParam(params.seq, seqParam, 'message'), body);
    return { status: 202, body: { status: 'received' } satisfies HttpReply<'reported'> };
  });

  router.authed(
    'get',
    '/v1/communities/:id/reports',
    undefined,
    { 200: 'reports', query: reportsQuery },
    async ({ principal, params, query }) => ({
      status: 200,
      body: (await g.communityReports(
        principal.userId,
        communityId(params),
        parseQuery(query, reportsQuery),
      )) satisfies HttpReply<'reports'>,
    }),
  );

  router.authed(
    'get',
    '/v1/groups/:id/reports',
    undefined,
    { 200: 'reports', query: reportsQuery },
    async ({ principal, params, query }) => ({
      status: 200,
      body: (await g.groupReports(principal.userId, groupId(params), parseQuery(query, reportsQuery))) satisfies HttpReply<'reports'>,
    }),
  );

  router.authed('post', '/v1/reports/:reportId/resolve', bodies.resolveReport, { 200: 'report' }, async ({ principal, params, body }) => ({
    status: 200,
    body: { report: await g.resolve(principal.userId, idParam(params.reportId, 'report'), body) } satisfies HttpReply<'report'>,
  }));
}
