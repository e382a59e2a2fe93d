import { ackFrame, eventAckFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

/** A vote that changes nothing, or one tallied (announcement groups), appends no event: its ack has no seq. */
export const vote: CommandHandler<'vote'> = async ({ chat, userId }, cmd) => {
  const r = await chat.polls.vote(userId, cmd);
  return 'seq' in r ? eventAckFrame(cmd.id, r) : ackFrame(cmd.id, { group: r.group });
};
