import { h } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { Ctx } from '../main.js';

// The tools at the top of a conversation: search in it, its notification level, and in a
// direct conversation Block / Unblock.

/** 🔍: shows or hides the conversation's search box. */
export function searchToggle(search: HTMLElement): HTMLElement {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': t('conv.search'),
      'aria-expanded': 'false',
      'data-testid': 'search-toggle',
      onclick: () => {
        search.hidden = !search.hidden;
        button.setAttribute('aria-expanded', String(!search.hidden));
        if (!search.hidden) search.querySelector('input')?.focus();
      },
    },
    '🔍',
  );
  return button;
}

/** Notifications for this group (docs/protocol.md §8 "Notifications"): the level, read from the caller's summary. */
export function levelSelect(ctx: Pick<Ctx, 'client' | 'http'>, groupId: string, fail: (message: string) => void): HTMLSelectElement {
  const select = h(
    'select',
    {
      class: 'small',
      'aria-label': t('conv.notify'),
      'data-testid': 'notify-level',
      onchange: () =>
        void ctx.client
          .setNotifications(groupId, select.value as 'all' | 'mentions' | 'none')
          .catch((err: unknown) => fail(describeError(err))),
    },
    h('option', { value: 'all' }, `🔔 ${t('conv.notify.all')}`),
    h('option', { value: 'mentions' }, `@ ${t('conv.notify.mentions')}`),
    h('option', { value: 'none' }, `🔕 ${t('conv.notify.none')}`),
  );
  void ctx.http.me().then(
    (info) => {
      const level = info.groups.find((g) => g.id === groupId)?.level;
      if (level) select.value = level;
    },
    () => undefined, // offline: the default shows
  );
  return select;
}

/**
 * In a direct group, Block / Unblock the other member (docs/protocol.md §8 "Privacy and safety"): neither can then write
 * here. Known from the blocks list and the group's two members; nothing for other groups.
 */
export function directBlockButton(
  ctx: Pick<Ctx, 'client' | 'http' | 'session'>,
  groupId: string,
  fail: (message: string) => void,
): HTMLElement | null {
  if (ctx.client.group(groupId)?.kind !== 'direct') return null;
  const button = h('button', { type: 'button', class: 'small', 'data-testid': 'block', hidden: true }, t('conv.block'));
  let other: string | undefined;
  let blocked = false;
  const show = () => {
    button.textContent = blocked ? t('conv.unblock') : t('conv.block');
    button.hidden = other === undefined;
  };
  void Promise.all([ctx.http.members(groupId), ctx.http.blocks()]).then(
    ([page, list]) => {
      other = page.members.find((m) => m.userId !== ctx.session.user.id)?.userId;
      blocked = other !== undefined && list.blocks.some((b) => b.userId === other);
      show();
    },
    (err: unknown) => fail(describeError(err)),
  );
  button.onclick = () => {
    if (!other) return;
    const target = other;
    void (blocked ? ctx.http.unblock(target) : ctx.http.block(target)).then(
      () => {
        blocked = !blocked;
        show();
      },
      (err: unknown) => fail(describeError(err)),
    );
  };
  return button;
}
