import type { CommandHandlers } from '../../gateway/commands/context.js';
import { ackFrame, eventAckFrame } from '../../protocol/frames.js';
import type { Messages } from './messages.js';

/** docs/protocol.md §4 "Commands": the message commands of a ready socket. */
export function messageCommands(
  messages: Messages,
): Pick<CommandHandlers, 'send' | 'edit' | 'delete' | 'react' | 'read' | 'typing' | 'sync' | 'history'> {
  return {
    send: async ({ userId }, cmd) => eventAckFrame(cmd.id, await messages.send(userId, cmd)),
    edit: async ({ userId }, cmd) => eventAckFrame(cmd.id, await messages.edit(userId, cmd)),
    delete: async ({ userId }, cmd) => eventAckFrame(cmd.id, await messages.delete(userId, cmd)),
    // A reaction that changes nothing appends no event: its ack has no seq.
    react: async ({ userId }, cmd) => {
      const r = await messages.react(userId, cmd);
      return 'seq' in r ? eventAckFrame(cmd.id, r) : ackFrame(cmd.id, { group: r.group });
    },
    read: async ({ userId, connectionId }, cmd) => {
      const r = await messages.markRead(userId, cmd, connectionId);
      return ackFrame(cmd.id, { group: r.group, seq: r.seq });
    },
    // Ephemeral: reaches other members' sockets through the bus, never storage; no reply.
    typing: async ({ userId, connectionId }, cmd) => {
      await messages.typing(userId, cmd.group, connectionId);
      return undefined;
    },
    // The events come as JSON, already counted against the reply's byte budget: joined, not serialised again.
    sync: async ({ userId }, cmd) => {
      const result = await messages.sync(userId, cmd.groups);
      const groups = Object.entries(result).map(
        ([groupId, r]) => `${JSON.stringify(groupId)}:{"events":[${r.events.join(',')}],"hasMore":${r.hasMore}}`,
      );
      return `{"type":"synced","re":${JSON.stringify(cmd.id)},"groups":{${groups.join(',')}}}`;
    },
    history: async ({ userId }, cmd) => {
      const page = await messages.history(userId, cmd);
      const head = JSON.stringify({ type: 'history', re: cmd.id, group: cmd.group }).slice(0, -1);
      return `${head},"messages":[${page.json.join(',')}],"hasMore":${page.hasMore}}`;
    },
  };
}
