import type { HttpReplies } from '../../../../src/client/index.js';
import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { actionButton, when } from './ui.js';

type Stats = HttpReplies['stats'];

/** How many recent announcements show their reach. */
const RECENT = 5;

/**
 * The announcement composer and the reach of the latest announcements under it: members, delivered
 * (a socket got it), notified (a push or webhook was accepted), read. Live from `stats` frames.
 */
export function announcementsSection(ctx: Ctx, communityId: string, groupId: string, error: HTMLElement) {
  const { http, client } = ctx;
  const text = h('textarea', {
    id: 'announcement-text',
    rows: 3,
    maxlength: 4096,
    placeholder: t('admin.announce.placeholder'),
    'data-testid': 'announcement-text',
  });
  const list = h('ol', { class: 'list announcements', 'data-testid': 'announcement-list' });
  const reach = new Map<number, HTMLElement>();
  const seen = new Set<number>();

  const drawStats = (s: Pick<Stats, 'seq' | 'members' | 'delivered' | 'notified' | 'read'>) => {
    const el = reach.get(s.seq);
    if (!el) return;
    const pct = (n: number) => (s.members > 0 ? Math.round((100 * n) / s.members) : 0);
    replace(
      el,
      h('span', { 'data-testid': 'reach-delivered' }, t('admin.reach.delivered', { n: s.delivered, pct: pct(s.delivered) })),
      h('span', { 'data-testid': 'reach-notified' }, t('admin.reach.notified', { n: s.notified })),
      h('span', { 'data-testid': 'reach-read' }, t('admin.reach.read', { n: s.read, pct: pct(s.read) })),
      h('span', { 'data-testid': 'reach-members' }, t('admin.reach.members', { n: s.members })),
    );
    el.setAttribute('aria-label', t('admin.reach.summary', { read: s.read, members: s.members }));
  };

  const addRow = (m: { seq: number; ts: string; text: string | null }, atTop: boolean) => {
    if (seen.has(m.seq)) return;
    seen.add(m.seq);
    const stats = h('p', { class: 'reach', 'data-testid': 'reach' }, t('common.loading'));
    reach.set(m.seq, stats);
    const row = h(
      'li',
      { class: 'announcement-item', 'data-testid': 'announcement-item', 'data-seq': m.seq },
      h('p', { class: 'text' }, m.text ?? h('em', {}, t('admin.announce.deleted'))),
      h('p', { class: 'meta' }, when(m.ts)),
      stats,
    );
    list.querySelector('.empty')?.remove();
    if (atTop) list.prepend(row);
    else list.append(row);
    while (list.children.length > RECENT) {
      const last = list.lastElementChild as HTMLElement;
      reach.delete(Number(last.dataset.seq));
      last.remove();
    }
    http.messageStats(groupId, m.seq).then(
      (s) => drawStats(s),
      () => (stats.textContent = t('admin.reach.unavailable')),
    );
  };

  const load = async () => {
    try {
      const page = await http.history(groupId, { limit: RECENT });
      list.replaceChildren();
      if (page.messages.length === 0) list.append(h('li', { class: 'empty' }, t('admin.announce.none')));
      for (const m of page.messages) if (!m.deleted) addRow(m, false);
    } catch (err) {
      error.textContent = describeError(err);
    }
  };

  const button = actionButton(
    error,
    t('admin.announce.send'),
    async (b) => {
      const body = text.value.trim();
      if (!body) return;
      const posted = await http.announce(communityId, { clientMsgId: crypto.randomUUID(), text: body });
      text.value = '';
      addRow({ seq: posted.seq, ts: posted.ts, text: body }, true);
      b.textContent = t('admin.announce.sent');
      setTimeout(() => (b.textContent = t('admin.announce.send')), 2000);
    },
    { class: 'primary', 'data-testid': 'announce' },
  );

  const element = h(
    'section',
    { class: 'card admin announce', 'aria-labelledby': 'announce-title' },
    h('h2', { id: 'announce-title' }, t('admin.announce.title')),
    h('label', { for: 'announcement-text', class: 'visually-hidden' }, t('admin.announce.label')),
    text,
    h('div', { class: 'actions' }, button),
    h('h3', {}, t('admin.announce.recent')),
    list,
  );
  void load();
  const offs = [
    client.on('stats', (s) => {
      if (s.group === groupId) drawStats(s);
    }),
    // Announcements posted elsewhere (another admin, a backend service) appear too.
    client.on('event', (e) => {
      if (e.group === groupId && e.kind === 'message') addRow({ seq: e.seq, ts: e.ts, text: e.text }, true);
    }),
  ];
  return {
    element,
    cleanup: () => {
      for (const off of offs) off();
    },
  };
}
