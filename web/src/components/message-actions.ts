import type { TimelineItem } from '../../../src/client/index.js';
import { h } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';

// What can be done with a message, under its "⋯": react, reply (here or privately), pin, report.

/** The quick reactions offered under a message. */
export const REACTIONS = ['👍', '❤️', '😂', '🙏', '😮'];

export interface ActionContext {
  me: string;
  group(): { kind: 'group' | 'announcement' | 'direct'; role: 'owner' | 'admin' | 'member' } | undefined;
  myReaction(seq: number): string | undefined;
  toggleReaction(seq: number, emoji: string): void;
  startReply(item: TimelineItem): void;
  replyPrivately(item: TimelineItem): void;
  canPin(): boolean;
  isPinned(seq: number): boolean;
  pin(seq: number, pinned: boolean): void;
  /** Reports the message to the admins (resolves once reported). */
  report(seq: number, reason: string): Promise<unknown>;
  /** Asks the user why they report (null: they changed their mind). */
  askReason(): string | null;
  fail(message: string): void;
}

export function actionButtons(item: TimelineItem, ctx: ActionContext): HTMLElement[] {
  const g = ctx.group();
  const canWrite = !(g?.kind === 'announcement' && g.role === 'member');
  const mine = ctx.myReaction(item.seq);
  const buttons: HTMLElement[] = REACTIONS.map((emoji) =>
    h(
      'button',
      {
        type: 'button',
        class: `icon react${mine === emoji ? ' on' : ''}`,
        'aria-label': t('conv.react', { emoji }),
        'aria-pressed': String(mine === emoji),
        onclick: () => ctx.toggleReaction(item.seq, emoji),
      },
      emoji,
    ),
  );
  if (canWrite)
    buttons.push(
      h('button', { type: 'button', class: 'small', 'data-testid': 'reply', onclick: () => ctx.startReply(item) }, t('conv.reply')),
    );
  if (g?.kind === 'announcement' && item.sender !== ctx.me && item.sender)
    buttons.push(
      h(
        'button',
        { type: 'button', class: 'small', 'data-testid': 'reply-privately', onclick: () => ctx.replyPrivately(item) },
        t('conv.replyPrivately'),
      ),
    );
  if (ctx.canPin()) {
    const pinned = ctx.isPinned(item.seq);
    buttons.push(
      h(
        'button',
        { type: 'button', class: 'small', 'data-testid': pinned ? 'unpin' : 'pin', onclick: () => ctx.pin(item.seq, pinned) },
        pinned ? t('conv.unpin') : t('conv.pin'),
      ),
    );
  }
  if (item.sender !== ctx.me) buttons.push(reportButton(item.seq, ctx));
  return buttons;
}

/** Reports another's message to the admins; the answer is the same however many reported it. */
function reportButton(seq: number, ctx: ActionContext): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'small link report',
      'data-testid': 'report',
      onclick: async (e: MouseEvent) => {
        const button = e.currentTarget as HTMLButtonElement;
        const reason = ctx.askReason();
        if (reason === null || !reason.trim()) return;
        button.disabled = true;
        try {
          await ctx.report(seq, reason.trim().slice(0, 64));
          button.textContent = t('conv.reported');
        } catch (err) {
          button.disabled = false;
          ctx.fail(describeError(err));
        }
      },
    },
    t('conv.report'),
  );
}
