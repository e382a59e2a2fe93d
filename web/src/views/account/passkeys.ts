import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { formatDay, formatWhen, t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import type { AccountSection } from './index.js';
import { addPasskey, hasPasskeys } from './passkey-ceremony.js';

interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** The member's passkeys (docs/protocol.md §2 "Passkeys"): listed, added, renamed, removed. */
export const passkeysSection: AccountSection = (ctx: Ctx) => {
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'passkeys-status' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'passkeys-error' });
  const list = h('ul', { class: 'passkeys', 'aria-label': t('account.passkeys.title') });
  let closed = false;

  const act = async (run: () => Promise<unknown>, done?: string) => {
    error.textContent = '';
    status.textContent = '';
    try {
      await run();
      if (done) status.textContent = done;
      await load();
    } catch (err) {
      error.textContent = describeError(err);
    }
  };

  /** Remove asks once more on the same button (a second press removes; leaving it disarms). */
  const removeButton = (p: Passkey) => {
    let armed = false;
    const label = (on: boolean) =>
      on ? t('account.passkeys.removeConfirm', { name: p.name }) : t('account.passkeys.removeLabel', { name: p.name });
    const button: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        'aria-label': label(false),
        onclick: () => {
          if (!armed) {
            armed = true;
            button.textContent = t('account.passkeys.removeAgain');
            button.setAttribute('aria-label', label(true));
            button.classList.add('danger');
            return;
          }
          void act(() => ctx.http.removePasskey(p.id), t('account.passkeys.removed'));
        },
        onblur: () => {
          armed = false;
          button.textContent = t('account.passkeys.remove');
          button.setAttribute('aria-label', label(false));
          button.classList.remove('danger');
        },
      },
      t('account.passkeys.remove'),
    );
    return button;
  };

  const row = (p: Passkey) => {
    const used = p.lastUsedAt
      ? t('account.passkeys.lastUsed', { date: formatWhen(new Date(p.lastUsedAt)) })
      : t('account.passkeys.neverUsed');
    const item = h('li', { class: 'passkey', 'data-testid': 'passkey' });
    const show = () =>
      replace(
        item,
        h('span', { class: 'passkey-name', dir: 'auto' }, p.name),
        h('span', { class: 'hint' }, `${t('account.passkeys.created', { date: formatDay(new Date(p.createdAt)) })}, ${used}`),
        h(
          'button',
          { type: 'button', 'aria-label': t('account.passkeys.renameButton', { name: p.name }), onclick: edit },
          t('account.passkeys.rename'),
        ),
        removeButton(p),
      );
    const edit = () => {
      const input = h('input', {
        name: 'passkey-name',
        required: true,
        maxlength: 64,
        dir: 'auto',
        value: p.name,
        'aria-label': t('account.passkeys.renameLabel', { name: p.name }),
      });
      replace(
        item,
        h(
          'form',
          {
            class: 'inline',
            onsubmit: (e: SubmitEvent) => {
              e.preventDefault();
              void act(() => ctx.http.renamePasskey(p.id, input.value.trim()));
            },
          },
          input,
          h('button', { type: 'submit', class: 'primary' }, t('account.passkeys.save')),
          h('button', { type: 'button', onclick: show }, t('account.passkeys.cancel')),
        ),
      );
      input.focus();
    };
    show();
    return item;
  };

  async function load() {
    const { passkeys } = await ctx.http.passkeys();
    if (closed) return;
    replace(list, ...(passkeys.length ? passkeys.map(row) : [h('li', { class: 'hint' }, t('account.passkeys.none'))]));
  }

  const add = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      onclick: async () => {
        add.disabled = true;
        await act(() => addPasskey(ctx.http), t('account.passkeys.added'));
        add.disabled = false;
      },
    },
    t('account.passkeys.add'),
  );

  load().catch((err) => {
    error.textContent = describeError(err);
  });
  const card = h(
    'section',
    { class: 'card passkeys-card', 'aria-labelledby': 'passkeys-title', 'data-testid': 'passkeys' },
    h('h2', { id: 'passkeys-title' }, t('account.passkeys.title')),
    h('p', { class: 'hint' }, t('account.passkeys.intro')),
    list,
    hasPasskeys() ? add : null,
    status,
    error,
  );
  return {
    card,
    cleanup: () => {
      closed = true;
    },
  };
};
