import { describe, expect, it } from 'vitest';
import { type GroupEvent, type HistoryMessageFrame, Timeline } from '../../src/client/index.js';

// The SDK's timeline (src/client/timeline.ts): history pages and live events applied to the
// message they concern, as docs/protocol.md §5 "Frames from the server" describes them.

const ME = 'u-me';
let nextSeq = 100;
const head = (sender: string) => ({ type: 'event' as const, group: 'g1', seq: nextSeq++, ts: '2026-12-07T10:00:00.000Z', sender });
const message = (sender: string, text: string, extra: Partial<Extract<GroupEvent, { kind: 'message' }>> = {}): GroupEvent => ({
  ...head(sender),
  kind: 'message',
  clientMsgId: `c-${nextSeq}`,
  text,
  replyTo: null,
  mentions: [],
  ...extra,
});
const history = (seq: number, text: string, extra: Partial<HistoryMessageFrame> = {}): HistoryMessageFrame => ({
  seq,
  ts: '2026-12-06T09:00:00.000Z',
  sender: 'u-asha',
  text,
  replyTo: null,
  mentions: [],
  clientMsgId: `h-${seq}`,
  editedAt: null,
  deleted: false,
  reactions: {},
  ...extra,
});
/** A timeline holding one live message from Asha; returns its seq. */
const withMessage = (extra: Partial<Extract<GroupEvent, { kind: 'message' }>> = {}) => {
  const timeline = new Timeline(ME);
  const e = message('u-asha', 'Seeds on Friday', extra);
  timeline.apply(e);
  return { timeline, seq: e.seq };
};

describe('Timeline', () => {
  it('applies edits and deletions to their message, and reports only what changed', () => {
    const { timeline, seq } = withMessage({ attachments: [{ id: 'a1', name: 'a.png', contentType: 'image/png', size: 3 }] });
    expect(timeline.apply({ ...head('u-asha'), kind: 'edit', target: seq, text: 'Seeds on Saturday' })).toEqual({ changed: [seq] });
    expect(timeline.get(seq)).toMatchObject({ text: 'Seeds on Saturday', edited: true });
    expect(timeline.apply({ ...head('u-asha'), kind: 'delete', target: seq })).toEqual({ changed: [seq] });
    expect(timeline.get(seq)).toMatchObject({ text: null, attachments: [] });
    // An edit of a message this timeline never saw changes nothing.
    expect(timeline.apply({ ...head('u-asha'), kind: 'edit', target: 1, text: 'x' })).toEqual({ changed: [] });
    expect(timeline.has(1)).toBe(false);
  });

  it('moves a changed reaction rather than counting it twice, and knows the user’s own', () => {
    const { timeline, seq } = withMessage();
    const react = (sender: string, emoji: string | null) => timeline.apply({ ...head(sender), kind: 'reaction', target: seq, emoji });
    react('u-ben', '👍');
    react(ME, '👍');
    expect(timeline.get(seq)?.reactions).toEqual({ '👍': 2 });
    expect(timeline.myReaction(seq)).toBe('👍');
    react('u-ben', '❤️');
    expect(timeline.get(seq)?.reactions).toEqual({ '👍': 1, '❤️': 1 });
    react(ME, null);
    expect(timeline.get(seq)?.reactions).toEqual({ '👍': 0, '❤️': 1 });
    expect(timeline.myReaction(seq)).toBeUndefined();
    // An announcement group's tally replaces the counts as they stand.
    timeline.apply({ ...head(''), kind: 'reactions', target: seq, counts: { '🙏': 120 } });
    expect(timeline.get(seq)?.reactions).toEqual({ '🙏': 120 });
  });

  it('counts polls from tallies, closes them, and asks to fetch counts when someone else votes', () => {
    const { timeline, seq } = withMessage({ text: '', poll: { question: 'Which Saturday?', options: ['5th', '12th'], multiple: false } });
    expect(timeline.get(seq)?.poll).toEqual({
      question: 'Which Saturday?',
      options: ['5th', '12th'],
      multiple: false,
      closed: false,
      counts: [0, 0],
      mine: [],
    });
    expect(timeline.apply({ ...head('u-ben'), kind: 'vote', target: seq, voter: 'u-ben', options: [1] })).toEqual({
      changed: [],
      refetchCounts: seq,
    });
    // The user's own vote: the caller already fetches after voting.
    expect(timeline.apply({ ...head(ME), kind: 'vote', target: seq, voter: ME, options: [0] })).toEqual({ changed: [] });
    timeline.setCounts(seq, { counts: [1, 1], mine: [0], closed: false });
    expect(timeline.get(seq)?.poll).toMatchObject({ counts: [1, 1], mine: [0] });
    timeline.apply({ ...head(''), kind: 'tally', target: seq, counts: [120, 43] });
    expect(timeline.get(seq)?.poll?.counts).toEqual([120, 43]);
    // A tally of the wrong shape (an event's answers for a poll) changes nothing.
    expect(timeline.apply({ ...head(''), kind: 'tally', target: seq, counts: { going: 1, maybe: 0, no: 0 } })).toEqual({ changed: [] });
    timeline.apply({ ...head('u-asha'), kind: 'poll_closed', target: seq, counts: [121, 43] });
    expect(timeline.get(seq)?.poll).toMatchObject({ closed: true, counts: [121, 43], mine: [0] });
  });

  it('counts an event’s answers from tallies and fetched counts', () => {
    const { timeline, seq } = withMessage({ event: { title: 'Clean-up', startsAt: '2026-12-05T03:30:00.000Z' } });
    expect(timeline.get(seq)?.event).toMatchObject({ counts: { going: 0, maybe: 0, no: 0 }, mine: null });
    timeline.apply({ ...head(''), kind: 'tally', target: seq, counts: { going: 61, maybe: 12, no: 4 } });
    expect(timeline.get(seq)?.event?.counts).toEqual({ going: 61, maybe: 12, no: 4 });
    timeline.setCounts(seq, { counts: { going: 62, maybe: 12, no: 4 }, mine: 'going' });
    expect(timeline.get(seq)?.event).toMatchObject({ counts: { going: 62, maybe: 12, no: 4 }, mine: 'going' });
  });

  it('keeps membership and rename lines apart from messages', () => {
    const { timeline, seq } = withMessage();
    const joined = { ...head('u-ben'), kind: 'member' as const, member: 'u-ben', action: 'joined' as const };
    timeline.apply(joined);
    timeline.apply({ ...head('u-asha'), kind: 'group', changes: { name: 'Garden' } });
    timeline.apply({ ...head('u-asha'), kind: 'group', changes: { description: 'no line for this' } });
    timeline.apply({ ...head(''), kind: 'hidden' });
    expect(timeline.items().map((i) => i.notice ?? i.seq)).toEqual([
      seq,
      { kind: 'member', member: 'u-ben', action: 'joined' },
      { kind: 'renamed', by: 'u-asha', name: 'Garden' },
    ]);
    expect(timeline.latestMessages().map((i) => i.seq)).toEqual([seq]);
    expect(timeline.firstUnreadAfter(0)?.seq).toBe(seq);
    expect(timeline.firstUnreadAfter(seq)).toBeUndefined();
  });

  it('pages history in without overwriting what live events made fresher, and erases expired messages', () => {
    const timeline = new Timeline(ME);
    timeline.reset([history(5, 'five', { reactions: { '👍': 1 } }), history(6, 'six', { deleted: true })]);
    expect(timeline.get(6)?.text).toBeNull();
    timeline.apply({ ...head(ME), kind: 'edit', target: 5, text: 'five!' });
    expect(
      timeline.addHistory([
        history(3, 'three', { expired: true, expiresAt: '2026-12-06T10:00:00.000Z' }),
        history(4, 'four'),
        history(5, 'stale'),
      ]),
    ).toEqual([3, 4]);
    expect(timeline.get(5)?.text).toBe('five!');
    expect(timeline.get(3)).toMatchObject({ text: null, expired: true });
    expect(timeline.oldestMessageSeq()).toBe(3);
    expect(timeline.expire([4, 99])).toEqual([4]);
    expect(timeline.get(4)).toMatchObject({ text: null, expired: true, attachments: [] });
    expect(timeline.clientMsgIds()).toEqual(new Set(['h-3', 'h-4', 'h-5', 'h-6']));
  });
});
