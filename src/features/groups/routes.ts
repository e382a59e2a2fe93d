import type { Chat } from '../../platform/features.js';
import { historyQuery, pageQuery, seqParam, type HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { idParam, parseParam, parseQuery, type HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';

const groupId = (params: { id: string }) => idParam(params.id, 'group');

/** docs/protocol.md §8: the caller, groups, members and messages. */
export function groupRoutes(router: HttpRouter, chat: Chat, bodies: HttpBodies, limits: Pick<RateLimits, 'addByUsername'>) {
  router.authed('get', '/v1/me', undefined, async ({ principal }) => {
    const [user, groups, communities] = await Promise.all([
      chat.privacy.me(principal),
      chat.groups.listMine(principal.userId),
      chat.groups.listMyCommunities(principal.userId),
    ]);
    return { status: 200, body: { user, groups, communities } satisfies HttpReply<'me'> };
  });

  router.authed('post', '/v1/groups', bodies.createGroup, async ({ principal, body }) => ({
    status: 201,
    body: (await chat.groups.create(principal.userId, body)) satisfies HttpReply<'groupCreated'>,
  }));

  router.authed('get', '/v1/groups/:id', undefined, async ({ principal, params }) => ({
    status: 200,
    body: await chat.groups.get(principal.userId, groupId(params)),
  }));

  router.authed('patch', '/v1/groups/:id', bodies.updateGroup, async ({ principal, params, body }) => ({
    status: 200,
    body: { group: await chat.groups.update(principal.userId, groupId(params), body) } satisfies HttpReply<'group'>,
  }));

  router.authed('get', '/v1/groups/:id/members', undefined, async ({ principal, params, query }) => {
    const page = parseQuery(query, pageQuery);
    return { status: 200, body: await chat.groups.members(principal.userId, groupId(params), page.cursor, page.limit ?? 100) };
  });

  router.authed('post', '/v1/groups/:id/members', bodies.addMember, async ({ principal, params, body }) => {
    const { userId, username, role } = body;
    if (username !== undefined) await limits.addByUsername(principal.userId); // before anything is looked up
    const result =
      username !== undefined
        ? await chat.groups.addMemberByUsername(principal.userId, groupId(params), { username, role })
        : await chat.groups.addMember(principal.userId, groupId(params), { userId: userId!, role });
    return result === 'added' ? { status: 201, body: {} } : { status: 202, body: { status: 'invited' } satisfies HttpReply<'invited'> };
  });

  router.authed('del', '/v1/groups/:id/members/:userId', undefined, async ({ principal, params }) => {
    await chat.groups.removeMember(principal.userId, groupId(params), idParam(params.userId, 'member'));
    return { status: 204 };
  });

  router.authed('get', '/v1/groups/:id/messages', undefined, async ({ principal, params, query }) => {
    const q = parseQuery(query, historyQuery);
    const page = await chat.messages.history(principal.userId, { group: groupId(params), ...q });
    // The messages come as JSON, already counted against the reply's byte budget: joined, not serialised again.
    return { status: 200, text: `{"messages":[${page.json.join(',')}],"hasMore":${page.hasMore}}`, contentType: 'application/json' };
  });

  router.authed('post', '/v1/groups/:id/messages', bodies.postMessage, async ({ principal, params, body }) => {
    const result = await chat.messages.send(principal.userId, { group: groupId(params), ...body });
    return { status: 201, body: { group: result.group, seq: result.seq, ts: result.ts.toISOString() } satisfies HttpReply<'posted'> };
  });

  // Pins (docs/protocol.md §8 "Pins and disappearing messages"): the group as it now stands; no event when nothing changed.
  router.authed('put', '/v1/groups/:id/pins/:seq', undefined, async ({ principal, params }) => ({
    status: 200,
    body: {
      group: (await chat.pins.pin(principal.userId, groupId(params), parseParam(params.seq, seqParam, 'message'))).group,
    } satisfies HttpReply<'group'>,
  }));

  router.authed('del', '/v1/groups/:id/pins/:seq', undefined, async ({ principal, params }) => ({
    status: 200,
    body: {
      group: (await chat.pins.unpin(principal.userId, groupId(params), parseParam(params.seq, seqParam, 'message'))).group,
    } satisfies HttpReply<'group'>,
  }));

  router.authed('get', '/v1/groups/:id/messages/:seq/receipts', undefined, async ({ principal, params }) => ({
    status: 200,
    body: (await chat.messages.receipts(
      principal.userId,
      groupId(params),
      parseParam(params.seq, seqParam, 'message'),
    )) satisfies HttpReply<'receipts'>,
  }));
}
