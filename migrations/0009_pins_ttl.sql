-- Pins (PROTOCOL.md §8): the seqs of a group's pinned messages, most recently pinned first (≤ 5).
ALTER TABLE "groups" ADD COLUMN "pins" jsonb DEFAULT '[]'::jsonb NOT NULL;
--> statement-breakpoint
-- Disappearing messages: when a message sent under the group's messageTtlS (or an edit of it) expires, and whether
-- the sweeper has erased it (its seq stays in the log).
ALTER TABLE "events" ADD COLUMN "expires_at" timestamp with time zone;
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "expired" boolean DEFAULT false NOT NULL;
--> statement-breakpoint
CREATE INDEX "events_expiry" ON "events" USING btree ("expires_at") WHERE "events"."expires_at" is not null and not "events"."expired";
