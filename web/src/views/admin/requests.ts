import type { HttpReplies } from '../../../../src/client/index.js';
import { h } from '../../dom.js';
import { t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { actionButton, adminPage, liveRegion, pagedList, when } from './ui.js';

type Request = HttpReplies['requests']['requests'][number];

/** `#/c/:id/requests`: people asking to join the community or its groups, live; approve or decline. */
export function requestsView(root: HTMLElement, ctx: Ctx, communityId: string) {
  const { http, client } = ctx;
  const { error, body, refreshCounts, cleanup } = adminPage(root, ctx, communityId, t('admin.requests.title'), 'requests');
  const live = liveRegion();
  const list = h('ul', { class: 'list requests', 'data-testid': 'request-list' });
  // Names of the groups asked for; the community's own requests name its announcement group.
  const groupNames = new Map<string, string>();
  let announcementGroupId = '';
  const paged = pagedList<Request>(
    error,
    list,
    async (cursor) => {
      const page = await http.joinRequests(communityId, cursor);
      return { items: page.requests, nextCursor: page.nextCursor };
    },
    (r) => requestRow(r),
    t('admin.requests.none'),
  );

  const requestRow = (r: Request): HTMLElement => {
    const target =
      r.groupId === announcementGroupId
        ? t('admin.requests.toCommunity')
        : t('admin.requests.toGroup', { group: groupNames.get(r.groupId) ?? t('admin.requests.aGroup') });
    const decide = (approve: boolean) => async () => {
      await http.decideRequest(communityId, r.userId, approve, r.groupId === announcementGroupId ? undefined : r.groupId);
      row.remove();
      refreshCounts();
      live.textContent = approve ? t('admin.requests.approved', { name: r.name }) : t('admin.requests.declined', { name: r.name });
      if (!list.querySelector('[data-testid="request-row"]')) void paged.reload();
    };
    const row = h(
      'li',
      { class: 'request', 'data-testid': 'request-row' },
      h('div', { class: 'who' }, h('span', { class: 'name' }, r.name), h('span', { class: 'meta' }, target, ' · ', when(r.createdAt))),
      h(
        'div',
        { class: 'actions' },
        actionButton(error, t('admin.requests.approve'), decide(true), {
          class: 'small primary',
          'aria-label': t('admin.requests.approveWho', { name: r.name }),
        }),
        actionButton(error, t('admin.requests.decline'), decide(false), {
          class: 'small',
          'aria-label': t('admin.requests.declineWho', { name: r.name }),
        }),
      ),
    );
    return row;
  };

  body.replaceChildren(live, paged.element);
  const start = async () => {
    try {
      const [detail, overview] = await Promise.all([http.community(communityId), http.communityOverview(communityId)]);
      announcementGroupId = detail.community.announcementGroupId;
      for (const g of overview.groups) groupNames.set(g.id, g.name);
    } catch {
      // Names are a nicety: the list still loads (and shows its error) below.
    }
    await paged.reload();
  };
  void start();
  const off = client.on('join_request', (f) => {
    if (f.community !== communityId) return;
    live.textContent = t('admin.requests.new', { name: f.user.name });
    void paged.reload();
  });
  return () => {
    off();
    cleanup();
  };
}
