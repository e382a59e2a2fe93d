import type { Chat } from '../chat/index.js';
import type { GroupFeeds } from '../delivery/group-feeds.js';
import type { CommandId } from '../protocol/commands.js';
import { CloseCode } from '../protocol/errors.js';
import { readyFrame, type GroupSummary } from '../protocol/frames.js';
import type { LocalSockets } from './local-sockets.js';
import { isClosed, type Socket } from './socket-state.js';

export interface SessionStartDeps {
  chat: Chat;
  feeds: GroupFeeds;
  sockets: LocalSockets;
}

/**
 * Takes an authenticated socket to `ready`: follows every group of the user, each at the seq
 * its feed has delivered, so the socket's stream starts exactly after the `lastSeq` it is told.
 */
export async function startSession(deps: SessionStartDeps, ws: Socket, re: CommandId | undefined): Promise<void> {
  const data = ws.getUserData();
  const principal = data.principal!;
  data.phase = 'starting';
  // Checked right before registering: once registered, the close handler unregisters.
  if (isClosed(data)) return;
  await deps.sockets.register(ws);
  if (isClosed(data)) return;
  // The token was checked before the user's control topic was followed: a revocation in
  // between would otherwise go unheard.
  if (await deps.chat.accounts.isRevoked(principal)) {
    deps.sockets.close(ws, CloseCode.revoked, 'session revoked');
    return;
  }

  // List, take feed references (each new feed reads its baseline), then list again: a group
  // left between the two listings is dropped, one left later is an event its feed will deliver.
  // When every feed was already running, a removal after the first listing is an event those
  // feeds deliver to this registered user (see LocalSockets.memberLeft): one listing suffices.
  const first = await deps.chat.groups.listMine(principal.userId);
  // A member's row exists; only a user in no group may be new (created on first sight).
  if (first.length === 0) await deps.chat.accounts.ensureUser(principal);
  const allRunning = first.every((g) => deps.feeds.deliveredSeq(g.id) >= 0);
  const held = new Set<string>();
  try {
    await acquireAll(deps.feeds, first, held);
    let groups = first;
    if (!allRunning) {
      groups = await deps.chat.groups.listMine(principal.userId);
      await acquireAll(deps.feeds, groups, held);
    }
    if (isClosed(data)) return;

    const followed: GroupSummary[] = [];
    for (const group of groups) {
      held.delete(group.id);
      const lastSeq = deps.sockets.follow(ws, group.id);
      if (lastSeq >= 0) followed.push({ ...group, lastSeq });
    }
    data.phase = 'ready';
    deps.sockets.send(ws, readyFrame(re, { id: principal.userId, name: principal.name }, principal.sessionId, followed));
    const deferred = data.deferred;
    data.deferred = [];
    for (const message of deferred) deps.sockets.apply(ws, message);
  } finally {
    // References taken for groups the socket did not end up following.
    for (const groupId of held) deps.feeds.release(groupId);
  }
}

async function acquireAll(feeds: GroupFeeds, groups: GroupSummary[], held: Set<string>) {
  const fresh = groups.filter((g) => !held.has(g.id));
  for (const g of fresh) held.add(g.id);
  const results = await Promise.allSettled(fresh.map((g) => feeds.acquire(g.id)));
  results.forEach((r, i) => {
    if (r.status === 'rejected') held.delete(fresh[i]!.id);
  });
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
