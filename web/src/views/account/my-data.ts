import type { HttpReplies } from '../../../../src/protocol/http-replies.js';
import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { t } from '../../i18n/index.js';
import type { AccountSection } from './index.js';

type DataExport = HttpReplies['dataExport']['export'];

/** What the server takes as the confirmation (docs/protocol.md §2 "Your data: export and erasure"). */
const CONFIRM = 'delete my account';
const POLL_MS = 3000;

/** The member's own data: download it all, or delete the account (docs/protocol.md §2 "Your data: export and erasure"). */
export const myDataSection: AccountSection = (ctx) => {
  const key = `banyan.export.${ctx.session.user.id}`;
  const status = h('p', { role: 'status', 'data-testid': 'export-status' });
  const error = h('p', { class: 'error', role: 'alert' });
  const actions = h('div', { class: 'row' });
  let timer: ReturnType<typeof setTimeout> | undefined;

  const show = (e: DataExport | undefined) => {
    clearTimeout(timer);
    const ask = h('button', { type: 'button', class: 'primary', onclick: () => void request() }, t('account.myData.request'));
    if (!e || e.status === 'expired' || e.status === 'downloaded') {
      status.textContent = e
        ? t(e.status === 'expired' ? 'account.myData.expired' : 'account.myData.downloaded')
        : t('account.myData.about');
      replace(actions, ask);
      return;
    }
    if (e.status === 'pending') {
      status.textContent = t('account.myData.pending');
      replace(actions);
      timer = setTimeout(() => void refresh(e.id), POLL_MS);
      return;
    }
    status.textContent = t('account.myData.ready', { date: new Date(e.expiresAt ?? Date.now()).toLocaleDateString() });
    replace(actions, h('button', { type: 'button', class: 'primary', onclick: () => void download(e.id) }, t('account.myData.download')));
  };
  const refresh = async (id: string) => {
    try {
      show((await ctx.http.exportStatus(id)).export);
    } catch (err) {
      localStorage.removeItem(key);
      show(undefined);
      error.textContent = describeError(err);
    }
  };
  const request = async () => {
    error.textContent = '';
    try {
      const { export: e } = await ctx.http.requestExport();
      localStorage.setItem(key, e.id);
      show(e);
    } catch (err) {
      error.textContent = describeError(err);
    }
  };
  const download = async (id: string) => {
    error.textContent = '';
    try {
      const res = await ctx.http.downloadExport(id);
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: 'banyan-my-data.zip' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      error.textContent = describeError(err);
    }
    await refresh(id);
  };

  // Deleting: a dialog where the member types the phrase (and the password, when the account has one).
  const phrase = t('account.myData.phrase');
  const typed = h('input', { type: 'text', autocomplete: 'off', 'aria-describedby': 'erase-hint', 'data-testid': 'erase-phrase' });
  const password = h('input', { type: 'password', autocomplete: 'current-password', 'data-testid': 'erase-password' });
  const dialogError = h('p', { class: 'error', role: 'alert' });
  const confirm = h('button', { type: 'submit', class: 'danger', disabled: true }, t('account.myData.deleteConfirm'));
  typed.addEventListener('input', () => {
    confirm.disabled = typed.value.trim().toLowerCase() !== phrase.toLowerCase();
  });
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'erase-title' },
    h(
      'form',
      {
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          dialogError.textContent = '';
          confirm.disabled = true;
          try {
            await ctx.http.deleteAccount({ confirm: CONFIRM, ...(password.value ? { password: password.value } : {}) });
            localStorage.removeItem(key);
            dialog.close();
            ctx.signOut();
          } catch (err) {
            dialogError.textContent = describeError(err);
            confirm.disabled = false;
          }
        },
      },
      h('h2', { id: 'erase-title' }, t('account.myData.deleteTitle')),
      h('p', {}, t('account.myData.deleteAbout')),
      h('label', {}, h('span', { id: 'erase-hint' }, t('account.myData.typePhrase', { phrase })), typed),
      h('label', {}, t('account.myData.password'), password),
      dialogError,
      h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => dialog.close() }, t('common.cancel')), confirm),
    ),
  );

  const card = h(
    'section',
    { class: 'card', 'aria-labelledby': 'my-data-title' },
    h('h2', { id: 'my-data-title' }, t('account.myData.title')),
    status,
    actions,
    error,
    h('h3', {}, t('account.myData.deleteTitle')),
    h('p', {}, t('account.myData.deleteAbout')),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-testid': 'erase-open',
        onclick: () => {
          typed.value = '';
          password.value = '';
          confirm.disabled = true;
          dialog.showModal();
        },
      },
      t('account.myData.delete'),
    ),
    dialog,
  );
  const known = localStorage.getItem(key);
  if (known) void refresh(known);
  else show(undefined);
  return { card, cleanup: () => clearTimeout(timer) };
};
