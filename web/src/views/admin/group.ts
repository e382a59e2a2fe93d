import type { HttpReplies } from '../../../../src/client/index.js';
import { h, replace } from '../../dom.js';
import { describeError } from '../../errors.js';
import { type MessageKey, t } from '../../i18n/index.js';
import type { Ctx } from '../../main.js';
import { inviteButton } from './settings.js';
import {
  adminPage,
  confirmButton,
  field,
  muteControls,
  pagedList,
  roleLabel,
  visibilityChoice,
  visibilityOf,
  visibilitySettings,
} from './ui.js';

type Member = HttpReplies['members']['members'][number];

/** `#/c/:id/g/:groupId`: a group's settings, its members (remove, mute) and adding people by username. */
export function groupAdminView(root: HTMLElement, ctx: Ctx, communityId: string, groupId: string) {
  const { http } = ctx;
  const { heading, error, body, cleanup } = adminPage(root, ctx, communityId, t('admin.group.title'), 'overview');

  const start = async () => {
    const { group } = await http.group(groupId);
    heading.textContent = group.name;
    const settings = settingsForm(ctx, groupId, group, error);

    const username = h('input', {
      id: 'add-username',
      required: true,
      autocomplete: 'off',
      autocapitalize: 'none',
      spellcheck: 'false',
      maxlength: 33,
      placeholder: t('admin.group.usernamePlaceholder'),
      'data-testid': 'add-username',
    });
    const addResult = h('p', { class: 'notice', role: 'status', 'data-testid': 'add-result' });
    const add = h(
      'form',
      {
        class: 'card',
        'aria-labelledby': 'add-people',
        onsubmit: async (e: SubmitEvent) => {
          e.preventDefault();
          error.textContent = '';
          addResult.textContent = '';
          const who = username.value.trim();
          if (!who) return;
          try {
            const reply = await http.addMemberByUsername(groupId, who);
            // The server does not say who exists or chose what: neither does this line.
            addResult.textContent =
              reply.status === 'invited' ? t('admin.group.invited', { username: who }) : t('admin.group.added', { username: who });
            username.value = '';
            if (reply.status !== 'invited') await members.reload();
          } catch (err) {
            error.textContent = describeError(err);
          }
        },
      },
      h('h2', { id: 'add-people' }, t('admin.group.addPeople')),
      field(t('admin.group.username'), username, t('admin.group.usernameHint')),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'add-member' }, t('admin.group.add'))),
      addResult,
    );

    const inviteOut = h('div', { class: 'invite' });
    const invite = h(
      'section',
      { class: 'card', 'aria-labelledby': 'group-invite' },
      h('h2', { id: 'group-invite' }, t('admin.invite.groupTitle')),
      h('p', { class: 'hint' }, t('admin.invite.groupHint')),
      h('div', { class: 'actions' }, inviteButton(ctx, communityId, error, inviteOut, groupId)),
      inviteOut,
    );

    const list = h('ul', { class: 'list members', 'data-testid': 'group-members' });
    const members = pagedList<Member>(
      error,
      list,
      async (cursor) => {
        const page = await http.members(groupId, cursor);
        return { items: page.members, nextCursor: page.nextCursor };
      },
      (m) => memberRow(m),
      t('admin.group.noMembers'),
    );
    const memberRow = (m: Member): HTMLElement => {
      const who = m.name ?? m.userId;
      const status = h('span', { class: 'meta', role: 'status' });
      const row = h(
        'li',
        { class: 'member', 'data-testid': 'group-member', 'data-user': m.userId },
        h(
          'div',
          { class: 'who' },
          h('span', { class: 'name' }, who),
          h('span', { class: `role role-${m.role}` }, roleLabel(m.role)),
          status,
        ),
        m.userId === ctx.session.user.id || m.role === 'owner'
          ? null
          : h(
              'div',
              { class: 'actions' },
              muteControls(ctx, error, groupId, { id: m.userId, name: who }, status),
              confirmButton(
                error,
                t('admin.group.remove'),
                t('admin.group.confirmRemove', { name: who }),
                async () => {
                  await http.leaveGroup(groupId, m.userId);
                  row.remove();
                },
                { class: 'small', 'data-testid': 'remove' },
              ),
            ),
      );
      return row;
    };

    replace(
      body,
      settings,
      add,
      invite,
      h('section', { 'aria-labelledby': 'group-members' }, h('h2', { id: 'group-members' }, t('admin.group.members')), members.element),
    );
    await members.reload();
  };
  start().catch((err: unknown) => {
    body.replaceChildren();
    error.textContent = describeError(err);
  });
  return cleanup;
}

/** The group's name, description, visibility, who may post and disappearing messages, saved together. */
function settingsForm(ctx: Ctx, groupId: string, group: HttpReplies['group']['group'], error: HTMLElement): HTMLElement {
  const { http } = ctx;
  const name = h('input', { required: true, maxlength: 128, value: group.name, 'data-testid': 'group-name' });
  const description = h('textarea', { rows: 2, maxlength: 2048, 'data-testid': 'group-description' });
  description.value = group.description;
  const visibility = visibilityChoice('visibility', visibilityOf(group.settings));
  const adminsOnly = h('input', { type: 'checkbox', checked: group.settings.adminsOnlyPost === true, 'data-testid': 'admins-only' });
  const ttl = disappearingChoice(typeof group.settings.messageTtlS === 'number' ? group.settings.messageTtlS : null);
  const saved = h('p', { class: 'notice', role: 'status' });
  const settings = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'group-settings',
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        error.textContent = '';
        saved.textContent = '';
        try {
          await http.updateGroup(groupId, {
            name: name.value.trim(),
            description: description.value.trim(),
            settings: { ...visibilitySettings(visibility.value()), adminsOnlyPost: adminsOnly.checked, messageTtlS: ttl.value() },
          });
          saved.textContent = t('admin.saved');
        } catch (err) {
          error.textContent = describeError(err);
        }
      },
    },
    h('h2', { id: 'group-settings' }, t('admin.group.settings')),
    field(t('admin.group.name'), name),
    field(t('admin.group.description'), description),
    visibility.element,
    h('label', { class: 'check' }, adminsOnly, h('span', {}, t('admin.group.adminsOnlyPost'))),
    field(t('admin.group.disappearing'), ttl.element, t('admin.group.disappearingHint')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'save-group' }, t('admin.save'))),
    saved,
  );
  return settings;
}

/** The protocol's disappearing-message periods (docs/protocol.md §8 "Pins and disappearing messages"), and a group's own if it has another. */
const TTL_CHOICES: [number | null, MessageKey][] = [
  [null, 'admin.group.ttlOff'],
  [86400, 'admin.group.ttlDay'],
  [604800, 'admin.group.ttlWeek'],
  [7776000, 'admin.group.ttl90Days'],
];

function disappearingChoice(current: number | null): { element: HTMLSelectElement; value: () => number | null } {
  const choices = TTL_CHOICES.map(([s, key]): [number | null, string] => [s, t(key)]);
  if (current !== null && !choices.some(([s]) => s === current)) choices.push([current, t('admin.group.ttlSeconds', { n: current })]);
  const element = h(
    'select',
    { 'data-testid': 'message-ttl' },
    choices.map(([s, label]) => h('option', { value: s === null ? '' : String(s), selected: s === current }, label)),
  );
  return { element, value: () => (element.value === '' ? null : Number(element.value)) };
}
