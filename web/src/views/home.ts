import type { GroupState } from '../../../src/client/index.js';
import { badge, h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import type { Ctx } from '../main.js';
import { enablePush, pushEnabled, pushSupported } from '../push.js';
import { searchBox } from '../search.js';

/** A clear opt-in to notifications, shown after sign-in; the browser asks only when it is pressed. */
function pushOptIn(client: Ctx['client'], error: HTMLElement) {
  const box = h('p', { class: 'push-opt-in' });
  if (!pushSupported()) return box;
  const button = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'data-testid': 'enable-push',
      onclick: () => {
        button.disabled = true;
        enablePush(client).then(
          () => replace(box, 'Notifications are on for this browser.'),
          (err: unknown) => {
            button.disabled = false;
            error.textContent = `Could not turn on notifications: ${describeError(err)}`;
          },
        );
      },
    },
    '🔔 Turn on notifications',
  );
  replace(box, 'Get a notification when a message arrives while Banyan is closed: ', button);
  void pushEnabled().then((on) => on && replace(box, 'Notifications are on for this browser.'));
  return box;
}

type MyCommunity = { id: string; name: string; role: string };
type Invitation = { group: { id: string; name: string; memberCount: number }; by: { id: string; name: string } };

/** The communities and groups of the user, with unread counts, live. */
export function homeView(root: HTMLElement, ctx: Ctx) {
  const { client, session } = ctx;
  let communities: MyCommunity[] = [];
  let invitations: Invitation[] = [];
  const error = h('p', { class: 'error', role: 'alert' });
  const lists = h('div');
  const invitationList = h('div', { 'data-testid': 'invitations' });

  /** Pending invitations (PROTOCOL.md §6), each with Accept and Decline. */
  const drawInvitations = () =>
    replace(
      invitationList,
      invitations.length === 0
        ? null
        : h(
            'section',
            {},
            h('h2', {}, 'Invitations'),
            h(
              'ul',
              { class: 'list' },
              invitations.map((inv) =>
                h(
                  'li',
                  { class: 'row', 'data-testid': 'invitation' },
                  h(
                    'span',
                    { class: 'name', title: `${inv.by.name} invited you (${inv.group.memberCount} members)` },
                    `“${inv.group.name}” from ${inv.by.name}`,
                  ),
                  h('button', { type: 'button', class: 'small', onclick: () => decide(inv.group.id, true) }, 'Accept'),
                  h('button', { type: 'button', class: 'small link', onclick: () => decide(inv.group.id, false) }, 'Decline'),
                ),
              ),
            ),
          ),
    );
  const loadInvitations = () =>
    ctx.http.invitations().then(
      (r) => {
        invitations = r.invitations;
        drawInvitations();
      },
      (err: unknown) => (error.textContent = describeError(err)),
    );
  const decide = (groupId: string, accept: boolean) =>
    void (accept ? ctx.http.acceptInvitation(groupId) : ctx.http.declineInvitation(groupId)).then(
      () => void loadInvitations(),
      (err: unknown) => (error.textContent = describeError(err)),
    );

  const groupRow = (g: GroupState) =>
    h(
      'li',
      {},
      link(
        `#/g/${encodeURIComponent(g.id)}`,
        { class: 'row', 'data-testid': 'group-row' },
        h('span', { class: 'name' }, g.kind === 'direct' ? '✉️ ' : '# ', g.name),
        badge(g.unread),
      ),
    );

  const draw = () => {
    const groups = client.groups();
    const unreadOf = (communityId: string) => groups.filter((g) => g.communityId === communityId).reduce((n, g) => n + g.unread, 0);
    const plain = groups.filter((g) => g.communityId === null).sort((a, b) => a.name.localeCompare(b.name));
    replace(
      lists,
      h(
        'section',
        {},
        h('div', { class: 'section-head' }, h('h2', {}, 'Communities'), link('#/new-community', { class: 'button' }, '+ New community')),
        communities.length === 0
          ? h('p', { class: 'empty' }, 'No communities yet. Create one, or open an invite link.')
          : h(
              'ul',
              { class: 'list' },
              communities.map((c) =>
                h(
                  'li',
                  {},
                  link(
                    `#/c/${encodeURIComponent(c.id)}`,
                    { class: 'row', 'data-testid': 'community-row' },
                    h('span', { class: 'name' }, '🏘️ ', c.name),
                    c.role !== 'member' ? h('span', { class: 'role' }, c.role) : null,
                    badge(unreadOf(c.id)),
                  ),
                ),
              ),
            ),
      ),
      h(
        'section',
        {},
        h('div', { class: 'section-head' }, h('h2', {}, 'Groups'), link('#/new-group', { class: 'button' }, '+ New group')),
        plain.length === 0
          ? h('p', { class: 'empty' }, client.state === 'ready' ? 'No groups yet.' : 'Loading…')
          : h('ul', { class: 'list' }, plain.map(groupRow)),
      ),
    );
  };

  const loadCommunities = () =>
    ctx.http.me().then(
      (me) => {
        communities = me.communities;
        draw();
      },
      (err: unknown) => (error.textContent = describeError(err)),
    );

  const copy = h(
    'button',
    {
      type: 'button',
      class: 'small',
      onclick: () => void navigator.clipboard?.writeText(session.user.id).then(() => (copy.textContent = 'Copied')),
    },
    'Copy',
  );
  replace(
    root,
    h(
      'header',
      { class: 'top' },
      h('h1', {}, '🌳 Banyan'),
      h(
        'div',
        { class: 'me' },
        h('span', { 'data-testid': 'my-name' }, session.user.name),
        h('button', { type: 'button', class: 'link', onclick: () => ctx.signOut() }, 'Sign out'),
      ),
    ),
    h(
      'p',
      { class: 'my-id' },
      'Your user id (share it to be added to groups): ',
      h('code', { 'data-testid': 'my-id' }, session.user.id),
      ' ',
      copy,
    ),
    searchBox(ctx),
    pushOptIn(client, error),
    error,
    invitationList,
    lists,
  );
  draw();
  void loadCommunities();
  void loadInvitations();
  const offs = [
    client.on('unread', draw),
    client.on('ready', draw),
    client.on('group_removed', () => void loadCommunities()),
    client.on('group_invited', () => void loadInvitations()),
    // A new announcement group means a community was joined.
    client.on('group', (g) =>
      g.kind === 'announcement' && !communities.some((c) => c.id === g.communityId) ? void loadCommunities() : draw(),
    ),
  ];
  return () => {
    for (const off of offs) off();
  };
}
