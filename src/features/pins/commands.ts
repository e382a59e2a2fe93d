import type { CommandHandlers } from '../../gateway/commands/context.js';
import { ackFrame, eventAckFrame } from '../../protocol/frames.js';
import type { PinChange, Pins } from './pins.js';

/** A pin or unpin that changes nothing appends no event: its ack has no seq. */
const pinAck = (id: string | number, group: string, change: PinChange) =>
  change.event ? eventAckFrame(id, change.event) : ackFrame(id, { group });

/** docs/protocol.md §4 "Commands": `pin` and `unpin`. */
export function pinCommands(pins: Pins): Pick<CommandHandlers, 'pin' | 'unpin'> {
  return {
    pin: async ({ userId }, cmd) => pinAck(cmd.id, cmd.group, await pins.pin(userId, cmd.group, cmd.target)),
    unpin: async ({ userId }, cmd) => pinAck(cmd.id, cmd.group, await pins.unpin(userId, cmd.group, cmd.target)),
  };
}
