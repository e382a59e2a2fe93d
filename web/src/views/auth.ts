import { BanyanHttp } from '../../../src/client/http.js';
import { h, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import { languageSwitch } from '../language.js';
import { deviceName, pendingInvite, type Session } from '../session.js';

/** Sign in, or create a local account. */
export function authView(root: HTMLElement, onSignedIn: (session: Session) => void, notice: string | undefined, rerender: () => void) {
  const http = new BanyanHttp({ url: location.origin });
  let mode: 'in' | 'up' = 'in';
  const draw = () => {
    const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
    const username = h('input', {
      name: 'username',
      autocomplete: 'username',
      required: true,
      autocapitalize: 'none',
      spellcheck: 'false',
      placeholder: t('auth.username.example'),
    });
    const password = h('input', {
      name: 'password',
      type: 'password',
      required: true,
      autocomplete: mode === 'in' ? 'current-password' : 'new-password',
    });
    const name = h('input', { name: 'name', autocomplete: 'name', placeholder: t('auth.name.placeholder'), dir: 'auto' });
    const submit = h('button', { type: 'submit', class: 'primary' }, mode === 'in' ? t('auth.signIn') : t('auth.create'));
    const form = h(
      'form',
      {
        class: 'card auth',
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          error.textContent = '';
          submit.disabled = true;
          try {
            // A refresh token keeps this browser signed in (docs/protocol.md §2 "Sessions and refresh tokens").
            const body = {
              username: username.value.trim().toLowerCase(),
              password: password.value,
              refresh: true,
              deviceName: deviceName(),
            };
            // Signing up from an invite link joins by it in the same step (docs/protocol.md §2).
            const invite = mode === 'up' ? pendingInvite.get() : undefined;
            const session =
              mode === 'in'
                ? await http.signIn(body)
                : await http.signUp({ ...body, ...(name.value.trim() ? { name: name.value.trim() } : {}), ...(invite ? { invite } : {}) });
            const joined = session.invite?.community;
            if (joined) {
              // Already in: the community's page, not the invite's join button again.
              pendingInvite.set(undefined);
              location.hash = `#/c/${encodeURIComponent(joined.id)}`;
            }
            onSignedIn(session);
          } catch (err) {
            error.textContent = describeError(err);
            submit.disabled = false;
          }
        },
      },
      h('h2', {}, mode === 'in' ? t('auth.signIn') : t('auth.createTitle')),
      notice ? h('p', { class: 'notice' }, notice) : null,
      h('label', {}, t('auth.username'), username),
      mode === 'up' ? h('p', { class: 'hint' }, t('auth.username.hint')) : null,
      h('label', {}, t('auth.password'), password),
      mode === 'up' ? h('p', { class: 'hint' }, t('auth.password.hint')) : null,
      mode === 'up' ? h('label', {}, t('auth.name'), name) : null,
      error,
      submit,
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          onclick: () => {
            mode = mode === 'in' ? 'up' : 'in';
            draw();
          },
        },
        mode === 'in' ? t('auth.toSignUp') : t('auth.toSignIn'),
      ),
    );
    replace(
      root,
      h('header', { class: 'brand' }, h('h1', {}, `🌳 ${t('app.name')}`), h('p', {}, t('app.tagline'))),
      form,
      h('footer', { class: 'foot' }, languageSwitch(rerender)),
    );
    username.focus();
  };
  draw();
}
