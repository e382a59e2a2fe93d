import { ackFrame, eventAckFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

/** A reaction that changes nothing appends no event: its ack has no seq. */
export const react: CommandHandler<'react'> = async ({ chat, userId }, cmd) => {
  const r = await chat.messages.react(userId, cmd);
  return 'seq' in r ? eventAckFrame(cmd.id, r) : ackFrame(cmd.id, { group: r.group });
};
