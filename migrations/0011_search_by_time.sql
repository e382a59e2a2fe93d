-- Search walks each of the searcher's groups newest first, a bounded number of messages per request
-- (docs/protocol.md §8 "Search"): this index gives that order and seeks a cursor's time directly.
CREATE INDEX IF NOT EXISTS "events_messages_by_time" ON "events" USING btree ("group_id","ts","seq") WHERE kind = 'message';
