import { ackFrame } from '../../protocol/frames.js';
import type { CommandHandler } from './context.js';

export const send: CommandHandler<'send'> = async ({ chat, userId }, cmd) => {
  const r = await chat.messages.send(userId, cmd);
  return ackFrame(cmd.id, { group: r.group, seq: r.seq, ts: r.ts.toISOString() });
};
