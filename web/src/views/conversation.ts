import type { TimelineItem } from '../../../src/client/index.js';
import { type Composer, composer } from '../components/composer/composer.js';
import { privateQuote } from '../components/composer/reply-bar.js';
import { directBlockButton, levelSelect, searchToggle } from '../components/conversation-tools.js';
import { DayList } from '../components/day-list.js';
import { type ActionContext, actionButtons } from '../components/message-actions.js';
import { messageRow, type RowContext, snippet } from '../components/message-row.js';
import { pendingRows } from '../components/pending-list.js';
import { PinBar } from '../components/pin-bar.js';
import { presenceText, receiptText, typingText } from '../components/status-lines.js';
import { h, link, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { AttachmentViews, uploadFile } from '../files.js';
import { t } from '../i18n/index.js';
import type { Ctx } from '../main.js';
import { createForms } from '../poll-event.js';
import { searchBox } from '../search.js';
import { ConversationStore } from '../store/conversation.js';

/**
 * One group's conversation: history on scroll, live messages, typing, read receipts, files,
 * replies, reactions and mentions. The state lives in a ConversationStore (the SDK's timeline
 * inside); this screen draws what it says changed. The list is keyed by seq: an event redraws its
 * one row. `param` is the group id, or `<group>/<seq>` to open at a message (a search result).
 */
export function conversationView(root: HTMLElement, ctx: Ctx, param: string) {
  const [groupId = '', at] = param.split('/');
  const screen = new ConversationScreen(root, ctx, groupId, at && /^\d+$/.test(at) ? Number(at) : undefined);
  return () => screen.dispose();
}

class ConversationScreen {
  private readonly store: ConversationStore;
  private readonly me: string;
  private readonly title: HTMLElement;
  private readonly presenceLine = h('p', { class: 'presence', 'data-testid': 'presence', 'aria-live': 'polite' });
  private readonly olderLine = h('p', { class: 'older' });
  private readonly days = new DayList();
  private readonly pendingBox = h('div', { class: 'pending-list' });
  private readonly list: HTMLElement;
  private readonly pins: PinBar;
  private readonly typingLine = h('p', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' });
  private readonly receiptLine: HTMLButtonElement;
  private readonly error = h('p', { class: 'error', role: 'alert', 'data-testid': 'error' });
  private readonly form = h('form', { class: 'composer', 'aria-label': t('conv.composer') });
  private readonly files: AttachmentViews;
  private readonly rowContext: RowContext;
  private composer: Composer | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** The scroll distance from the bottom while an older page loads: kept, so what is on screen stays. */
  private fromBottom = 0;
  private readonly offs: (() => void)[];

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: Ctx,
    private readonly groupId: string,
    private readonly focusSeq: number | undefined,
  ) {
    this.store = new ConversationStore(ctx, groupId);
    this.me = this.store.me;
    this.title = h('h1', { dir: 'auto', 'data-testid': 'title' }, this.store.group()?.name ?? t('conv.title'));
    this.list = h(
      'div',
      { class: 'messages', 'data-testid': 'messages', role: 'log', 'aria-label': t('conv.messages'), tabindex: 0 },
      this.olderLine,
      this.days.element,
      this.pendingBox,
    );
    this.pins = new PinBar(
      groupId,
      (seq) => this.store.timeline.get(seq),
      (seq) => this.scrollTo(seq, false),
    );
    this.receiptLine = h('button', {
      type: 'button',
      class: 'receipt link',
      'data-testid': 'receipt',
      title: t('conv.receipt.refresh'),
      hidden: true,
      onclick: () => void this.store.refreshReceipt(),
    });
    this.files = new AttachmentViews(ctx, this.fail);
    this.rowContext = this.makeRowContext();
    this.layout();
    this.offs = this.listen();
    this.open().catch((err: unknown) => this.fail(describeError(err)));
  }

  private readonly fail = (message: string) => {
    this.error.textContent = message;
  };

  private layout() {
    const search = searchBox(this.ctx, { group: this.groupId });
    search.hidden = true;
    const communityId = this.store.group()?.communityId;
    replace(
      this.root,
      h(
        'header',
        { class: 'top' },
        link(communityId ? `#/c/${encodeURIComponent(communityId)}` : '#/', { class: 'back', 'aria-label': t('common.back') }, '‹'),
        h('div', { class: 'heading' }, this.title, this.presenceLine),
        h(
          'div',
          { class: 'tools' },
          searchToggle(search),
          levelSelect(this.ctx, this.groupId, this.fail),
          directBlockButton(this.ctx, this.groupId, this.fail),
        ),
      ),
      search,
      this.pins.element,
      this.list,
      this.receiptLine,
      this.typingLine,
      this.error,
      this.form,
    );
    this.root.classList.add('conversation');
  }

  private makeRowContext(): RowContext {
    const { store, ctx } = this;
    const actionContext: ActionContext = {
      me: this.me,
      group: () => store.group(),
      myReaction: (seq) => store.timeline.myReaction(seq),
      toggleReaction: (seq, emoji) => store.toggleReaction(seq, emoji),
      startReply: (item) =>
        this.composer?.startReply({
          seq: item.seq,
          name: ctx.names.of(item.sender, store.announcer()),
          text: snippet(item.text),
        }),
      replyPrivately: (item) => void this.replyPrivately(item),
      canPin: () => store.canPin(),
      isPinned: (seq) => store.pins().includes(seq),
      pin: (seq, pinned) => store.pin(seq, pinned),
      report: (seq, reason) => ctx.http.report(this.groupId, seq, { reason }),
      askReason: () => window.prompt(t('conv.report.why'), 'harassment'),
      fail: this.fail,
    };
    return {
      me: this.me,
      groupId: this.groupId,
      ...(this.focusSeq !== undefined ? { focusSeq: this.focusSeq } : {}),
      names: ctx.names,
      announcer: () => store.announcer(),
      item: (seq) => store.timeline.get(seq),
      isPinned: (seq) => store.pins().includes(seq),
      myReaction: (seq) => store.timeline.myReaction(seq),
      reach: (seq) => store.reach.get(seq),
      files: this.files,
      actions: (item) => actionButtons(item, actionContext),
      toggleReaction: (seq, emoji) => store.toggleReaction(seq, emoji),
      vote: (seq, options) => store.vote(seq, options),
      answer: (seq, a) => store.answer(seq, a),
      scrollTo: (seq, highlight) => this.scrollTo(seq, highlight),
    };
  }

  /** What the store says changed, drawn. */
  private listen(): (() => void)[] {
    const { store, ctx } = this;
    const nameOf = (id: string) => ctx.names.of(id);
    const markRead = this.markRead;
    document.addEventListener('visibilitychange', markRead);
    window.addEventListener('focus', markRead);
    const onScroll = () => {
      if (store.loaded && this.list.scrollTop < 60) void store.loadOlder();
    };
    this.list.addEventListener('scroll', onScroll);
    return [
      store.on('rows', ({ seqs, live }) => {
        const stick = !!live && (this.nearBottom() || live.sender === this.me);
        for (const seq of seqs) this.redraw(seq);
        if (!live) return;
        this.stickIf(stick);
        markRead();
        clearTimeout(this.saveTimer);
        this.saveTimer = setTimeout(() => this.save(), 1000);
      }),
      store.on('all', () => this.drawAll()),
      store.on('pending', ({ stick }) => {
        this.drawPending();
        this.stickIf(stick);
      }),
      store.on('older', () => this.drawOlder()),
      store.on('presence', () => {
        this.presenceLine.textContent = presenceText(ctx.client.group(this.groupId)?.kind, store.presence, this.me, nameOf);
      }),
      store.on('typing', () => (this.typingLine.textContent = typingText(store.typers.keys(), nameOf))),
      store.on('pins', () => this.drawPins()),
      store.on('title', (name) => (this.title.textContent = name)),
      store.on('receipt', (receipt) => {
        this.receiptLine.textContent = receiptText(receipt);
        this.receiptLine.hidden = receipt === null;
      }),
      store.on('error', this.fail),
      ctx.client.on('group_removed', ({ group }) => group === this.groupId && ctx.navigate('#/')),
      () => {
        this.list.removeEventListener('scroll', onScroll);
        document.removeEventListener('visibilitychange', markRead);
        window.removeEventListener('focus', markRead);
      },
    ];
  }

  private put(item: TimelineItem) {
    this.days.put(item.seq, item.ts, messageRow(item, this.rowContext));
  }
  private redraw(seq: number) {
    const item = this.store.timeline.get(seq);
    if (item) this.put(item);
  }
  private drawAll() {
    this.days.clear();
    for (const item of this.store.timeline.items()) this.put(item);
    this.drawPending();
    this.drawOlder();
    this.files.keepOnly(this.store.attachmentIds());
  }
  private drawPending() {
    const { client } = this.ctx;
    replace(
      this.pendingBox,
      pendingRows(this.store.unconfirmed(), client.state === 'ready', (id) => client.cancel(this.groupId, id)),
    );
  }
  private drawOlder() {
    const { loaded, hasMore, loadingOlder } = this.store;
    if (loadingOlder) this.fromBottom = this.list.scrollHeight - this.list.scrollTop;
    this.olderLine.textContent = !loaded
      ? ''
      : hasMore
        ? loadingOlder
          ? t('conv.loadingOlder')
          : t('conv.scrollOlder')
        : t('conv.beginning');
    if (!loadingOlder && this.fromBottom) {
      this.list.scrollTop = this.list.scrollHeight - this.fromBottom; // keep what was on screen in place
      this.fromBottom = 0;
    }
  }
  /** The pinned messages above the conversation, and the 📌 mark on rows pinned or unpinned. */
  private drawPins() {
    for (const seq of this.pins.draw(this.store.pins())) this.redraw(seq);
  }
  /** The "new messages" line before the first message that was unread on opening. */
  private markUnread() {
    const first = this.store.timeline.firstUnreadAfter(this.store.readAtOpen);
    if (!first || this.store.readAtOpen === 0) return;
    this.days.row(first.seq)?.before(h('p', { class: 'divider', role: 'separator' }, t('conv.newMessages')));
  }

  private nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
  }
  private stickIf(stick: boolean) {
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }
  /** Centres a loaded row (briefly highlighted); false when it is not loaded. */
  private scrollTo(seq: number, highlight: boolean): boolean {
    const row = this.days.row(seq);
    if (!row) return false;
    row.scrollIntoView({ block: 'center' });
    if (highlight) {
      row.classList.add('highlight');
      setTimeout(() => row.classList.remove('highlight'), 1500);
    }
    return true;
  }

  private readonly markRead = () => {
    if (document.visibilityState === 'visible') this.store.markRead();
  };
  private save() {
    this.store.save(this.title.textContent ?? '');
  }

  /** Replies to an announcement in a direct conversation with its sender, quoting it. */
  private async replyPrivately(item: TimelineItem) {
    try {
      const { group: direct } = await this.ctx.http.openDirect(item.sender);
      privateQuote.put(direct.id, { from: this.store.group()?.name ?? '', text: snippet(item.text, 200) });
      this.ctx.navigate(`#/g/${encodeURIComponent(direct.id)}`);
    } catch (err) {
      this.fail(describeError(err));
    }
  }

  private setupComposer() {
    const { ctx, groupId } = this;
    const g = ctx.client.group(groupId);
    if (!g) return;
    this.title.textContent = g.kind === 'direct' ? (this.directName() ?? g.name) : g.name;
    if (g.kind === 'announcement' && g.role === 'member') {
      replace(this.form, h('p', { class: 'hint' }, t('conv.adminsOnly')));
      return;
    }
    const quote = privateQuote.take(groupId);
    this.composer = composer(this.form, {
      send: (text, options) => ctx.client.send(groupId, text, options),
      typing: () => ctx.client.typing(groupId),
      members: () =>
        ctx.names
          .membersOf(groupId)
          .filter((id) => id !== this.me)
          .map((id) => ({ id, name: ctx.names.of(id) })),
      upload: (file, onProgress, signal) => uploadFile(ctx, file, onProgress, signal),
      fail: this.fail,
      create: createForms(ctx.client, groupId, this.fail),
      ...(quote ? { quote } : {}),
    });
  }
  /** A direct conversation is named after the other person. */
  private directName() {
    const other = this.ctx.names.membersOf(this.groupId).find((id) => id !== this.me);
    return other ? this.ctx.names.of(other) : undefined;
  }

  private async open() {
    const { store, ctx, groupId } = this;
    if (store.showSaved()) this.stickIf(true);
    await store.waitForGroup();
    this.setupComposer();
    await ctx.names.loadGroup(groupId).catch(() => undefined); // names are a nicety; ids show otherwise
    if (ctx.client.group(groupId)?.kind === 'direct') this.title.textContent = this.directName() ?? this.title.textContent;
    await store.loadLatest();
    this.drawPins();
    void store.loadPresence();
    this.markUnread();
    this.stickIf(true);
    this.markRead();
    this.save();
    void store.loadReach();
    if (this.focusSeq !== undefined) await this.reveal(this.focusSeq);
  }

  /** Opens at a message (a search result): older pages load until it is there; it is then centred. */
  private async reveal(seq: number) {
    const { store } = this;
    for (let pages = 0; !store.timeline.has(seq) && store.hasMore && pages < 100; pages++) await store.loadOlder();
    if (!this.scrollTo(seq, false)) this.fail(t('conv.gone'));
  }

  dispose() {
    for (const off of this.offs) off();
    this.store.dispose();
    this.composer?.dispose();
    this.files.dispose();
    clearTimeout(this.saveTimer);
    if (this.store.loaded) this.save();
    this.root.classList.remove('conversation');
  }
}
