import { h, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { Ctx } from '../main.js';

// Pending invitations to groups (docs/protocol.md §8 "Privacy and safety"): what the group is,
// who invited, Accept or Decline.

export interface Invitation {
  group: { id: string; name: string; description: string; memberCount: number };
  by: { id: string; name: string };
}

export function invitationRows(invitations: Invitation[], decide: (groupId: string, accept: boolean) => void): HTMLElement | null {
  if (invitations.length === 0) return null;
  return h(
    'section',
    { 'aria-labelledby': 'invitations-title' },
    h('h2', { id: 'invitations-title' }, t('home.invitations')),
    h(
      'ul',
      { class: 'list' },
      invitations.map((inv) =>
        h(
          'li',
          { class: 'row invitation', 'data-testid': 'invitation' },
          h(
            'div',
            { class: 'name stack' },
            h('strong', { dir: 'auto' }, inv.group.name),
            h(
              'span',
              { class: 'preview', dir: 'auto' },
              t('home.invitedBy', { name: inv.by.name, count: inv.group.memberCount }),
              inv.group.description ? ` · ${inv.group.description}` : '',
            ),
          ),
          h('button', { type: 'button', class: 'small primary', onclick: () => decide(inv.group.id, true) }, t('home.accept')),
          h('button', { type: 'button', class: 'small link', onclick: () => decide(inv.group.id, false) }, t('home.decline')),
        ),
      ),
    ),
  );
}

/** The invitations box: loads them, and again after each answer. */
export function invitationsBox(http: Ctx['http'], fail: (message: string) => void) {
  const element = h('div', { 'data-testid': 'invitations' });
  const decide = (groupId: string, accept: boolean) =>
    void (accept ? http.acceptInvitation(groupId) : http.declineInvitation(groupId)).then(
      () => void load(),
      (err: unknown) => fail(describeError(err)),
    );
  const load = () =>
    http.invitations().then(
      (r) => replace(element, invitationRows(r.invitations, decide)),
      () => undefined, // offline: none shown
    );
  return { element, load };
}
