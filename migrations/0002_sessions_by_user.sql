-- Sessions are keyed by (user, sid): an external identity service's sids are unique only per user.
ALTER TABLE "sessions" DROP CONSTRAINT "sessions_pkey";--> statement-breakpoint
DROP INDEX "sessions_user_id_index";--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_id_pk" PRIMARY KEY("user_id","id");
