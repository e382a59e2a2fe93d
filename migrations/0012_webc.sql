-- Admins search their community's members by display name (ILIKE '%…%'): a trigram index.
CREATE INDEX IF NOT EXISTS "users_name_trgm" ON "users" USING gin ("name" gin_trgm_ops);
