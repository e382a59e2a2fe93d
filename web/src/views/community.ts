import type { HttpReplies } from '../../../src/client/index.js';
import { badge, h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { formatDateTime, t } from '../i18n/index.js';
import type { Ctx } from '../main.js';
import { announcementsSection } from './admin/announcements.js';
import { inviteButton } from './admin/settings.js';
import {
  actionButton,
  adminNav,
  communityHash,
  field,
  memberCount,
  pagedList,
  type Visibility,
  visibilityChoice,
  visibilityLabel,
  visibilityOf,
  visibilitySettings,
} from './admin/ui.js';

type Detail = HttpReplies['communityDetail'];
type CommunityGroup = Detail['groups'][number];
type OverviewGroup = HttpReplies['communityOverview']['groups'][number];

const groupHash = (id: string) => `#/g/${encodeURIComponent(id)}`;

/**
 * A community: its announcement group on top and its groups, with Join buttons for those a member
 * may join. Its admins also get the coordinator's overview: their sections (members, requests,
 * reports, settings), the announcement composer with each announcement's reach, every group with
 * its member count, visibility and last activity, a form to add groups and an invite link.
 */
export function communityView(root: HTMLElement, ctx: Ctx, communityId: string) {
  const { client, http } = ctx;
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const body = h('div', {}, h('p', { class: 'loading' }, t('common.loading')));
  const title = h('h1', {}, t('community.title'));
  replace(root, h('header', { class: 'top' }, link('#/', { class: 'back', 'aria-label': t('admin.back.home') }, '‹'), title), error, body);

  // Listeners of the admin's parts, made once the community has loaded: a view left before then
  // runs them at once.
  const cleanups: (() => void)[] = [];
  let closed = false;
  const onClose = (cleanup: () => void) => (closed ? cleanup() : cleanups.push(cleanup));
  let redraw = () => {};

  const start = async () => {
    const detail = await http.community(communityId);
    const { community } = detail;
    title.textContent = community.name;
    const isAdmin = detail.role === 'owner' || detail.role === 'admin';
    const announcementRow = h('div');
    const drawAnnouncementRow = () =>
      replace(
        announcementRow,
        link(
          groupHash(community.announcementGroupId),
          { class: 'row announcement', 'data-testid': 'announcement-row' },
          h('span', { class: 'name' }, '📣 ', t('community.announcements')),
          badge(client.group(community.announcementGroupId)?.unread ?? 0),
        ),
      );
    const groups = isAdmin ? adminGroups(ctx, communityId, error) : memberGroups(ctx, detail, error);
    redraw = () => {
      drawAnnouncementRow();
      groups.redraw();
    };
    drawAnnouncementRow();
    let announce: ReturnType<typeof announcementsSection> | undefined;
    let nav: ReturnType<typeof adminNav> | undefined;
    if (isAdmin) {
      nav = adminNav(ctx, communityId, 'overview');
      onClose(nav.cleanup);
      announce = announcementsSection(ctx, communityId, community.announcementGroupId, error);
      onClose(announce.cleanup);
    }
    const inviteOut = h('div', { class: 'invite' });
    replace(
      body,
      community.description ? h('p', { class: 'description' }, community.description) : null,
      nav?.element,
      announcementRow,
      announce?.element,
      groups.element,
      isAdmin ? newGroupForm(ctx, communityId, error, () => groups.reload()) : null,
      isAdmin
        ? h(
            'section',
            { class: 'card admin', 'aria-labelledby': 'invite-title' },
            h('h2', { id: 'invite-title' }, t('admin.invite.title')),
            h('div', { class: 'actions' }, inviteButton(ctx, communityId, error, inviteOut)),
            inviteOut,
          )
        : null,
    );
    if (isAdmin) root.classList.add('admin-view');
    await groups.reload();
  };

  start().catch((err: unknown) => {
    body.replaceChildren();
    error.textContent = describeError(err);
  });
  const offs = [client.on('unread', () => redraw()), client.on('group', () => redraw()), client.on('ready', () => redraw())];
  return () => {
    closed = true;
    for (const off of [...offs, ...cleanups]) off();
  };
}

/** The groups a member is in (links) and may join (Join / Ask to join): `role: null` summaries. */
function memberGroups(ctx: Ctx, detail: Detail, error: HTMLElement) {
  const { client, http } = ctx;
  const communityId = detail.community.id;
  const requested = new Set<string>();
  const list = h('ul', { class: 'list', 'data-testid': 'group-list' });
  let firstPage = true;

  const drawRow = (g: CommunityGroup, li: HTMLElement) => {
    const name = h('span', { class: 'name' }, '# ', g.name);
    const count = h('span', { class: 'meta' }, memberCount(g.memberCount));
    if (client.group(g.id)) {
      const mine = client.group(g.id)!;
      replace(li, link(groupHash(g.id), { class: 'row', 'data-testid': 'group-row' }, name, count, badge(mine.unread)));
      return;
    }
    const approval = g.role === null && g.join === 'approval';
    replace(
      li,
      h(
        'div',
        { class: 'row', 'data-testid': 'joinable-row' },
        name,
        count,
        requested.has(g.id)
          ? h('span', { class: 'meta', role: 'status', 'data-testid': 'requested' }, t('community.requested'))
          : actionButton(
              error,
              approval ? t('community.askToJoin') : t('community.join'),
              async () => {
                await http.joinCommunityGroup(communityId, g.id);
                if (approval) {
                  requested.add(g.id);
                  drawRow(g, li);
                } else ctx.navigate(groupHash(g.id));
              },
              {
                class: 'small',
                'data-testid': approval ? 'ask-to-join' : 'join',
                'aria-label': approval ? t('community.askToJoinGroup', { name: g.name }) : t('community.joinGroup', { name: g.name }),
              },
            ),
      ),
    );
  };

  return groupsSection<CommunityGroup>(
    error,
    list,
    async (cursor) => {
      // The community's own reply carries the first page (after its announcement group).
      if (!cursor && firstPage) {
        firstPage = false;
        return { items: detail.groups.filter((g) => g.id !== detail.community.announcementGroupId), nextCursor: detail.nextCursor };
      }
      const page = cursor ? await http.communityGroups(communityId, cursor) : await http.community(communityId);
      return { items: page.groups.filter((g) => g.id !== detail.community.announcementGroupId), nextCursor: page.nextCursor };
    },
    {},
    drawRow,
  );
}

/** The community's groups as a paged list whose rows can all be drawn again (`redraw`: unread counts changed). */
function groupsSection<G extends { id: string }>(
  error: HTMLElement,
  list: HTMLElement,
  load: (cursor: string | undefined) => Promise<{ items: G[]; nextCursor: string | null }>,
  rowAttributes: Record<string, string>,
  drawRow: (g: G, li: HTMLElement) => void,
) {
  const rows = new Map<string, { item: G; li: HTMLElement }>();
  const paged = pagedList<G>(
    error,
    list,
    load,
    (g) => {
      const li = h('li', rowAttributes);
      rows.set(g.id, { item: g, li });
      drawRow(g, li);
      return li;
    },
    t('community.noGroups'),
  );
  return {
    element: h('section', { 'aria-labelledby': 'groups-title' }, h('h2', { id: 'groups-title' }, t('community.groups')), paged.element),
    reload: paged.reload,
    redraw: () => {
      for (const { item, li } of rows.values()) drawRow(item, li);
    },
  };
}

/** Every group of the community for its admins: members, visibility, last activity, Manage. */
function adminGroups(ctx: Ctx, communityId: string, error: HTMLElement) {
  const { client, http } = ctx;
  const list = h('ul', { class: 'list overview', 'data-testid': 'overview-list' });
  const drawRow = (g: OverviewGroup, li: HTMLElement) => {
    const mine = client.group(g.id);
    const visibility = visibilityOf(g.settings);
    replace(
      li,
      h(
        'div',
        { class: 'who' },
        mine ? link(groupHash(g.id), { class: 'name' }, '# ', g.name) : h('span', { class: 'name' }, '# ', g.name),
        mine ? badge(mine.unread) : null,
        h(
          'span',
          { class: 'meta' },
          h('span', { class: `visibility visibility-${visibility}` }, visibilityLabel(visibility)),
          ' · ',
          memberCount(g.memberCount),
          ' · ',
          g.lastActivityAt ? t('admin.overview.active', { when: formatDateTime(new Date(g.lastActivityAt)) }) : t('admin.overview.quiet'),
        ),
      ),
      h(
        'div',
        { class: 'actions' },
        link(
          communityHash(communityId, `g/${encodeURIComponent(g.id)}`),
          { class: 'button small', 'aria-label': t('admin.overview.manageGroup', { name: g.name }), 'data-testid': 'manage' },
          t('admin.overview.manage'),
        ),
      ),
    );
  };
  return groupsSection<OverviewGroup>(
    error,
    list,
    async (cursor) => {
      const page = await http.communityOverview(communityId, cursor);
      return { items: page.groups, nextCursor: page.nextCursor };
    },
    { class: 'overview-group', 'data-testid': 'overview-group' },
    drawRow,
  );
}

/** Adds a group to the community; open by default, so members see it and can join. */
function newGroupForm(ctx: Ctx, communityId: string, error: HTMLElement, added: () => Promise<void>) {
  const name = h('input', { required: true, maxlength: 128, 'data-testid': 'new-group-name' });
  const visibility = visibilityChoice('new-group-visibility', 'open' satisfies Visibility);
  const done = h('p', { class: 'notice', role: 'status' });
  const form = h(
    'form',
    {
      class: 'card admin',
      'aria-labelledby': 'new-group-title',
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        error.textContent = '';
        const groupName = name.value.trim();
        if (!groupName) return;
        try {
          await ctx.http.createCommunityGroup(communityId, { name: groupName, settings: visibilitySettings(visibility.value()) });
          form.reset(); // back to an open group
          done.textContent = t('admin.newGroup.created', { name: groupName });
          await added();
        } catch (err) {
          error.textContent = describeError(err);
        }
      },
    },
    h('h2', { id: 'new-group-title' }, t('admin.newGroup.title')),
    field(t('admin.newGroup.name'), name),
    visibility.element,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'add-group' }, t('admin.newGroup.add'))),
    done,
  );
  return form;
}
