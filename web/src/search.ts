import { h, replace } from './dom.js';
import { describeError } from './errors.js';
import { formatWhen, t } from './i18n/index.js';
import type { Ctx } from './main.js';

// Search (docs/protocol.md §8 "Search"): a box over all the user's groups (home) or one group (conversation);
// a result opens its conversation at that message (`#/g/<group>/<seq>`).

type Result = Awaited<ReturnType<Ctx['http']['search']>>['results'][number];

export const messageHref = (group: string, seq: number) => `#/g/${encodeURIComponent(group)}/${seq}`;

const when = (ts: string) => formatWhen(new Date(ts));

/** Announcement members may not list each other: a sender not known shows as the community. */
const announcer = (group: string, ctx: Ctx) => {
  const g = ctx.client.group(group);
  return g?.kind === 'announcement' ? `📣 ${g.name}` : undefined;
};

export function searchBox(ctx: Ctx, scope: { group?: string } = {}): HTMLElement {
  const input = h('input', {
    type: 'search',
    placeholder: scope.group ? t('search.group') : t('search.all'),
    'aria-label': scope.group ? t('search.group') : t('search.all'),
    'data-testid': 'search-input',
    maxlength: 200,
    enterkeyhint: 'search',
  });
  const results = h('div', { class: 'search-results', 'data-testid': 'search-results', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'search', role: 'search' },
    input,
    h('button', { type: 'submit', class: 'small' }, t('search.submit')),
    results,
  );
  let query = '';
  let run = 0;

  const row = (r: Result) =>
    h(
      'li',
      {},
      h(
        'a',
        { href: messageHref(r.group, r.seq), class: 'row result', 'data-testid': 'search-result' },
        h(
          'span',
          { class: 'meta' },
          scope.group ? null : h('span', { class: 'group' }, ctx.client.group(r.group)?.name ?? t('search.aGroup')),
          h('span', { class: 'sender', dir: 'auto' }, ctx.names.of(r.sender, announcer(r.group, ctx))),
          h('time', { datetime: r.ts }, when(r.ts)),
        ),
        h('span', { class: 'snippet', dir: 'auto' }, r.snippet),
      ),
    );

  const search = async (cursor?: string) => {
    const mine = ++run;
    const list = cursor ? results.querySelector('ul') : null;
    if (!cursor) replace(results, h('p', { class: 'hint' }, t('search.searching')));
    try {
      const page = await ctx.http.search(query, { ...scope, ...(cursor ? { cursor } : {}), limit: 20 });
      // Senders' names come from the member lists of the groups found (once per group).
      await Promise.all([...new Set(page.results.map((r) => r.group))].map((g) => ctx.names.loadGroup(g).catch(() => undefined)));
      if (mine !== run) return; // a newer search replaced this one
      results.querySelector('.more')?.remove();
      const more = page.nextCursor
        ? h(
            'button',
            { type: 'button', class: 'small link more', onclick: () => void search(page.nextCursor ?? undefined) },
            t('search.more'),
          )
        : null;
      if (list) list.append(...page.results.map(row));
      else
        replace(
          results,
          page.results.length === 0
            ? h('p', { class: 'empty' }, t('search.none', { query }))
            : h('ul', { class: 'list' }, page.results.map(row)),
        );
      if (more) results.append(more);
    } catch (err) {
      if (mine === run) replace(results, h('p', { class: 'error', role: 'alert' }, describeError(err)));
    }
  };

  form.onsubmit = (e) => {
    e.preventDefault();
    query = input.value.trim();
    if (query) void search();
    else replace(results);
  };
  input.addEventListener('search', () => !input.value && replace(results)); // the clear (×) button
  return form;
}
