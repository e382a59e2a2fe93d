import { BanyanHttp } from '../../../src/client/http.js';
import { h, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import { languageSwitch } from '../language.js';
import { pendingInvite, type Session } from '../session.js';
import { recoveryCodesCard } from './recovery-codes.js';

const brandHeader = () => h('header', { class: 'brand' }, h('h1', {}, `🌳 ${t('app.name')}`), h('p', {}, t('app.tagline')));

/** Sign in, create a local account, or recover one with a recovery code (docs/protocol.md §2). */
export function authView(root: HTMLElement, onSignedIn: (session: Session) => void, notice: string | undefined, rerender: () => void) {
  const http = new BanyanHttp({ url: location.origin });
  let mode: 'in' | 'up' | 'recover' = 'in';
  const brand = brandHeader;
  const draw = () => {
    if (mode === 'recover') {
      drawRecover();
      return;
    }
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
            const body = { username: username.value.trim().toLowerCase(), password: password.value };
            // Signing up from an invite link joins by it in the same step (docs/protocol.md §2).
            const invite = mode === 'up' ? pendingInvite.get() : undefined;
            const session =
              mode === 'in'
                ? await http.signIn(body)
                : await http.signUp({ ...body, ...(name.value.trim() ? { name: name.value.trim() } : {}), ...(invite ? { invite } : {}) });
            // A new password account's recovery codes, shown this once before going on.
            const codes = mode === 'up' ? session.recoveryCodes : undefined;
            if (codes?.length) {
              replace(
                root,
                brand(),
                recoveryCodesCard(codes, () => signedIn(session)),
              );
              return;
            }
            signedIn(session);
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
      mode === 'in'
        ? h(
            'button',
            {
              type: 'button',
              class: 'link',
              'data-testid': 'forgot',
              onclick: () => {
                mode = 'recover';
                draw();
              },
            },
            t('auth.recovery.forgot'),
          )
        : null,
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
    replace(root, brand(), form, h('footer', { class: 'foot' }, languageSwitch(rerender)));
    username.focus();
  };
  const signedIn = (session: Session & { invite?: { community?: { id: string } } }) => {
    const joined = session.invite?.community;
    if (joined) {
      // Already in: the community's page, not the invite's join button again.
      pendingInvite.set(undefined);
      location.hash = `#/c/${encodeURIComponent(joined.id)}`;
    }
    onSignedIn(session);
  };
  /** "Forgot password?": a recovery code sets a new password and signs in; other devices are signed out. */
  const drawRecover = () =>
    recoverView(root, http, signedIn, rerender, () => {
      mode = 'in';
      draw();
    });
  draw();
}

/** "Forgot password?": a recovery code sets a new password and signs in; other devices are signed out. */
function recoverView(root: HTMLElement, http: BanyanHttp, signedIn: (session: Session) => void, rerender: () => void, back: () => void) {
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const field = { required: true, autocapitalize: 'none', spellcheck: 'false' } as const;
  const username = h('input', { name: 'username', autocomplete: 'username', ...field });
  const code = h('input', { name: 'recoveryCode', autocomplete: 'one-time-code', dir: 'ltr', ...field });
  const password = h('input', { name: 'newPassword', type: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('auth.recovery.submit'));
  const form = h(
    'form',
    {
      class: 'card auth',
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        error.textContent = '';
        submit.disabled = true;
        try {
          const body = { username: username.value.trim().toLowerCase(), recoveryCode: code.value.trim(), newPassword: password.value };
          signedIn(await http.recover(body));
        } catch (err) {
          error.textContent = describeError(err);
          submit.disabled = false;
        }
      },
    },
    h('h2', {}, t('auth.recovery.title')),
    h('p', { class: 'hint' }, t('auth.recovery.hint')),
    h('label', {}, t('auth.username'), username),
    h('label', {}, t('auth.recovery.code'), code),
    h('label', {}, t('auth.recovery.newPassword'), password),
    h('p', { class: 'hint' }, t('auth.password.hint')),
    error,
    submit,
    h('button', { type: 'button', class: 'link', onclick: back }, t('auth.toSignIn')),
  );
  replace(root, brandHeader(), form, h('footer', { class: 'foot' }, languageSwitch(rerender)));
  username.focus();
}

/**
 * `#/link/<code>`: an operator's one-time sign-in link (docs/protocol.md §2 "Sign-in links"). It is
 * redeemed at once; then the member is invited to add a way to sign in again (a passkey or a
 * password, on the account screen) before going on.
 */
export function linkView(root: HTMLElement, code: string, onSignedIn: (session: Session) => void) {
  const http = new BanyanHttp({ url: location.origin });
  const brand = brandHeader();
  const status = h('p', { role: 'status' }, t('auth.link.redeeming'));
  replace(root, brand, h('section', { class: 'card auth' }, status));
  void http.redeemSignInLink({ code }).then(
    (session) => {
      const go = (hash: string) => () => {
        location.hash = hash;
        onSignedIn(session);
      };
      replace(
        root,
        brand,
        h(
          'section',
          { class: 'card auth', 'data-testid': 'link-welcome' },
          h('h2', {}, t('auth.link.welcome', { name: session.user.name })),
          h('p', {}, t('auth.link.hint')),
          h('button', { type: 'button', class: 'primary', 'data-testid': 'link-add-way', onclick: go('#/account') }, t('auth.link.addWay')),
          h('button', { type: 'button', class: 'link', onclick: go('#/') }, t('auth.link.later')),
        ),
      );
    },
    (err: unknown) => {
      status.textContent = t('auth.link.failed', { reason: describeError(err) });
      status.setAttribute('role', 'alert');
      status.dataset.testid = 'error';
    },
  );
}
