import type { HttpResult, TestUser } from './server.js';
import { connect, type Frame, type TestSocket } from './ws-client.js';

/** A server or one replica of a set: where a marker is made. */
export interface Place {
  wsUrl: string;
  http(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<HttpResult>;
}

// Positive markers for "nothing arrived" checks. Instead of sleeping and hoping that a wrong frame
// would have come by then, the test causes a frame the server sends after it on the same socket,
// waits for that one, and then looks at what came before. Each marker names the path it shares
// with the frames it stands behind; a marker on another path would prove nothing.

/**
 * `ping` → `pong`: every frame the server had written to this socket before it read the ping has
 * arrived (one connection, one ordered stream). On one replica with the in-process bus, whatever a
 * request publishes (events, control frames) is written to the sockets before the request is
 * answered, so a ping sent after the answer stands behind it. Not for frames the server sends
 * after an await of its own (`group_added`, presence flushes, a feed filling a gap), nor across
 * replicas: use the markers below there.
 */
export async function roundTrip(socket: TestSocket): Promise<void> {
  const pong = await socket.request({ type: 'ping' });
  if (pong.type !== 'pong') throw new Error(`ping answered ${JSON.stringify(pong)}`);
}

/**
 * Every control message the server published for `user` before this call has reached `socket`:
 * `join_request`, `report`, `group_invited`, `member_changed`, `user`, `stats`, `group_removed`, `read`
 * travel on the user's control topic, in order, and are written to the socket as they come.
 * The marker is a `read` frame (docs/protocol.md §5): another socket of the user "reads" `group` at
 * seq 0, which moves nothing but is told to the user's other sockets on that same topic.
 * `group_added` is not covered: the server reads the group before sending it.
 * Resolves with the marker frame's index in `socket.frames`.
 */
export async function controlMarker(wsUrl: string, user: TestUser, socket: TestSocket, group: string): Promise<number> {
  const from = socket.frames.length;
  const other = await connect(wsUrl, user.token);
  try {
    const ack = await other.request({ type: 'read', group, seq: 0 });
    if (ack.type !== 'ack') throw new Error(`read of ${group} answered ${JSON.stringify(ack)}`);
  } finally {
    await other.close();
  }
  const marker = await socket.next((f) => f.type === 'read' && f.group === group, 5000, from);
  return socket.frames.indexOf(marker);
}

/**
 * A group of the user's own, for a user in no group who needs a controlMarker: created after the
 * action under test, so its `group_added` (which the caller leaves out of its checks) comes later.
 */
export async function ownGroup(server: Place, user: TestUser): Promise<string> {
  const created = await server.http('POST', '/v1/groups', { token: user.token, body: { name: 'marker', members: [] } });
  if (created.status !== 201) throw new Error(`marker group not created: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.group.id as string;
}

/** Whether the frame is only a marker's: the `read` of controlMarker, the `group_added` of ownGroup. */
export const isMarker = (f: Frame, group?: string): boolean =>
  f.type === 'read' || (group !== undefined && f.type === 'group_added' && f.group.id === group);

/**
 * Every frame published on the group's topic before this call (its events, `typing`, `expired`) has
 * reached each socket that follows the group: `sender` posts a message, and each socket waits for
 * its event, which comes after them (docs/protocol.md §1: each group's events in `seq` order on
 * every socket, and one feed hands on the group's topic in order). Resolves with the message's seq.
 */
export async function groupMarker(server: Place, sender: TestUser, group: string, sockets: TestSocket[]): Promise<number> {
  const posted = await server.http('POST', `/v1/groups/${group}/messages`, {
    token: sender.token,
    body: { clientMsgId: `marker-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`, text: 'marker' },
  });
  if (posted.status !== 201) throw new Error(`marker message not stored: ${posted.status} ${JSON.stringify(posted.body)}`);
  const seq = posted.body.seq as number;
  await Promise.all(sockets.map((s) => s.next((f) => f.type === 'event' && f.group === group && f.seq === seq)));
  return seq;
}

/**
 * Every presence change the server recorded before this call has reached the viewers' sockets:
 * `marker` (a user not connected yet) shares a group of two with each viewer, then connects. Its
 * `online` is gathered after those changes, so it comes in the same flush or a later one (flushes
 * go out one after another, and each viewer's frames of a flush are written together); the
 * `pong` that follows covers the rest of that flush. Leaves the marker's groups in place.
 */
export async function presenceMarker(place: Place, marker: TestUser, viewers: { user: TestUser; socket: TestSocket }[]): Promise<void> {
  for (const { user } of viewers) {
    const created = await place.http('POST', '/v1/groups', { token: marker.token, body: { name: 'marker', members: [user.id] } });
    if (created.status !== 201 || created.body.invited.length > 0)
      throw new Error(`marker group with ${user.id}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  const from = viewers.map((v) => v.socket.frames.length);
  const socket = await connect(place.wsUrl, marker.token);
  try {
    await Promise.all(
      viewers.map((v, i) => v.socket.next((f) => f.type === 'presence' && f.user === marker.id && f.online, 5000, from[i])),
    );
    await Promise.all(viewers.map((v) => roundTrip(v.socket)));
  } finally {
    await socket.close();
  }
}
