-- The signed time (X-Fluid-Timestamp) of the uninstall applied last: an install signed no later
-- than it is a stale redelivery, not a reinstall.
ALTER TABLE installations ADD COLUMN uninstalled_signed_at INTEGER;

-- Exactly one exchange per exchange token, across instances sharing the database.
CREATE TABLE exchange_claims (
    token_hash        TEXT PRIMARY KEY,   -- SHA-256 of the dex_ token, hex; never the token itself
    installation_uuid TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('claimed', 'completed', 'failed')),
    failure_reason    TEXT,
    claimed_at        INTEGER NOT NULL,   -- Unix seconds
    finished_at       INTEGER
);

-- Durable background jobs: survive restarts, retried with backoff, last error kept.
CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_uuid TEXT NOT NULL,
    kind              TEXT NOT NULL,
    dedupe_key        TEXT NOT NULL,
    payload           TEXT NOT NULL,      -- JSON
    status            TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    run_at            INTEGER NOT NULL,   -- Unix milliseconds
    locked_until      INTEGER,            -- Unix milliseconds: the running instance's lease
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_installation ON jobs (installation_uuid, status);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (installation_uuid, kind, dedupe_key);

-- What the droplet registered with Fluid for each installation, and how that went.
CREATE TABLE callback_registrations (
    installation_uuid         TEXT NOT NULL REFERENCES installations (uuid),
    definition_name           TEXT NOT NULL,
    fluid_uuid                TEXT,       -- cbr_…
    verification_token_sealed TEXT,       -- cvt_…, AEAD-sealed
    status                    TEXT NOT NULL CHECK (status IN ('pending', 'registered', 'failed')),
    last_error                TEXT,
    updated_at                INTEGER NOT NULL,
    PRIMARY KEY (installation_uuid, definition_name)
);

CREATE TABLE company_webhooks (
    installation_uuid TEXT NOT NULL REFERENCES installations (uuid),
    resource          TEXT NOT NULL,
    event             TEXT NOT NULL,
    fluid_id          TEXT,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'registered', 'failed')),
    last_error        TEXT,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (installation_uuid, resource, event)
);
