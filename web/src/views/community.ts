import type { HttpReplies } from '../../../src/client/index.js';
import { badge, h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import type { Ctx } from '../main.js';

type Detail = HttpReplies['communityDetail'];

/** A community: its announcement group on top, its groups, and the admin's tools. */
export function communityView(root: HTMLElement, ctx: Ctx, communityId: string) {
  const { client, http } = ctx;
  let detail: Detail | undefined;
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const body = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  const title = h('h1', {}, 'Community');
  replace(root, h('header', { class: 'top' }, link('#/', { class: 'back', 'aria-label': 'Back' }, '‹'), title), error, body);

  const lists = h('div');
  const load = () =>
    http.community(communityId).then(
      (d) => {
        const first = !detail;
        detail = d;
        if (first) {
          title.textContent = d.community.name;
          const isAdmin = d.role === 'owner' || d.role === 'admin';
          // Drawn once: redrawing the lists must not wipe what the admin is typing.
          replace(
            body,
            d.community.description ? h('p', { class: 'description' }, d.community.description) : null,
            lists,
            isAdmin ? adminTools(d.community.id) : null,
            isAdmin ? moderation : null,
          );
          if (isAdmin) void loadModeration();
        }
        draw();
      },
      (err: unknown) => {
        body.replaceChildren();
        error.textContent = describeError(err);
      },
    );

  const action = (label: string, run: (button: HTMLButtonElement) => Promise<void>, attrs: Record<string, string> = {}) => {
    const button: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        ...attrs,
        onclick: async () => {
          error.textContent = '';
          button.disabled = true;
          try {
            await run(button);
          } catch (err) {
            error.textContent = describeError(err);
          } finally {
            button.disabled = false;
          }
        },
      },
      label,
    );
    return button;
  };

  const draw = () => {
    if (!detail) return;
    const { community } = detail;
    const announcement = client.group(community.announcementGroupId);
    const others = detail.groups.filter((g) => g.id !== community.announcementGroupId);
    replace(
      lists,
      link(
        `#/g/${encodeURIComponent(community.announcementGroupId)}`,
        { class: 'row announcement', 'data-testid': 'announcement-row' },
        h('span', { class: 'name' }, '📣 Announcements'),
        badge(announcement?.unread ?? 0),
      ),
      h(
        'section',
        {},
        h('h2', {}, 'Groups'),
        others.length === 0
          ? h('p', { class: 'empty' }, 'No groups in this community yet.')
          : h(
              'ul',
              { class: 'list' },
              others.map((g) => {
                const mine = client.group(g.id);
                return h(
                  'li',
                  {},
                  mine
                    ? link(
                        `#/g/${encodeURIComponent(g.id)}`,
                        { class: 'row', 'data-testid': 'group-row' },
                        h('span', { class: 'name' }, '# ', g.name),
                        badge(mine.unread),
                      )
                    : h(
                        'div',
                        { class: 'row' },
                        h('span', { class: 'name' }, '# ', g.name),
                        action(
                          'Join',
                          async () => {
                            await http.joinCommunityGroup(community.id, g.id);
                            ctx.navigate(`#/g/${encodeURIComponent(g.id)}`);
                          },
                          { class: 'small' },
                        ),
                      ),
                );
              }),
            ),
      ),
    );
  };

  const adminTools = (id: string) => {
    const inviteOut = h('div', { class: 'invite' });
    const text = h('textarea', { rows: 3, placeholder: 'Write an announcement to every member…', 'data-testid': 'announcement-text' });
    const groupName = h('input', { placeholder: 'Group name', 'data-testid': 'new-group-name' });
    return h(
      'section',
      { class: 'card admin' },
      h('h2', {}, 'Admin'),
      h(
        'div',
        { class: 'announce' },
        text,
        action(
          'Announce',
          async (button) => {
            if (!text.value.trim()) return;
            await http.announce(id, { clientMsgId: crypto.randomUUID(), text: text.value.trim() });
            text.value = '';
            button.textContent = 'Announced ✓';
            setTimeout(() => (button.textContent = 'Announce'), 2000);
          },
          { class: 'primary' },
        ),
      ),
      h(
        'div',
        { class: 'inline' },
        action('Create invite link', async () => {
          const invite = await http.createInvite(id);
          const url = `${location.origin}/#/invite/${encodeURIComponent(invite.code)}`;
          const input = h('input', {
            readonly: true,
            value: url,
            'data-testid': 'invite-link',
            onfocus: (e: FocusEvent) => (e.target as HTMLInputElement).select(),
          });
          replace(
            inviteOut,
            input,
            action(
              'Copy',
              async (b) => {
                await navigator.clipboard.writeText(url);
                b.textContent = 'Copied';
              },
              { class: 'small' },
            ),
          );
        }),
      ),
      inviteOut,
      h(
        'div',
        { class: 'inline' },
        groupName,
        action('Add group', async () => {
          if (!groupName.value.trim()) return;
          await http.createCommunityGroup(id, { name: groupName.value.trim() });
          groupName.value = '';
          await load();
        }),
      ),
    );
  };

  // Moderation, for admins: the open reports (refreshed as `report` frames come) and the bans.
  const moderation = h('section', { class: 'card admin', 'data-testid': 'moderation' });
  const loadModeration = async () => {
    try {
      const [queue, banned] = await Promise.all([http.communityReports(communityId), http.bans(communityId)]);
      const resolve = (id: string, label: string, body: Parameters<typeof http.resolveReport>[1]) =>
        action(
          label,
          async () => {
            await http.resolveReport(id, body);
            await loadModeration();
          },
          { class: 'small', 'data-testid': `resolve-${body.action}` },
        );
      replace(
        moderation,
        h('h2', {}, 'Reports'),
        queue.reports.length === 0
          ? h('p', { class: 'empty' }, 'No open reports.')
          : h(
              'ul',
              { class: 'list' },
              queue.reports.map((r) =>
                h(
                  'li',
                  { class: 'report', 'data-testid': 'report-row' },
                  h('blockquote', {}, r.snapshot.text ?? h('em', {}, 'no text')),
                  h(
                    'p',
                    { class: 'meta' },
                    `${ctx.names.of(r.snapshot.sender)} · reported by ${r.reporter.name} for “${r.reason}”`,
                    r.note ? `: ${r.note}` : '',
                  ),
                  h(
                    'div',
                    { class: 'inline' },
                    resolve(r.id, 'Dismiss', { action: 'dismiss' }),
                    resolve(r.id, 'Delete message', { action: 'delete' }),
                    resolve(r.id, 'Mute 24 h', { action: 'mute', forS: 24 * 3600 }),
                    resolve(r.id, 'Remove from group', { action: 'remove' }),
                    resolve(r.id, 'Ban', { action: 'ban' }),
                  ),
                ),
              ),
            ),
        h('h2', {}, 'Banned'),
        banned.bans.length === 0
          ? h('p', { class: 'empty' }, 'Nobody is banned.')
          : h(
              'ul',
              { class: 'list' },
              banned.bans.map((b) =>
                h(
                  'li',
                  { class: 'row' },
                  h('span', { class: 'name' }, b.name ?? b.userId, b.reason ? ` — ${b.reason}` : ''),
                  action(
                    'Unban',
                    async () => {
                      await http.unban(communityId, b.userId);
                      await loadModeration();
                    },
                    { class: 'small' },
                  ),
                ),
              ),
            ),
      );
    } catch (err) {
      error.textContent = describeError(err);
    }
  };

  void load();
  const offs = [
    client.on('unread', draw),
    client.on('group', draw),
    client.on('ready', draw),
    client.on('report', (f) => {
      if (f.report.community === communityId) void loadModeration();
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
