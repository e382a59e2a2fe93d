import type { CommandHandler } from './context.js';

export const history: CommandHandler<'history'> = async ({ chat, userId }, cmd) => {
  const page = await chat.messages.history(userId, cmd);
  return JSON.stringify({ type: 'history', re: cmd.id, group: cmd.group, messages: page.messages, hasMore: page.hasMore });
};
