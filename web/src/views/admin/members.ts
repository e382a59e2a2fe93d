import type { HttpReplies } from '../../../../src/client/index.js';
import { h } from '../../dom.js';
import { t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { actionButton, adminPage, confirmButton, muteControls, pagedList, roleLabel, when } from './ui.js';

type Member = HttpReplies['members']['members'][number];

/** `#/c/:id/members`: the member directory, searched by name; promote, demote, remove, ban. */
export function membersView(root: HTMLElement, ctx: Ctx, communityId: string) {
  const { http } = ctx;
  const { error, body, cleanup } = adminPage(root, ctx, communityId, t('admin.members.title'), 'members');
  const search = h('input', {
    type: 'search',
    id: 'member-search',
    maxlength: 64,
    'aria-describedby': 'member-search-hint',
    autocomplete: 'off',
    placeholder: t('admin.members.searchPlaceholder'),
    'data-testid': 'member-search',
  });
  const list = h('ul', { class: 'list members', 'data-testid': 'member-list' });
  let announcementGroupId: string | undefined;
  const paged = pagedList<Member>(
    error,
    list,
    async (cursor) => {
      announcementGroupId ??= (await http.community(communityId)).community.announcementGroupId;
      // The server searches from 3 characters (its name index); fewer list everyone.
      const q = search.value.trim().length >= 3 ? search.value.trim() : '';
      const page = await http.communityMembers(communityId, { ...(q ? { q } : {}), ...(cursor ? { cursor } : {}), limit: 50 });
      return { items: page.members, nextCursor: page.nextCursor };
    },
    (m) => memberRow(m),
    t('admin.members.none'),
  );

  const memberRow = (m: Member): HTMLElement => {
    const name = m.name ?? m.userId;
    const mine = m.userId === ctx.session.user.id;
    const actions: HTMLElement[] =
      m.role === 'owner' || mine
        ? []
        : [
            m.role === 'admin'
              ? actionButton(
                  error,
                  t('admin.members.demote'),
                  async () => {
                    await http.setCommunityAdmin(communityId, m.userId, false);
                    row.replaceWith(memberRow({ ...m, role: 'member' }));
                  },
                  { class: 'small', 'aria-label': t('admin.members.demoteWho', { name }) },
                )
              : actionButton(
                  error,
                  t('admin.members.promote'),
                  async () => {
                    await http.setCommunityAdmin(communityId, m.userId, true);
                    row.replaceWith(memberRow({ ...m, role: 'admin' }));
                  },
                  { class: 'small', 'aria-label': t('admin.members.promoteWho', { name }) },
                ),
            confirmButton(
              error,
              t('admin.members.remove'),
              t('admin.members.confirmRemove', { name }),
              async () => {
                await http.removeFromCommunity(communityId, m.userId);
                row.remove();
              },
              { class: 'small', 'data-testid': 'remove' },
            ),
            confirmButton(
              error,
              t('admin.members.ban'),
              t('admin.members.confirmBan', { name }),
              async () => {
                await http.ban(communityId, m.userId);
                row.remove();
              },
              { class: 'small', 'data-testid': 'ban' },
            ),
          ];
    // Plain members can be muted in the announcements (admins cannot be muted in their community).
    const status = h('span', { class: 'meta', role: 'status' });
    if (m.role === 'member' && !mine && announcementGroupId) {
      actions.unshift(...muteControls(ctx, error, announcementGroupId, { id: m.userId, name }, status, 'announcements'));
    }
    const row = h(
      'li',
      { class: 'member', 'data-testid': 'member-row', 'data-user': m.userId },
      h(
        'div',
        { class: 'who' },
        h('span', { class: 'name' }, name),
        h('span', { class: `role role-${m.role}` }, roleLabel(m.role)),
        h('span', { class: 'meta' }, t('admin.members.joined'), ' ', when(m.joinedAt)),
        status,
      ),
      actions.length ? h('div', { class: 'actions' }, actions) : null,
    );
    return row;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void paged.reload(), 250);
  });
  body.replaceChildren(
    h(
      'form',
      {
        class: 'search-members',
        role: 'search',
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          void paged.reload();
        },
      },
      h('label', { for: 'member-search' }, t('admin.members.search')),
      search,
      h('span', { class: 'hint', id: 'member-search-hint' }, t('admin.members.searchHint')),
    ),
    h('p', { class: 'hint' }, t('admin.members.muteHint')),
    paged.element,
  );
  void paged.reload();
  return () => {
    clearTimeout(timer);
    cleanup();
  };
}
