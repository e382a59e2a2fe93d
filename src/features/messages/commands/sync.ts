import type { CommandHandler } from '../../../gateway/commands/context.js';

export const sync: CommandHandler<'sync'> = async ({ chat, userId }, cmd) => {
  const result = await chat.messages.sync(userId, cmd.groups);
  // The events come as JSON, already counted against the reply's byte budget: joined, not serialised again.
  const groups = Object.entries(result).map(
    ([groupId, r]) => `${JSON.stringify(groupId)}:{"events":[${r.events.join(',')}],"hasMore":${r.hasMore}}`,
  );
  return `{"type":"synced","re":${JSON.stringify(cmd.id)},"groups":{${groups.join(',')}}}`;
};
