-- The last check of an installation's registrations against Fluid, which repaired what it could:
-- when, and what differed (the overview's "In sync with Fluid", `installations show`).
CREATE TABLE reconcile_checks (
    installation_uuid TEXT PRIMARY KEY REFERENCES installations (uuid),
    checked_at        BIGINT NOT NULL,  -- Unix seconds
    found             TEXT NOT NULL      -- JSON: each difference found
);
