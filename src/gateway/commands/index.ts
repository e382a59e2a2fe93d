import type { CommandType } from '../../protocol/commands.js';
import type { CommandHandler } from './context.js';
import { deleteMessage } from './delete.js';
import { edit } from './edit.js';
import { history } from './history.js';
import { pin, unpin } from './pin.js';
import { ping } from './ping.js';
import { react } from './react.js';
import { read } from './read.js';
import { rsvp } from './rsvp.js';
import { send } from './send.js';
import { sync } from './sync.js';
import { typing } from './typing.js';
import { vote } from './vote.js';

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
