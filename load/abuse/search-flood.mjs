// abuse `search-flood` (issue 35, 13): 5 accounts share a group of 4000 Hindi messages and each
// searches it at its search limit (SEARCH_RATE, 30 per 10 s) with non-Latin queries: substrings
// found in every message, and one found in none (the whole corpus is a candidate).

export const SEARCHERS = Array.from({ length: 5 }, (_, i) => `ab-searcher-${i}`);
const CORPUS = 4000;
const QUERIES = ['स्वयंसेवक', 'बैठक रविवार', 'पानी की बोतल', 'स्वयंसेवकोंक'];
const text = (i) => `सभी स्वयंसेवकों की बैठक रविवार को है, कृपया समय पर आएं और अपने साथ पानी की बोतल लाएं (${i})`;

/** Setup: the searchers' tokens, their group and its corpus (through the API, over 8 lanes). */
export async function prepareSearchFlood(port, { must, mintToken, secret, progress }) {
  const tokens = await Promise.all(SEARCHERS.map((u) => mintToken(secret, u)));
  for (const token of tokens) await must(port, 'GET', '/v1/me', { token });
  for (const token of tokens.slice(1)) await must(port, 'PATCH', '/v1/me', { token, body: { privacy: { groupAdd: 'everyone' } } });
  const group = (await must(port, 'POST', '/v1/groups', { token: tokens[0], body: { name: 'search corpus', members: SEARCHERS.slice(1) } }))
    .body.group.id;
  progress(`setup: ${CORPUS} Hindi messages for search-flood`);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < CORPUS; i = next++) {
      await must(port, 'POST', `/v1/groups/${group}/messages`, {
        token: tokens[i % tokens.length],
        body: { clientMsgId: `sf-${i}`, text: text(i) },
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return { tokens, group };
}

/** Each searcher at 3 searches a second (its limit) for the attack's duration. */
export async function searchFlood(ctx, { request, paced, describe, tally, abuserAddress }) {
  const statuses = {};
  const times = [];
  const inFlight = [];
  await Promise.all(
    ctx.searchFlood.tokens.map((token, k) =>
      paced(3, ctx.durationMs, 3 * ctx.durationS, (i) => {
        const q = encodeURIComponent(QUERIES[(i + k) % QUERIES.length]);
        inFlight.push(
          request(ctx.port, 'GET', `/v1/search?q=${q}&limit=20`, { token, localAddress: abuserAddress }).then((r) => {
            tally(statuses, r.status);
            times.push(r.ms);
          }),
        );
      }),
    ),
  );
  await Promise.all(inFlight);
  times.sort((a, b) => a - b);
  const p = (q) => Math.round(times[Math.max(0, Math.ceil(q * times.length) - 1)] ?? 0);
  return {
    answered: `${describe(statuses, ' HTTP')}; search p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`,
    abuser: { statuses, searches: times.length, p50: p(0.5), p99: p(0.99) },
  };
}
