import { idParam, parseParam, parseQuery, type HttpRouter } from '../../gateway/http.js';
import { historyQuery, seqParam, type HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { Messages } from './messages.js';

const groupId = (params: { id: string }) => idParam(params.id, 'group');

/** docs/protocol.md §8: a group's messages over HTTP and a message's receipts. */
export function messageRoutes(router: HttpRouter, messages: Messages, bodies: HttpBodies) {
  router.authed(
    'get',
    '/v1/groups/:id/messages',
    undefined,
    { 200: 'messages', query: historyQuery },
    async ({ principal, params, query }) => {
      const q = parseQuery(query, historyQuery);
      const page = await messages.history(principal.userId, { group: groupId(params), ...q });
      // The messages come as JSON, already counted against the reply's byte budget: joined, not serialised again.
      return { status: 200, text: `{"messages":[${page.json.join(',')}],"hasMore":${page.hasMore}}`, contentType: 'application/json' };
    },
  );

  router.authed('post', '/v1/groups/:id/messages', bodies.postMessage, { 201: 'posted' }, async ({ principal, params, body }) => {
    const result = await messages.send(principal.userId, { group: groupId(params), ...body });
    return { status: 201, body: { group: result.group, seq: result.seq, ts: result.ts.toISOString() } satisfies HttpReply<'posted'> };
  });

  router.authed('get', '/v1/groups/:id/messages/:seq/receipts', undefined, { 200: 'receipts' }, async ({ principal, params }) => ({
    status: 200,
    body: (await messages.receipts(
      principal.userId,
      groupId(params),
      parseParam(params.seq, seqParam, 'message'),
    )) satisfies HttpReply<'receipts'>,
  }));
}
