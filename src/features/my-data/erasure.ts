import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { ChatDeps } from '../../platform/deps.js';
import type { Queryable, Tx } from '../../platform/db/connect.js';
import { commit, type Outbox } from '../../platform/db/outbox.js';
import type { Job } from '../../platform/jobs/job.js';
import { JobTrigger } from '../../platform/jobs/job.js';
import { releaseAttachmentRefsOf } from '../attachments/index.js';
import { eraseAnswers } from '../polls-events/index.js';
import { unpinGoneIn } from '../pins/index.js';
import { findGroup, type Groups } from '../groups/index.js';
import { lockGroupLog } from '../messages/index.js';
import type { Exports } from './exports.js';
import { rowsOf } from '../../platform/db/rows.js';
import { claimErasures, deleteExportsOf, erasureFailed, exportsOf, finishErasure } from './queries.js';

/**
 * The sender an erased member's kept events carry: no one (as the expiry sweeper's events do).
 * Clients show it as "Deleted account" (docs/protocol.md §2 "Your data: export and erasure").
 */
export const ERASED_SENDER = '';

/** Events of the member's read per round of the messages step. */
const ERASE_PAGE = 500;
const ERASURE_LEASE_MS = 10 * 60_000;
const ERASURE_POLL_MS = 5_000;

/** What the steps of an erasure may use. */
export interface ErasureContext {
  deps: ChatDeps;
  groups: Groups;
  exports: Exports;
  /** Deletes the files of attachments due (the attachment sweep). */
  sweepAttachments: () => Promise<number>;
}

/** One step of an erasure: idempotent (a step cut short by a crash runs again, whole, on any replica). */
export interface ErasureStep {
  name: string;
  run(userId: string, ctx: ErasureContext): Promise<void>;
}

const exec = (db: Queryable, query: ReturnType<typeof sql>) => db.execute(query);

/**
 * What becomes of a group's messages by an erased member: `remove` (the content goes, the seq
 * stays) in direct groups and in communities set to it; `anonymise` (the text stays, the sender
 * goes) elsewhere, the default.
 */
async function erasedMessagesMode(db: Queryable, groupId: string): Promise<'remove' | 'anonymise'> {
  const result = await db.execute(sql`
    select g.kind, a.settings->>'erasedMessages' as mode from groups g
    left join communities c on c.id = g.community_id left join groups a on a.id = c.announcement_group_id
    where g.id = ${groupId}`);
  const row = rowsOf<{ kind: string; mode: string | null }>(result)[0];
  return row?.kind === 'direct' || row?.mode === 'remove' ? 'remove' : 'anonymise';
}

/**
 * One group's events by the member, under the group's log lock. Messages are removed (content
 * erased, `expired` as the expiry sweeper leaves them, an `expired` frame to the group's sockets)
 * or anonymised (text kept, sender and files gone); their edits likewise; reactions, votes and
 * RSVPs become `hidden` (only their seq stays). Every row leaves the member's index (sender ``).
 */
async function eraseInGroup(tx: Tx, outbox: Outbox, groupId: string, rows: { seq: number; kind: string }[], mode: 'remove' | 'anonymise') {
  await lockGroupLog(tx, groupId);
  const of = (kinds: string[]) => rows.filter((r) => kinds.includes(r.kind)).map((r) => r.seq);
  const messages = of(['message']);
  const edits = of(['edit']);
  const answers = of(['reaction', 'vote', 'rsvp']);
  const list = (seqs: number[]) =>
    sql.join(
      seqs.map((s) => sql`${s}`),
      sql`, `,
    );
  if (answers.length)
    await exec(
      tx,
      sql`update events set kind = 'hidden', sender_id = ${ERASED_SENDER}, data = null
      where group_id = ${groupId} and seq in (${list(answers)})`,
    );
  if (mode === 'anonymise') {
    if (messages.length) {
      await exec(
        tx,
        sql`update events set sender_id = ${ERASED_SENDER}, client_msg_id = null, data = data - 'attachments'
        where group_id = ${groupId} and seq in (${list(messages)})`,
      );
      // Their files are erased with them (the attachments step): the messages keep no reference.
      await releaseAttachmentRefsOf(tx, groupId, messages);
    }
    if (edits.length)
      await exec(
        tx,
        sql`update events set sender_id = ${ERASED_SENDER}, client_msg_id = null
        where group_id = ${groupId} and seq in (${list(edits)})`,
      );
    return;
  }
  if (edits.length)
    await exec(
      tx,
      sql`update events set sender_id = ${ERASED_SENDER}, client_msg_id = null, text = null, expired = true
      where group_id = ${groupId} and seq in (${list(edits)})`,
    );
  if (messages.length === 0) return;
  await exec(
    tx,
    sql`update events set sender_id = ${ERASED_SENDER}, client_msg_id = null, text = null, data = null, expired = true
    where group_id = ${groupId} and seq in (${list(messages)})`,
  );
  await exec(
    tx,
    sql`update events set text = null, expired = true
    where group_id = ${groupId} and kind = 'edit' and target in (${list(messages)})`,
  );
  await exec(
    tx,
    sql`update events set data = null
    where group_id = ${groupId} and kind in ('reaction', 'reactions') and target in (${list(messages)})`,
  );
  await exec(
    tx,
    sql`update events set kind = 'hidden', sender_id = '', data = null
    where group_id = ${groupId} and kind in ('vote', 'rsvp', 'tally', 'poll_closed') and target in (${list(messages)})`,
  );
  await exec(tx, sql`delete from reactions where group_id = ${groupId} and message_seq in (${list(messages)})`);
  await eraseAnswers(tx, groupId, messages);
  await releaseAttachmentRefsOf(tx, groupId, messages);
  await unpinGoneIn(tx, outbox, groupId, (await findGroup(tx, groupId))?.pins ?? [], messages, ERASED_SENDER);
  outbox.expiredMessages(groupId, messages);
}

/**
 * Erasure, one step per feature, in order (docs/protocol.md §2 "Your data: export and erasure").
 * A feature with tables of its own adds its step here: one line each.
 */
/**
 * Every way in of the user, gone in one go: run by the erasure request itself (so no way in is left
 * while the job is owed) and again by the job's first step. A new way in adds its table here.
 */
export async function deleteCredentials(db: Queryable, userId: string): Promise<void> {
  for (const table of ['accounts', 'passkeys', 'passkey_challenges', 'phones', 'phone_codes', 'recovery_codes', 'sign_in_links'])
    await exec(db, sql`delete from ${sql.identifier(table)} where user_id = ${userId}`);
}

export const erasureSteps: ErasureStep[] = [
  // Credentials: gone at once when erasure is asked for (the request deletes them too), so no way in is left.
  {
    name: 'credentials',
    run: (u, { deps }) => deleteCredentials(deps.db, u),
  },
  {
    name: 'profile',
    run: async (u, { deps }) => {
      await exec(
        deps.db,
        sql`update users set name = '', avatar = null, group_add = null, last_seen = null, claimed_name = null,
        erased_at = coalesce(erased_at, now()) where id = ${u}`,
      );
    },
  },
  {
    name: 'messages',
    run: async (u, { deps }) => {
      for (;;) {
        const result = await deps.db.execute(sql`select group_id, seq, kind from events
          where sender_id = ${u} and kind in ('message', 'edit', 'reaction', 'vote', 'rsvp')
          order by sender_id, group_id, seq limit ${ERASE_PAGE}`);
        const rows = rowsOf<{ group_id: string; seq: number | string; kind: string }>(result);
        if (rows.length === 0) return;
        const byGroup = new Map<string, { seq: number; kind: string }[]>();
        for (const r of rows) byGroup.set(r.group_id, [...(byGroup.get(r.group_id) ?? []), { seq: Number(r.seq), kind: r.kind }]);
        for (const [groupId, groupRows] of byGroup) {
          const mode = await erasedMessagesMode(deps.db, groupId);
          await commit(deps, (tx, outbox) => eraseInGroup(tx, outbox, groupId, groupRows, mode));
        }
      }
    },
  },
  {
    // As leaving does: each community (and its groups), then every other group, with the frames others see.
    name: 'memberships',
    run: async (u, { deps, groups }) => {
      const communities = rowsOf<{ id: string }>(
        await deps.db.execute(sql`select c.id from communities c
          join members m on m.group_id = c.announcement_group_id and m.user_id = ${u}`),
      );
      for (const c of communities) await groups.removeFromCommunity(c.id, u, u);
      for (;;) {
        const left = rowsOf<{ group_id: string }>(
          await deps.db.execute(sql`select group_id from members where user_id = ${u} order by group_id limit 100`),
        );
        if (left.length === 0) return;
        for (const m of left) await commit(deps, (tx, outbox) => groups.removeIn(tx, outbox, m.group_id, u, u));
      }
    },
  },
  {
    name: 'answers',
    run: async (u, { deps }) => {
      await exec(deps.db, sql`delete from reactions where user_id = ${u}`);
      await exec(deps.db, sql`delete from poll_votes where user_id = ${u}`);
      await exec(deps.db, sql`delete from event_rsvps where user_id = ${u}`);
    },
  },
  {
    // Every file they uploaded, referred to or not: references dropped, due now, then swept from the blob store.
    name: 'attachments',
    run: async (u, { deps, sweepAttachments }) => {
      await exec(deps.db, sql`delete from attachment_refs where attachment_id in (select id from attachments where uploader_id = ${u})`);
      await exec(deps.db, sql`update attachments set sweep_after = now() where uploader_id = ${u} and not deleting`);
      await sweepAttachments();
      const left = rowsOf(await deps.db.execute(sql`select 1 from attachments where uploader_id = ${u} and not deleting limit 1`));
      if (left.length > 0) throw new Error('attachments left to sweep');
    },
  },
  {
    name: 'notifications',
    run: async (u, { deps }) => {
      await exec(deps.db, sql`delete from push_subscriptions where user_id = ${u}`);
      await exec(deps.db, sql`delete from push_queue where user_id = ${u}`);
    },
  },
  { name: 'webhooks', run: async (u, { deps }) => void (await exec(deps.db, sql`delete from webhooks where created_by = ${u}`)) },
  {
    name: 'safety',
    run: async (u, { deps }) => {
      await exec(deps.db, sql`delete from blocks where blocker_id = ${u} or blocked_id = ${u}`);
      await exec(deps.db, sql`delete from mutes where user_id = ${u}`);
      await exec(deps.db, sql`delete from invitations where user_id = ${u} or invited_by = ${u}`);
      await exec(deps.db, sql`delete from join_requests where user_id = ${u}`);
      await exec(deps.db, sql`delete from reports where reporter_id = ${u}`);
      // Reports about their messages stay with the community's admins, without their id.
      await exec(
        deps.db,
        sql`update reports set sender_id = ${ERASED_SENDER},
        snapshot = jsonb_set(snapshot, '{sender}', to_jsonb(${ERASED_SENDER}::text)) where sender_id = ${u}`,
      );
    },
  },
  {
    name: 'exports',
    run: async (u, { deps, exports }) => {
      await exports.deleteAllOf(await exportsOf(deps.db, u));
      await deleteExportsOf(deps.db, u);
    },
  },
  // Kept: the `sessions` rows, revoked, until they expire (the revoked-session prune removes them),
  // so a copied token stays refused on every replica; the `users` row, nameless, as a tombstone.
];

/** Runs erasures owed (DELETE /v1/me), one member at a time, on one replica each (a row lease). */
export class Erasures {
  private readonly token = randomBytes(8).toString('hex');
  readonly trigger = new JobTrigger();

  constructor(
    private readonly ctx: ErasureContext,
    private readonly steps: ErasureStep[] = erasureSteps,
  ) {}

  job(): Job {
    return {
      name: 'mydata.erasures',
      kind: 'queued',
      everyMs: ERASURE_POLL_MS,
      trigger: this.trigger,
      run: async () => ((await this.runDue()) > 0 ? { inMs: 0 } : undefined),
    };
  }

  /** Runs one owed erasure; returns how many were claimed. */
  async runDue(): Promise<number> {
    const { db, logger } = this.ctx.deps;
    const claimed = await claimErasures(db, this.token, ERASURE_LEASE_MS, 1);
    for (const userId of claimed) {
      try {
        for (const step of this.steps) await step.run(userId, this.ctx);
        await finishErasure(db, userId, this.token);
        logger.info('account erased', { userId });
      } catch (err) {
        logger.warn('erasure not finished; retried later', { userId, err });
        await erasureFailed(db, userId);
      }
    }
    return claimed.length;
  }
}
