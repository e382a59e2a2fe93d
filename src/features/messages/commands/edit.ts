import { eventAckFrame } from '../../../protocol/frames.js';
import type { CommandHandler } from '../../../gateway/commands/context.js';

export const edit: CommandHandler<'edit'> = async ({ chat, userId }, cmd) => eventAckFrame(cmd.id, await chat.messages.edit(userId, cmd));
