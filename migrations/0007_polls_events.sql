-- Polls and events (PROTOCOL.md §8). A poll's or event's definition lives in its message's
-- `data` (`poll`, `event`); the answers, one row per member, live here.
CREATE TABLE "poll_votes" (
	"group_id" text NOT NULL,
	"message_seq" bigint NOT NULL,
	"user_id" text NOT NULL,
	"options" integer[] NOT NULL,
	CONSTRAINT "poll_votes_group_id_message_seq_user_id_pk" PRIMARY KEY("group_id","message_seq","user_id")
);
--> statement-breakpoint
ALTER TABLE "poll_votes" ADD CONSTRAINT "poll_votes_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE TABLE "event_rsvps" (
	"group_id" text NOT NULL,
	"message_seq" bigint NOT NULL,
	"user_id" text NOT NULL,
	"answer" text NOT NULL,
	CONSTRAINT "event_rsvps_group_id_message_seq_user_id_pk" PRIMARY KEY("group_id","message_seq","user_id")
);
--> statement-breakpoint
ALTER TABLE "event_rsvps" ADD CONSTRAINT "event_rsvps_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
-- A reminder owed: fired once, by whichever replica claims it (lease), then deleted.
CREATE TABLE "event_reminders" (
	"group_id" text NOT NULL,
	"message_seq" bigint NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone,
	"lease_token" text,
	CONSTRAINT "event_reminders_group_id_message_seq_pk" PRIMARY KEY("group_id","message_seq")
);
--> statement-breakpoint
ALTER TABLE "event_reminders" ADD CONSTRAINT "event_reminders_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "event_reminders_due" ON "event_reminders" USING btree ("due_at");
--> statement-breakpoint
-- One tally machinery for reactions and for answers (votes, RSVPs): a message may owe both.
ALTER TABLE "reaction_tallies" ADD COLUMN "subject" text DEFAULT 'reactions' NOT NULL;
--> statement-breakpoint
ALTER TABLE "reaction_tallies" DROP CONSTRAINT "reaction_tallies_group_id_message_seq_pk";
--> statement-breakpoint
ALTER TABLE "reaction_tallies" ADD CONSTRAINT "reaction_tallies_group_id_message_seq_subject_pk" PRIMARY KEY("group_id","message_seq","subject");
