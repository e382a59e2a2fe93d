import type { CommandId } from '../protocol/commands.js';
import { CloseCode, Disconnect } from '../protocol/errors.js';
import { readyFrame, type GroupSummary } from '../protocol/frames.js';
import type { GroupFeeds } from './group-feeds.js';
import type { Directory, Hub } from './hub.js';
import { isClosed, type Session } from './session.js';

/**
 * Takes an authenticated session to `ready`: follows every group of the user, each at the seq
 * its feed has delivered, so the session's stream starts exactly after the `lastSeq` it is told.
 */
export async function startSession<S>(hub: Hub<S>, directory: Directory, session: Session<S>, re: CommandId | undefined): Promise<void> {
  const { principal } = session;
  // Checked right before registering: once registered, the transport's close ends the session.
  if (isClosed(session)) return;
  await hub.register(session);
  if (isClosed(session)) return;
  // The token was checked before the user's control topic was followed: a revocation in
  // between would otherwise go unheard.
  if (await directory.isRevoked(principal)) {
    hub.disconnect(session, new Disconnect(CloseCode.revoked, 'session revoked'));
    return;
  }

  // List, take feed references (each new feed reads its baseline), then list again: a group
  // left between the two listings is dropped, one left later is an event its feed will deliver.
  // A removal after the first listing in a group whose feed was already running is an event that
  // feed delivers to this registered user (see Hub.memberLeft). So is one in a feed started here
  // whose log ended, when it was read, where the listing saw it end: nothing happened in between.
  // Only a new feed whose log moved on since the listing needs the second one. A feed started
  // here starts where this listing saw its log end (GroupFeeds.acquire): a new feed at another
  // seq is one that another session's listing started.
  const { user, groups: first } = await directory.startSession(principal);
  const started = first.filter((g) => hub.feeds.deliveredSeq(g.id) < 0);
  const held = new Set<string>();
  try {
    await acquireAll(hub.feeds, first, held);
    let groups = first;
    if (started.some((g) => hub.feeds.deliveredSeq(g.id) !== g.lastSeq)) {
      groups = await directory.listGroups(principal.userId);
      await acquireAll(hub.feeds, groups, held);
    }
    if (isClosed(session)) return;

    const followed: GroupSummary[] = [];
    for (const group of groups) {
      held.delete(group.id);
      const lastSeq = hub.follow(session, group.id);
      if (lastSeq >= 0) followed.push({ ...group, lastSeq });
    }
    session.phase = 'ready';
    hub.send(session, readyFrame(re, user, principal.sessionId, followed));
    const deferred = session.deferred;
    session.deferred = [];
    for (const message of deferred) hub.apply(session, message);
  } finally {
    // References taken for groups the session did not end up following.
    for (const groupId of held) hub.feeds.release(groupId);
  }
}

async function acquireAll(feeds: GroupFeeds, groups: GroupSummary[], held: Set<string>) {
  const fresh = groups.filter((g) => !held.has(g.id));
  for (const g of fresh) held.add(g.id);
  const results = await Promise.allSettled(fresh.map((g) => feeds.acquire(g.id, g.lastSeq)));
  results.forEach((r, i) => {
    if (r.status === 'rejected') held.delete(fresh[i]!.id);
  });
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
