import type { Queryable } from '../../platform/db/connect.js';
import { enqueueDeliveries, webhooksFor } from './queries.js';
import { newWebhookMessageId } from '../../platform/ids.js';

/** Community events a webhook may subscribe to that are not messages (those come from the notification outbox). */
export type CommunityEvent = 'join_request' | 'report' | 'member';

/**
 * Owes `event` (once per item of `data`) to every webhook of the community subscribed to it, in
 * the caller's transaction:
 * stored with what caused it, so it is delivered at least once (the notification worker sends
 * due deliveries on any replica within a poll, `NOTIFY_LEASE_MS` capped at 1 s).
 */
export async function oweCommunityEvent(
  db: Queryable,
  communityId: string,
  event: CommunityEvent,
  ...data: Record<string, unknown>[]
): Promise<void> {
  if (data.length === 0) return;
  const hooks = await webhooksFor(db, communityId, [event]);
  const timestamp = new Date().toISOString();
  await enqueueDeliveries(
    db,
    hooks.flatMap((hook) =>
      data.map((d) => ({
        id: newWebhookMessageId(),
        webhookId: hook.id,
        event,
        payload: { type: event, timestamp, data: { community: communityId, ...d } },
      })),
    ),
  );
}
