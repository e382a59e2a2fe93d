import { eventAckFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

export const send: CommandHandler<'send'> = async ({ chat, userId }, cmd) => eventAckFrame(cmd.id, await chat.messages.send(userId, cmd));
