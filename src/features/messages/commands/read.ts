import { ackFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

export const read: CommandHandler<'read'> = async ({ chat, userId, connectionId }, cmd) => {
  const r = await chat.messages.markRead(userId, cmd, connectionId);
  return ackFrame(cmd.id, { group: r.group, seq: r.seq });
};
