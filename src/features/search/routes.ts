import { z } from 'zod';
import type { Search } from './search.js';
import { id, storableString } from '../../protocol/limits.js';
import { parseQuery, type HttpRouter } from '../../gateway/http.js';
import type { RateLimits } from '../../gateway/rate-limits.js';

const searchQuery = z.object({
  q: storableString().trim().min(1, 'must not be empty').max(200),
  group: id.optional(),
  community: id.optional(),
  cursor: storableString().min(1).max(512).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});

/** docs/protocol.md §8 "Search": `GET /v1/search`, at most SEARCH_RATE per user. */
export function searchRoutes(router: HttpRouter, search: Search, limits: Pick<RateLimits, 'search'>) {
  router.authed('get', '/v1/search', undefined, { 200: 'search', query: searchQuery }, async ({ principal, query }) => {
    const q = parseQuery(query, searchQuery);
    await limits.search(principal.userId);
    return { status: 200, body: await search.search(principal.userId, q) };
  });
}
