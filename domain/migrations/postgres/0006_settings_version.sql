-- Bumped in the same transaction as every change to an installation's settings (its shipping
-- options): an instance caching those settings compares it on each read, so a change made
-- through any instance is seen by all of them at once.
ALTER TABLE installations ADD COLUMN settings_version BIGINT NOT NULL DEFAULT 0;
