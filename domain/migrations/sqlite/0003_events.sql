-- The durable inbox of company webhook events: stored before Fluid gets its 2xx (Fluid does not
-- retry business events), once per (installation, event).
CREATE TABLE events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    dedupe_key        TEXT NOT NULL,
    name              TEXT,               -- resource.event, e.g. order.created
    payload           TEXT NOT NULL,      -- the signed body as received
    received_at       INTEGER NOT NULL    -- Unix seconds
);
CREATE UNIQUE INDEX events_dedupe ON events (installation_uuid, dedupe_key);
CREATE INDEX events_recent ON events (installation_uuid, received_at);
