import { eventFrame } from '../../protocol/frames.js';
import type { CommandHandler } from './context.js';

export const sync: CommandHandler<'sync'> = async ({ chat, userId }, cmd) => {
  const result = await chat.messages.sync(userId, cmd.groups);
  const groups = Object.fromEntries(
    Object.entries(result).map(([groupId, r]) => [groupId, { events: r.events.map(eventFrame), hasMore: r.hasMore }]),
  );
  return JSON.stringify({ type: 'synced', re: cmd.id, groups });
};
