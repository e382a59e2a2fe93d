import type { CommandHandlers } from '../../gateway/commands/context.js';
import { ackFrame, eventAckFrame } from '../../protocol/frames.js';
import type { Polls } from './polls.js';

/** docs/protocol.md §4 "Commands": `vote` and `rsvp`. One that changes nothing, or one tallied (announcement groups), appends no event: its ack has no seq. */
export function pollCommands(polls: Polls): Pick<CommandHandlers, 'vote' | 'rsvp'> {
  return {
    vote: async ({ userId }, cmd) => {
      const r = await polls.vote(userId, cmd);
      return 'seq' in r ? eventAckFrame(cmd.id, r) : ackFrame(cmd.id, { group: r.group });
    },
    rsvp: async ({ userId }, cmd) => {
      const r = await polls.rsvp(userId, cmd);
      return 'seq' in r ? eventAckFrame(cmd.id, r) : ackFrame(cmd.id, { group: r.group });
    },
  };
}
