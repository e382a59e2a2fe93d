import { sql } from 'drizzle-orm';
import type { Principal } from '../../platform/auth/tokens.js';
import type { ChatDeps } from '../../platform/deps.js';
import { transaction } from '../../platform/db/transaction.js';
import { AppError } from '../../protocol/errors.js';
import type { Groups } from '../groups/index.js';
import { deleteCredentials, Erasures } from './erasure.js';
import { type ExportDeps, Exports } from './exports.js';
import { insertErasure } from './queries.js';

/** What my-data needs of accounts (features/accounts' Accounts). */
export interface AccountChecks {
  /** `none` when the account has no password, else whether `password` is it. */
  checkPassword(userId: string, password: string | undefined): Promise<'none' | 'ok' | 'wrong'>;
  usernameOf(userId: string): Promise<string | undefined>;
  signOutEverywhere(principal: Principal): Promise<void>;
}

/** A member's own data (docs/protocol.md §2 "Your data: export and erasure"): export and erasure. */
export class MyData {
  readonly exports: Exports;
  readonly erasures: Erasures;

  constructor(
    private readonly deps: ChatDeps,
    private readonly accounts: Pick<AccountChecks, 'signOutEverywhere'>,
    groups: Groups,
    media: ExportDeps & { sweepAttachments: () => Promise<number> },
  ) {
    this.exports = new Exports(deps, media);
    this.erasures = new Erasures({ deps, groups, exports: this.exports, sweepAttachments: media.sweepAttachments });
  }

  /**
   * Erases the caller's account (the phrase and, when the account has one, the password were
   * checked by the route). At once: the credentials go and every session is revoked (sockets close
   * 4403 on every replica); the rest is owed to the erasure job, which survives a restart.
   */
  async erase(principal: Principal): Promise<void> {
    const userId = principal.userId;
    await transaction(this.deps.db, async (tx) => {
      await insertErasure(tx, userId);
      await deleteCredentials(tx, userId);
      await tx.execute(sql`update users set erased_at = coalesce(erased_at, now()) where id = ${userId}`);
    });
    await this.accounts.signOutEverywhere(principal);
    this.erasures.trigger.kick();
  }

  jobs() {
    return [this.exports.job(), this.erasures.job()];
  }
}

/** Server-scoped tokens belong to backend services, not members: they have no data of their own here. */
export function requireMember(principal: Principal): void {
  if (principal.scope !== 'user') throw new AppError('forbidden', 'only a member can export or erase their own data');
}
