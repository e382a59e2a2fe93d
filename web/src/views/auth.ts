import { BanyanError } from '../../../src/client/errors.js';
import { BanyanHttp } from '../../../src/client/http.js';
import { h, replace } from '../dom.js';
import { describeError, submitting } from '../errors.js';
import { t } from '../i18n/index.js';
import { languageSwitch } from '../language.js';
import { deviceName, pendingInvite, type Session } from '../session.js';
import { createPasskey, hasPasskeys, usePasskey } from './account/passkey-ceremony.js';
import { recoveryCodesCard } from './recovery-codes.js';
import { oneTimeCodeInput, phoneNumberInput } from '../components/phone-inputs.js';

const brandHeader = () => h('header', { class: 'brand' }, h('h1', {}, `🌳 ${t('app.name')}`), h('p', {}, t('app.tagline')));

/** Sign in (password, passkey or phone code), create a local account, or recover one with a recovery code (docs/protocol.md §2). */
export function authView(root: HTMLElement, onSignedIn: (session: Session) => void, notice: string | undefined, rerender: () => void) {
  const http = new BanyanHttp({ url: location.origin });
  let mode: AuthMode = 'in';
  const signedIn = (session: Session & { invite?: { community?: { id: string } } }) => {
    const joined = session.invite?.community;
    if (joined) {
      // Already in: the community's page, not the invite's join button again.
      pendingInvite.set(undefined);
      location.hash = `#/c/${encodeURIComponent(joined.id)}`;
    }
    onSignedIn(session);
  };
  const draw = () => {
    if (mode === 'recover') {
      recoverView(root, http, signedIn, rerender, () => {
        mode = 'in';
        draw();
      });
      return;
    }
    if (mode === 'phone') {
      phoneSignIn(root, http, onSignedIn, notice, rerender, () => {
        mode = 'in';
        draw();
      });
      return;
    }
    passwordForm(
      root,
      http,
      mode,
      (next) => {
        mode = next;
        draw();
      },
      signedIn,
      notice,
      rerender,
    );
  };
  draw();
}

type AuthMode = 'in' | 'up' | 'phone' | 'recover';

/** Sign in or sign up with a username and a password, or a passkey; links to the other ways in. */
function passwordForm(
  root: HTMLElement,
  http: BanyanHttp,
  mode: 'in' | 'up',
  go: (mode: AuthMode) => void,
  signedIn: (session: Session & { invite?: { community?: { id: string } } }) => void,
  notice: string | undefined,
  rerender: () => void,
) {
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  /** Runs a passkey ceremony from a button, its failure shown like the form's (docs/protocol.md §2 "Passkeys"). */
  const passkeyButton = (label: string, run: () => Promise<Session>) => {
    const button: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: 'passkey-button',
        onclick: async () => {
          error.textContent = '';
          button.disabled = true;
          try {
            signedIn(await run());
          } catch (err) {
            error.textContent = describeError(err);
            button.disabled = false;
          }
        },
      },
      label,
    );
    return hasPasskeys() ? button : null;
  };
  const passkeyIn = passkeyButton(t('auth.passkey.signIn'), () => usePasskey(http));
  const passkeyUp = passkeyButton(t('auth.passkey.create'), async () => {
    const wanted = username.value.trim().toLowerCase();
    if (!wanted) {
      username.focus();
      throw new Error(t('auth.passkey.usernameFirst'));
    }
    const invite = pendingInvite.get();
    return createPasskey(http, { username: wanted, ...(name.value.trim() ? { name: name.value.trim() } : {}) }, invite);
  });
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
      onsubmit: submitting(error, submit, async () => {
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
        // A new password account's recovery codes, shown this once before going on.
        const codes = mode === 'up' ? session.recoveryCodes : undefined;
        if (codes?.length) {
          replace(
            root,
            brandHeader(),
            recoveryCodesCard(codes, () => signedIn(session)),
          );
          return;
        }
        signedIn(session);
      }),
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
    mode === 'in' ? passkeyIn : passkeyUp,
    mode === 'up' && passkeyUp ? h('p', { class: 'hint' }, t('auth.passkey.hint')) : null,
    mode === 'in'
      ? h(
          'button',
          {
            type: 'button',
            class: 'link',
            'data-testid': 'forgot',
            onclick: () => {
              go('recover');
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
          go(mode === 'in' ? 'up' : 'in');
        },
      },
      mode === 'in' ? t('auth.toSignUp') : t('auth.toSignIn'),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        'data-testid': 'phone-sign-in',
        onclick: () => {
          go('phone');
        },
      },
      t('auth.phone.use'),
    ),
  );
  replace(root, brandHeader(), form, h('footer', { class: 'foot' }, languageSwitch(rerender)));
  username.focus();
}

/**
 * Sign in by a one-time code sent to a phone number (docs/protocol.md §2 "Phone numbers and
 * one-time codes"): the number, then the code, then (for a number without an account) a name.
 */
function phoneSignIn(
  root: HTMLElement,
  http: BanyanHttp,
  onSignedIn: (session: Session) => void,
  notice: string | undefined,
  rerender: () => void,
  back: () => void,
) {
  let step: 'number' | 'code' = 'number';
  let phone = '';
  let needsName = false;
  const draw = () => {
    const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
    const number = phoneNumberInput(phone);
    const code = oneTimeCodeInput();
    const name = h('input', { name: 'name', autocomplete: 'name', required: true, dir: 'auto', placeholder: t('auth.name.placeholder') });
    const submit = h('button', { type: 'submit', class: 'primary' }, step === 'number' ? t('auth.phone.send') : t('auth.phone.verify'));
    const sendCode = async () => {
      await http.requestPhoneCode({ phone, locale: document.documentElement.lang || undefined });
      step = 'code';
      draw();
    };
    const form = h(
      'form',
      {
        class: 'card auth',
        'data-testid': 'phone-form',
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          error.textContent = '';
          submit.disabled = true;
          try {
            if (step === 'number') {
              phone = number.value.trim();
              await sendCode();
              return;
            }
            const given = needsName && name.value.trim() ? { name: name.value.trim() } : {};
            onSignedIn(await http.phoneSignIn({ phone, code: code.value.trim(), refresh: true, deviceName: deviceName(), ...given }));
          } catch (err) {
            // A new number: the code was right, and stays usable once a name is given.
            if (err instanceof BanyanError && err.code === 'bad_request' && err.details?.field === 'name') {
              needsName = true;
              const kept = code.value;
              draw();
              (root.querySelector('input[name=code]') as HTMLInputElement).value = kept;
              (root.querySelector('input[name=name]') as HTMLInputElement).focus();
              return;
            }
            error.textContent = describeError(err);
            submit.disabled = false;
          }
        },
      },
      h('h2', {}, t('auth.phone.title')),
      notice ? h('p', { class: 'notice' }, notice) : null,
      step === 'number'
        ? [h('label', {}, t('auth.phone.number'), number), h('p', { class: 'hint' }, t('auth.phone.number.hint'))]
        : [h('label', {}, t('auth.phone.code'), code), h('p', { class: 'hint' }, t('auth.phone.code.hint', { phone }))],
      step === 'code' && needsName
        ? [h('label', {}, t('auth.phone.name'), name), h('p', { class: 'hint' }, t('auth.phone.name.hint'))]
        : null,
      error,
      submit,
      step === 'code'
        ? h(
            'button',
            {
              type: 'button',
              class: 'link',
              onclick: async () => {
                try {
                  await sendCode();
                } catch (err) {
                  error.textContent = describeError(err);
                }
              },
            },
            t('auth.phone.resend'),
          )
        : null,
      h('button', { type: 'button', class: 'link', onclick: back }, t('auth.phone.back')),
    );
    replace(root, brandHeader(), form, h('footer', { class: 'foot' }, languageSwitch(rerender)));
    (step === 'number' ? number : code).focus();
  };
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
      onsubmit: submitting(error, submit, async () => {
        const body = { username: username.value.trim().toLowerCase(), recoveryCode: code.value.trim(), newPassword: password.value };
        signedIn(await http.recover({ ...body, refresh: true, deviceName: deviceName() }));
      }),
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
  void http.redeemSignInLink({ code, refresh: true, deviceName: deviceName() }).then(
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
