import type { CommandHandler } from '../../../gateway/commands/context.js';

export const history: CommandHandler<'history'> = async ({ chat, userId }, cmd) => {
  const page = await chat.messages.history(userId, cmd);
  // The messages come as JSON, already counted against the reply's byte budget: joined, not serialised again.
  const head = JSON.stringify({ type: 'history', re: cmd.id, group: cmd.group }).slice(0, -1);
  return `${head},"messages":[${page.json.join(',')}],"hasMore":${page.hasMore}}`;
};
