import { h } from '../../dom.js';
import { describeError } from '../../errors.js';
import { t } from '../../i18n/index.js';
import { recoveryCodesCard } from '../recovery-codes.js';
import type { AccountSection } from './index.js';

/**
 * Recovery codes (docs/protocol.md §2 "Recovery codes"): how many are left, and a new set for the
 * member's password, shown once.
 */
export const recoverySection: AccountSection = (ctx) => {
  const left = h('p', { 'data-testid': 'recovery-left' }, t('common.loading'));
  const error = h('p', { class: 'error', role: 'alert' });
  const shown = h('div', {});
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit' }, t('account.recovery.generate'));
  let closed = false;
  const count = async () => {
    try {
      const { remaining } = await ctx.http.recoveryCodesLeft();
      if (!closed) left.textContent = remaining === 0 ? t('account.recovery.none') : t('account.recovery.remaining', { count: remaining });
    } catch (err) {
      if (!closed) left.textContent = describeError(err);
    }
  };
  void count();
  const form = h(
    'form',
    {
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        error.textContent = '';
        submit.disabled = true;
        try {
          const { recoveryCodes } = await ctx.http.newRecoveryCodes({ password: password.value });
          password.value = '';
          form.hidden = true;
          shown.replaceChildren(
            recoveryCodesCard(recoveryCodes, () => {
              shown.replaceChildren();
              form.hidden = false;
              void count();
            }),
          );
        } catch (err) {
          error.textContent = describeError(err);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('label', {}, t('account.recovery.password'), password),
    error,
    submit,
  );
  const card = h(
    'section',
    { class: 'card', 'data-testid': 'account-recovery' },
    h('h2', {}, t('account.recovery.title')),
    h('p', { class: 'hint' }, t('account.recovery.hint')),
    left,
    form,
    shown,
  );
  return {
    card,
    cleanup: () => {
      closed = true;
    },
  };
};
