import type { Polls } from './polls.js';
import { answersQuery, seqParam, type HttpBodies } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import { idParam, parseParam, parseQuery, type HttpRouter } from '../../gateway/http.js';

const target = (params: { id: string; seq: string }) => ({
  group: idParam(params.id, 'group'),
  target: parseParam(params.seq, seqParam, 'message'),
});

const answered = (r: { group: string; seq?: number; ts?: Date }): HttpReply<'answered'> => ({
  group: r.group,
  ...(r.seq !== undefined && r.ts ? { seq: r.seq, ts: r.ts.toISOString() } : {}),
});

const flag = (v: 'true' | 'false' | undefined) => (v === undefined ? undefined : v === 'true');
const pageOf = (q: { cursor?: string | undefined; limit: number }) => ({ limit: q.limit, after: q.cursor });

/** docs/protocol.md §8 "Polls and events": polls and events — answers, their counts, closing a poll. */
export function pollRoutes(router: HttpRouter, polls: Polls, bodies: HttpBodies) {
  router.authed('post', '/v1/groups/:id/messages/:seq/vote', bodies.vote, { 200: 'answered' }, async ({ principal, params, body }) => ({
    status: 200,
    body: answered(await polls.vote(principal.userId, { ...target(params), options: body.options })),
  }));

  router.authed('post', '/v1/groups/:id/messages/:seq/rsvp', bodies.rsvp, { 200: 'answered' }, async ({ principal, params, body }) => ({
    status: 200,
    body: answered(await polls.rsvp(principal.userId, { ...target(params), answer: body.answer })),
  }));

  router.authed('post', '/v1/groups/:id/messages/:seq/close', undefined, { 200: 'answered' }, async ({ principal, params }) => {
    const { group, target: seq } = target(params);
    return { status: 200, body: answered(await polls.close(principal.userId, group, seq)) };
  });

  router.authed(
    'get',
    '/v1/groups/:id/messages/:seq/votes',
    undefined,
    { 200: 'votes', query: answersQuery },
    async ({ principal, params, query }) => {
      const { group, target: seq } = target(params);
      const q = parseQuery(query, answersQuery);
      return {
        status: 200,
        body: (await polls.votes(principal.userId, group, seq, flag(q.voters), pageOf(q))) satisfies HttpReply<'votes'>,
      };
    },
  );

  router.authed(
    'get',
    '/v1/groups/:id/messages/:seq/rsvps',
    undefined,
    { 200: 'rsvps', query: answersQuery },
    async ({ principal, params, query }) => {
      const { group, target: seq } = target(params);
      const q = parseQuery(query, answersQuery);
      return {
        status: 200,
        body: (await polls.rsvps(principal.userId, group, seq, flag(q.users), pageOf(q))) satisfies HttpReply<'rsvps'>,
      };
    },
  );
}
