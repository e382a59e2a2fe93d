CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE TABLE "attachments" (
	"id" text PRIMARY KEY NOT NULL,
	"uploader_id" text NOT NULL,
	"name" text NOT NULL,
	"content_type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"width" integer,
	"height" integer,
	"blurhash" text,
	"thumbnail_size" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sweep_after" timestamp with time zone,
	"deleting" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "attachment_refs" (
	"attachment_id" text NOT NULL,
	"group_id" text NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "attachment_refs_attachment_id_group_id_seq_pk" PRIMARY KEY("attachment_id","group_id","seq")
);
--> statement-breakpoint
ALTER TABLE "attachment_refs" ADD CONSTRAINT "attachment_refs_attachment_id_attachments_id_fk" FOREIGN KEY ("attachment_id") REFERENCES "public"."attachments"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "attachment_refs" ADD CONSTRAINT "attachment_refs_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "attachments_uploader_id_index" ON "attachments" USING btree ("uploader_id");
--> statement-breakpoint
CREATE INDEX "attachments_sweep" ON "attachments" USING btree ("sweep_after") WHERE "attachments"."sweep_after" is not null;
--> statement-breakpoint
CREATE INDEX "attachment_refs_group_id_seq_index" ON "attachment_refs" USING btree ("group_id","seq");
--> statement-breakpoint
-- Search (PROTOCOL.md §8): English stems and plain words of every script in one tsvector, kept
-- by PostgreSQL itself from the message's text as it now stands (edits replace it, deletes erase
-- it). Not in the drizzle schema, so ordinary reads of events never fetch it.
ALTER TABLE "events" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (CASE WHEN "kind" = 'message' AND "text" IS NOT NULL THEN to_tsvector('english'::regconfig, "text") || to_tsvector('simple'::regconfig, "text") END) STORED;
--> statement-breakpoint
CREATE INDEX "events_search" ON "events" USING gin ("search") WHERE "kind" = 'message';
--> statement-breakpoint
-- Substrings for scripts whose words inflect by suffix (स्वयंसेवकों contains स्वयंसेवक).
CREATE INDEX "events_text_trgm" ON "events" USING gin ("text" gin_trgm_ops) WHERE "kind" = 'message';
