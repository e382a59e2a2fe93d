import type { GroupEvent, HistoryMessageFrame, PendingMessage } from '../../../src/client/index.js';
import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { type Attachment, AttachmentViews, canRecord, describeUploadError, formatSize, startRecording, uploadFile } from '../files.js';
import { dayLabel, formatDateTime, formatTime, formatWhen, t } from '../i18n/index.js';
import type { Ctx } from '../main.js';
import { messageText } from '../message-text.js';
import { offline, type SavedMessage } from '../offline.js';
import { type Answer, createForms, eventView, pollView } from '../poll-event.js';
import { searchBox } from '../search.js';

interface Item extends SavedMessage {
  /** A membership or settings line rather than a message. */
  system?: string;
}

/** The quick reactions offered under a message. */
const REACTIONS = ['👍', '❤️', '😂', '🙏', '😮'];

/** A membership or settings event shown as one line of text. */
const systemLine = (e: GroupEvent, system: string): Item => ({
  seq: e.seq,
  sender: e.sender,
  ts: e.ts,
  text: null,
  clientMsgId: null,
  edited: false,
  attachments: [],
  replyTo: null,
  mentions: [],
  reactions: {},
  system,
});

const fromHistory = (m: HistoryMessageFrame): Item => ({
  seq: m.seq,
  sender: m.sender,
  ts: m.ts,
  text: m.deleted || m.expired ? null : m.text,
  clientMsgId: m.clientMsgId,
  edited: m.editedAt !== null,
  attachments: m.deleted || m.expired ? [] : (m.attachments ?? []),
  ...(m.expiresAt ? { expiresAt: m.expiresAt } : {}),
  ...(m.expired ? { expired: true } : {}),
  ...(m.poll && !m.deleted ? { poll: { ...m.poll, closed: m.poll.closed } } : {}),
  ...(m.event && !m.deleted ? { event: m.event } : {}),
  replyTo: m.replyTo,
  mentions: m.mentions,
  reactions: m.reactions,
});

const actionKey = {
  added: 'conv.member.added',
  removed: 'conv.member.removed',
  joined: 'conv.member.joined',
  left: 'conv.member.left',
  promoted: 'conv.member.promoted',
  demoted: 'conv.member.demoted',
} as const;

/** The same lines about the user themself ("You were added"). */
const yourActionKey = {
  added: 'conv.you.added',
  removed: 'conv.you.removed',
  joined: 'conv.you.joined',
  left: 'conv.you.left',
  promoted: 'conv.you.promoted',
  demoted: 'conv.you.demoted',
} as const;

const snippet = (text: string | null, max = 80) => {
  if (text === null) return t('conv.deleted');
  const plain = text
    .replace(/^(> .*\n)+/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
};

/** A quote of an announcement to reply to privately, carried to the direct conversation. */
const privateQuote = {
  key: (group: string) => `banyan.quote.${group}`,
  take(group: string): { from: string; text: string } | undefined {
    const raw = sessionStorage.getItem(this.key(group));
    sessionStorage.removeItem(this.key(group));
    return raw ? (JSON.parse(raw) as { from: string; text: string }) : undefined;
  },
  put(group: string, quote: { from: string; text: string }) {
    sessionStorage.setItem(this.key(group), JSON.stringify(quote));
  },
};

/**
 * One group's conversation: history on scroll, live messages, typing, read receipts, files,
 * replies, reactions and mentions. The list is keyed by seq: an event redraws its one row.
 * `param` is the group id, or `<group>/<seq>` to open at a message (a search result).
 */
export function conversationView(root: HTMLElement, ctx: Ctx, param: string) {
  const { client, names } = ctx;
  const me = ctx.session.user.id;
  const [groupId = '', at] = param.split('/');
  const focusSeq = at && /^\d+$/.test(at) ? Number(at) : undefined;
  const items = new Map<number, Item>();
  /** Who reacted with what, as seen live (history gives only counts): to move a changed reaction. */
  const reactors = new Map<number, Map<string, string>>();
  const mine = new Map<number, string>();
  let pending: PendingMessage[] = client.pending(groupId);
  let loaded = false;
  let hasMore = true;
  let loadingOlder = false;
  const early: GroupEvent[] = [];
  const typers = new Map<string, ReturnType<typeof setTimeout>>();
  const saved = offline.conversation(me, groupId);
  const group = () => client.group(groupId) ?? saved?.group;

  const title = h('h1', { dir: 'auto', 'data-testid': 'title' }, group()?.name ?? t('conv.title'));
  /** Who is online, in small ordinary and direct groups (presence, docs/protocol.md §8 "Profiles and presence"). */
  const presenceLine = h('p', { class: 'presence', 'data-testid': 'presence', 'aria-live': 'polite' });
  const presence = new Map<string, { online: boolean; lastSeen: string | null }>();
  const drawPresence = () => {
    const g = client.group(groupId);
    const others = [...presence].filter(([id]) => id !== me);
    if (!g || others.length === 0) {
      presenceLine.textContent = '';
      return;
    }
    if (g.kind === 'direct') {
      const [, p] = others[0]!;
      presenceLine.textContent = p.online
        ? t('conv.online')
        : p.lastSeen
          ? t('conv.lastSeen', { when: formatWhen(new Date(p.lastSeen)) })
          : '';
      return;
    }
    const online = others.filter(([, p]) => p.online).map(([id]) => names.of(id));
    presenceLine.textContent =
      online.length === 0 ? '' : t('conv.onlineNow', { count: online.length, names: online.slice(0, 3).join(', ') });
  };
  const loadPresence = async () => {
    const g = client.group(groupId);
    if (!g || g.kind === 'announcement') return;
    try {
      for (const p of await client.presence(groupId)) presence.set(p.user, { online: p.online, lastSeen: p.lastSeen });
      drawPresence();
    } catch {
      // A large group shows no presence (400): nothing to show.
    }
  };
  const olderLine = h('p', { class: 'older' });
  const days = h('div', { class: 'days' });
  const pendingBox = h('div', { class: 'pending-list' });
  const list = h(
    'div',
    { class: 'messages', 'data-testid': 'messages', role: 'log', 'aria-label': t('conv.messages'), tabindex: 0 },
    olderLine,
    days,
    pendingBox,
  );
  const pinBar = h('nav', { class: 'pins', 'aria-label': t('conv.pinned'), 'data-testid': 'pins', hidden: true });
  const typingLine = h('p', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' });
  const receiptLine = h('button', {
    type: 'button',
    class: 'receipt link',
    'data-testid': 'receipt',
    title: t('conv.receipt.refresh'),
    hidden: true,
    onclick: () => void refreshReceipt(),
  });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const composer = h('form', { class: 'composer', 'aria-label': t('conv.composer') });
  const files = new AttachmentViews(ctx, (message) => (error.textContent = message));
  const search = searchBox(ctx, { group: groupId });
  search.hidden = true;
  const searchToggle = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': t('conv.search'),
      'aria-expanded': 'false',
      'data-testid': 'search-toggle',
      onclick: () => {
        search.hidden = !search.hidden;
        searchToggle.setAttribute('aria-expanded', String(!search.hidden));
        if (!search.hidden) search.querySelector('input')?.focus();
      },
    },
    '🔍',
  );
  const blockButton = directBlockButton(ctx, groupId, (message) => (error.textContent = message));
  // Notifications for this group (docs/protocol.md §8 "Notifications"): the level, read from the caller's summary.
  const levelSelect = h(
    'select',
    {
      class: 'small',
      'aria-label': t('conv.notify'),
      'data-testid': 'notify-level',
      onchange: () =>
        void client
          .setNotifications(groupId, levelSelect.value as 'all' | 'mentions' | 'none')
          .catch((err: unknown) => (error.textContent = describeError(err))),
    },
    h('option', { value: 'all' }, `🔔 ${t('conv.notify.all')}`),
    h('option', { value: 'mentions' }, `@ ${t('conv.notify.mentions')}`),
    h('option', { value: 'none' }, `🔕 ${t('conv.notify.none')}`),
  );
  void ctx.http.me().then(
    (info) => {
      const level = info.groups.find((g) => g.id === groupId)?.level;
      if (level) levelSelect.value = level;
    },
    () => undefined, // offline: the default shows
  );
  /** Reach of announcements, for the group's admins: counters from GET …/stats and live stats frames. */
  const reach = new Map<number, { delivered: number; notified: number; read: number; members: number }>();
  const isAdminHere = () => {
    const g = client.group(groupId);
    return g?.kind === 'announcement' && (g.role === 'owner' || g.role === 'admin');
  };
  replace(
    root,
    h(
      'header',
      { class: 'top' },
      link(backHref(), { class: 'back', 'aria-label': t('common.back') }, '‹'),
      h('div', { class: 'heading' }, title, presenceLine),
      h('div', { class: 'tools' }, searchToggle, levelSelect, blockButton),
    ),
    search,
    pinBar,
    list,
    receiptLine,
    typingLine,
    error,
    composer,
  );
  root.classList.add('conversation');
  // Where the "new messages" line goes: after what was read when the conversation opened.
  const readAtOpen = client.group(groupId)?.readSeq ?? 0;

  function backHref() {
    const communityId = group()?.communityId;
    return communityId ? `#/c/${encodeURIComponent(communityId)}` : '#/';
  }

  /** Pinned messages (newest pin first), from the group's summary. */
  const pinnedSeqs = () => client.group(groupId)?.pins ?? [];
  /** Group admins pin; in a direct group either member may. */
  const canPin = () => {
    const g = client.group(groupId);
    return !!g && (g.kind === 'direct' || g.role === 'owner' || g.role === 'admin');
  };
  let drawnPins = '';
  /** The pinned messages above the conversation; one tap opens each where it is. */
  const drawPins = () => {
    const seqs = pinnedSeqs();
    const key = seqs.map((seq) => `${seq}:${items.get(seq)?.text ?? ''}`).join();
    if (key === drawnPins) return;
    const before = drawnPins.split(',').map((k) => Number(k.split(':')[0]));
    drawnPins = key;
    pinBar.hidden = seqs.length === 0;
    replace(
      pinBar,
      seqs.map((seq) => {
        const target = items.get(seq);
        return h(
          'a',
          {
            href: `#/g/${encodeURIComponent(groupId)}/${seq}`,
            class: 'pin',
            dir: 'auto',
            'data-testid': 'pin',
            onclick: (e: MouseEvent) => {
              const row = rows.get(seq);
              if (!row) return; // not loaded: the link opens the conversation there
              e.preventDefault();
              row.scrollIntoView({ block: 'center' });
            },
          },
          '📌 ',
          target ? snippet(target.text, 60) : t('conv.pinnedMessage'),
        );
      }),
    );
    // The 📌 mark on the rows that were pinned or unpinned.
    for (const seq of new Set([...before, ...seqs])) if (Number.isFinite(seq)) redraw(seq);
  };

  /** Who announcements are from when their sender's name cannot be known: the community. */
  const announcer = () => {
    const g = group();
    return g?.kind === 'announcement' ? `📣 ${g.name}` : undefined;
  };

  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const stickIf = (stick: boolean) => {
    if (stick) list.scrollTop = list.scrollHeight;
  };

  // The keyed list: one row per seq, inside one section per day.
  const rows = new Map<number, HTMLElement>();
  const dayBoxes = new Map<string, HTMLElement>();
  const dayKey = (ts: string) => {
    const d = new Date(ts);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  };
  const dayBox = (ts: string) => {
    const key = dayKey(ts);
    let box = dayBoxes.get(key);
    if (box) return box;
    const label = dayLabel(new Date(ts));
    box = h('section', { class: 'day', 'data-day': key, 'aria-label': label }, h('h2', { class: 'day-sep' }, label));
    const next = [...dayBoxes.entries()].filter(([k]) => k > key).sort(([a], [b]) => (a < b ? -1 : 1))[0]?.[1];
    days.insertBefore(box, next ?? null);
    dayBoxes.set(key, box);
    return box;
  };
  /** Puts an item's row in place, or replaces its row: nothing else in the list is touched. */
  const put = (item: Item) => {
    items.set(item.seq, item);
    const row = renderRow(item);
    const old = rows.get(item.seq);
    rows.set(item.seq, row);
    if (old) return old.replaceWith(row);
    const box = dayBox(item.ts);
    const last = box.lastElementChild as HTMLElement | null;
    if (!last || Number(last.dataset.seq ?? 0) < item.seq) return box.append(row);
    const after = [...box.querySelectorAll<HTMLElement>(':scope > [data-seq]')].find((el) => Number(el.dataset.seq) > item.seq);
    box.insertBefore(row, after ?? null);
  };
  const redraw = (seq: number) => {
    const item = items.get(seq);
    if (item) put(item);
  };

  const renderRow = (item: Item): HTMLElement => {
    if (item.system) return h('p', { class: 'system', 'data-seq': item.seq }, item.system);
    const fromMe = item.sender === me;
    const mentionsMe = item.mentions.includes(me);
    const actions = h('div', { class: 'actions', hidden: true, 'data-testid': 'actions' });
    const actionsButton = h(
      'button',
      {
        type: 'button',
        class: 'link more',
        'aria-expanded': 'false',
        'aria-label': t('conv.actions', { name: names.of(item.sender, announcer()) }),
        'data-testid': 'message-actions',
        onclick: () => {
          actions.hidden = !actions.hidden;
          actionsButton.setAttribute('aria-expanded', String(!actions.hidden));
          if (!actions.hidden) replace(actions, actionButtons(item));
        },
      },
      '⋯',
    );
    const reactions = Object.entries(item.reactions).filter(([, n]) => n > 0);
    return h(
      'article',
      {
        class: `message${fromMe ? ' mine' : ''}${mentionsMe ? ' mentions-me' : ''}${item.seq === focusSeq ? ' highlight' : ''}`,
        'data-seq': item.seq,
        'data-testid': 'message',
      },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'sender', dir: 'auto' }, names.of(item.sender, announcer())),
        ' ',
        h('time', { datetime: item.ts }, formatTime(new Date(item.ts))),
        item.edited ? ` · ${t('conv.edited')}` : '',
        item.expiresAt && item.text !== null
          ? h('span', { class: 'expires', title: t('conv.expiresAt', { when: formatDateTime(new Date(item.expiresAt)) }) }, ' ⏳')
          : null,
        pinnedSeqs().includes(item.seq) ? h('span', { class: 'pinned-mark', title: t('conv.pinned') }, ' 📌') : null,
        item.text !== null ? actionsButton : null,
      ),
      item.replyTo ? quoteOf(item.replyTo) : null,
      h(
        'div',
        { class: 'text', dir: 'auto' },
        item.text === null
          ? h('em', {}, item.expired ? t('conv.expired') : t('conv.deleted'))
          : messageText(
              item.text,
              item.mentions.map((id) => names.nameOf(id) ?? ''),
            ),
      ),
      item.text === null ? null : files.render(item.attachments),
      item.text !== null && item.poll ? pollView(item.poll, (options) => vote(item.seq, options)) : null,
      item.text !== null && item.event ? eventView(item.event, (a) => answer(item.seq, a)) : null,
      reactions.length
        ? h(
            'div',
            { class: 'reactions', 'data-testid': 'reactions' },
            reactions.map(([emoji, count]) =>
              h(
                'button',
                {
                  type: 'button',
                  class: `chip${mine.get(item.seq) === emoji ? ' on' : ''}`,
                  'aria-pressed': String(mine.get(item.seq) === emoji),
                  'aria-label': t('conv.reaction', { emoji, count }),
                  onclick: () => react(item.seq, mine.get(item.seq) === emoji ? null : emoji),
                },
                `${emoji} ${count}`,
              ),
            ),
          )
        : null,
      actions,
      reachLine(item.seq),
    );
  };

  /** The message a reply answers, as a quote that scrolls to it. */
  const quoteOf = (seq: number) => {
    const target = items.get(seq);
    return h(
      'a',
      {
        href: `#/g/${encodeURIComponent(groupId)}/${seq}`,
        class: 'reply-quote',
        'data-testid': 'reply-quote',
        dir: 'auto',
        onclick: (e: MouseEvent) => {
          const row = rows.get(seq);
          if (!row) return; // not loaded: the link opens the conversation there
          e.preventDefault();
          row.scrollIntoView({ block: 'center' });
          row.classList.add('highlight');
          setTimeout(() => row.classList.remove('highlight'), 1500);
        },
      },
      target ? h('strong', {}, names.of(target.sender, announcer())) : null,
      target ? ' ' : null,
      target ? snippet(target.text) : t('conv.reply.earlier'),
    );
  };

  const actionButtons = (item: Item): HTMLElement[] => {
    const g = group();
    const canWrite = !(g?.kind === 'announcement' && g.role === 'member');
    const buttons: HTMLElement[] = REACTIONS.map((emoji) =>
      h(
        'button',
        {
          type: 'button',
          class: `icon react${mine.get(item.seq) === emoji ? ' on' : ''}`,
          'aria-label': t('conv.react', { emoji }),
          'aria-pressed': String(mine.get(item.seq) === emoji),
          onclick: () => react(item.seq, mine.get(item.seq) === emoji ? null : emoji),
        },
        emoji,
      ),
    );
    if (canWrite)
      buttons.push(
        h('button', { type: 'button', class: 'small', 'data-testid': 'reply', onclick: () => startReply(item) }, t('conv.reply')),
      );
    if (g?.kind === 'announcement' && item.sender !== me && item.sender)
      buttons.push(
        h(
          'button',
          { type: 'button', class: 'small', 'data-testid': 'reply-privately', onclick: () => void replyPrivately(item) },
          t('conv.replyPrivately'),
        ),
      );
    if (canPin()) {
      const pinned = pinnedSeqs().includes(item.seq);
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            'data-testid': pinned ? 'unpin' : 'pin',
            onclick: () =>
              void (pinned ? client.unpin(groupId, item.seq) : client.pin(groupId, item.seq)).catch(
                (err: unknown) => (error.textContent = describeError(err)),
              ),
          },
          pinned ? t('conv.unpin') : t('conv.pin'),
        ),
      );
    }
    if (item.sender !== me) buttons.push(reportButton(item.seq));
    return buttons;
  };

  /** A poll's or event's counts and the user's own answer, fetched again (after a vote or an answer). */
  const refreshing = new Set<number>();
  const refreshCounts = async (seq: number) => {
    if (refreshing.has(seq)) return;
    refreshing.add(seq);
    try {
      const item = items.get(seq);
      if (item?.poll) {
        const v = await client.votes(groupId, seq);
        const now = items.get(seq);
        if (now?.poll) put({ ...now, poll: { ...now.poll, counts: v.counts, mine: v.mine, closed: v.closed } });
      } else if (item?.event) {
        const r = await client.rsvps(groupId, seq);
        const now = items.get(seq);
        if (now?.event) put({ ...now, event: { ...now.event, counts: r.counts, mine: r.mine } });
      }
    } catch {
      // Gone meanwhile, or offline: the counts shown stay.
    } finally {
      refreshing.delete(seq);
    }
  };
  const vote = (seq: number, options: number[]) =>
    void client.vote(groupId, seq, options).then(
      () => refreshCounts(seq),
      (err: unknown) => (error.textContent = describeError(err)),
    );
  const answer = (seq: number, a: Answer | null) => {
    if (!a) return;
    void client.rsvp(groupId, seq, a).then(
      () => refreshCounts(seq),
      (err: unknown) => (error.textContent = describeError(err)),
    );
  };

  const react = (seq: number, emoji: string | null) => {
    client.react(groupId, seq, emoji).catch((err: unknown) => (error.textContent = describeError(err)));
  };

  /** Replies to an announcement in a direct conversation with its sender, quoting it. */
  const replyPrivately = async (item: Item) => {
    try {
      const { group: direct } = await ctx.http.openDirect(item.sender);
      privateQuote.put(direct.id, { from: group()?.name ?? '', text: snippet(item.text, 200) });
      ctx.navigate(`#/g/${encodeURIComponent(direct.id)}`);
    } catch (err) {
      error.textContent = describeError(err);
    }
  };

  const drawPending = () => {
    const seen = new Set([...items.values()].map((i) => i.clientMsgId));
    replace(
      pendingBox,
      pending
        .filter((p) => !seen.has(p.clientMsgId))
        .map((p) =>
          h(
            'div',
            { class: `message mine pending ${p.status}`, 'data-testid': 'pending' },
            h(
              'div',
              { class: 'meta' },
              p.status === 'failed'
                ? `${t('conv.notSent', { reason: describeError(p.error) })} `
                : client.state === 'ready'
                  ? t('conv.sending')
                  : t('conv.waiting'),
              p.status === 'failed'
                ? h('button', { type: 'button', class: 'link', onclick: () => client.cancel(groupId, p.clientMsgId) }, t('conv.dismiss'))
                : null,
            ),
            h('div', { class: 'text', dir: 'auto' }, messageText(p.text)),
            p.attachments?.length ? h('div', { class: 'meta' }, t('conv.files', { count: p.attachments.length })) : null,
          ),
        ),
    );
  };
  const drawOlder = () => {
    olderLine.textContent = !loaded ? '' : hasMore ? (loadingOlder ? t('conv.loadingOlder') : t('conv.scrollOlder')) : t('conv.beginning');
  };
  const drawAll = () => {
    days.replaceChildren();
    rows.clear();
    dayBoxes.clear();
    for (const item of [...items.values()].sort((a, b) => a.seq - b.seq)) put(item);
    drawPending();
    drawOlder();
    files.keepOnly(new Set([...items.values()].flatMap((i) => (i.text === null ? [] : i.attachments.map((a) => a.id)))));
  };
  /** The "new messages" line before the first message that was unread on opening. */
  const markUnread = () => {
    const first = [...items.values()].filter((i) => i.seq > readAtOpen && i.sender !== me && !i.system).sort((a, b) => a.seq - b.seq)[0];
    if (!first || readAtOpen === 0) return;
    rows.get(first.seq)?.before(h('p', { class: 'divider', role: 'separator' }, t('conv.newMessages')));
  };

  /** Reports another's message to the admins; the answer is the same however many reported it. */
  const reportButton = (seq: number) =>
    h(
      'button',
      {
        type: 'button',
        class: 'small link report',
        'data-testid': 'report',
        onclick: async (e: MouseEvent) => {
          const button = e.currentTarget as HTMLButtonElement;
          const reason = window.prompt(t('conv.report.why'), 'harassment');
          if (reason === null || !reason.trim()) return;
          button.disabled = true;
          try {
            await ctx.http.report(groupId, seq, { reason: reason.trim().slice(0, 64) });
            button.textContent = t('conv.reported');
          } catch (err) {
            button.disabled = false;
            error.textContent = describeError(err);
          }
        },
      },
      t('conv.report'),
    );
  const reachLine = (seq: number) => {
    const r = reach.get(seq);
    if (!r) return null;
    return h(
      'div',
      { class: 'meta reach', 'data-testid': 'reach' },
      t('conv.reach', {
        reached: r.delivered + r.notified,
        of: Math.max(0, r.members - 1),
        online: r.delivered,
        notified: r.notified,
        read: r.read,
      }),
    );
  };
  /** The newest announcements' reach, fetched once when the conversation opens (admins only). */
  const loadReach = async () => {
    if (!isAdminHere()) return;
    const recent = [...items.values()]
      .filter((i) => !i.system && i.text !== null)
      .sort((a, b) => b.seq - a.seq)
      .slice(0, 10);
    for (const item of recent) {
      const r = await client.stats(groupId, item.seq).catch(() => undefined);
      if (r) {
        reach.set(item.seq, r);
        redraw(item.seq);
      }
    }
  };

  /** Applies a live event to its row. */
  const apply = (e: GroupEvent): void => {
    switch (e.kind) {
      case 'message':
        put({
          seq: e.seq,
          sender: e.sender,
          ts: e.ts,
          text: e.deleted || e.expired ? null : e.text,
          clientMsgId: e.clientMsgId,
          edited: !!e.editedAt,
          attachments: e.deleted || e.expired ? [] : (e.attachments ?? []),
          ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}),
          ...(e.expired ? { expired: true } : {}),
          ...(e.poll && !e.deleted
            ? { poll: { ...e.poll, closed: e.poll.closed ?? false, counts: e.poll.options.map(() => 0), mine: [] } }
            : {}),
          ...(e.event && !e.deleted ? { event: { ...e.event, counts: { going: 0, maybe: 0, no: 0 }, mine: null } } : {}),
          replyTo: e.replyTo,
          mentions: e.mentions,
          reactions: {},
        });
        if (e.sender === me) drawPending();
        break;
      case 'edit': {
        const target = items.get(e.target);
        if (target) put({ ...target, text: e.text, edited: true });
        break;
      }
      case 'delete': {
        const target = items.get(e.target);
        if (target) put({ ...target, text: null, attachments: [] });
        break;
      }
      case 'reaction': {
        const target = items.get(e.target);
        if (!target) break;
        const who = reactors.get(e.target) ?? new Map<string, string>();
        reactors.set(e.target, who);
        const counts = { ...target.reactions };
        const before = who.get(e.sender) ?? (e.sender === me ? mine.get(e.target) : undefined);
        if (before && counts[before]) counts[before] = Math.max(0, counts[before] - 1);
        if (e.emoji) {
          counts[e.emoji] = (counts[e.emoji] ?? 0) + 1;
          who.set(e.sender, e.emoji);
        } else who.delete(e.sender);
        if (e.sender === me) {
          if (e.emoji) mine.set(e.target, e.emoji);
          else mine.delete(e.target);
        }
        put({ ...target, reactions: counts });
        break;
      }
      case 'reactions': {
        const target = items.get(e.target);
        if (target) put({ ...target, reactions: e.counts });
        break;
      }
      case 'vote':
      case 'rsvp':
        if (e.sender !== me) void refreshCounts(e.target);
        break;
      case 'tally': {
        const target = items.get(e.target);
        if (target?.poll && Array.isArray(e.counts)) put({ ...target, poll: { ...target.poll, counts: e.counts } });
        else if (target?.event && !Array.isArray(e.counts)) put({ ...target, event: { ...target.event, counts: e.counts } });
        break;
      }
      case 'poll_closed': {
        const target = items.get(e.target);
        if (target?.poll) put({ ...target, poll: { ...target.poll, counts: e.counts, closed: true } });
        break;
      }
      case 'member':
        void names.loadGroup(groupId, true).catch(() => undefined);
        put(systemLine(e, e.member === me ? t(yourActionKey[e.action]) : t(actionKey[e.action], { name: names.of(e.member) })));
        break;
      case 'group':
        if (typeof e.changes.name === 'string') {
          title.textContent = e.changes.name;
          put(systemLine(e, t('conv.renamed', { name: names.of(e.sender), title: e.changes.name })));
        }
        break;
      default:
        break;
    }
  };

  /**
   * Read markers of the others: "Seen by n of m" under the user's own last message. Fetched when
   * something suggests it changed (the conversation opens or comes back into view, a message or
   * typing from someone else) or when tapped; never on a timer.
   */
  let receiptFetch: Promise<void> | undefined;
  const refreshReceipt = () => {
    receiptFetch ??= fetchReceipt().finally(() => (receiptFetch = undefined));
    return receiptFetch;
  };
  const fetchReceipt = async () => {
    const last = [...items.values()].filter((i) => !i.system).sort((a, b) => b.seq - a.seq)[0];
    if (!last || last.sender !== me || group()?.kind === 'announcement') {
      receiptLine.hidden = true;
      return;
    }
    try {
      const { readBy, memberCount } = await ctx.http.receipts(groupId, last.seq);
      // The sender's own marker passed their message when it arrived on screen.
      const others = Math.max(0, memberCount - 1);
      receiptLine.textContent = t('conv.seenBy', { count: Math.min(others, Math.max(0, readBy - 1)), of: others });
      receiptLine.hidden = others === 0;
    } catch {
      receiptLine.hidden = true;
    }
  };

  const markRead = () => {
    if (document.visibilityState !== 'visible') return;
    client.markRead(groupId);
    if (loaded) void refreshReceipt();
  };

  /** One page of older history; callers share the page already on its way. */
  let olderPage: Promise<void> | undefined;
  const loadOlder = () => {
    if (!hasMore) return Promise.resolve();
    olderPage ??= fetchOlder().finally(() => (olderPage = undefined));
    return olderPage;
  };
  const fetchOlder = async () => {
    loadingOlder = true;
    drawOlder();
    const oldest = Math.min(...[...items.values()].filter((i) => !i.system).map((i) => i.seq));
    const before = list.scrollHeight - list.scrollTop;
    try {
      const page = await client.history(groupId, { limit: 50, ...(Number.isFinite(oldest) ? { before: oldest } : {}) });
      for (const m of page.messages) if (!items.has(m.seq)) put(fromHistory(m));
      hasMore = page.hasMore;
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      loadingOlder = false;
    }
    drawOlder();
    list.scrollTop = list.scrollHeight - before; // keep what was on screen in place
  };

  // The composer: text, files, voice notes, a reply, @mentions.
  let recording: Awaited<ReturnType<typeof startRecording>> | undefined;
  /** Set once the composer can record: stops a recording in progress (the view closing). */
  let stopRecording: () => void = () => undefined;
  /** Set with the composer: stops the uploads in progress (the view closing). */
  let abortUploads: () => void = () => undefined;
  /** Set with the composer: shows "Replying to …" above it. */
  let startReply: (item: Item) => void = () => undefined;
  const setupComposer = () => {
    const g = client.group(groupId);
    if (!g) return;
    title.textContent = g.kind === 'direct' ? (directName() ?? g.name) : g.name;
    if (g.kind === 'announcement' && g.role === 'member') {
      replace(composer, h('p', { class: 'hint' }, t('conv.adminsOnly')));
      return;
    }
    const input = h('textarea', {
      rows: 1,
      placeholder: t('conv.message'),
      'aria-label': t('conv.message'),
      'data-testid': 'composer',
      maxlength: 4096,
      dir: 'auto',
      'aria-autocomplete': 'list',
      'aria-controls': 'mention-list',
    });
    let replyTo: number | null = null;
    let quote: { from: string; text: string } | undefined = privateQuote.take(groupId);
    const replyBar = h('div', { class: 'reply-bar', 'data-testid': 'reply-bar', hidden: true });
    const drawReplyBar = () => {
      const target = replyTo === null ? undefined : items.get(replyTo);
      const label = quote
        ? t('conv.replyingPrivately', { from: quote.from, text: quote.text })
        : target
          ? t('conv.replyingTo', { name: names.of(target.sender, announcer()), text: snippet(target.text) })
          : '';
      replyBar.hidden = !label;
      replace(
        replyBar,
        h('span', { dir: 'auto' }, label),
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            'aria-label': t('conv.reply.cancel'),
            onclick: () => {
              replyTo = null;
              quote = undefined;
              drawReplyBar();
              input.focus();
            },
          },
          '×',
        ),
      );
    };
    startReply = (item) => {
      replyTo = item.seq;
      quote = undefined;
      drawReplyBar();
      input.focus();
    };
    drawReplyBar();

    // @mentions: typing "@" and the start of a name offers the group's members.
    const mentioned = new Map<string, string>();
    const mentionList = h('ul', {
      class: 'mention-list',
      id: 'mention-list',
      role: 'listbox',
      hidden: true,
      'data-testid': 'mention-list',
    });
    let options: { id: string; name: string }[] = [];
    let active = 0;
    const mentionQuery = () => /(^|\s)@([^\s@]{0,32})$/u.exec(input.value.slice(0, input.selectionStart ?? input.value.length));
    const closeMentions = () => {
      mentionList.hidden = true;
      input.removeAttribute('aria-activedescendant');
      options = [];
    };
    const drawMentions = () => {
      const m = mentionQuery();
      if (!m) return closeMentions();
      const prefix = (m[2] ?? '').toLocaleLowerCase();
      options = names
        .membersOf(groupId)
        .filter((id) => id !== me)
        .map((id) => ({ id, name: names.of(id) }))
        .filter((o) => o.name.toLocaleLowerCase().startsWith(prefix))
        .slice(0, 6);
      if (options.length === 0) return closeMentions();
      active = Math.min(active, options.length - 1);
      replace(
        mentionList,
        options.map((o, i) =>
          h(
            'li',
            {
              id: `mention-${i}`,
              role: 'option',
              'aria-selected': String(i === active),
              dir: 'auto',
              onmousedown: (e: MouseEvent) => {
                e.preventDefault();
                pick(i);
              },
            },
            o.name,
          ),
        ),
      );
      mentionList.hidden = false;
      input.setAttribute('aria-activedescendant', `mention-${active}`);
    };
    const pick = (i: number) => {
      const o = options[i];
      const m = mentionQuery();
      if (!o || !m) return;
      const caret = input.selectionStart ?? input.value.length;
      const start = caret - (m[2]?.length ?? 0) - 1;
      input.value = `${input.value.slice(0, start)}@${o.name} ${input.value.slice(caret)}`;
      const at = start + o.name.length + 2;
      input.setSelectionRange(at, at);
      mentioned.set(o.id, o.name);
      closeMentions();
      input.focus();
    };

    /** Files picked for the next message: uploaded at once, with a progress bar each. */
    const staged: { file: File; id?: string; row: HTMLElement; upload: AbortController }[] = [];
    const tray = h('ul', { class: 'staged', 'data-testid': 'staged' });
    const sendButton = h('button', { type: 'submit', class: 'primary' }, t('conv.send'));
    const uploading = () => staged.some((s) => !s.id);
    const refresh = () => {
      sendButton.disabled = uploading();
      tray.hidden = staged.length === 0;
    };
    const unstage = (entry: (typeof staged)[number]) => {
      entry.upload.abort(); // nothing once uploaded; else the bytes stop going out
      if (staged.includes(entry)) staged.splice(staged.indexOf(entry), 1);
      entry.row.remove();
      refresh();
    };
    const stage = (file: File) => {
      if (staged.length >= 10) {
        error.textContent = t('conv.tooManyFiles');
        return;
      }
      const bar = h('progress', { max: 1, value: 0, 'aria-label': t('conv.uploading', { name: file.name }) });
      const row = h(
        'li',
        { class: 'staged-file', 'data-testid': 'staged-file' },
        h('span', { class: 'name', dir: 'auto' }, `${file.name} · ${formatSize(file.size)}`),
        bar,
      );
      const entry: (typeof staged)[number] = { file, row, upload: new AbortController() };
      row.append(
        h(
          'button',
          { type: 'button', class: 'link', 'aria-label': t('conv.removeFile', { name: file.name }), onclick: () => unstage(entry) },
          '×',
        ),
      );
      staged.push(entry);
      tray.append(row);
      refresh();
      uploadFile(ctx, file, (f) => (bar.value = f), entry.upload.signal).then(
        (attachment: Attachment) => {
          entry.id = attachment.id;
          bar.replaceWith(h('span', { class: 'done', 'data-testid': 'uploaded' }, '✓'));
          refresh();
        },
        (err: unknown) => {
          if (entry.upload.signal.aborted) return; // removed by the user, or the conversation closed
          unstage(entry);
          error.textContent = describeUploadError(err, file);
        },
      );
    };
    const picker = (testid: string, accept: string, capture?: string) => {
      const chooser = h('input', { type: 'file', accept, capture, multiple: !capture, hidden: true, 'data-testid': testid });
      chooser.onchange = () => {
        error.textContent = '';
        for (const file of chooser.files ?? []) stage(file);
        chooser.value = '';
      };
      return chooser;
    };
    const anyFile = picker('attach-input', 'image/*,audio/*,video/*,application/pdf,*/*');
    /** A voice note: the first press starts recording, the second stops it and stages the file. */
    const recordButton = canRecord()
      ? h('button', { type: 'button', class: 'icon', 'aria-label': t('conv.record'), 'data-testid': 'record' }, '🎙️')
      : null;
    if (recordButton) {
      let startedAt = 0;
      let ticker: ReturnType<typeof setInterval> | undefined;
      const idle = () => {
        clearInterval(ticker);
        recording = undefined;
        recordButton.textContent = '🎙️';
        recordButton.setAttribute('aria-label', t('conv.record'));
        recordButton.classList.remove('recording');
      };
      recordButton.onclick = async () => {
        if (recording) {
          const current = recording;
          idle();
          stage(await current.stop());
          return;
        }
        try {
          recording = await startRecording();
        } catch (err) {
          error.textContent = t('conv.noMicrophone', { reason: describeError(err) });
          return;
        }
        startedAt = Date.now();
        recordButton.classList.add('recording');
        recordButton.setAttribute('aria-label', t('conv.stopRecording'));
        const tick = () => {
          const s = Math.floor((Date.now() - startedAt) / 1000);
          recordButton.textContent = `⏹ ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
        };
        tick();
        ticker = setInterval(tick, 500);
      };
      stopRecording = () => {
        recording?.cancel();
        idle();
      };
    }
    abortUploads = () => {
      for (const entry of staged) entry.upload.abort();
    };
    const camera = picker('camera-input', 'image/*', 'environment');
    const create = createForms(client, groupId, (message) => (error.textContent = message));
    const submit = () => {
      let text = input.value.trim();
      if (uploading()) return;
      const attachments = staged.flatMap((s) => (s.id ? [s.id] : []));
      if (!text && attachments.length === 0) return;
      if (quote) text = `> ${quote.from ? `${quote.from}: ` : ''}${quote.text.replace(/\n/g, ' ')}\n${text}`;
      const mentions = [...mentioned].filter(([, name]) => text.includes(`@${name}`)).map(([id]) => id);
      input.value = '';
      for (const s of staged.splice(0)) s.row.remove();
      refresh();
      error.textContent = '';
      client
        .send(groupId, text, { attachments, mentions, ...(replyTo !== null ? { replyTo } : {}) })
        .catch((err: unknown) => (error.textContent = t('conv.notSent', { reason: describeError(err) })));
      replyTo = null;
      quote = undefined;
      mentioned.clear();
      drawReplyBar();
      input.focus();
    };
    input.addEventListener('input', () => {
      client.typing(groupId);
      drawMentions();
    });
    input.addEventListener('keydown', (e) => {
      if (!mentionList.hidden && options.length) {
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          active = (active + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
          drawMentions();
          return;
        }
        if (e.key === 'Enter' || e.key === 'Tab') {
          e.preventDefault();
          pick(active);
          return;
        }
        if (e.key === 'Escape') {
          e.preventDefault();
          closeMentions();
          return;
        }
      }
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        submit();
      }
    });
    input.addEventListener('blur', () => setTimeout(closeMentions, 150));
    composer.onsubmit = (e) => {
      e.preventDefault();
      submit();
    };
    refresh();
    replace(
      composer,
      replyBar,
      create.panel,
      tray,
      mentionList,
      h(
        'div',
        { class: 'compose-row' },
        h(
          'button',
          { type: 'button', class: 'icon', 'aria-label': t('conv.attach'), title: t('conv.attach'), onclick: () => anyFile.click() },
          '📎',
        ),
        h(
          'button',
          { type: 'button', class: 'icon', 'aria-label': t('conv.photo'), title: t('conv.photo'), onclick: () => camera.click() },
          '📷',
        ),
        recordButton,
        ...create.buttons,
        input,
        sendButton,
      ),
      anyFile,
      camera,
    );
    if (quote) input.focus();
  };

  /** A direct conversation is named after the other person. */
  const directName = () => {
    const other = names.membersOf(groupId).find((id) => id !== me);
    return other ? names.of(other) : undefined;
  };

  /** What was read before, shown at once (and offline) until the server's answer replaces it. */
  const showSaved = () => {
    if (!saved) return;
    for (const m of saved.messages) items.set(m.seq, m);
    drawAll();
    stickIf(true);
  };
  const save = () => {
    const g = group();
    if (!g) return;
    const recent = [...items.values()]
      .filter((i) => !i.system)
      .sort((a, b) => b.seq - a.seq)
      .slice(0, 50);
    offline.saveConversation(
      me,
      { id: g.id, kind: g.kind, name: title.textContent ?? g.name, communityId: g.communityId, role: g.role },
      recent,
    );
  };

  const open = async () => {
    showSaved();
    if (!client.group(groupId)) {
      // Just created or joined, or the page just loaded: the group arrives on the socket in a
      // moment (its own frame, or the `ready` summary).
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          for (const off of waits) off();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(saved ? t('conv.offlineCopy') : t('conv.notFound')));
        }, 8000);
        const arrived = () => {
          if (!client.group(groupId)) return;
          done();
          resolve();
        };
        const waits = [client.on('group', arrived), client.on('ready', arrived)];
      });
    }
    setupComposer();
    await names.loadGroup(groupId).catch(() => undefined); // names are a nicety; ids show otherwise
    if (client.group(groupId)?.kind === 'direct') title.textContent = directName() ?? title.textContent;
    const page = await client.history(groupId, { limit: 50 });
    items.clear();
    for (const m of page.messages) items.set(m.seq, fromHistory(m));
    hasMore = page.hasMore;
    loaded = true;
    drawAll();
    for (const e of early.splice(0)) apply(e);
    drawPins();
    void loadPresence();
    markUnread();
    stickIf(true);
    markRead();
    save();
    void loadReach();
    if (focusSeq !== undefined) await reveal(focusSeq);
  };

  /** Opens at a message (a search result): older pages load until it is there; it is then centred. */
  const reveal = async (seq: number) => {
    for (let pages = 0; !items.has(seq) && hasMore && pages < 100; pages++) await loadOlder();
    const el = rows.get(seq);
    if (el) el.scrollIntoView({ block: 'center' });
    else error.textContent = t('conv.gone');
  };

  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  const offs = [
    client.on('event', (e) => {
      if (e.group !== groupId) return;
      if (!loaded) return void early.push(e);
      const stick = nearBottom() || e.sender === me;
      if (e.kind === 'message' && typers.has(e.sender)) {
        clearTimeout(typers.get(e.sender));
        typers.delete(e.sender);
        showTyping();
      }
      apply(e);
      stickIf(stick);
      markRead();
      clearTimeout(saveTimer);
      saveTimer = setTimeout(save, 1000);
    }),
    client.on('pending', (p) => {
      if (p.group !== groupId) return;
      pending = p.messages;
      if (loaded) {
        drawPending();
        stickIf(true);
      }
    }),
    client.on('typing', (tf) => {
      if (tf.group !== groupId) return;
      clearTimeout(typers.get(tf.user));
      const expire = () => {
        typers.delete(tf.user);
        showTyping();
      };
      typers.set(tf.user, setTimeout(expire, 4000));
      showTyping();
      if (loaded) void refreshReceipt(); // someone is here: they may have read the latest
    }),
    client.on('group_removed', ({ group: gone }) => gone === groupId && ctx.navigate('#/')),
    client.on('group', (g) => g.id === groupId && loaded && drawPins()),
    client.on('presence', (p) => {
      // Frames come for everyone who shares a small group with the user: keep this group's.
      if (!presence.has(p.user) && !names.membersOf(groupId).includes(p.user)) return;
      presence.set(p.user, { online: p.online, lastSeen: p.lastSeen });
      drawPresence();
    }),
    client.on('expired', ({ group: g, seqs }) => {
      if (g !== groupId) return;
      for (const seq of seqs) {
        const item = items.get(seq);
        if (item) put({ ...item, text: null, attachments: [], expired: true });
      }
      drawPins();
    }),
    client.on('stats', (s) => {
      if (s.group !== groupId || !loaded) return;
      reach.set(s.seq, s);
      redraw(s.seq);
    }),
    client.on('state', () => loaded && drawPending()),
  ];
  const showTyping = () => {
    const who = [...typers.keys()].map((id) => names.of(id));
    typingLine.textContent =
      who.length === 0 ? '' : who.length === 1 ? t('conv.typing.one', { name: who[0]! }) : t('conv.typing.many', { names: who.join(', ') });
  };
  const onScroll = () => {
    if (loaded && list.scrollTop < 60) void loadOlder();
  };
  list.addEventListener('scroll', onScroll);
  document.addEventListener('visibilitychange', markRead);
  window.addEventListener('focus', markRead);
  open().catch((err: unknown) => (error.textContent = describeError(err)));

  return () => {
    for (const off of offs) off();
    stopRecording();
    abortUploads();
    files.dispose();
    clearTimeout(saveTimer);
    if (loaded) save();
    document.removeEventListener('visibilitychange', markRead);
    window.removeEventListener('focus', markRead);
    for (const timer of typers.values()) clearTimeout(timer);
    root.classList.remove('conversation');
  };
}

/**
 * In a direct group, Block / Unblock the other member (docs/protocol.md §8 "Privacy and safety"): neither can then write
 * here. Known from the blocks list and the group's two members; nothing for other groups.
 */
function directBlockButton(ctx: Ctx, groupId: string, fail: (message: string) => void): HTMLElement | null {
  if (ctx.client.group(groupId)?.kind !== 'direct') return null;
  const button = h('button', { type: 'button', class: 'small', 'data-testid': 'block', hidden: true }, t('conv.block'));
  let other: string | undefined;
  let blocked = false;
  const show = () => {
    button.textContent = blocked ? t('conv.unblock') : t('conv.block');
    button.hidden = other === undefined;
  };
  void Promise.all([ctx.http.members(groupId), ctx.http.blocks()]).then(
    ([page, list]) => {
      other = page.members.find((m) => m.userId !== ctx.session.user.id)?.userId;
      blocked = other !== undefined && list.blocks.some((b) => b.userId === other);
      show();
    },
    (err: unknown) => fail(describeError(err)),
  );
  button.onclick = () => {
    if (!other) return;
    const target = other;
    void (blocked ? ctx.http.unblock(target) : ctx.http.block(target)).then(
      () => {
        blocked = !blocked;
        show();
      },
      (err: unknown) => fail(describeError(err)),
    );
  };
  return button;
}
