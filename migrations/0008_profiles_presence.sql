-- The `name` claim last taken from an external identity service: a changed claim renames the user once.
ALTER TABLE "users" ADD COLUMN "claimed_name" text;--> statement-breakpoint
UPDATE "users" SET "claimed_name" = "name" WHERE NOT EXISTS (SELECT 1 FROM "accounts" WHERE "accounts"."user_id" = "users"."id");--> statement-breakpoint
-- The attachment sweeper keeps avatars: it looks them up by id.
CREATE INDEX "users_avatar_index" ON "users" USING btree ("avatar") WHERE "avatar" IS NOT NULL;
