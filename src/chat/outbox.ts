import type { Tx } from '../db/connect.js';
import { appendEvents, type EventDraft } from '../db/events.js';
import type { EventRow } from '../db/schema.js';
import type { ControlMessage } from '../delivery/control.js';
import type { ChatDeps } from './deps.js';
import type { AccessChange } from './membership-cache.js';

/** What a transaction will announce once committed: log events, then users' control messages. */
export class Outbox {
  readonly events: EventRow[] = [];
  readonly controls: { userId: string; message: ControlMessage }[] = [];

  async append(tx: Tx, groupId: string, drafts: EventDraft[]): Promise<EventRow[]> {
    const rows = await appendEvents(tx, groupId, drafts);
    this.events.push(...rows);
    return rows;
  }

  notify(userId: string, message: ControlMessage): void {
    this.controls.push({ userId, message });
  }
}

/**
 * Runs `work` in one transaction and publishes its outbox only after the commit (durable before
 * visible). A failed publish is logged, not thrown: what is stored stays stored, and replicas
 * catch up from storage.
 */
export async function commit<T>(deps: ChatDeps, work: (tx: Tx, outbox: Outbox) => Promise<T>): Promise<T> {
  const outbox = new Outbox();
  const result = await deps.db.transaction((tx) => work(tx, outbox));
  for (const row of outbox.events) deps.metrics.eventsStored.inc({ kind: row.kind });
  try {
    // Caches first: by the time any socket sees a removal, no replica still accepts the member.
    await Promise.all(accessChanges(outbox.events).map((c) => deps.publisher.accessChanged(c)));
    await deps.publisher.events(outbox.events);
    await Promise.all(outbox.controls.map((c) => deps.publisher.control(c.userId, c.message)));
  } catch (err) {
    deps.logger.error('publish after commit failed', { err });
  }
  return result;
}

/** What committed events change for authorization: a member's role or presence, a group's settings. */
function accessChanges(events: readonly EventRow[]): AccessChange[] {
  const changes: AccessChange[] = [];
  for (const e of events) {
    if (e.kind === 'member' && typeof e.data?.member === 'string') changes.push({ group: e.groupId, user: e.data.member });
    else if (e.kind === 'group') changes.push({ group: e.groupId });
  }
  return changes;
}
