import { eventAckFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

export const deleteMessage: CommandHandler<'delete'> = async ({ chat, userId }, cmd) =>
  eventAckFrame(cmd.id, await chat.messages.delete(userId, cmd));
