-- Each configuration the service has run with (its PUBLIC_URL and a fingerprint of what it
-- registers for every installation: callbacks, the manifest's webhooks and drop zones), when an
-- instance first started with it and when one was last seen running it. Registrations at any of
-- these URLs are ours; only instances of the newest live configuration repair registrations, so an
-- instance of the previous deploy never moves them back or deletes what the new manifest added.
CREATE TABLE deployments (
    public_url       TEXT NOT NULL,
    wanted_sha256    TEXT NOT NULL,
    first_started_at INTEGER NOT NULL,  -- Unix milliseconds
    last_seen_at     INTEGER NOT NULL,  -- Unix milliseconds
    PRIMARY KEY (public_url, wanted_sha256)
);

-- Why the last check could not repair everything, if it could not (the next check tries again).
ALTER TABLE reconcile_checks ADD COLUMN error TEXT;
