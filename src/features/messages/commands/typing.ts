import type { CommandHandler } from '../../../gateway/commands/context.js';

/** Ephemeral: reaches other members' sockets through the bus, never storage; no reply. */
export const typing: CommandHandler<'typing'> = async ({ chat, userId, connectionId }, cmd) => {
  await chat.messages.typing(userId, cmd.group, connectionId);
  return undefined;
};
