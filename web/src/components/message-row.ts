import type { TimelineItem } from '../../../src/client/index.js';
import { h, replace } from '../dom.js';
import type { Attachment } from '../files.js';
import { formatDateTime, formatTime, t } from '../i18n/index.js';
import { messageText } from '../message-text.js';
import { type Answer, eventView, pollView } from '../poll-event.js';

// One row of the conversation: a message (sender, time, marks, quote, text, files, poll or event,
// reactions, actions, reach) or a line about the group. Drawn from one timeline entry and what
// the row needs to know around it; redrawn whole when that entry changes.

/** What a row needs from around it. */
export interface RowContext {
  me: string;
  groupId: string;
  /** The message opened at (a search result), highlighted. */
  focusSeq?: number;
  names: { of(id: string, fallback?: string): string; nameOf(id: string): string | undefined };
  /** Who announcements are from when their sender's name cannot be known. */
  announcer(): string | undefined;
  /** Another entry (the message a reply answers). */
  item(seq: number): TimelineItem | undefined;
  isPinned(seq: number): boolean;
  myReaction(seq: number): string | undefined;
  reach(seq: number): { delivered: number; notified: number; read: number; members: number } | undefined;
  files: { render(list: Attachment[]): HTMLElement | null };
  /** The buttons under a message when its "⋯" opens. */
  actions(item: TimelineItem): HTMLElement[];
  toggleReaction(seq: number, emoji: string): void;
  vote(seq: number, options: number[]): void;
  answer(seq: number, answer: Answer | null): void;
  /** Scrolls to a loaded row (false when it is not loaded, and the link should open it). */
  scrollTo(seq: number, highlight: boolean): boolean;
}

const actionKey = {
  added: 'conv.member.added',
  removed: 'conv.member.removed',
  joined: 'conv.member.joined',
  left: 'conv.member.left',
  promoted: 'conv.member.promoted',
  demoted: 'conv.member.demoted',
} as const;

/** The same lines about the user themself ("You were added"). */
const yourActionKey = {
  added: 'conv.you.added',
  removed: 'conv.you.removed',
  joined: 'conv.you.joined',
  left: 'conv.you.left',
  promoted: 'conv.you.promoted',
  demoted: 'conv.you.demoted',
} as const;

/** A message's text shortened to one line (a quote, a pin, the reply bar). */
export const snippet = (text: string | null, max = 80) => {
  if (text === null) return t('conv.deleted');
  const plain = text
    .replace(/^(> .*\n)+/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
};

/** A membership or rename line as text. */
export function noticeText(item: TimelineItem, ctx: Pick<RowContext, 'me' | 'names'>): string {
  const notice = item.notice;
  if (!notice) return '';
  if (notice.kind === 'renamed') return t('conv.renamed', { name: ctx.names.of(notice.by), title: notice.name });
  return notice.member === ctx.me ? t(yourActionKey[notice.action]) : t(actionKey[notice.action], { name: ctx.names.of(notice.member) });
}

export function messageRow(item: TimelineItem, ctx: RowContext): HTMLElement {
  if (item.notice) return h('p', { class: 'system', 'data-seq': item.seq }, noticeText(item, ctx));
  const fromMe = item.sender === ctx.me;
  const mentionsMe = item.mentions.includes(ctx.me);
  const sender = ctx.names.of(item.sender, ctx.announcer());
  const actions = h('div', { class: 'actions', hidden: true, 'data-testid': 'actions' });
  const actionsButton = h(
    'button',
    {
      type: 'button',
      class: 'link more',
      'aria-expanded': 'false',
      'aria-label': t('conv.actions', { name: sender }),
      'data-testid': 'message-actions',
      onclick: () => {
        actions.hidden = !actions.hidden;
        actionsButton.setAttribute('aria-expanded', String(!actions.hidden));
        if (!actions.hidden) replace(actions, ctx.actions(item));
      },
    },
    '⋯',
  );
  const shown = item.text !== null;
  return h(
    'article',
    {
      class: `message${fromMe ? ' mine' : ''}${mentionsMe ? ' mentions-me' : ''}${item.seq === ctx.focusSeq ? ' highlight' : ''}`,
      'data-seq': item.seq,
      'data-testid': 'message',
    },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'sender', dir: 'auto' }, sender),
      ' ',
      h('time', { datetime: item.ts }, formatTime(new Date(item.ts))),
      item.edited ? ` · ${t('conv.edited')}` : '',
      item.expiresAt && shown
        ? h('span', { class: 'expires', title: t('conv.expiresAt', { when: formatDateTime(new Date(item.expiresAt)) }) }, ' ⏳')
        : null,
      ctx.isPinned(item.seq) ? h('span', { class: 'pinned-mark', title: t('conv.pinned') }, ' 📌') : null,
      shown ? actionsButton : null,
    ),
    item.replyTo ? quoteOf(item.replyTo, ctx) : null,
    h(
      'div',
      { class: 'text', dir: 'auto' },
      shown
        ? messageText(
            item.text ?? '',
            item.mentions.map((id) => ctx.names.nameOf(id) ?? ''),
          )
        : h('em', {}, item.expired ? t('conv.expired') : t('conv.deleted')),
    ),
    shown ? ctx.files.render(item.attachments) : null,
    shown && item.poll ? pollView(item.poll, (options) => ctx.vote(item.seq, options)) : null,
    shown && item.event ? eventView(item.event, (a) => ctx.answer(item.seq, a)) : null,
    reactionChips(item, ctx),
    actions,
    reachLine(item.seq, ctx),
  );
}

function reactionChips(item: TimelineItem, ctx: RowContext): HTMLElement | null {
  const reactions = Object.entries(item.reactions).filter(([, n]) => n > 0);
  if (!reactions.length) return null;
  const mine = ctx.myReaction(item.seq);
  return h(
    'div',
    { class: 'reactions', 'data-testid': 'reactions' },
    reactions.map(([emoji, count]) =>
      h(
        'button',
        {
          type: 'button',
          class: `chip${mine === emoji ? ' on' : ''}`,
          'aria-pressed': String(mine === emoji),
          'aria-label': t('conv.reaction', { emoji, count }),
          onclick: () => ctx.toggleReaction(item.seq, emoji),
        },
        `${emoji} ${count}`,
      ),
    ),
  );
}

/** The message a reply answers, as a quote that scrolls to it. */
function quoteOf(seq: number, ctx: RowContext): HTMLElement {
  const target = ctx.item(seq);
  return h(
    'a',
    {
      href: `#/g/${encodeURIComponent(ctx.groupId)}/${seq}`,
      class: 'reply-quote',
      'data-testid': 'reply-quote',
      dir: 'auto',
      onclick: (e: MouseEvent) => {
        if (ctx.scrollTo(seq, true)) e.preventDefault(); // else not loaded: the link opens the conversation there
      },
    },
    target ? h('strong', {}, ctx.names.of(target.sender, ctx.announcer())) : null,
    target ? ' ' : null,
    target ? snippet(target.text) : t('conv.reply.earlier'),
  );
}

/** An announcement's reach, for its admins. */
function reachLine(seq: number, ctx: RowContext): HTMLElement | null {
  const r = ctx.reach(seq);
  if (!r) return null;
  return h(
    'div',
    { class: 'meta reach', 'data-testid': 'reach' },
    t('conv.reach', {
      reached: r.delivered + r.notified,
      of: Math.max(0, r.members - 1),
      online: r.delivered,
      notified: r.notified,
      read: r.read,
    }),
  );
}
