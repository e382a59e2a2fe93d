import { ackFrame, eventAckFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

/** An RSVP that changes nothing, or one tallied (announcement groups), appends no event: its ack has no seq. */
export const rsvp: CommandHandler<'rsvp'> = async ({ chat, userId }, cmd) => {
  const r = await chat.polls.rsvp(userId, cmd);
  return 'seq' in r ? eventAckFrame(cmd.id, r) : ackFrame(cmd.id, { group: r.group });
};
