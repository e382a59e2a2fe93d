import { badge, h, link } from '../dom.js';
import { formatWhen, t } from '../i18n/index.js';
import type { Preview, SavedGroup } from '../offline.js';

// The home screen's rows: a group with its last message and unread count, a community with its
// role and unread count.

export type GroupRowData = SavedGroup & { unread: number; lastSeq?: number };

/** One group's row: its name (`title`), "Asha: " and its last message, when, unread. */
export function groupRow(g: GroupRowData, title: string, preview: Preview | undefined, senderPrefix: string): HTMLElement {
  return h(
    'li',
    { 'data-group': g.id },
    link(
      `#/g/${encodeURIComponent(g.id)}`,
      { class: `row${g.unread > 0 ? ' unread' : ''}`, 'data-testid': 'group-row' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, g.kind === 'direct' ? '👤' : g.kind === 'announcement' ? '📣' : '#'),
      h(
        'span',
        { class: 'name stack' },
        h('span', { class: 'title', dir: 'auto' }, title),
        preview ? h('span', { class: 'preview', dir: 'auto', 'data-testid': 'preview' }, senderPrefix, preview.text) : null,
      ),
      h('span', { class: 'side' }, preview ? h('time', { datetime: preview.ts }, formatWhen(new Date(preview.ts))) : null, badge(g.unread)),
    ),
  );
}

export interface CommunityRowData {
  id: string;
  name: string;
  role: string;
}

/** The user's communities, each with their role (when not a member) and unread count. */
export function communityRows(communities: CommunityRowData[], unreadOf: (communityId: string) => number): HTMLElement {
  if (communities.length === 0) return h('p', { class: 'empty' }, t('home.noCommunities'));
  return h(
    'ul',
    { class: 'list' },
    communities.map((c) =>
      h(
        'li',
        {},
        link(
          `#/c/${encodeURIComponent(c.id)}`,
          { class: 'row', 'data-testid': 'community-row' },
          h('span', { class: 'avatar', 'aria-hidden': 'true' }, '🏘️'),
          h('span', { class: 'name stack' }, h('span', { class: 'title', dir: 'auto' }, c.name)),
          h(
            'span',
            { class: 'side' },
            c.role !== 'member' ? h('span', { class: 'role' }, t(c.role === 'owner' ? 'home.role.owner' : 'home.role.admin')) : null,
            badge(unreadOf(c.id)),
          ),
        ),
      ),
    ),
  );
}

/** "Asha: " before a group's last message; nothing in a direct chat for the other's own words. */
export function senderPrefix(
  kind: GroupRowData['kind'],
  sender: string,
  me: string,
  names: { of(id: string, fallback?: string): string },
): string {
  if (kind === 'direct' && sender !== me) return '';
  const name = names.of(sender, '');
  return name ? `${name}: ` : '';
}
