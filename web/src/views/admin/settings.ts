import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { actionButton, adminPage, field } from './ui.js';

/** `#/c/:id/settings`: the community's name, description, who posts announcements, approval to join; invite links. */
export function settingsView(root: HTMLElement, ctx: Ctx, communityId: string) {
  const { http } = ctx;
  const { heading, error, body, cleanup } = adminPage(root, ctx, communityId, t('admin.settings.title'), 'settings');

  const start = async () => {
    const { community } = await http.community(communityId);
    heading.textContent = t('admin.settings.titleOf', { name: community.name });
    const name = h('input', { required: true, maxlength: 128, value: community.name, 'data-testid': 'community-name' });
    const description = h('textarea', { rows: 3, maxlength: 2048, 'data-testid': 'community-description' });
    description.value = community.description;
    const approval = h('input', { type: 'checkbox', checked: community.settings.approvalRequired === true, 'data-testid': 'approval' });
    // Only admins announce unless the community opens it (adminsOnlyPost: false).
    const membersAnnounce = h('input', {
      type: 'checkbox',
      checked: community.settings.adminsOnlyPost === false,
      'data-testid': 'members-announce',
    });
    const saved = h('p', { class: 'notice', role: 'status' });
    const form = h(
      'form',
      {
        class: 'card',
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          error.textContent = '';
          saved.textContent = '';
          try {
            await http.updateCommunity(communityId, {
              name: name.value.trim(),
              description: description.value.trim(),
              settings: { approvalRequired: approval.checked, adminsOnlyPost: !membersAnnounce.checked },
            });
            saved.textContent = t('admin.saved');
          } catch (err) {
            error.textContent = describeError(err);
          }
        },
      },
      field(t('admin.settings.name'), name),
      field(t('admin.settings.description'), description),
      h('label', { class: 'check' }, approval, h('span', {}, t('admin.settings.approval'))),
      h('label', { class: 'check' }, membersAnnounce, h('span', {}, t('admin.settings.membersAnnounce'))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'save-community' }, t('admin.save'))),
      saved,
    );

    const inviteOut = h('div', { class: 'invite' });
    const invites = h(
      'section',
      { class: 'card', 'aria-labelledby': 'invite-links' },
      h('h2', { id: 'invite-links' }, t('admin.invite.title')),
      h('p', { class: 'hint' }, t('admin.invite.hint')),
      h('div', { class: 'actions' }, inviteButton(ctx, communityId, error, inviteOut)),
      inviteOut,
    );
    replace(body, form, invites);
  };
  start().catch((err: unknown) => {
    body.replaceChildren();
    error.textContent = describeError(err);
  });
  return cleanup;
}

/** "Create invite link": makes a code (for a group of the community: joining it too) and shows its link, selectable and copyable. */
export function inviteButton(ctx: Ctx, communityId: string, error: HTMLElement, out: HTMLElement, groupId?: string): HTMLButtonElement {
  const label = groupId ? t('admin.invite.createForGroup') : t('admin.invite.create');
  return actionButton(error, label, async () => {
    const invite = await ctx.http.createInvite(communityId, groupId ? { groupId } : {});
    const url = `${location.origin}/#/invite/${encodeURIComponent(invite.code)}`;
    const input = h('input', {
      readonly: true,
      value: url,
      'aria-label': t('admin.invite.link'),
      'data-testid': 'invite-link',
      onfocus: (e: FocusEvent) => (e.target as HTMLInputElement).select(),
    });
    replace(
      out,
      input,
      actionButton(
        error,
        t('admin.invite.copy'),
        async (b) => {
          await navigator.clipboard.writeText(url);
          b.textContent = t('admin.invite.copied');
        },
        { class: 'small' },
      ),
    );
    input.focus();
  });
}
