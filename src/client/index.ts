// `banyan/client`: the client SDK (browsers and Node 20). See README.md for an example.
export { BanyanClient } from './client.js';
export type {
  ClientEvents,
  ClientOptions,
  ConnectionState,
  GroupState,
  PendingMessage,
  SendAck,
  SessionTokens,
  WebSocketConstructor,
  WebSocketLike,
} from './client.js';
export { BanyanHttp } from './http.js';
export type { Fetch, HttpOptions, HttpReplies, PushSubscriptionLike } from './http.js';
export { BanyanError } from './errors.js';
export { Backoff } from './backoff.js';
export { GroupCursor } from './group-cursor.js';
export { parseServerFrame, serverFrameSchema, eventSchema } from '../protocol/server-frames.js';
export type {
  FrameOf,
  GroupEvent,
  GroupEventKind,
  GroupSummaryFrame,
  HistoryMessageFrame,
  MessageEvent,
  ProfileView,
  ServerFrame,
  ServerFrameType,
} from '../protocol/server-frames.js';
export type { Community, CommunityGroup, Group } from '../protocol/http-replies.js';
export type { CommandBody, CommandType, OutgoingMessage, SendInput } from '../protocol/commands.js';
export type { ReplyTo } from '../protocol/server-frames.js';
export { Timeline, itemFromHistory, itemFromMessage } from './timeline.js';
export type { RsvpAnswer, TimelineChange, TimelineEvent, TimelineItem, TimelineNotice, TimelinePoll } from './timeline.js';
