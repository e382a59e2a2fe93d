import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { t } from '../../i18n/index.js';
import type { AccountSection } from './index.js';
import { oneTimeCodeInput, phoneNumberInput } from '../../components/phone-inputs.js';

/**
 * The member's own phone number (docs/protocol.md §2 "Phone numbers and one-time codes"): add one
 * (a code is sent to it, then verified), change it, or remove it. Only the member sees it.
 */
export const phoneSection: AccountSection = (ctx) => {
  const card = h('section', { class: 'card', 'data-testid': 'account-phone', 'aria-labelledby': 'account-phone-title' });
  const status = h('p', { role: 'status' });
  let current: string | null = null;
  let closed = false;

  const draw = (sentTo?: string) => {
    const error = h('p', { class: 'error', role: 'alert' });
    const number = phoneNumberInput();
    const code = oneTimeCodeInput();
    const fail = (err: unknown) => {
      error.textContent = describeError(err);
    };
    const form =
      sentTo === undefined
        ? h(
            'form',
            {
              onsubmit: async (e: SubmitEvent) => {
                e.preventDefault();
                error.textContent = '';
                try {
                  const phone = number.value.trim();
                  await ctx.http.requestMyPhoneCode({ phone, locale: document.documentElement.lang || undefined });
                  draw(phone);
                } catch (err) {
                  fail(err);
                }
              },
            },
            h('label', {}, t('account.phone.number'), number),
            h('button', { type: 'submit', class: 'primary' }, t('account.phone.send')),
          )
        : h(
            'form',
            {
              onsubmit: async (e: SubmitEvent) => {
                e.preventDefault();
                error.textContent = '';
                try {
                  current = (await ctx.http.setMyPhone({ phone: sentTo, code: code.value.trim() })).phone;
                  status.textContent = t('account.phone.saved');
                  draw();
                } catch (err) {
                  fail(err);
                }
              },
            },
            h('label', {}, t('account.phone.code', { phone: sentTo }), code),
            h('button', { type: 'submit', class: 'primary' }, t('account.phone.verify')),
          );
    const remove = current
      ? h(
          'button',
          {
            type: 'button',
            onclick: async () => {
              error.textContent = '';
              try {
                await ctx.http.removeMyPhone();
                current = null;
                status.textContent = t('account.phone.removed');
                draw();
              } catch (err) {
                fail(err);
              }
            },
          },
          t('account.phone.remove'),
        )
      : null;
    replace(
      card,
      h('h2', { id: 'account-phone-title' }, t('account.phone.title')),
      h(
        'p',
        { 'data-testid': 'account-phone-current' },
        current ? t('account.phone.current', { phone: current }) : t('account.phone.none'),
      ),
      status,
      form,
      remove,
      error,
    );
    if (sentTo !== undefined) code.focus();
  };

  draw();
  ctx.http
    .me()
    .then((me) => {
      if (closed) return;
      current = me.user.phone ?? null;
      draw();
    })
    .catch(() => {});
  return {
    card,
    cleanup: () => {
      closed = true;
    },
  };
};
