import { idParam, parseParam, type HttpRouter } from '../../gateway/http.js';
import { seqParam } from '../../protocol/http-bodies.js';
import type { HttpReply } from '../../protocol/http-replies.js';
import type { Pins } from './pins.js';

const groupId = (params: { id: string }) => idParam(params.id, 'group');

export function pinRoutes(router: HttpRouter, pins: Pins) {
  // Pins (docs/protocol.md §8 "Pins and disappearing messages"): the group as it now stands; no event when nothing changed.
  router.authed('put', '/v1/groups/:id/pins/:seq', undefined, { 200: 'group' }, async ({ principal, params }) => ({
    status: 200,
    body: {
      group: (await pins.pin(principal.userId, groupId(params), parseParam(params.seq, seqParam, 'message'))).group,
    } satisfies HttpReply<'group'>,
  }));

  router.authed('del', '/v1/groups/:id/pins/:seq', undefined, { 200: 'group' }, async ({ principal, params }) => ({
    status: 200,
    body: {
      group: (await pins.unpin(principal.userId, groupId(params), parseParam(params.seq, seqParam, 'message'))).group,
    } satisfies HttpReply<'group'>,
  }));
}
