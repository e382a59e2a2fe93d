// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { type GroupEvent, Timeline, type TimelineItem } from '../../src/client/index.js';
import { DayList } from '../../web/src/components/day-list.js';
import { type ActionContext, actionButtons } from '../../web/src/components/message-actions.js';
import { messageRow, type RowContext } from '../../web/src/components/message-row.js';
import { PinBar } from '../../web/src/components/pin-bar.js';

// The conversation's rows as components (web/src/components), drawn in happy-dom from the SDK's
// timeline: no browser, no server.

const ME = 'u-me';
const names: Record<string, string> = { [ME]: 'You', 'u-asha': 'Asha Devi', 'u-ben': 'Ben Kumar' };
let seq = 1;
const message = (sender: string, text: string, extra: Partial<Extract<GroupEvent, { kind: 'message' }>> = {}): GroupEvent => ({
  type: 'event',
  group: 'g1',
  seq: seq++,
  ts: '2026-12-07T10:00:00.000Z',
  sender,
  kind: 'message',
  clientMsgId: null,
  text,
  replyTo: null,
  mentions: [],
  ...extra,
});

/** A row context over a real timeline; what the row asks to do is recorded. */
function rowContext(timeline: Timeline, done: string[], pinned: number[] = []): RowContext {
  return {
    me: ME,
    groupId: 'g1',
    names: { of: (id, fallback) => names[id] ?? fallback ?? id, nameOf: (id) => names[id] },
    announcer: () => undefined,
    item: (s) => timeline.get(s),
    isPinned: (s) => pinned.includes(s),
    myReaction: (s) => timeline.myReaction(s),
    reach: () => undefined,
    files: { render: (list) => (list.length ? document.createElement('figure') : null) },
    actions: () => [document.createElement('button')],
    toggleReaction: (s, emoji) => done.push(`react ${s} ${emoji}`),
    vote: (s, options) => done.push(`vote ${s} ${options}`),
    answer: (s, a) => done.push(`answer ${s} ${a}`),
    scrollTo: () => false,
  };
}

describe('web components: a message row', () => {
  it('draws a message with its quote, mention highlight, reactions and the user’s own reaction pressed', () => {
    const timeline = new Timeline(ME);
    const first = message('u-asha', 'Seeds arrive on Friday');
    const reply = message('u-ben', 'Great @You', { replyTo: first.seq, mentions: [ME] });
    timeline.apply(first);
    timeline.apply(reply);
    timeline.apply({ ...first, seq: seq++, sender: ME, kind: 'reaction', target: reply.seq, emoji: '👍' } as GroupEvent);
    const done: string[] = [];
    const row = messageRow(timeline.get(reply.seq) as TimelineItem, rowContext(timeline, done));
    expect(row.className).toBe('message mentions-me');
    expect(row.querySelector('.sender')?.textContent).toBe('Ben Kumar');
    expect(row.querySelector('[data-testid="reply-quote"]')?.textContent).toBe('Asha Devi Seeds arrive on Friday');
    const chip = row.querySelector<HTMLButtonElement>('.reactions button');
    expect(chip?.textContent).toBe('👍 1');
    expect(chip?.getAttribute('aria-pressed')).toBe('true');
    chip?.click();
    expect(done).toEqual([`react ${reply.seq} 👍`]);
  });

  it('draws a deleted message without its text, files or actions, and a membership line as text', () => {
    const timeline = new Timeline(ME);
    const sent = message('u-asha', 'oops', { attachments: [{ id: 'a1', name: 'a.png', contentType: 'image/png', size: 3 }] });
    timeline.apply(sent);
    const context = rowContext(timeline, []);
    expect(messageRow(timeline.get(sent.seq) as TimelineItem, context).querySelector('figure')).not.toBeNull();
    timeline.apply({ ...sent, seq: seq++, kind: 'delete', target: sent.seq } as GroupEvent);
    const row = messageRow(timeline.get(sent.seq) as TimelineItem, context);
    expect(row.querySelector('.text')?.textContent).toBe('message deleted');
    expect(row.querySelector('figure')).toBeNull();
    expect(row.querySelector('[data-testid="message-actions"]')).toBeNull();
    const joined = { ...sent, seq: seq++, kind: 'member', member: 'u-ben', action: 'joined' } as GroupEvent;
    timeline.apply(joined);
    expect(messageRow(timeline.get(joined.seq) as TimelineItem, context).outerHTML).toBe(
      `<p class="system" data-seq="${joined.seq}">Ben Kumar joined</p>`,
    );
  });

  it('votes on a poll from its row, and offers pin or unpin by what is pinned', () => {
    const timeline = new Timeline(ME);
    const poll = message('u-asha', '', { poll: { question: 'Which Saturday?', options: ['5th', '12th'], multiple: false } });
    timeline.apply(poll);
    const done: string[] = [];
    const row = messageRow(timeline.get(poll.seq) as TimelineItem, rowContext(timeline, done));
    row.querySelectorAll<HTMLButtonElement>('[data-testid="poll-option"]')[1]?.click();
    expect(done).toEqual([`vote ${poll.seq} 1`]);

    const actions = (pinned: boolean): ActionContext => ({
      me: ME,
      group: () => ({ kind: 'group', role: 'admin' }),
      myReaction: () => undefined,
      toggleReaction: () => undefined,
      startReply: () => undefined,
      replyPrivately: () => undefined,
      canPin: () => true,
      isPinned: () => pinned,
      pin: (s, was) => done.push(`${was ? 'unpin' : 'pin'} ${s}`),
      report: async () => undefined,
      askReason: () => null,
      fail: () => undefined,
    });
    const item = timeline.get(poll.seq) as TimelineItem;
    const testids = (buttons: HTMLElement[]) => buttons.map((b) => b.dataset.testid).filter(Boolean);
    expect(testids(actionButtons(item, actions(false)))).toEqual(['reply', 'pin', 'report']);
    actionButtons(item, actions(true))
      .find((b) => b.dataset.testid === 'unpin')
      ?.click();
    expect(done.at(-1)).toBe(`unpin ${poll.seq}`);
  });
});

describe('web components: the keyed day list and the pin bar', () => {
  it('keeps rows in seq order inside one section per day and replaces a changed row in place', () => {
    const list = new DayList();
    const row = (s: number, text: string) => {
      const el = document.createElement('p');
      el.dataset.seq = String(s);
      el.textContent = text;
      return el;
    };
    list.put(5, '2026-12-07T10:00:00', row(5, 'five'));
    list.put(3, '2026-12-07T09:00:00', row(3, 'three'));
    list.put(1, '2026-12-06T09:00:00', row(1, 'one'));
    list.put(3, '2026-12-07T09:00:00', row(3, 'three, edited'));
    const sections = [...list.element.querySelectorAll('section')];
    expect(sections.map((s) => s.dataset.day)).toEqual(['2026-12-06', '2026-12-07']);
    expect(sections.map((s) => [...s.querySelectorAll('p')].map((p) => p.textContent))).toEqual([['one'], ['three, edited', 'five']]);
    expect(list.row(3)?.textContent).toBe('three, edited');
  });

  it('draws pins only when they change, and says which rows to redraw for their 📌', () => {
    const timeline = new Timeline(ME);
    const pinned = message('u-asha', 'Meeting at 9');
    timeline.apply(pinned);
    const bar = new PinBar(
      'g1',
      (s) => timeline.get(s),
      () => false,
    );
    expect(bar.element.hidden).toBe(true);
    expect(bar.draw([pinned.seq])).toEqual([pinned.seq]);
    expect(bar.element.hidden).toBe(false);
    expect(bar.element.textContent).toBe('📌 Meeting at 9');
    expect(bar.draw([pinned.seq])).toEqual([]);
    expect(bar.draw([])).toEqual([pinned.seq]);
    expect(bar.element.hidden).toBe(true);
  });
});
