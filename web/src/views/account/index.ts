import { h, link, replace } from '../../dom.js';
import { t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { passkeysSection } from './passkeys.js';
import { myDataSection } from './my-data.js';
import { phoneSection } from './phone.js';
import { sessionsSection } from './sessions.js';
import { recoverySection } from './recovery.js';

/**
 * One card of the account screen. Each way in and each of the member's own-data tools brings its
 * own section file here (passkeys, phone, sessions, recovery, export and erasure); a section
 * returns its card and, optionally, what to undo when the screen closes.
 */
export type AccountSection = (ctx: Ctx) => { card: HTMLElement; cleanup?: () => void };

/** In the order the screen shows them. */
const sections: AccountSection[] = [passkeysSection, phoneSection, recoverySection, sessionsSection, myDataSection];

/** `#/account`: how the member signs in, where they are signed in, and their own data. */
export function accountView(root: HTMLElement, ctx: Ctx) {
  const shown = sections.map((section) => section(ctx));
  replace(
    root,
    h('header', { class: 'top' }, link('#/me', { class: 'back', 'aria-label': t('common.back') }, '‹'), h('h1', {}, t('account.title'))),
    ...shown.map((s) => s.card),
  );
  return () => {
    for (const s of shown) s.cleanup?.();
  };
}
