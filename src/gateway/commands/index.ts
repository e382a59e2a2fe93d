import type { CommandType } from '../../protocol/commands.js';
import type { CommandHandler } from './context.js';
import { deleteMessage } from '../../features/messages/commands/delete.js';
import { edit } from '../../features/messages/commands/edit.js';
import { history } from '../../features/messages/commands/history.js';
import { pin, unpin } from '../../features/pins/commands/pin.js';
import { ping } from './ping.js';
import { react } from '../../features/messages/commands/react.js';
import { read } from '../../features/messages/commands/read.js';
import { rsvp } from '../../features/polls-events/commands/rsvp.js';
import { send } from '../../features/messages/commands/send.js';
import { sync } from '../../features/messages/commands/sync.js';
import { typing } from '../../features/messages/commands/typing.js';
import { vote } from '../../features/polls-events/commands/vote.js';

/** Commands of a ready socket by type; `auth` is handled before a socket is ready. */
export const commandHandlers: { [T in Exclude<CommandType, 'auth'>]: CommandHandler<T> } = {
  send,
  edit,
  delete: deleteMessage,
  react,
  read,
  pin,
  unpin,
  vote,
  rsvp,
  typing,
  sync,
  history,
  ping,
};

export type { CommandContext } from './context.js';
