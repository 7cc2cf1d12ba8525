-- Every PUBLIC_URL the service has started with, and when it last did: registrations on Fluid at
-- one of these are ours (a deploy moved them; reconcile brings them to the newest), and only an
-- instance on the newest one repairs registrations (a stale instance of a rolling deploy never
-- moves them back).
CREATE TABLE public_urls (
    url             TEXT PRIMARY KEY,
    last_started_at INTEGER NOT NULL  -- Unix milliseconds
);

-- Why the last check could not repair everything, if it could not (it is tried again).
ALTER TABLE reconcile_checks ADD COLUMN error TEXT;
