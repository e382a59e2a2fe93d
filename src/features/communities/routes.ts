import type { Communities } from './communities.js';
import { memberQuery, pageQuery, type HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { idParam, parseQuery, type HttpRouter } from '../../gateway/http.js';

const communityId = (params: { id: string }) => idParam(params.id, 'community');
const page = (query: URLSearchParams) => {
  const q = parseQuery(query, pageQuery);
  return { cursor: q.cursor, limit: q.limit ?? 100 };
};

/** docs/protocol.md §8: communities, their groups, members, invites, join requests, announcements; direct groups. */
/** docs/protocol.md §8: communities, their groups, members, invites, join requests, announcements. */
export function communityRoutes(router: HttpRouter, c: Communities, bodies: HttpBodies) {
  router.authed('post', '/v1/communities', bodies.createCommunity, { 201: 'community' }, async ({ principal, body }) => ({
    status: 201,
    body: { community: await c.create(principal.userId, body) } satisfies HttpReply<'community'>,
  }));

  router.authed('get', '/v1/communities/:id', undefined, { 200: 'communityDetail' }, async ({ principal, params }) => ({
    status: 200,
    body: await c.get(principal.userId, communityId(params)),
  }));

  router.authed('patch', '/v1/communities/:id', bodies.updateCommunity, { 200: 'community' }, async ({ principal, params, body }) => ({
    status: 200,
    body: { community: await c.update(principal.userId, communityId(params), body) } satisfies HttpReply<'community'>,
  }));

  router.authed('del', '/v1/communities/:id', undefined, { 204: null }, async ({ principal, params }) => {
    await c.delete(principal.userId, communityId(params));
    return { status: 204 };
  });

  router.authed(
    'get',
    '/v1/communities/:id/groups',
    undefined,
    { 200: 'communityGroups', query: pageQuery },
    async ({ principal, params, query }) => {
      const { cursor, limit } = page(query);
      return { status: 200, body: await c.groupPage(principal.userId, communityId(params), cursor, limit) };
    },
  );

  router.authed(
    'post',
    '/v1/communities/:id/groups',
    bodies.createCommunityGroup,
    { 201: 'group' },
    async ({ principal, params, body }) => ({
      status: 201,
      body: { group: await c.createGroup(principal.userId, communityId(params), body) } satisfies HttpReply<'group'>,
    }),
  );

  router.authed('put', '/v1/communities/:id/groups/:groupId', undefined, { 200: 'group' }, async ({ principal, params }) => ({
    status: 200,
    body: {
      group: await c.linkGroup(principal.userId, communityId(params), idParam(params.groupId, 'group')),
    } satisfies HttpReply<'group'>,
  }));

  router.authed('del', '/v1/communities/:id/groups/:groupId', undefined, { 204: null }, async ({ principal, params }) => {
    await c.unlinkGroup(principal.userId, communityId(params), idParam(params.groupId, 'group'));
    return { status: 204 };
  });

  router.authed(
    'post',
    '/v1/communities/:id/groups/:groupId/join',
    undefined,
    { 200: 'group', 202: 'invitationAccepted' },
    async ({ principal, params }) => {
      const result = await c.joinGroup(principal.userId, communityId(params), idParam(params.groupId, 'group'));
      return result.status === 'pending' ? { status: 202, body: result } : { status: 200, body: { group: result.group } };
    },
  );

  router.authed(
    'get',
    '/v1/communities/:id/members',
    undefined,
    { 200: 'members', query: memberQuery },
    async ({ principal, params, query }) => {
      const q = parseQuery(query, memberQuery);
      return { status: 200, body: await c.members(principal.userId, communityId(params), q.cursor, q.limit ?? 100, q.q) };
    },
  );

  router.authed(
    'get',
    '/v1/communities/:id/overview',
    undefined,
    { 200: 'communityOverview', query: pageQuery },
    async ({ principal, params, query }) => {
      const { cursor, limit } = page(query);
      return { status: 200, body: await c.overview(principal.userId, communityId(params), cursor, limit) };
    },
  );

  router.authed('del', '/v1/communities/:id/members/:userId', undefined, { 204: null }, async ({ principal, params }) => {
    await c.removeMember(principal.userId, communityId(params), idParam(params.userId, 'member'));
    return { status: 204 };
  });

  for (const [method, admin] of [
    ['put', true],
    ['del', false],
  ] as const) {
    router.authed(method, '/v1/communities/:id/admins/:userId', undefined, { 204: null }, async ({ principal, params }) => {
      await c.setAdmin(principal.userId, communityId(params), idParam(params.userId, 'member'), admin);
      return { status: 204 };
    });
  }

  inviteRoutes(router, c, bodies);
}

/** Invites and join requests (docs/communities.md), and announcements. */
function inviteRoutes(router: HttpRouter, c: Communities, bodies: HttpBodies) {
  router.authed('post', '/v1/communities/:id/invites', bodies.createInvite, { 201: 'invite' }, async ({ principal, params, body }) => ({
    status: 201,
    body: (await c.createInvite(principal.userId, communityId(params), body)) satisfies HttpReply<'invite'>,
  }));

  router.authed('del', '/v1/communities/:id/invites/:code', undefined, { 204: null }, async ({ principal, params }) => {
    await c.revokeInvite(principal.userId, communityId(params), idParam(params.code, 'invite'));
    return { status: 204 };
  });

  router.authed('get', '/v1/invites/:code', undefined, { 200: 'invitePreview' }, async ({ params }) => ({
    status: 200,
    body: (await c.previewInvite(idParam(params.code, 'invite'))) satisfies HttpReply<'invitePreview'>,
  }));

  router.authed('post', '/v1/invites/:code/join', undefined, { 200: 'joined', 202: 'joined' }, async ({ principal, params }) => {
    const result = await c.joinByInvite(principal.userId, idParam(params.code, 'invite'));
    return result.status === 'pending'
      ? { status: 202, body: result satisfies HttpReply<'joined'> }
      : {
          status: 200,
          body: { community: result.community, ...(result.groupId ? { groupId: result.groupId } : {}) } satisfies HttpReply<'joined'>,
        };
  });

  router.authed(
    'get',
    '/v1/communities/:id/requests',
    undefined,
    { 200: 'requests', query: pageQuery },
    async ({ principal, params, query }) => {
      const { cursor, limit } = page(query);
      return { status: 200, body: await c.requests(principal.userId, communityId(params), cursor, limit) };
    },
  );

  for (const [action, approve] of [
    ['approve', true],
    ['reject', false],
  ] as const) {
    router.authed(
      'post',
      `/v1/communities/:id/requests/:userId/${action}`,
      bodies.decideRequest,
      { 200: { contentType: 'application/json' }, 204: null },
      async ({ principal, params, body }) => {
        await c.decideRequest(principal.userId, communityId(params), idParam(params.userId, 'request'), body.groupId, approve);
        return approve ? { status: 200, body: {} } : { status: 204 };
      },
    );
  }

  router.authed('post', '/v1/communities/:id/announcements', bodies.announce, { 201: 'posted' }, async ({ principal, params, body }) => {
    const result = await c.announce(principal, communityId(params), body);
    return { status: 201, body: { group: result.group, seq: result.seq, ts: result.ts.toISOString() } satisfies HttpReply<'posted'> };
  });
}
