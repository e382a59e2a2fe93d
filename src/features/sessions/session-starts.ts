import type { Principal } from '../../platform/auth/tokens.js';
import { sessionStartsOf } from './queries.js';
import type { GroupSummary } from '../../protocol/frames.js';
import type { ChatDeps } from '../../platform/deps.js';
import { toSummary } from '../groups/index.js';
import type { Profiles, StoredProfile } from '../profiles-presence/index.js';
import { ReadBatch } from '../messages/index.js';

interface StartRead {
  stored: StoredProfile | undefined;
  groups: GroupSummary[];
}

/**
 * What a session start reads: the user as stored and their groups, for concurrent starts in one
 * statement (a statement per start and per kind was most of PostgreSQL's work under connection churn).
 */
export class SessionStarts {
  private readonly reads: ReadBatch<string, StartRead>;

  constructor(
    deps: ChatDeps,
    private readonly profiles: Profiles,
  ) {
    const allMax = deps.config.notifications.allMaxMembers;
    this.reads = new ReadBatch(
      async (ids) => {
        const byUser = new Map<string, StartRead>();
        for (const row of await sessionStartsOf(deps.reads, ids)) {
          let read = byUser.get(row.userId);
          if (!read) {
            read = { stored: { name: row.name, claimedName: row.claimedName, account: row.account }, groups: [] };
            byUser.set(row.userId, read);
          }
          // The left join's group columns are all null for a user in no group, and all set otherwise.
          if (row.group.id !== null) read.groups.push(toSummary(row.group as Parameters<typeof toSummary>[0], allMax));
        }
        return byUser;
      },
      () => ({ stored: undefined, groups: [] }),
    );
  }

  /**
   * The user as `ready` names them (created on first sight, an identity service's new `name` claim
   * taken) and their groups, as read by a statement that starts after this call.
   */
  async start(principal: Principal): Promise<{ user: { id: string; name: string }; groups: GroupSummary[] }> {
    const { stored, groups } = await this.reads.get(principal.userId);
    return { user: await this.profiles.startSession(principal, stored), groups };
  }
}
