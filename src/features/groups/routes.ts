import { idParam, parseQuery, type HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';
import type { HttpBodies } from '../../protocol/http-bodies.js';
import { pageQuery } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { Privacy } from '../privacy/index.js';
import type { Direct } from './direct.js';
import type { Groups } from './groups.js';
import type { Invitations } from './invitations.js';

const groupId = (params: { id: string }) => idParam(params.id, 'group');

export interface GroupServices {
  groups: Groups;
  invitations: Invitations;
  direct: Direct;
  /** The caller's own profile, for `GET /v1/me`. */
  privacy: Pick<Privacy, 'me'>;
}

/** docs/protocol.md §8: the caller, groups and their members, invitations, direct groups. */
export function groupRoutes(
  router: HttpRouter,
  { groups, invitations, direct, privacy }: GroupServices,
  bodies: HttpBodies,
  limits: Pick<RateLimits, 'addByUsername'>,
) {
  router.authed('get', '/v1/me', undefined, { 200: 'me' }, async ({ principal }) => {
    const [user, myGroups, communities] = await Promise.all([
      privacy.me(principal),
      groups.listMine(principal.userId),
      groups.listMyCommunities(principal.userId),
    ]);
    return { status: 200, body: { user, groups: myGroups, communities } satisfies HttpReply<'me'> };
  });

  router.authed('post', '/v1/groups', bodies.createGroup, { 201: 'groupCreated' }, async ({ principal, body }) => ({
    status: 201,
    body: (await groups.create(principal.userId, body)) satisfies HttpReply<'groupCreated'>,
  }));

  router.authed('get', '/v1/groups/:id', undefined, { 200: 'groupDetail' }, async ({ principal, params }) => ({
    status: 200,
    body: await groups.get(principal.userId, groupId(params)),
  }));

  router.authed('patch', '/v1/groups/:id', bodies.updateGroup, { 200: 'group' }, async ({ principal, params, body }) => ({
    status: 200,
    body: { group: await groups.update(principal.userId, groupId(params), body) } satisfies HttpReply<'group'>,
  }));

  router.authed('get', '/v1/groups/:id/members', undefined, { 200: 'members', query: pageQuery }, async ({ principal, params, query }) => {
    const page = parseQuery(query, pageQuery);
    return { status: 200, body: await groups.members(principal.userId, groupId(params), page.cursor, page.limit ?? 100) };
  });

  router.authed(
    'post',
    '/v1/groups/:id/members',
    bodies.addMember,
    { 201: 'memberAdded', 202: 'invited' },
    async ({ principal, params, body }) => {
      const { userId, username, role } = body;
      if (username !== undefined) await limits.addByUsername(principal.userId); // before anything is looked up
      const result =
        username !== undefined
          ? await groups.addMemberByUsername(principal.userId, groupId(params), { username, role })
          : await groups.addMember(principal.userId, groupId(params), { userId: userId!, role });
      return result === 'added' ? { status: 201, body: {} } : { status: 202, body: { status: 'invited' } satisfies HttpReply<'invited'> };
    },
  );

  router.authed('del', '/v1/groups/:id/members/:userId', undefined, { 204: null }, async ({ principal, params }) => {
    await groups.removeMember(principal.userId, groupId(params), idParam(params.userId, 'member'));
    return { status: 204 };
  });

  router.authed('get', '/v1/invitations', undefined, { 200: 'invitations' }, async ({ principal }) => ({
    status: 200,
    body: await invitations.list(principal.userId),
  }));

  router.authed(
    'post',
    '/v1/groups/:id/invitation',
    undefined,
    { 200: 'group', 202: 'invitationAccepted' },
    async ({ principal, params }) => {
      const accepted = await invitations.accept(principal.userId, idParam(params.id, 'invitation'));
      // docs/protocol.md §8 "Joining": `202 {status: "pending"}` when it became a join request.
      return 'group' in accepted
        ? { status: 200, body: accepted satisfies HttpReply<'group'> }
        : { status: 202, body: accepted satisfies HttpReply<'invitationAccepted'> };
    },
  );

  router.authed('del', '/v1/groups/:id/invitation', undefined, { 204: null }, async ({ principal, params }) => {
    await invitations.decline(principal.userId, idParam(params.id, 'invitation'));
    return { status: 204 };
  });

  router.authed('post', '/v1/direct', bodies.openDirect, { 200: 'group', 201: 'group' }, async ({ principal, body }) => {
    const result = await direct.open(principal.userId, body.userId);
    return { status: result.created ? 201 : 200, body: { group: result.group } satisfies HttpReply<'group'> };
  });
}
