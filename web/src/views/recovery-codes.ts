import { h } from '../dom.js';
import { t } from '../i18n/index.js';

/**
 * Recovery codes, shown once (docs/protocol.md §2 "Recovery codes"): the list, a copy button, and
 * "I have saved them", which calls `done` (the codes are not kept anywhere by the client).
 */
export function recoveryCodesCard(codes: readonly string[], done: () => void): HTMLElement {
  const copied = h('span', { class: 'hint', role: 'status' });
  return h(
    'section',
    { class: 'card recovery-codes', 'data-testid': 'recovery-codes' },
    h('h2', {}, t('auth.recovery.codesTitle')),
    h('p', {}, t('auth.recovery.codesHint')),
    h('ol', { class: 'codes', dir: 'ltr' }, ...codes.map((code) => h('li', {}, h('code', {}, code)))),
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(codes.join('\n'));
            copied.textContent = t('profile.copied');
          } catch {
            copied.textContent = '';
          }
        },
      },
      t('profile.copy'),
    ),
    copied,
    h('button', { type: 'button', class: 'primary', 'data-testid': 'codes-saved', onclick: done }, t('auth.recovery.saved')),
  );
}
