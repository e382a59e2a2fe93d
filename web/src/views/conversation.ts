import type { GroupEvent, HistoryMessageFrame, PendingMessage } from '../../../src/client/index.js';
import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { type Attachment, AttachmentViews, canRecord, describeUploadError, formatSize, startRecording, uploadFile } from '../files.js';
import type { Ctx } from '../main.js';
import { searchBox } from '../search.js';

interface Item {
  seq: number;
  sender: string;
  ts: string;
  /** null: deleted. */
  text: string | null;
  clientMsgId: string | null;
  edited: boolean;
  attachments: Attachment[];
  /** A membership or settings line rather than a message. */
  system?: string;
}

/** A membership or settings event shown as one line of text. */
const systemLine = (e: GroupEvent, system: string): Item => ({
  seq: e.seq,
  sender: e.sender,
  ts: e.ts,
  text: null,
  clientMsgId: null,
  edited: false,
  attachments: [],
  system,
});

const fromHistory = (m: HistoryMessageFrame): Item => ({
  seq: m.seq,
  sender: m.sender,
  ts: m.ts,
  text: m.deleted ? null : m.text,
  clientMsgId: m.clientMsgId,
  edited: m.editedAt !== null,
  attachments: m.deleted ? [] : (m.attachments ?? []),
});

const time = (ts: string) => new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const actionText: Record<string, string> = {
  added: 'was added',
  removed: 'was removed',
  joined: 'joined',
  left: 'left',
  promoted: 'became an admin',
  demoted: 'is no longer an admin',
};

/**
 * One group's conversation: history on scroll, live messages, typing, read markers, files.
 * `param` is the group id, or `<group>/<seq>` to open at a message (a search result).
 */
export function conversationView(root: HTMLElement, ctx: Ctx, param: string) {
  const { client, names } = ctx;
  const [groupId = '', at] = param.split('/');
  const focusSeq = at && /^\d+$/.test(at) ? Number(at) : undefined;
  const items = new Map<number, Item>();
  let pending: PendingMessage[] = client.pending(groupId);
  let loaded = false;
  let hasMore = true;
  let loadingOlder = false;
  const early: GroupEvent[] = [];
  const typers = new Map<string, ReturnType<typeof setTimeout>>();

  const title = h('h1', {}, client.group(groupId)?.name ?? 'Conversation');
  const list = h('div', { class: 'messages', 'data-testid': 'messages', role: 'log', 'aria-live': 'polite' });
  const typingLine = h('p', { class: 'typing', 'data-testid': 'typing' });
  const receiptLine = h('p', { class: 'receipt', 'data-testid': 'receipt' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  const composer = h('form', { class: 'composer' });
  const files = new AttachmentViews(ctx, (message) => (error.textContent = message));
  const search = searchBox(ctx, { group: groupId });
  search.hidden = true;
  const searchToggle = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': 'Search this group',
      'data-testid': 'search-toggle',
      onclick: () => {
        search.hidden = !search.hidden;
        if (!search.hidden) search.querySelector('input')?.focus();
      },
    },
    '🔍',
  );
  const blockButton = directBlockButton(ctx, groupId, (message) => (error.textContent = message));
  // Notifications for this group (PROTOCOL.md §7): the level, read from the caller's summary.
  const levelSelect = h(
    'select',
    {
      class: 'small',
      'aria-label': 'Notifications',
      'data-testid': 'notify-level',
      onchange: () =>
        void client
          .setNotifications(groupId, levelSelect.value as 'all' | 'mentions' | 'none')
          .catch((err: unknown) => (error.textContent = describeError(err))),
    },
    h('option', { value: 'all' }, '🔔 All messages'),
    h('option', { value: 'mentions' }, '@ Mentions only'),
    h('option', { value: 'none' }, '🔕 Off'),
  );
  void ctx.http.me().then((me) => {
    const level = me.groups.find((g) => g.id === groupId)?.level;
    if (level) levelSelect.value = level;
  });
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
      link(backHref(), { class: 'back', 'aria-label': 'Back' }, '‹'),
      title,
      searchToggle,
      levelSelect,
      blockButton,
    ),
    search,
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
    const communityId = client.group(groupId)?.communityId;
    return communityId ? `#/c/${encodeURIComponent(communityId)}` : '#/';
  }

  /** Who announcements are from when their sender's name cannot be known: the community. */
  const announcer = () => {
    const g = client.group(groupId);
    return g?.kind === 'announcement' ? `📣 ${g.name}` : undefined;
  };

  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;

  const draw = (stick: boolean) => {
    const sorted = [...items.values()].sort((a, b) => a.seq - b.seq);
    const seen = new Set(sorted.map((i) => i.clientMsgId));
    const me = ctx.session.user.id;
    let divider = false;
    replace(
      list,
      hasMore && loaded ? h('p', { class: 'older' }, loadingOlder ? 'Loading older messages…' : 'Scroll up for older messages') : null,
      !hasMore && loaded ? h('p', { class: 'older' }, 'This is the beginning of the conversation.') : null,
      sorted.map((item) => {
        const nodes: Node[] = [];
        if (!divider && item.seq > readAtOpen && item.sender !== me && !item.system && readAtOpen > 0) {
          divider = true;
          nodes.push(h('p', { class: 'divider' }, 'New messages'));
        }
        if (item.system) nodes.push(h('p', { class: 'system' }, item.system));
        else
          nodes.push(
            h(
              'div',
              {
                class: `message${item.sender === me ? ' mine' : ''}${item.seq === focusSeq ? ' highlight' : ''}`,
                'data-seq': item.seq,
                'data-testid': 'message',
              },
              h(
                'div',
                { class: 'meta' },
                h('span', { class: 'sender' }, names.of(item.sender, announcer())),
                ' ',
                h('time', { datetime: item.ts }, time(item.ts)),
                item.edited ? ' · edited' : '',
                item.sender !== me && item.text !== null ? reportButton(item.seq) : null,
              ),
              h('div', { class: 'text' }, item.text ?? h('em', {}, 'message deleted')),
              item.text === null ? null : files.render(item.attachments),
              reachLine(item.seq),
            ),
          );
        return nodes;
      }),
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
                ? `Not sent: ${describeError(p.error)} `
                : client.state === 'ready'
                  ? 'Sending…'
                  : 'Waiting for connection…',
              p.status === 'failed'
                ? h('button', { type: 'button', class: 'link', onclick: () => client.cancel(groupId, p.clientMsgId) }, 'Dismiss')
                : null,
            ),
            h('div', { class: 'text' }, p.text),
            p.attachments?.length
              ? h('div', { class: 'meta' }, `📎 ${p.attachments.length} file${p.attachments.length > 1 ? 's' : ''}`)
              : null,
          ),
        ),
    );
    files.keepOnly(new Set(sorted.flatMap((i) => (i.text === null ? [] : i.attachments.map((a) => a.id)))));
    if (stick) list.scrollTop = list.scrollHeight;
  };

  /** Reports another's message to the admins; the answer is the same however many reported it. */
  const reportButton = (seq: number) =>
    h(
      'button',
      {
        type: 'button',
        class: 'link report',
        'data-testid': 'report',
        title: 'Report this message to the admins',
        onclick: async (e: MouseEvent) => {
          const button = e.currentTarget as HTMLButtonElement;
          const reason = window.prompt('Why are you reporting this message? (spam, harassment, hate, violence, other)', 'harassment');
          if (reason === null || !reason.trim()) return;
          button.disabled = true;
          try {
            await ctx.http.report(groupId, seq, { reason: reason.trim().slice(0, 64) });
            button.textContent = 'Reported';
          } catch (err) {
            button.disabled = false;
            error.textContent = describeError(err);
          }
        },
      },
      'Report',
    );
  const reachLine = (seq: number) => {
    const r = reach.get(seq);
    if (!r) return null;
    return h(
      'div',
      { class: 'meta reach', 'data-testid': 'reach' },
      `Reached ${r.delivered + r.notified} of ${Math.max(0, r.members - 1)}: ${r.delivered} online, ${r.notified} notified, ${r.read} read`,
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
      if (r) reach.set(item.seq, r);
    }
    draw(nearBottom());
  };

  const apply = (e: GroupEvent) => {
    switch (e.kind) {
      case 'message':
        items.set(e.seq, {
          seq: e.seq,
          sender: e.sender,
          ts: e.ts,
          text: e.deleted ? null : e.text,
          clientMsgId: e.clientMsgId,
          edited: !!e.editedAt,
          attachments: e.deleted ? [] : (e.attachments ?? []),
        });
        break;
      case 'edit': {
        const target = items.get(e.target);
        if (target) items.set(e.target, { ...target, text: e.text, edited: true });
        break;
      }
      case 'delete': {
        const target = items.get(e.target);
        if (target) items.set(e.target, { ...target, text: null, attachments: [] });
        break;
      }
      case 'member':
        void names.loadGroup(groupId, true).then(() => draw(nearBottom()));
        items.set(e.seq, systemLine(e, `${names.of(e.member)} ${actionText[e.action] ?? e.action}`));
        break;
      case 'group':
        if (typeof e.changes.name === 'string') {
          title.textContent = e.changes.name;
          items.set(e.seq, systemLine(e, `${names.of(e.sender)} renamed the group to “${e.changes.name}”`));
        }
        break;
      default:
        break;
    }
  };

  /** Read markers of the others: "Seen by n of m" under the user's own last message. */
  const refreshReceipt = async () => {
    const last = [...items.values()].filter((i) => !i.system).sort((a, b) => b.seq - a.seq)[0];
    if (!last || last.sender !== ctx.session.user.id) {
      receiptLine.textContent = '';
      return;
    }
    try {
      const { readBy, memberCount } = await ctx.http.receipts(groupId, last.seq);
      // The sender's own marker passed their message when it arrived on screen.
      const others = Math.max(0, memberCount - 1);
      receiptLine.textContent = others === 0 ? '' : `Seen by ${Math.min(others, Math.max(0, readBy - 1))} of ${others}`;
    } catch {
      receiptLine.textContent = ''; // e.g. announcement members may not see receipts
    }
  };

  const markRead = () => {
    if (document.visibilityState === 'visible') client.markRead(groupId);
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
    const oldest = Math.min(...[...items.values()].filter((i) => !i.system).map((i) => i.seq));
    const before = list.scrollHeight - list.scrollTop;
    try {
      const page = await client.history(groupId, { limit: 50, ...(Number.isFinite(oldest) ? { before: oldest } : {}) });
      for (const m of page.messages) if (!items.has(m.seq)) items.set(m.seq, fromHistory(m));
      hasMore = page.hasMore;
    } catch (err) {
      error.textContent = describeError(err);
    } finally {
      loadingOlder = false;
    }
    draw(false);
    list.scrollTop = list.scrollHeight - before; // keep what was on screen in place
  };

  let recording: Awaited<ReturnType<typeof startRecording>> | undefined;
  /** Set once the composer can record: stops a recording in progress (the view closing). */
  let stopRecording: () => void = () => undefined;
  /** Set with the composer: stops the uploads in progress (the view closing). */
  let abortUploads: () => void = () => undefined;
  const setupComposer = () => {
    const g = client.group(groupId);
    if (!g) return;
    title.textContent = g.name;
    if (g.kind === 'announcement' && g.role === 'member') {
      replace(composer, h('p', { class: 'hint' }, 'Only community admins post announcements.'));
      return;
    }
    const input = h('textarea', { rows: 1, placeholder: 'Message', 'aria-label': 'Message', 'data-testid': 'composer', maxlength: 4096 });
    /** Files picked for the next message: uploaded at once, with a progress bar each. */
    const staged: { file: File; id?: string; row: HTMLElement; upload: AbortController }[] = [];
    const tray = h('ul', { class: 'staged', 'data-testid': 'staged' });
    const sendButton = h('button', { type: 'submit', class: 'primary', 'aria-label': 'Send' }, 'Send');
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
        error.textContent = 'At most 10 files in one message.';
        return;
      }
      const bar = h('progress', { max: 1, value: 0, 'aria-label': `Uploading ${file.name}` });
      const row = h(
        'li',
        { class: 'staged-file', 'data-testid': 'staged-file' },
        h('span', { class: 'name' }, `${file.name} · ${formatSize(file.size)}`),
        bar,
      );
      const entry: (typeof staged)[number] = { file, row, upload: new AbortController() };
      row.append(h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${file.name}`, onclick: () => unstage(entry) }, '×'));
      staged.push(entry);
      tray.append(row);
      refresh();
      uploadFile(ctx, file, (f) => (bar.value = f), entry.upload.signal).then(
        (attachment) => {
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
      ? h('button', { type: 'button', class: 'icon', 'aria-label': 'Record a voice note', 'data-testid': 'record' }, '🎙️')
      : null;
    if (recordButton) {
      let startedAt = 0;
      let ticker: ReturnType<typeof setInterval> | undefined;
      const idle = () => {
        clearInterval(ticker);
        recording = undefined;
        recordButton.textContent = '🎙️';
        recordButton.setAttribute('aria-label', 'Record a voice note');
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
          error.textContent = `The microphone is not available: ${describeError(err)}`;
          return;
        }
        startedAt = Date.now();
        recordButton.classList.add('recording');
        recordButton.setAttribute('aria-label', 'Stop recording');
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
    const submit = () => {
      const text = input.value.trim();
      if (uploading()) return;
      const attachments = staged.flatMap((s) => (s.id ? [s.id] : []));
      if (!text && attachments.length === 0) return;
      input.value = '';
      for (const s of staged.splice(0)) s.row.remove();
      refresh();
      error.textContent = '';
      client.send(groupId, text, { attachments }).catch((err: unknown) => (error.textContent = `Not sent: ${describeError(err)}`));
      input.focus();
    };
    input.addEventListener('input', () => client.typing(groupId));
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        submit();
      }
    });
    composer.onsubmit = (e) => {
      e.preventDefault();
      submit();
    };
    refresh();
    replace(
      composer,
      tray,
      h(
        'div',
        { class: 'compose-row' },
        h(
          'button',
          { type: 'button', class: 'icon', 'aria-label': 'Attach a file', title: 'Attach a file', onclick: () => anyFile.click() },
          '📎',
        ),
        h(
          'button',
          { type: 'button', class: 'icon', 'aria-label': 'Take a photo', title: 'Take a photo', onclick: () => camera.click() },
          '📷',
        ),
        recordButton,
        input,
        sendButton,
      ),
      anyFile,
      camera,
    );
  };

  const open = async () => {
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
          reject(new Error('This group does not exist, or you are not a member of it.'));
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
    const page = await client.history(groupId, { limit: 50 });
    for (const m of page.messages) items.set(m.seq, fromHistory(m));
    hasMore = page.hasMore;
    loaded = true;
    for (const e of early.splice(0)) apply(e);
    draw(true);
    markRead();
    void refreshReceipt();
    void loadReach();
    if (focusSeq !== undefined) await reveal(focusSeq);
  };

  /** Opens at a message (a search result): older pages load until it is there; it is then centred. */
  const reveal = async (seq: number) => {
    for (let pages = 0; !items.has(seq) && hasMore && pages < 100; pages++) await loadOlder();
    const el = list.querySelector(`[data-seq="${seq}"]`);
    if (el) el.scrollIntoView({ block: 'center' });
    else error.textContent = 'That message is no longer in this conversation.';
  };

  const offs = [
    client.on('event', (e) => {
      if (e.group !== groupId) return;
      if (!loaded) return void early.push(e);
      const stick = nearBottom() || e.sender === ctx.session.user.id;
      if (e.kind === 'message' && typers.has(e.sender)) {
        clearTimeout(typers.get(e.sender));
        typers.delete(e.sender);
        showTyping();
      }
      apply(e);
      draw(stick);
      markRead();
      if (e.kind === 'message') void refreshReceipt();
    }),
    client.on('pending', (p) => {
      if (p.group !== groupId) return;
      pending = p.messages;
      if (loaded) draw(true);
    }),
    client.on('typing', (t) => {
      if (t.group !== groupId) return;
      clearTimeout(typers.get(t.user));
      const expire = () => {
        typers.delete(t.user);
        showTyping();
      };
      typers.set(t.user, setTimeout(expire, 4000));
      showTyping();
    }),
    client.on('group_removed', ({ group }) => group === groupId && ctx.navigate('#/')),
    client.on('stats', (s) => {
      if (s.group !== groupId || !loaded) return;
      reach.set(s.seq, s);
      draw(nearBottom());
    }),
    client.on('state', () => loaded && draw(nearBottom())),
  ];
  const showTyping = () => {
    const who = [...typers.keys()].map((id) => names.of(id));
    typingLine.textContent = who.length === 0 ? '' : `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…`;
  };
  const onScroll = () => {
    if (loaded && list.scrollTop < 60) void loadOlder();
  };
  list.addEventListener('scroll', onScroll);
  const receiptTimer = setInterval(() => loaded && void refreshReceipt(), 4000);
  document.addEventListener('visibilitychange', markRead);
  open().catch((err: unknown) => (error.textContent = describeError(err)));

  return () => {
    for (const off of offs) off();
    stopRecording();
    abortUploads();
    files.dispose();
    clearInterval(receiptTimer);
    document.removeEventListener('visibilitychange', markRead);
    for (const t of typers.values()) clearTimeout(t);
    root.classList.remove('conversation');
  };
}

/**
 * In a direct group, Block / Unblock the other member (PROTOCOL.md §6): neither can then write
 * here. Known from the blocks list and the group's two members; nothing for other groups.
 */
function directBlockButton(ctx: Ctx, groupId: string, fail: (message: string) => void): HTMLElement | null {
  if (ctx.client.group(groupId)?.kind !== 'direct') return null;
  const button = h('button', { type: 'button', class: 'small', 'data-testid': 'block', hidden: true }, 'Block');
  let other: string | undefined;
  let blocked = false;
  const show = () => {
    button.textContent = blocked ? 'Unblock' : 'Block';
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
