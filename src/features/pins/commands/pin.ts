import { ackFrame, eventAckFrame } from '../../../protocol/frames.js';
import type { PinChange } from '../pins.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

/** A pin or unpin that changes nothing appends no event: its ack has no seq. */
const pinAck = (id: string | number, group: string, change: PinChange) =>
  change.event ? eventAckFrame(id, change.event) : ackFrame(id, { group });

export const pin: CommandHandler<'pin'> = async ({ chat, userId }, cmd) =>
  pinAck(cmd.id, cmd.group, await chat.pins.pin(userId, cmd.group, cmd.target));

export const unpin: CommandHandler<'unpin'> = async ({ chat, userId }, cmd) =>
  pinAck(cmd.id, cmd.group, await chat.pins.unpin(userId, cmd.group, cmd.target));
