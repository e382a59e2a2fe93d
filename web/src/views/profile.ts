import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { describeUploadError, uploadFile } from '../files.js';
import { t } from '../i18n/index.js';
import { languageSwitch } from '../language.js';
import type { Ctx } from '../main.js';
import { saveSession } from '../session.js';

type Audience = 'everyone' | 'shared' | 'nobody';

/** `#/me`: the user's name, who may add them to groups, their id, and the language. */
export function profileView(root: HTMLElement, ctx: Ctx) {
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'profile-status' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const name = h('input', { name: 'name', required: true, maxlength: 64, autocomplete: 'name', dir: 'auto', value: ctx.session.user.name });
  const audience = (label: string, field: 'groupAdd' | 'lastSeen') =>
    h(
      'label',
      {},
      label,
      h(
        'select',
        { name: field },
        (['everyone', 'shared', 'nobody'] as Audience[]).map((a) => h('option', { value: a }, t(`profile.audience.${a}`))),
      ),
    );
  const groupAdd = audience(t('profile.groupAdd'), 'groupAdd');
  const lastSeen = audience(t('profile.lastSeen'), 'lastSeen');
  const select = (label: HTMLElement) => label.querySelector('select')!;
  const save = h('button', { type: 'submit', class: 'primary' }, t('profile.save'));
  // The avatar: an image uploaded as an attachment, then named in PATCH /v1/me (docs/protocol.md §8 "Files (attachments)").
  const avatarImage = h('img', { class: 'avatar-preview', alt: t('profile.avatar'), 'data-testid': 'avatar', hidden: true });
  let avatarUrl: string | undefined;
  const showAvatar = async (id: string | null) => {
    if (avatarUrl) URL.revokeObjectURL(avatarUrl);
    avatarUrl = undefined;
    avatarImage.hidden = !id;
    removeAvatar.hidden = !id;
    if (!id) return;
    avatarUrl = URL.createObjectURL(await (await ctx.http.download(id)).blob());
    avatarImage.src = avatarUrl;
  };
  const avatarInput = h('input', {
    type: 'file',
    accept: 'image/*',
    'data-testid': 'avatar-input',
    'aria-label': t('profile.avatar.choose'),
  });
  avatarInput.onchange = async () => {
    const file = avatarInput.files?.[0];
    avatarInput.value = '';
    if (!file) return;
    error.textContent = '';
    status.textContent = t('profile.avatar.uploading');
    try {
      const attachment = await uploadFile(ctx, file, () => undefined);
      await ctx.client.updateProfile({ avatar: attachment.id });
      await showAvatar(attachment.id);
      status.textContent = t('profile.saved');
    } catch (err) {
      status.textContent = '';
      error.textContent = describeUploadError(err, file);
    }
  };
  const removeAvatar = h(
    'button',
    {
      type: 'button',
      class: 'small link',
      hidden: true,
      onclick: () =>
        void ctx.client.updateProfile({ avatar: null }).then(
          () => showAvatar(null),
          (err: unknown) => (error.textContent = describeError(err)),
        ),
    },
    t('profile.avatar.remove'),
  );
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'small',
      onclick: () => void navigator.clipboard?.writeText(ctx.session.user.id).then(() => (copy.textContent = t('profile.copied'))),
    },
    t('profile.copy'),
  );
  replace(
    root,
    h('header', { class: 'top' }, link('#/', { class: 'back', 'aria-label': t('common.back') }, '‹'), h('h1', {}, t('profile.title'))),
    h(
      'form',
      {
        class: 'card',
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          error.textContent = '';
          status.textContent = '';
          save.disabled = true;
          try {
            const { user } = await ctx.http.updateMe({
              name: name.value.trim(),
              privacy: { groupAdd: select(groupAdd).value as Audience, lastSeen: select(lastSeen).value as Audience },
            });
            ctx.session.user.name = user.name;
            saveSession(ctx.session);
            ctx.names.rename(user.id, user.name);
            status.textContent = t('profile.saved');
          } catch (err) {
            error.textContent = describeError(err);
          } finally {
            save.disabled = false;
          }
        },
      },
      h('div', { class: 'avatar-row' }, avatarImage, h('label', {}, t('profile.avatar.choose'), avatarInput), removeAvatar),
      h('label', {}, t('profile.name'), name),
      groupAdd,
      lastSeen,
      error,
      status,
      save,
    ),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, t('profile.id')),
      h('p', { class: 'my-id' }, t('profile.idHint'), ' ', h('code', { 'data-testid': 'my-id' }, ctx.session.user.id), ' ', copy),
      h('label', {}, t('common.language'), languageSwitch(ctx.rerender)),
    ),
    h('p', {}, link('#/account', { class: 'button', 'data-testid': 'account-link' }, t('account.open'))),
  );
  void ctx.http.me().then(
    ({ user }) => {
      select(groupAdd).value = user.privacy.groupAdd;
      select(lastSeen).value = user.privacy.lastSeen;
      if (!name.value) name.value = user.name;
      void showAvatar(user.avatar).catch(() => undefined);
    },
    (err: unknown) => (error.textContent = describeError(err)),
  );
  name.focus();
}
