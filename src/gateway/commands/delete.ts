import { ackFrame } from '../../protocol/frames.js';
import type { CommandHandler } from './context.js';

export const deleteMessage: CommandHandler<'delete'> = async ({ chat, userId }, cmd) => {
  const r = await chat.messages.delete(userId, cmd);
  return ackFrame(cmd.id, { group: r.group, seq: r.seq, ts: r.ts.toISOString() });
};
