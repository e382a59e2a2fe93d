import type { Tx } from './connect.js';
import { transaction } from './transaction.js';
import { appendEvents, type EventDraft } from '../../features/messages/queries.js';
import type { EventRow } from './schema.js';
import type { AccessChange } from '../../delivery/access-change.js';
import type { ControlMessage } from '../../delivery/control.js';
import type { LogEvent } from '../../protocol/frames.js';
import type { ChatDeps } from '../deps.js';
import type { TraceContext } from '../obs/tracing.js';

/** What a commit makes visible: log events (each group's in seq order), then users' control messages. */
export interface Committed {
  events?: readonly LogEvent[];
  /** Access changes no event carries (a mute, a private roster's membership change), for every replica's membership cache. */
  access?: readonly AccessChange[];
  controls?: readonly { userId: string; message: ControlMessage }[];
  /** Messages erased on expiry, per group: an `expired` frame to the group's sockets (not logged). */
  expired?: readonly { group: string; seqs: number[] }[];
  /** With tracing on: the trace of each event stored on behalf of another (send-queue.ts); others take the active one. */
  traces?: ReadonlyMap<LogEvent, TraceContext>;
}

/** Collects, inside a transaction, what it will make visible once committed. */
export class Outbox {
  readonly events: EventRow[] = [];
  readonly controls: { userId: string; message: ControlMessage }[] = [];
  readonly access: AccessChange[] = [];
  readonly expired: { group: string; seqs: number[] }[] = [];

  async append(tx: Tx, groupId: string, drafts: EventDraft[]): Promise<EventRow[]> {
    const rows = await appendEvents(tx, groupId, drafts);
    this.events.push(...rows);
    return rows;
  }

  notify(userId: string, message: ControlMessage): void {
    this.controls.push({ userId, message });
  }

  /** Messages of a group erased on expiry: their `expired` frame goes out after the commit. */
  expiredMessages(group: string, seqs: number[]): void {
    this.expired.push({ group, seqs });
  }

  /** An access change no event of this commit carries (a mute lifted or set, a private roster's membership change). */
  accessChanged(change: AccessChange): void {
    this.access.push(change);
  }
}

/**
 * Runs `work` in one transaction and makes its outbox visible after the commit. A deadlock or
 * serialization failure runs `work` again with a fresh outbox (transaction.ts), so `work` writes
 * only through `tx` and `outbox`. Writers of a single statement (outside a transaction) call
 * publishCommitted themselves once it returns.
 */
export async function commit<T>(deps: ChatDeps, work: (tx: Tx, outbox: Outbox) => Promise<T>): Promise<T> {
  let outbox = new Outbox();
  const result = await transaction(deps.db, (tx) => {
    outbox = new Outbox();
    return work(tx, outbox);
  });
  for (const row of outbox.events) deps.metrics.eventsStored.inc({ kind: row.kind });
  await publishCommitted(deps, outbox);
  return result;
}

/**
 * The one way anything written reaches sockets: called only after the commit (durable before
 * visible). The ordering rule lives here and nowhere else: **access changes before the events
 * they govern** — every replica's membership cache has dropped a removed member before any socket
 * sees the removal, so no replica still accepts a send from them (revocations likewise reach every
 * replica's revoked-session set before the sockets are told); then the events; then the users'
 * control messages (group_added, read markers, revocations), which may point at those events.
 * `expired` frames go with the events: sockets hear that messages disappeared once they are erased.
 *
 * Without access changes, the events are handed to the bus before the first await, so callers that
 * publish one commit after another keep their order on the bus without waiting for it.
 * Never throws: what is stored stays stored; a failed publish is logged, and replicas catch up
 * from storage (their feeds' periodic check, or a resync).
 */
export async function publishCommitted(deps: ChatDeps, committed: Committed): Promise<void> {
  const events = committed.events ?? [];
  try {
    const changes = [...accessChanges(events), ...(committed.access ?? [])];
    const revoked = (committed.controls ?? []).filter((c) => c.message.kind === 'revoke' || c.message.kind === 'revoke_all');
    if (changes.length > 0 || revoked.length > 0)
      await Promise.all([...changes.map((c) => deps.publisher.accessChanged(c)), ...revoked.map((c) => deps.publisher.revoked(c.userId))]);
    if (events.length > 0) await deps.publisher.events(events, committed.traces);
    await Promise.all((committed.expired ?? []).map((e) => deps.publisher.expired(e.group, e.seqs)));
    await Promise.all((committed.controls ?? []).map((c) => deps.publisher.control(c.userId, c.message)));
    // Stored messages owe notifications (notify_outbox, written with them): wake this replica's worker.
    if (deps.notificationsOwed && events.some((e) => e.kind === 'message')) deps.notificationsOwed();
  } catch (err) {
    deps.logger.error('publish after commit failed', { err });
  }
}

/** What committed events change for authorization: a member's role or presence, a group's settings. */
function accessChanges(events: readonly LogEvent[]): AccessChange[] {
  const changes: AccessChange[] = [];
  for (const e of events) {
    if (e.kind === 'member' && typeof e.data?.member === 'string') changes.push({ group: e.groupId, user: e.data.member });
    else if (e.kind === 'group') changes.push({ group: e.groupId });
  }
  return changes;
}
