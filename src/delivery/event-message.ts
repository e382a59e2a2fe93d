import { ALL_MEMBERS, type BusMessage } from '../bus/bus.js';
import { encodeEvent, type LogEvent } from '../protocol/frames.js';
import { groupTopic } from './topics.js';

/** A committed event as it travels on the bus: serialised once, with seq (and who leaves) outside the JSON. */
export function eventBusMessage(row: LogEvent): BusMessage {
  const leaves = leavingMember(row);
  return { topic: groupTopic(row.groupId), seq: row.seq, ...(leaves ? { leaves } : {}), data: encodeEvent(row) };
}

/** The user a membership event takes out of the group, if any. */
function leavingMember(row: LogEvent): string | undefined {
  if (row.kind === 'group' && (row.data?.changes as { deleted?: unknown } | undefined)?.deleted === true) return ALL_MEMBERS;
  if (row.kind !== 'member' || !row.data) return undefined;
  const action = row.data.action;
  return action === 'removed' || action === 'left' ? String(row.data.member) : undefined;
}
