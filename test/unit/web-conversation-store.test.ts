// @vitest-environment happy-dom
import { describe, expect, it, onTestFinished } from 'vitest';
import { BanyanClient } from '../../src/client/index.js';
import type { Ctx } from '../../web/src/main.js';
import { ConversationStore } from '../../web/src/store/conversation.js';
import { fakeSockets } from '../helpers/fake-socket.js';

// A conversation's store (web/src/store) over the real SDK client, whose socket and HTTP the test
// answers by hand: no server, no browser. The store applies what arrives through the SDK's
// timeline and says which rows changed.

const ME = 'u-me';
const head = (seq: number, sender: string) => ({ type: 'event', group: 'g1', seq, ts: '2026-12-07T10:00:00.000Z', sender });
const historyMessage = (seq: number, text: string, extra: Record<string, unknown> = {}) => ({
  seq,
  ts: '2026-12-07T09:00:00.000Z',
  sender: 'u-asha',
  text,
  replyTo: null,
  mentions: [],
  clientMsgId: `c${seq}`,
  editedAt: null,
  deleted: false,
  reactions: {},
  ...extra,
});

async function setup() {
  const net = fakeSockets();
  /** HTTP answers by path ending; what was asked is kept. */
  const asked: string[] = [];
  const fetch = async (url: string | URL | Request) => {
    const path = new URL(String(url)).pathname;
    asked.push(path);
    if (path.endsWith('/votes'))
      return new Response(JSON.stringify({ group: 'g1', seq: 2, closed: false, counts: [0, 3], mine: [] }), { status: 200 });
    return new Response('{}', { status: 404 });
  };
  const client = new BanyanClient({ url: 'http://chat.test', token: 'tok', WebSocket: net.WebSocket, fetch, pingIntervalMs: 60_000 });
  const connected = client.connect();
  net.current.open();
  await expect.poll(() => net.current.sent.length).toBe(1);
  net.current.receive({
    type: 'ready',
    re: 'auth',
    user: { id: ME, name: 'Me' },
    sessionId: 's1',
    groups: [{ id: 'g1', kind: 'group', name: 'Garden', communityId: null, role: 'member', lastSeq: 2, readSeq: 2 }],
  });
  await connected;
  const names = { of: (id: string) => id, nameOf: () => undefined, membersOf: () => [], loadGroup: async () => undefined };
  const ctx = { client, http: client.http, names, session: { user: { id: ME, name: 'Me' }, token: 'tok' } } as unknown as Ctx;
  const store = new ConversationStore(ctx, 'g1');
  onTestFinished(() => {
    store.dispose();
    client.close();
  });
  const changes: string[] = [];
  store.on('rows', ({ seqs, live }) => changes.push(`rows ${seqs.join(',')}${live ? ` (${live.kind})` : ''}`));
  store.on('all', () => changes.push('all'));
  store.on('typing', () => changes.push(`typing ${[...store.typers.keys()].join(',')}`));
  /** Answers the last `history` command with these messages. */
  const answerHistory = async (messages: unknown[]) => {
    await expect.poll(() => net.current.sent.some((f) => f.type === 'history')).toBe(true);
    net.current.receive({ type: 'history', re: net.current.last('history').id, group: 'g1', messages, hasMore: false });
  };
  return { net, client, store, changes, asked, answerHistory };
}

describe('web: the conversation store', () => {
  it('holds events that come before the first page, then applies them on top of it', async () => {
    const { net, store, changes, answerHistory } = await setup();
    const loading = store.loadLatest();
    net.current.receive({ ...head(3, 'u-ben'), kind: 'edit', target: 1, text: 'Seeds on Saturday' });
    await answerHistory([historyMessage(1, 'Seeds on Friday'), historyMessage(2, 'Who helps?')]);
    await loading;
    expect(changes).toEqual(['all', 'rows 1 (edit)']);
    expect(store.timeline.get(1)).toMatchObject({ text: 'Seeds on Saturday', edited: true });
    expect(store.loaded).toBe(true);
  });

  it('says which row a live event changed, and fetches a poll’s counts when someone else voted', async () => {
    const { net, store, changes, asked, answerHistory } = await setup();
    const loading = store.loadLatest();
    await answerHistory([
      historyMessage(2, '', {
        poll: { question: 'When?', options: ['Sat', 'Sun'], multiple: false, closed: false, counts: [0, 2], mine: [] },
      }),
    ]);
    await loading;
    net.current.receive({ ...head(3, 'u-ben'), kind: 'vote', target: 2, voter: 'u-ben', options: [1] });
    await expect.poll(() => store.timeline.get(2)?.poll?.counts).toEqual([0, 3]);
    expect(asked).toEqual(['/v1/groups/g1/messages/2/votes']);
    expect(changes).toEqual(['all', 'rows  (vote)', 'rows 2']);
  });

  it('shows who is typing until their message arrives', async () => {
    const { net, store, changes, answerHistory } = await setup();
    const loading = store.loadLatest();
    await answerHistory([]);
    await loading;
    net.current.receive({ type: 'typing', group: 'g1', user: 'u-ben' });
    net.current.receive({ type: 'typing', group: 'g2', user: 'u-other' });
    net.current.receive({ ...head(3, 'u-ben'), kind: 'message', clientMsgId: 'b1', text: 'hi', replyTo: null, mentions: [] });
    expect(changes).toEqual(['all', 'typing u-ben', 'typing ', 'rows 3 (message)']);
    expect(store.typers.size).toBe(0);
  });
});
