import { describe, expect, it } from 'vitest';
import { historyMessage } from '../../src/features/messages/messages.js';
import type { EventRow } from '../../src/platform/db/schema.js';
import { AppError } from '../../src/protocol/errors.js';
import {
  ackFrame,
  encodeEvent,
  errorFrame,
  groupAddedFrame,
  groupRemovedFrame,
  joinRequestFrame,
  readMarkerFrame,
  reportFrame,
  readyFrame,
  typingFrame,
  type GroupSummary,
  type LogEvent,
} from '../../src/protocol/frames.js';
import { historyMessageSchema, parseServerFrame } from '../../src/protocol/server-frames.js';

// The SDK parses frames with these schemas while the server writes them with plain encoders:
// every encoder's output must parse, field for field.

const ts = new Date('2026-01-02T03:04:05.000Z');
const base: LogEvent = {
  groupId: 'g1',
  seq: 43,
  ts,
  senderId: 'u1',
  kind: 'message',
  clientMsgId: 'c-77',
  text: 'hello',
  target: null,
  replyTo: null,
  data: { mentions: ['u2'] },
  editedAt: null,
  deleted: false,
  expiresAt: null,
  expired: false,
};
const summary: GroupSummary = { id: 'g1', kind: 'group', name: 'Volunteers', communityId: null, role: 'member', lastSeq: 42, readSeq: 40 };

describe('server frame schemas', () => {
  it.each([
    ['message', base],
    ['edited message', { ...base, editedAt: ts }],
    ['edit', { ...base, kind: 'edit', clientMsgId: null, target: 43, text: 'hello!', data: null }],
    ['delete', { ...base, kind: 'delete', clientMsgId: null, text: null, target: 43, data: null }],
    ['reaction', { ...base, kind: 'reaction', clientMsgId: null, text: null, target: 44, data: { emoji: '👍' } }],
    ['reaction removed', { ...base, kind: 'reaction', clientMsgId: null, text: null, target: 44, data: { emoji: null } }],
    ['member', { ...base, kind: 'member', clientMsgId: null, text: null, data: { member: 'u5', action: 'added', role: 'member' } }],
    ['group', { ...base, kind: 'group', clientMsgId: null, text: null, data: { changes: { name: 'New name' } } }],
    ['poll', { ...base, text: '', data: { mentions: [], poll: { question: 'Q?', options: ['A', 'B'], multiple: false } } }],
    [
      'closed poll',
      { ...base, text: '', data: { mentions: [], poll: { question: 'Q?', options: ['A', 'B'], multiple: true, closed: true } } },
    ],
    ['event message', { ...base, data: { mentions: [], event: { title: 'Meet', startsAt: ts.toISOString(), location: 'Hall' } } }],
    ['vote', { ...base, kind: 'vote', clientMsgId: null, text: null, target: 42, data: { options: [0, 2] } }],
    ['rsvp', { ...base, kind: 'rsvp', clientMsgId: null, text: null, target: 42, data: { answer: 'maybe' } }],
    ['poll tally', { ...base, kind: 'tally', senderId: '', clientMsgId: null, text: null, target: 42, data: { counts: [3, 0, 1] } }],
    [
      'event tally',
      { ...base, kind: 'tally', senderId: '', clientMsgId: null, text: null, target: 42, data: { counts: { going: 2, maybe: 1, no: 0 } } },
    ],
    ['poll_closed', { ...base, kind: 'poll_closed', clientMsgId: null, text: null, target: 42, data: { counts: [3, 1] } }],
  ] as [string, LogEvent][])('parses the %s event the server encodes, keeping every field', (_name, event) => {
    const wire = encodeEvent(event);
    expect(parseServerFrame(wire)).toStrictEqual(JSON.parse(wire));
  });

  it('parses ready, ack, error, typing, group_added, group_removed and read frames', () => {
    const frames = [
      readyFrame('1', { id: 'u1', name: 'Asha' }, 's1', [summary]),
      readyFrame(undefined, { id: 'u1', name: 'Asha' }, null, []),
      ackFrame('r1', { group: 'g1', seq: 3, ts: ts.toISOString() }),
      ackFrame(7),
      errorFrame('r2', new AppError('forbidden', 'only admins may post', { why: 'x' })),
      errorFrame(undefined, new AppError('rate_limited', 'slow down', { retryAfterMs: 20 })),
      typingFrame('g1', 'u2'),
      groupAddedFrame(summary),
      groupRemovedFrame('g1'),
      readMarkerFrame('g1', 9),
      joinRequestFrame('c1', 'g_ann', { id: 'u3', name: 'Ben' }),
      reportFrame({
        id: 'r_1',
        community: 'c1',
        group: 'g1',
        seq: 43,
        reason: 'harassment',
        note: null,
        reporter: { id: 'u2', name: 'Cara' },
        snapshot: { sender: 'u1', text: 'hello', ts: ts.toISOString(), attachments: [{ id: 'a1' }] },
        status: 'resolved',
        action: 'mute',
        resolvedBy: 'u9',
        resolvedAt: ts.toISOString(),
        createdAt: ts.toISOString(),
      }),
    ];
    for (const wire of frames) expect(parseServerFrame(wire)).toStrictEqual(JSON.parse(wire));
  });

  it('parses synced and history replies as the command handlers build them', () => {
    const synced = JSON.stringify({ type: 'synced', re: 'r', groups: { g1: { events: [JSON.parse(encodeEvent(base))], hasMore: true } } });
    expect(parseServerFrame(synced)).toStrictEqual(JSON.parse(synced));
    const row = { ...base, groupId: 'g1', senderId: 'u1', editedAt: ts } as unknown as EventRow;
    const message = historyMessage(row, { '👍': 2 });
    expect(historyMessageSchema.parse(JSON.parse(JSON.stringify(message)))).toStrictEqual(JSON.parse(JSON.stringify(message)));
    // A poll and an event with their answers now.
    const poll = { question: 'Q?', options: ['A', 'B'], multiple: false };
    const event = { title: 'Meet', startsAt: ts.toISOString() };
    for (const answers of [
      { poll: { ...poll, closed: false, counts: [2, 1], mine: [0] } },
      { event: { ...event, counts: { going: 1, maybe: 0, no: 2 }, mine: null } },
    ]) {
      const m = historyMessage({ ...row, data: { mentions: [], poll, event } } as EventRow, {}, answers);
      expect(historyMessageSchema.parse(JSON.parse(JSON.stringify(m)))).toStrictEqual(JSON.parse(JSON.stringify(m)));
      expect(m).toMatchObject(answers);
    }
  });

  it('keeps fields a newer server adds, and refuses what is not a known frame', () => {
    expect(parseServerFrame('{"type":"typing","group":"g1","user":"u2","future":1}')).toEqual({
      type: 'typing',
      group: 'g1',
      user: 'u2',
      future: 1,
    });
    expect(parseServerFrame('{"type":"presence","user":"u2"}')).toBeUndefined();
    expect(parseServerFrame('{"type":"event","group":"g1","seq":0,"ts":"x","sender":"u","kind":"delete","target":1}')).toBeUndefined();
    expect(parseServerFrame('not json')).toBeUndefined();
  });
});
