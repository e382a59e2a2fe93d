// Bus topics and uWS topics share these names (DESIGN.md "Fan-out by topic").

export const groupTopic = (groupId: string) => `g:${groupId}`;
export const userTopic = (userId: string) => `u:${userId}`;
/** Membership and group-settings changes, for every replica's membership cache. */
export const ACCESS_TOPIC = 'access';
/** Users whose sessions were revoked (the user id as data), for every replica's revoked-session set. */
export const REVOKED_TOPIC = 'revoked';
/** Presence frames of one flush for connected viewers, for every replica's sessions of them (presence-batch.ts). */
export const PRESENCE_TOPIC = 'presence';

export const topicGroupId = (topic: string) => (topic.startsWith('g:') ? topic.slice(2) : undefined);
export const topicUserId = (topic: string) => (topic.startsWith('u:') ? topic.slice(2) : undefined);
