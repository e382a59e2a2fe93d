// Bus topics and uWS topics share these names (docs/architecture.md "Fan-out by topic").

export const groupTopic = (groupId: string) => `g:${groupId}`;
/**
 * Control messages of a user (control.ts) go to one of CONTROL_SHARDS topics, named by a hash of
 * the user id, rather than to a topic per user: a replica holding many users follows every shard
 * already, so a session start waits for no SUBSCRIBE and a close sends no UNSUBSCRIBE. The cost:
 * each replica hears the control messages of every user of the shards it follows, and drops those
 * of users it does not hold (a map lookup each).
 */
export const CONTROL_SHARDS = 256;
export const controlTopic = (userId: string) => `c:${fnv1a(userId) % CONTROL_SHARDS}`;
export const isControlTopic = (topic: string) => topic.startsWith('c:');

/** FNV-1a, 32 bits: spreads user ids over the shards; not a security boundary (every replica may hear every shard). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
/** Membership and group-settings changes, for every replica's membership cache. */
export const ACCESS_TOPIC = 'access';
/** Users whose sessions were revoked (the user id as data), for every replica's revoked-session set. */
export const REVOKED_TOPIC = 'revoked';
/** Presence frames of one flush for connected viewers, for every replica's sessions of them (presence-batch.ts). */
export const PRESENCE_TOPIC = 'presence';

export const topicGroupId = (topic: string) => (topic.startsWith('g:') ? topic.slice(2) : undefined);

/** A topic's kind without its id (`g:`, `c:`, `access`…): a label that does not grow with the groups (span attributes). */
export const topicKind = (topic: string) => topic.slice(0, topic.indexOf(':') + 1) || topic;
