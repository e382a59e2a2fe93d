import { BanyanHttp } from '../../../src/client/http.js';
import { h, replace } from '../dom.js';
import { describeError } from '../errors.js';
import type { Session } from '../session.js';

/** Sign in, or create a local account. */
export function authView(root: HTMLElement, onSignedIn: (session: Session) => void, notice?: string) {
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
      placeholder: 'e.g. asha',
    });
    const password = h('input', {
      name: 'password',
      type: 'password',
      required: true,
      autocomplete: mode === 'in' ? 'current-password' : 'new-password',
    });
    const name = h('input', { name: 'name', autocomplete: 'name', placeholder: 'How others see you' });
    const submit = h('button', { type: 'submit', class: 'primary' }, mode === 'in' ? 'Sign in' : 'Create account');
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
            const session =
              mode === 'in'
                ? await http.signIn(body)
                : await http.signUp({ ...body, ...(name.value.trim() ? { name: name.value.trim() } : {}) });
            onSignedIn(session);
          } catch (err) {
            error.textContent = describeError(err);
            submit.disabled = false;
          }
        },
      },
      h('h2', {}, mode === 'in' ? 'Sign in' : 'Create an account'),
      notice ? h('p', { class: 'notice' }, notice) : null,
      h('label', {}, 'Username', username),
      mode === 'up' ? h('p', { class: 'hint' }, '3–32 characters: lowercase letters, digits, _ . -') : null,
      h('label', {}, 'Password', password),
      mode === 'up' ? h('p', { class: 'hint' }, 'At least 8 characters.') : null,
      mode === 'up' ? h('label', {}, 'Display name (optional)', name) : null,
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
        mode === 'in' ? 'New here? Create an account' : 'Have an account? Sign in',
      ),
    );
    replace(root, h('header', { class: 'brand' }, h('h1', {}, '🌳 Banyan'), h('p', {}, 'Community chat you can run yourself.')), form);
    username.focus();
  };
  draw();
}
