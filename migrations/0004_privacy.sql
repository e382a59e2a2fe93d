CREATE TABLE "blocks" (
	"blocker_id" text NOT NULL,
	"blocked_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "blocks_blocker_id_blocked_id_pk" PRIMARY KEY("blocker_id","blocked_id")
);
--> statement-breakpoint
CREATE TABLE "invitations" (
	"group_id" text NOT NULL,
	"user_id" text NOT NULL,
	"invited_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"declined_at" timestamp with time zone,
	CONSTRAINT "invitations_group_id_user_id_pk" PRIMARY KEY("group_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "reaction_tallies" (
	"group_id" text NOT NULL,
	"message_seq" bigint NOT NULL,
	"pending" boolean DEFAULT true NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"flushed_at" timestamp with time zone,
	CONSTRAINT "reaction_tallies_group_id_message_seq_pk" PRIMARY KEY("group_id","message_seq")
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "avatar" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "group_add" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "last_seen" text;--> statement-breakpoint
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_blocker_id_users_id_fk" FOREIGN KEY ("blocker_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invitations" ADD CONSTRAINT "invitations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reaction_tallies" ADD CONSTRAINT "reaction_tallies_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "blocks_blocked_id_index" ON "blocks" USING btree ("blocked_id");--> statement-breakpoint
CREATE INDEX "invitations_user_id_invited_by_index" ON "invitations" USING btree ("user_id","invited_by");--> statement-breakpoint
CREATE INDEX "invitations_invited_by_created_at_index" ON "invitations" USING btree ("invited_by","created_at");--> statement-breakpoint
CREATE INDEX "reaction_tallies_due" ON "reaction_tallies" USING btree ("due_at") WHERE pending;--> statement-breakpoint
CREATE INDEX "members_admins" ON "members" USING btree ("group_id") WHERE role <> 'member';--> statement-breakpoint
-- Direct groups are symmetric (PROTOCOL.md §6): whoever opened one is no longer its owner.
UPDATE "members" SET "role" = 'member' WHERE "role" <> 'member' AND "group_id" IN (SELECT "id" FROM "groups" WHERE "kind" = 'direct');--> statement-breakpoint
-- Announcement groups keep their roster private: the membership events and per-user reaction
-- events they logged before become places with nothing to show (`hidden`, no sender), so seqs
-- stay where they were and gapless, and no member's id is left in the log.
UPDATE "events" SET "kind" = 'hidden', "sender_id" = '', "text" = NULL, "target" = NULL, "reply_to" = NULL, "data" = NULL
  WHERE "kind" IN ('member', 'reaction') AND "group_id" IN (SELECT "id" FROM "groups" WHERE "kind" = 'announcement');
