-- One row per droplet installation (a company that installed the droplet).
CREATE TABLE installations (
    uuid                        TEXT PRIMARY KEY,       -- droplet_installation_uuid, dri_…
    droplet_uuid                TEXT,                   -- drp_…
    status                      TEXT NOT NULL CHECK (status IN ('pending', 'active', 'failed', 'uninstalled')),
    company_name                TEXT,
    fluid_company_id            BIGINT,
    fluid_shop                  TEXT,
    generation                  BIGINT NOT NULL DEFAULT 0, -- bumped by every (re)install
    authentication_token_sealed TEXT,                   -- dit_, AEAD-sealed (see credentials.rs)
    webhook_token_sealed        TEXT,                   -- wvt_, AEAD-sealed
    failure_reason              TEXT,
    installed_at                BIGINT,                 -- Unix seconds
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL
);

CREATE INDEX installations_status ON installations (status);
