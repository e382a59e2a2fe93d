-- Admins search their community's members by display name (ILIKE '%…%'): a trigram index.
CREATE INDEX IF NOT EXISTS "users_name_trgm" ON "users" USING gin ("name" gin_trgm_ops);
--> statement-breakpoint
-- An invite link may name a group of the community: joining by it joins that group too.
ALTER TABLE "invites" ADD COLUMN "group_id" text;
--> statement-breakpoint
ALTER TABLE "invites" ADD CONSTRAINT "invites_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;
