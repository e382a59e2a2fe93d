import { ackFrame } from '../../protocol/frames.js';
import type { CommandHandler } from './context.js';

/** A reaction that changes nothing appends no event: its ack has no seq. */
export const react: CommandHandler<'react'> = async ({ chat, userId }, cmd) => {
  const r = await chat.messages.react(userId, cmd);
  return ackFrame(cmd.id, 'seq' in r ? { group: r.group, seq: r.seq, ts: r.ts.toISOString() } : { group: r.group });
};
