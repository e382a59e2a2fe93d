import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { formatWhen, t } from '../../i18n/index.js';
import type { AccountSection } from './index.js';

// Where the member is signed in (docs/protocol.md §2 "Sessions and refresh tokens"): each
// session's device and when it was last active, this one marked; end one, or all of them.

type Listed = Awaited<ReturnType<import('../../../../src/client/http.js').BanyanHttp['sessions']>>['sessions'][number];

export const sessionsSection: AccountSection = (ctx) => {
  const list = h('ul', { class: 'sessions', 'data-testid': 'sessions', 'aria-live': 'polite' });
  const status = h('p', { class: 'error', role: 'alert' });
  let gone = false;

  const row = (s: Listed) => {
    const end = h(
      'button',
      {
        type: 'button',
        class: 'link',
        'data-testid': 'end-session',
        onclick: async () => {
          if (s.current) {
            ctx.signOut();
            return;
          }
          end.disabled = true;
          status.textContent = '';
          try {
            await ctx.http.endSession(s.id);
            await load();
          } catch (err) {
            status.textContent = describeError(err);
            end.disabled = false;
          }
        },
      },
      s.current ? t('account.sessions.signOutHere') : t('account.sessions.end'),
    );
    return h(
      'li',
      { 'data-testid': 'session', 'data-session': s.id, ...(s.current ? { 'data-current': 'true' } : {}) },
      h('strong', { dir: 'auto' }, s.deviceName ?? t('account.sessions.unnamed')),
      s.current ? h('span', { class: 'badge', 'data-testid': 'this-device' }, t('account.sessions.thisDevice')) : null,
      h('br'),
      h('small', {}, t('account.sessions.lastSeen', { when: formatWhen(new Date(s.lastSeenAt)) })),
      ' ',
      end,
    );
  };

  const load = async () => {
    try {
      const { sessions } = await ctx.http.sessions();
      if (gone) return;
      replace(list, ...sessions.map(row));
    } catch (err) {
      if (!gone) status.textContent = describeError(err);
    }
  };

  const everywhere = h(
    'button',
    {
      type: 'button',
      'data-testid': 'sign-out-everywhere',
      onclick: async () => {
        everywhere.disabled = true;
        status.textContent = '';
        try {
          await ctx.http.signOutEverywhere();
          ctx.signOut();
        } catch (err) {
          status.textContent = describeError(err);
          everywhere.disabled = false;
        }
      },
    },
    t('account.sessions.everywhere'),
  );

  replace(list, h('li', {}, t('common.loading')));
  void load();
  const card = h(
    'section',
    { class: 'card', 'aria-labelledby': 'account-sessions-title', 'data-testid': 'account-sessions' },
    h('h2', { id: 'account-sessions-title' }, t('account.sessions.title')),
    h('p', { class: 'hint' }, t('account.sessions.hint')),
    list,
    status,
    everywhere,
  );
  return {
    card,
    cleanup: () => {
      gone = true;
    },
  };
};
